"""Genetic operators on genomes: random draw, mutation and crossover.

All three are pure functions of their arguments and a :class:`numpy.random.Generator`: the same
generator state gives the same result. Their results are always *valid*: the genome validates
and ``genome.dag()`` builds (the graph has at least one edge). An operator draw that fails
(e.g. an edgeless graph, or parameters a generator rejects) is retried with the same ``rng`` a
bounded number of times, after which mutation and crossover fall back to the parent(s).

The operators, one module each: :mod:`.draw` (:func:`random_genome`), :mod:`.mutation`
(:func:`mutate` and its mutations), :mod:`.crossover` (:func:`crossover`, structure and parameter
crossover); :mod:`.common` holds what they share.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> g = random_genome(rng, priors=["watts_strogatz"], nodes=(10, 20))
>>> h = mutate(g, rng)
>>> h.dag().num_edges > 0
True
"""

from search_spaces.operators.common import (
    EXPLICIT,
    OperatorError,
    default_priors,
    width_choices,
)
from search_spaces.operators.crossover import CROSSOVER_MODES, crossover
from search_spaces.operators.draw import random_genome
from search_spaces.operators.mutation import MUTATION_WEIGHTS, MUTATIONS, mutate

__all__ = [
    "random_genome",
    "mutate",
    "crossover",
    "MUTATIONS",
    "MUTATION_WEIGHTS",
    "EXPLICIT",
    "CROSSOVER_MODES",
    "default_priors",
    "width_choices",
    "OperatorError",
]
