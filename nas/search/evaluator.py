"""Training the candidates of a search: one :class:`Trainer` per search (task, budget, data).

Feed-forward, recurrent and random-wired CNN candidates are trained together as stacked cohorts
(:func:`nas.training.stacking.train_cohort`); each trial's ``wall_time_s`` is then its
stack's time divided evenly. Under cohort training a gated-out candidate would not have cost
the mean per-candidate time — it would have joined a stack and added its *marginal* cost — so the
time gating *saved* is the generation's measured training time scaled by the cost model's ratio
(planned cost of every candidate − planned cost of those trained) / planned cost of those trained
(:meth:`Trainer.saved_time`). CNN stacks have no cost model — a stack of CNNs is its candidates'
grouped convolutions side by side, whose cost grows about linearly with the candidates — so they
keep the plain estimate: gated-out candidates × mean time per trained candidate.

Compute is counted in *trained example-epochs*: the training examples a candidate was trained on
(the split after ``train_subset``) times the epochs it actually ran, cut to ``steps × batch_size``
when ``max_steps`` ended an epoch early (:func:`example_epochs`). Every outcome's metrics carry it
as ``example_epochs``; a failed candidate is charged its planned budget (:meth:`Trainer.screening_cost`
or the full training's), since the compute was spent even though no result came of it.

Every trained candidate's FLOPs per example (:mod:`nas.training.flops`, the counter behind the
``flops`` target and objective) join its metrics (:meth:`Trainer.flops`), and the cost-aware gate
asks :meth:`Trainer.training_cost` what training each candidate would cost.
"""

from __future__ import annotations

import math
from typing import Sequence

from nas.exceptions import TrainingError
from nas.search.baseline import build_dense
from nas.search.config import SearchConfig
from nas.search.rungs import rung_steps
from nas.training import build_seeded
from nas.training.candidates import (
    SETUP_ERRORS,
    Outcome,
    train_candidates,
    trains_together,
)
from nas.training.config import TrainConfig, TrainOverrides
from nas.training.device import resolve_device
from nas.training.flops import mean_sequence_length, task_flops_counter
from nas.training.proxies import zero_cost_proxies
from nas.training.stacking import train_models
from nas.training.stacking.planner import plan_cost
from nas.training.tasks import get_task
from search_spaces.exceptions import SparseNASError
from search_spaces.genome import Genome

__all__ = ["Trainer", "PROXY_BATCH", "PROXY_COLUMNS", "example_epochs"]

PROXY_BATCH = 256
PROXY_COLUMNS = ("synflow", "log_synflow", "snip", "grad_norm")


def example_epochs(train_examples: int, config: TrainConfig, metrics: dict | None) -> int:
    """Trained example-epochs of one training run: ``train_examples`` × the epochs it ran, at most
    ``steps × batch_size`` (a ``max_steps`` run that ended part-way through an epoch); a run
    without metrics (failed) is charged its planned ``train_examples × config.epochs``.

    >>> cfg = TrainConfig(epochs=3, batch_size=100)
    >>> example_epochs(1000, cfg, {"epochs": 2, "steps": 20}), example_epochs(1000, cfg, {"epochs": 1, "steps": 4})
    (2000, 400)
    >>> example_epochs(1000, cfg, None)
    3000
    """
    planned = train_examples * config.epochs
    if not metrics or metrics.get("epochs") is None:
        return int(planned)
    ran = train_examples * int(metrics["epochs"])
    if metrics.get("steps") is not None:
        ran = min(ran, int(metrics["steps"]) * config.batch_size)
    return int(ran)


class Trainer:
    """Trains genomes for one search's task and budget; loads the data once, lazily.

    Parameters
    ----------
    config : SearchConfig
        Task, family, training overrides, data folder, device and seed are read from it.
    """

    def __init__(self, config: SearchConfig):
        self.config = config
        self.task = get_task(config.task)
        self.family = config.family or self.task.default_family
        self.task.check_family(self.family)
        # Built now, so that the rules between training options and the task's defaults fail
        # before anything runs (the final phase comes last).
        self.train_config = self._config(config.seed, config.train)
        self.final_train_config = self._config(config.seed, config.final_train) if config.final_top else None
        self._data = None
        self._flops = None  # the FLOPs counter, made once the data is loaded

    def _config(self, seed: int, overrides: TrainOverrides) -> TrainConfig:
        """The task's budget with ``overrides``, ``seed``, the search's device and its progress
        display (a cohort's steps as a bar on a terminal)."""
        device = {} if self.config.device is None else {"device": self.config.device}
        return self.task.default_config(overrides, seed=seed, progress=self.config.progress, **device)

    @property
    def data(self):
        if self._data is None:
            self._data = self.task.load(data_dir=self.config.data_dir, allow_partial=self.config.allow_partial_data)
        return self._data

    def prepare(self) -> None:
        """Check the set-up now rather than at the first training: the device exists
        (:class:`~nas.exceptions.DeviceError`) and the task's data loads and verifies
        (:class:`~nas.exceptions.DataError`). A set-up error is never a trial's failure."""
        resolve_device(self.train_config.device)
        self.data

    def final_config(self, seed: int) -> TrainConfig:
        """The full training budget of the survivors: the task's own, plus ``final_train`` overrides."""
        if self.final_train_config is None:
            return self._config(seed, self.config.final_train)
        return self.final_train_config.replace(seed=seed)

    def train_final(self, genomes: Sequence[Genome], seed: int) -> list[Outcome]:
        """Train ``genomes`` at the full budget (:meth:`final_config`) with ``seed``; no proxies."""
        config = self.final_config(seed)
        return self._counted(self._train(list(genomes), config), config)

    def train_dense(self, genome: Genome, seed: int) -> Outcome:
        """Train ``genome``'s dense counterpart (:func:`nas.search.baseline.build_dense`) at the full
        budget with ``seed``; a training failure is the outcome's error, a set-up error is raised."""
        config = self.final_config(seed)
        try:
            model = build_dense(genome, self.task, self.data, seed)
            result = train_models([model], self.task, config, self.data)[0]
        except SETUP_ERRORS:
            raise
        except (TrainingError, SparseNASError, RuntimeError, ValueError) as err:
            return Outcome(error=f"{type(err).__name__}: {err}")
        metrics = {**result.to_dict(), "chance": self.task.chance(self.data)}  # the report's "did it learn" check
        return self._counted([Outcome(metrics=metrics, model=result.model)], config)[0]

    def train_examples(self, config: TrainConfig | None = None) -> int:
        """Training examples a candidate sees per epoch under ``config`` (default: the screening budget)."""
        config = config or self.train_config
        n = len(self.data.train)
        return n if config.train_subset is None else min(n, config.train_subset)

    def screening_cost(self) -> int:
        """Planned example-epochs of one screened candidate (training examples × screening epochs)."""
        return self.train_examples() * self.train_config.epochs

    def _counted(self, outcomes: list[Outcome], config: TrainConfig) -> list[Outcome]:
        """``outcomes`` with their ``example_epochs`` (a failed one: metrics holding only that)."""
        n = self.train_examples(config)
        for outcome in outcomes:
            spent = example_epochs(n, config, outcome.metrics)
            outcome.metrics = {**(outcome.metrics or {}), "example_epochs": spent}
        return outcomes

    def train(self, genomes: Sequence[Genome], fidelity: float | None = None) -> list[Outcome]:
        """Train ``genomes`` (see :meth:`_train`) at the screening budget, or at ``fidelity`` of
        its optimizer steps (a rung of successive halving: :meth:`rung_config`), then add the
        learning curve (``val_curve``: validation accuracy after each epoch), the FLOPs per
        example (:meth:`flops`) and the zero-cost proxies (:meth:`proxies`) of every candidate
        that trained; what cannot be computed is left out and never fails the trial.
        """
        genomes = list(genomes)
        config = self.train_config if fidelity is None else self.rung_config(fidelity)
        outcomes = self._train(genomes, config)
        for genome, outcome in zip(genomes, outcomes):
            if outcome.metrics is None or outcome.error is not None:
                continue
            history = outcome.metrics.get("history")
            if isinstance(history, list) and history:
                outcome.metrics["val_curve"] = [float(h["val_accuracy"]) for h in history]
            for extra in (lambda: {"flops": self.flops(genome)}, lambda: self.proxies(genome)):
                try:
                    outcome.metrics.update(extra())
                except (SparseNASError, RuntimeError, ValueError):  # left out, never the trial's failure
                    pass
        return self._counted(outcomes, config)

    @property
    def stacked(self) -> bool:
        """True when this search's candidates are trained together (feed-forward, recurrent and CNN families)."""
        return trains_together(self.family)

    def saved_time(self, trained: Sequence[Genome], skipped: Sequence[Genome], train_time_s: float) -> float:
        """Estimated seconds that training ``skipped`` as well would have added to ``train_time_s``.

        Stacked families: ``train_time_s`` × (planned step cost of ``trained + skipped`` − that of
        ``trained``) / that of ``trained`` (:func:`nas.training.stacking.planner.plan_cost`), the
        marginal cost of the skipped candidates in the stacks they would have joined. Otherwise:
        the mean time per trained candidate × the number skipped.
        """
        if not skipped or not trained:
            return 0.0
        plain = train_time_s / len(trained) * len(skipped)
        if not self.stacked or self.family == "cnn":
            return plain

        build = lambda genomes: [build_seeded(g, self.task, self.data, self.train_config.seed) for g in genomes]  # noqa: E731
        try:
            device = resolve_device(self.train_config.device)
            ran = build(trained)
            base = plan_cost(ran, self.train_config.batch_size, device)
            full = plan_cost(ran + build(skipped), self.train_config.batch_size, device)
        except (SparseNASError, RuntimeError, ValueError):  # an unbuildable skipped genome
            return plain
        return train_time_s * max(full - base, 0.0) / base if base > 0 else 0.0

    def flops(self, genome: Genome) -> int:
        """FLOPs per example of ``genome``'s model on this task (:func:`nas.training.flops.task_flops_counter`)."""
        if self._flops is None:
            self._flops = task_flops_counter(self.task, self.data)
        return self._flops(genome)

    def screening_steps(self) -> int:
        """Optimizer steps of the screening budget: examples / batch × epochs, at most ``max_steps``."""
        config = self.train_config
        examples = len(self.data.train) if config.train_subset is None else min(config.train_subset, len(self.data.train))
        steps = math.ceil(examples / config.batch_size) * config.epochs
        return steps if config.max_steps is None else min(steps, config.max_steps)

    def rung_config(self, fidelity: float):
        """The screening budget cut to ``fidelity`` of its optimizer steps (``max_steps``, at least
        one; the learning-rate schedule then spans the shorter budget); the budget itself at 1."""
        if fidelity >= 1.0:
            return self.train_config
        return self.train_config.replace(max_steps=rung_steps(self.screening_steps(), fidelity))

    def training_cost(self, genomes: Sequence[Genome]) -> list[float]:
        """Predicted cost of training each of ``genomes`` alone at the screening budget.

        ``ff`` and ``rnn:*``: seconds, from the step-cost model that plans the stacks
        (:func:`nas.training.stacking.planner.plan_cost` of the candidate alone, times the
        optimizer steps of the budget — examples / batch × epochs, at most ``max_steps`` — times
        the mean sequence length for an RNN, whose step cost is per time step). On a CPU these small
        networks cost about as much per layer (kernel launches, autograd) as per multiply-add, so
        a deep candidate costs more than a shallow one of equal FLOPs; FLOPs alone would miss it.
        ``cnn`` (no step-cost model): multiply-accumulates, 3 × FLOPs (forward and backward) ×
        examples × epochs. Only ratios between candidates of one generation are used. A genome
        that cannot be built costs ``inf``.
        """
        config = self.train_config
        examples = len(self.data.train) if config.train_subset is None else min(config.train_subset, len(self.data.train))
        steps = math.ceil(examples / config.batch_size) * config.epochs
        if config.max_steps is not None:
            steps = min(steps, config.max_steps)
        costs = []
        for genome in genomes:
            try:
                if self.family == "cnn":
                    costs.append(3.0 * self.flops(genome) * examples * config.epochs)
                    continue
                model = build_seeded(genome, self.task, self.data, config.seed)
                per_step = plan_cost([model], config.batch_size, resolve_device(config.device))
                length = mean_sequence_length(self.data) if self.family.startswith("rnn") else 1.0
                costs.append(per_step * steps * length)
            except (SparseNASError, RuntimeError, ValueError):  # an unbuildable genome: never preferred
                costs.append(math.inf)
        return costs

    def _train(self, genomes: Sequence[Genome], config=None) -> list[Outcome]:
        """Train ``genomes`` with ``config`` (default: the screening budget); see :func:`train_candidates`."""
        return train_candidates(genomes, self.task, config or self.train_config, self.data)

    def proxies(self, genome: Genome) -> dict[str, float]:
        """Zero-cost proxies of ``genome``'s untrained network: the very initial weights its
        training starts from, scored on the first :data:`PROXY_BATCH` training examples.

        They become extra columns of ``evaluations.csv`` (``synflow``, ``log_synflow``, ``snip``,
        ``grad_norm``), so their value as predictor inputs can be measured with
        ``nas predictor evaluate --data evaluations.csv --target val_accuracy --extra-features snip,log_synflow``. Sequence models are scored
        without their lengths (on the padded batch), which keeps the proxy a function of the
        genome and the batch alone.
        """
        batch = self.data.train.subset(slice(0, PROXY_BATCH))
        model = build_seeded(genome, self.task, self.data, self.train_config.seed)
        scores = zero_cost_proxies(model, batch.x, batch.y, lambda out, y: self.task.loss(out, y, None))
        return {name: float(scores[name]) for name in PROXY_COLUMNS}
