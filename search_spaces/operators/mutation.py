"""One random mutation of a genome (:func:`mutate`).

Mutations (one is chosen per call, with :data:`MUTATION_WEIGHTS` unless given):

``perturb``
    One prior parameter moves by a Gaussian step (a tenth of its range; integers at least ±1),
    clipped to the range valid for the genome's size.
``resize``
    ``nodes`` moves by up to ±20 % (at least ±1) inside the ``nodes`` bounds; parameters are
    clipped to the new size's ranges; edits on vanished nodes are dropped.
``rewidth``
    The vertex width moves one step on the geometric grid of :func:`width_choices` (only when
    ``mutate`` is given width bounds that differ).
``reseed``
    A new graph seed.
``switch_prior``
    Another prior from ``priors``, with fresh valid parameters; ``nodes``, ``seed`` and
    ``family`` are kept, edits are dropped (they referred to the old prior's graph).
``add_edge`` / ``remove_edge`` / ``rewire_edge``
    Edge edits on the genome's current graph (rewire: one endpoint of an edge moves to a node it
    was not joined to). Edits are kept canonical — the net difference to the prior's graph, all
    removes then all adds, sorted — so equal graphs give equal genomes; at most ``max_edits``
    edits (not counting the ``explicit`` prior, whose edges *are* its edits).

A genome of the ``explicit`` prior (an imported graph) is only ever changed by edge edits: it has
no prior parameters, seed or generator to vary.

"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from search_spaces.exceptions import SearchSpaceError
from search_spaces.genome import MAX_NODES, MAX_SEED, MIN_NODES, Genome
from search_spaces.operators.common import (
    EXPLICIT,
    MAX_EDITS,
    MAX_TRIES,
    OperatorError,
    canonical_edits,
    check_rng,
    clip_params,
    decodes,
    genome_fields,
    node_bounds,
    prior_list,
    try_genome,
    width_choices,
)
from search_spaces.priors import get_prior

__all__ = ["mutate", "MUTATIONS", "MUTATION_WEIGHTS"]

MUTATIONS = ("perturb", "resize", "reseed", "switch_prior", "add_edge", "remove_edge", "rewire_edge", "rewidth")
MUTATION_WEIGHTS: dict[str, float] = {
    "rewidth": 1.5,
    "perturb": 3.0,
    "resize": 2.0,
    "reseed": 1.0,
    "switch_prior": 1.0,
    "add_edge": 1.0,
    "remove_edge": 1.0,
    "rewire_edge": 1.0,
}
_EDGE_OPS = ("add_edge", "remove_edge", "rewire_edge")


def mutate(
    genome: Genome,
    rng,
    *,
    nodes=None,
    priors=None,
    widths=None,
    max_edits: int = MAX_EDITS,
    weights: Mapping[str, float] | None = None,
    max_tries: int = MAX_TRIES,
) -> Genome:
    """One random mutation of ``genome`` (see the module notes for the operators).

    Parameters
    ----------
    genome : Genome
    rng : numpy.random.Generator
    nodes : (int, int), optional
        Bounds for ``resize``; default ``(MIN_NODES, MAX_NODES)``.
    priors : sequence of str, optional
        Targets of ``switch_prior``; default all registered except ``explicit``.
    widths : (int, int), optional
        Bounds of ``rewidth``, which moves the width to a neighbour on :func:`width_choices`;
        without them (or with equal bounds) the width never mutates.
    max_edits : int
        Most edge edits a non-explicit genome may carry; edge mutations that would exceed it are
        not chosen.
    weights : mapping, optional
        Relative weight of each name in :data:`MUTATIONS` (missing names weigh 0).
    max_tries : int
        Operator draws before falling back to ``genome`` itself.

    Returns
    -------
    Genome
        Valid and decodable; ``genome`` itself when no draw succeeded.

    Raises
    ------
    OperatorError
        Unknown mutation names, negative or all-zero weights, bad bounds.
    """
    rng = check_rng(rng)
    if not isinstance(genome, Genome):
        raise OperatorError(f"mutate expects a Genome, got {type(genome).__name__}")
    bounds = node_bounds(nodes if nodes is not None else (MIN_NODES, MAX_NODES))
    names = prior_list(priors)
    weights = dict(MUTATION_WEIGHTS if weights is None else weights)
    unknown = sorted(set(weights) - set(MUTATIONS))
    bad = [w for w in weights.values() if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0]
    if unknown or bad:
        raise OperatorError(f"weights must map names of {list(MUTATIONS)} to non-negative numbers, got {weights}")
    explicit = genome.prior == EXPLICIT
    grid = width_choices(widths) if widths is not None else [genome.width]
    allowed = {
        op: float(weights.get(op, 0.0))
        for op in MUTATIONS
        if (op in _EDGE_OPS and (explicit or len(genome.edits) < max_edits))
        or (op == "rewidth" and len(grid) > 1)
        or (not explicit and op not in _EDGE_OPS and op != "rewidth")
    }
    if op_names := [op for op, w in allowed.items() if w > 0]:
        p = np.array([allowed[op] for op in op_names])
        p /= p.sum()
    else:
        if any(w > 0 for w in weights.values()):
            return genome  # nothing allowed for this genome (e.g. only edge ops, edit budget spent)
        raise OperatorError(f"weights must give some mutation a positive weight, got {weights}")
    for _ in range(max_tries):
        op = op_names[int(rng.choice(len(op_names), p=p))]
        child = _rewidth(genome, rng, grid) if op == "rewidth" else _MUTATORS[op](genome, rng, bounds, names)
        if child is not None and child != genome and (explicit or len(child.edits) <= max_edits):
            if decodes(child):
                return child
    return genome


def _perturb(genome, rng, bounds, names):
    prior = get_prior(genome.prior)
    if not prior.params:
        return None
    spec = prior.params[int(rng.integers(len(prior.params)))]
    low, high = prior.ranges(genome.nodes)[spec.name]
    if low >= high:
        return None
    value = genome.param_dict[spec.name]
    step = rng.normal(0.0, 0.1 * (high - low))
    if spec.kind == "int":
        step = int(round(step)) or int(rng.choice([-1, 1]))
        new = int(min(max(value + step, low), high))
    else:
        new = float(min(max(value + step, low), high))
    return try_genome(**{**genome_fields(genome), "params": {**genome.param_dict, spec.name: new}})


def _resize(genome, rng, bounds, names):
    prior = get_prior(genome.prior)
    lo, hi = max(bounds[0], prior.min_nodes), bounds[1]
    if lo > hi:
        return None
    reach = max(1, int(round(0.2 * genome.nodes)))
    step = int(rng.integers(1, reach + 1)) * int(rng.choice([-1, 1]))
    n = int(min(max(genome.nodes + step, lo), hi))
    if n == genome.nodes:
        return None
    try:
        params = clip_params(genome.prior, genome.param_dict, n)
    except SearchSpaceError:
        return None
    edits = tuple(e for e in genome.edits if e[2] < n)
    return try_genome(**{**genome_fields(genome), "nodes": n, "params": params, "edits": edits})


def _rewidth(genome, rng, grid):
    """The width one step up or down the grid (from the nearest grid value when off it)."""
    here = min(range(len(grid)), key=lambda i: (abs(grid[i] - genome.width), i))
    steps = [i for i in (here - 1, here + 1) if 0 <= i < len(grid) and grid[i] != genome.width]
    if grid[here] != genome.width:
        steps.append(here)
    if not steps:
        return None
    return try_genome(**{**genome_fields(genome), "width": grid[steps[int(rng.integers(len(steps)))]]})


def _reseed(genome, rng, bounds, names):
    return try_genome(**{**genome_fields(genome), "seed": int(rng.integers(0, MAX_SEED, endpoint=True))})


def _switch_prior(genome, rng, bounds, names):
    others = [name for name in names if name != genome.prior]
    if not others:
        return None
    prior = get_prior(others[int(rng.integers(len(others)))])
    try:
        params = prior.sample_params(genome.nodes, rng)
    except SearchSpaceError:
        return None
    return try_genome(**{**genome_fields(genome), "prior": prior.name, "params": params, "edits": ()})


def _edge_edit(genome, rng, op):
    graph = genome.graph()
    n = genome.nodes
    edges = sorted((min(u, v), max(u, v)) for u, v in graph.edges)
    if op in ("remove_edge", "rewire_edge"):
        if len(edges) < 2:  # keep at least one edge
            return None
        u, v = edges[int(rng.integers(len(edges)))]
        graph.remove_edge(u, v)
        if op == "rewire_edge":
            keep = (u, v)[int(rng.integers(2))]
            free = [w for w in range(n) if w != keep and not graph.has_edge(keep, w) and w not in (u, v)]
            if not free:
                return None
            graph.add_edge(keep, free[int(rng.integers(len(free)))])
    else:
        if len(edges) >= n * (n - 1) // 2:
            return None
        while True:  # a non-edge exists, so this ends; the density is below one
            u, v = (int(x) for x in rng.choice(n, size=2, replace=False))
            if not graph.has_edge(u, v):
                graph.add_edge(u, v)
                break
    return try_genome(**{**genome_fields(genome), "edits": canonical_edits(genome, graph)})


_MUTATORS = {
    "perturb": _perturb,
    "resize": _resize,
    "reseed": _reseed,
    "switch_prior": _switch_prior,
    "add_edge": lambda g, rng, b, n: _edge_edit(g, rng, "add_edge"),
    "remove_edge": lambda g, rng, b, n: _edge_edit(g, rng, "remove_edge"),
    "rewire_edge": lambda g, rng, b, n: _edge_edit(g, rng, "rewire_edge"),
}
