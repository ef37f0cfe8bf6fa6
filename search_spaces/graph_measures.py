"""The graph measures behind :mod:`search_spaces.features`, vectorised.

Breadth-first search and Brandes' betweenness run level by level as sparse-matrix products over
blocks of sources, so the Python loop runs over BFS levels rather than over nodes and edges;
clustering, assortativity and spectra are array expressions; paths from the sources to the read
vertices are counted exactly by dynamic programming. The conventions (which graph, which
statistics, sampling) are the features' module notes.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.sparse.linalg import eigsh

from search_spaces.dag import LayeredDAG

__all__ = [
    "stat_triplet",
    "read_paths",
    "path_features",
    "bfs",
    "brandes",
    "clustering",
    "assortativity",
    "spectral_radius",
    "algebraic_connectivity",
    "DENSE_SPECTRUM_MAX",
]

_BLOCK = 256  # sources per vectorised BFS pass: bounds memory at O(sources * nodes)
#: Graphs up to this many nodes get dense eigenvalue solvers; larger ones ARPACK.
DENSE_SPECTRUM_MAX = 1000


def stat_triplet(prefix: str, values: np.ndarray) -> dict[str, float]:
    """Mean, sample variance and sample standard deviation (ddof=1), as the paper's code computes
    them (``statistics.variance`` / ``stdev``); variance and deviation of fewer than two values
    are 0.0 rather than undefined."""
    var = float(np.var(values, ddof=1)) if values.size > 1 else 0.0
    return {
        f"{prefix}_mean": float(np.mean(values)) if values.size else 0.0,
        f"{prefix}_var": var,
        f"{prefix}_std": math.sqrt(var),
    }


def read_paths(dag: LayeredDAG, read: np.ndarray) -> dict[str, float]:
    """Paths from the sources to the ``read`` vertices (a boolean mask), by dynamic programming.

    One pass over the edges sorted by tail (tail < head), so every path into a vertex is counted
    before the vertex's own out-edges are followed; counts are Python integers, exact for any DAG
    (a 200-node one can have more than 10^50 paths). A backward pass marks the vertices from which
    a read vertex is reachable; every vertex is reachable from a source, so those are the vertices
    on some source-to-read path.
    """
    n = dag.num_nodes
    layer = dag.layer_of
    count = [1 if layer[v] == 0 else 0 for v in range(n)]  # paths from any source into v
    total_length = [0] * n  # summed length (edges) of those paths
    shortest = [0 if layer[v] == 0 else n for v in range(n)]
    edges = sorted(dag.edges)  # already sorted when built by from_edges: timsort checks in O(E)
    for u, v in edges:
        c = count[u]
        count[v] += c
        total_length[v] += total_length[u] + c
        if shortest[u] + 1 < shortest[v]:
            shortest[v] = shortest[u] + 1
    on_path = read.tolist()
    for u, v in reversed(edges):
        if on_path[v]:
            on_path[u] = True
    picked = np.flatnonzero(read).tolist()
    paths = sum(count[v] for v in picked)  # >= 1: a read vertex is reached from some source
    return {
        "log_paths": math.log(paths + 1),  # math.log takes integers of any size; log1p does not
        "path_length_mean": sum(total_length[v] for v in picked) / paths,  # int / int: exact rounding
        "path_length_min": min(shortest[v] for v in picked),
        "reachable_share": sum(on_path) / n,
    }


def path_features(adj: sparse.csr_array, exact_max: int, samples: int, seed: int) -> dict[str, float]:
    """Distances, closeness and Brandes betweenness of a *connected* graph, in blocks of sources.

    Breadth-first search and Brandes' accumulation run level by level for a block of sources at
    once, as sparse-matrix products, so the Python loop runs over BFS levels rather than over
    nodes and edges.
    """
    n = adj.shape[0]
    ecc = np.zeros(n)
    dist_sum = np.zeros(n)
    node_bc = np.zeros(n)
    eu, ev = sparse.triu(adj, k=1).nonzero()
    edge_bc = np.zeros(eu.size)
    if n > exact_max and samples < n:
        chosen = np.sort(np.random.default_rng(seed).choice(n, size=samples, replace=False))
    else:
        chosen = np.arange(n)
    is_chosen = np.zeros(n, dtype=bool)
    is_chosen[chosen] = True
    for start in range(0, n, _BLOCK):
        block = np.arange(start, min(start + _BLOCK, n))
        dist, sigma = bfs(adj, block)
        ecc[block] = dist.max(axis=0)
        dist_sum[block] = dist.sum(axis=0)
        pick = is_chosen[block]
        if pick.any():
            nb, eb = brandes(adj, dist[:, pick], sigma[:, pick], block[pick], eu, ev)
            node_bc += nb
            edge_bc += eb
    # networkx normalisation (undirected, endpoints excluded); with k sampled sources, x n / k.
    scale_k = n / chosen.size
    node_bc *= (1.0 / ((n - 1) * (n - 2)) if n > 2 else 0.5) * scale_k
    edge_bc *= (1.0 / (n * (n - 1))) * scale_k
    out = {
        "diameter": ecc.max(),
        "avg_shortest_path_length": dist_sum.sum() / (n * (n - 1)),
        "node_betweenness_max": node_bc.max(),
    }
    out.update(stat_triplet("eccentricity", ecc))
    out.update(stat_triplet("closeness_centrality", (n - 1) / dist_sum))
    out.update(stat_triplet("node_betweenness", node_bc))
    out.update(stat_triplet("edge_betweenness", edge_bc))
    return out


def bfs(adj, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances and shortest-path counts from ``sources``, each ``(nodes, len(sources))``.

    The graph is connected, so every node is reached.
    """
    n, b = adj.shape[0], sources.size
    cols = np.arange(b)
    sigma = np.zeros((n, b))
    sigma[sources, cols] = 1.0
    dist = np.full((n, b), -1, dtype=np.int64)
    dist[sources, cols] = 0
    frontier = sigma.copy()
    level = 0
    while True:
        reach = adj @ frontier  # paths into each node from the current frontier
        new = (reach > 0) & (dist < 0)
        if not new.any():
            return dist, sigma
        level += 1
        dist[new] = level
        sigma[new] = reach[new]
        frontier = np.where(new, reach, 0.0)


def brandes(adj, dist: np.ndarray, sigma: np.ndarray, sources: np.ndarray, eu: np.ndarray, ev: np.ndarray):
    """Brandes dependencies summed over ``sources`` (columns of ``dist`` and ``sigma``).

    Returns un-normalised node betweenness (each unordered pair counted from both ends) and
    edge betweenness for the edges ``(eu[i], ev[i])``.
    """
    n, b = dist.shape
    cols = np.arange(b)
    depth = int(dist.max())
    delta = np.zeros((n, b))
    for level in range(depth - 1, -1, -1):
        coef = np.where(dist == level + 1, (1.0 + delta) / sigma, 0.0)
        here = dist == level
        delta[here] = (sigma * (adj @ coef))[here]
    node = delta.sum(axis=1)
    np.subtract.at(node, sources, delta[sources, cols])  # a source is no intermediate of itself
    # An edge (u, v) lies on shortest paths from s through u to v when d(s, v) = d(s, u) + 1.
    ratio = (1.0 + delta) / sigma
    forward = (dist[ev] == dist[eu] + 1) * sigma[eu] * ratio[ev]
    backward = (dist[eu] == dist[ev] + 1) * sigma[ev] * ratio[eu]
    edge = (forward + backward).sum(axis=1)
    return node, edge


def clustering(adj: sparse.csr_array, degree: np.ndarray) -> dict[str, float]:
    """Mean local clustering and transitivity (global clustering) of the graph ``adj``."""
    # Twice the triangles at each node: row sums of (A @ A) * A.
    twice_tri = np.asarray((adj @ adj).multiply(adj).sum(axis=1)).ravel()
    pairs = degree * (degree - 1)
    local = np.divide(twice_tri, pairs, out=np.zeros_like(twice_tri), where=pairs > 0)
    total_pairs = pairs.sum()
    return {
        "average_clustering": float(local.mean()),
        "transitivity": float(twice_tri.sum() / total_pairs) if total_pairs > 0 else 0.0,
    }


def assortativity(dag: LayeredDAG, degree: np.ndarray) -> float:
    """Degree assortativity (Pearson correlation over edges), 0.0 where it is undefined."""
    u, v = np.asarray(dag.edges).T
    # Each undirected edge counted in both directions, as networkx does.
    x = np.concatenate([degree[u], degree[v]])
    y = np.concatenate([degree[v], degree[u]])
    sx, sy = x.std(), y.std()
    if sx == 0 or sy == 0:
        return 0.0
    return float(np.mean((x - x.mean()) * (y - y.mean())) / (sx * sy))


def spectral_radius(adj: sparse.csr_array) -> float:
    """The largest adjacency eigenvalue (dense up to :data:`DENSE_SPECTRUM_MAX` nodes, else ARPACK)."""
    n = adj.shape[0]
    if n <= DENSE_SPECTRUM_MAX:
        return float(np.linalg.eigvalsh(adj.toarray())[-1])

    v0 = np.random.default_rng(0).random(n)  # fixed start vector: deterministic ARPACK
    return float(eigsh(adj.astype(np.float64), k=1, which="LA", v0=v0, return_eigenvectors=False)[0])


def algebraic_connectivity(adj: sparse.csr_array) -> float:
    """The second-smallest Laplacian eigenvalue of a connected graph."""
    n = adj.shape[0]
    lap = csgraph.laplacian(adj.astype(np.float64))
    if n <= DENSE_SPECTRUM_MAX:
        values = np.linalg.eigvalsh(lap.toarray())
    else:
        v0 = np.random.default_rng(0).random(n)
        values = np.sort(eigsh(sparse.csc_matrix(lap), k=2, sigma=-1e-3, which="LM", v0=v0, return_eigenvectors=False))
    # The component is connected, so the smallest eigenvalue is 0; clip round-off below zero.
    return max(float(values[1]), 0.0)
