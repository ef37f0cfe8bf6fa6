"""The compiled wavefront steps themselves: numba loop nests over one block group's steps.

:func:`forward` and :func:`backward` run wavefront steps ``[s_lo, s_hi)`` of one group with the
batch axis innermost (vectorised), padded units and columns and zero weights skipped; the level
outputs are compact (unit-major, each row at its own width). :mod:`.compiled` chooses them and
wraps them in an autograd function. Without numba the functions stay plain Python (never called:
the batched-torch steps run instead).
"""

from __future__ import annotations

import math

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; this is the degraded path
    numba = None

__all__ = ["forward", "backward", "CELL_CODE"]

CELL_CODE = {"tanh": 0, "relu": 1, "gru": 2, "lstm": 3}

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
def _project(s, b, k, m, w, GW, before, in_off, delay, cols, gx0, w_ih, b_ih, w_hh, b_hh, ys, hs, px, ph):
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
                src, at = s - delay[b], in_off[b]
                for n in range(B):
                    px[j, n] = b_ih[k, j]
                for c in range(cols[b]):
                    wt = w_ih[k, j, c]
                    if wt != 0.0:
                        for n in range(B):
                            px[j, n] += wt * ys[src, at + c, n]


@_jit
def _forward(cell, s_lo, s_hi, steps, keep, starts, out_off, in_off, delay, own, cols, gx0, w_ih, b_ih, w_hh, b_hh,
             ys, hs, gates, hn, cs):
    """Wavefront steps ``[s_lo, s_hi)`` of one block group. Batch innermost: ``gx0`` (T, N0, G*w,
    B), the level outputs ``ys`` (S, units, B), states (…, N, w, B); weights as in
    :func:`~.wavefront.wavefront` (biases without their unit axis). Block ``b`` adds its ``own[b]``
    units into units ``out_off[b]…`` of its step's level outputs, from the ``cols[b]`` units at
    ``in_off[b]`` of the step ``delay[b]`` back (the rest of its width is padding)."""
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
        if s + 1 < len(starts) - 1:  # the next level starts from a zero state
            hs[after, starts[s + 1]:starts[s + 2]] = 0.0
            if cell == 3:
                cs[after, starts[s + 1]:starts[s + 2]] = 0.0
        for b in range(b0, b1):
            k, m = b - N0, own[b]
            _project(s, b, k, m, w, GW, before, in_off, delay, cols, gx0, w_ih, b_ih, w_hh, b_hh, ys, hs, px, ph)
            h, y = hs[after, b], ys[s, out_off[b]:out_off[b] + m]
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
def _backward(cell, s_lo, s_hi, steps, starts, out_off, in_off, delay, own, cols, w_ih, w_hh, ys, hs, gates, hn, cs,
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
            _gate_gradients(cell, s, b, m, w, d_ys[s, out_off[b]:out_off[b] + m], hs, gates, hn, cs, dh, dc, gx, gh)
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
                    src, at = s - delay[b], in_off[b]  # into the level output it read, and the input weights
                    acc = 0.0
                    for n in range(B):
                        acc += gx[j, n]
                    g_bih[k, j] += acc
                    for c in range(cols[b]):
                        wt = w_ih[k, j, c]
                        acc = 0.0
                        for n in range(B):
                            d_ys[src, at + c, n] += gx[j, n] * wt
                            acc += gx[j, n] * ys[src, at + c, n]
                        g_wih[k, j, c] += acc


forward, backward = _forward, _backward
