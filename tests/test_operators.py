"""Genetic operators: deterministic by rng state, always valid, explicit genomes kept sensible."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search_spaces.exceptions import UnknownPriorError
from search_spaces.genome import Genome
from search_spaces.operators import (
    width_choices,
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
        child = mutate(g, rng, nodes=(10, 40), widths=(1, 16), weights={op: 1.0})
        _valid(child)
        changed += child != g
        if op == "rewidth":
            assert child.width in (2,) and child.replace(width=1) == g  # one grid step from 1, nothing else
        else:
            assert child.width == g.width
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
    # Parameter crossover has nothing to exchange with an explicit parent of another prior or size.
    other = Genome("erdos_renyi", {"p": 0.5}, nodes=6, seed=0)
    assert crossover(a, other, rng, mode="params") == (a, other)
    assert crossover(a, explicit([(0, 1)], nodes=7), rng, mode="params")[0] == a


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


# --- structure (edge-set) crossover -------------------------------------------------------------


def _edges(genome):
    return {(min(u, v), max(u, v)) for u, v in genome.graph().edges}


def _assert_edge_mix(a, b, c, d):
    """c on a's genome, d on b's: shared edges in both, the others dealt to one child or the other."""
    ea, eb, ec, ed = _edges(a), _edges(b), _edges(c), _edges(d)
    shared, differ = ea & eb, ea ^ eb
    for child, parent in ((c, a), (d, b)):
        for name in ("prior", "params", "nodes", "seed"):
            assert getattr(child, name) == getattr(parent, name)
    assert shared <= ec <= {e for e in ea | eb if e[1] < a.nodes}
    assert shared <= ed <= {e for e in ea | eb if e[1] < b.nodes}
    assert ec & ed == shared  # the mirror child gets the complement of the one-parent edges
    small = min(a.nodes, b.nodes)
    assert ec | ed >= {e for e in differ if e[1] < small}  # labels both children have: a partition


PAIRS = {
    "same_prior_relatives": (
        Genome("erdos_renyi", {"p": 0.3}, nodes=12, seed=1),
        Genome("erdos_renyi", {"p": 0.3}, nodes=12, seed=1, edits=[("remove", 0, 1), ("add", 0, 11), ("add", 2, 9)]),
    ),
    "different_priors_and_nodes": (
        Genome("watts_strogatz", {"k": 4, "p": 0.2}, nodes=14, seed=3),
        Genome("barabasi_albert", {"m": 2}, nodes=9, seed=5, family="cnn"),
    ),
    "explicit_and_generated": (
        explicit([(0, 1), (1, 2), (2, 7), (3, 4)], nodes=8),
        Genome("erdos_renyi", {"p": 0.4}, nodes=6, seed=2),
    ),
    "explicit_different_nodes": (
        explicit([(0, 1), (1, 2), (2, 5)], nodes=6),
        explicit([(0, 1), (1, 3), (6, 7)], nodes=9),
    ),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_structure_crossover_deals_one_parent_edges_between_mirror_children(name):
    a, b = PAIRS[name]
    rng = np.random.default_rng(7)
    seen = set()
    for _ in range(8):
        c, d = crossover(a, b, rng, mode="structure", max_edits=1000)
        _valid(c), _valid(d)
        _assert_edge_mix(a, b, c, d)
        assert c.family == a.family and d.family == b.family
        for child in (c, d):
            if child.prior != "explicit":  # edits stay canonical: the net difference to the prior's draw
                base = Genome(child.prior, child.param_dict, nodes=child.nodes, seed=child.seed).graph()
                assert all(base.has_edge(u, v) == (op == "remove") for op, u, v in child.edits)
        seen.add((c, d))
    assert len(seen) > 1


def test_structure_crossover_is_deterministic_by_rng_state():
    a, b = PAIRS["different_priors_and_nodes"]
    first, again = (crossover(a, b, np.random.default_rng(11), mode="structure", max_edits=1000) for _ in range(2))
    assert first == again
    others = [crossover(a, b, np.random.default_rng(s), mode="structure", max_edits=1000) for s in range(12, 17)]
    assert any(kids != first for kids in others)


def test_structure_crossover_children_inherit_untouched_fields_by_position():
    extra_a = {k: v for k, v in {"width": 3, "readout": "last"}.items() if k in Genome.__dataclass_fields__}
    extra_b = {k: v for k, v in {"width": 5, "readout": "sinks"}.items() if k in Genome.__dataclass_fields__}
    a = Genome.from_dict({**PAIRS["same_prior_relatives"][0].to_dict(), "family": "rnn:gru", **extra_a})
    b = Genome.from_dict({**PAIRS["same_prior_relatives"][1].to_dict(), "family": "cnn", **extra_b})
    rng = np.random.default_rng(0)
    for mode in ("structure", "params", "auto"):
        c, d = crossover(a, b, rng, mode=mode)
        for child, parent in ((c, a), (d, b)):
            for key in ("family", *extra_a):
                assert child.to_dict()[key] == parent.to_dict()[key], (mode, key)


def test_structure_crossover_respects_max_edits_or_falls_back_to_parameters():
    rng = np.random.default_rng(3)
    for _ in range(15):
        a = random_genome(rng, priors=["erdos_renyi", "holme_kim"], nodes=(8, 16))
        b = a
        for _ in range(4):  # relatives within the edit budget
            b = mutate(b, rng, weights={"add_edge": 1, "remove_edge": 1, "rewire_edge": 1}, max_edits=4)
        for c in crossover(a, b, rng, mode="structure", max_edits=4):
            _valid(c)
            assert len(c.edits) <= 4
    # Unrelated graphs cannot mix within 0 edits: the parameter crossover (here an exchange) runs.
    a = Genome("watts_strogatz", {"k": 4, "p": 0.2}, nodes=14, seed=3)
    b = Genome("barabasi_albert", {"m": 2}, nodes=9, seed=5)
    c, d = crossover(a, b, rng, mode="structure", max_edits=0)
    assert (c.prior, c.nodes, c.seed, c.edits) == ("watts_strogatz", 9, 5, ())
    assert (d.prior, d.nodes, d.seed, d.edits) == ("barabasi_albert", 14, 3, ())


def test_auto_mode_mixes_structure_of_relatives_and_genes_of_strangers():
    a, b = PAIRS["same_prior_relatives"]  # overlap ~0.9: structure almost always
    rng = np.random.default_rng(0)
    structure = 0
    for _ in range(20):
        c, d = crossover(a, b, rng)
        _assert_edge_mix(a, b, c, d)
        structure += {c.edits, d.edits} != {a.edits, b.edits}  # uniform crossover would only move whole edit lists
    assert structure >= 12
    # No shared edge: no structure draw is made, so auto is exactly the parameter crossover.
    gap = next((u, v) for u in range(a.nodes) for v in range(u + 1, a.nodes) if (u, v) not in _edges(a))
    stranger = a.replace(edits=[("remove", u, v) for u, v in sorted(_edges(a))] + [("add", *gap)])
    assert _edges(stranger) and not (_edges(stranger) & _edges(a))
    state = rng.bit_generator.state
    auto = crossover(a, stranger, rng)
    rng.bit_generator.state = state
    assert auto == crossover(a, stranger, rng, mode="params")


def test_crossover_bad_mode_and_max_edits():
    a, b = PAIRS["same_prior_relatives"]
    with pytest.raises(OperatorError, match="mode"):
        crossover(a, b, np.random.default_rng(0), mode="layers")
    with pytest.raises(OperatorError, match="max_edits"):
        crossover(a, b, np.random.default_rng(0), max_edits=-1)


def test_structure_crossover_of_random_pairs_is_always_valid():
    rng = np.random.default_rng(5)
    for _ in range(25):
        a = random_genome(rng, nodes=(3, 20))
        b = random_genome(rng, nodes=(3, 20))
        for child in crossover(a, b, rng, mode="structure"):
            _valid(child)
            assert child.prior == "explicit" or len(child.edits) <= 32


def test_width_grid_draws_and_rewidth_steps():
    assert width_choices((1, 16)) == [1, 2, 4, 8, 16] and width_choices((3, 12)) == [3, 4, 8, 12]
    with pytest.raises(OperatorError, match="widths must satisfy"):
        width_choices((0, 4))
    rng = np.random.default_rng(0)
    drawn = [random_genome(rng, nodes=(10, 20), widths=(1, 8), readout="last") for _ in range(40)]
    assert {g.width for g in drawn} == {1, 2, 4, 8} and {g.readout for g in drawn} == {"last"}
    # equal bounds: no width draw, so the paper's space keeps its random stream
    a = random_genome(np.random.default_rng(5), nodes=(10, 20))
    b = random_genome(np.random.default_rng(5), nodes=(10, 20), widths=(4, 4))
    assert a.replace(width=4) == b
    g = drawn[0].replace(width=4)
    steps = {mutate(g, np.random.default_rng(s), widths=(1, 8), weights={"rewidth": 1.0}).width for s in range(20)}
    assert steps == {2, 8}
    # without width bounds rewidth is never chosen
    assert mutate(g, np.random.default_rng(1), weights={"rewidth": 1.0}) == g
