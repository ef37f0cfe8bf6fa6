"""What each of the aging evolution, the neural-predictor strategy and BANANAS does, on a planted
objective (values computed from the genome, no training), and their options through the config.

The shared ask/tell contract (same seed, no repeats, tell with None, state round trip, two
objectives) is ``tests/test_search.py``, and resume-after-kill through the loop is
``tests/test_runner.py``; both run over every registered strategy.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nas.exceptions import ConfigError
from nas.search.config import SearchConfig
from nas.search.strategies import (
    AgingEvolution,
    BananasSearch,
    NeuralPredictorSearch,
    Objectives,
    SearchSpace,
    make_strategy,
)
from nas.search.strategies.ranking import best_first, pareto_fronts
from nas.validation import OptionError
from predictors.exceptions import UnknownModelError
from search_spaces.genome import architecture_key

SPACE = SearchSpace(priors=("erdos_renyi", "watts_strogatz", "barabasi_albert"), nodes=(6, 20), widths=(1, 16))
ONE = Objectives("val_accuracy")


def planted(genome) -> tuple[float]:
    """The planted objective: half the DAG's edge density, half the width's share of its maximum."""
    dag = genome.dag()
    return (0.5 * dag.num_edges / (dag.num_nodes * (dag.num_nodes - 1) / 2) + 0.5 * genome.width / 16,)


def later_mean(name: str, seed: int, generations: int = 4, n: int = 8) -> float:
    """Mean planted value of the proposals of the last two generations (every proposal told)."""
    strategy = make_strategy(name, SPACE, np.random.default_rng(seed), ONE, survivors=4, min_train_size=8,
                             population_size=n)
    later = []
    for gen in range(generations):
        genomes = strategy.ask(n)
        values = [planted(g) for g in genomes]
        strategy.tell(genomes, values)
        if gen >= generations - 2:
            later += [v[0] for v in values]
    return float(np.mean(later))


# --- ranking ------------------------------------------------------------------------------------


def test_best_first_is_value_then_position_for_one_objective():
    assert best_first(np.array([[0.2], [0.7], [0.7], [0.1]]), (1.0,)) == [1, 2, 0, 3]


def test_pareto_fronts_with_a_minimised_cost():
    points = np.array([[0.9, 10.0], [0.8, 5.0], [0.7, 7.0], [0.95, 20.0]])
    assert pareto_fronts(points, (1.0, -1.0)).tolist() == [0, 0, 1, 0]
    assert best_first(points, (1.0, -1.0)) == [3, 0, 1, 2]


# --- aging evolution ----------------------------------------------------------------------------


def test_aging_drops_the_oldest_not_the_worst():
    strategy = AgingEvolution(SPACE, np.random.default_rng(0), ONE, queue_size=3, tournament_size=2)
    first = strategy.ask(3)
    strategy.tell(first, [(0.9,), (0.5,), (0.1,)])  # the oldest is the best
    child = strategy.ask(1)
    strategy.tell(child, [(0.2,)])
    kept = [g.key for g, _ in strategy.queue]
    assert kept == [first[1].key, first[2].key, child[0].key]  # 0.9 aged out; 0.1, the worst, stays
    assert strategy.trained == 4


def test_aging_fills_its_queue_with_random_genomes_first():
    aging = AgingEvolution(SPACE, np.random.default_rng(3), ONE, queue_size=6)
    random = make_strategy("random", SPACE, np.random.default_rng(3), ONE)
    for _ in range(2):  # P = 6 = two generations of 3: both random, the same draws as random search
        genomes = aging.ask(3)
        assert [g.key for g in genomes] == [g.key for g in random.ask(3)]
        aging.tell(genomes, [planted(g) for g in genomes])
        random.tell(genomes, [planted(g) for g in genomes])
    assert [g.key for g in aging.ask(3)] != [g.key for g in random.ask(3)]  # now children


def test_aging_children_are_mutations_of_the_tournament_winner():
    parents = []

    @dataclasses.dataclass(frozen=True)
    class Recording(SearchSpace):
        def mutate(self, genome, rng):
            parents.append(genome.key)
            return super().mutate(genome, rng)

    space = Recording(**{f.name: getattr(SPACE, f.name) for f in dataclasses.fields(SearchSpace)})
    # a tournament of 200 out of 4 sees every individual (all but surely): the winner is the best
    strategy = AgingEvolution(space, np.random.default_rng(1), ONE, queue_size=4, tournament_size=200)
    genomes = strategy.ask(4)
    strategy.tell(genomes, [(0.3,), (0.8,), (0.5,), (0.1,)])
    strategy.ask(3)
    assert set(parents) & {g.key for g in genomes} == {genomes[1].key}  # (other calls re-mutate a repeated child)


def test_aging_beats_random_on_the_planted_objective():
    for seed in range(3):
        assert later_mean("aging", seed) > later_mean("random", seed) + 0.1


# --- predictor strategies -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["predictor", "bananas"])
def test_predictor_strategies_start_with_random_draws(name):
    strategy = make_strategy(name, SPACE, np.random.default_rng(5), ONE, min_train_size=8)
    random = make_strategy("random", SPACE, np.random.default_rng(5), ONE)
    assert [g.key for g in strategy.ask(6)] == [g.key for g in random.ask(6)]


@pytest.mark.parametrize("name", ["predictor", "bananas"])
def test_predictor_strategies_beat_random_on_the_planted_objective(name):
    for seed in range(3):
        assert later_mean(name, seed) > later_mean("random", seed) + 0.15


def test_predictor_proposes_the_top_of_its_ranked_pool():
    strategy = NeuralPredictorSearch(SPACE, np.random.default_rng(2), ONE, min_train_size=4, candidate_pool=5)
    genomes = strategy.ask(8)
    strategy.tell(genomes, [planted(g) for g in genomes])
    proposed = strategy.ask(4)
    (pipeline,) = strategy.predictors()  # the generation's fit, reused, not refitted
    predicted = pipeline.predict(proposed)
    assert list(predicted) == sorted(predicted, reverse=True)
    assert len({architecture_key(g) for g in proposed}) == 4


def test_bananas_acquisition_weighs_the_uncertainty():
    def second_ask(beta):
        strategy = BananasSearch(SPACE, np.random.default_rng(4), ONE, min_train_size=4, ucb_beta=beta, survivors=3)
        genomes = strategy.ask(8)
        strategy.tell(genomes, [planted(g) for g in genomes])
        return [g.key for g in strategy.ask(4)]

    assert second_ask(0.0) == second_ask(0.0)
    assert second_ask(0.0) != second_ask(10.0)


def test_bananas_children_come_from_the_best_told():
    strategy = BananasSearch(SPACE, np.random.default_rng(6), ONE, min_train_size=4, survivors=2, candidate_pool=3)
    genomes = strategy.ask(8)
    strategy.tell(genomes, [planted(g) for g in genomes])
    best = sorted(genomes, key=planted, reverse=True)[:2]
    assert [g.key for g in strategy.best] == [g.key for g in best]


@pytest.mark.parametrize("bad, error", [
    ({"predictor_model": "nope"}, UnknownModelError),
    ({"predictor_group": "nope"}, ConfigError),
    ({"min_train_size": 1}, ConfigError),
    ({"candidate_pool": 0}, ConfigError),
    ({"ucb_beta": -1.0}, ConfigError),
])
def test_predictor_strategies_reject_bad_options(bad, error):
    with pytest.raises(error):
        make_strategy("bananas", SPACE, np.random.default_rng(0), ONE, **bad)


@pytest.mark.parametrize("bad", [{"queue_size": 0}, {"tournament_size": 0}])
def test_aging_rejects_bad_options(bad):
    with pytest.raises(ConfigError):
        AgingEvolution(SPACE, np.random.default_rng(0), ONE, **bad)


# --- through the search config and the loop -----------------------------------------------------


def test_config_checks_the_strategy_options_before_anything_runs():
    with pytest.raises(UnknownModelError, match="unknown model 'nope'"):
        SearchConfig(strategy="predictor", predictor_model="nope")
    with pytest.raises(OptionError, match="SearchConfig.aging_queue = 0"):
        SearchConfig(strategy="aging", aging_queue=0)
    with pytest.raises(OptionError, match="SearchConfig.candidate_pool = 0"):
        SearchConfig(strategy="bananas", candidate_pool=0)
    options = SearchConfig(strategy="aging", population=12, aging_queue=30).strategy_options()
    assert options["aging_queue"] == 30 and options["population_size"] == 12


def test_aging_queue_defaults_to_the_population():
    config = SearchConfig(strategy="aging", population=12)
    strategy = make_strategy("aging", SPACE, np.random.default_rng(0), ONE, **config.strategy_options())
    assert strategy.queue_size == 12
