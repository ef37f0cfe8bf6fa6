"""The wavefront's steps compiled for the CPU (numba): no kernel launches, no Python per step.

On a CPU the batched-torch wavefront (:mod:`.wavefront`) still launches a dozen small kernels per
step and group, each costing microseconds of dispatch for a few thousand multiply-adds: a sparse
RNN's epoch ran about 140× its compute floor. Here every step of a block group is one loop nest
compiled by numba (:func:`_forward` and :func:`_backward`, one call for all the steps of a
single-group plan, one call per step and group otherwise): the input projection reads the level
outputs it needs straight from ``ys`` (no gathered copy), the cell's gate math runs per unit, and
the backward pass accumulates every gradient in place. The formulas are torch's cells, as in
:mod:`.recurrence`; results equal the batched-torch path up to the rounding of float sums
(tested for the four cells against the level-by-level loop and with ``gradcheck``).

numba is a dependency with wheels (no compiler at install time); where it cannot be imported,
or the tensors are not on the CPU, the batched-torch path runs instead, with one logged line.
``NAS_WAVEFRONT_KERNEL`` (``auto`` | ``numba`` | ``torch``) or :func:`wavefront_kernel` choose.
Compiled code is cached on disk (numba's ``cache=True``): the first run in a fresh install
compiles for some seconds, later processes load it.
"""

from __future__ import annotations

import logging
import math
import os
from contextlib import contextmanager

import numpy as np
import torch

from nas.exceptions import ConfigError

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; this is the degraded path
    numba = None

__all__ = ["KERNELS", "wavefront_kernel", "current_kernel", "use_compiled", "compiled_forward", "compiled_backward"]

log = logging.getLogger(__name__)

#: ``auto``: compiled where numba imports and the tensors are on the CPU; ``numba``: the same
#: (the name says what was asked for); ``torch``: always the batched-torch steps.
KERNELS = ("auto", "numba", "torch")
CELL_CODE = {"tanh": 0, "relu": 1, "gru": 2, "lstm": 3}
_active: list[str] = []
_noted = [False]


def _check(name: str) -> str:
    if name not in KERNELS:
        raise ConfigError(f"unknown wavefront kernel {name!r}; expected one of {list(KERNELS)}")
    return name


def current_kernel() -> str:
    """The kernel asked for: the innermost :func:`wavefront_kernel`, else ``NAS_WAVEFRONT_KERNEL``."""
    return _active[-1] if _active else _check(os.environ.get("NAS_WAVEFRONT_KERNEL", "auto"))


@contextmanager
def wavefront_kernel(name: str):
    """Within the block, wavefronts run with kernel ``name`` (benchmarks compare in one process)."""
    _active.append(_check(name))
    try:
        yield
    finally:
        _active.pop()


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


_OPTIONS = {
    "cache": True, "nogil": True,
    # Reassociation lets the dot products vectorise; NaN and infinity semantics are kept (no
    # nnan/ninf), so a diverging network still shows as NaN. IEEE division (numpy's error model,
    # no ZeroDivisionError check) lets the gate loops vectorise.
    "fastmath": {"reassoc", "contract", "arcp", "nsz"}, "error_model": "numpy",
}


def _jit(function):
    return numba.njit(**_OPTIONS)(function) if numba is not None else function


# tanh on [-9, 9] as x P(x^2) / Q(x^2), P and Q of degree 4: a rational least-squares fit (Lawson
# reweighted toward minimax; its relative error 2e-8, below float32's half ulp), evaluated in
# float64. Beyond 9, tanh rounds to ±1 in float32. Unlike libm's tanh and exp (scalar calls, 3-16
# ns each here) it vectorises: about 0.6 ns per value. float64 data keeps the exact formulas.
_TANH_P = (9.99999979e-01, 1.33805823e-01, 3.49506107e-03, 2.06004038e-05, 1.33426990e-08)
_TANH_Q = (1.0, 4.67138978e-01, 2.58749784e-02, 3.28477230e-04, 7.77164419e-07)


def _tanh(x, like):
    """tanh of ``x`` to the precision of ``like``'s dtype (compiled code only)."""
    raise NotImplementedError  # pragma: no cover


def _sigmoid(x, like):
    """The logistic function of ``x`` to the precision of ``like``'s dtype (compiled code only)."""
    raise NotImplementedError  # pragma: no cover


if numba is not None:
    from numba.core import types
    from numba.extending import overload

    @overload(_tanh, jit_options=_OPTIONS)
    def _tanh_typed(x, like):
        if like.dtype == types.float32:
            p0, p1, p2, p3, p4 = _TANH_P
            q0, q1, q2, q3, q4 = _TANH_Q

            def rational(x, like):
                y = min(max(x, -9.0), 9.0)
                z = y * y
                p = (((p4 * z + p3) * z + p2) * z + p1) * z + p0
                q = (((q4 * z + q3) * z + q2) * z + q1) * z + q0
                return min(max(y * p / q, -1.0), 1.0)
            return rational
        return lambda x, like: math.tanh(x)

    @overload(_sigmoid, jit_options=_OPTIONS)
    def _sigmoid_typed(x, like):
        if like.dtype == types.float32:
            return lambda x, like: 0.5 + 0.5 * _tanh(0.5 * x, like)
        return lambda x, like: 1.0 / (1.0 + math.exp(-x))


@_jit
def _active_range(starts, s, steps):
    levels = len(starts) - 1
    lo, hi = max(0, s - steps + 1), min(levels - 1, s)
    return starts[lo], starts[hi + 1]


@_jit
def _project(s, b, k, m, w, GW, before, read, cols, gx0, w_ih, b_ih, w_hh, b_hh, ys, hs, px, ph):
    """Block ``b``'s input (``px``) and recurrent (``ph``) projections at step ``s``, gate rows of
    its ``m`` real units only, zero weights skipped; the batch axis innermost (vectorised)."""
    B = px.shape[1]
    for q in range(GW // w):
        for j in range(q * w, q * w + m):
            for n in range(B):
                ph[j, n] = b_hh[b, j]
            for i in range(m):
                wt = w_hh[b, j, i]
                if wt != 0.0:
                    for n in range(B):
                        ph[j, n] += wt * hs[before, b, i, n]
            if k < 0:
                for n in range(B):
                    px[j, n] = gx0[s, b, j, n]
            else:  # from the level output read (delay steps back)
                src = read[s, b]
                for n in range(B):
                    px[j, n] = b_ih[k, j]
                for c in range(cols[b]):
                    wt = w_ih[k, j, c]
                    if wt != 0.0:
                        for n in range(B):
                            px[j, n] += wt * ys[src, c, n]


@_jit
def _forward(cell, s_lo, s_hi, steps, rows, keep, starts, out_row, read, own, cols, gx0, w_ih, b_ih, w_hh, b_hh, ys,
             hs, gates, hn, cs):
    """Wavefront steps ``[s_lo, s_hi)`` of one block group. Batch innermost: ``gx0`` (T, N0, G*w,
    B), ``ys`` (S * rows, W, B), states (…, N, w, B); weights as in :func:`~.wavefront.wavefront`
    (biases without their unit axis). Block ``b`` computes its ``own[b]`` units from the
    ``cols[b]`` columns of the level output it reads (the rest are padding)."""
    N, GW, w = w_hh.shape
    N0 = N - w_ih.shape[0]
    B = ys.shape[2]
    px = np.empty((GW, B), dtype=ys.dtype)
    ph = np.empty((GW, B), dtype=ys.dtype)
    for s in range(s_lo, s_hi):
        b0, b1 = _active_range(starts, s, steps)
        before = s if keep else s % 2
        after = s + 1 if keep else (s + 1) % 2
        t = s if keep else 0
        hs[after, b1:] = 0.0  # the levels still to start keep a zero state
        if cell == 3:
            cs[after, b1:] = 0.0
        for b in range(b0, b1):
            k, m = b - N0, own[b]
            _project(s, b, k, m, w, GW, before, read, cols, gx0, w_ih, b_ih, w_hh, b_hh, ys, hs, px, ph)
            h, y = hs[after, b], ys[s * rows + out_row[b]]
            if cell == 2:  # GRU: r, z = sigmoid; n = tanh(x_n + r h_n); h = n + z (h_prev - n)
                for u in range(m):
                    for n in range(B):
                        r = _sigmoid(px[u, n] + ph[u, n], ys)
                        z = _sigmoid(px[w + u, n] + ph[w + u, n], ys)
                        nn = _tanh(px[2 * w + u, n] + r * ph[2 * w + u, n], ys)
                        h[u, n] = nn + z * (hs[before, b, u, n] - nn)
                        gates[0, t, b, u, n] = r
                        gates[1, t, b, u, n] = z
                        gates[2, t, b, u, n] = nn
                        hn[t, b, u, n] = ph[2 * w + u, n]
            elif cell == 3:  # LSTM: i, f, g, o; c = f c_prev + i g; h = o tanh(c)
                for u in range(m):
                    for n in range(B):
                        gi = _sigmoid(px[u, n] + ph[u, n], ys)
                        gf = _sigmoid(px[w + u, n] + ph[w + u, n], ys)
                        gg = _tanh(px[2 * w + u, n] + ph[2 * w + u, n], ys)
                        go = _sigmoid(px[3 * w + u, n] + ph[3 * w + u, n], ys)
                        c = gf * cs[before, b, u, n] + gi * gg
                        tc = _tanh(c, ys)
                        cs[after, b, u, n] = c
                        hn[t, b, u, n] = tc  # the LSTM keeps tanh(c) where the GRU keeps h_n
                        h[u, n] = go * tc
                        gates[0, t, b, u, n] = gi
                        gates[1, t, b, u, n] = gf
                        gates[2, t, b, u, n] = gg
                        gates[3, t, b, u, n] = go
            elif cell == 0:
                for u in range(m):
                    for n in range(B):
                        h[u, n] = _tanh(px[u, n] + ph[u, n], ys)
            else:
                for u in range(m):
                    for n in range(B):
                        a = px[u, n] + ph[u, n]
                        h[u, n] = 0.0 if a <= 0.0 else a  # NaN passes, as in torch's relu
            for u in range(m):
                for n in range(B):
                    y[u, n] += h[u, n]
            h[m:] = 0.0  # padded units stay at zero


@_jit
def _gate_gradients(cell, s, b, m, w, d_row, hs, gates, hn, cs, dh, dc, gx, gh):
    """Step ``s`` of block ``b``, given the gradient ``d_row`` into its output row: the input
    (``gx``) and recurrent (``gh``, GRU only) pre-activations' gradients; ``dh`` becomes the part
    of the previous state's gradient that bypasses ``W_hh`` (GRU: d z, else 0), ``dc`` (LSTM)
    the previous cell's."""
    B = gx.shape[1]
    if cell == 2:
        for u in range(m):
            for n in range(B):
                du = dh[b, u, n] + d_row[u, n]
                r, z, nn = gates[0, s, b, u, n], gates[1, s, b, u, n], gates[2, s, b, u, n]
                da = du * (1.0 - z) * (1.0 - nn * nn)
                gx[u, n] = da * hn[s, b, u, n] * r * (1.0 - r)
                gx[w + u, n] = du * (hs[s, b, u, n] - nn) * z * (1.0 - z)
                gx[2 * w + u, n] = da
                gh[u, n] = gx[u, n]
                gh[w + u, n] = gx[w + u, n]
                gh[2 * w + u, n] = da * r
                dh[b, u, n] = du * z
    elif cell == 3:
        for u in range(m):
            for n in range(B):
                du = dh[b, u, n] + d_row[u, n]
                gi, gf, gg, go = gates[0, s, b, u, n], gates[1, s, b, u, n], gates[2, s, b, u, n], gates[3, s, b, u, n]
                tc = hn[s, b, u, n]
                c = dc[b, u, n] + du * go * (1.0 - tc * tc)
                gx[u, n] = c * gg * gi * (1.0 - gi)
                gx[w + u, n] = c * cs[s, b, u, n] * gf * (1.0 - gf)
                gx[2 * w + u, n] = c * gi * (1.0 - gg * gg)
                gx[3 * w + u, n] = du * tc * go * (1.0 - go)
                dc[b, u, n] = c * gf
                dh[b, u, n] = 0.0
    elif cell == 0:
        for u in range(m):
            for n in range(B):
                h = hs[s + 1, b, u, n]
                gx[u, n] = (dh[b, u, n] + d_row[u, n]) * (1.0 - h * h)
                dh[b, u, n] = 0.0
    else:
        for u in range(m):
            for n in range(B):
                gx[u, n] = dh[b, u, n] + d_row[u, n] if hs[s + 1, b, u, n] > 0.0 else 0.0
                dh[b, u, n] = 0.0


@_jit
def _backward(cell, s_lo, s_hi, steps, rows, starts, out_row, read, own, cols, w_ih, w_hh, ys, hs, gates, hn, cs,
              d_ys, dh, dc, g_gx0, g_wih, g_bih, g_whh, g_bhh):
    """The gradients of wavefront steps ``[s_lo, s_hi)`` of one block group, walked in reverse
    (layouts as in :func:`_forward`; ``dh``, ``dc`` (N, w, B) carry the state gradients back)."""
    N, GW, w = w_hh.shape
    N0 = N - w_ih.shape[0]
    B = ys.shape[2]
    gx = np.zeros((GW, B), dtype=ys.dtype)  # d loss / d (input pre-activation)
    gh = np.zeros((GW, B), dtype=ys.dtype)  # d loss / d (recurrent pre-activation): differs in the GRU's n gate
    for s in range(s_hi - 1, s_lo - 1, -1):
        b0, b1 = _active_range(starts, s, steps)
        for b in range(b0, b1):
            k, m = b - N0, own[b]
            _gate_gradients(cell, s, b, m, w, d_ys[s * rows + out_row[b]], hs, gates, hn, cs, dh, dc, gx, gh)
            rec = gh if cell == 2 else gx
            for q in range(GW // w):
                for j in range(q * w, q * w + m):
                    acc = 0.0
                    for n in range(B):
                        acc += rec[j, n]
                    g_bhh[b, j] += acc
                    for i in range(m):  # into the previous state through W_hh, and W_hh's gradient
                        wt = w_hh[b, j, i]
                        acc = 0.0
                        for n in range(B):
                            dh[b, i, n] += rec[j, n] * wt
                            acc += rec[j, n] * hs[s, b, i, n]
                        g_whh[b, j, i] += acc
                    if k < 0:
                        for n in range(B):
                            g_gx0[s, b, j, n] = gx[j, n]
                        continue
                    src = read[s, b]  # into the level output it read, and the input weights
                    acc = 0.0
                    for n in range(B):
                        acc += gx[j, n]
                    g_bih[k, j] += acc
                    for c in range(cols[b]):
                        wt = w_ih[k, j, c]
                        acc = 0.0
                        for n in range(B):
                            d_ys[src, c, n] += gx[j, n] * wt
                            acc += gx[j, n] * ys[src, c, n]
                        g_wih[k, j, c] += acc


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


class GroupState:
    """What a group's forward pass keeps for its backward pass (or, in evaluation, two states
    and one step of gates), batch innermost: ``hs`` states (``hs[s]`` before step ``s``), the
    GRU/LSTM ``gates``, the GRU's recurrent ``n`` projection ``hn`` (the LSTM's ``tanh(c)``), the LSTM's cells ``cs``."""

    def __init__(self, cell: str, like: torch.Tensor, steps: int, size: int, batch: int, width: int, keep: bool):
        S = steps if keep else 1
        shape = (size, width, batch)
        self.hs = like.new_zeros(S + 1, *shape)
        gates = {"gru": 3, "lstm": 4}.get(cell, 0)
        self.gates = like.new_empty(gates, S, *shape) if gates else like.new_empty(0, 0, 0, 0, 0)
        self.hn = like.new_empty(S, *shape) if cell in ("gru", "lstm") else like.new_empty(0, 0, 0, 0)
        self.cs = like.new_zeros(S + 1, *shape) if cell == "lstm" else like.new_empty(0, 0, 0, 0)

    def arrays(self) -> list[np.ndarray]:
        return [_np(t) for t in (self.hs, self.gates, self.hn, self.cs)]


def _tables(group, steps: int, rows: int, width: int) -> tuple[np.ndarray, ...]:
    """starts, out_row, read, own and cols of ``group`` as int64 arrays."""
    out_row, read = group.tables(steps, rows, "cpu")
    own = group.own if group.own is not None else (group.width,) * group.size
    cols = group.cols if group.cols is not None else (width,) * group.size
    return (np.asarray(group.starts, dtype=np.int64), out_row.numpy(), read.numpy(), np.asarray(own, dtype=np.int64),
            np.asarray(cols, dtype=np.int64))


def _schedule(groups, S: int, reverse: bool = False):
    """(first step, end step, group index) calls: one call for all steps of a single group, else
    one per step and group (groups meet in the level outputs every step)."""
    if len(groups) == 1:
        return [(0, S, 0)]
    order = range(S - 1, -1, -1) if reverse else range(S)
    return [(s, s + 1, k) for s in order for k in range(len(groups))]


def _batch_last(t: torch.Tensor) -> np.ndarray:
    """``(…, B, X)`` as a contiguous ``(…, X, B)`` array."""
    return _np(t.transpose(-1, -2).contiguous())


class Saved:
    """What :func:`compiled_backward` needs: each group's tables and states, and the level
    outputs in the kernels' layout."""

    def __init__(self, tables, states, ys_rows):
        self.tables, self.states, self.ys_rows = tables, states, ys_rows


def compiled_forward(cell: str, plan, tensors, keep: bool) -> tuple[torch.Tensor, Saved]:
    """Every step of the wavefront ``plan`` (see :func:`~.wavefront.wavefront`) compiled: returns
    the level outputs ``ys`` (S, rows, B, W) and what the backward pass needs."""
    like = tensors[0]
    B, T, S, R, W = like.shape[2], plan.steps, plan.wavefront_steps, plan.rows, plan.width
    ys_rows = like.new_zeros(S * R, W, B)
    tables = [_tables(g, T, R, W) for g in plan.groups]
    states = [GroupState(cell, like, S, g.size, B, g.width, keep) for g in plan.groups]
    arrays = []
    for k in range(len(plan.groups)):
        gx0, w_ih, b_ih, w_hh, b_hh = tensors[5 * k:5 * k + 5]
        arrays.append((*tables[k], _batch_last(gx0), *(_np(t.contiguous()) for t in (w_ih, b_ih[:, 0], w_hh, b_hh[:, 0])),
                       _np(ys_rows), *states[k].arrays()))
    code = CELL_CODE[cell]
    for s0, s1, k in _schedule(plan.groups, S):
        _forward(code, s0, s1, T, R, keep, *arrays[k])
    ys = ys_rows.view(S, R, W, B).transpose(-1, -2).contiguous()
    return ys, Saved(tables, states, ys_rows)


def compiled_backward(cell: str, plan, saved: Saved, weights, grad_ys: torch.Tensor) -> list[torch.Tensor]:
    """The gradients of :func:`compiled_forward`'s inputs, five per group (``weights``: each
    group's ``w_ih`` and ``w_hh``), from the level outputs' gradient ``grad_ys``."""
    S, R, B, W = grad_ys.shape
    T = plan.steps
    d_rows = _batch_last(grad_ys.reshape(S * R, B, W))
    grads, arrays = [], []
    for k, g in enumerate(plan.groups):
        w_ih, w_hh = weights[2 * k], weights[2 * k + 1]
        GW = w_hh.shape[1]
        grad = [w_hh.new_zeros(T, g.first, GW, B), torch.zeros_like(w_ih), w_ih.new_zeros(g.size - g.first, GW),
                torch.zeros_like(w_hh), w_hh.new_zeros(g.size, GW)]
        carry = [w_hh.new_zeros(g.size, g.width, B), w_hh.new_zeros(g.size, g.width, B)]  # dh, dc
        grads.append(grad)
        arrays.append((*saved.tables[k], _np(w_ih.contiguous()), _np(w_hh.contiguous()), _np(saved.ys_rows),
                       *saved.states[k].arrays(), d_rows, *(_np(c) for c in carry), *(_np(t) for t in grad)))
    code = CELL_CODE[cell]
    for s0, s1, k in _schedule(plan.groups, S, reverse=True):
        _backward(code, s0, s1, T, R, *arrays[k])
    return [t for grad in grads
            for t in (grad[0].transpose(-1, -2), grad[1], grad[2].unsqueeze(1), grad[3], grad[4].unsqueeze(1))]
