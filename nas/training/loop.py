"""Training one model: ``train_model`` and ``train_genome``.

``train_model(model, data, task, config)`` trains any model of any task; ``train_genome`` builds
the model from a genome first. The loop itself is :func:`nas.training.epochs.run_epochs`, the one
loop shared with stacks of candidates; :class:`ModelTrainee` is a single model's side of it. Everything that varies — budget, optimizer, schedule, early
stopping, precision, device, seed — comes from a frozen :class:`TrainConfig`; logging and progress
are callbacks, never copies of the loop.

How a run goes:

1. The device is resolved (``cuda`` if available, else CPU; overridable) and the whole dataset is
   moved there once. Each epoch draws a permutation *on the device* from a local
   :class:`torch.Generator` seeded with ``config.seed`` — no per-batch Python data loading.
2. Per step: forward (optionally under bf16 autocast), task loss, backward, optional gradient-norm
   clip, optimizer step, per-step cosine schedule. The first non-finite loss is remembered on the
   device (no host sync per step) and reported at the end of the epoch as a
   :class:`~nas.exceptions.TrainingError` naming the epoch and step.
3. After each epoch: validation loss and metric; ``schedule="plateau"`` multiplies the learning
   rate by ``plateau_factor`` after ``plateau_patience`` epochs without improvement (a plateau
   at ``min_lr`` or below ends training instead); with
   ``patience`` set, training stops after that many epochs without improvement and the best
   validation weights are restored before testing.
4. The test split is evaluated once and a :class:`TrainResult` is returned.

The optimizer, schedules and :class:`~nas.training.optimization.PlateauTracker` live in
:mod:`nas.training.optimization`; scoring in :mod:`nas.training.evaluation`.

Seeding: :func:`train_genome` builds the model with a local :class:`torch.Generator` seeded with
``config.seed`` (:func:`build_seeded`), and shuffling uses another one seeded the same way, so the
same genome and config give the same run and torch's global RNG is never touched.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any, Iterable, Sequence

import torch
from tqdm.auto import tqdm

from nas.exceptions import ConfigError, TrainingError
from nas.training.batches import check_augment, check_lengths, truncates
from nas.training.config import TrainConfig, TrainResult
from nas.training.device import autocast, memory_format, resolve_device
from nas.training.epochs import run_epochs, trained_result
from nas.training.evaluation import evaluate
from nas.training.optimization import training_loss
from nas.training.tasks import Task, get_task
from search_spaces.genome import genome_from_any

__all__ = ["Callback", "ProgressBar", "train_model", "train_genome", "build_seeded", "prepare_data", "ModelTrainee"]


class Callback:
    """Hooks the loop calls; subclass and override what you need. Return True from
    :meth:`on_epoch_end` to stop training after that epoch."""

    def on_train_start(self, context: dict[str, Any]) -> None:
        """``context``: model, data (on the device), task, config, device, steps_per_epoch."""

    def on_epoch_end(self, epoch: int, record: dict[str, float], model: torch.nn.Module) -> bool | None:
        """``record``: epoch, train_loss, val_loss, val_accuracy, lr, steps, elapsed_s."""

    def on_train_end(self, result: TrainResult) -> None:
        """Called with the finished result."""


class ProgressBar(Callback):
    """A tqdm bar over epochs on stderr showing loss and validation metric."""

    def __init__(self, desc: str = "train", position: int | None = None):
        self.desc = desc
        self.position = position
        self._bar = None

    def on_train_start(self, context):
        self._bar = tqdm(total=context["config"].epochs, desc=self.desc, unit="epoch", leave=False, position=self.position)

    def on_epoch_end(self, epoch, record, model):
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{record['train_loss']:.4f}", val=f"{record['val_accuracy']:.4f}")
            self._bar.update(1)

    def on_train_end(self, result):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def prepare_data(data, config: TrainConfig, device: torch.device):
    """``data`` cut to the config's subsets and moved to ``device``."""
    for name in ("train", "val", "test"):
        asked, have = getattr(config, f"{name}_subset"), len(getattr(data, name))
        if asked is not None and asked > have:
            raise ConfigError(f"{name}_subset = {asked} but the {name} split of {data.name!r} has only {have} examples; "
                              f"expected at most {have} (or leave it out for all)")
    if config.train_subset or config.val_subset or config.test_subset:
        data = data.subset(config.train_subset, config.val_subset, config.test_subset)
    if len(data.train) == 0 or len(data.val) == 0 or len(data.test) == 0:
        raise ConfigError(
            f"dataset {data.name!r} has an empty split (train={len(data.train)}, val={len(data.val)}, "
            f"test={len(data.test)}); expected at least one example in each"
        )
    for name in ("train", "val", "test"):
        check_lengths(getattr(data, name), name)
    return data.to(device)


class ModelTrainee:
    """One model as :func:`~nas.training.epochs.run_epochs` trains it (see :class:`~nas.training.epochs.Trainee`)."""

    size = 1
    stacked = False

    def __init__(self, model: torch.nn.Module, data, task: Task, config: TrainConfig, device: torch.device, truncate: bool):
        self.model, self.data, self.task, self.config, self.device, self.truncate = model, data, task, config, device, truncate
        self.layout = memory_format(config, data.train.x)
        # The compiled module shares the model's parameters; evaluation and the result use the model.
        self.forward_model = torch.compile(model) if config.compile else model
        self.loss_fn = training_loss(task, config)
        self.best_state = None

    def parameters(self) -> list[torch.Tensor]:
        return list(self.model.parameters())

    def start_epoch(self, lr_scale, active, optimizer) -> None:
        if self.config.schedule == "plateau":
            for group in optimizer.param_groups:
                group["lr"] = self.config.lr * lr_scale[0]

    def losses(self, x, y, lengths) -> torch.Tensor:
        x = x.contiguous(memory_format=self.layout)  # a no-op in the default layout
        with autocast(self.device, self.config):
            out = self.task.forward(self.forward_model, x, lengths)
            return self.loss_fn(out, y, lengths)

    def clip(self, max_norm: float | None) -> None:
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)

    def step(self, optimizer) -> None:
        optimizer.step()

    def mean_losses(self, loss_sum: torch.Tensor, steps: int) -> list[float]:
        return [float(loss_sum) / steps]

    def diverged(self, index: int, epoch: int, step: int) -> None:
        raise TrainingError(
            f"non-finite training loss in epoch {epoch} at step {step} (task {self.task.name!r}, lr={self.config.lr}); "
            "expected finite losses"
        )

    def validate(self) -> tuple[list[float], list[float]]:
        val_loss, val_metric = evaluate(self.model, self.data.val, self.task, self.config, self.device, self.truncate)
        return [val_loss], [val_metric]

    def test(self) -> tuple[list[float], list[float]]:
        test_loss, test_metric = evaluate(self.model, self.data.test, self.task, self.config, self.device, self.truncate)
        return [test_loss], [test_metric]

    def keep_best(self, index: int) -> None:
        self.best_state = copy.deepcopy(self.model.state_dict())

    def restore_best(self) -> None:
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)


# --- the loop ------------------------------------------------------------------------------------


def train_model(model: torch.nn.Module, data, task, config: TrainConfig, callbacks: Sequence[Callback] = ()) -> TrainResult:
    """Train ``model`` on ``data`` for ``task`` as ``config`` says.

    Parameters
    ----------
    model : torch.nn.Module
        Moved to the training device; trained in place.
    data : nas.datasets.Dataset
    task : Task or str
    config : TrainConfig
    callbacks : sequence of Callback
        Logging, progress, custom stopping. A :class:`ProgressBar` is added when
        ``config.progress`` is set.

    Returns
    -------
    TrainResult
        With the trained model (best-validation weights under early stopping) in ``model``.

    Raises
    ------
    DeviceError
        ``config.device`` does not exist.
    TrainingError
        A non-finite loss (the message names epoch and step).
    ConfigError
        Empty splits after subsetting.
    """
    if not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig, got {type(config).__name__}")
    task = get_task(task)
    device = resolve_device(config.device)
    callbacks = list(callbacks) + ([ProgressBar(desc=task.name)] if config.progress else [])
    data = prepare_data(data, config, device)
    model = model.to(device, memory_format=memory_format(config, data.train.x))
    model.train()
    check_augment(config, tuple(data.train.x.shape[1:]))
    truncate = truncates(data.train, data.info)
    for cb in callbacks:
        cb.on_train_start({"model": model, "data": data, "task": task, "config": config, "device": device,
                           "steps_per_epoch": math.ceil(len(data.train) / config.batch_size)})

    def on_epoch(epoch, records):
        return any([bool(cb.on_epoch_end(epoch, records[0], model)) for cb in callbacks])

    fit = run_epochs(ModelTrainee(model, data, task, config, device, truncate), data.train, config, device, truncate,
                     on_epoch=on_epoch)
    started = time.perf_counter()
    test = evaluate(model, data.test, task, config, device, truncate)
    result = trained_result(fit, 0, model, data, task, config, device, test, fit.clock + (time.perf_counter() - started))
    for cb in callbacks:
        cb.on_train_end(result)
    return result


def build_seeded(genome, task: Task, data, seed: int, dag=None) -> torch.nn.Module:
    """Build ``genome``'s model (on the CPU; wired by ``dag`` when given, see :meth:`Task.build`)
    with initial weights drawn from a generator seeded with ``seed``.

    ``fork_rng`` as well: constructing ``torch.nn`` layers draws from the global RNG before the
    builder re-draws from ``generator``, and library code must leave the caller's RNG as it was.
    """
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    with torch.random.fork_rng(devices=[]):
        return task.build(genome, data, generator=generator, dag=dag)


def train_genome(genome, task, config: TrainConfig, data=None, data_dir=None, callbacks: Iterable[Callback] = ()) -> TrainResult:
    """Build ``genome``'s model for ``task`` and train it with :func:`train_model`.

    Parameters
    ----------
    genome : Genome, dict or JSON string
    task : Task or str
    config : TrainConfig
    data : Dataset, optional
        Loaded with ``task.load(data_dir)`` when omitted.
    data_dir : path, optional

    Returns
    -------
    TrainResult
        With ``genome`` set to the genome's JSON dict.

    Raises
    ------
    ConfigError
        The genome's family does not fit the task, or a bad config.
    TrainingError, DeviceError
        As :func:`train_model`.
    """
    genome = genome_from_any(genome)
    task = get_task(task)
    task.check_family(genome.family)
    resolve_device(config.device)  # fail on a bad device before loading data
    if data is None:
        data = task.load(data_dir=data_dir)
    model = build_seeded(genome, task, data, config.seed)
    result = train_model(model, data, task, config, callbacks=callbacks)
    result.genome = genome.to_dict()
    return result
