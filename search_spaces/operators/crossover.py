"""Two children of two genomes (:func:`crossover`).

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
"""

from __future__ import annotations

import numpy as np

from search_spaces.exceptions import SearchSpaceError
from search_spaces.genome import Genome
from search_spaces.operators.common import (
    EXPLICIT,
    MAX_EDITS,
    MAX_TRIES,
    OperatorError,
    base_edges,
    check_rng,
    clip_params,
    edge_set,
    edits_between,
    genome_fields,
    try_genome,
)

__all__ = ["crossover", "CROSSOVER_MODES"]

CROSSOVER_MODES = ("auto", "structure", "params")


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
    rng = check_rng(rng)
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
        ea, eb = edge_set(a.graph()), edge_set(b.graph())
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
            ea, eb = edge_set(a.graph()), edge_set(b.graph())
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
        params = clip_params(keep.prior, keep.param_dict, other.nodes)
    except SearchSpaceError:
        return keep
    edits = tuple(e for e in keep.edits if e[2] < other.nodes)
    child = try_genome(**{**genome_fields(keep), "params": params, "nodes": other.nodes, "seed": other.seed, "edits": edits})
    return keep if child is None else child


def _uniform(a: Genome, b: Genome, rng, max_tries: int) -> tuple[Genome, Genome]:
    genes = [*a.param_dict, "nodes", "seed"]
    for _ in range(max_tries):
        swap = rng.random(len(genes)) < 0.5
        fa, fb = genome_fields(a), genome_fields(b)
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
                fields["params"] = clip_params(fields["prior"], params, fields["nodes"])
            except SearchSpaceError:
                kids.append(None)
                continue
            kids.append(try_genome(**fields))
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
        base = base_edges(parent)
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
            edits = edits_between(base, edges)
            if not edges or (limit is not None and len(edits) > limit):
                break
            kid = try_genome(**{**genome_fields(parent), "edits": edits})
            if kid is None:
                break
            kids.append(kid)
        if len(kids) == 2:
            return kids[0], kids[1]
    return None
