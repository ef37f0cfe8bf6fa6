"""Features of the network as built: read vertices, source-to-output paths, shares, hidden weights.

Known answers on hand-built DAGs of 3-5 nodes, a brute-force networkx reference (every path
enumerated) on random genomes with both readouts, and the ff weight count of a built model.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from search_spaces.dag import LayeredDAG
from search_spaces.features import FEATURE_DOCS, FEATURE_GROUPS, FEATURE_NAMES, graph_features
from search_spaces.graph_measures import read_paths
from search_spaces.genome import Genome

BUILT = ("read_vertices", "log_paths", "path_length_mean", "path_length_min", "reachable_share",
         "first_layer_share", "last_layer_share", "bottleneck_share", "hidden_weights")  # fmt: skip


def _mask(n, vertices):
    out = np.zeros(n, dtype=bool)
    out[list(vertices)] = True
    return out


def brute_force(dag: LayeredDAG, read) -> dict[str, float]:
    """The path features by enumerating every source-to-read path with networkx."""
    g = dag.to_networkx()
    lengths = []
    on_path = set()
    for s in dag.sources:
        for t in read:
            if s == t:
                lengths.append(0)
                on_path.add(s)
                continue
            for path in nx.all_simple_paths(g, s, t):
                lengths.append(len(path) - 1)
                on_path.update(path)
    return {
        "log_paths": math.log1p(len(lengths)),
        "path_length_mean": float(np.mean(lengths)),
        "path_length_min": float(min(lengths)),
        "reachable_share": len(on_path) / dag.num_nodes,
    }


def test_names_order_and_groups():
    assert FEATURE_NAMES[-len(BUILT):] == BUILT  # appended after the older features, in this order
    assert len(FEATURE_GROUPS["paper"]) == 23 and not set(BUILT) & set(FEATURE_GROUPS["paper"])
    assert len(FEATURE_GROUPS["extended"]) == 54
    assert all(FEATURE_DOCS[name] for name in BUILT)


def test_diamond_with_a_skip_edge():
    # layers (0,) (1, 2) (3,); paths 0-1-3, 0-2-3 and the skip 0-3
    dag = LayeredDAG.from_edges(4, [(0, 1), (0, 2), (1, 3), (2, 3), (0, 3)])
    f = graph_features(dag)
    assert f["read_vertices"] == 1 and f["readout_units"] == 1
    assert f["log_paths"] == pytest.approx(math.log(4))
    assert f["path_length_mean"] == pytest.approx(5 / 3) and f["path_length_min"] == 1
    assert f["reachable_share"] == 1.0
    assert f["first_layer_share"] == 0.25 and f["last_layer_share"] == 0.25 and f["bottleneck_share"] == 0.5
    # 5 edges x 1 + one bias per (source layer, target vertex): (0,1) (0,2) (1,3) (0,3)
    assert f["hidden_weights"] == 9


def test_dead_ends_and_an_isolated_vertex_by_readout():
    # layers (0, 4) (1, 3) (2,): 3 is a dead end, 4 isolated (a source and a sink)
    dag = LayeredDAG.from_edges(5, [(0, 1), (1, 2), (0, 3), (0, 2)])
    sinks = graph_features(dag)  # a bare DAG is read at its sinks: 2, 3 and 4
    assert sinks["read_vertices"] == 3
    # into 2: 0-1-2, 0-2; into 3: 0-3; into 4: the empty path
    assert sinks["log_paths"] == pytest.approx(math.log(5))
    assert sinks["path_length_mean"] == pytest.approx((2 + 1 + 1 + 0) / 4) and sinks["path_length_min"] == 0
    assert sinks["reachable_share"] == 1.0
    last = read_paths(dag, _mask(5, dag.output_layer))  # readout "last": only vertex 2
    assert last["log_paths"] == pytest.approx(math.log(3))
    assert last["path_length_mean"] == 1.5 and last["path_length_min"] == 1
    assert last["reachable_share"] == pytest.approx(3 / 5)  # 3 and 4 compute for nothing


def test_three_node_path():
    f = graph_features(LayeredDAG.from_edges(3, [(0, 1), (1, 2)]))
    assert f["log_paths"] == pytest.approx(math.log(2)) and f["path_length_mean"] == f["path_length_min"] == 2
    assert f["bottleneck_share"] == 1.0 and f["first_layer_share"] == pytest.approx(1 / 3)


def test_path_counts_do_not_overflow():
    # steps of 1-4 nodes from 0 to n - 1: about 1.93^n paths, more than float64 holds at n = 1100
    n = 1100
    dag = LayeredDAG.from_edges(n, [(u, v) for u in range(n) for v in range(u + 1, min(n, u + 5))])
    f = read_paths(dag, _mask(n, dag.output_layer))
    assert math.log(np.finfo(np.float64).max) < f["log_paths"] < math.log(2.0) * n
    assert (n - 1) / 4 <= f["path_length_min"] <= f["path_length_mean"] <= n - 1


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("readout", ["last", "sinks"])
def test_genome_path_features_equal_brute_force(seed, readout):
    genome = Genome(("erdos_renyi", "barabasi_albert_original")[seed % 2],
                    {"p": 0.25} if seed % 2 == 0 else {"m": 2}, nodes=11, seed=seed, width=3, readout=readout)  # fmt: skip
    dag = genome.dag()
    read = dag.output_layer if readout == "last" else dag.sinks
    f = graph_features(genome)
    assert f["read_vertices"] == len(read) and f["readout_units"] == 3 * len(read)
    for key, expected in brute_force(dag, read).items():
        assert f[key] == pytest.approx(expected, rel=1e-12), key
    assert all(math.isfinite(f[name]) for name in BUILT)


@pytest.mark.parametrize("seed", range(4))
def test_hidden_weights_are_the_built_ff_model_less_its_input_and_output_layers(seed):
    torch = pytest.importorskip("torch")
    from search_spaces.builders import build_model

    genome = Genome("erdos_renyi", {"p": 0.3}, nodes=12, seed=seed, width=1 + seed, readout=("last", "sinks")[seed % 2])
    f = graph_features(genome)
    units0 = genome.width * genome.dag().layer_sizes[0]
    in_features, classes = 7, 4
    torch.manual_seed(seed)
    model = build_model(genome.dag(), "ff", num_classes=classes, in_features=in_features, width=genome.width, readout=genome.readout)
    input_layer = in_features * units0 + units0
    output_layer = f["readout_units"] * classes + classes
    assert f["hidden_weights"] == model.nonzero_weights() - input_layer - output_layer
