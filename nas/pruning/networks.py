"""Networks to prune that are not built from a genome: a dense MLP given by its widths.

``parse_arch("784-100-10")`` -> ``(784, 100, 10)``; :class:`DenseMLP` is that ReLU MLP with every
layer a :class:`~search_spaces.builders.masked.MaskedLinear` whose mask starts all ones, so it has
the common mask interface (``masked_parameters``) every built network has, and can be pruned the
same way.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nas.exceptions import PruningError
from search_spaces.builders.masked import MaskedLinear, MaskedModel

__all__ = ["parse_arch", "DenseMLP"]


def parse_arch(text: str) -> tuple[int, ...]:
    """Layer widths of ``"IN-HIDDEN-...-OUT"`` (at least an input and an output width).

    Raises
    ------
    PruningError
        Not dash-separated positive integers, or fewer than two of them.

    >>> parse_arch("784-100-10")
    (784, 100, 10)
    """
    try:
        widths = tuple(int(part) for part in str(text).split("-"))
    except ValueError:
        widths = ()
    if len(widths) < 2 or any(w < 1 for w in widths):
        raise PruningError(f"--arch must be layer widths like 784-100-10 (input, hidden..., classes), got {text!r}")
    return widths


class DenseMLP(MaskedModel, nn.Module):
    """A dense ReLU MLP whose layers are masked (all ones at the start), input flattened.

    Parameters
    ----------
    widths : sequence of int
        Input, hidden and output widths, e.g. ``(784, 100, 10)``.
    generator : torch.Generator, optional
        Source of the initial weights (``torch.nn.Linear``'s initialisation).
    """

    def __init__(self, widths, generator: torch.Generator | None = None):
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        self.layers = nn.ModuleList(
            MaskedLinear(a, b, np.ones((b, a), dtype=np.float32), generator=generator)
            for a, b in zip(self.widths[:-1], self.widths[1:])
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1:
                h = torch.relu(h)
        return h

    def masked_parameters(self):
        for i, layer in enumerate(self.layers):
            yield f"layers.{i}.weight", layer.weight, layer.mask

    def layer_masks(self) -> list[np.ndarray]:
        return [layer.mask.detach().cpu().numpy().copy() for layer in self.layers]

    def extra_repr(self) -> str:
        return f"widths={list(self.widths)}"
