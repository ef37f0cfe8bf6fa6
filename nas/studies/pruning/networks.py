"""Networks to prune that are not built from a genome: a dense MLP given by its widths.

``parse_arch("784-100-10")`` -> ``(784, 100, 10)``; :class:`DenseMLP` is that ReLU MLP with every
layer a :class:`~search_spaces.builders.masked.MaskedLinear` whose mask starts all ones. It has
the layout of a built sparse MLP (``input_layer``, ``main``, ``skips``, ``output_layer``,
``layer_sizes``, ...) — a dense MLP is a sparse one whose DAG layers are fully connected and
have no skips — so it has the common mask interface (``masked_parameters``) and several of them
train together as one cohort stack.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nas.exceptions import PruningError
from search_spaces.builders.masked import MaskedLinear, MaskedModel

__all__ = ["parse_arch", "DenseMLP"]

#: Most units a ``--arch`` layer may have (a typo like 7840000 is one line, not an allocation).
MAX_UNITS = 100_000


def parse_arch(text: str) -> tuple[int, ...]:
    """Layer sizes of ``"IN-HIDDEN-...-OUT"`` (an input, at least one hidden layer and an output).

    Raises
    ------
    PruningError
        Not dash-separated positive integers, fewer than three of them, or a layer above
        :data:`MAX_UNITS` units.

    >>> parse_arch("784-100-10")
    (784, 100, 10)
    """
    try:
        widths = tuple(int(part) for part in str(text).split("-"))
    except ValueError:
        widths = ()
    if len(widths) < 3 or any(w < 1 for w in widths):
        raise PruningError(f"--arch must be layer sizes like 784-100-10 (input, hidden..., classes; at least one "
                           f"hidden layer), got {text!r}")
    if max(widths) > MAX_UNITS:
        raise PruningError(f"--arch layers may have at most {MAX_UNITS:,} units, got {text!r}")
    return widths


def _dense(a: int, b: int, generator) -> MaskedLinear:
    return MaskedLinear(a, b, np.ones((b, a), dtype=np.float32), generator=generator)


class DenseMLP(MaskedModel, nn.Module):
    """A dense ReLU MLP whose layers are masked (all ones at the start), input flattened.

    Parameters
    ----------
    widths : sequence of int
        Input, hidden and output widths, e.g. ``(784, 100, 10)`` (at least one hidden layer).
    generator : torch.Generator, optional
        Source of the initial weights (:class:`torch.nn.Linear`'s rule: U(-b, b), b = 1/sqrt(fan-in)).

    Attributes
    ----------
    input_layer, main, output_layer
        The first layer, the hidden-to-hidden layers and the classifier, as in
        :class:`~search_spaces.builders.feedforward.SparseFeedForward` (``skips`` is empty).
    layer_sizes : tuple of int
        The hidden widths.
    """

    def __init__(self, widths, generator: torch.Generator | None = None):
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        if len(self.widths) < 3:
            raise PruningError(f"a DenseMLP needs an input, at least one hidden and an output width, got {self.widths}")
        hidden = self.widths[1:-1]
        self.in_features, self.num_classes = self.widths[0], self.widths[-1]
        self.layer_sizes = hidden
        self.skip_pairs: tuple = ()
        self.readout_layers = (len(hidden) - 1,)
        self.norms = None
        self.input_layer = _dense(self.in_features, hidden[0], generator)
        self.main = nn.ModuleList(_dense(a, b, generator) for a, b in zip(hidden[:-1], hidden[1:]))
        self.skips = nn.ModuleDict()
        self.output_layer = _dense(hidden[-1], self.num_classes, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.input_layer(x.flatten(1)))
        for layer in self.main:
            h = torch.relu(layer(h))
        return self.output_layer(h)

    def masked_parameters(self):
        yield "input_layer.weight", self.input_layer.weight, self.input_layer.mask
        for i, layer in enumerate(self.main):
            yield f"main.{i}.weight", layer.weight, layer.mask
        yield "output_layer.weight", self.output_layer.weight, self.output_layer.mask

    def layer_masks(self) -> list[np.ndarray]:
        return [m.detach().cpu().numpy().copy() for _, _, m in self.masked_parameters()]

    def extra_repr(self) -> str:
        return f"widths={list(self.widths)}"
