"""Search strategies behind one ask/tell interface: genetic (DEAP), random, Optuna TPE and NSGA-II.

A strategy proposes architectures and learns from their scores; it never trains anything. The
loop that owns training, predictor gating, budget, logging and the ledger is
:func:`nas.runner.run_search`, written once for every strategy::

    strategy = make_strategy("ga", space, rng, objectives, survivors=8)
    genomes = strategy.ask(16)                   # unique, never evaluated before (graph hash)
    strategy.tell(genomes, [(0.91,), None, ...])  # objective values, None = not trained / failed
    state = strategy.state_dict()                 # JSON-able; load_state_dict() continues exactly

All randomness comes from the one :class:`numpy.random.Generator` handed to the constructor (the
runner stores its ``bit_generator.state`` after every generation), so a resumed search proposes
exactly what an uninterrupted one would.

The genetic search, in pseudocode (elitist mu + lambda, mu = ``survivors``)::

    population = []                                    # trained individuals kept as parents
    ask(n):  if population is empty: n random genomes
             else repeat: p1, p2 = tournament(population)   (Pareto rank, then crowding, if 2 objectives)
                          c1, c2 = crossover(p1, p2) with probability cx_prob, else copies
                          each child: mutate with probability mut_prob (always, if it is a duplicate)
                          keep children whose graph hash was never proposed before
    tell(genomes, values):  population = select(population + trained, mu)   (NSGA-II if 2 objectives)
                            hall of fame (or Pareto front) updated with the trained ones
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from deap import base, tools

from nas.exceptions import ConfigError, UnknownNameError
from search_spaces.exceptions import SearchSpaceError
from search_spaces.genome import Genome, legacy_genome_dict

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
    "architecture_hash",
]

Values = tuple[float, ...]

SECOND_OBJECTIVES = ("nonzero_weights", "parameters", "flops")


def architecture_hash(genome: Genome) -> str:
    """Key used for dedup: the Weisfeiler–Lehman hash of the genome's layered DAG.

    Two genomes drawn by different priors or seeds that yield the same oriented graph build the
    same network, so they count as one architecture. The family is part of the key because the
    same graph is a different network as an MLP and as an RNN.
    """
    with warnings.catch_warnings():
        # networkx >= 3.5 warns that its WL hashes changed; our key carries the networkx version
        warnings.simplefilter("ignore", UserWarning)
        return f"{genome.family}|{genome.dag().wl_hash()}"


@dataclass(frozen=True)
class Objectives:
    """What the search optimises: a task metric (maximised), optionally a cost (minimised).

    Parameters
    ----------
    metric : str
        Key of the training result to maximise, e.g. ``"val_accuracy"``.
    second : str or None
        ``"nonzero_weights"``, ``"parameters"`` or ``"flops"`` (minimised), for a Pareto front.
    """

    metric: str = "val_accuracy"
    second: str | None = None

    def __post_init__(self):
        if self.second is not None and self.second not in SECOND_OBJECTIVES:
            raise ConfigError(f"second objective must be one of {list(SECOND_OBJECTIVES)} or None, got {self.second!r}")

    @property
    def names(self) -> tuple[str, ...]:
        return (self.metric,) if self.second is None else (self.metric, self.second)

    @property
    def weights(self) -> tuple[float, ...]:
        return (1.0,) if self.second is None else (1.0, -1.0)

    @property
    def directions(self) -> list[str]:
        return ["maximize" if w > 0 else "minimize" for w in self.weights]

    def values_from(self, metrics: dict) -> Values:
        """Objective values from a training result's dict (``flops`` falls back to 2 x nonzero weights)."""
        out = []
        for name in self.names:
            value = metrics.get(name)
            if value is None and name == "flops" and metrics.get("nonzero_weights") is not None:
                # one multiply and one add per non-zero weight and example: the masked layers' cost
                value = 2.0 * float(metrics["nonzero_weights"])
            if value is None:
                raise ConfigError(f"objective {name!r} is not in the training result; it has {sorted(metrics)}")
            out.append(float(value))
        return tuple(out)


@dataclass(frozen=True)
class SearchSpace:
    """The architectures a search may propose: priors, node range, model family, vertex widths and readout.

    Wraps the pure genome operators of :mod:`search_spaces.operators` with the space's settings.
    ``fit`` (optional) maps every proposed genome to the one actually evaluated — the search's
    equal-budget rule (:func:`nas.budget.width_for_budget`), which sets the width.
    """

    priors: tuple[str, ...] | None = None
    nodes: tuple[int, int] = (10, 50)
    family: str = "ff"
    widths: tuple[int, int] = (1, 1)
    readout: str = "sinks"
    fit: Callable[[Genome], Genome] | None = None

    def fitted(self, genome: Genome) -> Genome:
        """``genome`` as the search evaluates it (``fit`` applied, e.g. its width set to a budget)."""
        return genome if self.fit is None else self.fit(genome)

    def random(self, rng: np.random.Generator) -> Genome:
        from search_spaces.operators import random_genome

        return self.fitted(random_genome(rng, priors=None if self.priors is None else list(self.priors), nodes=self.nodes,
                                          family=self.family, widths=self.widths, readout=self.readout))

    def mutate(self, genome: Genome, rng: np.random.Generator) -> Genome:
        from search_spaces.operators import mutate

        return self.fitted(mutate(genome, rng, nodes=self.nodes, priors=None if self.priors is None else list(self.priors),
                                   widths=self.widths))

    def crossover(self, a: Genome, b: Genome, rng: np.random.Generator) -> tuple[Genome, Genome]:
        from search_spaces.operators import crossover

        c1, c2 = crossover(a, b, rng)
        return self.fitted(c1), self.fitted(c2)

    def prior_names(self) -> list[str]:
        """Priors an Optuna sampler may choose from (``explicit`` carries a fixed graph, so not it)."""
        from search_spaces.operators import default_priors
        from search_spaces.priors import get_prior

        names = list(self.priors) if self.priors is not None else default_priors()
        return [p for p in names if get_prior(p).min_nodes <= self.nodes[1]]


# --- the common interface -----------------------------------------------------------------------


class Strategy:
    """Base of every strategy: ask/tell with dedup by architecture hash and a JSON-able state.

    Parameters
    ----------
    space : SearchSpace
    rng : numpy.random.Generator
        The search's one generator; shared with the runner, never re-seeded here.
    objectives : Objectives
    survivors : int
        How many trained individuals a strategy keeps as parents / in its hall of fame.
    """

    name = "base"
    max_attempts_per_candidate = 50

    def __init__(self, space: SearchSpace, rng: np.random.Generator, objectives: Objectives, *, survivors: int = 8):
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        if int(survivors) < 1:
            raise ConfigError(f"survivors must be >= 1, got {survivors!r}")
        self.space = space
        self.rng = rng
        self.objectives = objectives
        self.survivors = int(survivors)
        self.seen: set[str] = set()  # hashes of every architecture proposed so far
        self.generation = 0

    # subclasses implement _propose(n) -> list[Genome] (may contain duplicates; the base filters)

    def ask(self, n: int) -> list[Genome]:
        """Propose up to ``n`` architectures never proposed before (fewer only if the space runs dry)."""
        if int(n) < 1:
            raise ConfigError(f"ask(n) needs n >= 1, got {n!r}")
        out: list[Genome] = []
        batch: set[str] = set()
        attempts = 0
        while len(out) < n and attempts < self.max_attempts_per_candidate * n:
            proposed = self._propose(n - len(out))
            attempts += max(1, n - len(out) - len(proposed))  # proposals that could not be made count too
            for genome in proposed:
                attempts += 1
                key = architecture_hash(genome)
                if key in self.seen or key in batch:
                    self._rejected_duplicate(genome)
                    continue
                batch.add(key)
                out.append(genome)
                if len(out) == n:
                    break
        self.seen.update(batch)
        return out

    def tell(self, genomes: Sequence[Genome], values: Sequence[Values | None]) -> None:
        """Report objective values for asked genomes; ``None`` means not trained (gated out or failed)."""
        if len(genomes) != len(values):
            raise ConfigError(f"tell() needs one value per genome, got {len(genomes)} genomes and {len(values)} values")
        k = len(self.objectives.names)
        for v in values:
            if v is not None and len(v) != k:
                raise ConfigError(f"each value must have {k} objective(s) {self.objectives.names}, got {v!r}")
        self._tell(list(genomes), [None if v is None else tuple(float(x) for x in v) for v in values])
        self.generation += 1

    def mark_seen(self, genomes: Sequence[Genome]) -> None:
        """Record architectures evaluated elsewhere (e.g. already in the ledger) so they are not proposed."""
        self.seen.update(architecture_hash(g) for g in genomes)

    def _propose(self, n: int) -> list[Genome]:
        raise NotImplementedError

    def _rejected_duplicate(self, genome: Genome) -> None:
        """Hook for strategies that must know a proposal was dropped."""

    def _tell(self, genomes: list[Genome], values: list[Values | None]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name, "seen": sorted(self.seen), "generation": self.generation}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name") != self.name:
            raise ConfigError(f"state is for strategy {state.get('name')!r}, not {self.name!r}")
        self.seen = set(state["seen"])
        self.generation = int(state["generation"])


# --- random search ------------------------------------------------------------------------------


class RandomSearch(Strategy):
    """Random search: every proposal is a fresh draw from the space (the baseline to beat)."""

    name = "random"

    def _propose(self, n):
        return [self.space.random(self.rng) for _ in range(n)]

    def _tell(self, genomes, values):
        pass


# --- genetic search (DEAP) ----------------------------------------------------------------------


class _Individual:
    """A genome with a DEAP fitness; equality by architecture hash (hall-of-fame similarity)."""

    __slots__ = ("genome", "fitness", "hash")

    def __init__(self, genome: Genome, fitness):
        self.genome = genome
        self.fitness = fitness
        self.hash = architecture_hash(genome)

    def __eq__(self, other):
        return isinstance(other, _Individual) and self.hash == other.hash

    def __hash__(self):
        return hash(self.hash)

    def __deepcopy__(self, memo):  # HallOfFame deep-copies; genomes are immutable
        clone = _Individual.__new__(_Individual)
        clone.genome, clone.hash = self.genome, self.hash
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
        return _Individual(genome, fitness)

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
                    if architecture_hash(child) not in self.seen:
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
        self.population = [self._individual(Genome.from_dict(legacy_genome_dict(d["genome"])), tuple(d["values"])) for d in state["population"]]
        self.hall_of_fame.clear()
        self.hall_of_fame.update([self._individual(Genome.from_dict(legacy_genome_dict(d["genome"])), tuple(d["values"])) for d in state["hall_of_fame"]])


# --- Optuna samplers over the genome's parameter space -----------------------------------------


class OptunaSearch(Strategy):
    """Optuna's TPE or NSGA-II sampler over the genome's parameters (prior, nodes, prior parameters).

    Proposals are drawn by ask/tell on a private in-memory study. Its trials (params, values and
    the sampler's system attributes) are the strategy's state, and the sampler is rebuilt at each
    ``ask`` with a seed drawn from the search's generator, so resume replays exactly. A drawn
    combination the prior rejects (e.g. ``m >= nodes``) is told as failed and drawn again. The
    graph seed is not a structural choice, so it comes from the search's generator, not the sampler.
    """

    def __init__(self, space, rng, objectives, *, survivors=8, sampler="tpe", population_size=None):
        if sampler not in ("tpe", "nsga2"):
            raise UnknownNameError("Optuna sampler", sampler, ["tpe", "nsga2"])
        super().__init__(space, rng, objectives, survivors=survivors)
        self.name = sampler
        self.sampler_name = sampler
        self.population_size = population_size
        self._trials: list[dict] = []  # finished trials of the private study, JSON-able
        self._pending: dict[str, int] = {}  # genome key -> index in self._trials (asked, not told)
        self._live_trials: dict = {}
        self._live = None  # the private study between tell()s (rebuilt from _trials after each)

    def _sampler(self):
        import optuna

        seed = int(self.rng.integers(0, 2**31 - 1))
        if self.sampler_name == "tpe":
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(4, self.survivors))
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(2, self.population_size or self.survivors))

    def _study(self):
        import optuna
        from optuna.distributions import json_to_distribution

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(directions=self.objectives.directions, sampler=self._sampler())
        for t in self._trials:
            study.add_trial(optuna.trial.create_trial(
                state=optuna.trial.TrialState[t["state"]],
                params=t["params"],
                distributions={k: json_to_distribution(v) for k, v in t["distributions"].items()},
                values=t["values"],
                system_attrs=t["system_attrs"],
            ))
        return study

    def _suggest(self, trial) -> Genome:
        from search_spaces.priors import get_prior

        prior = get_prior(trial.suggest_categorical("prior", self.space.prior_names()))
        nodes = trial.suggest_int("nodes", max(self.space.nodes[0], prior.min_nodes), self.space.nodes[1])
        params = {}
        for spec in prior.params:
            name = f"{prior.name}.{spec.name}"
            if spec.kind == "int":
                params[spec.name] = trial.suggest_int(name, int(spec.low), int(spec.high), log=spec.log)
            else:
                params[spec.name] = trial.suggest_float(name, float(spec.low), float(spec.high), log=spec.log)
        lo, hi = self.space.widths
        width = trial.suggest_int("width", lo, hi, log=True) if hi > lo else lo
        seed = int(self.rng.integers(0, 2**32 - 1))
        genome = Genome(prior.name, params, nodes=nodes, seed=seed, family=self.space.family, width=width,
                        readout=self.space.readout)
        return self.space.fitted(genome)

    def _record(self, trial, state: str, values=None) -> int:
        from optuna.distributions import distribution_to_json

        frozen = trial.study._storage.get_trial(trial._trial_id)
        self._trials.append({
            "state": state,
            "params": dict(frozen.params),
            "distributions": {k: distribution_to_json(d) for k, d in frozen.distributions.items()},
            "values": values,
            "system_attrs": dict(frozen.system_attrs),
        })
        return len(self._trials) - 1

    def _propose(self, n):
        import optuna

        if self._live is None:
            self._live = self._study()
        study = self._live
        out = []
        for _ in range(n):
            for _attempt in range(self.max_attempts_per_candidate):
                trial = study.ask()
                try:
                    genome = self._suggest(trial)
                    genome.dag()  # an empty graph is no network
                except SearchSpaceError:
                    # PRUNED, not FAIL: TPE counts pruned trials as bad and moves away from them
                    self._record(trial, "PRUNED")
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    continue
                # asked trials are parked as RUNNING; tell() completes them with the real values
                self._pending[genome.key] = self._record(trial, "RUNNING")
                self._live_trials[genome.key] = trial
                out.append(genome)
                break
        return out

    def _rejected_duplicate(self, genome):
        import optuna

        index = self._pending.pop(genome.key, None)
        if index is not None:
            self._trials[index]["state"] = "PRUNED"
            self._live.tell(self._live_trials.pop(genome.key), state=optuna.trial.TrialState.PRUNED)

    def _tell(self, genomes, values):
        for genome, value in zip(genomes, values):
            index = self._pending.pop(genome.key, None)
            if index is None:
                continue
            # a gated-out or failed candidate gets no fake score: PRUNED (TPE ranks it as bad)
            self._trials[index]["state"] = "PRUNED" if value is None else "COMPLETE"
            self._trials[index]["values"] = None if value is None else list(value)
        for index in self._pending.values():  # asked but never told
            self._trials[index]["state"] = "PRUNED"
        self._pending.clear()
        self._live, self._live_trials = None, {}

    def state_dict(self):
        state = super().state_dict()
        state["trials"] = self._trials
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self._trials = [dict(t) for t in state["trials"]]
        self._pending = {}
        self._live, self._live_trials = None, {}


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
