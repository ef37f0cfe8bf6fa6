"""Graph features: names and groups, equality with networkx on hand-built graphs, edge cases."""

from __future__ import annotations

import math
import statistics

import networkx as nx
import numpy as np
import pytest

from search_spaces.dag import LayeredDAG
from search_spaces.features import (
    FEATURE_DOCS,
    FEATURE_GROUPS,
    FEATURE_NAMES,
    UnknownFeatureError,
    feature_vector,
    graph_features,
)
from search_spaces.genome import Genome

PAPER_23 = {"nodes", "edges", "layers", "source_nodes", "sink_nodes", "diameter", "density",
            "avg_shortest_path_length"} | {f"{p}_{s}" for p in ("eccentricity", "degree_centrality",
            "closeness_centrality", "node_betweenness", "edge_betweenness") for s in ("mean", "var", "std")}  # fmt: skip


def _graph(n, edges):
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)
    return g


def _stats(values):
    """Mean and the paper's sample variance / deviation (ddof=1; 0 for a single value)."""
    values = np.fromiter(values, dtype=float)
    if values.size < 2:
        return values.mean(), 0.0, 0.0
    return values.mean(), values.var(ddof=1), values.std(ddof=1)


def reference(g: nx.Graph) -> dict[str, float]:
    """The features computed with networkx's own functions (LCC rule for path features)."""
    lcc = g.subgraph(min(nx.connected_components(g), key=lambda c: (-len(c), min(c)))).copy()
    dag = LayeredDAG.from_graph(g)
    out = {
        "nodes": g.number_of_nodes(),
        "edges": g.number_of_edges(),
        "layers": dag.num_layers,
        "source_nodes": len(dag.layers[0]),
        "sink_nodes": len(dag.layers[-1]),
        "diameter": nx.diameter(lcc),
        "density": nx.density(dag.to_networkx()),
        "avg_shortest_path_length": nx.average_shortest_path_length(lcc),
        "components": nx.number_connected_components(g),
        "average_clustering": nx.average_clustering(g),
        "transitivity": nx.transitivity(g),
        "spectral_radius": max(np.linalg.eigvalsh(nx.to_numpy_array(g))),
        "algebraic_connectivity": sorted(np.linalg.eigvalsh(nx.laplacian_matrix(lcc).toarray()))[1],
        "isolated_nodes": nx.number_of_isolates(g),
        "degree_max": max(d for _, d in g.degree),
        "node_betweenness_max": max(nx.betweenness_centrality(lcc).values()),
    }
    for prefix, values in {
        "eccentricity": nx.eccentricity(lcc).values(),
        "degree_centrality": nx.degree_centrality(g).values(),
        "closeness_centrality": nx.closeness_centrality(lcc).values(),
        "node_betweenness": nx.betweenness_centrality(lcc).values(),
        "edge_betweenness": nx.edge_betweenness_centrality(lcc).values(),
    }.items():
        out[f"{prefix}_mean"], out[f"{prefix}_var"], out[f"{prefix}_std"] = _stats(values)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = nx.degree_assortativity_coefficient(g)
    out["degree_assortativity"] = 0.0 if math.isnan(r) else r
    return out


HAND_BUILT = {
    "path4": _graph(4, [(0, 1), (1, 2), (2, 3)]),
    "diamond_skip": _graph(4, [(0, 1), (0, 2), (1, 3), (2, 3), (0, 3)]),
    "star5": nx.star_graph(4),
    "triangle_tail": _graph(5, [(0, 1), (1, 2), (0, 2), (2, 3), (3, 4)]),
    "two_parts": _graph(6, [(0, 1), (2, 3), (3, 4), (2, 4)]),  # LCC = the triangle
    "isolated": _graph(5, [(0, 1), (1, 2)]),
    "er30": nx.gnp_random_graph(30, 0.15, seed=1),
    "ba40": nx.barabasi_albert_graph(40, 2, seed=3),
    "ws25": nx.connected_watts_strogatz_graph(25, 4, 0.3, seed=2),
}


def test_names_groups_and_docs():
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES)) == 54
    assert set(FEATURE_GROUPS["paper"]) == PAPER_23 and len(FEATURE_GROUPS["paper"]) == 23
    assert FEATURE_GROUPS["extended"] == FEATURE_NAMES
    assert set(FEATURE_GROUPS["size"]) <= set(FEATURE_NAMES) and "nodes" in FEATURE_GROUPS["size"]
    assert list(FEATURE_DOCS) == list(FEATURE_NAMES)
    for extra in ("components", "average_clustering", "transitivity", "degree_assortativity", "spectral_radius",
                  "algebraic_connectivity", "layer_size_std", "skip_edge_share", "dead_ends"):  # fmt: skip
        assert extra in FEATURE_NAMES


@pytest.mark.parametrize("name", sorted(HAND_BUILT))
def test_features_equal_networkx(name):
    g = HAND_BUILT[name]
    features = graph_features(LayeredDAG.from_graph(g))
    assert list(features) == list(FEATURE_NAMES)
    assert all(isinstance(v, float) and math.isfinite(v) for v in features.values())
    for key, expected in reference(g).items():
        assert features[key] == pytest.approx(expected, rel=1e-9, abs=1e-9), key


def test_dag_features_on_a_hand_built_graph():
    # layers (0, 4) (1, 3) (2,) ; 3 is a dead end, 4 is isolated (a source and a dead end); 0->2 skips.
    f = graph_features(LayeredDAG.from_graph(_graph(5, [(0, 1), (1, 2), (0, 3), (0, 2)])))
    assert f["layers"] == 3 and f["source_nodes"] == 2 and f["sink_nodes"] == 1
    assert f["sinks"] == 3 and f["dead_ends"] == 2
    assert f["skip_edges"] == 1 and f["skip_edge_share"] == 0.25 and f["skip_layer_pairs"] == 1
    assert f["layer_size_mean"] == pytest.approx(5 / 3) and f["layer_size_min"] == 1 and f["layer_size_max"] == 2
    assert f["edge_span_mean"] == pytest.approx(5 / 4)
    assert f["density"] == pytest.approx(4 / 20)  # E / (N (N - 1)), the paper's convention
    assert f["components"] == 2 and f["lcc_fraction"] == pytest.approx(4 / 5) and f["isolated_nodes"] == 1


def test_paper_statistics_are_the_sample_statistics_of_the_authors_code():
    """Stier et al. used ``statistics.variance`` / ``stdev`` (divisor n - 1): compare on a 5-node
    graph (a triangle with a two-edge tail) against networkx and the statistics module directly."""
    g = _graph(5, [(0, 1), (1, 2), (0, 2), (2, 3), (3, 4)])
    f = graph_features(LayeredDAG.from_graph(g))
    for prefix, values in {
        "eccentricity": nx.eccentricity(g).values(),  # 3, 3, 2, 2, 3
        "closeness_centrality": nx.closeness_centrality(g).values(),
        "degree_centrality": nx.degree_centrality(g).values(),
        "node_betweenness": nx.betweenness_centrality(g).values(),
        "edge_betweenness": nx.edge_betweenness_centrality(g).values(),
    }.items():
        values = list(values)
        assert f[f"{prefix}_var"] == pytest.approx(statistics.variance(values), rel=1e-12, abs=1e-15), prefix
        assert f[f"{prefix}_std"] == pytest.approx(statistics.stdev(values), rel=1e-12, abs=1e-15), prefix
    assert f["eccentricity_var"] == pytest.approx(0.3)  # mean 2.6, squares 0.16 * 3 + 0.36 * 2 = 1.2, / 4
    # the layer sizes keep their documented population deviation
    widths = LayeredDAG.from_graph(g).layer_sizes
    assert f["layer_size_std"] == pytest.approx(statistics.pstdev(widths))


def test_statistics_of_a_single_value_are_zero():
    # one edge: one edge-betweenness value, for which the sample variance is undefined -> 0.0
    f = graph_features(LayeredDAG.from_edges(3, [(0, 1)]))
    assert f["edge_betweenness_var"] == f["edge_betweenness_std"] == 0.0
    assert all(math.isfinite(v) for v in f.values())


def test_regular_graph_assortativity_is_defined():
    g = nx.random_regular_graph(3, 10, seed=0)
    f = graph_features(LayeredDAG.from_graph(g))
    assert f["degree_assortativity"] == 0.0
    assert f["degree_centrality_var"] == pytest.approx(0.0)


def test_single_edge_graph_is_finite():
    f = graph_features(LayeredDAG.from_edges(2, [(0, 1)]))
    assert all(math.isfinite(v) for v in f.values())
    assert f["diameter"] == 1 and f["edge_betweenness_mean"] == pytest.approx(1.0)


def test_vectors_follow_names_and_groups():
    dag = Genome("watts_strogatz", {"k": 4, "p": 0.3}, nodes=20, seed=1).dag()
    full = graph_features(dag)
    np.testing.assert_array_equal(feature_vector(dag), [full[n] for n in FEATURE_NAMES])
    np.testing.assert_array_equal(feature_vector(dag, "paper"), [full[n] for n in FEATURE_GROUPS["paper"]])
    np.testing.assert_array_equal(feature_vector(dag, ["edges", "nodes"]), [full["edges"], 20.0])
    assert feature_vector(dag).dtype == np.float64
    # A genome is accepted in place of its DAG.
    assert graph_features(Genome("watts_strogatz", {"k": 4, "p": 0.3}, nodes=20, seed=1)) == full
    with pytest.raises(UnknownFeatureError, match="bogus"):
        feature_vector(dag, ["nodes", "bogus"])
    with pytest.raises(UnknownFeatureError, match="group"):
        feature_vector(dag, "everything")


def test_sampled_betweenness_is_seeded_and_close():
    dag = Genome("barabasi_albert_original", {"m": 3}, nodes=120, seed=0).dag()
    exact = graph_features(dag)
    sampled = graph_features(dag, exact_betweenness_max=50, betweenness_samples=60, seed=1)
    assert sampled == graph_features(dag, exact_betweenness_max=50, betweenness_samples=60, seed=1)
    assert sampled != graph_features(dag, exact_betweenness_max=50, betweenness_samples=60, seed=2)
    for key in ("node_betweenness_mean", "edge_betweenness_mean"):
        assert sampled[key] == pytest.approx(exact[key], rel=0.25)
    for key in ("diameter", "closeness_centrality_mean", "eccentricity_var", "nodes", "layers"):
        assert sampled[key] == exact[key]


def test_large_graph_uses_sparse_spectra_consistently():
    from search_spaces import graph_measures

    dag = Genome("watts_strogatz", {"k": 6, "p": 0.2}, nodes=150, seed=0).dag()
    dense = graph_features(dag)
    old = graph_measures.DENSE_SPECTRUM_MAX
    graph_measures.DENSE_SPECTRUM_MAX = 10  # force the ARPACK path on a small graph
    try:
        sparse_path = graph_features(dag)
    finally:
        graph_measures.DENSE_SPECTRUM_MAX = old
    for key in ("spectral_radius", "algebraic_connectivity"):
        assert sparse_path[key] == pytest.approx(dense[key], rel=1e-6)


def test_bad_input():
    from search_spaces.exceptions import SearchSpaceError

    with pytest.raises(SearchSpaceError, match="LayeredDAG"):
        graph_features(nx.path_graph(3))


def test_genome_features_are_cached_and_returned_as_fresh_copies():
    from search_spaces.features import _genome_features, graph_features
    from search_spaces.genome import Genome

    g = Genome("erdos_renyi", {"p": 0.3}, nodes=15, seed=2)
    first = graph_features(g)
    hits = _genome_features.cache_info().hits
    first["nodes"] = -1.0  # the caller's copy; the cache must not see it
    again = graph_features(g)
    assert _genome_features.cache_info().hits == hits + 1
    assert again == graph_features(g.dag()) and again["nodes"] == 15.0


def test_width_and_readout_units_come_from_the_genome():
    from search_spaces.features import graph_features
    from search_spaces.genome import Genome

    g = Genome("erdos_renyi", {"p": 0.3}, nodes=20, seed=1, width=4)
    dag = g.dag()
    sinks = graph_features(g)
    last = graph_features(g.replace(readout="last"))
    assert sinks["width"] == last["width"] == 4.0
    assert sinks["readout_units"] == 4 * len(dag.sinks) and last["readout_units"] == 4 * dag.layer_sizes[-1]
    bare = graph_features(dag)  # a bare DAG: width 1, read by its sinks
    assert bare["width"] == 1.0 and bare["readout_units"] == len(dag.sinks)
    by_width = ("width", "readout_units", "hidden_weights")
    assert {k: v for k, v in bare.items() if k not in by_width} == {k: v for k, v in sinks.items() if k not in by_width}
