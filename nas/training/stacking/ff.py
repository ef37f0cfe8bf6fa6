"""Feed-forward candidates as one stack: per layer a ``(P, out, in)`` tensor and one batched matmul.

Every level of the stack is padded to the widest candidate; a shallower candidate is carried
unchanged through the levels below its own depth. Padded rows/columns have **zero masks and zero,
masked biases**, so a padded unit is ReLU(0) = 0 forever and receives zero gradient; the union of
all skip pairs is stacked and a candidate without a pair has an all-zero mask there. The input and
output layers are masked the same way. So padding never changes a candidate's function.

The output layer reads the concatenated states of every level some candidate reads (its last
layer for readout ``last``, every layer holding a sink for ``sinks``); each candidate's output
mask selects its own columns. Vertex widths need nothing special: a candidate of width w is a
network with w times the units and block masks, padded like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = ["StackedFeedForward", "stackable", "padded_widths", "pad_to", "StackedLayer", "read_layout", "stack_readout",
           "unstack_readout"]


def pad_to(t: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """``t`` (detached, on the CPU) zero-padded at the end of every axis to ``shape``."""
    out = torch.zeros(tuple(shape), dtype=t.dtype)
    out[tuple(slice(0, s) for s in t.shape)] = t.detach().cpu()
    return out


def stackable(model) -> bool:
    """True for a :class:`SparseFeedForward` this stack can hold (no layer norm)."""
    needed = ("input_layer", "main", "skips", "output_layer", "layer_sizes")
    if not all(hasattr(model, name) for name in needed):
        return False
    norms = getattr(model, "norms", None)
    return norms is None or len(norms) == 0


@dataclass
class StackedLayer:
    """One stacked layer: weight (P, out, in), bias (P, out) and their 0/1 masks."""

    weight: torch.Tensor
    bias: torch.Tensor
    mask: torch.Tensor
    bias_mask: torch.Tensor


def _readout_columns(stack, model):
    """``(stack column slice, model column slice)`` of each layer ``model``'s output reads.

    ``stack.read_start[l]`` is where level ``l`` starts among the stack's concatenated read levels.
    """
    col = 0
    for l in model.readout_layers:
        w = model.layer_sizes[l]
        yield slice(stack.read_start[l], stack.read_start[l] + w), slice(col, col + w)
        col += w


def read_layout(models, widths) -> tuple[list[int], dict[int, int], int]:
    """The levels a stack's output reads (every level some candidate reads), where each starts in
    their concatenation, and the concatenation's width; ``widths`` are the stack's level widths."""
    levels = sorted({l for m in models for l in m.readout_layers})
    start, column = {}, 0
    for l in levels:
        start[l] = column
        column += widths[l]
    return levels, start, column


def stack_readout(stack, models, columns: int) -> StackedLayer:
    """The stacked output layer ``(P, classes, columns)`` over the stack's concatenated read levels."""
    classes = models[0].output_layer.out_features
    shape = (classes, columns)
    weights, masks = [], []
    for m in models:
        layer = m.output_layer
        own = getattr(layer, "mask", None)
        own = torch.ones(layer.weight.shape) if own is None else own.detach().float().cpu()
        weight, mask = torch.zeros(shape), torch.zeros(shape)
        for mine, theirs in _readout_columns(stack, m):
            mask[:, mine] = own[:, theirs]
            weight[:, mine] = layer.weight.detach().float().cpu()[:, theirs] * own[:, theirs]
        weights.append(weight)
        masks.append(mask)
    biases = torch.stack([m.output_layer.bias.detach().float().cpu() for m in models])
    return StackedLayer(torch.stack(weights), biases, torch.stack(masks), torch.ones_like(biases))


@torch.no_grad()
def unstack_readout(stack, index: int, model) -> None:
    """Copy candidate ``index``'s output weights from ``stack.output`` into ``model.output_layer``."""
    out = model.output_layer
    for mine, theirs in _readout_columns(stack, model):
        out.weight[:, theirs] = stack.output.weight[index, :, mine].to(out.weight.device, out.weight.dtype)
    out.bias.copy_(stack.output.bias[index].to(out.bias.device, out.bias.dtype))


def padded_widths(models) -> list[int]:
    """Per stacked level, the widest candidate there (a shallow candidate's last layer counts at
    every level it is carried through)."""
    depth = max(len(m.layer_sizes) for m in models)
    return [max(m.layer_sizes[min(l, len(m.layer_sizes) - 1)] for m in models) for l in range(depth)]


class StackedFeedForward:
    """P :class:`SparseFeedForward` models as stacked, padded tensors.

    ``forward(x)`` maps ``(B, in_features)`` to logits ``(P, B, classes)``, computing
    ``h_0 = ReLU(input(x))``, ``h_l = ReLU(main_l(h_{l-1})) + Σ_s ReLU(skip_{s→l}(h_s))`` and the
    output from the last layer — the formula of ``SparseFeedForward`` — for all P at once.

    Candidates of different depths share one stack: a candidate with ``L`` layers occupies levels
    ``0..L-1`` and is *carried* unchanged through the deeper levels (its main mask there is zero and
    a fixed 0/1 carry adds ``h_{l-1}``; states are ReLU outputs, so ``h_l = h_{l-1}`` exactly), so
    the output layer reads its real last layer.
    ``unstack(i, model)`` writes candidate i's trained weights back into its own module.
    """

    def __init__(self, models: Sequence[torch.nn.Module], device: torch.device):
        self.depths = [len(m.layer_sizes) for m in models]
        self.depth = max(self.depths)
        self.size = len(models)
        self.widths = padded_widths(models)
        self.skip_pairs = sorted({tuple(p) for m in models for p in m.skip_pairs})
        self.in_features = models[0].input_layer.in_features
        self.classes = models[0].output_layer.out_features
        W = self.widths
        # The input layer is dense unless something gave it a mask (pruning does).
        self.input = self._stack(models, lambda m: (m.input_layer.weight, m.input_layer.bias,
                                                    getattr(m.input_layer, "mask", None)), (W[0], self.in_features))
        self.main = [
            self._stack(models, lambda m, l=l: self._main(m, l), (W[l], W[l - 1])) for l in range(1, self.depth)
        ]
        carry = torch.tensor([[1.0 if l >= d else 0.0 for d in self.depths] for l in range(self.depth)])
        self.carry = carry.view(self.depth, self.size, 1, 1).to(device)
        self.carried = [bool(carry[l].any()) for l in range(self.depth)]
        # Skip layers fan out per *source* level: one stacked layer from h_s to all levels s+2..L-1
        # at once (rows of level t start at offset[t] - offset[s+2]), so a deep, skip-rich stack
        # costs one matmul per level instead of one per skip pair.
        self.offset = [0]
        for w in W:
            self.offset.append(self.offset[-1] + w)
        self.skip_sources = sorted({s for s, _ in self.skip_pairs})
        self.fanout = {src: self._stack_fanout(models, src) for src in self.skip_sources}
        # The output reads the levels any candidate reads, concatenated (read_start: column offsets).
        self.read_levels, self.read_start, columns = read_layout(models, W)
        self.output = stack_readout(self, models, columns)
        for layer in self.layers():
            for name in ("weight", "bias", "mask", "bias_mask"):
                setattr(layer, name, getattr(layer, name).to(device))
            layer.weight.requires_grad_(True)
            layer.bias.requires_grad_(True)

    @staticmethod
    def _main(model, l: int):
        if l >= len(model.layer_sizes):
            return None  # a shallower candidate, carried through this level
        layer = model.main[l - 1]
        return layer.weight, layer.bias, layer.mask

    def _stack_fanout(self, models, src: int) -> StackedLayer:
        base = self.offset[src + 2]
        shape = (self.offset[-1] - base, self.widths[src])
        weights, biases, masks, bias_masks = [], [], [], []
        for m in models:
            weight, bias, mask, bias_mask = (torch.zeros(shape), torch.zeros(shape[0]), torch.zeros(shape), torch.zeros(shape[0]))
            for s, t in m.skip_pairs:
                if s != src:
                    continue
                layer = m.skips[f"{s}_{t}"]
                out, inp = layer.weight.shape
                rows = slice(self.offset[t] - base, self.offset[t] - base + out)
                layer_mask = layer.mask.detach().float().cpu()
                weight[rows, :inp] = (layer.weight.detach().cpu() * layer_mask).float()
                mask[rows, :inp] = layer_mask
                if layer.bias is not None:
                    bias[rows] = layer.bias.detach().cpu().float()
                    bias_mask[rows] = 1.0
            weights.append(weight)
            biases.append(bias)
            masks.append(mask)
            bias_masks.append(bias_mask)
        return StackedLayer(torch.stack(weights), torch.stack(biases), torch.stack(masks), torch.stack(bias_masks))

    @staticmethod
    def _stack(models, pick, shape) -> StackedLayer:
        weights, biases, masks, bias_masks = [], [], [], []
        for m in models:
            got = pick(m)
            if got is None:  # candidate lacks this layer or skip pair: all-zero mask
                weights.append(torch.zeros(shape))
                biases.append(torch.zeros(shape[0]))
                masks.append(torch.zeros(shape))
                bias_masks.append(torch.zeros(shape[0]))
                continue
            w, b, mask = got
            ones = torch.ones(w.shape) if mask is None else mask.detach().float().cpu()
            weights.append(pad_to(w * ones.to(w.device), shape).float())
            biases.append(pad_to(b, (shape[0],)).float() if b is not None else torch.zeros(shape[0]))
            masks.append(pad_to(ones, shape))
            bias_masks.append(pad_to(torch.ones(w.shape[0]) if b is not None else torch.zeros(w.shape[0]), (shape[0],)))
        return StackedLayer(torch.stack(weights), torch.stack(biases), torch.stack(masks), torch.stack(bias_masks))

    def layers(self) -> list[StackedLayer]:
        return [self.input, *self.main, *self.fanout.values(), self.output]

    def parameters(self) -> list[torch.Tensor]:
        return [t for layer in self.layers() for t in (layer.weight, layer.bias)]

    @staticmethod
    def _apply(layer: StackedLayer, h: torch.Tensor) -> torch.Tensor:
        # (P, B, in) -> (P, B, out); masks make padded and absent connections exactly zero.
        return torch.baddbmm((layer.bias * layer.bias_mask).unsqueeze(1), h, (layer.weight * layer.mask).transpose(1, 2))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(P, B, classes)`` for inputs ``x`` of shape ``(B, ...)`` (flattened to ``in_features``)."""
        P = self.size
        x = x.flatten(1)
        w_in = (self.input.weight * self.input.mask).reshape(P * self.widths[0], self.in_features)
        b_in = (self.input.bias * self.input.bias_mask).reshape(-1)
        # One GEMM for the shared input: (B, in) @ (in, P*W0).
        h0 = torch.addmm(b_in, x, w_in.t()).view(x.shape[0], P, self.widths[0]).transpose(0, 1)
        hidden = [torch.relu(h0)]
        # Sum of the skip outputs still to be read, covering levels t..L-1 when level t is computed.
        pending = self._fan_out(0, hidden[0], None)
        for t in range(1, self.depth):
            h = torch.relu(self._apply(self.main[t - 1], hidden[t - 1]))
            if pending is not None:
                h = h + pending[..., : self.widths[t]]
                pending = pending[..., self.widths[t]:]
            if self.carried[t]:
                # A carried candidate's units all lie within both levels' widths; the rest is padding (zero).
                prev = hidden[t - 1]
                gap = self.widths[t] - self.widths[t - 1]
                prev = prev[..., : self.widths[t]] if gap < 0 else F.pad(prev, (0, gap)) if gap > 0 else prev
                h = h + self.carry[t] * prev
            hidden.append(h)
            pending = self._fan_out(t, h, pending)
        read = [hidden[l] for l in self.read_levels]
        return self._apply(self.output, read[0] if len(read) == 1 else torch.cat(read, dim=-1))

    def _fan_out(self, src: int, h: torch.Tensor, pending):
        """Add ReLU(skip_{src→t}(h_src)) for every later level t to ``pending`` (levels src+1..L-1)."""
        if src not in self.fanout:
            return pending
        out = F.pad(torch.relu(self._apply(self.fanout[src], h)), (self.widths[src + 1], 0))
        return out if pending is None else pending + out

    @torch.no_grad()
    def unstack(self, index: int, model: torch.nn.Module) -> torch.nn.Module:
        """Copy candidate ``index``'s weights into ``model`` (its own, unpadded module)."""

        def put(layer: StackedLayer, module):
            out, inp = module.weight.shape
            module.weight.copy_(layer.weight[index, :out, :inp].to(module.weight.device, module.weight.dtype))
            if module.bias is not None:
                module.bias.copy_(layer.bias[index, :out].to(module.bias.device, module.bias.dtype))

        put(self.input, model.input_layer)
        for l in range(1, len(model.layer_sizes)):
            put(self.main[l - 1], model.main[l - 1])
        for s, t in model.skip_pairs:
            module = model.skips[f"{s}_{t}"]
            out, inp = module.weight.shape
            start = self.offset[t] - self.offset[s + 2]
            layer = self.fanout[s]
            module.weight.copy_(layer.weight[index, start:start + out, :inp].to(module.weight.device, module.weight.dtype))
            if module.bias is not None:
                module.bias.copy_(layer.bias[index, start:start + out].to(module.bias.device, module.bias.dtype))
        unstack_readout(self, index, model)
        return model

