"""Network-theory priors: named random-graph generators with declared parameter spaces.

A prior turns ``(nodes, params, seed)`` into an undirected :class:`networkx.Graph` on the nodes
``0 .. nodes-1``. Its parameter space (:class:`ParamSpec`) is what validation, the genetic search
and Optuna all read, so a prior is described once.

The built-in priors (Erdős–Rényi, Watts–Strogatz, Barabási–Albert, ...) are registered by
:mod:`search_spaces.builtin_priors`, which importing :mod:`search_spaces` loads.

Examples
--------
>>> g = get_prior("watts_strogatz").generate(20, {"k": 4, "p": 1.0}, seed=0)
>>> g.number_of_nodes(), g.number_of_edges()
(20, 40)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import networkx as nx
import numpy as np

from search_spaces.exceptions import (
    GraphGenerationError,
    InvalidGenomeError,
    SearchSpaceError,
    UnknownPriorError,
)

__all__ = [
    "ParamSpec",
    "Prior",
    "register_prior",
    "get_prior",
    "list_priors",
    "PRIORS",
    "PriorDefinitionError",
]


class PriorDefinitionError(SearchSpaceError):
    """A prior or parameter specification that is itself malformed (not a genome's fault)."""



@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a prior: its name, type and closed range ``[low, high]``."""

    name: str
    kind: str  # "int" or "float"
    low: float
    high: float
    log: bool = False
    doc: str = ""

    def __post_init__(self):
        if self.kind not in ("int", "float"):
            raise PriorDefinitionError(f"ParamSpec.kind must be 'int' or 'float', got {self.kind!r}")
        if not self.low <= self.high:
            raise PriorDefinitionError(f"ParamSpec {self.name!r}: expected low <= high, got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise PriorDefinitionError(f"ParamSpec {self.name!r}: a log-scaled range needs low > 0, got low={self.low}")

    def describe(self) -> str:
        return f"{'an integer' if self.kind == 'int' else 'a float'} in [{self.low}, {self.high}]"

    def validate(self, value, field_prefix: str = "params") -> int | float:
        """Return ``value`` converted to this parameter's type, or raise InvalidGenomeError."""
        where = f"{field_prefix}.{self.name}"
        if isinstance(value, (np.integer, np.floating)):  # numpy scalars from rng draws are fine
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidGenomeError(where, value, self.describe())
        if self.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise InvalidGenomeError(where, value, self.describe())
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise InvalidGenomeError(where, value, self.describe())
        if not self.low <= value <= self.high:
            raise InvalidGenomeError(where, value, self.describe())
        return value


Generator = Callable[[int, Mapping[str, float], int], nx.Graph]
Check = Callable[[int, Mapping[str, float]], None]
Limits = Callable[[int], Mapping[str, tuple[float, float]]]


@dataclass(frozen=True)
class Prior:
    """A named random-graph generator and its parameter space.

    Parameters
    ----------
    name : str
        Registry name.
    params : tuple of ParamSpec
        The declared parameter space.
    generator : callable
        ``generator(nodes, params, seed) -> nx.Graph`` on nodes ``0..nodes-1``; deterministic in
        ``seed``.
    check : callable, optional
        ``check(nodes, params)`` raising :class:`InvalidGenomeError` for combinations the ranges
        alone cannot express (e.g. ``m < nodes``).
    min_nodes : int
        The smallest graph the prior can make.
    doc : str
        One line for ``nas arch`` and the docs.
    defaults : mapping, optional
        Documented typical values (informational).
    limits : callable, optional
        ``limits(nodes) -> {name: (low, high)}``: the node-dependent part of the space (e.g.
        ``m <= nodes - 1``), intersected with the declared ranges by :meth:`ranges`. Sampling,
        the genetic operators and Optuna draw inside these ranges; :attr:`check` still has the
        last word (e.g. parity of ``d * nodes``).
    """

    name: str
    params: tuple[ParamSpec, ...]
    generator: Generator
    check: Check | None = None
    min_nodes: int = 2
    doc: str = ""
    limits: Limits | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise PriorDefinitionError(f"a prior needs a non-empty string name, got {self.name!r}")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names) or not all(isinstance(p, ParamSpec) for p in self.params):
            raise PriorDefinitionError(f"prior {self.name!r}: params must be ParamSpecs with distinct names, got {names}")
        if not callable(self.generator):
            raise PriorDefinitionError(f"prior {self.name!r}: generator must be callable, got {self.generator!r}")

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def spec(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise InvalidGenomeError("params", name, f"a parameter of {self.name!r}: {list(self.param_names)}")

    def ranges(self, nodes: int) -> dict[str, tuple[int | float, int | float]]:
        """Effective ``(low, high)`` of every parameter for a graph of ``nodes`` nodes.

        The declared range intersected with :attr:`limits`; an empty intersection is returned as
        ``low > high`` (no valid value: the prior cannot make a graph of this size).
        """
        extra = dict(self.limits(nodes)) if self.limits is not None else {}
        out = {}
        for p in self.params:
            low, high = p.low, p.high
            if p.name in extra:
                low, high = max(low, extra[p.name][0]), min(high, extra[p.name][1])
            if p.kind == "int":
                low, high = int(math.ceil(low)), int(math.floor(high))
            out[p.name] = (low, high)
        return out

    def validate(self, nodes: int, params: Mapping[str, float]) -> dict[str, int | float]:
        """Check and normalise ``params`` for a graph of ``nodes`` nodes.

        Raises
        ------
        InvalidGenomeError
            A missing, unknown or out-of-range parameter, or ``nodes`` too small for this prior.
        """
        if not isinstance(params, Mapping):
            raise InvalidGenomeError("params", params, f"a mapping with keys {list(self.param_names)}")
        unknown = sorted(set(params) - set(self.param_names))
        missing = [p for p in self.param_names if p not in params]
        if unknown or missing:
            raise InvalidGenomeError(
                "params", dict(params), f"exactly the keys {list(self.param_names)} for prior {self.name!r}"
            )
        if isinstance(nodes, bool) or not isinstance(nodes, (int, np.integer)):
            raise InvalidGenomeError("nodes", nodes, f"an integer, at least {self.min_nodes} for prior {self.name!r}")
        if nodes < self.min_nodes:
            raise InvalidGenomeError("nodes", nodes, f"at least {self.min_nodes} for prior {self.name!r}")
        clean = {p.name: p.validate(params[p.name]) for p in self.params}
        if self.check is not None:
            self.check(nodes, clean)
        return clean

    def generate(self, nodes: int, params: Mapping[str, float], seed: int) -> nx.Graph:
        """Validate and generate; the result has exactly the nodes ``0..nodes-1``."""
        clean = self.validate(nodes, params)
        try:
            graph = self.generator(nodes, clean, seed)
        except (nx.NetworkXException, ValueError) as err:
            if isinstance(err, SearchSpaceError):
                raise
            raise GraphGenerationError(
                f"prior {self.name!r} could not generate a graph with nodes={nodes}, params={clean}, seed={seed}: {err}"
            ) from err
        if not isinstance(graph, nx.Graph):
            raise GraphGenerationError(f"prior {self.name!r} returned {type(graph).__name__}, expected a networkx graph")
        extra = set(graph.nodes) - set(range(nodes))
        if extra:
            raise GraphGenerationError(
                f"prior {self.name!r} returned nodes outside 0..{nodes - 1}: {sorted(extra, key=str)[:5]}"
            )
        # Collapse direction and parallel edges; drop self-loops, which have no feed-forward meaning.
        out = nx.Graph()
        out.add_nodes_from(range(nodes))
        out.add_edges_from((u, v) for u, v in graph.edges() if u != v)
        return out

    def sample_params(self, nodes: int, rng, fixed: Mapping[str, float] | None = None) -> dict[str, int | float]:
        """Draw parameters that are valid for ``nodes``.

        Integers are drawn uniformly from the effective range (:meth:`ranges`), floats uniformly
        (log-uniformly where declared). Draws are retried a bounded number of times against
        :attr:`check`.

        Parameters
        ----------
        nodes : int
            Graph size the parameters must suit.
        rng : numpy.random.Generator
            Source of randomness.
        fixed : mapping, optional
            Values to keep as given (validated); only the others are drawn.

        Raises
        ------
        InvalidGenomeError
            A ``fixed`` value that is unknown or out of range.
        GraphGenerationError
            No valid combination was found (e.g. ``nodes`` too small for this prior).
        """
        fixed = dict(fixed or {})
        for name in fixed:
            self.spec(name).validate(fixed[name])
        if nodes < self.min_nodes:
            raise GraphGenerationError(f"prior {self.name!r} needs at least {self.min_nodes} nodes, got nodes={nodes}")
        if all(p.name in fixed for p in self.params):
            return self.validate(nodes, fixed)  # nothing to draw: report the fixed values' error as is
        ranges = self.ranges(nodes)
        last = None
        for _ in range(100):
            draw = dict(fixed)
            for p in self.params:
                if p.name in fixed:
                    continue
                low, high = ranges[p.name]
                if low > high:
                    raise GraphGenerationError(
                        f"prior {self.name!r} has no valid {p.name!r} for nodes={nodes} "
                        f"(declared range [{p.low}, {p.high}])"
                    )
                draw[p.name] = _draw(p, low, high, rng)
            try:
                return self.validate(nodes, draw)
            except InvalidGenomeError as err:
                last = err
        raise GraphGenerationError(f"no valid parameters of prior {self.name!r} for nodes={nodes}: {last}")


def _draw(spec: ParamSpec, low, high, rng):
    if spec.kind == "int":
        if spec.log:
            x = math.exp(rng.uniform(math.log(low - 0.5 if low > 0.5 else low), math.log(high + 0.5)))
            return int(min(max(round(x), low), high))
        return int(rng.integers(low, high + 1))
    if spec.log:
        return float(min(max(math.exp(rng.uniform(math.log(low), math.log(high))), low), high))
    return float(rng.uniform(low, high))


PRIORS: dict[str, Prior] = {}


def register_prior(prior: Prior, *, replace: bool = False) -> Prior:
    """Add ``prior`` to the registry (users may register their own) and return it."""
    if not isinstance(prior, Prior):
        raise PriorDefinitionError(f"register_prior expects a Prior, got {type(prior).__name__}")
    if prior.name in PRIORS and not replace:
        raise PriorDefinitionError(f"a prior named {prior.name!r} is already registered; pass replace=True")
    PRIORS[prior.name] = prior
    return prior


def get_prior(name: str) -> Prior:
    """The registered prior called ``name``.

    Raises
    ------
    UnknownPriorError
        ``name`` is not registered; the message lists the registered names.
    """
    try:
        return PRIORS[name]
    except (KeyError, TypeError):
        raise UnknownPriorError(str(name), list(PRIORS)) from None


def list_priors() -> list[str]:
    """Names of the registered priors, sorted."""
    return sorted(PRIORS)
