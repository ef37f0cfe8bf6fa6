"""Contract tests of the search strategies (ask/tell), written once for every registered strategy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nas.exceptions import ConfigError, UnknownNameError
from nas.search.strategies import (
    GeneticSearch,
    Objectives,
    SearchSpace,
    list_strategies,
    make_strategy,
)
from search_spaces.genome import Genome, architecture_key

SPACE = SearchSpace(priors=("erdos_renyi", "watts_strogatz", "barabasi_albert"), nodes=(6, 14), family="ff")
ONE = Objectives("val_accuracy")
TWO = Objectives("val_accuracy", "nonzero_weights")
#: Passed to every strategy (each keeps the options it takes): the predictor strategies use their
#: predictor from the second generation on, so the contract runs through it.
OPTIONS = dict(survivors=3, min_train_size=3, population_size=5)


def score(genome: Genome, objectives: Objectives = ONE) -> tuple[float, ...]:
    """A deterministic stand-in for training: denser, larger graphs score higher."""
    dag = genome.dag()
    acc = dag.num_edges / (dag.num_nodes * (dag.num_nodes - 1) / 2) + genome.nodes / 100
    return (acc,) if objectives.second is None else (acc, float(dag.num_edges))


def run(name: str, seed: int, generations: int = 3, n: int = 5, objectives: Objectives = ONE, strategy=None):
    strategy = strategy or make_strategy(name, SPACE, np.random.default_rng(seed), objectives, **OPTIONS)
    keys = []
    for _ in range(generations):
        genomes = strategy.ask(n)
        keys.append([g.key for g in genomes])
        # every other candidate is "not trained" (gated out), as the runner does
        strategy.tell(genomes, [score(g, objectives) if i % 2 == 0 else None for i, g in enumerate(genomes)])
    return keys, strategy


def test_registry_lists_the_strategies():
    assert list_strategies() == ["ga", "random", "tpe", "nsga2", "aging", "predictor", "bananas"]


def test_unknown_strategy_names_the_known_ones():
    with pytest.raises(UnknownNameError, match="expected one of: aging, bananas, ga, nsga2, predictor, random, tpe"):
        make_strategy("annealing", SPACE, np.random.default_rng(0), ONE)


@pytest.mark.parametrize("name", list_strategies())
class TestStrategyContract:
    def test_ask_returns_unique_valid_genomes(self, name):
        strategy = make_strategy(name, SPACE, np.random.default_rng(0), ONE, **OPTIONS)
        for _ in range(2):
            genomes = strategy.ask(6)
            assert len(genomes) == 6
            assert all(isinstance(g, Genome) and g.family == "ff" and 6 <= g.nodes <= 14 for g in genomes)
            assert len({architecture_key(g) for g in genomes}) == 6
            strategy.tell(genomes, [score(g) for g in genomes])

    def test_never_proposes_an_architecture_twice(self, name):
        keys, strategy = run(name, seed=1, generations=4)
        hashes = [k for gen in keys for k in gen]
        assert len(hashes) == len(set(hashes))
        assert len(strategy.seen) == len(hashes)

    def test_same_seed_same_result_other_seed_other_result(self, name):
        a, _ = run(name, seed=3)
        b, _ = run(name, seed=3)
        c, _ = run(name, seed=4)
        assert a == b
        assert a != c

    def test_state_round_trip_continues_identically(self, name):
        full, _ = run(name, seed=5, generations=4)
        first, strategy = run(name, seed=5, generations=2)
        rng_state = strategy.rng.bit_generator.state
        rng = np.random.default_rng(999)  # a fresh process: wrong seed, then restored
        rng.bit_generator.state = rng_state
        resumed = make_strategy(name, SPACE, rng, ONE, **OPTIONS)
        resumed.load_state_dict(json.loads(json.dumps(strategy.state_dict())))  # stored as JSON in the ledger
        rest, _ = run(name, seed=0, generations=2, strategy=resumed)
        assert first + rest == full

    def test_a_generation_told_only_none_is_no_obstacle(self, name):
        # every candidate gated out or failed, then trained ones: the strategy keeps proposing new ones
        strategy = make_strategy(name, SPACE, np.random.default_rng(6), ONE, **OPTIONS)
        keys = set()
        for told in (lambda g: None, score, lambda g: None, score):
            genomes = strategy.ask(4)
            assert len(genomes) == 4 and not keys & {architecture_key(g) for g in genomes}
            keys |= {architecture_key(g) for g in genomes}
            strategy.tell(genomes, [told(g) for g in genomes])

    def test_two_objectives(self, name):
        keys, strategy = run(name, seed=2, objectives=TWO)
        assert sum(len(k) for k in keys) == 15

    def test_tell_checks_lengths(self, name):
        strategy = make_strategy(name, SPACE, np.random.default_rng(0), ONE)
        genomes = strategy.ask(2)
        with pytest.raises(ConfigError, match="one value per genome"):
            strategy.tell(genomes, [(0.5,)])
        with pytest.raises(ConfigError, match="objective"):
            strategy.tell(genomes, [(0.5, 1.0), None])


def test_dedup_skips_architectures_marked_as_seen():
    rng = np.random.default_rng(0)
    first = make_strategy("random", SPACE, rng, ONE).ask(4)
    other = make_strategy("random", SPACE, np.random.default_rng(0), ONE)
    other.mark_seen(first)
    again = other.ask(4)
    assert not {architecture_key(g) for g in first} & {architecture_key(g) for g in again}


def test_hash_dedups_same_graph_from_different_genomes():
    a = Genome("explicit", {}, nodes=4, seed=0, edits=(("add", 0, 1), ("add", 1, 2), ("add", 2, 3)))
    b = a.replace(seed=7)
    assert a.key != b.key and architecture_key(a) == architecture_key(b)
    strategy = make_strategy("random", SPACE, np.random.default_rng(0), ONE)
    strategy.mark_seen([a])
    assert architecture_key(b) in strategy.seen


def test_ga_elitism_keeps_the_best_and_hall_of_fame():
    strategy = GeneticSearch(SPACE, np.random.default_rng(0), ONE, survivors=3)
    told = []
    for _ in range(4):
        genomes = strategy.ask(6)
        values = [score(g) for g in genomes]
        told += list(zip(values, genomes))
        strategy.tell(genomes, values)
    best = sorted(told, key=lambda t: t[0], reverse=True)[:3]
    # structure crossover makes equal graphs (equal scores) under different genomes: compare values,
    # and that every kept genome was told with its value
    assert [score(g) for g in strategy.best] == [v for v, _ in best]
    assert sorted(i.fitness.values for i in strategy.population) == sorted(v for v, _ in best)
    assert all((score(g), g.key) in {(v, h.key) for v, h in told} for g in strategy.best)


def test_ga_offspring_come_from_parents():
    strategy = GeneticSearch(SPACE, np.random.default_rng(0), ONE, survivors=2, cx_prob=0.0, mut_prob=1.0)
    genomes = strategy.ask(6)
    strategy.tell(genomes, [score(g) for g in genomes])
    parents = {(g.prior, g.family) for g in strategy.best}
    children = strategy.ask(6)
    # mutation may switch the prior, but most children keep a parent's prior
    assert sum((c.prior, c.family) in parents for c in children) >= 1


@pytest.mark.parametrize("bad", [{"cx_prob": 1.5}, {"mut_prob": -0.1}, {"tournament_size": 0}, {"survivors": 0}])
def test_ga_rejects_bad_options(bad):
    with pytest.raises(ConfigError):
        make_strategy("ga", SPACE, np.random.default_rng(0), ONE, **bad)


def test_rng_must_be_a_generator():
    with pytest.raises(ConfigError, match="numpy.random.Generator"):
        make_strategy("random", SPACE, 0, ONE)


def test_objectives_validate_second():
    with pytest.raises(ConfigError, match="second objective"):
        Objectives("val_accuracy", "latency")
    assert Objectives("val_accuracy", "flops").values_from({"val_accuracy": 0.5, "nonzero_weights": 10}) == (0.5, 20.0)
