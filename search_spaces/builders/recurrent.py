"""Sparse recurrent networks wired by a :class:`~search_spaces.dag.LayeredDAG`.

One recurrent layer per DAG layer, hidden size = layer size (Stier et al. 2021):

* layer 0 reads the (embedded) input through dense input weights;
* layer ``l >= 1`` reads the output sequence of layer ``l-1`` through input weights masked by the
  edges between the two layers; its recurrence (hidden -> hidden, within the layer) is dense;
* every skip pair ``(s, t)`` adds an extra recurrent layer from layer ``s``'s output sequence to
  ``width[t]`` units, with masked input weights and its own dense recurrence; its output sequence
  is added to layer ``t``'s before layer ``t+1`` reads it;
* a linear classifier reads the last layer (readout ``last``, the paper's) or the sink units of
  every layer (readout ``sinks``) at the last valid time step (or at every step).

With ``width`` w a vertex is a block of w units: hidden sizes are w times the layer sizes and
every DAG mask entry a dense w x w block.

**Gate blocks.** A gated cell stacks its gates' input weights: ``weight_ih`` is ``(G*H, I)`` with
``G = 3`` (GRU: r, z, n) or ``G = 4`` (LSTM: i, f, g, o), one ``(H, I)`` block per gate. The mask
is the ``(H, I)`` DAG mask repeated *per block* (``mask.repeat(G, 1)``), so row ``g*H + i`` of
every gate belongs to unit ``i``. The authors' code repeated rows with an interleaving repeat
(``repeat_interleave``), which gives gate ``g`` of unit ``i`` the mask of another unit; we don't.

**Speed.** The layers call torch's fused RNN kernels (``torch.rnn_tanh / rnn_relu / gru /
lstm``, the functions ``nn.RNN/GRU/LSTM.forward`` call) with the masked input weight passed in
as a fresh tensor, so there is no Python loop over time steps. We call them directly rather than
through ``torch.func.functional_call`` on an ``nn.GRU`` because the latter leaves the module's
cached ``_flat_weights`` pointing at the last masked tensor (and its autograd graph).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from search_spaces.builders.masked import (
    BuilderError,
    MaskedModel,
    as_mask,
    block_mask,
    check_readout,
    check_width,
    readout_layer,
    reset_readout,
    uniform_,
)
from search_spaces.dag import LayeredDAG
from search_spaces.exceptions import ShapeMismatchError

__all__ = ["MaskedRecurrentLayer", "SparseRecurrent", "GATES", "CELLS"]

#: Gate blocks stacked in ``weight_ih`` / ``weight_hh`` for each cell (torch's order).
GATES = {"tanh": 1, "relu": 1, "gru": 3, "lstm": 4}
CELLS = tuple(GATES)


class MaskedRecurrentLayer(nn.Module):
    """One recurrent layer (batch first) with optionally masked input weights.

    Parameters
    ----------
    cell : {"tanh", "relu", "gru", "lstm"}
    input_size, hidden_size : int
    mask : array-like of shape (hidden_size, input_size), optional
        DAG mask of the input weights; ``None`` for dense input weights. Stored as the buffer
        ``mask`` repeated per gate block, shape ``(G*hidden_size, input_size)``.
    generator : torch.Generator, optional
        Source of the initial weights.

    Notes
    -----
    Initialisation is torch's for recurrent layers: every weight and bias U(-b, b) with
    ``b = 1/sqrt(hidden_size)``; then masked input weights are set to zero. The recurrence
    ``weight_hh`` is dense; :meth:`mask_weights` gives it a mask (buffer ``hh_mask``) for pruning.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, mask=None, generator=None):
        super().__init__()
        if cell not in GATES:
            raise BuilderError(f"unknown recurrent cell {cell!r}; expected one of {list(CELLS)}")
        self.cell = cell
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        gates = GATES[cell] * self.hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gates, self.input_size))
        self.weight_hh = nn.Parameter(torch.empty(gates, self.hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(gates))
        self.bias_hh = nn.Parameter(torch.empty(gates))
        if mask is None:
            self.register_buffer("mask", None)
        else:
            block = as_mask(mask, (self.hidden_size, self.input_size), what="recurrent input mask")
            self.register_buffer("mask", block.repeat(GATES[cell], 1))  # per gate block, not interleaved
        self.register_buffer("hh_mask", None)  # the recurrence is dense until something prunes it
        self.reset_parameters(generator)

    @property
    def gates(self) -> int:
        return GATES[self.cell]

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for weight in (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh):
                uniform_(weight, bound, generator)
            if self.mask is not None:
                self.weight_ih.mul_(self.mask)
            if self.hh_mask is not None:
                self.weight_hh.mul_(self.hh_mask)

    def effective_weight_ih(self) -> torch.Tensor:
        return self.weight_ih if self.mask is None else self.weight_ih * self.mask

    def effective_weight_hh(self) -> torch.Tensor:
        return self.weight_hh if self.hh_mask is None else self.weight_hh * self.hh_mask

    def mask_weights(self, input: bool = True, recurrent: bool = False) -> None:
        """Give dense weights a mask of ones, so they can be pruned like masked ones: with
        ``input`` the input weights (when they have no mask yet), with ``recurrent`` the
        hidden-to-hidden weights (buffer ``hh_mask``, shaped like ``weight_hh``). The layer's
        function does not change."""
        if input and self.mask is None:
            self.mask = torch.ones_like(self.weight_ih, dtype=torch.float32)
        if recurrent and self.hh_mask is None:
            self.hh_mask = torch.ones_like(self.weight_hh, dtype=torch.float32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output sequence ``(B, T, hidden_size)`` for ``x`` of shape ``(B, T, input_size)``, zero initial state."""
        weights = [self.effective_weight_ih(), self.effective_weight_hh(), self.bias_ih, self.bias_hh]
        h0 = x.new_zeros(1, x.shape[0], self.hidden_size)
        # Positional arguments: has_biases, num_layers, dropout, train, bidirectional, batch_first.
        if self.cell == "lstm":
            out = torch.lstm(x, (h0, h0), weights, True, 1, 0.0, self.training, False, True)
        elif self.cell == "gru":
            out = torch.gru(x, h0, weights, True, 1, 0.0, self.training, False, True)
        elif self.cell == "tanh":
            out = torch.rnn_tanh(x, h0, weights, True, 1, 0.0, self.training, False, True)
        else:
            out = torch.rnn_relu(x, h0, weights, True, 1, 0.0, self.training, False, True)
        return out[0]

    def extra_repr(self) -> str:
        masked = "dense" if self.mask is None else f"connections={int(self.mask[: self.hidden_size].sum())}"
        recurrence = "" if self.hh_mask is None else f", recurrence connections={int(self.hh_mask.sum())}"
        return f"{self.cell}, {self.input_size} -> {self.hidden_size}, input {masked}{recurrence}"


class SparseRecurrent(MaskedModel, nn.Module):
    """A stack of sparse recurrent layers wired by a layered DAG.

    Parameters
    ----------
    dag : LayeredDAG
    cell : {"tanh", "relu", "gru", "lstm"}
    num_classes : int
        Outputs per sequence (or per step with ``sequence_output``).
    vocab_size : int, optional
        For symbol input: ``x`` is int64 ``(B, T)`` with indices in ``[0, vocab_size)``, 0 being
        padding (embedded with ``padding_idx=0``).
    input_size : int, optional
        For real-valued input: ``x`` is float ``(B, T, input_size)``. Give exactly one of
        ``vocab_size`` and ``input_size``.
    embedding_dim : int
        Size of the symbol embedding (ignored for real-valued input).
    sequence_output : bool
        Return logits at every step ``(B, T, num_classes)`` instead of at the last valid step.
    generator : torch.Generator, optional
        Source of the initial weights.
    width : int
        Units per vertex.
    readout : {"sinks", "last"}
        Which units the classifier reads.

    Attributes
    ----------
    embedding : nn.Embedding or None
    layers : nn.ModuleList of MaskedRecurrentLayer
        ``layers[0]`` has dense input weights; ``layers[l]`` reads layer ``l-1`` through the DAG mask.
    skips : nn.ModuleDict of MaskedRecurrentLayer
        Keyed ``"{s}_{t}"`` for every pair in :attr:`skip_pairs`.
    output_layer : nn.Linear or MaskedLinear
        Reads the concatenated states of :attr:`readout_layers` (masked to sinks for ``sinks``).
    layer_sizes, skip_pairs, readout_layers : tuple
    """

    def __init__(
        self,
        dag: LayeredDAG,
        cell: str,
        num_classes: int,
        vocab_size: int | None = None,
        input_size: int | None = None,
        embedding_dim: int = 16,
        sequence_output: bool = False,
        generator=None,
        width: int = 1,
        readout: str = "sinks",
    ):
        super().__init__()
        if cell not in GATES:
            raise BuilderError(f"unknown recurrent cell {cell!r}; expected one of {list(CELLS)}")
        if (vocab_size is None) == (input_size is None):
            raise BuilderError(
                "SparseRecurrent needs exactly one of vocab_size (symbol input) and input_size (real-valued "
                f"input), got vocab_size={vocab_size!r}, input_size={input_size!r}"
            )
        self.dag = dag
        self.cell = cell
        self.num_classes = int(num_classes)
        self.sequence_output = bool(sequence_output)
        self.width = check_width(width)
        self.readout = check_readout(readout)
        self.layer_sizes = tuple(w * self.width for w in dag.layer_sizes)
        self.skip_pairs = tuple(dag.skip_pairs)
        widths = self.layer_sizes
        if vocab_size is not None:
            self.vocab_size, self.input_size = int(vocab_size), None
            self.embedding = nn.Embedding(self.vocab_size, int(embedding_dim), padding_idx=0)
            first_input = int(embedding_dim)
        else:
            self.vocab_size, self.input_size = None, int(input_size)
            self.embedding = None
            first_input = self.input_size
        layers = [MaskedRecurrentLayer(cell, first_input, widths[0])]
        layers += [
            MaskedRecurrentLayer(cell, widths[l - 1], widths[l], block_mask(dag.mask(l - 1, l), self.width))
            for l in range(1, len(widths))
        ]
        self.layers = nn.ModuleList(layers)
        self.skips = nn.ModuleDict({
            f"{s}_{t}": MaskedRecurrentLayer(cell, widths[s], widths[t], block_mask(dag.mask(s, t), self.width))
            for s, t in self.skip_pairs
        })
        self.readout_layers, self.output_layer = readout_layer(dag, self.readout, self.width, widths, self.num_classes)
        self._skips_into = tuple(tuple(s for s, t in self.skip_pairs if t == layer) for layer in range(len(widths)))
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-draw every weight (embedding N(0, 1) with a zero padding row, as torch does)."""
        if self.embedding is not None:
            with torch.no_grad():
                self.embedding.weight.normal_(generator=generator)
                self.embedding.weight[0].zero_()
        for layer in (*self.layers, *self.skips.values()):
            layer.reset_parameters(generator)
        reset_readout(self.output_layer, generator)

    # --- forward ----------------------------------------------------------------------------

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        if self.embedding is not None:
            if x.dtype.is_floating_point or x.dtype.is_complex or x.dim() != 2:
                raise ShapeMismatchError(
                    f"SparseRecurrent built for symbols expects integer indices of shape (B, T), got {x.dtype} "
                    f"of shape {tuple(x.shape)}"
                )
            return self.embedding(x)
        if not x.dtype.is_floating_point or x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ShapeMismatchError(
                f"SparseRecurrent built for real-valued input expects float (B, T, {self.input_size}), got {x.dtype} "
                f"of shape {tuple(x.shape)}"
            )
        return x

    def hidden_states(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Output sequences ``(B, T, width[l])`` of every DAG layer (skip outputs already added)."""
        return self.propagate(self.layers[0](self._embed(x)))

    def propagate(self, h0: torch.Tensor) -> list[torch.Tensor]:
        """Output sequences of all DAG layers, given layer 0's output sequence ``h0`` ``(B, T, width[0])``."""
        states = [h0]
        for layer in range(1, len(self.layer_sizes)):
            h = self.layers[layer](states[layer - 1])
            for s in self._skips_into[layer]:
                h = h + self.skips[f"{s}_{layer}"](states[s])
            states.append(h)
        return states

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits at the last valid step ``(B, num_classes)``, or at every step with ``sequence_output``.

        Parameters
        ----------
        x : Tensor
            int64 ``(B, T)`` symbol indices (0 = padding, at the end) or float ``(B, T, F)``.
        lengths : Tensor of shape (B,), optional
            True lengths; the logits are read at step ``lengths - 1`` (``T - 1`` when omitted).
            Padding comes after the valid steps, so it never influences them.

        Raises
        ------
        ShapeMismatchError
            Input of the wrong kind or shape, or lengths outside ``1..T``.
        """
        states = self.hidden_states(x)
        picked = [states[layer] for layer in self.readout_layers]
        last = picked[0] if len(picked) == 1 else torch.cat(picked, dim=-1)
        if self.sequence_output:
            return self.output_layer(last)
        batch, steps = last.shape[0], last.shape[1]
        if lengths is None:
            return self.output_layer(last[:, -1])
        lengths = torch.as_tensor(lengths, device=last.device)
        if lengths.shape != (batch,):
            raise ShapeMismatchError(f"lengths must have shape ({batch},), got {tuple(lengths.shape)}")
        # One host sync per batch; an out-of-range length would otherwise silently wrap around.
        low, high = int(lengths.min()), int(lengths.max())
        if low < 1 or high > steps:
            raise ShapeMismatchError(f"lengths must lie in 1..{steps} (the padded length), got min {low}, max {high}")
        index = (lengths.long() - 1).view(batch, 1, 1).expand(batch, 1, last.shape[2])
        return self.output_layer(last.gather(1, index).squeeze(1))

    # --- masks ------------------------------------------------------------------------------

    def masked_parameters(self):
        """Every masked weight: the DAG-masked input weights, and any weight a mask was given to
        for pruning (:meth:`MaskedRecurrentLayer.mask_weights`: layer 0's input weights, the
        hidden-to-hidden weights ``weight_hh``)."""
        named = [(f"layers.{index}", layer) for index, layer in enumerate(self.layers)]
        named += [(f"skips.{key}", layer) for key, layer in self.skips.items()]
        for name, layer in named:
            if layer.mask is not None:
                yield f"{name}.weight_ih", layer.weight_ih, layer.mask
        for name, layer in named:
            if layer.hh_mask is not None:
                yield f"{name}.weight_hh", layer.weight_hh, layer.hh_mask

    def layer_masks(self) -> list[np.ndarray]:
        """The DAG masks ``(width[l], width[l-1])`` of the main path (one gate block each)."""
        return [layer.mask[: layer.hidden_size].detach().cpu().numpy().copy() for layer in self.layers[1:]]

    def extra_repr(self) -> str:
        return (
            f"cell={self.cell}, layer_sizes={list(self.layer_sizes)}, width={self.width}, readout={self.readout}, "
            f"skip_pairs={list(self.skip_pairs)}"
        )
