"""Many small recurrences at once, with a hand-written backward pass through time.

:func:`recurrence` runs N independent single-layer recurrences (the blocks of every candidate at
one DAG level, see :mod:`.rnn`) over T steps: ``h_t = cell(gx_t + h_{t-1} W_hh^T + b_hh)`` in
torch's formulas for the tanh, ReLU, GRU and LSTM cells. The time loop is unavoidable (each step
needs the last), so what a step costs is the number of kernels it launches and the memory they
touch. Under autograd a GRU step records about a dozen nodes, each with its own saved tensors and
bookkeeping; here the forward runs without a graph, writes every step's gates into preallocated
buffers (``out=`` and in-place ops on contiguous buffers: eight kernels a GRU step), and the backward walks the steps in
reverse with one ``bmm`` and a handful of elementwise kernels each, accumulating the recurrent
weight gradient in a single ``bmm`` over all steps at the end. The gradients equal autograd's
(checked with ``torch.autograd.gradcheck`` in the tests). The cell's step and its gradient
(:func:`cell_step`, :func:`cell_step_backward`, over a slice of blocks of :class:`StepBuffers`)
are shared with the wavefront schedule (:mod:`.wavefront`).
"""

from __future__ import annotations

import torch

from search_spaces.builders.recurrent import GATES

__all__ = ["recurrence", "StepBuffers", "cell_step", "cell_step_backward"]


class StepBuffers:
    """The tensors a forward pass through time keeps for its backward pass: every step's state
    ``hs`` (``hs[s]``: before step ``s``), the inputs ``xs`` the projections read, the gates, the
    GRU's ``hn`` (its recurrent ``n`` projection) and the LSTM's cell ``cs``. Without ``keep``
    (no backward pass to come: evaluation) only the last two states and the current step's gates
    and inputs are kept, in slots reused step after step: :meth:`state` and :meth:`step` map a
    step to its slot."""

    def __init__(self, cell: str, like: torch.Tensor, steps: int, size: int, first: int, batch: int, width: int,
                 inputs: int, keep: bool = True):
        N, B, W = size, batch, width
        self.keep = keep
        S = steps if keep else 1
        self.hs = like.new_empty(S + 1, N, B, W)
        self.hs[0].zero_()
        self.xs = like.new_empty(S, N - first, B, inputs)
        self.gates = [like.new_empty(S, N, B, W) for _ in range(GATES[cell])] if cell in ("gru", "lstm") else []
        self.hn = like.new_empty(S, N, B, W) if cell == "gru" else like.new_empty(0)
        self.cs = like.new_empty(S + 1, N, B, W) if cell == "lstm" else like.new_empty(0)
        if cell == "lstm":
            self.cs[0].zero_()

    def state(self, s: int) -> int:
        """Slot of the state before step ``s`` in ``hs`` and ``cs``."""
        return s if self.keep else s % 2

    def step(self, s: int) -> int:
        """Slot of step ``s`` in ``xs``, the gates and ``hn``."""
        return s if self.keep else 0

    def saved(self) -> list[torch.Tensor]:
        return [self.hs, self.xs, self.hn, self.cs, *self.gates]


def cell_step(cell: str, buf: StepBuffers, s: int, b0: int, b1: int, gi: torch.Tensor, gh: torch.Tensor) -> torch.Tensor:
    """One step of ``cell`` for blocks ``[b0, b1)`` from their input (``gi``) and recurrent (``gh``)
    projections; writes the gates and the new state into ``buf`` and returns the state."""
    W = buf.hs.shape[-1]
    before, after, t = buf.state(s), buf.state(s + 1), buf.step(s)
    h, h_prev = buf.hs[after, b0:b1], buf.hs[before, b0:b1]
    pieces, hidden = gi.split(W, dim=-1), gh.split(W, dim=-1)
    if cell == "gru":
        r, z, n = (g[t, b0:b1] for g in buf.gates)
        torch.add(pieces[0], hidden[0], out=r).sigmoid_()
        torch.add(pieces[1], hidden[1], out=z).sigmoid_()
        buf.hn[t, b0:b1] = hidden[2]
        torch.addcmul(pieces[2], r, buf.hn[t, b0:b1], out=n).tanh_()
        torch.lerp(n, h_prev, z, out=h)
    elif cell == "lstm":
        i, f, g, o = (x[t, b0:b1] for x in buf.gates)
        for k, x in enumerate((i, f, g, o)):
            torch.add(pieces[k], hidden[k], out=x)
            x.tanh_() if k == 2 else x.sigmoid_()
        torch.addcmul(f * buf.cs[before, b0:b1], i, g, out=buf.cs[after, b0:b1])
        torch.mul(o, torch.tanh(buf.cs[after, b0:b1]), out=h)
    elif cell == "tanh":
        torch.add(gi, gh, out=h).tanh_()
    else:
        torch.add(gi, gh, out=h).relu_()
    return h


def cell_step_backward(cell: str, saved, s: int, b0: int, b1: int, d: torch.Tensor, dc, gi: torch.Tensor,
                   gh: torch.Tensor) -> torch.Tensor:
    """The gradients of step ``s`` of blocks ``[b0, b1)`` given ``d`` (into their new state):
    writes the input projection's gradient into ``gi`` and the recurrent one's into ``gh`` (the
    same tensor except for the GRU), updates the LSTM's cell gradient ``dc`` in place, and
    returns the part of the previous state's gradient that bypasses ``W_hh`` (GRU: ``d * z``)."""
    hs, _, hn, cs, *gates = saved
    if cell == "gru":
        r, z, n = (g[s, b0:b1] for g in gates)
        da = d * (1 - z) * (1 - n * n)  # n = tanh(a), a = x_n + r * hn
        dr = da * hn[s, b0:b1] * r * (1 - r)
        dz = d * (hs[s, b0:b1] - n) * z * (1 - z)
        torch.cat([dr, dz, da], dim=-1, out=gi)
        torch.cat([dr, dz, da * r], dim=-1, out=gh)
        return d * z
    if cell == "lstm":
        i, f, g, o = (x[s, b0:b1] for x in gates)
        tc = torch.tanh(cs[s + 1, b0:b1])
        c = dc[b0:b1] + d * o * (1 - tc * tc)
        torch.cat([c * g * i * (1 - i), c * cs[s, b0:b1] * f * (1 - f), c * i * (1 - g * g), d * tc * o * (1 - o)],
                  dim=-1, out=gi)
        torch.mul(c, f, out=dc[b0:b1])
        return None
    h = hs[s + 1, b0:b1]
    torch.mul(d, 1 - h * h if cell == "tanh" else (h > 0).to(d.dtype), out=gi)
    return None


class _Recurrence(torch.autograd.Function):
    """Inputs: ``gx`` (T, N, B, G*W) input projections (input bias included), ``w_hh`` (N, G*W, W),
    ``b_hh`` (N, 1, G*W). Output: the hidden states ``(T, N, B, W)``."""

    @staticmethod
    def forward(ctx, cell: str, gx: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor) -> torch.Tensor:
        T, N, B, GW = gx.shape
        W = w_hh.shape[-1]
        w_t = w_hh.transpose(1, 2)
        buf = StepBuffers(cell, gx, T, N, N, B, W, 0)
        scratch = gx.new_empty(N, B, GW)  # h_{t-1} W_hh^T + b_hh of the current step
        for t in range(T):
            torch.baddbmm(b_hh, buf.hs[t], w_t, out=scratch)
            cell_step(cell, buf, t, 0, N, gx[t], scratch)
        ctx.cell = cell
        ctx.save_for_backward(w_hh, *buf.saved())
        return buf.hs[1:]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        w_hh, *saved = ctx.saved_tensors
        hs, cell = saved[0], ctx.cell
        T, N, B, W = grad_out.shape
        GW = w_hh.shape[1]
        grad_gx = grad_out.new_empty(T, N, B, GW)  # d loss / d (gx_t): the gate pre-activations' gradient
        grad_pre = grad_out.new_empty(T, N, B, GW) if cell == "gru" else grad_gx  # differs only in the GRU's n gate
        dh = torch.zeros_like(hs[0])
        dc = torch.zeros_like(hs[0]) if cell == "lstm" else None
        for t in range(T - 1, -1, -1):
            bypass = cell_step_backward(cell, saved, t, 0, N, dh + grad_out[t], dc, grad_gx[t], grad_pre[t])
            dh = torch.bmm(grad_pre[t], w_hh) if bypass is None else torch.baddbmm(bypass, grad_pre[t], w_hh)
        # pre_t = h_{t-1} W^T + b for every t: dW = sum_t grad_pre_t^T h_{t-1}, one bmm over all steps.
        flat_grad = grad_pre.permute(1, 3, 0, 2).reshape(N, -1, T * B)  # (N, G*W, T*B)
        flat_h = hs[:-1].permute(1, 0, 2, 3).reshape(N, T * B, W)
        grad_w = torch.bmm(flat_grad, flat_h)
        grad_b = grad_pre.sum(dim=(0, 2)).unsqueeze(1)
        return None, grad_gx, grad_w, grad_b


def recurrence(cell: str, gx: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor) -> torch.Tensor:
    """Hidden states ``(T, N, B, W)`` of N recurrences of ``cell`` from a zero state.

    Parameters
    ----------
    cell : {"tanh", "relu", "gru", "lstm"}
    gx : Tensor (T, N, B, G*W)
        Every step's input projection, input bias included, gates in torch's order.
    w_hh : Tensor (N, G*W, W)
        Recurrent weights (already masked).
    b_hh : Tensor (N, 1, G*W)
        Recurrent bias.
    """
    return _Recurrence.apply(cell, gx, w_hh, b_hh)
