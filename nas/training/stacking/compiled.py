"""The wavefront's steps compiled for the CPU (numba): no kernel launches, no Python per step.

On a CPU the batched-torch wavefront (:mod:`.wavefront`) still launches a dozen small kernels per
step and group, each costing microseconds of dispatch for a few thousand multiply-adds: a sparse
RNN's epoch ran about 140× its compute floor. Here every step of a block group is one loop nest
compiled by numba (:mod:`.kernels`, one call for all the steps of a single-group plan, one call
per step and group otherwise): the input projection reads the level
outputs it needs straight from ``ys`` (no gathered copy), the cell's gate math runs per unit, and
the backward pass accumulates every gradient in place. The formulas are torch's cells, as in
:mod:`.recurrence`; results equal the batched-torch path up to the rounding of float sums
(tested for the four cells against the level-by-level loop and with ``gradcheck``).

numba is a dependency with wheels (no compiler at install time); where it cannot be imported,
or the tensors are not on the CPU, the batched-torch path runs instead, with one logged line.
``NAS_WAVEFRONT_KERNEL`` (``auto`` | ``numba`` | ``torch``) or
:func:`~nas.training.stacking.schedule.wavefront_kernel` choose (re-exported here).
Compiled code is cached on disk (numba's ``cache=True``): the first run in a fresh install
compiles for some seconds, later processes load it.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

import numpy as np
import torch

from nas.training.stacking.kernels import CELL_CODE, backward, forward, numba
from nas.training.stacking.schedule import KERNELS, current_kernel, wavefront_kernel

__all__ = ["KERNELS", "wavefront_kernel", "current_kernel", "use_compiled", "compiled_wavefront", "unit_offsets"]

log = logging.getLogger(__name__)

_noted = [False]


def use_compiled(like: torch.Tensor) -> bool:
    """Whether a wavefront over tensors like ``like`` runs the compiled steps."""
    if current_kernel() == "torch" or like.device.type != "cpu" or like.dtype not in (torch.float32, torch.float64):
        return False
    if numba is None:
        if not _noted[0]:
            log.warning("numba is not installed: recurrent stacks run the slower batched-torch wavefront "
                        "(pip install numba)")
            _noted[0] = True
        return False
    return True


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


class GroupState:
    """What a group's forward pass keeps for its backward pass (or, in evaluation, two states
    and one step of gates), batch innermost: ``hs`` states (``hs[s]`` before step ``s``), the
    GRU/LSTM ``gates``, the GRU's recurrent ``n`` projection ``hn`` (the LSTM's ``tanh(c)``), the
    LSTM's cells ``cs``. Only the first state is zeroed here; the kernel zeroes each level's
    state as it starts, and never reads padded units."""

    def __init__(self, cell: str, like: torch.Tensor, steps: int, size: int, batch: int, width: int, keep: bool):
        S = steps if keep else 1
        shape = (size, width, batch)
        self.hs = like.new_empty(S + 1, *shape)
        self.hs[0].zero_()
        gates = {"gru": 3, "lstm": 4}.get(cell, 0)
        self.gates = like.new_empty(gates, S, *shape) if gates else like.new_empty(0, 0, 0, 0, 0)
        self.hn = like.new_empty(S, *shape) if cell in ("gru", "lstm") else like.new_empty(0, 0, 0, 0)
        self.cs = like.new_empty(S + 1, *shape) if cell == "lstm" else like.new_empty(0, 0, 0, 0)
        if cell == "lstm":
            self.cs[0].zero_()

    def arrays(self) -> list[np.ndarray]:
        return [_np(t) for t in (self.hs, self.gates, self.hn, self.cs)]


def unit_offsets(plan) -> tuple[list[int], int]:
    """Where each row of ``plan`` (a candidate's level) starts in the level outputs' unit axis,
    and how many units there are: ``plan.offsets`` (each row its own width) or, without it, every
    row padded to ``plan.width``. One unit more (the last, never written) is a zero to read."""
    if plan.offsets is not None:
        return list(plan.offsets), plan.units
    return [r * plan.width for r in range(plan.rows)], plan.rows * plan.width


def _tables(group, offsets, width: int) -> tuple[np.ndarray, ...]:
    """starts, out_off, in_off, delay, own and cols of ``group`` as int64 arrays."""
    own = group.own if group.own is not None else (group.width,) * group.size
    cols = group.cols if group.cols is not None else (width,) * group.size
    level0 = group.first
    out_off = [offsets[r] for r in group.out_row]
    in_off = [offsets[r] if b >= level0 else 0 for b, r in enumerate(group.in_row)]
    return tuple(np.asarray(v, dtype=np.int64) for v in (group.starts, out_off, in_off, group.delay, own, cols))


def _schedule(groups, S: int, reverse: bool = False):
    """(first step, end step, group index) calls: one call for all steps of a single group, else
    one per step and group (groups meet in the level outputs every step)."""
    if len(groups) == 1:
        return [(0, S, 0)]
    order = range(S - 1, -1, -1) if reverse else range(S)
    return [(s, s + 1, k) for s in order for k in range(len(groups))]


@contextmanager
def _flushing_denormals():
    """Subnormal floats to zero while the kernels run (this thread's FTZ/DAZ flags, which
    numba's code obeys): decaying states and gradients otherwise reach subnormal values, whose
    arithmetic is tens of times slower on x86 (measured: a 64-GRU training batch 2.5 s instead of
    0.55 s). torch's default (no flushing) is restored afterwards."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


class _Compiled(torch.autograd.Function):
    """The wavefront's steps compiled; inputs as :func:`~.wavefront.wavefront`'s, output the
    level outputs ``(S, units + 1, B)``."""

    @staticmethod
    def forward(ctx, cell: str, plan, *tensors):
        like = tensors[0]
        B, T, S, W = like.shape[2], plan.steps, plan.wavefront_steps, plan.width
        offsets, units = unit_offsets(plan)
        keep = any(ctx.needs_input_grad)  # evaluation keeps two states and one step, not every step
        ys = like.new_zeros(S, units + 1, B)
        tables = [_tables(g, offsets, W) for g in plan.groups]
        states = [GroupState(cell, like, S, g.size, B, g.width, keep) for g in plan.groups]
        arrays = []
        for k in range(len(plan.groups)):
            gx0, w_ih, b_ih, w_hh, b_hh = tensors[5 * k:5 * k + 5]
            arrays.append((*tables[k], _np(gx0.transpose(-1, -2).contiguous()),
                           *(_np(t.contiguous()) for t in (w_ih, b_ih[:, 0], w_hh, b_hh[:, 0])), _np(ys),
                           *states[k].arrays()))
        code = CELL_CODE[cell]
        with _flushing_denormals():
            for s0, s1, k in _schedule(plan.groups, S):
                forward(code, s0, s1, T, keep, *arrays[k])
        ctx.cell, ctx.plan, ctx.tables, ctx.states = cell, plan, tables, states
        ctx.save_for_backward(*(t for k in range(len(plan.groups)) for t in (tensors[5 * k + 1], tensors[5 * k + 3])),
                              ys)
        return ys

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_ys):
        plan, saved = ctx.plan, ctx.saved_tensors
        ys = saved[-1]
        S, _, B = ys.shape
        T = plan.steps
        d_ys = grad_ys.contiguous().clone()
        grads, arrays = [], []
        for k, g in enumerate(plan.groups):
            w_ih, w_hh = saved[2 * k], saved[2 * k + 1]
            GW = w_hh.shape[1]
            grad = [w_hh.new_zeros(T, g.first, GW, B), torch.zeros_like(w_ih), w_ih.new_zeros(g.size - g.first, GW),
                    torch.zeros_like(w_hh), w_hh.new_zeros(g.size, GW)]
            carry = [w_hh.new_zeros(g.size, g.width, B), w_hh.new_zeros(g.size, g.width, B)]  # dh, dc
            grads.append(grad)
            arrays.append((*ctx.tables[k], _np(w_ih.contiguous()), _np(w_hh.contiguous()), _np(ys),
                           *ctx.states[k].arrays(), _np(d_ys), *(_np(c) for c in carry), *(_np(t) for t in grad)))
        code = CELL_CODE[ctx.cell]
        with _flushing_denormals():
            for s0, s1, k in _schedule(plan.groups, S, reverse=True):
                backward(code, s0, s1, T, *arrays[k])
        back = [(g0.transpose(-1, -2), g1, g2.unsqueeze(1), g3, g4.unsqueeze(1)) for g0, g1, g2, g3, g4 in grads]
        return (None, None, *(t for grad in back for t in grad))


def compiled_wavefront(cell: str, plan, tensors) -> torch.Tensor:
    """The wavefront of :func:`~.wavefront.wavefront` (same ``plan`` and ``tensors``) with compiled
    steps, its level outputs unit-major: ``(S, units + 1, B)``, a level-``l`` row's units (from
    :func:`unit_offsets`) at step ``τ + l`` holding time ``τ``; the last unit is zero."""
    return _Compiled.apply(cell, plan, *tensors)
