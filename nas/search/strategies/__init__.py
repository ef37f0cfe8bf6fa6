"""Search strategies behind one ask/tell interface: genetic (DEAP), random, Optuna TPE and NSGA-II.

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
from nas.search.strategies.base import (
    Objectives,
    RandomSearch,
    SearchSpace,
    Strategy,
)
from nas.search.strategies.genetic import GeneticSearch, build_toolbox
from nas.search.strategies.samplers import OptunaSearch

__all__ = [
    "SearchSpace",
    "Objectives",
    "Strategy",
    "GeneticSearch",
    "RandomSearch",
    "OptunaSearch",
    "STRATEGIES",
    "list_strategies",
    "make_strategy",
    "build_toolbox",
]


STRATEGIES = {
    "ga": lambda space, rng, obj, **kw: GeneticSearch(space, rng, obj, **kw),
    "random": lambda space, rng, obj, survivors=8, **kw: RandomSearch(space, rng, obj, survivors=survivors),
    "tpe": lambda space, rng, obj, survivors=8, **kw: OptunaSearch(space, rng, obj, survivors=survivors, sampler="tpe"),
    "nsga2": lambda space, rng, obj, survivors=8, population_size=None, **kw: OptunaSearch(
        space, rng, obj, survivors=survivors, sampler="nsga2", population_size=population_size
    ),
}


def list_strategies() -> list[str]:
    """Names accepted by :func:`make_strategy` and ``nas search --strategy``."""
    return list(STRATEGIES)


def make_strategy(name: str, space: SearchSpace, rng: np.random.Generator, objectives: Objectives, **options) -> Strategy:
    """Build a strategy by name.

    Parameters
    ----------
    name : {"ga", "random", "tpe", "nsga2"}
    space, rng, objectives
        See :class:`Strategy`.
    **options
        ``survivors``; for ``ga`` also ``cx_prob``, ``mut_prob``, ``tournament_size``; for
        ``nsga2`` ``population_size``. Options a strategy does not use are ignored.

    Raises
    ------
    UnknownNameError
        ``name`` is not a registered strategy.
    ConfigError
        An option outside its allowed values.
    """
    if name not in STRATEGIES:
        raise UnknownNameError("strategy", name, list(STRATEGIES))
    if name == "ga":
        allowed = {"survivors", "cx_prob", "mut_prob", "tournament_size"}
        options = {k: v for k, v in options.items() if k in allowed}
    return STRATEGIES[name](space, rng, objectives, **options)
