"""Where each wavefront block's weights live in a recurrent stack's padded tensors.

:class:`~nas.training.stacking.rnn.StackedRecurrent` keeps, per DAG level, the *union* layout of
its candidates: every level padded to its widest candidate and holding a block for every skip
source any candidate has (the optimizer's parameters). The wavefront (:mod:`.wavefront`) computes
only the (candidate, block) pairs that exist, in groups of similar own width. :class:`Layout`
chooses those groups once and precomputes, for every group, the position of every weight and bias
in the flattened parameters (or a zero for padding), so that :meth:`Layout.pack` gathers all of a
kind with one ``take`` — whose backward pass is one scatter into the parameters' gradients, where
slicing, padding and selecting level by level cost a zero-filled gradient per operation.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from nas.training.stacking.planner import STEP_COST
from nas.training.stacking.wavefront import BlockGroup, WavefrontPlan, width_groups

__all__ = ["Layout", "GROUPING_BATCH"]

#: The batch size the width groups are chosen for (the Reber tasks' default).
GROUPING_BATCH = 128

#: The weights gathered per group: recurrent weights and biases, input weights and biases.
_KINDS = ("hh", "hb", "ih", "ib")


def _positions(offset: int, block: torch.Tensor, stride: int, gates: int, rows: int, cols: int, to: int,
               to_cols: int, zero: int) -> torch.Tensor:
    """Flat positions of blocks ``block`` (n,) of a tensor laid out ``(…block, G*rows, cols)`` at
    ``offset``, re-laid as ``(n, G*to, to_cols)`` (``cols = 0``: a bias ``(…block, G*rows)`` as
    ``(n, G*to)``); rows or columns past the source's are ``zero``."""
    g = torch.arange(gates).view(1, gates, 1, 1)
    i = torch.arange(to).view(1, 1, to, 1)
    base = block.view(-1, 1, 1, 1) * stride + g * rows + i
    if cols == 0:
        out = torch.where(i < rows, offset + base, zero)
        return out.reshape(len(block), gates * to)
    c = torch.arange(to_cols).view(1, 1, 1, to_cols)
    out = torch.where((i < rows) & (c < cols), offset + base * cols + c, zero)
    return out.reshape(len(block), gates * to, to_cols)


class Layout:
    """The wavefront's blocks of a stack: every (candidate, block) pair a candidate has — absent
    skip blocks and levels below a candidate's depth are not computed at all — grouped by own
    width with :func:`~nas.training.stacking.wavefront.width_groups` (the planner's costs),
    each group padded to its widest. Candidate ``p``'s level ``l`` is output row ``p*L + l``.

    Parameters
    ----------
    stack : StackedRecurrent
        Its ``widths``, ``sources``, ``gates``, ``size``, ``first_input`` and parameter shapes.
    models : the stack's candidates (their own layer sizes and skip pairs).
    device : torch.device
    """

    def __init__(self, stack, models, device: torch.device):
        L, P, G = stack.depth, stack.size, stack.gates
        self.gates, self.width = G, max(stack.widths)
        blocks = []  # (level, candidate, block j, own width, source level)
        for l in range(L):
            reads = [l - 1] + list(stack.sources[l])
            blocks += [(l, p, j, models[p].layer_sizes[l], reads[j]) for p in range(P) for j in range(len(reads))
                       if l < len(models[p].layer_sizes) and (j == 0 or (reads[j], l) in models[p].skip_pairs)]
        costs = STEP_COST["rnn"]["cuda" if device.type == "cuda" else "cpu"]
        ranges = width_groups([b[3] for b in blocks], costs["layer"], costs["element"] * G * GROUPING_BATCH)
        # Offsets of every level's tensors in the flattened parameters of each kind.
        hh_off, ih_off, hb_off, ib_off = [], [], [], []
        for l in range(L):
            hh_off.append(sum(stack.hh[k].weight.numel() for k in range(l)))
            hb_off.append(sum(stack.hh[k].bias.numel() for k in range(l)))
            ih_off.append([sum(x.weight.numel() for k in range(1, l) for x in stack.ih[k])
                           + sum(x.weight.numel() for x in stack.ih[l][:j]) for j in range(len(stack.ih[l]))])
            ib_off.append([sum(x.bias.numel() for k in range(1, l) for x in stack.ih[k])
                           + sum(x.bias.numel() for x in stack.ih[l][:j]) for j in range(len(stack.ih[l]))])
        zero = {"hh": hh_off[-1] + stack.hh[-1].weight.numel(), "hb": hb_off[-1] + stack.hh[-1].bias.numel()}
        zero["ih"] = sum(x.weight.numel() for k in range(1, L) for x in stack.ih[k])
        zero["ib"] = sum(x.bias.numel() for k in range(1, L) for x in stack.ih[k])
        W, W0 = self.width, stack.widths[0]
        groups, self._index = [], []
        for low, high in ranges:
            mine = [b for b in blocks if low <= b[3] <= high]
            w = high
            starts = [sum(1 for b in mine if b[0] < l) for l in range(L + 1)]
            groups.append(BlockGroup(w, tuple(starts), tuple(p * L + l for l, p, *_ in mine),
                                     tuple(p * L + max(src, 0) for l, p, j, _, src in mine),
                                     tuple(l - src if l else 0 for l, p, j, _, src in mine),
                                     own=tuple(b[3] for b in mine),
                                     cols=tuple(models[p].layer_sizes[src] if l else 0 for l, p, j, _, src in mine)))
            hh, hb, ih, ib = [], [], [], []
            for l in range(L):
                at = [(p, j) for l2, p, j, *_ in mine if l2 == l]
                if not at:
                    continue
                Wl, K = stack.widths[l], len(stack.ih[l])
                pk = torch.tensor([p * K + j for p, j in at])
                hh.append(_positions(hh_off[l], pk, G * Wl, G, Wl, Wl, w, w, zero["hh"]))
                hb.append(_positions(hb_off[l], pk, G * Wl, G, Wl, 0, w, 0, zero["hb"]))
                if l == 0:
                    continue
                rows_w, rows_b = [None] * len(at), [None] * len(at)
                for j in range(K):  # one call per input block kind (its column count), then in (p, j) order
                    where = [n for n, (_, jj) in enumerate(at) if jj == j]
                    if not where:
                        continue
                    cand = torch.tensor([at[n][0] for n in where])
                    cols = stack.ih[l][j].weight.shape[-1]
                    pw = _positions(ih_off[l][j], cand, G * Wl, G, Wl, cols, w, W, zero["ih"])
                    pb = _positions(ib_off[l][j], cand, G * Wl, G, Wl, 0, w, 0, zero["ib"])
                    for k, n in enumerate(where):
                        rows_w[n], rows_b[n] = pw[k], pb[k]
                ih.append(torch.stack(rows_w))
                ib.append(torch.stack(rows_b))
            g, i = torch.arange(G).view(G, 1), torch.arange(w).view(1, w)
            first = torch.tensor([p for l, p, *_ in mine if l == 0], dtype=torch.long)
            cat = lambda parts, shape: torch.cat(parts) if parts else torch.zeros(shape, dtype=torch.long)  # noqa: E731
            self._index.append({
                "hh": cat(hh, (0, G * w, w)), "hb": cat(hb, (0, G * w)), "ih": cat(ih, (0, G * w, W)),
                "ib": cat(ib, (0, G * w)), "first": first,
                "rows0": torch.where(i < W0, g * W0 + i, G * W0).reshape(-1),  # level 0's gate rows, G*W0: a zero
            })
        # The compiled steps' compact level outputs: each candidate's levels at their own width.
        sizes = [list(m.layer_sizes) + [0] * (L - len(m.layer_sizes)) for m in models]
        self.own = [width for row in sizes for width in row]  # row p * L + l: candidate p's level l
        offsets, units = [], 0
        for width in self.own:
            offsets.append(units if width else -1)
            units += width
        self.plan = WavefrontPlan(tuple(groups), L, P * L, W, 0, offsets=tuple(offsets), units=units)
        self._on = None  # the device the indices were last moved to
        self._read = None  # the compact readout's unit per (candidate, column), built on first use

    def _indices(self, device) -> tuple[list[dict], dict[str, torch.Tensor]]:
        """Each group's indices, and per kind of weight all groups' indices as one flat tensor
        (concatenated once, then kept on the device of the last call)."""
        if self._on != device:
            self._index = [{k: v.to(device) for k, v in index.items()} for index in self._index]
            self._flat = {kind: torch.cat([index[kind].reshape(-1) for index in self._index]) for kind in _KINDS}
            self._on = device
        return self._index, self._flat

    def pack(self, stack, inputs: torch.Tensor) -> tuple[WavefrontPlan, list[torch.Tensor]]:
        """The plan for ``inputs`` (P, B, T, I) and the five tensors per group :func:`wavefront`
        takes, gathered from ``stack``'s masked parameters (one ``take`` per kind)."""
        P, B, T, _ = inputs.shape
        first = stack.ih[0][0]
        gx0 = torch.baddbmm((first.bias * first.bias_mask).unsqueeze(1), inputs.reshape(P, B * T, -1),
                            (first.weight * first.mask).transpose(1, 2)).view(P, B, T, -1)
        gx0 = torch.nn.functional.pad(gx0, (0, 1))  # the last column: the zero of padded rows
        zero = gx0.new_zeros(1)
        flat = {
            "hh": torch.cat([(h.weight * h.mask).reshape(-1) for h in stack.hh] + [zero]),
            "hb": torch.cat([(h.bias * h.bias_mask).reshape(-1) for h in stack.hh] + [zero]),
            "ih": torch.cat([(x.weight * x.mask).reshape(-1) for blocks in stack.ih[1:] for x in blocks] + [zero]),
            "ib": torch.cat([(x.bias * x.bias_mask).reshape(-1) for blocks in stack.ih[1:] for x in blocks] + [zero]),
        }
        indices, flat_index = self._indices(gx0.device)
        taken = {}
        for kind, source in flat.items():  # one gather per kind for all groups
            parts = [index[kind] for index in indices]
            values = source.to(gx0.dtype).take(flat_index[kind])
            taken[kind] = [v.view(part.shape) for v, part in zip(values.split([part.numel() for part in parts]), parts)]
        tensors = []
        for k, index in enumerate(indices):
            x0 = gx0.index_select(0, index["first"]).index_select(-1, index["rows0"])
            tensors += [x0.permute(2, 0, 1, 3).contiguous(), taken["ih"][k], taken["ib"][k].unsqueeze(1),
                        taken["hh"][k], taken["hb"][k].unsqueeze(1)]
        return replace(self.plan, steps=T), tensors

    def read_compact(self, ys: torch.Tensor, levels: list[int], widths: list[int], step: torch.Tensor | None,
                     steps: int) -> torch.Tensor:
        """The read ``levels`` (each ``widths[l]`` columns, side by side) of every candidate out of
        the compiled wavefront's compact level outputs ``ys`` (S, units + 1, B): ``(P, B, T,
        columns)`` at every step (``step`` None) or ``(P, B, columns)`` at each sequence's
        ``step``; columns past a candidate's own width, or of a level it lacks, read the zero unit.
        One ``take``."""
        S, U1, B = ys.shape
        L, P = self.plan.levels, self.plan.rows // self.plan.levels
        if self._read is None or self._read[0].device != ys.device:
            unit, level = [], []
            for l in levels:
                level += [l] * widths[l]
            for p in range(P):
                row = []
                for l in levels:
                    at, own = self.plan.offsets[p * L + l], self.own[p * L + l]
                    row += [at + u if u < own else U1 - 1 for u in range(widths[l])]
                unit.append(row)
            self._read = (torch.tensor(unit, device=ys.device), torch.tensor(level, device=ys.device))
        unit, level = self._read
        n = torch.arange(B, device=ys.device)
        if step is None:
            t = torch.arange(steps, device=ys.device).view(1, 1, steps, 1) + level.view(1, 1, 1, -1)
            at = (t * U1 + unit.view(P, 1, 1, -1)) * B + n.view(1, B, 1, 1)  # (P, B, T, columns)
        else:
            t = step.view(1, B, 1) + level.view(1, 1, -1)
            at = (t * U1 + unit.view(P, 1, -1)) * B + n.view(1, B, 1)  # (P, B, columns)
        return ys.take(at)
