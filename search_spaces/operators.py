"""Genetic operators on genomes: random draw, mutation and crossover.

All three are pure functions of their arguments and a :class:`numpy.random.Generator`: the same
generator state gives the same result. Their results are always *valid*: the genome validates
and ``genome.dag()`` builds (the graph has at least one edge). An operator draw that fails
(e.g. an edgeless graph, or parameters a generator rejects) is retried with the same ``rng`` a
bounded number of times, after which mutation and crossover fall back to the parent(s).

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

Crossover (two children, mirror images of each other) works in one of two ways:

*structure crossover* (edge-set crossover, any two parents)
    Edges in both parents' graphs go to both children; every edge of only one parent goes to
    child 1 with probability ½, else to child 2. Child 1 is ``a``'s genome (prior, params,
    nodes, seed, family and every other field) with canonical edits that turn ``a``'s prior
    draw into that edge set, child 2 the same on ``b``. A child keeps only the edges on its own
    node labels: when ``nodes`` differ, edges of the bigger parent touching labels ``>=`` the
    smaller one's ``nodes`` are dropped from the smaller child. A draw giving an edgeless child,
    or a non-``explicit`` child with more than ``max_edits`` edits, is redrawn; when no draw
    fits (e.g. two unrelated graphs, whose mix is far from either prior's draw), the pair falls
    back to parameter crossover.
*parameter crossover* (the genes, not the graph)
    * different priors: child 1 = prior, params and edits of ``a`` with ``nodes`` and ``seed``
      of ``b``; child 2 the mirror (parameters clipped to the new size's ranges);
    * the same prior: uniform crossover — every parameter, ``nodes`` and ``seed`` comes from one
      parent or the other with probability ½; a child's edits come with its seed (they edit that
      graph);
    * two ``explicit`` parents of equal ``nodes``: structure crossover (they have no genes but
      their edges); any other pair with an ``explicit`` parent: the parents are returned.

``mode="auto"`` (the default) picks structure crossover with probability equal to the parents'
edge overlap — the Jaccard index of their edge sets on the node labels both have — so parents
that share structure (e.g. relatives differing by a few edge edits) mostly exchange edges, and
unrelated ones (no shared edge: no draw is made) their genes. A pair with an ``explicit`` parent
always takes structure crossover: it has no genes to exchange. ``mode="structure"`` and
``mode="params"`` force one way (``"params"`` is the crossover of earlier versions).

``family`` is the evaluation's, not the structure's: each child keeps the family — and every
field that neither way exchanges, such as ``width`` and ``readout`` — of the parent at the same
position.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> g = random_genome(rng, priors=["watts_strogatz"], nodes=(10, 20))
>>> h = mutate(g, rng)
>>> h.dag().num_edges > 0
True
"""

from __future__ import annotations

import math
from typing import Mapping

import networkx as nx
import numpy as np

from search_spaces.exceptions import SearchSpaceError
from search_spaces.genome import (
    FAMILIES,
    MAX_NODES,
    MAX_SEED,
    MAX_WIDTH,
    MIN_NODES,
    READOUTS,
    Genome,
)
from search_spaces.priors import get_prior, list_priors

__all__ = [
    "random_genome",
    "mutate",
    "crossover",
    "MUTATIONS",
    "MUTATION_WEIGHTS",
    "EXPLICIT",
    "CROSSOVER_MODES",
    "default_priors",
    "width_choices",
    "OperatorError",
]

EXPLICIT = "explicit"
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
CROSSOVER_MODES = ("auto", "structure", "params")
MAX_TRIES = 20
MAX_EDITS = 32


class OperatorError(SearchSpaceError):
    """Arguments of a genetic operator that cannot work (bad bounds, weights or prior list)."""


def default_priors() -> list[str]:
    """Every registered prior except ``explicit`` (which has nothing to draw)."""
    return [name for name in list_priors() if name != EXPLICIT]


# --- helpers ------------------------------------------------------------------------------------


def _check_rng(rng) -> np.random.Generator:
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


def _node_bounds(nodes) -> tuple[int, int]:
    try:
        lo, hi = (int(x) for x in nodes)
    except (TypeError, ValueError):
        raise OperatorError(f"nodes must be a pair (low, high) of integers, got {nodes!r}") from None
    if not MIN_NODES <= lo <= hi <= MAX_NODES:
        raise OperatorError(f"nodes must satisfy {MIN_NODES} <= low <= high <= {MAX_NODES}, got ({lo}, {hi})")
    return lo, hi


def _prior_list(priors) -> list[str]:
    names = default_priors() if priors is None else list(priors)
    if not names:
        raise OperatorError("priors must name at least one prior, got an empty list")
    for name in names:
        get_prior(name)  # UnknownPriorError with the registered names
    return names


def _decodes(genome: Genome) -> bool:
    """True when the genome's graph has an edge (its DAG builds)."""
    try:
        graph = genome.graph()
    except SearchSpaceError:
        return False
    return graph.number_of_edges() > 0


def _clip_params(prior_name: str, params: Mapping, nodes: int) -> dict:
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


def _try_genome(**fields) -> Genome | None:
    """The genome if it validates and decodes, else None."""
    try:
        genome = Genome.from_dict(fields)
    except SearchSpaceError:
        return None
    return genome if _decodes(genome) else None


def _fields(genome: Genome) -> dict:
    """Every field of ``genome``, as :meth:`Genome.to_dict` lists them, edits as tuples.

    Children are built from this whole dict, so a field an operator does not touch (``family``,
    ``width``, ``readout``, any added later) is inherited rather than reset to its default.
    """
    fields = genome.to_dict()
    fields["edits"] = genome.edits
    return fields


def _edge_set(graph: nx.Graph) -> set[tuple[int, int]]:
    return {(min(u, v), max(u, v)) for u, v in graph.edges}


def _canonical_edits(genome: Genome, final: nx.Graph) -> tuple[tuple[str, int, int], ...]:
    """Net edits turning the prior's graph of ``genome`` into ``final``: removes, then adds."""
    return _edits_between(_base_edges(genome), _edge_set(final))


def _base_edges(genome: Genome) -> set[tuple[int, int]]:
    """Edges of the prior's draw of ``genome``, before its edits."""
    return _edge_set(get_prior(genome.prior).generate(genome.nodes, genome.param_dict, genome.seed))


def _edits_between(base_edges: set, final_edges: set) -> tuple[tuple[str, int, int], ...]:
    removes = [("remove", u, v) for u, v in sorted(base_edges - final_edges)]
    adds = [("add", u, v) for u, v in sorted(final_edges - base_edges)]
    return tuple(removes + adds)


# --- random draw --------------------------------------------------------------------------------


def random_genome(
    rng, *, priors=None, nodes=(10, 50), family="ff", widths=(1, 1), readout="sinks", max_tries: int = 100
) -> Genome:
    """Draw a valid genome.

    Parameters
    ----------
    rng : numpy.random.Generator
    priors : sequence of str, optional
        Priors to choose from, uniformly; default all registered except ``explicit``.
    nodes : (int, int)
        Inclusive bounds of the node count (raised to a prior's ``min_nodes``).
    family : str or sequence of str
        The model family, or families to choose from uniformly.
    widths : (int, int)
        Bounds of the vertex width, drawn uniformly from :func:`width_choices` (no draw when the
        bounds are equal, so ``(1, 1)`` keeps the draws of the paper's space).
    readout : str
        The genome's readout (one of ``READOUTS``).
    max_tries : int
        Draws before giving up.

    Returns
    -------
    Genome
        Validates and decodes to a non-empty DAG.

    Raises
    ------
    OperatorError
        Bad ``nodes`` bounds, an empty prior list, an unknown family, or no valid genome in
        ``max_tries`` draws (the message lists the last failure).
    UnknownPriorError
        A name in ``priors`` that is not registered.
    """
    rng = _check_rng(rng)
    lo, hi = _node_bounds(nodes)
    names = _prior_list(priors)
    families = [family] if isinstance(family, str) else list(family)
    bad = [f for f in families if f not in FAMILIES]
    if bad or not families:
        raise OperatorError(f"family must be one of {list(FAMILIES)} (or a list of them), got {family!r}")
    grid = width_choices(widths)
    if readout not in READOUTS:
        raise OperatorError(f"readout must be one of {list(READOUTS)}, got {readout!r}")
    last = "no draw"
    for _ in range(max_tries):
        prior = get_prior(names[int(rng.integers(len(names)))])
        n = int(rng.integers(max(lo, prior.min_nodes), max(hi, prior.min_nodes) + 1))
        fam = families[int(rng.integers(len(families)))]
        seed = int(rng.integers(0, MAX_SEED, endpoint=True))
        try:
            params = prior.sample_params(n, rng)
        except SearchSpaceError as err:
            last = str(err)
            continue
        width = grid[int(rng.integers(len(grid)))] if len(grid) > 1 else grid[0]
        genome = _try_genome(prior=prior.name, params=params, nodes=n, seed=seed, family=fam, width=width, readout=readout)
        if genome is not None:
            return genome
        last = f"{prior.name} nodes={n} params={params} seed={seed} gave no edges or failed to generate"
    raise OperatorError(f"no valid genome in {max_tries} draws from priors {names} with nodes {nodes}: {last}")


# --- mutation -----------------------------------------------------------------------------------


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
    rng = _check_rng(rng)
    if not isinstance(genome, Genome):
        raise OperatorError(f"mutate expects a Genome, got {type(genome).__name__}")
    bounds = _node_bounds(nodes if nodes is not None else (MIN_NODES, MAX_NODES))
    names = _prior_list(priors)
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
            if _decodes(child):
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
    return _try_genome(**{**_fields(genome), "params": {**genome.param_dict, spec.name: new}})


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
        params = _clip_params(genome.prior, genome.param_dict, n)
    except SearchSpaceError:
        return None
    edits = tuple(e for e in genome.edits if e[2] < n)
    return _try_genome(**{**_fields(genome), "nodes": n, "params": params, "edits": edits})


def _rewidth(genome, rng, grid):
    """The width one step up or down the grid (from the nearest grid value when off it)."""
    here = min(range(len(grid)), key=lambda i: (abs(grid[i] - genome.width), i))
    steps = [i for i in (here - 1, here + 1) if 0 <= i < len(grid) and grid[i] != genome.width]
    if grid[here] != genome.width:
        steps.append(here)
    if not steps:
        return None
    return _try_genome(**{**_fields(genome), "width": grid[steps[int(rng.integers(len(steps)))]]})


def _reseed(genome, rng, bounds, names):
    return _try_genome(**{**_fields(genome), "seed": int(rng.integers(0, MAX_SEED, endpoint=True))})


def _switch_prior(genome, rng, bounds, names):
    others = [name for name in names if name != genome.prior]
    if not others:
        return None
    prior = get_prior(others[int(rng.integers(len(others)))])
    try:
        params = prior.sample_params(genome.nodes, rng)
    except SearchSpaceError:
        return None
    return _try_genome(**{**_fields(genome), "prior": prior.name, "params": params, "edits": ()})


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
    return _try_genome(**{**_fields(genome), "edits": _canonical_edits(genome, graph)})


_MUTATORS = {
    "perturb": _perturb,
    "resize": _resize,
    "reseed": _reseed,
    "switch_prior": _switch_prior,
    "add_edge": lambda g, rng, b, n: _edge_edit(g, rng, "add_edge"),
    "remove_edge": lambda g, rng, b, n: _edge_edit(g, rng, "remove_edge"),
    "rewire_edge": lambda g, rng, b, n: _edge_edit(g, rng, "rewire_edge"),
}


# --- crossover ----------------------------------------------------------------------------------


def crossover(
    a: Genome,
    b: Genome,
    rng,
    *,
    mode: str = "auto",
    max_edits: int = MAX_EDITS,
    max_tries: int = MAX_TRIES,
) -> tuple[Genome, Genome]:
    """Two children of ``a`` and ``b`` (see the module notes for the rules).

    Parameters
    ----------
    a, b : Genome
    rng : numpy.random.Generator
    mode : {"auto", "structure", "params"}
        ``"auto"``: structure crossover with probability equal to the parents' edge overlap
        (always, when a parent is ``explicit``), else parameter crossover. ``"structure"``:
        structure crossover, falling back to parameter crossover when no draw fits.
        ``"params"``: parameter crossover only.
    max_edits : int
        Most edge edits a non-``explicit`` child of structure crossover may carry (as in
        :func:`mutate`).
    max_tries : int
        Draws of structure or uniform crossover before falling back.

    Returns
    -------
    (Genome, Genome)
        Both valid and decodable; a child that cannot be made valid is replaced by its parent
        (``a`` for the first, ``b`` for the second).

    Raises
    ------
    OperatorError
        ``a`` or ``b`` not a Genome, an unknown ``mode``, or ``max_edits`` not a non-negative
        integer.

    Examples
    --------
    >>> import numpy as np
    >>> a = Genome("erdos_renyi", {"p": 0.3}, nodes=12, seed=1)
    >>> b = a.replace(edits=[("add", 0, 11), ("add", 1, 11)])
    >>> c, d = crossover(a, b, np.random.default_rng(0), mode="structure")
    >>> set(a.graph().edges) <= set(c.graph().edges) <= set(b.graph().edges)
    True
    """
    rng = _check_rng(rng)
    for name, g in (("a", a), ("b", b)):
        if not isinstance(g, Genome):
            raise OperatorError(f"crossover expects Genomes, got {type(g).__name__} for {name}")
    if mode not in CROSSOVER_MODES:
        raise OperatorError(f"mode must be one of {list(CROSSOVER_MODES)}, got {mode!r}")
    if isinstance(max_edits, bool) or not isinstance(max_edits, (int, np.integer)) or max_edits < 0:
        raise OperatorError(f"max_edits must be a non-negative integer, got {max_edits!r}")
    if mode == "params":
        return _param_crossover(a, b, rng, max_edits, max_tries)
    try:
        ea, eb = _edge_set(a.graph()), _edge_set(b.graph())
    except SearchSpaceError:  # a parent whose graph does not generate has no structure to give
        return _param_crossover(a, b, rng, max_edits, max_tries)
    if mode == "auto" and EXPLICIT not in (a.prior, b.prior):
        p = _overlap(ea, eb, min(a.nodes, b.nodes))
        if p == 0.0 or (p < 1.0 and rng.random() >= p):  # no draw when the choice is certain
            return _param_crossover(a, b, rng, max_edits, max_tries)
    kids = _structure_crossover(a, b, ea, eb, rng, max_edits, max_tries)
    return kids if kids is not None else _param_crossover(a, b, rng, max_edits, max_tries)


def _overlap(ea: set, eb: set, nodes: int) -> float:
    """Jaccard index of two edge sets on the labels ``0..nodes-1``."""
    union = {e for e in ea | eb if e[1] < nodes}
    return len(ea & eb) / len(union) if union else 0.0


def _param_crossover(a: Genome, b: Genome, rng, max_edits: int, max_tries: int) -> tuple[Genome, Genome]:
    if a.prior == EXPLICIT or b.prior == EXPLICIT:
        if a.prior == b.prior and a.nodes == b.nodes:
            ea, eb = _edge_set(a.graph()), _edge_set(b.graph())
            kids = _structure_crossover(a, b, ea, eb, rng, max_edits, max_tries)
            if kids is not None:
                return kids
        return a, b
    if a.prior != b.prior:
        return _exchange(a, b), _exchange(b, a)
    return _uniform(a, b, rng, max_tries)


def _exchange(keep: Genome, other: Genome) -> Genome:
    """Prior, params and edits of ``keep`` on the size and seed of ``other``."""
    try:
        params = _clip_params(keep.prior, keep.param_dict, other.nodes)
    except SearchSpaceError:
        return keep
    edits = tuple(e for e in keep.edits if e[2] < other.nodes)
    child = _try_genome(**{**_fields(keep), "params": params, "nodes": other.nodes, "seed": other.seed, "edits": edits})
    return keep if child is None else child


def _uniform(a: Genome, b: Genome, rng, max_tries: int) -> tuple[Genome, Genome]:
    genes = [*a.param_dict, "nodes", "seed"]
    for _ in range(max_tries):
        swap = rng.random(len(genes)) < 0.5
        fa, fb = _fields(a), _fields(b)
        pa, pb = dict(a.param_dict), dict(b.param_dict)
        for gene, s in zip(genes, swap):
            if not s:
                continue
            if gene in pa:
                pa[gene], pb[gene] = pb[gene], pa[gene]
            else:
                fa[gene], fb[gene] = fb[gene], fa[gene]
        if swap[-1]:  # edits edit the graph of their seed
            fa["edits"], fb["edits"] = fb["edits"], fa["edits"]
        kids = []
        for fields, params in ((fa, pa), (fb, pb)):
            fields["edits"] = tuple(e for e in fields["edits"] if e[2] < fields["nodes"])
            try:
                fields["params"] = _clip_params(fields["prior"], params, fields["nodes"])
            except SearchSpaceError:
                kids.append(None)
                continue
            kids.append(_try_genome(**fields))
        if kids[0] is not None and kids[1] is not None:
            return kids[0], kids[1]
    return a, b


def _structure_crossover(a: Genome, b: Genome, ea: set, eb: set, rng, max_edits: int, max_tries: int):
    """Edge-set crossover of parents with edge sets ``ea`` and ``eb``; None when no draw fits."""
    shared = ea & eb  # on labels both parents have, so valid in both children
    differ = sorted(ea ^ eb)
    union = ea | eb
    sides = []
    for parent in (a, b):
        base = _base_edges(parent)
        limit = None if parent.prior == EXPLICIT else max_edits
        # Edits no draw can avoid: shared edges missing from the prior's draw, and drawn edges
        # that are in neither parent. Past the limit, every draw would be rejected.
        forced = len(shared - base) + sum(1 for e in base if e not in union)
        if limit is not None and forced > limit:
            return None
        sides.append((parent, base, limit))
    for _ in range(max_tries):
        to_first = rng.random(len(differ)) < 0.5
        edge_sets = (
            shared | {e for e, t in zip(differ, to_first) if t and e[1] < a.nodes},
            shared | {e for e, t in zip(differ, to_first) if not t and e[1] < b.nodes},
        )
        kids = []
        for (parent, base, limit), edges in zip(sides, edge_sets):
            edits = _edits_between(base, edges)
            if not edges or (limit is not None and len(edits) > limit):
                break
            kid = _try_genome(**{**_fields(parent), "edits": edits})
            if kid is None:
                break
            kids.append(kid)
        if len(kids) == 2:
            return kids[0], kids[1]
    return None
