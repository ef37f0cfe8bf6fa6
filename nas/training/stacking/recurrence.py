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
(checked with ``torch.autograd.gradcheck`` in the tests).
"""

from __future__ import annotations

import torch

__all__ = ["recurrence"]


class _Recurrence(torch.autograd.Function):
    """Inputs: ``gx`` (T, N, B, G*W) input projections (input bias included), ``w_hh`` (N, G*W, W),
    ``b_hh`` (N, 1, G*W). Output: the hidden states ``(T, N, B, W)``."""

    @staticmethod
    def forward(ctx, cell: str, gx: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor) -> torch.Tensor:
        T, N, B, GW = gx.shape
        W = w_hh.shape[-1]
        w_t = w_hh.transpose(1, 2)
        hs = gx.new_zeros(T + 1, N, B, W)  # hs[t] is the state before step t
        scratch = gx.new_empty(N, B, GW)  # h_{t-1} W_hh^T + b_hh of the current step
        hn = gx.new_empty(T, N, B, W) if cell == "gru" else gx.new_empty(0)  # W_hn h + b_hn, for the backward
        # Activated gates, each in its own contiguous buffer (in-place ops on strided views are slow).
        gates = [gx.new_empty(T, N, B, W) for _ in range(GW // W)] if cell in ("gru", "lstm") else []
        cs = gx.new_zeros(T + 1, N, B, W) if cell == "lstm" else None
        pieces = gx.split(W, dim=-1)
        for t in range(T):
            pre = torch.baddbmm(b_hh, hs[t], w_t, out=scratch)
            hidden = pre.split(W, dim=-1)
            if cell == "gru":
                r, z, n = (g[t] for g in gates)
                torch.add(pieces[0][t], hidden[0], out=r).sigmoid_()
                torch.add(pieces[1][t], hidden[1], out=z).sigmoid_()
                hn[t] = hidden[2]
                torch.addcmul(pieces[2][t], r, hn[t], out=n).tanh_()
                torch.lerp(n, hs[t], z, out=hs[t + 1])  # (1 - z) n + z h
            elif cell == "lstm":
                i, f, g, o = (buf[t] for buf in gates)
                for k, buf in enumerate((i, f, g, o)):
                    torch.add(pieces[k][t], hidden[k], out=buf)
                    buf.tanh_() if k == 2 else buf.sigmoid_()
                torch.addcmul(f * cs[t], i, g, out=cs[t + 1])
                torch.mul(o, torch.tanh(cs[t + 1]), out=hs[t + 1])
            elif cell == "tanh":
                torch.add(gx[t], pre, out=hs[t + 1]).tanh_()
            else:
                torch.add(gx[t], pre, out=hs[t + 1]).relu_()
        ctx.cell = cell
        empty = hs.new_empty(0)
        ctx.save_for_backward(w_hh, hs, hn, cs if cs is not None else empty, *gates)
        return hs[1:]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        w_hh, hs, hn, cs, *gates = ctx.saved_tensors
        cell = ctx.cell
        T, N, B, W = grad_out.shape
        GW = w_hh.shape[1]
        grad_gx = grad_out.new_empty(T, N, B, GW)  # d loss / d (gx_t): the gate pre-activations' gradient
        grad_pre = grad_out.new_empty(T, N, B, GW) if cell == "gru" else grad_gx  # differs only in the GRU's n gate
        dh = torch.zeros_like(hs[0])
        dc = torch.zeros_like(hs[0]) if cell == "lstm" else None
        for t in range(T - 1, -1, -1):
            dh = dh + grad_out[t]
            h_prev = hs[t]
            if cell == "gru":
                r, z, n = (g[t] for g in gates)
                da = dh * (1 - z) * (1 - n * n)  # n = tanh(a), a = x_n + r * hn
                dr = da * hn[t] * r * (1 - r)
                dz = dh * (h_prev - n) * z * (1 - z)
                torch.cat([dr, dz, da], dim=-1, out=grad_gx[t])
                torch.cat([dr, dz, da * r], dim=-1, out=grad_pre[t])
                dh = torch.baddbmm(dh * z, grad_pre[t], w_hh)
            elif cell == "lstm":
                i, f, g, o = (buf[t] for buf in gates)
                tc = torch.tanh(cs[t + 1])
                dc = dc + dh * o * (1 - tc * tc)
                torch.cat([dc * g * i * (1 - i), dc * cs[t] * f * (1 - f), dc * i * (1 - g * g), dh * tc * o * (1 - o)],
                          dim=-1, out=grad_gx[t])
                dc = dc * f
                dh = torch.bmm(grad_gx[t], w_hh)
            else:
                h = hs[t + 1]
                ds = grad_gx[t]
                if cell == "tanh":
                    torch.mul(dh, 1 - h * h, out=ds)
                else:
                    torch.mul(dh, (h > 0).to(dh.dtype), out=ds)
                dh = torch.bmm(ds, w_hh)
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
