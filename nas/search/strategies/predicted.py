"""Strategies that rank many candidates by a predictor fitted on what they were told: the
neural-predictor strategy (Wen et al. 2020) and predictor-guided evolution with an acquisition
(BANANAS, White et al. 2021; NPENAS, Wei et al. 2022).

Both, per generation (``ask(n)``)::

    if fewer than min_train_size individuals were trained: n random genomes
    else:
        predictor = make_predictor(predictor_model, predictor_group, random_state=rng draw)
                    .fit(every (genome, value) told so far)          # one per objective
        pool = candidates(pool_factor * n)        # "predictor": random draws; "bananas": mutated best
        drop the pool's architectures proposed before (and its own repeats)
        propose the n best by score                # "predictor": predicted mean;
                                                   # "bananas": mean + ucb_beta * std (UCB)

Wen, Liu, Chen, Li, Bender and Kindermans, "Neural Predictor for Neural Architecture Search",
ECCV 2020: train N random architectures, fit the predictor, rank many sampled ones, train the top
K (here repeated every generation, refitting on all results). White, Neiswanger and Savani,
"BANANAS: Bayesian Optimization with Neural Architectures for Neural Architecture Search",
AAAI 2021, and Wei, Niu, Tang, Wang, Hu and Liang, "NPENAS", IEEE TNNLS 2022: mutate the best
architectures into many children and train those the acquisition over the predictor's mean and
uncertainty ranks best. The uncertainty is :func:`predictors.uncertainty.predict_with_uncertainty`
(per-tree spread for forests, predictive std for GP / Bayesian ridge, the members' spread for the
ensemble; zero for models without one, where UCB is the mean). UCB rather than expected
improvement: a forest's per-tree spread is not a calibrated posterior, and EI turns every
candidate predicted below the best into a tie at zero when the spread is small (always, for
models without one), while UCB keeps ranking by the mean.

The predictor is refitted once per generation with a seed drawn from the search's generator, and
the state holds only the told history, so a resumed search refits the same predictor. With two
objectives one predictor per objective is fitted and the pool is ranked by Pareto front, then by
the first objective's score (the uncertainty bonus applies to the metric only).
"""

from __future__ import annotations

import numpy as np

from nas.exceptions import ConfigError
from nas.search.strategies.base import Strategy, Values
from nas.search.strategies.ranking import best_first
from predictors.models import get_model_spec, make_predictor
from predictors.uncertainty import predict_with_uncertainty
from search_spaces.features import FEATURE_GROUPS
from search_spaces.genome import Genome

__all__ = ["PredictorGuided", "NeuralPredictorSearch", "BananasSearch"]


class PredictorGuided(Strategy):
    """Base of the predictor-ranked strategies: the told history, the per-generation fit, the pool's ranking.

    Parameters
    ----------
    space, rng, objectives, survivors
        See :class:`~nas.search.strategies.base.Strategy`.
    predictor_model, predictor_group : str
        The predictor (:func:`predictors.make_predictor`): a registered model and feature group.
    min_train_size : int
        Trained individuals needed before the predictor is used; until then proposals are random.
    candidate_pool : int or None
        Candidates scored per proposal (the pool is ``candidate_pool * n``); None: the strategy's
        ``default_pool``.
    ucb_beta : float
        Weight of the predictor's standard deviation in the acquisition (``bananas``).
    """

    default_pool = 10
    remutations = 4

    def __init__(self, space, rng, objectives, *, survivors=8, predictor_model="rf", predictor_group="extended",
                 min_train_size=8, candidate_pool=None, ucb_beta=1.0):
        super().__init__(space, rng, objectives, survivors=survivors)
        get_model_spec(predictor_model)  # UnknownModelError listing the registered ones
        if predictor_group not in FEATURE_GROUPS:
            raise ConfigError(f"predictor_group must be one of {sorted(FEATURE_GROUPS)}, got {predictor_group!r}")
        if int(min_train_size) < 2:
            raise ConfigError(f"min_train_size must be >= 2, got {min_train_size!r}")
        pool = self.default_pool if candidate_pool is None else candidate_pool
        if int(pool) < 1:
            raise ConfigError(f"candidate_pool must be >= 1, got {candidate_pool!r}")
        if not float(ucb_beta) >= 0:
            raise ConfigError(f"ucb_beta must be >= 0, got {ucb_beta!r}")
        self.predictor_model, self.predictor_group = predictor_model, predictor_group
        self.min_train_size, self.candidate_pool, self.ucb_beta = int(min_train_size), int(pool), float(ucb_beta)
        self.history: list[tuple[Genome, Values]] = []  # every trained individual told, in order
        self._fitted: tuple[int, list] | None = None  # (generation, one fitted pipeline per objective)
        self._asked: set[str] = set()  # keys proposed in the current ask() (the base adds them to seen at its end)

    # --- what subclasses choose ---

    def _candidates(self, count: int) -> list[Genome]:
        """``count`` candidates for the predictor to rank."""
        raise NotImplementedError

    def _scores(self, predictors: list, pool: list[Genome]) -> np.ndarray:
        """Score of each candidate per objective, shape ``(len(pool), objectives)``: the predicted means."""
        return np.column_stack([np.asarray(p.predict(pool), dtype=float) for p in predictors])

    # --- the shared steps ---

    def predictors(self) -> list:
        """One pipeline per objective, fitted on the history; refitted once per generation."""
        if self._fitted is None or self._fitted[0] != self.generation:
            genomes = [g for g, _ in self.history]
            y = np.array([v for _, v in self.history], dtype=float)
            fitted = []
            for j in range(len(self.objectives.names)):
                seed = int(self.rng.integers(0, 2**31 - 1))
                pipeline = make_predictor(model=self.predictor_model, group=self.predictor_group, random_state=seed)
                fitted.append(pipeline.fit(genomes, y[:, j]))
            self._fitted = (self.generation, fitted)
        return self._fitted[1]

    def ask(self, n: int) -> list[Genome]:
        self._asked = set()
        return super().ask(n)

    def _propose(self, n):
        if len(self.history) < self.min_train_size:
            out = [self.space.random(self.rng) for _ in range(n)]
        else:
            pool, keys = [], set(self._asked)
            for genome in self._candidates(self.candidate_pool * n):
                key = self.architecture_key(genome)
                if key not in self.seen and key not in keys:
                    keys.add(key)
                    pool.append(genome)
            if not pool:
                return []
            order = best_first(self._scores(self.predictors(), pool), self.objectives.weights)
            out = [pool[i] for i in order[:n]]
        self._asked.update(self.architecture_key(g) for g in out)
        return out

    def _remutated(self, genome: Genome) -> Genome:
        """A mutation of ``genome``, mutated again (a few times at most) while it was proposed before."""
        child = self.space.mutate(genome, self.rng)
        for _attempt in range(self.remutations):
            if self.architecture_key(child) not in self.seen:
                break
            child = self.space.mutate(child, self.rng)
        return child

    def _tell(self, genomes, values):
        self.history.extend((g, v) for g, v in zip(genomes, values) if v is not None)

    @property
    def best(self) -> list[Genome]:
        """The ``survivors`` best trained individuals told so far, best first."""
        return [g for g, _ in self._best_told(self.survivors)]

    def _best_told(self, k: int) -> list[tuple[Genome, Values]]:
        if not self.history:
            return []
        order = best_first(np.array([v for _, v in self.history], dtype=float), self.objectives.weights)
        return [self.history[i] for i in order[:k]]

    def state_dict(self):
        state = super().state_dict()
        state["history"] = [{"genome": g.to_dict(), "values": list(v)} for g, v in self.history]
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.history = [(Genome.from_dict(d["genome"]), tuple(float(x) for x in d["values"])) for d in state["history"]]
        self._fitted = None  # refitted from the history, with the restored generator's next draws


class NeuralPredictorSearch(PredictorGuided):
    """The neural-predictor strategy (Wen et al. 2020): rank ``candidate_pool * n`` random
    architectures by the predicted metric and propose the top ``n`` (see the module docstring)."""

    name = "predictor"
    default_pool = 20

    def _candidates(self, count):
        return [self.space.random(self.rng) for _ in range(count)]


class BananasSearch(PredictorGuided):
    """Predictor-guided evolution (BANANAS / NPENAS): mutate the ``survivors`` best trained
    individuals (in turn) into ``candidate_pool * n`` children and propose the ``n`` with the
    highest upper confidence bound ``mean + ucb_beta * std`` (see the module docstring)."""

    name = "bananas"
    default_pool = 10

    def _candidates(self, count):
        parents = [g for g, _ in self._best_told(self.survivors)]
        return [self._remutated(parents[j % len(parents)]) for j in range(count)]

    def _scores(self, predictors, pool):
        mean, std = predict_with_uncertainty(predictors[0], pool)
        columns = [np.asarray(mean, dtype=float) + self.ucb_beta * np.asarray(std, dtype=float)]
        columns += [np.asarray(p.predict(pool), dtype=float) for p in predictors[1:]]
        return np.column_stack(columns)
