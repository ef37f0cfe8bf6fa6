"""Random-wired CNN candidates as one stack: every convolution a grouped convolution over all candidates.

A :class:`~search_spaces.builders.cnn.RandomWiredCNN` already computes the vertices of one DAG
layer as one grouped convolution (a group per vertex). The stack puts the candidates side by side
along the channels: layer ``l`` of stage ``k`` is *one* grouped convolution with ``P × W_l``
groups, ``W_l`` the widest candidate's layer ``l``. So a cohort costs a few kernels per layer
instead of a few per layer and candidate.

Padding never changes a candidate's function:

* a candidate with fewer vertices in a layer (or fewer layers) gets padded vertices with zero
  convolution weights and zero edge-mask entries in and out; they are never read (zero readout
  weight) and receive zero gradient, so what the candidate computes is exactly its own network;
* BatchNorm is per channel, so the stacked normalisation (batch statistics in training, running
  statistics in evaluation, momentum 0.1) is each candidate's own;
* the stem is one convolution ``3 → P × C`` of the shared input, the head one batched matmul.

Candidates share a stack only when they share the builder's shape options (channels, separable
convolutions, first stride, classes): :func:`stack_key`. Everything the stacked loop needs is
here: ``size``, ``parameters()`` and ``buffers()`` (candidate first), ``train(mode)``,
``forward(x, lengths)`` → ``(P, B, classes)`` and ``unstack(i, model)``.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = ["StackedCNN", "stackable", "stack_key", "padded_layers", "plan_stacks", "PADDING_WASTE"]


def stackable(model) -> bool:
    """True for a :class:`RandomWiredCNN` (its stages, stem and head are what the stack reads)."""
    return all(hasattr(model, name) for name in ("stages", "stem", "output_layer", "channels", "separable", "first_stride"))


def stack_key(model) -> str:
    """Models with equal keys can share a stack (same channels, convolutions, stride and classes)."""
    channels = "-".join(str(c) for c in model.channels)
    kind = "sep" if model.separable else "plain"
    return f"cnn:{channels}:{kind}:s{model.first_stride}:c{model.num_classes}:i{model.in_channels}"


def padded_layers(models) -> list[int]:
    """Per DAG layer, the widest candidate's vertex count there (0 where a candidate has no such layer)."""
    depth = max(len(m.layer_sizes) for m in models)
    return [max((m.layer_sizes[l] if l < len(m.layer_sizes) else 0) for m in models) for l in range(depth)]


#: Most padded vertices a planned CNN stack may compute, as a multiple of its candidates' own.
PADDING_WASTE = 1.25


def plan_stacks(models, waste: float = PADDING_WASTE) -> list[list[int]]:
    """Contiguous groups of ``models`` (sort them by depth and vertex count first) whose stack
    computes at most ``waste`` times the vertices its candidates have.

    A stack pads every candidate to the widest one per DAG layer, and a padded vertex costs a
    real one's convolutions, so a deep thin candidate beside a shallow wide one can double the
    work; a group is closed when the next candidate would push the padding past ``waste``.
    """
    groups: list[list[int]] = []
    current: list[int] = []
    for i in range(len(models)):
        trial = current + [i]
        members = [models[j] for j in trial]
        padded = sum(padded_layers(members)) * len(trial)
        own = sum(sum(m.layer_sizes) for m in members)
        if current and padded > waste * own:
            groups.append(current)
            current = [i]
        else:
            current = trial
    if current:
        groups.append(current)
    return groups


def _bn_state(norm) -> list[torch.Tensor]:
    return [norm.weight, norm.bias, norm.running_mean, norm.running_var]


class _StackedNorm:
    """``P`` BatchNorm2d layers of ``C`` channels each, stored ``(P, C)``; padded channels are zero."""

    def __init__(self, norms: Sequence, channels: int, rows):
        """``rows(i)`` gives, for candidate ``i``, the channel positions its own norm fills."""
        P = len(norms)
        own = next(n for n in norms if n is not None)
        self.momentum, self.eps = own.momentum, own.eps  # the builder's (torch's defaults: 0.1, 1e-5)
        self.weight, self.bias = torch.zeros(P, channels), torch.zeros(P, channels)
        self.running_mean, self.running_var = torch.zeros(P, channels), torch.ones(P, channels)
        for i, norm in enumerate(norms):
            if norm is None:
                continue
            at = rows(i)
            for mine, theirs in zip((self.weight, self.bias, self.running_mean, self.running_var), _bn_state(norm)):
                mine[i, at] = theirs.detach().float().cpu()

    def tensors(self):
        return [self.weight, self.bias, self.running_mean, self.running_var]

    def __call__(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        # Views of the (P, C) buffers: batch_norm updates the running statistics in place.
        return F.batch_norm(x, self.running_mean.view(-1), self.running_var.view(-1), self.weight.view(-1),
                            self.bias.view(-1), training, self.momentum, self.eps)

    @torch.no_grad()
    def unstack(self, i: int, norm, at, batches: int) -> None:
        for mine, theirs in zip(self.tensors(), _bn_state(norm)):
            theirs.copy_(mine[i, at].to(theirs.device, theirs.dtype))
        norm.num_batches_tracked.add_(batches)


class _StackedStage:
    """One wired stage of every candidate, padded to ``widths`` vertices per layer."""

    def __init__(self, stages: Sequence, widths: Sequence[int], cin: int, cout: int, stride: int, separable: bool):
        P = len(stages)
        self.widths, self.cin, self.cout, self.stride, self.separable = list(widths), cin, cout, stride, separable
        self.offset = [0]
        for w in widths:
            self.offset.append(self.offset[-1] + w)
        total = self.offset[-1]
        self.logits, self.mask, self.read = torch.zeros(P, total, total), torch.zeros(P, total, total), torch.zeros(P, total)
        # Each candidate's node id -> its padded position (layer offset + index in its layer).
        self.positions = []
        for i, stage in enumerate(stages):
            where = {}
            for layer, nodes in enumerate(stage.layer_nodes):
                for j, node in enumerate(nodes):
                    where[node] = self.offset[layer] + j
            self.positions.append(where)
            nodes = sorted(where)
            rows = torch.tensor([where[v] for v in nodes])
            grid = (rows.view(-1, 1), rows.view(1, -1))
            self.logits[i][grid] = stage.edge_logits.detach().float().cpu()[nodes][:, nodes]
            self.mask[i][grid] = stage.mask.detach().float().cpu()[nodes][:, nodes]
            read = [(layer, None if name is None else getattr(stage, name).tolist()) for layer, name in stage._reads]
            picked = [self.offset[layer] + j for layer, js in read
                      for j in (range(len(stage.layer_nodes[layer])) if js is None else js)]
            self.read[i, picked] = 1.0 / len(picked)
        # Earlier layers with an edge into each layer in some candidate.
        self.sources = []
        for layer in range(len(widths)):
            rows = slice(self.offset[layer], self.offset[layer + 1])
            self.sources.append([s for s in range(layer)
                                 if bool(self.mask[:, rows, self.offset[s]:self.offset[s + 1]].any())])
        # Convolution weights, per layer: (P, W_l * cin_l, ...) with each candidate's vertices first.
        self.convs, self.norms = [], []
        for layer, width in enumerate(widths):
            c_in = cin if layer == 0 else cout
            blocks = [stage.blocks[layer] if layer < len(stage.blocks) else None for stage in stages]
            counts = [len(stage.layer_nodes[layer]) if layer < len(stage.layer_nodes) else 0 for stage in stages]
            if separable:
                shapes = [(width * c_in, 1, 3, 3), (width * cout, c_in, 1, 1)]
                per = [(c_in, 0), (cout, 1)]  # rows per vertex of each conv
            else:
                shapes, per = [(width * cout, c_in, 3, 3)], [(cout, 0)]
            weights = []
            for k, shape in enumerate(shapes):
                rows_per = per[k][0]
                stacked = torch.zeros(P, *shape)
                for i, block in enumerate(blocks):
                    if block is not None:
                        stacked[i, : counts[i] * rows_per] = block.conv[k].weight.detach().float().cpu()
                weights.append(stacked)
            self.convs.append(weights)
            self.norms.append(_StackedNorm([b.norm if b is not None else None for b in blocks], width * cout,
                                           lambda i, n=counts: slice(0, n[i] * cout)))
        self.counts = [[len(nodes) for nodes in stage.layer_nodes] for stage in stages]

    def parameters(self) -> list[torch.Tensor]:
        return [self.logits] + [w for ws in self.convs for w in ws] + [t for n in self.norms for t in (n.weight, n.bias)]

    def buffers(self) -> list[torch.Tensor]:
        return [t for n in self.norms for t in (n.running_mean, n.running_var)]

    def to(self, device) -> None:
        self.logits, self.mask, self.read = (t.to(device) for t in (self.logits, self.mask, self.read))
        self.convs = [[w.to(device) for w in ws] for ws in self.convs]
        for norm in self.norms:
            norm.weight, norm.bias, norm.running_mean, norm.running_var = (t.to(device) for t in norm.tensors())

    def forward(self, h: torch.Tensor, training: bool) -> torch.Tensor:
        """``h`` ``(B, P * cin, H, W)`` → ``(B, P * cout, H', W')``."""
        B, P = h.shape[0], self.logits.shape[0]
        coefficients = torch.sigmoid(self.logits) * self.mask
        outputs = []
        out = None
        for layer, width in enumerate(self.widths):
            if layer == 0:
                H, W = h.shape[2:]
                inputs = h.reshape(B, P, 1, self.cin, H, W).expand(B, P, width, self.cin, H, W).reshape(B, -1, H, W)
            else:
                rows = slice(self.offset[layer], self.offset[layer + 1])
                total = 0
                for source in self.sources[layer]:
                    weights = coefficients[:, rows, self.offset[source]:self.offset[source + 1]]
                    total = total + torch.einsum("pvu,bpuchw->bpvchw", weights, outputs[source])
                inputs = total.flatten(1, 3)
            z = torch.relu(inputs)
            stride = self.stride if layer == 0 else 1
            c_in = self.cin if layer == 0 else self.cout
            weights = self.convs[layer]
            if self.separable:
                depthwise, pointwise = weights
                z = F.conv2d(z, depthwise.flatten(0, 1), stride=stride, padding=1, groups=P * width * c_in)
                z = F.conv2d(z, pointwise.flatten(0, 1), groups=P * width)
            else:
                z = F.conv2d(z, weights[0].flatten(0, 1), stride=stride, padding=1, groups=P * width)
            z = self.norms[layer](z, training)
            z = z.reshape(B, P, width, self.cout, *z.shape[2:])
            outputs.append(z)
            part = torch.einsum("pv,bpvchw->bpchw", self.read[:, self.offset[layer]:self.offset[layer + 1]], z)
            out = part if out is None else out + part
        return out.flatten(1, 2)

    @torch.no_grad()
    def unstack(self, i: int, stage, batches: int) -> None:
        where = self.positions[i]
        rows = torch.tensor([where[v] for v in sorted(where)], device=self.logits.device)  # nodes 0..n-1
        own = self.logits[i].index_select(0, rows).index_select(1, rows)
        stage.edge_logits.copy_(own.to(stage.edge_logits.device, stage.edge_logits.dtype))
        for layer, count in enumerate(self.counts[i]):
            block = stage.blocks[layer]
            per = [self.cin if layer == 0 else self.cout, self.cout] if self.separable else [self.cout]
            for k, weight in enumerate(self.convs[layer]):
                target = block.conv[k].weight
                target.copy_(weight[i, : count * per[k]].to(target.device, target.dtype))
            self.norms[layer].unstack(i, block.norm, slice(0, count * self.cout), batches)


class StackedCNN:
    """P :class:`~search_spaces.builders.cnn.RandomWiredCNN` models of one :func:`stack_key` as one network.

    ``forward(x)`` maps images ``(B, C, H, W)`` to logits ``(P, B, classes)``; ``unstack(i, model)``
    writes candidate i's trained weights and BatchNorm statistics back into its own module.
    """

    def __init__(self, models: Sequence[torch.nn.Module], device: torch.device, memory_format=torch.contiguous_format):
        keys = {stack_key(m) for m in models}
        if len(keys) != 1:
            raise ValueError(f"a CNN stack needs models of one shape; got {sorted(keys)}")
        first = models[0]
        self.size = len(models)
        self.memory_format = memory_format
        self.training = True
        # Training forwards per candidate (a buffer, so a frozen candidate's count stands still and
        # a best snapshot keeps it): what each BatchNorm's num_batches_tracked gains.
        self.batches = torch.zeros(self.size, dtype=torch.long, device=device)
        self.channels = list(first.channels)
        widths = padded_layers(models)
        self.stem_weight = torch.stack([m.stem[0].weight.detach().float().cpu() for m in models])
        self.stem_norm = _StackedNorm([m.stem[1] for m in models], self.channels[0], lambda i: slice(None))
        self.stages = []
        for k, c in enumerate(self.channels):
            cin = self.channels[max(k - 1, 0)]
            stride = first.first_stride if k == 0 else 2
            self.stages.append(_StackedStage([m.stages[k] for m in models], widths, cin, c, stride, first.separable))
        self.head_weight = torch.stack([m.output_layer.weight.detach().float().cpu() for m in models])
        self.head_bias = torch.stack([m.output_layer.bias.detach().float().cpu() for m in models])
        self.stem_weight, self.head_weight, self.head_bias = (
            t.to(device) for t in (self.stem_weight, self.head_weight, self.head_bias))
        self.stem_norm.weight, self.stem_norm.bias, self.stem_norm.running_mean, self.stem_norm.running_var = (
            t.to(device) for t in self.stem_norm.tensors())
        for stage in self.stages:
            stage.to(device)
        for p in self.parameters():
            p.requires_grad_(True)

    def parameters(self) -> list[torch.Tensor]:
        params = [self.stem_weight, self.stem_norm.weight, self.stem_norm.bias]
        for stage in self.stages:
            params += stage.parameters()
        return params + [self.head_weight, self.head_bias]

    def buffers(self) -> list[torch.Tensor]:
        """The BatchNorm running statistics (candidate first): part of what a best snapshot keeps."""
        out = [self.stem_norm.running_mean, self.stem_norm.running_var, self.batches]
        for stage in self.stages:
            out += stage.buffers()
        return out

    def train(self, mode: bool = True) -> "StackedCNN":
        self.training = bool(mode)
        return self

    def forward(self, x: torch.Tensor, lengths=None) -> torch.Tensor:
        training = self.training
        if training:
            self.batches.add_(1)
        x = x.contiguous(memory_format=self.memory_format)
        h = F.conv2d(x, self.stem_weight.flatten(0, 1), padding=1)
        h = self.stem_norm(h, training)
        for stage in self.stages:
            h = stage.forward(h, training)
        B = h.shape[0]
        h = torch.relu(h).mean(dim=(2, 3)).reshape(B, self.size, -1)
        return torch.einsum("bpc,pkc->pbk", h, self.head_weight) + self.head_bias.unsqueeze(1)

    @torch.no_grad()
    def unstack(self, i: int, model) -> None:
        model.stem[0].weight.copy_(self.stem_weight[i].to(model.stem[0].weight.device, model.stem[0].weight.dtype))
        batches = int(self.batches[i])
        self.stem_norm.unstack(i, model.stem[1], slice(None), batches)
        for stage, own in zip(self.stages, model.stages):
            stage.unstack(i, own, batches)
        model.output_layer.weight.copy_(self.head_weight[i].to(model.output_layer.weight.device))
        model.output_layer.bias.copy_(self.head_bias[i].to(model.output_layer.bias.device))
