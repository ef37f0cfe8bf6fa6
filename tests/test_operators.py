"""Genetic operators: deterministic by rng state, always valid, explicit genomes kept sensible."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search_spaces.exceptions import UnknownPriorError
from search_spaces.genome import Genome
from search_spaces.operators import (
    MUTATIONS,
    OperatorError,
    crossover,
    default_priors,
    mutate,
    random_genome,
)


def _valid(genome):
    assert isinstance(genome, Genome)
    assert Genome.from_json(genome.to_json()) == genome
    assert genome.dag().num_edges > 0


def explicit(edges, nodes=6, family="ff"):
    return Genome("explicit", {}, nodes=nodes, family=family, edits=[("add", u, v) for u, v in edges])


def test_random_genome_is_deterministic_and_respects_bounds():
    a = [random_genome(np.random.default_rng(3), nodes=(10, 20)) for _ in range(2)]
    assert a[0] == a[1]
    rng = np.random.default_rng(0)
    drawn = [random_genome(rng, priors=["barabasi_albert", "erdos_renyi"], nodes=(10, 20), family=["ff", "cnn"])
             for _ in range(30)]  # fmt: skip
    assert {g.prior for g in drawn} == {"barabasi_albert", "erdos_renyi"}
    assert {g.family for g in drawn} == {"ff", "cnn"}
    assert all(10 <= g.nodes <= 20 for g in drawn)
    assert "explicit" not in default_priors()


def test_random_genome_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(OperatorError, match="low <= high"):
        random_genome(rng, nodes=(20, 10))
    with pytest.raises(OperatorError, match="family"):
        random_genome(rng, family="mlp")
    with pytest.raises(UnknownPriorError):
        random_genome(rng, priors=["nope"])
    with pytest.raises(OperatorError, match="at least one prior"):
        random_genome(rng, priors=[])
    with pytest.raises(OperatorError, match="numpy.random.Generator"):
        random_genome(42)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_mutate_and_crossover_are_deterministic_and_always_valid(seed):
    rng = np.random.default_rng(seed)
    a = random_genome(rng, nodes=(3, 30))
    b = random_genome(rng, nodes=(3, 30))
    state = rng.bit_generator.state
    m1 = mutate(a, rng, nodes=(3, 30))
    c1 = crossover(a, b, rng)
    rng.bit_generator.state = state
    assert mutate(a, rng, nodes=(3, 30)) == m1
    assert crossover(a, b, rng) == c1
    for g in (m1, *c1):
        _valid(g)
        assert 3 <= g.nodes <= 30


@pytest.mark.parametrize("op", MUTATIONS)
def test_each_mutation_changes_the_genome_validly(op):
    rng = np.random.default_rng(1)
    changed = 0
    for _ in range(10):
        g = random_genome(rng, priors=["holme_kim", "watts_strogatz", "layered_random"], nodes=(12, 30))
        child = mutate(g, rng, nodes=(10, 40), weights={op: 1.0})
        _valid(child)
        changed += child != g
        if op == "perturb" and child != g:
            assert (child.prior, child.nodes, child.seed) == (g.prior, g.nodes, g.seed)
        if op == "resize" and child != g:
            assert child.nodes != g.nodes and (child.prior, child.seed) == (g.prior, g.seed)
        if op == "reseed" and child != g:
            assert child.seed != g.seed and child.param_dict == g.param_dict
        if op == "switch_prior" and child != g:
            assert child.prior != g.prior and (child.nodes, child.family, child.seed) == (g.nodes, g.family, g.seed)
        if op in ("add_edge", "remove_edge", "rewire_edge") and child != g:
            delta = {"add_edge": 1, "remove_edge": -1, "rewire_edge": 0}[op]
            assert child.graph().number_of_edges() == g.graph().number_of_edges() + delta
            assert (child.prior, child.params, child.seed) == (g.prior, g.params, g.seed)
    assert changed >= 8


def test_edge_edits_are_canonical_and_bounded():
    rng = np.random.default_rng(2)
    g = Genome("erdos_renyi", {"p": 0.3}, nodes=15, seed=1)
    for _ in range(40):
        g = mutate(g, rng, weights={"add_edge": 1, "remove_edge": 1}, max_edits=5)
        _valid(g)
        assert len(g.edits) <= 5
        ops = [e[0] for e in g.edits]
        assert ops == sorted(ops, key=lambda o: o != "remove")  # removes first, then adds
        base = Genome("erdos_renyi", {"p": 0.3}, nodes=15, seed=1).graph()
        for op, u, v in g.edits:  # net difference to the prior's graph: no no-op edits
            assert base.has_edge(u, v) == (op == "remove")


def test_explicit_genomes_only_get_edge_edits():
    rng = np.random.default_rng(0)
    g = explicit([(0, 1), (1, 2), (2, 5), (3, 4)])
    for _ in range(20):
        child = mutate(g, rng)
        _valid(child)
        assert child.prior == "explicit" and child.nodes == g.nodes and child.seed == 0
        assert all(op == "add" for op, _, _ in child.edits)
        assert list(child.edits) == sorted(child.edits)
        assert child != g
        g = child


def test_explicit_crossover_mixes_edge_sets():
    a = explicit([(0, 1), (1, 2), (2, 3), (3, 4)])
    b = explicit([(0, 1), (1, 3), (3, 5), (4, 5)], family="cnn")
    rng = np.random.default_rng(4)
    for _ in range(10):
        c, d = crossover(a, b, rng)
        ec, ed = set(c.graph().edges), set(d.graph().edges)
        assert (0, 1) in ec and (0, 1) in ed  # shared edges stay
        assert ec | ed == set(a.graph().edges) | set(b.graph().edges)
        assert (ec - {(0, 1)}).isdisjoint(ed - {(0, 1)})
        assert c.family == "ff" and d.family == "cnn"
    other = Genome("erdos_renyi", {"p": 0.5}, nodes=6, seed=0)
    assert crossover(a, other, rng) == (a, other)
    assert crossover(a, explicit([(0, 1)], nodes=7), rng)[0] == a


def test_crossover_of_different_priors_exchanges_size_and_seed():
    a = Genome("watts_strogatz", {"k": 6, "p": 0.2}, nodes=30, seed=1, family="ff")
    b = Genome("barabasi_albert", {"m": 3}, nodes=12, seed=2, family="rnn:gru")
    c, d = crossover(a, b, np.random.default_rng(0))
    assert (c.prior, c.param_dict, c.nodes, c.seed, c.family) == ("watts_strogatz", {"k": 6, "p": 0.2}, 12, 2, "ff")
    assert (d.prior, d.param_dict, d.nodes, d.seed, d.family) == ("barabasi_albert", {"m": 3}, 30, 1, "rnn:gru")
    # Parameters are clipped to what the new size allows (k < nodes).
    small = Genome("barabasi_albert", {"m": 1}, nodes=5, seed=2)
    big_k = Genome("watts_strogatz", {"k": 12, "p": 0.2}, nodes=30, seed=1)
    c, _ = crossover(big_k, small, np.random.default_rng(0))
    assert c.nodes == 5 and c.param_dict["k"] == 4


def test_crossover_of_same_prior_mixes_genes():
    a = Genome("holme_kim", {"m": 2, "p": 0.1}, nodes=20, seed=1)
    b = Genome("holme_kim", {"m": 4, "p": 0.9}, nodes=30, seed=2)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(30):
        c, d = crossover(a, b, rng)
        for gene in ("nodes", "seed"):
            assert {getattr(c, gene), getattr(d, gene)} == {getattr(a, gene), getattr(b, gene)}
        for name in ("m", "p"):
            assert {c.param_dict[name], d.param_dict[name]} == {a.param_dict[name], b.param_dict[name]}
        seen.add((c.nodes, c.seed, c.param_dict["m"], c.param_dict["p"]))
    assert len(seen) > 4


def test_mutate_falls_back_to_parent_when_nothing_valid():
    # A 2-node explicit graph with its only edge: it cannot lose it, and adding is impossible.
    g = explicit([(0, 1)], nodes=2)
    assert mutate(g, np.random.default_rng(0)) == g
    with pytest.raises(OperatorError, match="weights"):
        mutate(g, np.random.default_rng(0), weights={"teleport": 1.0})
    with pytest.raises(OperatorError, match="positive weight"):
        mutate(g, np.random.default_rng(0), weights={"perturb": 0.0})


@pytest.mark.parametrize("weights", [{"perturb": float("inf"), "reseed": 1}, {"perturb": "1"}, {"perturb": float("nan")}])
def test_bad_mutation_weights_raise_the_typed_error(weights):
    from search_spaces.operators import OperatorError, mutate

    g = Genome("erdos_renyi", {"p": 0.3}, nodes=12, seed=0)
    with pytest.raises(OperatorError):
        mutate(g, np.random.default_rng(0), weights=weights)
