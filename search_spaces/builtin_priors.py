"""The built-in priors: network-theory graph generators, their parameter spaces, registered.

Importing :mod:`search_spaces` imports this module, so every built-in prior is registered before
:func:`~search_spaces.priors.get_prior` is asked for one.

Examples
--------
>>> from search_spaces.priors import get_prior
>>> get_prior("random_dag").params[1].name
'locality'
"""

from __future__ import annotations

import math
import random

import networkx as nx
import numpy as np

from search_spaces.exceptions import GraphGenerationError, InvalidGenomeError
from search_spaces.priors import Check, Limits, ParamSpec, Prior, register_prior

__all__ = ["barabasi_albert_original"]


def _less_than_nodes(param: str) -> Check:
    def check(nodes, params):
        if params[param] >= nodes:
            raise InvalidGenomeError(f"params.{param}", params[param], f"less than nodes = {nodes}")

    return check


def _at_most_nodes(param: str) -> Check:
    def check(nodes, params):
        if params[param] > nodes:
            raise InvalidGenomeError(f"params.{param}", params[param], f"at most nodes = {nodes}")

    return check


def _limit(param: str, offset: int) -> Limits:
    # The node-dependent upper bound that matches the check above: nodes - 1 or nodes.
    return lambda nodes: {param: (-math.inf, nodes + offset)}


def barabasi_albert_original(nodes: int, m: int, seed: int) -> nx.Graph:
    """Barabási–Albert graph grown from ``m`` isolated nodes (networkx < 2.6 behaviour).

    Today's :func:`networkx.barabasi_albert_graph` starts from a star on ``m + 1`` nodes, which
    leaves one source vertex after low-to-high orientation; the graphs of Stier et al. 2021 were
    grown from ``m`` isolated nodes and so have ``m`` sources. This is the networkx 2.5 algorithm
    (node ``m`` joins all ``m`` seeds, later nodes attach preferentially to ``m`` distinct
    targets), driven by :class:`random.Random` seeded with ``seed``.

    Examples
    --------
    >>> g = barabasi_albert_original(10, 3, seed=0)
    >>> sorted(v for v in g if all(u > v for u in g[v]))
    [0, 1, 2]
    """
    if not 1 <= m < nodes:
        raise GraphGenerationError(f"barabasi_albert_original needs 1 <= m < nodes, got m={m}, nodes={nodes}")
    rng = random.Random(seed)
    graph = nx.empty_graph(m)
    targets = list(range(m))
    repeated: list[int] = []
    for source in range(m, nodes):
        graph.add_edges_from((source, t) for t in targets)
        repeated.extend(targets)
        repeated.extend([source] * m)
        chosen: set[int] = set()
        while len(chosen) < m:
            chosen.add(rng.choice(repeated))
        targets = sorted(chosen)
    return graph


def _upper_pairs(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(nodes, k=1)


def _layered_random(nodes: int, params, seed: int) -> nx.Graph:
    """Nodes split into ``layers`` consecutive index blocks of (almost) equal size; a pair i<j in
    consecutive blocks is joined with probability ``p``, a pair further apart with ``p * skip``,
    a pair inside one block never. The DAG's layers follow the blocks wherever each node has an
    edge from the previous block (always for p = 1); otherwise longest-path layering moves the
    node to an earlier layer."""
    rng = np.random.default_rng(seed)
    layers = min(int(params["layers"]), nodes)
    bounds = [round(i * nodes / layers) for i in range(layers + 1)]
    block = np.repeat(np.arange(layers), np.diff(bounds))
    i, j = _upper_pairs(nodes)
    gap = block[j] - block[i]
    q = np.where(gap == 1, params["p"], params["p"] * params["skip"])
    q[gap == 0] = 0.0
    keep = rng.random(i.size) < q
    graph = nx.empty_graph(nodes)
    graph.add_edges_from(zip(i[keep].tolist(), j[keep].tolist()))
    return graph


def _random_dag(nodes: int, params, seed: int) -> nx.Graph:
    """Edge i->j (i<j) with probability ``p * exp(-(j-i-1)/locality)``: a random DAG whose edges
    prefer nearby positions in the topological order (deeper, narrower networks for small locality)."""
    rng = np.random.default_rng(seed)
    i, j = _upper_pairs(nodes)
    q = params["p"] * np.exp(-(j - i - 1) / params["locality"])
    keep = rng.random(i.size) < q
    graph = nx.empty_graph(nodes)
    graph.add_edges_from(zip(i[keep].tolist(), j[keep].tolist()))
    return graph


def _regular_check(nodes, params):
    d = params["d"]
    if d >= nodes:
        raise InvalidGenomeError("params.d", d, f"less than nodes = {nodes}")
    if (d * nodes) % 2:
        raise InvalidGenomeError("params.d", d, f"a degree with d * nodes even (nodes = {nodes})")


def _explicit(nodes, params, seed):
    # The edges of an explicit genome are its edge edits; the prior contributes only the nodes.
    return nx.empty_graph(nodes)


for _prior in (
    Prior(
        "erdos_renyi",
        (ParamSpec("p", "float", 0.01, 1.0, doc="edge probability"),),
        lambda n, q, s: nx.gnp_random_graph(n, q["p"], seed=s),
        doc="Erdős–Rényi G(n, p)",
    ),
    Prior(
        "watts_strogatz",
        (ParamSpec("k", "int", 2, 20, doc="ring neighbours"), ParamSpec("p", "float", 0.0, 1.0, doc="rewiring probability")),
        lambda n, q, s: nx.connected_watts_strogatz_graph(n, q["k"], q["p"], tries=1000, seed=s),
        check=_less_than_nodes("k"),
        limits=_limit("k", -1),
        min_nodes=3,
        doc="Watts–Strogatz small world, connected variant",
    ),
    Prior(
        "barabasi_albert",
        (ParamSpec("m", "int", 1, 20, doc="edges per new node"),),
        lambda n, q, s: nx.barabasi_albert_graph(n, q["m"], seed=s),
        check=_less_than_nodes("m"),
        limits=_limit("m", -1),
        doc="Barabási–Albert preferential attachment (networkx >= 2.6: grown from a star)",
    ),
    Prior(
        "barabasi_albert_original",
        (ParamSpec("m", "int", 1, 20, doc="edges per new node"),),
        lambda n, q, s: barabasi_albert_original(n, q["m"], s),
        check=_less_than_nodes("m"),
        limits=_limit("m", -1),
        doc="Barabási–Albert grown from m isolated nodes (as in Stier et al. 2021)",
    ),
    Prior(
        "holme_kim",
        (ParamSpec("m", "int", 1, 20, doc="edges per new node"), ParamSpec("p", "float", 0.0, 1.0, doc="triangle probability")),
        lambda n, q, s: nx.powerlaw_cluster_graph(n, q["m"], q["p"], seed=s),
        check=_less_than_nodes("m"),
        limits=_limit("m", -1),
        doc="Holme–Kim power-law graph with tunable clustering",
    ),
    Prior(
        "random_regular",
        (ParamSpec("d", "int", 1, 20, doc="degree of every node"),),
        lambda n, q, s: nx.random_regular_graph(q["d"], n, seed=s),
        check=_regular_check,
        limits=_limit("d", -1),
        doc="random d-regular graph",
    ),
    Prior(
        "layered_random",
        (
            ParamSpec("layers", "int", 2, 12, doc="number of index blocks"),
            ParamSpec("p", "float", 0.05, 1.0, doc="edge probability between consecutive blocks"),
            ParamSpec("skip", "float", 0.0, 1.0, doc="relative probability of skip edges"),
        ),
        _layered_random,
        check=_at_most_nodes("layers"),
        limits=_limit("layers", 0),
        doc="DAG-native: a layered random graph with skip edges",
    ),
    Prior(
        "random_dag",
        (
            ParamSpec("p", "float", 0.05, 1.0, doc="edge probability between neighbours in the order"),
            ParamSpec("locality", "float", 0.5, 50.0, log=True, doc="decay length of edge probability"),
        ),
        _random_dag,
        doc="DAG-native: random DAG with edge probability decaying over the topological order",
    ),
    Prior("explicit", (), _explicit, min_nodes=2, doc="a user's own graph, carried as edge edits"),
):
    register_prior(_prior)
