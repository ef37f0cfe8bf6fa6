"""What every search strategy shares: the search space it draws from (:class:`SearchSpace`), the
objectives it is told (:class:`Objectives`), the ask/tell base class with its deduplication by
:func:`search_spaces.genome.architecture_key` (:class:`Strategy`), and the random strategy
(:class:`RandomSearch`).
The overview of the strategies is the package's docstring (:mod:`nas.search.strategies`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from nas.exceptions import ConfigError
from search_spaces.genome import (
    ARCHITECTURE_KEY_VERSION,
    ARCHITECTURE_KEY_VERSIONS,
    Genome,
    architecture_key,
)
from search_spaces.operators import crossover, default_priors, mutate, random_genome
from search_spaces.priors import get_prior

Values = tuple[float, ...]

SECOND_OBJECTIVES = ("nonzero_weights", "parameters", "flops")


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
    equal-cost rule (:func:`nas.training.equal_cost.width_for_weight_target`), which sets the width.
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
        return self.fitted(random_genome(rng, priors=None if self.priors is None else list(self.priors), nodes=self.nodes,
                                          family=self.family, widths=self.widths, readout=self.readout))

    def mutate(self, genome: Genome, rng: np.random.Generator) -> Genome:
        return self.fitted(mutate(genome, rng, nodes=self.nodes, priors=None if self.priors is None else list(self.priors),
                                   widths=self.widths))

    def crossover(self, a: Genome, b: Genome, rng: np.random.Generator) -> tuple[Genome, Genome]:
        c1, c2 = crossover(a, b, rng)
        return self.fitted(c1), self.fitted(c2)

    def prior_names(self) -> list[str]:
        """Priors an Optuna sampler may choose from (``explicit`` carries a fixed graph, so not it)."""
        names = list(self.priors) if self.priors is not None else default_priors()
        return [p for p in names if get_prior(p).min_nodes <= self.nodes[1]]


# --- the common interface -----------------------------------------------------------------------


class Strategy:
    """Base of every strategy: ask/tell with dedup by architecture key and a JSON-able state.

    Two proposals are duplicates when they build the same network (:meth:`architecture_key`:
    family, DAG, width, readout), so a width-only or readout-only change is a new architecture.
    The key's version is part of the state: a state saved without one was saved under version 1
    (family and DAG only) and keeps it, so a search stored before width and readout were keyed
    resumes as it would have.

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
        self.seen: set[str] = set()  # architecture keys of everything proposed so far
        self.generation = 0
        self.key_version = ARCHITECTURE_KEY_VERSION  # a loaded state may hold an older one

    def architecture_key(self, genome: Genome) -> str:
        """The dedup key of ``genome`` under this search's key version (stored per trial in the ledger)."""
        return architecture_key(genome, self.key_version)

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
                key = self.architecture_key(genome)
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
        self.seen.update(self.architecture_key(g) for g in genomes)

    def _propose(self, n: int) -> list[Genome]:
        raise NotImplementedError

    def _rejected_duplicate(self, genome: Genome) -> None:
        """Hook for strategies that must know a proposal was dropped."""

    def _tell(self, genomes: list[Genome], values: list[Values | None]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name, "seen": sorted(self.seen), "generation": self.generation,
                "key_version": self.key_version}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name") != self.name:
            raise ConfigError(f"state is for strategy {state.get('name')!r}, not {self.name!r}")
        # a state without a key version was saved before width and readout were keyed: its keys are version 1
        version = state.get("key_version", 1)
        if version not in ARCHITECTURE_KEY_VERSIONS:
            raise ConfigError(f"state's key_version must be one of {list(ARCHITECTURE_KEY_VERSIONS)}, got {version!r}")
        self.key_version = version
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
