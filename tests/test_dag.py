"""LayeredDAG on hand-built graphs: orientation, layers, dead ends, skip pairs, masks."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from search_spaces.dag import InvalidGraphError, LayeredDAG
from search_spaces.exceptions import EmptyGraphError


def test_chain_with_a_skip_edge():
    dag = LayeredDAG.from_graph(nx.Graph([(0, 1), (1, 2), (0, 2), (2, 3)]))
    assert dag.layers == ((0,), (1,), (2,), (3,))
    assert dag.layer_of == (0, 1, 2, 3)
    assert dag.skip_edges == ((0, 2),)
    assert dag.skip_pairs == ((0, 2),)
    assert dag.layer_pairs == ((0, 1), (0, 2), (1, 2), (2, 3))
    assert dag.dead_ends == ()
    assert dag.sources == (0,) and dag.sinks == (3,)


def test_orientation_is_low_to_high_index():
    dag = LayeredDAG.from_graph(nx.Graph([(3, 0), (2, 1)]))
    assert dag.edges == ((0, 3), (1, 2))
    assert dag.layer_sizes == (2, 2)


def test_layer_is_one_plus_max_predecessor_layer():
    # 0->1->3, 0->2->3, 2->4 ; 1->4: node 4 has predecessors in layers 1 and 1.
    dag = LayeredDAG.from_graph(nx.Graph([(0, 1), (0, 2), (1, 3), (2, 3), (2, 4), (1, 4), (3, 4)]))
    assert dag.layer_of == (0, 1, 1, 2, 3)
    assert dag.layer_sizes == (1, 2, 1, 1)
    assert dag.position == (0, 0, 1, 0, 0)
    assert set(dag.skip_edges) == {(1, 4), (2, 4)}
    assert dag.skip_pairs == ((1, 3),)


def test_dead_ends_and_isolated_nodes():
    # 0->1->2 is the deep path; 3 hangs off 0 and stops in layer 1; 4 is isolated.
    dag = LayeredDAG.from_graph(_graph(5, [(0, 1), (1, 2), (0, 3)]))
    assert dag.layers == ((0, 4), (1, 3), (2,))
    assert dag.sinks == (2, 3, 4)
    assert dag.dead_ends == (3, 4)
    assert dag.output_layer == (2,)
    assert dag.input_layer == (0, 4)


def _graph(n, edges):
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)
    return g


def test_masks_match_edges():
    dag = LayeredDAG.from_graph(nx.Graph([(0, 1), (0, 2), (1, 3), (2, 3), (0, 3)]))
    # layers: (0,), (1, 2), (3,)
    np.testing.assert_array_equal(dag.mask(0, 1), [[1], [1]])
    np.testing.assert_array_equal(dag.mask(1, 2), [[1, 1]])
    np.testing.assert_array_equal(dag.mask(0, 2), [[1]])
    assert dag.mask(0, 1).dtype == np.float32
    np.testing.assert_array_equal(dag.mask(1, 0), np.zeros((1, 2)))
    with pytest.raises(IndexError):
        dag.mask(0, 5)
    # Every edge is a 1 in exactly one mask entry.
    total = sum(dag.mask(s, t).sum() for s, t in dag.layer_pairs)
    assert total == dag.num_edges


def test_mask_rows_are_targets_and_columns_sources():
    dag = LayeredDAG.from_edges(5, [(0, 3), (1, 2), (1, 3), (2, 4)])
    # layers: (0, 1), (2, 3), (4,)
    np.testing.assert_array_equal(dag.mask(0, 1), [[0, 1], [1, 1]])


def test_random_order_is_seeded_and_acyclic():
    g = nx.gnp_random_graph(15, 0.3, seed=1)
    a = LayeredDAG.from_graph(g, order="random", rng=np.random.default_rng(4))
    b = LayeredDAG.from_graph(g, order="random", rng=np.random.default_rng(4))
    assert a == b and hash(a) == hash(b)
    assert a.num_edges == g.number_of_edges()
    assert nx.is_directed_acyclic_graph(a.to_networkx())
    assert a != LayeredDAG.from_graph(g)
    with pytest.raises(InvalidGraphError, match="rng"):
        LayeredDAG.from_graph(g, order="random")
    with pytest.raises(InvalidGraphError, match="'index' or 'random'"):
        LayeredDAG.from_graph(g, order="sideways")


def test_empty_and_invalid_graphs():
    with pytest.raises(EmptyGraphError, match="no edges"):
        LayeredDAG.from_graph(_graph(4, []))
    with pytest.raises(EmptyGraphError, match="no nodes"):
        LayeredDAG.from_graph(nx.Graph())
    with pytest.raises(EmptyGraphError):
        LayeredDAG.from_edges(3, [(1, 1)])  # self-loops are dropped
    with pytest.raises(InvalidGraphError, match="outside nodes 0..2"):
        LayeredDAG.from_edges(3, [(0, 3)])
    with pytest.raises(InvalidGraphError, match="sortable"):
        LayeredDAG.from_graph(nx.Graph([(1, "a")]))


def test_networkx_views_and_hash():
    dag = LayeredDAG.from_edges(4, [(0, 1), (1, 2), (0, 3)])
    g = dag.to_networkx()
    assert nx.get_node_attributes(g, "layer") == {0: 0, 1: 1, 2: 2, 3: 1}
    assert sorted(dag.undirected().edges) == [(0, 1), (0, 3), (1, 2)]
    np.testing.assert_array_equal(dag.adjacency().toarray(), nx.to_numpy_array(dag.undirected(), nodelist=range(4)))
    h = dag.wl_hash()
    assert h.startswith(f"wl3:nx{nx.__version__}:")
    # Same structure with the two branches swapped has the same hash; a different one differs.
    assert LayeredDAG.from_edges(4, [(0, 1), (0, 2), (2, 3)]).wl_hash() == h
    assert LayeredDAG.from_edges(4, [(0, 1), (1, 2), (2, 3)]).wl_hash() != h


@pytest.mark.parametrize("edges", [[(0, 1.7)], [(0, 1, 2)], [("a", "b")], [(0, float("nan"))], None, [(True, 1)]])
def test_malformed_edges_raise_the_typed_error(edges):
    from search_spaces.dag import InvalidGraphError

    with pytest.raises(InvalidGraphError):
        LayeredDAG.from_edges(3, edges)
