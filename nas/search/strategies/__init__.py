"""Search strategies behind one ask/tell interface: genetic (DEAP), random, Optuna TPE and NSGA-II,
regularized (aging) evolution, the neural-predictor strategy and predictor-guided evolution (BANANAS).

A strategy proposes architectures and learns from their scores; it never trains anything. The
loop that owns training, predictor gating, logging and the ledger is
:func:`nas.search.loop.run_search`, written once for every strategy::

    strategy = make_strategy("ga", space, rng, objectives, survivors=8)
    genomes = strategy.ask(16)                   # unique, never evaluated before (architecture key)
    strategy.tell(genomes, [(0.91,), None, ...])  # objective values, None = not trained / failed
    state = strategy.state_dict()                 # JSON-able; load_state_dict() continues exactly

All randomness comes from the one :class:`numpy.random.Generator` handed to the constructor (the
search loop stores its ``bit_generator.state`` after every generation), so a resumed search proposes
exactly what an uninterrupted one would.
"""

from __future__ import annotations

import numpy as np

from nas.exceptions import UnknownNameError
from nas.search.strategies.aging import AgingEvolution
from nas.search.strategies.base import (
    Objectives,
    RandomSearch,
    SearchSpace,
    Strategy,
)
from nas.search.strategies.genetic import GeneticSearch, build_toolbox
from nas.search.strategies.predicted import BananasSearch, NeuralPredictorSearch
from nas.search.strategies.samplers import OptunaSearch

__all__ = [
    "SearchSpace",
    "Objectives",
    "Strategy",
    "GeneticSearch",
    "RandomSearch",
    "OptunaSearch",
    "AgingEvolution",
    "NeuralPredictorSearch",
    "BananasSearch",
    "STRATEGIES",
    "list_strategies",
    "make_strategy",
    "build_toolbox",
]


#: The predictor options every predictor-ranked strategy takes.
_PREDICTED = ("survivors", "predictor_model", "predictor_group", "min_train_size", "candidate_pool", "ucb_beta")


def _aging(space, rng, obj, *, survivors=8, tournament_size=3, aging_queue=None, population_size=None):
    # the queue defaults to the population: with every child trained, an individual lives a generation
    queue = aging_queue if aging_queue is not None else population_size if population_size is not None else 16
    return AgingEvolution(space, rng, obj, survivors=survivors, queue_size=queue, tournament_size=tournament_size)


#: name -> (factory(space, rng, objectives, **options), the options it takes)
STRATEGIES = {
    "ga": (GeneticSearch, ("survivors", "cx_prob", "mut_prob", "tournament_size")),
    "random": (RandomSearch, ("survivors",)),
    "tpe": (lambda space, rng, obj, **kw: OptunaSearch(space, rng, obj, sampler="tpe", **kw), ("survivors",)),
    "nsga2": (lambda space, rng, obj, **kw: OptunaSearch(space, rng, obj, sampler="nsga2", **kw),
              ("survivors", "population_size")),
    "aging": (_aging, ("survivors", "tournament_size", "aging_queue", "population_size")),
    "predictor": (NeuralPredictorSearch, _PREDICTED),
    "bananas": (BananasSearch, _PREDICTED),
}


def list_strategies() -> list[str]:
    """Names accepted by :func:`make_strategy` and ``nas search --strategy``."""
    return list(STRATEGIES)


def make_strategy(name: str, space: SearchSpace, rng: np.random.Generator, objectives: Objectives, **options) -> Strategy:
    """Build a strategy by name.

    Parameters
    ----------
    name : {"ga", "random", "tpe", "nsga2", "aging", "predictor", "bananas"}
    space, rng, objectives
        See :class:`Strategy`.
    **options
        ``survivors``; for ``ga`` also ``cx_prob``, ``mut_prob``, ``tournament_size``; for
        ``nsga2`` ``population_size``; for ``aging`` ``tournament_size`` and ``aging_queue`` (the
        queue's length; None: ``population_size``); for ``predictor`` and ``bananas``
        ``predictor_model``, ``predictor_group``, ``min_train_size``, ``candidate_pool`` and
        ``ucb_beta`` (see :class:`~nas.search.strategies.predicted.PredictorGuided`). Options a
        strategy does not use are ignored, so a caller may pass the search's whole set
        (:meth:`nas.search.config.SearchConfig.strategy_options`).

    Raises
    ------
    UnknownNameError
        ``name`` is not a registered strategy.
    ConfigError, UnknownModelError
        An option outside its allowed values; an unknown predictor model.
    """
    if name not in STRATEGIES:
        raise UnknownNameError("strategy", name, list(STRATEGIES))
    factory, takes = STRATEGIES[name]
    return factory(space, rng, objectives, **{k: v for k, v in options.items() if k in takes})
