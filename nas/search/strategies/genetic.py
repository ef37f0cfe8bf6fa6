"""The genetic search (DEAP), behind the ask/tell interface of :class:`~nas.search.strategies.base.Strategy`.

The genetic search, in pseudocode (elitist mu + lambda, mu = ``survivors``)::

    population = []                                    # trained individuals kept as parents
    ask(n):  if population is empty: n random genomes
             else repeat: p1, p2 = tournament(population)   (Pareto rank, then crowding, if 2 objectives)
                          c1, c2 = crossover(p1, p2) with probability cx_prob, else copies
                          each child: mutate with probability mut_prob (always, if it is a duplicate)
                          keep children whose architecture key was never proposed before
    tell(genomes, values):  population = select(population + trained, mu)   (NSGA-II if 2 objectives)
                            hall of fame (or Pareto front) updated with the trained ones
"""

from __future__ import annotations

import numpy as np
from deap import base, tools

from nas.exceptions import ConfigError
from nas.search.strategies.base import (
    Objectives,
    SearchSpace,
    Strategy,
    Values,
)
from search_spaces.genome import Genome


class _Individual:
    """A genome with a DEAP fitness; equality by architecture key (hall-of-fame similarity)."""

    __slots__ = ("genome", "fitness", "key")

    def __init__(self, genome: Genome, fitness, key: str):
        self.genome = genome
        self.fitness = fitness
        self.key = key

    def __eq__(self, other):
        return isinstance(other, _Individual) and self.key == other.key

    def __hash__(self):
        return hash(self.key)

    def __deepcopy__(self, memo):  # HallOfFame deep-copies; genomes are immutable
        clone = _Individual.__new__(_Individual)
        clone.genome, clone.key = self.genome, self.key
        clone.fitness = type(self.fitness)(self.fitness.values)
        return clone


def _tournament(individuals: list, k: int, size: int, rng: np.random.Generator, better) -> list:
    """Tournament selection drawing from ``rng`` (DEAP's own uses the global ``random``)."""
    chosen = []
    for _ in range(k):
        aspirants = [individuals[i] for i in rng.integers(0, len(individuals), size=size)]
        best = aspirants[0]
        for a in aspirants[1:]:
            if better(a, best):
                best = a
        chosen.append(best)
    return chosen


def build_toolbox(space: SearchSpace, rng: np.random.Generator, objectives: Objectives, *, tournament_size: int = 3) -> base.Toolbox:
    """A DEAP toolbox for one search, built here so nothing lives in DEAP's global ``creator``.

    Registers ``fitness`` (a :class:`deap.base.Fitness` subclass with the objectives' weights),
    ``random``, ``mate``, ``mutate`` (the :mod:`search_spaces.operators`, bound to ``rng``),
    ``select`` (survivors: best-first, or NSGA-II with two objectives) and ``parents`` (tournament;
    on Pareto rank then crowding distance with two objectives).
    """
    toolbox = base.Toolbox()
    fitness_cls = type("SearchFitness", (base.Fitness,), {"weights": objectives.weights})
    toolbox.register("fitness", fitness_cls)
    toolbox.register("random", space.random, rng)
    toolbox.register("mate", lambda a, b: space.crossover(a, b, rng))
    toolbox.register("mutate", lambda g: space.mutate(g, rng))
    multi = len(objectives.weights) > 1
    if multi:
        toolbox.register("select", tools.selNSGA2)

        def parents(pop, k):
            for rank, front in enumerate(tools.sortNondominated(pop, len(pop))):
                tools.emo.assignCrowdingDist(front)
                for ind in front:
                    ind.fitness.rank = rank
            return _tournament(
                pop, k, tournament_size, rng,
                lambda a, b: (a.fitness.rank, -a.fitness.crowding_dist) < (b.fitness.rank, -b.fitness.crowding_dist),
            )
    else:
        # stable sort on fitness: ties keep the order of arrival, so selection is deterministic
        toolbox.register("select", lambda pop, k: sorted(pop, key=lambda i: i.fitness.wvalues, reverse=True)[:k])

        def parents(pop, k):
            return _tournament(pop, k, tournament_size, rng, lambda a, b: a.fitness > b.fitness)

    toolbox.register("parents", parents)
    return toolbox


class GeneticSearch(Strategy):
    """Genetic search with the genome operators of :mod:`search_spaces.operators` (see module doc).

    Parameters
    ----------
    cx_prob, mut_prob : float
        Probability that a parent pair is crossed over, that a child is mutated.
    tournament_size : int
        Aspirants per tournament when choosing parents.
    """

    name = "ga"

    def __init__(self, space, rng, objectives, *, survivors=8, cx_prob=0.5, mut_prob=0.9, tournament_size=3):
        super().__init__(space, rng, objectives, survivors=survivors)
        for label, p in (("cx_prob", cx_prob), ("mut_prob", mut_prob)):
            if not 0.0 <= float(p) <= 1.0:
                raise ConfigError(f"{label} must be in [0, 1], got {p!r}")
        if int(tournament_size) < 1:
            raise ConfigError(f"tournament_size must be >= 1, got {tournament_size!r}")
        self.cx_prob, self.mut_prob = float(cx_prob), float(mut_prob)
        self.toolbox = build_toolbox(space, rng, objectives, tournament_size=int(tournament_size))
        self.population: list[_Individual] = []
        multi = len(objectives.weights) > 1
        self.hall_of_fame = tools.ParetoFront() if multi else tools.HallOfFame(self.survivors)

    def _individual(self, genome: Genome, values: Values) -> _Individual:
        fitness = self.toolbox.fitness()
        fitness.values = values
        return _Individual(genome, fitness, self.architecture_key(genome))

    def _propose(self, n):
        if not self.population:
            return [self.toolbox.random() for _ in range(n)]
        out: list[Genome] = []
        while len(out) < n:
            p1, p2 = self.toolbox.parents(self.population, 2)
            if self.rng.random() < self.cx_prob:
                children = list(self.toolbox.mate(p1.genome, p2.genome))
            else:
                children = [p1.genome, p2.genome]
            for child in children:
                # a child identical to a known architecture is mutated until new (bounded)
                for attempt in range(5):
                    if attempt > 0 or self.rng.random() < self.mut_prob:
                        child = self.toolbox.mutate(child)
                    if self.architecture_key(child) not in self.seen:
                        break
                out.append(child)
        return out[:n]

    def _tell(self, genomes, values):
        trained = [self._individual(g, v) for g, v in zip(genomes, values) if v is not None]
        if not trained:
            return
        self.population = list(self.toolbox.select(self.population + trained, self.survivors))
        self.hall_of_fame.update(trained)

    @property
    def best(self) -> list[Genome]:
        """The hall of fame (or Pareto front), best first."""
        return [ind.genome for ind in self.hall_of_fame]

    def state_dict(self):
        state = super().state_dict()
        state["population"] = [{"genome": i.genome.to_dict(), "values": list(i.fitness.values)} for i in self.population]
        state["hall_of_fame"] = [{"genome": i.genome.to_dict(), "values": list(i.fitness.values)} for i in self.hall_of_fame]
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.population = [self._individual(Genome.from_dict(d["genome"]), tuple(d["values"])) for d in state["population"]]
        self.hall_of_fame.clear()
        self.hall_of_fame.update([self._individual(Genome.from_dict(d["genome"]), tuple(d["values"])) for d in state["hall_of_fame"]])


# --- Optuna samplers over the genome's parameter space -----------------------------------------
