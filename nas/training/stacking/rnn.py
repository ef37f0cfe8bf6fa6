"""Recurrent candidates as one stack: every level of every candidate advanced together.

A :class:`~search_spaces.builders.recurrent.SparseRecurrent` has one recurrent layer per DAG
level plus one extra recurrent layer per skip pair ``(s, t)``, whose output sequence is added to
level ``t``'s. :class:`StackedRecurrent` holds P such models (one cell type) as padded tensors
with the candidate first and runs, per level, **one recurrence for every candidate and every
layer that ends at that level**:

* **Level blocks.** Level ``t`` has ``K = 1 + k`` blocks of ``W_t`` units (``W_t`` the widest
  candidate there, ``k`` the number of distinct skip sources into ``t`` across the stack): block 0
  is the main layer (reading level ``t-1``), block ``j`` the skip layer from the ``j``-th source.
  Each block has its own input weights ``(P, G·W_t, I_j)`` and recurrence ``(P, K, G·W_t, W_t)``;
  the level's output is the sum of its blocks — the builder's
  ``h_t = main_t(h_{t-1}) + Σ_s skip_{s→t}(h_s)``.
* **Gate layout.** Within a block the gate rows are torch's (row ``g·W_t + i`` is gate ``g`` of
  unit ``i``), so a candidate's ``(G·w, in)`` weights map block by block, never interleaved.
* **Time.** Two schedules compute the same numbers (:data:`~nas.training.stacking.schedule.RECURRENT_SCHEDULES`). The default, the
  *wavefront* (:mod:`.wavefront`, blocks laid out by :mod:`.layout`), advances every level of
  every candidate in one batched call per time step — level ``l`` computing step ``s - l`` at
  wavefront step ``s`` — and computes only the (candidate, block) pairs that exist, grouped by
  their own width. The *level-by-level* schedule (``schedule="levels"``) runs per level one
  recurrence for all candidates and every union block of that level: the input projection of each
  block as one batched matmul over all steps, then the P × K recurrences together, one
  ``baddbmm`` and a few elementwise kernels a step, with a hand-written backward pass through time
  (:mod:`.recurrence`). torch's fused RNN kernels cannot be used for a stack: they take one dense
  ``(G·H, H)`` recurrence per call, so packing P candidates into one call means a block-diagonal
  ``weight_hh`` whose matmul grows with (ΣH)² (measured in ``docs/benchmarks.md``).

Exactness: padded units, absent blocks and the levels below a shallower candidate's depth have
zero weights, zero masks and zero, masked biases, so their state stays exactly 0 for every cell
(GRU: ``n = tanh(0) = 0``, ``h' = (1 - z)·n + z·h = 0``; LSTM: ``c' = 0``, ``h' = o·tanh(0) = 0``) and
they receive zero gradient. The classifier reads, at each sequence's own last step
(``lengths - 1``), the concatenated states of every level some candidate reads (its last level
for readout ``last``, every level holding a sink for ``sinks``); each candidate's output mask
selects its own columns (as in :class:`~nas.training.stacking.ff.StackedFeedForward`).
"""

from __future__ import annotations

from typing import Sequence

import torch

from nas.exceptions import ConfigError
from nas.training.stacking.compiled import compiled_wavefront, use_compiled
from nas.training.stacking.ff import (
    StackedLayer,
    read_layout,
    stack_readout,
    unstack_readout,
)
from nas.training.stacking.layout import Layout
from nas.training.stacking.recurrence import recurrence
from nas.training.stacking.schedule import check_schedule, current_schedule
from nas.training.stacking.wavefront import wavefront
from search_spaces.builders.recurrent import GATES

__all__ = ["StackedRecurrent", "stackable"]


def stackable(model) -> bool:
    """True for a :class:`SparseRecurrent` (the recurrent builder's model)."""
    needed = ("cell", "layers", "skips", "output_layer", "layer_sizes", "skip_pairs", "embedding")
    return all(hasattr(model, name) for name in needed)


def _empty(P: int, rows: int, cols: int | None) -> StackedLayer:
    shape = (P, rows) if cols is None else (P, rows, cols)
    return StackedLayer(torch.zeros(shape), torch.zeros(P, rows), torch.zeros(shape), torch.zeros(P, rows))


class StackedRecurrent:
    """P :class:`~search_spaces.builders.recurrent.SparseRecurrent` models of one cell as padded tensors.

    ``forward(x, lengths)`` maps symbols ``(B, T)`` (or real-valued ``(B, T, F)``) to logits
    ``(P, B, classes)`` at each sequence's last valid step, or ``(P, B, T, classes)`` for
    sequence output; ``unstack(i, model)`` writes candidate i's trained weights back into its own
    module.

    Raises
    ------
    ConfigError
        The models differ in cell, input, number of classes or output kind.
    """

    def __init__(self, models: Sequence[torch.nn.Module], device: torch.device, schedule: str | None = None):
        self.schedule = current_schedule() if schedule is None else check_schedule(schedule)
        first = models[0]
        signature = lambda m: (m.cell, m.vocab_size, m.input_size, m.layers[0].input_size, m.num_classes,  # noqa: E731
                               m.sequence_output)
        if any(signature(m) != signature(first) for m in models):
            raise ConfigError(
                "a recurrent stack needs one cell, input and output kind; got "
                f"{sorted({signature(m) for m in models}, key=str)} (cell, vocab, input, embedding, classes, sequence output)"
            )
        self.cell = first.cell
        self.gates = GATES[self.cell]
        self.size = P = len(models)
        self.sequence_output = first.sequence_output
        self.depths = [len(m.layer_sizes) for m in models]
        self.depth = max(self.depths)
        self.widths = [max(m.layer_sizes[l] for m in models if len(m.layer_sizes) > l) for l in range(self.depth)]
        self.sources = [sorted({s for m in models for s, t in m.skip_pairs if t == l}) for l in range(self.depth)]
        self.first_input = first.layers[0].input_size
        self.classes = first.num_classes
        self.embedded = first.embedding is not None
        if self.embedded:
            vocab, dim = first.embedding.weight.shape
            self.embedding = _empty(P, vocab, dim)
            for p, m in enumerate(models):
                self.embedding.weight[p] = m.embedding.weight.detach().float().cpu()
                self.embedding.mask[p] = 1.0
                self.embedding.mask[p, 0] = 0.0  # padding_idx = 0: zero and never trained
        # ih[level][j]: block j's input weights (P, G*W, I_j); hh[level]: every block's recurrence (P, K, G*W, W).
        self.ih: list[list[StackedLayer]] = []
        self.hh: list[StackedLayer] = []
        for level in range(self.depth):
            W = self.widths[level]
            blocks = [_empty(P, self.gates * W, inputs) for inputs in self.input_widths(level)]
            K = len(blocks)
            hh = StackedLayer(torch.zeros(P, K, self.gates * W, W), torch.zeros(P, K, self.gates * W),
                              torch.zeros(P, K, self.gates * W, W), torch.zeros(P, K, self.gates * W))
            for p, m in enumerate(models):
                for block, layer in self._blocks(m, level):
                    self._put(blocks[block], hh, p, layer, level, block)
            self.ih.append(blocks)
            self.hh.append(hh)
        self.layout = Layout(self, models, torch.device(device)) if self.schedule == "wavefront" else None
        self.read_levels, self.read_start, columns = read_layout(models, self.widths)
        self.output = stack_readout(self, models, columns)
        for layer in self.layers():
            for name in ("weight", "bias", "mask", "bias_mask"):
                setattr(layer, name, getattr(layer, name).to(device))
            layer.weight.requires_grad_(True)
            layer.bias.requires_grad_(True)

    # --- layout --------------------------------------------------------------------------------

    def input_widths(self, level: int) -> list[int]:
        """Column widths of level ``level``'s input: the main source, then each skip source."""
        main = self.first_input if level == 0 else self.widths[level - 1]
        return [main] + [self.widths[s] for s in self.sources[level]]

    def _blocks(self, model, level: int):
        """(block, the model's layer) for every layer of ``model`` that ends at ``level``."""
        if level >= len(model.layer_sizes):
            return
        yield 0, model.layers[level]
        for j, s in enumerate(self.sources[level], start=1):
            if (s, level) in model.skip_pairs:
                yield j, model.skips[f"{s}_{level}"]

    def _rows(self, level: int, width: int, device=None) -> torch.Tensor:
        """Rows of units ``0..width-1`` in a block's gate-major rows (torch's gate order)."""
        W = self.widths[level]
        return torch.cat([torch.arange(g * W, g * W + width, device=device) for g in range(self.gates)])

    def _put(self, ih: StackedLayer, hh: StackedLayer, p: int, layer, level: int, block: int) -> None:
        w, inp = layer.hidden_size, layer.input_size
        rows = self._rows(level, w)
        mask = torch.ones(layer.weight_ih.shape) if layer.mask is None else layer.mask.detach().float().cpu()
        ih.weight[p, rows, :inp] = layer.weight_ih.detach().float().cpu() * mask
        ih.mask[p, rows, :inp] = mask
        ih.bias[p, rows] = layer.bias_ih.detach().float().cpu()
        ih.bias_mask[p, rows] = 1.0
        hh_mask = torch.ones(layer.weight_hh.shape) if layer.hh_mask is None else layer.hh_mask.detach().float().cpu()
        hh.weight[p, block, rows, :w] = layer.weight_hh.detach().float().cpu() * hh_mask
        hh.mask[p, block, rows, :w] = hh_mask
        hh.bias[p, block, rows] = layer.bias_hh.detach().float().cpu()
        hh.bias_mask[p, block, rows] = 1.0

    def layers(self) -> list[StackedLayer]:
        return ([self.embedding] if self.embedded else []) + [b for blocks in self.ih for b in blocks] + self.hh + [self.output]

    def parameters(self) -> list[torch.Tensor]:
        params = [self.embedding.weight] if self.embedded else []
        for layer in (*(b for blocks in self.ih for b in blocks), *self.hh, self.output):
            params += [layer.weight, layer.bias]
        return params

    # --- forward -------------------------------------------------------------------------------

    def _recur(self, level: int, sources: list[torch.Tensor]) -> torch.Tensor:
        """Level ``level``'s output sequence ``(P, B, T, W)``: the sum over its blocks, block ``j``
        reading ``sources[j]`` ``(P, B, T, I_j)``."""
        P, B, T, _ = sources[0].shape
        W, K, G = self.widths[level], len(sources), self.gates
        hh = self.hh[level]
        # Input projections of every step at once, block by block: (T, P*K, B, G*W) after one copy.
        gx = torch.stack([
            torch.baddbmm((ih.bias * ih.bias_mask).unsqueeze(1), src.reshape(P, B * T, -1), (ih.weight * ih.mask).transpose(1, 2))
            for ih, src in zip(self.ih[level], sources)
        ], dim=1).view(P * K, B, T, G * W).permute(2, 0, 1, 3).contiguous()
        w_hh = (hh.weight * hh.mask).view(P * K, G * W, W).to(gx.dtype)
        b_hh = (hh.bias * hh.bias_mask).view(P * K, 1, G * W).to(gx.dtype)
        states = recurrence(self.cell, gx, w_hh, b_hh)  # (T, P*K, B, W)
        out = states.view(T, P, K, B, W).permute(1, 2, 3, 0, 4)
        return out.sum(dim=1) if K > 1 else out[:, 0]

    def _levels(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """Every level's output sequence ``(P, B, T, W_l)``, level by level."""
        states: list[torch.Tensor] = []
        for level in range(self.depth):
            main = inputs if level == 0 else states[level - 1]
            states.append(self._recur(level, [main] + [states[s] for s in self.sources[level]]))
        return states

    def _read_wavefront(self, inputs: torch.Tensor, step: torch.Tensor | None) -> torch.Tensor:
        """What the classifier reads, computed by the wavefront (:mod:`.wavefront`): the read
        levels' outputs side by side, ``(P, B, T, columns)`` at every step (``step`` None) or
        ``(P, B, columns)`` at each sequence's ``step``. One gather picks them out of the
        wavefront's output (slicing level by level would cost a zero-filled gradient per level)."""
        P, B, T, _ = inputs.shape
        W, L = max(self.widths), self.depth
        plan, tensors = self.layout.pack(self, inputs)
        if use_compiled(tensors[0]):
            ys = compiled_wavefront(self.cell, plan, tensors)  # (S, units + 1, B)
            return self.layout.read_compact(ys, self.read_levels, self.widths, step, T)
        ys = wavefront(self.cell, plan, tensors)  # (S, P*L, B, W); level l at time τ: step τ + l, row p*L + l
        rows = plan.rows
        levels = torch.tensor(self.read_levels, device=ys.device)
        columns = torch.cat([torch.arange(k * W, k * W + self.widths[l], device=ys.device)
                             for k, l in enumerate(self.read_levels)])
        row = torch.arange(P, device=ys.device).view(P, 1, 1) * L + levels.view(1, -1, 1)  # (P, n, 1)
        if step is None:
            at = (torch.arange(T, device=ys.device).view(1, 1, T) + levels.view(1, -1, 1)) * rows + row  # (P, n, T)
            picked = ys.view(-1, B, W).index_select(0, at.reshape(-1)).view(P, -1, T, B, W).permute(0, 3, 2, 1, 4)
            return picked.reshape(P, B, T, -1).index_select(-1, columns)
        at = (step.view(1, 1, B) + levels.view(1, -1, 1)) * rows + row  # (P, n, B)
        picked = ys.view(-1, B, W)[at, torch.arange(B, device=ys.device).view(1, 1, B)]  # (P, n, B, W)
        return picked.permute(0, 2, 1, 3).reshape(P, B, -1).index_select(-1, columns)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(P, B, classes)`` at each sequence's step ``lengths - 1`` (``T - 1`` without
        lengths), or ``(P, B, T, classes)`` with sequence output. Lengths must lie in ``1..T``
        (the training loops check the data once, :func:`nas.training.batches.check_lengths`)."""
        P = self.size
        if self.embedded:
            inputs = (self.embedding.weight * self.embedding.mask)[:, x]
        else:
            inputs = x.unsqueeze(0).expand(P, *x.shape)
        B, T = x.shape[0], x.shape[1]
        w_out = (self.output.weight * self.output.mask).transpose(1, 2)
        b_out = (self.output.bias * self.output.bias_mask).unsqueeze(1)
        if self.schedule == "wavefront":
            if self.sequence_output:
                read = self._read_wavefront(inputs, None)
                return torch.baddbmm(b_out, read.reshape(P, B * T, -1), w_out).view(P, B, T, -1)
            step = torch.full((B,), T - 1, device=x.device) if lengths is None else lengths.long() - 1
            return torch.baddbmm(b_out, self._read_wavefront(inputs, step), w_out)
        states = self._levels(inputs)
        read = [states[l] for l in self.read_levels]
        read = read[0] if len(read) == 1 else torch.cat(read, dim=-1)  # (P, B, T, columns)
        if self.sequence_output:
            return torch.baddbmm(b_out, read.reshape(P, B * T, -1), w_out).view(P, B, T, -1)
        step = torch.full((B,), T - 1, device=x.device) if lengths is None else lengths.long() - 1
        rows = torch.arange(B, device=x.device)
        return torch.baddbmm(b_out, read[:, rows, step], w_out)

    # --- back to the candidates' own modules ---------------------------------------------------

    @torch.no_grad()
    def unstack(self, index: int, model: torch.nn.Module) -> torch.nn.Module:
        """Copy candidate ``index``'s weights into ``model`` (its own, unpadded module)."""
        if self.embedded:
            model.embedding.weight.copy_(self.embedding.weight[index].to(model.embedding.weight))
        for level in range(len(model.layer_sizes)):
            hh = self.hh[level]
            for block, layer in self._blocks(model, level):
                ih = self.ih[level][block]
                w, inp = layer.hidden_size, layer.input_size
                rows = self._rows(level, w, device=hh.weight.device)
                layer.weight_ih.copy_(ih.weight[index, rows, :inp].to(layer.weight_ih))
                layer.bias_ih.copy_(ih.bias[index, rows].to(layer.bias_ih))
                layer.weight_hh.copy_(hh.weight[index, block, rows, :w].to(layer.weight_hh))
                layer.bias_hh.copy_(hh.bias[index, block, rows].to(layer.bias_hh))
        unstack_readout(self, index, model)
        return model
