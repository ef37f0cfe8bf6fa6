"""Sparse feed-forward networks wired by a :class:`~search_spaces.dag.LayeredDAG`.

The construction of Stier et al. (2021): a dense layer from the input into DAG layer 0, a masked
layer ``l-1 -> l`` for every later layer, a masked *skip* layer for every pair of layers
``(s, t)``, ``t >= s + 2``, joined by at least one edge, and a dense layer from the last DAG layer
to the outputs::

    h_0 = ReLU(input_layer(x))
    h_l = ReLU(main_l(h_{l-1})) + sum_s ReLU(skip_{s->l}(h_s))        l = 1 .. L-1
    y   = output_layer(h_{L-1})                         readout "last" (the paper's)
    y   = output_layer([h_l[sinks of l] for every layer l holding a sink])   readout "sinks"

**Initialisation.** Masked weights are drawn from U(-b, b) with ``b = 1/sqrt(fan_in)``. With readout
``last`` (the paper's construction, kept exactly) ``fan_in`` is a unit's connections within one
masked layer; with ``sinks`` it is the unit's *total* fan-in over the main and every skip layer
feeding it, since ``h_l`` sums them all: with per-layer bounds the states of deep, skip-rich
DAGs grow layer after layer (measured: a 63-layer Erdős–Rényi MLP's state std grows from 0.2 to
6,500 at initialisation; with the total fan-in it stays between 0.03 and 0.3).

With ``width`` 1 every DAG edge is exactly one nonzero mask entry: edges between consecutive
layers sit in a ``main`` mask, longer edges in the ``skips`` mask of their layer pair. With
``width`` w every vertex is a block of w units and every edge a dense w x w block (block-sparse
masks). With readout ``last`` dead ends (sinks outside the last layer) are computed, as in the
paper, but nothing reads them; with ``sinks`` the output reads them too.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from search_spaces.builders.masked import (
    MaskedLinear,
    MaskedModel,
    block_mask,
    check_readout,
    check_width,
    readout_layer,
    reset_dense_linear,
    reset_readout,
)
from search_spaces.dag import LayeredDAG
from search_spaces.exceptions import ShapeMismatchError

__all__ = ["SparseFeedForward"]


class SparseFeedForward(MaskedModel, nn.Module):
    """A sparse multi-layer perceptron with skip layers, wired by a layered DAG.

    Parameters
    ----------
    dag : LayeredDAG
        The wiring; DAG layer ``l`` has ``width * dag.layer_sizes[l]`` ReLU units.
    in_features : int
        Input size after flattening every dimension but the first (MNIST: 784).
    num_classes : int
        Number of outputs (logits).
    layer_norm : bool
        Apply :class:`torch.nn.LayerNorm` to each layer's state ``h_l`` (after the sum, before it
        is read). Layers of one unit are left unnormalised: the layer norm of a single unit is a
        constant and would cut the network. Layer norm mixes all units of a layer, so with it a
        unit depends on more than its DAG predecessors.
    generator : torch.Generator, optional
        Source of the initial weights; the global torch generator when omitted.
    width : int
        Units per vertex (1: one unit per vertex, the paper's network).
    readout : {"sinks", "last"}
        Which units the output layer reads (see the module notes).

    Attributes
    ----------
    input_layer : nn.Linear
        Dense, ``in_features -> size[0]`` (the units of layer 0: its vertices times the width).
    main : nn.ModuleList of MaskedLinear
        ``main[l-1]`` maps layer ``l-1`` to layer ``l`` (``l = 1 .. L-1``).
    skips : nn.ModuleDict of MaskedLinear
        Keyed ``"{s}_{t}"`` for every pair in :attr:`skip_pairs`.
    norms : nn.ModuleList or None
        ``norms[l]`` is applied to ``h_l`` (``L`` entries) when ``layer_norm``.
    output_layer : nn.Linear or MaskedLinear
        ``last``: dense ``size[L-1] -> num_classes``. ``sinks``: reads the concatenated states of
        :attr:`readout_layers`, masked to their sink units.
    layer_sizes : tuple of int
        Units per DAG layer.
    readout_layers : tuple of int
        The layers the output reads, in order.
    skip_pairs : tuple of (int, int)

    Examples
    --------
    >>> dag = LayeredDAG.from_edges(4, [(0, 1), (1, 2), (0, 2), (2, 3)])
    >>> model = SparseFeedForward(dag, in_features=5, num_classes=3)
    >>> model(torch.zeros(2, 5)).shape
    torch.Size([2, 3])
    >>> sorted(model.skips)
    ['0_2']
    """

    def __init__(
        self,
        dag: LayeredDAG,
        in_features: int,
        num_classes: int,
        layer_norm: bool = False,
        generator=None,
        width: int = 1,
        readout: str = "sinks",
    ):
        super().__init__()
        self.dag = dag
        self.in_features = int(in_features)
        self.num_classes = int(num_classes)
        self.width = check_width(width)
        self.readout = check_readout(readout)
        self.layer_sizes = tuple(w * self.width for w in dag.layer_sizes)
        self.skip_pairs = tuple(dag.skip_pairs)
        widths = self.layer_sizes
        self.input_layer = nn.Linear(self.in_features, widths[0])
        self.main = nn.ModuleList(
            MaskedLinear(widths[l - 1], widths[l], block_mask(dag.mask(l - 1, l), self.width))
            for l in range(1, len(widths))
        )
        self.skips = nn.ModuleDict(
            {f"{s}_{t}": MaskedLinear(widths[s], widths[t], block_mask(dag.mask(s, t), self.width)) for s, t in self.skip_pairs}
        )
        self.norms = (
            nn.ModuleList(nn.LayerNorm(w) if w >= 2 else nn.Identity() for w in widths) if layer_norm else None
        )
        self.readout_layers, self.output_layer = readout_layer(dag, self.readout, self.width, widths, self.num_classes)
        # Sources of the skip layers into each layer, so forward does no dictionary scans.
        self._skips_into = tuple(tuple(s for s, t in self.skip_pairs if t == layer) for layer in range(len(widths)))
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-draw every weight (dense layers as torch does, masked ones by real fan-in)."""
        reset_dense_linear(self.input_layer, generator)
        totals = self._total_fan_in() if self.readout == "sinks" else {}
        for layer in self.main:
            layer.reset_parameters(generator, totals.get(id(layer)))
        for layer in self.skips.values():
            layer.reset_parameters(generator, totals.get(id(layer)))
        reset_readout(self.output_layer, generator)
        if self.norms is not None:
            for norm in self.norms:
                if isinstance(norm, nn.LayerNorm):
                    norm.reset_parameters()

    def _total_fan_in(self) -> dict[int, torch.Tensor]:
        """Per masked layer, the total fan-in of each of its units over every layer feeding that
        unit's layer (main and skips): the initialisation bound of the ``sinks`` construction."""
        into: dict[int, list] = {}
        for l, layer in enumerate(self.main, start=1):
            into.setdefault(l, []).append(layer)
        for s, t in self.skip_pairs:
            into.setdefault(t, []).append(self.skips[f"{s}_{t}"])
        out = {}
        for layers in into.values():
            total = sum(layer.mask.sum(dim=1) for layer in layers)
            out.update({id(layer): total for layer in layers})
        return out

    # --- forward ----------------------------------------------------------------------------

    def _norm(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        return h if self.norms is None else self.norms[layer](h)

    def propagate(self, h0: torch.Tensor) -> list[torch.Tensor]:
        """States ``[h_0, ..., h_{L-1}]`` of all DAG layers, given the layer-0 state ``h_0``."""
        states = [h0]
        for layer in range(1, len(self.layer_sizes)):
            h = torch.relu(self.main[layer - 1](states[layer - 1]))
            for s in self._skips_into[layer]:
                h = h + torch.relu(self.skips[f"{s}_{layer}"](states[s]))
            states.append(self._norm(layer, h))
        return states

    def hidden_states(self, x: torch.Tensor) -> list[torch.Tensor]:
        """States of all DAG layers for input ``x`` (the unit of node ``layers[l][i]`` is column ``i``)."""
        x = x.flatten(1)
        if x.shape[1] != self.in_features:
            raise ShapeMismatchError(
                f"SparseFeedForward expects {self.in_features} input features after flattening, got {x.shape[1]} "
                f"(input shape {tuple(x.shape)})"
            )
        return self.propagate(self._norm(0, torch.relu(self.input_layer(x))))

    def read_out(self, states: list[torch.Tensor]) -> torch.Tensor:
        """Logits from the states of all DAG layers (the readout's layers, concatenated)."""
        picked = [states[layer] for layer in self.readout_layers]
        return self.output_layer(picked[0] if len(picked) == 1 else torch.cat(picked, dim=-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` for input ``(N, ...)`` flattened from dimension 1."""
        return self.read_out(self.hidden_states(x))

    # --- masks ------------------------------------------------------------------------------

    def masked_parameters(self):
        for index, layer in enumerate(self.main):
            yield f"main.{index}.weight", layer.weight, layer.mask
        for key, layer in self.skips.items():
            yield f"skips.{key}.weight", layer.weight, layer.mask

    def layer_masks(self) -> list[np.ndarray]:
        return [layer.mask.detach().cpu().numpy().copy() for layer in self.main]

    def extra_repr(self) -> str:
        return (
            f"layer_sizes={list(self.layer_sizes)}, width={self.width}, readout={self.readout}, "
            f"skip_pairs={list(self.skip_pairs)}"
        )
