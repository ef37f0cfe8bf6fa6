"""Structural features of a layered DAG: the paper's 23 and more from network science.

Every feature is a finite float with a stable name; :data:`FEATURE_NAMES` fixes their order for
:func:`feature_vector`. The computation is vectorised (breadth-first search and Brandes' betweenness as
level-by-level sparse-matrix products over blocks of sources, :mod:`search_spaces.graph_measures`), so a 1,000-node graph takes well
under a second on one CPU core (``scripts/bench_features.py``).

Rules
-----
* **Which graph.** Undirected features (paths, centralities, clustering, spectra) are computed on
  the undirected graph the DAG was oriented from (:meth:`LayeredDAG.undirected`); ``layers``,
  ``source_nodes``, ``sink_nodes``, ``sinks``, ``dead_ends``, layer sizes and skip edges on the
  oriented, layered DAG.
* **Density** follows the paper: ``E / (N (N - 1))`` — the density of the *oriented* graph
  (``networkx.density`` of the DAG), half of the undirected ``networkx.density``. Kept so values
  are comparable with Stier et al. 2021.
* **Disconnected graphs.** ``diameter``, ``avg_shortest_path_length``, eccentricity, closeness,
  node and edge betweenness and ``algebraic_connectivity`` are computed on the *largest connected
  component* (ties: the component holding the smallest node), with networkx's normalisations for a
  graph of that component's size; ``components``, ``lcc_fraction`` and ``isolated_nodes`` say how
  much was left out. Degree centrality, clustering, assortativity and the spectral radius use the
  whole graph.
* **Statistics.** The paper's ``*_var`` / ``*_std`` (eccentricity, degree, closeness, node and
  edge betweenness) are the *sample* variance and standard deviation (divisor ``n - 1``, as the
  authors' ``statistics.variance`` / ``statistics.stdev``); over a single value (e.g. the one
  edge of a two-node component) both are defined as 0.0. ``layer_size_std`` is the population
  standard deviation (``ddof=0``) of the layer sizes, as it always was.
* **The network as built.** ``width``, ``readout_units``, ``read_vertices``, ``log_paths``,
  ``path_length_mean``, ``path_length_min``, ``reachable_share`` and ``hidden_weights`` depend on
  the genome's width and readout: the output reads the last DAG layer (readout ``"last"``) or
  every sink (``"sinks"``). A bare :class:`LayeredDAG` is read as width 1 with readout
  ``"sinks"``. Paths run from a source (layer 0, which receives the input) to a read vertex and
  are counted exactly (Python integers: no overflow however many there are); an isolated read
  vertex is a path of length 0.
* **Degenerate values.** Degree assortativity is undefined (0/0; NaN in networkx) when every edge
  joins nodes of equal degree, e.g. in a regular graph: it is defined as 0.0 there (no measurable
  degree correlation). A feature that would still come out non-finite raises, never returns NaN.
* **Betweenness sampling.** Exact (Brandes) while the component has at most
  ``exact_betweenness_max`` nodes (default 1,000); above, node and edge betweenness are estimated
  from ``betweenness_samples`` source nodes (default 512) drawn without replacement by
  ``numpy.random.default_rng(seed)``, rescaled like ``networkx.betweenness_centrality(k=...)``.

Examples
--------
>>> import networkx as nx
>>> from search_spaces.dag import LayeredDAG
>>> f = graph_features(LayeredDAG.from_graph(nx.path_graph(4)))
>>> f["layers"], f["diameter"], f["density"]
(4.0, 3.0, 0.25)
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.sparse import csgraph

from search_spaces.dag import LayeredDAG
from search_spaces.exceptions import SearchSpaceError
from search_spaces.genome import Genome
from search_spaces.graph_measures import (
    algebraic_connectivity,
    assortativity,
    clustering,
    path_features,
    read_paths,
    spectral_radius,
    stat_triplet,
)

__all__ = [
    "FEATURE_VERSION",
    "FEATURE_NAMES",
    "FEATURE_GROUPS",
    "FEATURE_DOCS",
    "DERIVED_DOCS",
    "graph_features",
    "feature_vector",
    "UnknownFeatureError",
]


class UnknownFeatureError(SearchSpaceError, KeyError):
    """A feature or feature-group name that does not exist."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


def _stats(prefix: str, what: str) -> dict[str, str]:
    return {
        f"{prefix}_mean": f"mean of {what}",
        f"{prefix}_var": f"sample variance (ddof=1; 0 for one value) of {what}",
        f"{prefix}_std": f"sample standard deviation (ddof=1; 0 for one value) of {what}",
    }


#: name -> one-line description, in the fixed feature order.
FEATURE_DOCS: dict[str, str] = {
    # --- the paper's 23 ---------------------------------------------------------------------
    "nodes": "number of vertices N",
    "edges": "number of edges E",
    "layers": "number of layers of the layered DAG",
    "source_nodes": "size of the first layer (the DAG's sources)",
    "sink_nodes": "size of the last layer",
    "diameter": "diameter (largest connected component)",
    "density": "E / (N (N - 1)), the paper's convention (density of the oriented DAG)",
    "avg_shortest_path_length": "average shortest path length (largest connected component)",
    **_stats("eccentricity", "eccentricity (largest connected component)"),
    **_stats("degree_centrality", "degree centrality, degree / (N - 1)"),
    **_stats("closeness_centrality", "closeness centrality (largest connected component)"),
    **_stats("node_betweenness", "normalised node betweenness (largest connected component)"),
    **_stats("edge_betweenness", "normalised edge betweenness (largest connected component)"),
    # --- extended ---------------------------------------------------------------------------
    "components": "number of connected components (isolated nodes count)",
    "lcc_fraction": "share of nodes in the largest connected component",
    "isolated_nodes": "nodes without any edge",
    "degree_max": "largest degree",
    "node_betweenness_max": "largest normalised node betweenness",
    "average_clustering": "mean local clustering coefficient (0 for degree < 2)",
    "transitivity": "global clustering: 3 x triangles / connected triples",
    "degree_assortativity": "degree Pearson correlation over edges (0 when undefined)",
    "spectral_radius": "largest adjacency eigenvalue",
    "algebraic_connectivity": "second-smallest Laplacian eigenvalue (largest connected component)",
    "layer_size_mean": "mean layer size",
    "layer_size_std": "population standard deviation (ddof=0) of layer sizes",
    "layer_size_min": "narrowest layer",
    "layer_size_max": "widest layer",
    "sinks": "vertices without out-edges in the DAG (last layer and dead ends)",
    "dead_ends": "sinks outside the last layer",
    "skip_edges": "edges spanning two or more layers",
    "skip_edge_share": "skip edges / edges",
    "skip_layer_pairs": "layer pairs (s, t >= s + 2) joined by edges (masked skip layers)",
    "edge_span_mean": "mean number of layers an edge spans",
    "width": "units per vertex (1 for a bare DAG, the paper's network)",
    "readout_units": "units the output reads: width x (sinks, or last-layer vertices with readout 'last'; a bare DAG reads its sinks)",
    # --- the network as built (width and readout of the genome) -----------------------------
    "read_vertices": "vertices the output reads: the last layer (readout 'last') or every sink",
    "log_paths": "log(1 + number of source-to-read-vertex paths in the DAG)",
    "path_length_mean": "mean length in edges of the source-to-read-vertex paths (each path counted once)",
    "path_length_min": "shortest source-to-read-vertex path in edges (0 when an isolated vertex is read)",
    "reachable_share": "share of vertices on some source-to-read-vertex path (the rest compute for nothing)",
    "first_layer_share": "source_nodes / nodes: share of vertices that receive the input",
    "last_layer_share": "sink_nodes / nodes: share of vertices in the last layer",
    "bottleneck_share": "layer_size_min / layer_size_max (1 for equal layers)",
    "hidden_weights": "ff weights and biases between hidden units: edges x width^2 + width x (source layer, target vertex) pairs",
}

FEATURE_NAMES: tuple[str, ...] = tuple(FEATURE_DOCS)

_PAPER = (
    "nodes", "edges", "layers", "source_nodes", "sink_nodes", "diameter", "density",
    "avg_shortest_path_length",
    *(f"{p}_{s}" for p in ("eccentricity", "degree_centrality", "closeness_centrality",
                            "node_betweenness", "edge_betweenness") for s in ("mean", "var", "std")),
)  # fmt: skip

#: Counts that grow with the graph: the ``normalised`` group divides each by the number of vertices.
PER_NODE: tuple[str, ...] = (
    "layers", "source_nodes", "sink_nodes", "diameter", "avg_shortest_path_length", "eccentricity_mean",
    "eccentricity_std", "components", "isolated_nodes", "degree_max", "layer_size_mean", "layer_size_std",
    "layer_size_min", "layer_size_max", "sinks", "dead_ends", "skip_edges", "skip_layer_pairs", "readout_units",
    "read_vertices", "log_paths", "path_length_mean", "path_length_min",
)

#: Derived features, computed from the others (not part of ``extended``): ``NAME_per_node`` = NAME / N.
DERIVED_DOCS: dict[str, str] = {f"{name}_per_node": f"{name} divided by the number of vertices N" for name in PER_NODE}

#: Named feature sets: the paper's 23, everything, a size-only baseline (does structure add
#: anything beyond size?), and ``normalised``: every feature with the size taken out — counts per
#: vertex, the raw sizes (nodes, edges, hidden weights) and the size-bound variances left out — for
#: predictors asked to transfer to graphs of other sizes or priors.
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "paper": _PAPER,
    "extended": FEATURE_NAMES,
    "size": ("nodes", "edges", "density"),
    "normalised": tuple(
        f"{name}_per_node" if name in PER_NODE else name for name in FEATURE_NAMES
        if name not in ("nodes", "edges", "hidden_weights", "eccentricity_var")
    ),
}

#: Bumped whenever a feature's *value* changes for the same name (names alone cannot tell), so a
#: saved predictor fitted on other values is refused: 2 made the paper's ``*_var`` / ``*_std`` the
#: sample statistics (ddof=1; 1 was ddof=0) and added the features of the network as built.
FEATURE_VERSION = 2

EXACT_BETWEENNESS_MAX = 1000
BETWEENNESS_SAMPLES = 512


def graph_features(
    dag,
    *,
    exact_betweenness_max: int = EXACT_BETWEENNESS_MAX,
    betweenness_samples: int = BETWEENNESS_SAMPLES,
    seed: int = 0,
) -> dict[str, float]:
    """All features of a layered DAG, in :data:`FEATURE_NAMES` order.

    Parameters
    ----------
    dag : LayeredDAG or Genome
        The architecture. A genome is decoded with ``genome.dag()``; its features are cached per
        process (the last 8,192 genomes and options), since they are a pure function of it.
        The returned dict is always a fresh copy.
    exact_betweenness_max : int
        Largest component size with exact betweenness; above it, sampled (see module notes).
    betweenness_samples : int
        Number of sampled source nodes for large components.
    seed : int
        Seed of the source sample (only used above ``exact_betweenness_max``).

    Returns
    -------
    dict of str to float

    Raises
    ------
    SearchSpaceError
        ``dag`` is neither a LayeredDAG nor something with a ``dag()`` method, or a feature came
        out non-finite.

    Examples
    --------
    >>> import networkx as nx
    >>> f = graph_features(LayeredDAG.from_graph(nx.star_graph(3)))
    >>> f["source_nodes"], f["sink_nodes"], f["degree_assortativity"]
    (1.0, 3.0, -1.0)
    """
    options = (exact_betweenness_max, betweenness_samples, seed)
    if isinstance(dag, Genome):
        # A genome's features are a pure function of it: searches ask for the same genomes every
        # generation (predictor refits, ledger attributes), so decode and compute each once.
        return dict(_genome_features(dag, options))
    if not isinstance(dag, LayeredDAG):
        if hasattr(dag, "dag"):
            dag = dag.dag()
        else:
            raise SearchSpaceError(f"graph_features expects a LayeredDAG or a Genome, got {type(dag).__name__}")
    return _compute(dag, *options)


@functools.lru_cache(maxsize=8192)
def _genome_features(genome: Genome, options: tuple) -> dict[str, float]:
    # The graph's features do not depend on width or readout, which mutations and budgets change
    # all the time: compute them once per graph and add the cheap built-network ones on top.
    dag, graph_part = _graph_part(genome.replace(width=1, readout="sinks"), options)
    return _finish(dag, {**graph_part, **_built(dag, genome.width, genome.readout)})


@functools.lru_cache(maxsize=8192)
def _graph_part(genome: Genome, options: tuple) -> tuple[LayeredDAG, dict[str, float]]:
    dag = genome.dag()
    return dag, _graph_features(dag, *options)


def _compute(
    dag: LayeredDAG,
    exact_betweenness_max: int,
    betweenness_samples: int,
    seed: int,
    *,
    width: int = 1,
    readout: str = "sinks",
) -> dict[str, float]:
    graph_part = _graph_features(dag, exact_betweenness_max, betweenness_samples, seed)
    return _finish(dag, {**graph_part, **_built(dag, width, readout)})


def _built(dag: LayeredDAG, width: int, readout: str) -> dict[str, float]:
    """The features of the network as built: they depend on the width and the readout."""
    n, e = dag.num_nodes, dag.num_edges
    read = np.zeros(n, dtype=bool)
    read[list(dag.output_layer if readout == "last" else dag.sinks)] = True
    out: dict[str, float] = {"width": width, "read_vertices": int(np.count_nonzero(read))}
    out["readout_units"] = width * out["read_vertices"]
    out.update(read_paths(dag, read))
    u, v = np.asarray(dag.edges).T
    layer = np.asarray(dag.layer_of)
    fed = np.unique(layer[u] * n + v).size  # (source layer, target vertex): one bias per pair
    out["hidden_weights"] = e * width * width + fed * width
    return out


def _finish(dag: LayeredDAG, out: dict) -> dict[str, float]:
    """Every feature as a float, in :data:`FEATURE_NAMES` order; raises on a non-finite one."""
    result = {name: float(out[name]) for name in FEATURE_NAMES}
    bad = [name for name, value in result.items() if not math.isfinite(value)]
    if bad:  # by construction unreachable; never hand NaN to a predictor silently
        raise SearchSpaceError(f"non-finite features {bad} for {dag!r}")
    return result


def _graph_features(dag: LayeredDAG, exact_betweenness_max: int, betweenness_samples: int, seed: int) -> dict[str, float]:
    """Every feature that depends on the graph alone (not on width or readout)."""
    n, e = dag.num_nodes, dag.num_edges
    adj = dag.adjacency()
    degree = np.asarray(adj.sum(axis=1)).ravel()
    out: dict[str, float] = {
        "nodes": n,
        "edges": e,
        "layers": dag.num_layers,
        "source_nodes": dag.layer_sizes[0],
        "sink_nodes": dag.layer_sizes[-1],
        "density": e / (n * (n - 1)),
    }
    out.update(stat_triplet("degree_centrality", degree / (n - 1)))

    ncomp, labels = csgraph.connected_components(adj, directed=False)
    # argmax returns the first maximum; scipy numbers components by their smallest node.
    lcc_label = int(np.argmax(np.bincount(labels)))
    lcc = np.flatnonzero(labels == lcc_label)
    sub = adj[lcc][:, lcc].tocsr()
    paths = path_features(sub, exact_betweenness_max, betweenness_samples, seed)
    out.update(paths)
    out["components"] = ncomp
    out["lcc_fraction"] = lcc.size / n
    out["isolated_nodes"] = int(np.count_nonzero(degree == 0))
    out["degree_max"] = degree.max()
    out.update(clustering(adj, degree))
    out["degree_assortativity"] = assortativity(dag, degree)
    out["spectral_radius"] = spectral_radius(adj)
    out["algebraic_connectivity"] = algebraic_connectivity(sub)
    sizes = np.asarray(dag.layer_sizes, dtype=np.float64)
    out["layer_size_mean"] = sizes.mean()
    out["layer_size_std"] = sizes.std()
    out["layer_size_min"] = sizes.min()
    out["layer_size_max"] = sizes.max()
    out["sinks"] = len(dag.sinks)
    out["dead_ends"] = len(dag.dead_ends)
    out["skip_edges"] = len(dag.skip_edges)
    out["skip_edge_share"] = len(dag.skip_edges) / e
    out["skip_layer_pairs"] = len(dag.skip_pairs)
    u, v = np.asarray(dag.edges).T
    layer = np.asarray(dag.layer_of)
    out["edge_span_mean"] = float(np.mean(layer[v] - layer[u]))
    out["first_layer_share"] = dag.layer_sizes[0] / n
    out["last_layer_share"] = dag.layer_sizes[-1] / n
    out["bottleneck_share"] = sizes.min() / sizes.max()
    return out


def feature_vector(dag, names=FEATURE_NAMES, **options) -> np.ndarray:
    """Features as a float64 vector in the order of ``names``.

    Parameters
    ----------
    dag : LayeredDAG or Genome
    names : sequence of str or str
        Feature names (of :data:`FEATURE_DOCS` or :data:`DERIVED_DOCS`), or a group name of
        :data:`FEATURE_GROUPS` (``"paper"``, ``"extended"``, ``"size"``, ``"normalised"``).
    **options
        Passed to :func:`graph_features`.

    Raises
    ------
    UnknownFeatureError
        A name that is neither a feature nor a group.
    """
    names = resolve_names(names)
    values = graph_features(dag, **options)
    return np.array([values[name] if name in values else values[name[: -len("_per_node")]] / values["nodes"]
                     for name in names], dtype=np.float64)


def resolve_names(names) -> tuple[str, ...]:
    """Turn a group name or a sequence of feature names into a validated tuple of names."""
    if isinstance(names, str):
        if names not in FEATURE_GROUPS:
            raise UnknownFeatureError(f"unknown feature group {names!r}; expected one of {sorted(FEATURE_GROUPS)}")
        return FEATURE_GROUPS[names]
    names = tuple(names)
    unknown = [name for name in names if name not in FEATURE_DOCS and name not in DERIVED_DOCS]
    if unknown:
        raise UnknownFeatureError(f"unknown features {unknown}; expected names from FEATURE_NAMES")
    return names


__all__.append("resolve_names")
