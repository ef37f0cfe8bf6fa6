"""Masked layers and the mask interface shared by every builder.

A sparse layer is a dense weight multiplied by a fixed 0/1 mask held as a *buffer* (it moves
with ``.to(device)`` and is saved in the ``state_dict``, but no optimiser ever sees it). The masked
entries of the weight are set to exactly zero at initialisation; because the forward pass uses
``weight * mask``, their gradient is exactly zero too, so SGD (with or without momentum and
weight decay), Adam and AdamW all leave them at exactly zero: the weight tensor itself is sparse
at every step, which is what pruning and weight counting read.

Every model built here exposes its masks the same way:

* ``masked_parameters()`` yields ``(name, weight, mask)`` with ``mask.shape == weight.shape`` for
  every weight masked by DAG edges (a ``sinks`` readout's output mask picks units, not edges, and
  is not listed; its masked weights are exactly zero like any other);
* ``nonzero_weights()`` counts the nonzero *effective* weights of all parameters;
* ``layer_masks()`` lists the main-path ``(n_out, n_in)`` 0/1 masks in order (for NNSTD).
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import torch
from torch import nn

from search_spaces.exceptions import SearchSpaceError
from search_spaces.genome import MAX_WIDTH, READOUTS

__all__ = [
    "BuilderError",
    "MaskedLinear",
    "MaskedModel",
    "masked_parameters",
    "nonzero_weights",
    "as_mask",
    "uniform_",
    "block_mask",
    "check_width",
    "check_readout",
    "readout_units",
    "readout_layer",
    "reset_readout",
]


class BuilderError(SearchSpaceError):
    """Arguments that cannot build (or feed) a torch model for the requested family."""


def as_mask(mask, shape: tuple[int, ...] | None = None, what: str = "mask") -> torch.Tensor:
    """A float32 0/1 tensor from an array-like, checked for values and (optionally) shape.

    Raises
    ------
    BuilderError
        Values other than 0 and 1, or a shape other than ``shape``.
    """
    if isinstance(mask, torch.Tensor):
        tensor = mask.detach().to(dtype=torch.float32).clone()
    else:
        tensor = torch.as_tensor(np.asarray(mask), dtype=torch.float32).clone()
    if shape is not None and tuple(tensor.shape) != tuple(shape):
        raise BuilderError(f"{what} must have shape {tuple(shape)}, got {tuple(tensor.shape)}")
    if not bool(((tensor == 0) | (tensor == 1)).all()):
        raise BuilderError(f"{what} must contain only 0 and 1, got values {sorted(set(tensor.flatten().tolist()))[:5]}")
    return tensor


def check_width(width) -> int:
    """``width`` as an int in ``[1, MAX_WIDTH]``.

    Raises
    ------
    BuilderError
        Anything else; the message names the allowed range and the value.
    """
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or not 1 <= width <= MAX_WIDTH:
        raise BuilderError(f"width (units per vertex) must be an integer in [1, {MAX_WIDTH}], got {width!r}")
    return int(width)


def check_readout(readout) -> str:
    """``readout`` if it is one of ``READOUTS``.

    Raises
    ------
    BuilderError
        Anything else; the message names the allowed values and the value.
    """
    if not isinstance(readout, str) or readout not in READOUTS:
        raise BuilderError(f"readout must be one of {list(READOUTS)}, got {readout!r}")
    return readout


def block_mask(mask: np.ndarray, width: int) -> np.ndarray:
    """A vertex mask ``(n_out, n_in)`` expanded to units: every 1 becomes a dense ``width x width`` block."""
    mask = np.asarray(mask, dtype=np.float32)
    return mask if width == 1 else np.kron(mask, np.ones((width, width), dtype=np.float32))


def readout_units(dag, readout: str, width: int) -> list[tuple[int, np.ndarray]]:
    """The units that feed the output: ``[(layer, 0/1 vector over the layer's units), ...]``.

    ``"last"``: every unit of the last layer. ``"sinks"``: the units of every vertex without a
    successor, grouped by layer (layers without a sink are left out); the last layer is all sinks.
    """
    last = dag.num_layers - 1
    if readout == "last":
        return [(last, np.ones(dag.layer_sizes[last] * width, dtype=np.float32))]
    out = []
    for layer, nodes in enumerate(dag.layers):
        picked = np.asarray([dag.out_degree[v] == 0 for v in nodes], dtype=np.float32)
        if picked.any():
            out.append((layer, np.repeat(picked, width)))
    return out


def uniform_(tensor: torch.Tensor, bound, generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill ``tensor`` in place from U(-bound, bound); ``bound`` may broadcast (per-row bounds)."""
    with torch.no_grad():
        tensor.uniform_(-1.0, 1.0, generator=generator)
        tensor.mul_(bound)
    return tensor


class MaskedLinear(nn.Module):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask.

    Parameters
    ----------
    in_features, out_features : int
        Shape of the layer, as for :class:`torch.nn.Linear`.
    mask : array-like of shape (out_features, in_features)
        1 where a connection exists. Stored as the buffer ``mask``.
    bias : bool
        Whether to learn an additive bias (biases are never masked).
    generator : torch.Generator, optional
        Source of the initial weights; the global torch generator when omitted.

    Notes
    -----
    Initialisation follows :class:`torch.nn.Linear` (U(-b, b), ``b = 1/sqrt(fan_in)``, the
    Kaiming-uniform rule with ``a = sqrt(5)``) but with the *real* fan-in of each output unit,
    the number of ones in its mask row: a unit with 3 inputs is initialised like a dense unit
    with 3 inputs, not like one with ``in_features`` inputs, so sparse units are not
    under-scaled. Masked weights are zero. A row without any connection (possible in skip
    layers) gets a zero initial bias, so at initialisation it adds nothing.

    Examples
    --------
    >>> layer = MaskedLinear(3, 2, [[1, 0, 1], [0, 1, 0]])
    >>> bool((layer.weight[layer.mask == 0] == 0).all())
    True
    """

    def __init__(self, in_features: int, out_features: int, mask, bias: bool = True, generator=None):
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.register_buffer("mask", as_mask(mask, (self.out_features, self.in_features)))
        self.weight = nn.Parameter(torch.empty(self.out_features, self.in_features))
        self.bias = nn.Parameter(torch.empty(self.out_features)) if bias else None
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None, fan_in: torch.Tensor | None = None) -> None:
        """Re-draw the weights (see the class notes); masked weights become exactly zero.

        ``fan_in`` (one value per output unit) replaces the mask's row sums in the bound, for a
        unit that also sums other layers' inputs (its *total* fan-in); rows without a connection
        here still start with bias 0.
        """
        own = self.mask.sum(dim=1)
        bound = 1.0 / (own if fan_in is None else fan_in).clamp(min=1.0).sqrt()
        fan_in = own
        with torch.no_grad():
            uniform_(self.weight, bound[:, None], generator).mul_(self.mask)
            if self.bias is not None:
                uniform_(self.bias, bound, generator).mul_((fan_in > 0).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"connections={int(self.mask.sum())}, bias={self.bias is not None}"
        )


def reset_dense_linear(layer: nn.Linear, generator: torch.Generator | None = None) -> None:
    """:class:`torch.nn.Linear`'s own initialisation, drawn from ``generator``."""
    bound = 1.0 / math.sqrt(layer.in_features) if layer.in_features > 0 else 0.0
    uniform_(layer.weight, bound, generator)
    if layer.bias is not None:
        uniform_(layer.bias, bound, generator)


def readout_layer(dag, readout: str, width: int, widths, classes: int) -> tuple[tuple[int, ...], nn.Module]:
    """The layers an MLP's or RNN's output reads and its output layer (see :func:`readout_units`).

    ``"last"``: a dense ``nn.Linear`` over the last layer (the paper's construction, unchanged).
    ``"sinks"``: a :class:`MaskedLinear` over the read layers' concatenated units, masked to the sinks.
    """
    picks = readout_units(dag, readout, width)
    layers = tuple(layer for layer, _ in picks)
    if readout == "last":
        return layers, nn.Linear(widths[-1], classes)
    columns = np.concatenate([units for _, units in picks])
    return layers, MaskedLinear(len(columns), classes, np.tile(columns, (classes, 1)))


def reset_readout(layer: nn.Module, generator: torch.Generator | None = None) -> None:
    """Re-draw an output layer made by :func:`readout_layer`."""
    if isinstance(layer, MaskedLinear):
        layer.reset_parameters(generator)
    else:
        reset_dense_linear(layer, generator)


class MaskedModel:
    """Mixin: the mask interface of every builder's model.

    Subclasses implement :meth:`masked_parameters` and :meth:`layer_masks`; this class adds
    :meth:`nonzero_weights` and :meth:`num_connections` on top.
    """

    def masked_parameters(self) -> Iterator[tuple[str, nn.Parameter, torch.Tensor]]:  # pragma: no cover
        """Yield ``(name, weight, mask)`` for every masked weight (mask shaped like weight)."""
        raise NotImplementedError

    def layer_masks(self) -> list[np.ndarray]:  # pragma: no cover
        """Main-path ``(n_out, n_in)`` 0/1 masks, input side first."""
        raise NotImplementedError

    def nonzero_weights(self) -> int:
        """Nonzero effective weights of all parameters (masked weights counted after masking)."""
        return nonzero_weights(self)

    def num_connections(self) -> int:
        """Ones in all masks (a gated cell counts each connection once per gate)."""
        return int(sum(int(mask.sum()) for _, _, mask in self.masked_parameters()))


def masked_parameters(model: nn.Module) -> Iterator[tuple[str, nn.Parameter, torch.Tensor]]:
    """Yield ``(name, weight, mask)`` for every masked weight of ``model``.

    Uses ``model.masked_parameters()`` when the model has it; otherwise walks the submodules and
    yields each :class:`MaskedLinear` (and each built model nested inside a container).

    Raises
    ------
    BuilderError
        ``model`` is not a torch module.
    """
    if not isinstance(model, nn.Module):
        raise BuilderError(f"expected a torch.nn.Module, got {type(model).__name__}")
    if isinstance(model, MaskedModel):
        yield from model.masked_parameters()
        return
    for name, module in model.named_children():
        for sub, weight, mask in masked_parameters(module):
            yield f"{name}.{sub}", weight, mask
    if isinstance(model, MaskedLinear):
        yield "weight", model.weight, model.mask


def nonzero_weights(model: nn.Module) -> int:
    """Count nonzero effective weights of all parameters of ``model`` (see :class:`MaskedModel`)."""
    masks = {id(weight): mask for _, weight, mask in masked_parameters(model)}
    total = 0
    with torch.no_grad():
        for param in model.parameters():
            mask = masks.get(id(param))
            effective = param if mask is None else param * mask
            total += int(torch.count_nonzero(effective))
    return total
