"""Priors: a contract run for every registered prior, plus the BA variants and user priors."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from search_spaces.dag import LayeredDAG
from search_spaces.exceptions import GraphGenerationError, InvalidGenomeError, SearchSpaceError, UnknownPriorError
from search_spaces.builtin_priors import barabasi_albert_original
from search_spaces.priors import (
    PRIORS,
    ParamSpec,
    Prior,
    PriorDefinitionError,
    get_prior,
    list_priors,
    register_prior,
)

RANDOM_PRIORS = [name for name in list_priors() if name != "explicit"]


def _edges(graph):
    return sorted((min(u, v), max(u, v)) for u, v in graph.edges)


def _params(prior, nodes, seed=0):
    return prior.sample_params(nodes, np.random.default_rng(seed))


def test_registry_holds_the_issue_priors():
    expected = {"erdos_renyi", "watts_strogatz", "barabasi_albert", "barabasi_albert_original", "holme_kim",
                "random_regular", "layered_random", "random_dag", "explicit"}  # fmt: skip
    assert expected <= set(list_priors())
    assert list_priors() == sorted(list_priors())


@pytest.mark.parametrize("name", RANDOM_PRIORS)
class TestPriorContract:
    def test_same_seed_same_graph(self, name):
        prior = get_prior(name)
        params = _params(prior, 30)
        assert _edges(prior.generate(30, params, seed=7)) == _edges(prior.generate(30, params, seed=7))

    def test_different_seed_different_graph(self, name):
        prior = get_prior(name)
        # Parameters in the middle of the range, where every prior is random.
        params = {p.name: (p.low + p.high) / 2 if p.kind == "float" else int((p.low + min(p.high, 10)) // 2)
                  for p in prior.params}  # fmt: skip
        params = prior.validate(40, {**params, **({"d": 4} if name == "random_regular" else {})})
        graphs = {tuple(_edges(prior.generate(40, params, seed=s))) for s in range(4)}
        assert len(graphs) > 1

    def test_nodes_are_exactly_0_to_n_minus_1(self, name):
        prior = get_prior(name)
        for n in (prior.min_nodes, 7, 25):
            graph = prior.generate(n, _params(prior, n, seed=n), seed=1)
            assert sorted(graph.nodes) == list(range(n))
            assert isinstance(graph, nx.Graph) and not graph.is_directed()
            assert nx.number_of_selfloops(graph) == 0

    def test_dag_is_acyclic_and_oriented_low_to_high(self, name):
        prior = get_prior(name)
        for seed in range(3):
            graph = prior.generate(20, _params(prior, 20, seed), seed=seed)
            if graph.number_of_edges() == 0:
                continue
            dag = LayeredDAG.from_graph(graph)
            assert nx.is_directed_acyclic_graph(dag.to_networkx())
            assert all(u < v for u, v in dag.edges)

    def test_sampled_params_are_valid_and_inside_ranges(self, name):
        prior = get_prior(name)
        rng = np.random.default_rng(3)
        for n in (prior.min_nodes, 5, 12, 60):
            ranges = prior.ranges(n)
            for _ in range(10):
                params = prior.sample_params(n, rng)
                assert prior.validate(n, params) == params
                for spec in prior.params:
                    low, high = ranges[spec.name]
                    assert low <= params[spec.name] <= high
                    assert isinstance(params[spec.name], int if spec.kind == "int" else float)

    def test_sampling_is_deterministic(self, name):
        prior = get_prior(name)
        assert _params(prior, 30, seed=5) == _params(prior, 30, seed=5)

    def test_out_of_range_parameter_names_field_and_range(self, name):
        prior = get_prior(name)
        good = _params(prior, 30)
        for spec in prior.params:
            with pytest.raises(InvalidGenomeError) as info:
                prior.validate(30, {**good, spec.name: spec.high + 1})
            assert info.value.field == f"params.{spec.name}"
            assert str(spec.high) in str(info.value)

    def test_missing_and_unknown_parameters(self, name):
        prior = get_prior(name)
        good = _params(prior, 30)
        with pytest.raises(InvalidGenomeError, match="exactly the keys"):
            prior.validate(30, {**good, "bogus": 1})
        if prior.params:
            with pytest.raises(InvalidGenomeError, match="exactly the keys"):
                prior.validate(30, {k: v for k, v in list(good.items())[1:]})


def test_barabasi_albert_original_has_m_sources_today_has_one():
    for m in (1, 2, 3, 5):
        for seed in range(3):
            original = LayeredDAG.from_graph(get_prior("barabasi_albert_original").generate(30, {"m": m}, seed))
            today = LayeredDAG.from_graph(get_prior("barabasi_albert").generate(30, {"m": m}, seed))
            assert len(original.sources) == m
            assert original.sources == tuple(range(m))
            assert len(today.sources) == 1


def test_barabasi_albert_original_size_and_degrees():
    g = barabasi_albert_original(50, 3, seed=1)
    assert g.number_of_edges() == 3 * (50 - 3)
    assert all(g.degree(v) >= 3 for v in range(3, 50))
    with pytest.raises(GraphGenerationError):
        barabasi_albert_original(3, 3, seed=0)


def test_watts_strogatz_and_regular_shapes():
    ws = get_prior("watts_strogatz").generate(20, {"k": 4, "p": 1.0}, seed=0)
    assert ws.number_of_edges() == 40 and nx.is_connected(ws)
    rr = get_prior("random_regular").generate(10, {"d": 3}, seed=0)
    assert {d for _, d in rr.degree} == {3}


def test_impossible_regular_degree_is_a_typed_error():
    prior = get_prior("random_regular")
    with pytest.raises(InvalidGenomeError, match="d \\* nodes even") as info:
        prior.validate(9, {"d": 3})
    assert info.value.value == 3
    with pytest.raises(InvalidGenomeError, match="less than nodes"):
        prior.validate(5, {"d": 5})


def test_node_dependent_ranges():
    assert get_prior("barabasi_albert").ranges(5) == {"m": (1, 4)}
    assert get_prior("watts_strogatz").ranges(100)["k"] == (2, 20)
    assert get_prior("layered_random").ranges(3)["layers"] == (2, 3)
    with pytest.raises(GraphGenerationError):
        get_prior("watts_strogatz").sample_params(2, np.random.default_rng(0))


def test_sample_params_keeps_fixed_values():
    prior = get_prior("holme_kim")
    params = prior.sample_params(30, np.random.default_rng(0), fixed={"m": 4})
    assert params["m"] == 4 and 0.0 <= params["p"] <= 1.0
    with pytest.raises(InvalidGenomeError):
        prior.sample_params(30, np.random.default_rng(0), fixed={"m": 99})


def test_layered_random_blocks_follow_layers_when_dense():
    dag = LayeredDAG.from_graph(get_prior("layered_random").generate(12, {"layers": 4, "p": 1.0, "skip": 0.0}, seed=0))
    assert dag.layer_sizes == (3, 3, 3, 3)
    assert dag.skip_edges == ()


def test_paramspec_validation():
    spec = ParamSpec("p", "float", 0.0, 1.0)
    assert spec.validate(np.float32(0.5)) == 0.5
    assert spec.validate(1) == 1.0
    for bad in (True, "0.5", math.nan, 1.5, None):
        with pytest.raises(InvalidGenomeError):
            spec.validate(bad)
    k = ParamSpec("k", "int", 1, 5)
    assert k.validate(np.int64(3)) == 3 and k.validate(2.0) == 2
    with pytest.raises(InvalidGenomeError):
        k.validate(2.5)
    with pytest.raises(PriorDefinitionError):
        ParamSpec("x", "str", 0, 1)
    with pytest.raises(PriorDefinitionError):
        ParamSpec("x", "int", 2, 1)
    with pytest.raises(PriorDefinitionError):
        ParamSpec("x", "float", 0.0, 1.0, log=True)


def test_unknown_prior_lists_the_known_ones():
    with pytest.raises(UnknownPriorError) as info:
        get_prior("nope")
    assert "erdos_renyi" in str(info.value) and "'nope'" in str(info.value)


@pytest.fixture
def cleanup_prior():
    names = []
    yield names
    for name in names:
        PRIORS.pop(name, None)


def test_user_registered_prior(cleanup_prior):
    from search_spaces.genome import Genome

    prior = Prior(
        "test_ring_chords",
        (ParamSpec("chords", "int", 0, 10),),
        lambda n, q, s: nx.compose(nx.cycle_graph(n), nx.gnm_random_graph(n, q["chords"], seed=s)),
        limits=lambda n: {"chords": (0, n)},
        doc="a ring with random chords",
    )
    register_prior(prior)
    cleanup_prior.append(prior.name)
    assert prior.name in list_priors()
    genome = Genome(prior.name, {"chords": 3}, nodes=12, seed=1)
    assert genome.dag().num_edges >= 12
    with pytest.raises(PriorDefinitionError, match="already registered"):
        register_prior(prior)
    register_prior(prior, replace=True)
    with pytest.raises(PriorDefinitionError):
        register_prior("not a prior")


def test_generator_failures_become_graph_generation_errors(cleanup_prior):
    def broken(n, q, s):
        raise nx.NetworkXError("cannot")

    register_prior(Prior("test_broken", (), broken))
    register_prior(Prior("test_bad_labels", (), lambda n, q, s: nx.path_graph(["a", "b"])))
    cleanup_prior.extend(["test_broken", "test_bad_labels"])
    with pytest.raises(GraphGenerationError, match="test_broken.*nodes=5"):
        get_prior("test_broken").generate(5, {}, seed=0)
    with pytest.raises(GraphGenerationError, match="outside 0..4"):
        get_prior("test_bad_labels").generate(5, {}, seed=0)
    assert issubclass(GraphGenerationError, SearchSpaceError)
