"""Regularized (aging) evolution (Real et al. 2019), behind the ask/tell interface of
:class:`~nas.search.strategies.base.Strategy`.

Real, Aggarwal, Huang and Le, "Regularized Evolution for Image Classifier Architecture Search",
AAAI 2019, Algorithm 1, asked a generation at a time::

    queue = []                                    # trained individuals, oldest first (at most P)
    ask(n):  while fewer than P individuals were ever trained: random genomes (the initial population)
             then, per child: sample S individuals of the queue uniformly (with replacement),
                              child = mutate(the sample's best)       # no crossover
                              (mutated again, up to 4 times, while it is an architecture seen before)
    tell(genomes, values):  append the trained ones to the queue, then drop the OLDEST until P remain

Dropping by age, not fitness, is the regularisation: an architecture survives only as long as
its descendants keep winning tournaments, so one lucky screening score cannot anchor the search.
P is ``queue_size`` (the search's ``aging_queue``; by default its ``population``, so with every
child trained an individual lives about one generation), S the ``tournament_size``. With two
objectives the sample's best is the first of its Pareto front (then the metric).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from nas.exceptions import ConfigError
from nas.search.strategies.base import Strategy, Values
from nas.search.strategies.ranking import best_first
from search_spaces.genome import Genome

__all__ = ["AgingEvolution"]


class AgingEvolution(Strategy):
    """Regularized (aging) evolution: tournament on a queue of the most recent trained individuals.

    Parameters
    ----------
    space, rng, objectives, survivors
        See :class:`~nas.search.strategies.base.Strategy` (``survivors`` is not used here).
    queue_size : int
        P: trained individuals kept, newest; the oldest leaves first.
    tournament_size : int
        S: individuals sampled per child; the best of them is the parent.
    """

    name = "aging"
    remutations = 4  # extra mutations of a child that is an architecture seen before

    def __init__(self, space, rng, objectives, *, survivors=8, queue_size=16, tournament_size=3):
        super().__init__(space, rng, objectives, survivors=survivors)
        if int(queue_size) < 1:
            raise ConfigError(f"queue_size must be >= 1, got {queue_size!r}")
        if int(tournament_size) < 1:
            raise ConfigError(f"tournament_size must be >= 1, got {tournament_size!r}")
        self.queue_size, self.tournament_size = int(queue_size), int(tournament_size)
        self.queue: deque[tuple[Genome, Values]] = deque()
        self.trained = 0  # individuals ever told with values (the initial population is the first P)
        self._drawn = 0  # random genomes proposed in the current ask() (they count towards the initial P)

    def _parent(self) -> Genome:
        picks = self.rng.integers(0, len(self.queue), size=self.tournament_size)
        sample = [self.queue[int(i)] for i in picks]
        winner = best_first(np.array([v for _, v in sample]), self.objectives.weights)[0]
        return sample[winner][0]

    def ask(self, n: int) -> list[Genome]:
        self._drawn = 0
        return super().ask(n)

    def _propose(self, n):
        # the initial population: random genomes until P have been trained (failed ones are replaced);
        # a retry after a duplicate keeps the split of the first call (children stay children)
        fill = n if not self.queue else max(0, min(n, self.queue_size - self.trained - self._drawn))
        self._drawn += fill
        out = [self.space.random(self.rng) for _ in range(fill)]
        for _ in range(n - fill):
            child = self.space.mutate(self._parent(), self.rng)
            for _attempt in range(self.remutations):
                if self.architecture_key(child) not in self.seen:
                    break
                child = self.space.mutate(child, self.rng)
            out.append(child)
        return out

    def _tell(self, genomes, values):
        for genome, value in zip(genomes, values):
            if value is not None:
                self.queue.append((genome, value))
                self.trained += 1
        while len(self.queue) > self.queue_size:
            self.queue.popleft()  # age, not fitness

    @property
    def best(self) -> list[Genome]:
        """The queue's individuals, best first (the aging evolution keeps no hall of fame)."""
        order = best_first(np.array([v for _, v in self.queue]).reshape(len(self.queue), -1), self.objectives.weights)
        return [self.queue[i][0] for i in order]

    def state_dict(self):
        state = super().state_dict()
        state["queue"] = [{"genome": g.to_dict(), "values": list(v)} for g, v in self.queue]
        state["trained"] = self.trained
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.queue = deque((Genome.from_dict(d["genome"]), tuple(float(x) for x in d["values"])) for d in state["queue"])
        self.trained = int(state["trained"])
