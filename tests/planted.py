"""A planted, training-free evaluator for search and benchmark tests.

:class:`PlantedTrainer` stands in for :class:`nas.search.evaluator.Trainer`: a candidate's
validation value is a deterministic function of its genome (more nodes and wider vertices score
higher) plus noise seeded by the genome's key and the search seed, and every screening training
costs :data:`COST` example-epochs (:data:`FINAL_COST` for a full training). :class:`Oracle`
proposes the planted optimum's node count and width; :class:`ShiftedRandom` is random search on
another stream of the same generator (the same distribution, other draws).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from nas.search.strategies import STRATEGIES, RandomSearch
from nas.training.candidates import Outcome
from nas.training.tasks import get_task

EXAMPLES, EPOCHS = 500, 2
COST = EXAMPLES * EPOCHS
FINAL_COST = 5 * COST
NODES, WIDTHS = (6, 30), (1, 16)

#: Search options of the planted space (erdos_renyi's parameter does not depend on the node count).
SPACE = {"population": 6, "survivors": 3, "nodes": NODES, "widths": WIDTHS, "priors": ["erdos_renyi"],
         "gating": False, "final_top": 0, "min_train_size": 4}


def planted_value(genome, seed: int) -> float:
    """0.5 + up to 0.3 for nodes + up to 0.1 for width + noise in [0, 0.01)."""
    lo, hi = NODES
    noise = np.random.default_rng([int(genome.key[:12], 16), seed]).uniform(0.0, 0.01)
    return 0.5 + 0.3 * (genome.nodes - lo) / (hi - lo) + 0.1 * math.log2(genome.width) / math.log2(WIDTHS[1]) + noise


class PlantedTrainer:
    """The search's trainer, without training (see the module docstring)."""

    family = "ff"
    #: MNIST's shape, for the equal-cost counters (ff counts are analytic: no data is read)
    data = SimpleNamespace(input_shape=(1, 28, 28), num_classes=10)

    def __init__(self, config=None, interrupt_on_call: int | None = None):
        self.task = get_task("mnist")
        self.seed = 0 if config is None else config.seed
        self.train_config = SimpleNamespace(epochs=EPOCHS, seed=self.seed)
        self.interrupt_on_call = interrupt_on_call
        self.calls = 0

    def prepare(self) -> None:
        pass

    def train_examples(self, config=None) -> int:
        return EXAMPLES

    def screening_cost(self) -> int:
        return COST

    def train(self, genomes):
        PlantedTrainer.total_calls = getattr(PlantedTrainer, "total_calls", 0) + 1
        self.calls += 1
        if self.interrupt_on_call is not None and PlantedTrainer.total_calls == self.interrupt_on_call:
            raise KeyboardInterrupt
        out = []
        for g in genomes:
            v = planted_value(g, self.seed)
            out.append(Outcome(metrics={"val_accuracy": v, "test_accuracy": v - 0.005, "wall_time_s": 0.01,
                                        "nonzero_weights": 10 * g.nodes, "parameters": 20 * g.nodes, "device": "cpu",
                                        "epochs": EPOCHS, "example_epochs": COST}))
        return out

    def train_final(self, genomes, seed):
        out = self.train(genomes)
        for g, o in zip(genomes, out):
            shift = ((int(g.key[:8], 16) + seed) % 5) / 1000
            o.metrics = {**o.metrics, "val_accuracy": o.metrics["val_accuracy"] + shift,
                         "test_accuracy": o.metrics["test_accuracy"] + shift, "example_epochs": FINAL_COST}
        return out

    def train_dense(self, genome, seed):
        """The dense counterpart: a fixed accuracy a little under the planted optimum, per seed."""
        v = 0.9 + (seed % 3) / 1000
        return Outcome(metrics={"val_accuracy": v, "test_accuracy": v - 0.005, "nonzero_weights": 100 * genome.nodes,
                                "epochs": EPOCHS, "example_epochs": FINAL_COST})


class Oracle(RandomSearch):
    """Proposes random graphs at the planted optimum's node count and width."""

    name = "oracle"

    def _propose(self, n):
        lo, hi = self.space.nodes
        return [self.space.random(self.rng).replace(nodes=hi, width=self.space.widths[1]) for _ in range(n)]


class ShiftedRandom(RandomSearch):
    """Random search whose draws start one number later on the search's generator."""

    name = "shifted_random"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rng.random()


def register(monkeypatch, **strategies) -> None:
    """Add ``name=StrategyClass`` to the strategy registry for one test."""
    for name, cls in strategies.items():
        monkeypatch.setitem(STRATEGIES, name,
                            (lambda space, rng, obj, survivors=8, _cls=cls, **kw: _cls(space, rng, obj, survivors=survivors),
                             ("survivors",)))
