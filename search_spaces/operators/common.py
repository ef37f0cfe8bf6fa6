"""What the genetic operators share: their error, bounds and prior checks, and genome helpers
(a valid child or None, a genome's fields, edge sets and canonical edits)."""

from __future__ import annotations

from typing import Mapping

import networkx as nx
import numpy as np

from search_spaces.exceptions import SearchSpaceError
from search_spaces.genome import MAX_NODES, MAX_WIDTH, MIN_NODES, Genome
from search_spaces.priors import get_prior, list_priors

__all__ = [
    "EXPLICIT", "MAX_TRIES", "MAX_EDITS", "OperatorError", "default_priors", "width_choices", "check_rng",
    "node_bounds", "prior_list", "decodes", "clip_params", "try_genome", "genome_fields", "edge_set",
    "canonical_edits", "base_edges", "edits_between",
]

EXPLICIT = "explicit"
MAX_TRIES = 20
MAX_EDITS = 32


class OperatorError(SearchSpaceError):
    """Arguments of a genetic operator that cannot work (bad bounds, weights or prior list)."""


def default_priors() -> list[str]:
    """Every registered prior except ``explicit`` (which has nothing to draw)."""
    return [name for name in list_priors() if name != EXPLICIT]


def check_rng(rng) -> np.random.Generator:
    """``rng`` if it is a :class:`numpy.random.Generator`, else OperatorError."""
    if not isinstance(rng, np.random.Generator):
        raise OperatorError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def width_choices(widths) -> list[int]:
    """The vertex widths a search draws from ``widths = (low, high)``: both bounds and every power
    of two between them (so the grid is geometric, as widths matter by ratio).

    Raises
    ------
    OperatorError
        Bounds that are not integers with ``1 <= low <= high <= MAX_WIDTH``.
    """
    try:
        lo, hi = (int(x) for x in widths)
    except (TypeError, ValueError):
        raise OperatorError(f"widths must be a pair (low, high) of integers, got {widths!r}") from None
    if not 1 <= lo <= hi <= MAX_WIDTH:
        raise OperatorError(f"widths must satisfy 1 <= low <= high <= {MAX_WIDTH}, got ({lo}, {hi})")
    return sorted({lo, hi} | {2**k for k in range(0, 9) if lo <= 2**k <= hi})


def node_bounds(nodes) -> tuple[int, int]:
    """``(low, high)`` node bounds, checked against ``MIN_NODES`` and ``MAX_NODES``."""
    try:
        lo, hi = (int(x) for x in nodes)
    except (TypeError, ValueError):
        raise OperatorError(f"nodes must be a pair (low, high) of integers, got {nodes!r}") from None
    if not MIN_NODES <= lo <= hi <= MAX_NODES:
        raise OperatorError(f"nodes must satisfy {MIN_NODES} <= low <= high <= {MAX_NODES}, got ({lo}, {hi})")
    return lo, hi


def prior_list(priors) -> list[str]:
    """The prior names to draw from (default: :func:`default_priors`), each checked to exist."""
    names = default_priors() if priors is None else list(priors)
    if not names:
        raise OperatorError("priors must name at least one prior, got an empty list")
    for name in names:
        get_prior(name)  # UnknownPriorError with the registered names
    return names


def decodes(genome: Genome) -> bool:
    """True when the genome's graph has an edge (its DAG builds)."""
    try:
        graph = genome.graph()
    except SearchSpaceError:
        return False
    return graph.number_of_edges() > 0


def clip_params(prior_name: str, params: Mapping, nodes: int) -> dict:
    """``params`` clipped to the ranges prior ``prior_name`` allows for ``nodes`` nodes."""
    prior = get_prior(prior_name)
    ranges = prior.ranges(nodes)
    out = {}
    for spec in prior.params:
        low, high = ranges[spec.name]
        if low > high:
            raise SearchSpaceError(f"prior {prior_name!r} has no valid {spec.name!r} for nodes={nodes}")
        value = min(max(params[spec.name], low), high)
        out[spec.name] = int(round(value)) if spec.kind == "int" else float(value)
    return out


def try_genome(**fields) -> Genome | None:
    """The genome if it validates and decodes, else None."""
    try:
        genome = Genome.from_dict(fields)
    except SearchSpaceError:
        return None
    return genome if decodes(genome) else None


def genome_fields(genome: Genome) -> dict:
    """Every field of ``genome``, as :meth:`Genome.to_dict` lists them, edits as tuples.

    Children are built from this whole dict, so a field an operator does not touch (``family``,
    ``width``, ``readout``, any added later) is inherited rather than reset to its default.
    """
    fields = genome.to_dict()
    fields["edits"] = genome.edits
    return fields


def edge_set(graph: nx.Graph) -> set[tuple[int, int]]:
    """The edges of ``graph`` as ``(low, high)`` pairs."""
    return {(min(u, v), max(u, v)) for u, v in graph.edges}


def canonical_edits(genome: Genome, final: nx.Graph) -> tuple[tuple[str, int, int], ...]:
    """Net edits turning the prior's graph of ``genome`` into ``final``: removes, then adds."""
    return edits_between(base_edges(genome), edge_set(final))


def base_edges(genome: Genome) -> set[tuple[int, int]]:
    """Edges of the prior's draw of ``genome``, before its edits."""
    return edge_set(get_prior(genome.prior).generate(genome.nodes, genome.param_dict, genome.seed))


def edits_between(base_edges: set, final_edges: set) -> tuple[tuple[str, int, int], ...]:
    """Canonical edits turning ``base_edges`` into ``final_edges``: sorted removes, then sorted adds."""
    removes = [("remove", u, v) for u, v in sorted(base_edges - final_edges)]
    adds = [("add", u, v) for u, v in sorted(final_edges - base_edges)]
    return tuple(removes + adds)
