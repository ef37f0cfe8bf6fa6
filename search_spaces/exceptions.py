"""Typed errors of sparse-nas.

Every error the project raises on purpose derives from :class:`SparseNASError`, so the command
line can turn it into one clear line and a non-zero exit. The base lives here, in the lowest
package, because ``nas`` and ``predictors`` both depend on ``search_spaces``.

Messages say what was expected and what was received.
"""

from __future__ import annotations

__all__ = [
    "SparseNASError",
    "SearchSpaceError",
    "UnknownPriorError",
    "InvalidValueError",
    "InvalidGenomeError",
    "GraphGenerationError",
    "EmptyGraphError",
    "ShapeMismatchError",
]


class SparseNASError(Exception):
    """Base of every deliberate error in sparse-nas."""


class SearchSpaceError(SparseNASError, ValueError):
    """An architecture, prior or graph that the search space cannot accept."""


class UnknownPriorError(SearchSpaceError, KeyError):
    """A prior name that is not registered."""

    def __init__(self, name: str, known: list[str]):
        self.name = name
        self.known = sorted(known)
        super().__init__(f"unknown prior {name!r}; expected one of: {', '.join(self.known)}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class InvalidValueError(SparseNASError, ValueError):
    """A field of a config (or genome) whose value breaks its declared rule.

    Every such error reads ``OWNER.FIELD = VALUE; expected WHAT`` (e.g.
    ``TrainConfig.epochs = 0; expected an integer >= 1``); :mod:`search_spaces.validation` raises
    it from the constraint tables.

    Parameters
    ----------
    field : str
        The offending field, e.g. ``"epochs"`` or ``"params.p"``.
    value : object
        The value received.
    expected : str
        What would have been accepted, e.g. ``"an integer >= 1"``.
    owner : str, optional
        What the field belongs to (a config class, a generator); default :attr:`default_owner`.
    """

    default_owner = "value"

    def __init__(self, field: str, value: object, expected: str, owner: str | None = None):
        self.field = field
        self.value = value
        self.expected = expected
        self.owner = owner or self.default_owner
        super().__init__(f"{self.owner}.{field} = {value!r}; expected {expected}")

    def __reduce__(self):  # picklable (e.g. from a worker process) although __init__ takes four arguments
        return type(self), (self.field, self.value, self.expected, self.owner)


class InvalidGenomeError(SearchSpaceError, InvalidValueError):
    """A genome field whose value is outside what is allowed: ``Genome.FIELD = VALUE; expected WHAT``.

    Parameters
    ----------
    field : str
        The offending field, e.g. ``"params.p"`` or ``"nodes"``.
    value : object
        The value received.
    expected : str
        What would have been accepted, e.g. ``"a float in [0.0, 1.0]"``.
    """

    default_owner = "Genome"


class GraphGenerationError(SearchSpaceError):
    """A prior could not generate a graph with the requested parameters."""


class EmptyGraphError(SearchSpaceError):
    """A graph with no nodes or no edges, which defines no sparse network."""


class ShapeMismatchError(SearchSpaceError):
    """Two networks (or masks) whose shapes must agree but do not."""
