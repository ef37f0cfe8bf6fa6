"""Every DAG level of a recurrent stack at once: a wavefront over levels and time steps.

Level ``l`` of a sparse RNN reads level ``l-1``'s output at the *same* time step, so the
level-by-level schedule (:meth:`~nas.training.stacking.rnn.StackedRecurrent._recur`) runs one
recurrence per level, each a loop over T steps: ``L × T`` steps of a handful of small kernels.
A wavefront runs them diagonally instead: at wavefront step ``s`` level ``l`` computes time step
``s - l``, whose input (level ``l-1`` at time ``s - l``) was computed one wavefront step before.
So every block of every level advances in **one batched call per step**: ``T + L - 1`` steps
instead of ``L × T``.

**Blocks.** As in :mod:`.rnn`, level ``l`` has a main block (reading level ``l-1``) and one skip
block per skip source of the candidate; a level's output is the sum of its blocks' states. Here
only the (candidate, block) pairs that exist are computed, in :class:`BlockGroup` s of similar own
width (:func:`width_groups`; :mod:`.layout` chooses them and gathers their weights), each group
one batch ``(N, B, w)`` ordered by level, padded to the group's widest block (padded units and
columns have zero weights and biases, so their state stays exactly 0). Level outputs live in rows
of ``ys`` ``(S, rows, B, W)``, ``S = T + L - 1``, ``W`` the widest level. A block of level ``l``
reading level ``j`` at time ``τ = s - l`` finds that output at wavefront step ``τ + j = s - (l -
j)``: ``l - j`` steps back (1 for a main block, more for skips), which is why every step's level
outputs are kept. At step ``s`` only the levels with ``0 <= s - l < T`` are active; they are
contiguous in each group's block order, so the step works on one slice per group and the others
keep their (zero) initial state.

**Per step and group.** One ``index_select`` gathers every active block's input from ``ys``; one
``baddbmm`` projects all of them (the per-level, per-skip input projections of the old schedule
as one grouped matmul), one ``baddbmm`` the recurrences; then the cell's elementwise work
(:func:`~nas.training.stacking.recurrence.cell_step`) and one ``index_add_`` summing the blocks
into their levels' outputs. The backward pass walks the steps in reverse with the same slices
(hand-written, like :mod:`.recurrence`): a block's input gradient is added to the level output
it read (``ys``'s gradient), and the weight gradients accumulate with one ``baddbmm_`` per step.
Without a backward pass to come (evaluation) each group keeps two states and one step of gates.
Results equal the level-by-level schedule up to the rounding of float sums (tested for the four
cells, with skips, padding, pruned recurrences, both readouts and sequence output).

These are the *batched-torch* steps. On the CPU the same plan runs compiled instead
(:mod:`.compiled`, with compact level outputs), where numba is available.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nas.training.stacking.recurrence import StepBuffers, cell_step, cell_step_backward
from search_spaces.builders.recurrent import GATES

__all__ = ["BlockGroup", "WavefrontPlan", "wavefront", "width_groups"]

@dataclass(frozen=True)
class BlockGroup:
    """Blocks of one padded width, ordered by level: ``starts[l]`` is level ``l``'s first block
    (``starts[L]`` = the group's size; the first ``starts[1]`` read the external input). Block
    ``b`` adds its state into row ``out_row[b]`` of each step's level outputs and (levels >= 1)
    reads row ``in_row[b]`` of the step ``delay[b]`` back. ``own[b]`` is its own width and
    ``cols[b]`` the width of the level output it reads (the rest is padding, which the compiled
    steps skip; None: the group's width and every column)."""

    width: int
    starts: tuple[int, ...]
    out_row: tuple[int, ...]
    in_row: tuple[int, ...]
    delay: tuple[int, ...]
    own: tuple[int, ...] | None = None
    cols: tuple[int, ...] | None = None

    @property
    def size(self) -> int:
        return self.starts[-1]

    @property
    def first(self) -> int:
        """Blocks reading the external input (level 0's)."""
        return self.starts[1]

    def active(self, s: int, steps: int) -> tuple[int, int]:
        """Blocks ``[b0, b1)`` active at wavefront step ``s``: levels ``s - T + 1 .. s``."""
        lo, hi = max(0, s - steps + 1), min(len(self.starts) - 2, s)
        return self.starts[lo], self.starts[hi + 1]

    def tables(self, steps: int, rows: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        """``out_row`` as a tensor, and ``read[s, b]``: the row of the flattened ``(S * rows)``
        level outputs block ``b`` reads at step ``s`` (clamped at 0 where it reads nothing)."""
        out_row = torch.tensor(self.out_row, dtype=torch.long, device=device)
        in_row = torch.tensor(self.in_row, dtype=torch.long, device=device)
        delay = torch.tensor(self.delay, dtype=torch.long, device=device)
        step = torch.arange(steps + len(self.starts) - 2, device=device).unsqueeze(1)
        return out_row, ((step - delay.unsqueeze(0)) * rows + in_row.unsqueeze(0)).clamp_(min=0)


@dataclass(frozen=True)
class WavefrontPlan:
    """Block groups over ``levels`` levels, level outputs in ``rows`` rows of ``width`` units per
    step, sequences of ``steps`` time steps. ``offsets`` (the compiled steps' compact level
    outputs): where each row starts among ``units`` units, each row its own width (-1: a row no
    block writes); None: every row padded to ``width``."""

    groups: tuple[BlockGroup, ...]
    levels: int
    rows: int
    width: int
    steps: int
    offsets: tuple[int, ...] | None = None
    units: int | None = None

    @property
    def wavefront_steps(self) -> int:
        return self.steps + self.levels - 1


def width_groups(widths, launch: float, element: float) -> list[tuple[int, int]]:
    """Contiguous ranges of the sorted distinct ``widths`` (a block's own width), each padded to
    its widest, that minimise ``Σ_groups (launch + element × blocks × padded width)``: every
    group costs one more set of kernel launches per step, padding costs elementwise work. Returns
    ``(low, high)`` width ranges."""
    values, counts = torch.unique(torch.as_tensor(list(widths)), return_counts=True)
    values, counts = values.tolist(), counts.tolist()
    k = len(values)
    best = [0.0] + [float("inf")] * k  # best[i]: the first i distinct widths grouped
    cut = [0] * (k + 1)
    for i in range(1, k + 1):
        for j in range(i):  # the last group: widths j..i-1, padded to values[i-1]
            cost = best[j] + launch + element * sum(counts[j:i]) * values[i - 1]
            if cost < best[i]:
                best[i], cut[i] = cost, j
    ranges, i = [], k
    while i:
        ranges.append((values[cut[i]], values[i - 1]))
        i = cut[i]
    return ranges[::-1]


class _Wavefront(torch.autograd.Function):
    """Inputs, five per group: ``gx0`` (T, N0, B, G*w) the input projection of the group's level-0
    blocks (bias included); ``w_ih`` (N-N0, G*w, W) and ``b_ih`` (N-N0, 1, G*w) the other blocks'
    input weights (reading level outputs of width W); ``w_hh`` (N, G*w, w) and ``b_hh`` (N, 1, G*w)
    every block's recurrence. Output: ``ys`` (S, rows, B, W), the level outputs of every step."""

    @staticmethod
    def forward(ctx, cell: str, plan: WavefrontPlan, *tensors):
        groups = plan.groups
        like = tensors[0]
        B, T, S, R, W = like.shape[2], plan.steps, plan.wavefront_steps, plan.rows, plan.width
        ys = like.new_zeros(S, R, B, W)
        ys_rows = ys.view(S * R, B, W)
        keep = any(ctx.needs_input_grad)  # evaluation keeps two states and one step, not every step
        work = []
        for k, g in enumerate(groups):
            gx0, w_ih, b_ih, w_hh, b_hh = tensors[5 * k:5 * k + 5]
            buf = StepBuffers(cell, like, S, g.size, g.first, B, g.width, W, keep=keep)
            work.append((g, buf, *g.tables(T, R, like.device), gx0, w_ih.transpose(1, 2), b_ih, w_hh.transpose(1, 2),
                         b_hh, like.new_empty(g.size, B, w_hh.shape[1]), like.new_empty(g.size, B, w_hh.shape[1])))
        for s in range(S):
            for g, buf, out_row, read, gx0, w_ih_t, b_ih, w_hh_t, b_hh, gi, gh in work:
                b0, b1 = g.active(s, T)
                if b1 < g.size:  # the levels still to start keep a zero state
                    buf.hs[buf.state(s + 1), b1:].zero_()
                    if cell == "lstm":
                        buf.cs[buf.state(s + 1), b1:].zero_()
                if b1 == b0:
                    continue
                N0 = g.first
                torch.baddbmm(b_hh[b0:b1], buf.hs[buf.state(s), b0:b1], w_hh_t[b0:b1], out=gh[b0:b1])
                if b0 < N0:
                    gi[b0:N0].copy_(gx0[s, b0:N0])
                c0 = max(b0, N0)
                if b1 > c0:
                    x = buf.xs[buf.step(s), c0 - N0:b1 - N0]
                    torch.index_select(ys_rows, 0, read[s, c0:b1], out=x)
                    torch.baddbmm(b_ih[c0 - N0:b1 - N0], x, w_ih_t[c0 - N0:b1 - N0], out=gi[c0:b1])
                h = cell_step(cell, buf, s, b0, b1, gi[b0:b1], gh[b0:b1])
                ys[s].narrow(-1, 0, g.width).index_add_(0, out_row[b0:b1], h)
        ctx.cell, ctx.plan = cell, plan
        ctx.tables = [(out_row, read) for _, _, out_row, read, *_ in work]  # the backward pass reads the same rows
        weights = [t for k in range(len(groups)) for t in (tensors[5 * k + 1], tensors[5 * k + 3])]
        ctx.save_for_backward(*weights, *(t for _, buf, *_ in work for t in buf.saved()))
        return ys

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_ys):
        cell, plan = ctx.cell, ctx.plan
        groups = plan.groups
        saved = ctx.saved_tensors
        weights, rest = saved[:2 * len(groups)], saved[2 * len(groups):]
        per = 4 + (GATES[cell] if cell in ("gru", "lstm") else 0)
        S, R, B, W = grad_ys.shape
        T = plan.steps
        d_ys = grad_ys.contiguous().clone()
        d_rows = d_ys.view(S * R, B, W)
        work, grads = [], []
        for k, g in enumerate(groups):
            w_ih, w_hh = weights[2 * k], weights[2 * k + 1]
            GW = w_hh.shape[1]
            # Weight gradients accumulate step by step: dW += grad_s^T x_s (no buffer over all steps).
            grad = [w_ih.new_empty(T, g.first, B, GW), torch.zeros_like(w_ih), w_ih.new_zeros(g.size - g.first, 1, GW),
                    torch.zeros_like(w_hh), w_hh.new_zeros(g.size, 1, GW)]
            g_in = w_hh.new_empty(g.size, B, GW)
            g_h = w_hh.new_empty(g.size, B, GW) if cell == "gru" else g_in  # the GRU's n gate differs
            dh = w_hh.new_zeros(g.size, B, g.width)  # gradient into each block's state, carried back in time
            dc = w_hh.new_zeros(g.size, B, g.width) if cell == "lstm" else None
            work.append((g, rest[per * k:per * k + per], *ctx.tables[k], w_ih, w_hh, grad, g_in, g_h, dh, dc))
            grads.append(grad)
        for s in range(S - 1, -1, -1):
            for g, buf, out_row, read, w_ih, w_hh, grad, g_in, g_h, dh, dc in work:
                b0, b1 = g.active(s, T)
                if b1 == b0:
                    continue
                N0 = g.first
                d = dh[b0:b1] + d_ys[s].narrow(-1, 0, g.width).index_select(0, out_row[b0:b1])
                gi, gh = g_in[b0:b1], g_h[b0:b1]
                bypass = cell_step_backward(cell, buf, s, b0, b1, d, dc, gi, gh)
                if bypass is None:
                    torch.bmm(gh, w_hh[b0:b1], out=dh[b0:b1])
                else:
                    torch.baddbmm(bypass, gh, w_hh[b0:b1], out=dh[b0:b1])
                grad[3][b0:b1].baddbmm_(gh.transpose(1, 2), buf[0][s, b0:b1])
                grad[4][b0:b1] += gh.sum(dim=1, keepdim=True)
                if b0 < N0:
                    grad[0][s, b0:N0] = gi[:N0 - b0]
                c0 = max(b0, N0)
                if b1 > c0:  # each block's input gradient goes to the level output it read
                    part = g_in[c0:b1]
                    d_rows.index_add_(0, read[s, c0:b1], torch.bmm(part, w_ih[c0 - N0:b1 - N0]))
                    grad[1][c0 - N0:b1 - N0].baddbmm_(part.transpose(1, 2), buf[1][s, c0 - N0:b1 - N0])
                    grad[2][c0 - N0:b1 - N0] += part.sum(dim=1, keepdim=True)
        return (None, None, *(t for grad in grads for t in grad))


def wavefront(cell: str, plan: WavefrontPlan, tensors) -> torch.Tensor:
    """Every level output of a recurrent stack in one wavefront (see the module notes).

    Parameters
    ----------
    cell : {"tanh", "relu", "gru", "lstm"}
    plan : WavefrontPlan
    tensors : sequence of Tensors
        Five per group of ``plan`` (its N blocks of width w, N0 of them on level 0, G gates):
        ``gx0`` (T, N0, B, G*w), level 0's input projection at every time step, input bias
        included; ``w_ih`` (N-N0, G*w, W) and ``b_ih`` (N-N0, 1, G*w), the other blocks' masked
        input weights and biases, reading level outputs of width W (``plan.width``); ``w_hh``
        (N, G*w, w) and ``b_hh`` (N, 1, G*w), every block's masked recurrence.

    Returns
    -------
    Tensor (T + L - 1, rows, B, W)
        Every step's level outputs: a level-``l`` block's row at step ``τ + l`` holds time ``τ``.
    """
    if cell not in GATES:
        raise ValueError(f"unknown recurrent cell {cell!r}; expected one of {list(GATES)}")
    return _Wavefront.apply(cell, plan, *tensors)
