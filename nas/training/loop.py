"""The one training loop.

``train_model(model, data, task, config)`` trains any model of any task; ``train_genome`` builds
the model from a genome first. Everything that varies — budget, optimizer, schedule, early
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

Seeding: :func:`train_genome` builds the model with a local :class:`torch.Generator` seeded with
``config.seed`` (:func:`build_seeded`), and shuffling uses another one seeded the same way, so the
same genome and config give the same run and torch's global RNG is never touched.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from typing import Any, Iterable, Sequence

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from nas.exceptions import ConfigError, TrainingError
from nas.training.batches import (
    check_augment,
    check_lengths,
    epoch_batches,
    eval_batches,
    eval_forward,
    make_augment_generator,
    make_generator,
    take,
    total_steps,
    truncates,
)
from nas.training.config import TrainConfig, TrainResult
from nas.training.device import device_name, resolve_device
from nas.training.tasks import Task, classification_loss, get_task
from search_spaces.genome import genome_from_any

__all__ = [
    "Callback",
    "ProgressBar",
    "train_model",
    "train_genome",
    "build_seeded",
    "evaluate",
    "PlateauTracker",
    "CutMomentum",
    "count_parameters",
    "count_nonzero_weights",
    "training_loss",
    "memory_format",
]


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


# --- shared pieces (also used by the population loop so both behave identically) -------------


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer ``config`` names, over ``params``."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def make_step_schedule(optimizer, config: TrainConfig, steps: int):
    """A per-step scheduler for ``schedule="cosine"`` or ``"onecycle"``, else None."""
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1))
    if config.schedule == "onecycle":
        # Momentum is left alone (CutMomentum owns it); the rate rises linearly, then falls.
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=max(steps, 2),
                                                   pct_start=config.warmup, anneal_strategy="linear",
                                                   cycle_momentum=False)
    return None


def training_loss(task: Task, config: TrainConfig):
    """The loss a training step minimises: the task's, with ``config.label_smoothing`` for classes."""
    if config.label_smoothing > 0 and task.loss is classification_loss:
        return lambda out, y, lengths=None: F.cross_entropy(out.float(), y, label_smoothing=config.label_smoothing)
    return task.loss


class PlateauTracker:
    """Per-model (or per-candidate) bookkeeping of validation improvement.

    Drives both early stopping and the plateau schedule, for one model (``size=1``) or a
    population, so the two loops make exactly the same decisions. ``cuts[i]`` counts the rate
    cuts of model ``i`` (the loops restart a ``plateau_momentum`` at each).
    """

    def __init__(self, size: int, config: TrainConfig):
        self.config = config
        self.best = [-math.inf] * size
        self.best_epoch = [0] * size
        self.previous = [-math.inf] * size
        self.bad_epochs = [0] * size  # since the best, for early stopping
        self.plateau_epochs = [0] * size  # since the last improvement or lr cut
        self.lr_scale = [1.0] * size
        self.cuts = [0] * size
        self.stopped = [False] * size

    def update(self, index: int, epoch: int, metric: float) -> bool:
        """Record candidate ``index``'s metric after ``epoch``; True when it improved on the best."""
        config = self.config
        improved = metric > self.best[index] + config.min_delta or self.best[index] == -math.inf
        reference = self.previous[index] if config.plateau_compare == "previous" else self.best[index]
        stalled = not (metric > reference + config.min_delta or reference == -math.inf)
        self.previous[index] = metric
        if improved:
            self.best[index], self.best_epoch[index] = metric, epoch
            self.bad_epochs[index] = 0
        else:
            self.bad_epochs[index] += 1
        self.plateau_epochs[index] = self.plateau_epochs[index] + 1 if stalled else 0
        if config.schedule == "plateau" and self.plateau_epochs[index] > config.plateau_patience:
            floor = config.min_lr
            if floor is not None and config.lr * self.lr_scale[index] <= floor * (1 + 1e-9):
                self.stopped[index] = True  # a plateau at the lowest rate ends training
                return improved
            self.lr_scale[index] *= config.plateau_factor
            self.plateau_epochs[index] = 0
            self.cuts[index] += 1
        if config.patience is not None and self.bad_epochs[index] >= config.patience:
            self.stopped[index] = True
        return improved


class CutMomentum:
    """SGD momentum that becomes ``config.plateau_momentum`` at a model's first plateau cut and
    restarts (buffers zeroed) at every cut, per model — what recreating the optimizer at each cut
    does for one model, but per candidate for a stack.

    When active, the optimizer is built without momentum and weight decay
    (:meth:`optimizer_config`) and :meth:`apply` turns each gradient ``g`` into the momentum
    buffer ``b = μ b + (g + λ w)`` before the step — torch's SGD update (no dampening, no
    Nesterov), so ``w -= lr · b``. ``stacked`` parameters have the candidate first.
    """

    def __init__(self, params, config: TrainConfig, size: int, stacked: bool):
        self.active = config.optimizer == "sgd" and config.plateau_momentum is not None
        self.config = config
        self.stacked = stacked
        if self.active:
            self.params = list(params)
            self.buffers = [torch.zeros_like(p) for p in self.params]
            self.momentum = torch.full((size,), float(config.momentum), device=self.params[0].device)

    def optimizer_config(self) -> TrainConfig:
        return self.config.replace(momentum=0.0, weight_decay=0.0) if self.active else self.config

    @torch.no_grad()
    def apply(self) -> None:
        if not self.active:
            return
        decay = self.config.weight_decay
        for p, buf in zip(self.params, self.buffers):
            if p.grad is None:
                continue
            d = p.grad if decay == 0 else p.grad.add(p, alpha=decay)
            mu = self.momentum.view(-1, *([1] * (p.dim() - 1))) if self.stacked else self.momentum[0]
            buf.mul_(mu).add_(d)
            p.grad.copy_(buf)

    @torch.no_grad()
    def cut(self, index: int) -> None:
        """Model ``index``'s rate was cut: its momentum becomes ``plateau_momentum``, restarted."""
        if not self.active:
            return
        self.momentum[index] = float(self.config.plateau_momentum)
        for buf in self.buffers:
            if self.stacked:
                buf[index].zero_()
            else:
                buf.zero_()


def memory_format(config: TrainConfig, x: torch.Tensor) -> torch.memory_format:
    """Channels-last for image batches when ``config.channels_last`` asks, else the default layout."""
    return torch.channels_last if config.channels_last and x.dim() == 4 else torch.contiguous_format


def autocast(device: torch.device, config: TrainConfig):
    """bf16 autocast when ``config.precision`` is ``"bf16"`` (or ``"auto"`` on CUDA), else a no-op context."""
    bf16 = config.precision == "bf16" or (config.precision == "auto" and device.type == "cuda")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)


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


def count_test_examples(data) -> tuple[int, int]:
    """(test examples used, test examples the full test set has)."""
    used = len(data.test)
    expected = int(data.info.get("test_expected", data.info.get("test_examples", used)) or used)
    return used, max(expected, used)


@torch.no_grad()
def evaluate(model: torch.nn.Module, split, task: Task, config: TrainConfig, device: torch.device,
             truncate: bool = False) -> tuple[float, float]:
    """Mean loss and metric of ``model`` on ``split`` (already on ``device``), in eval mode.

    With ``truncate`` (end-padded sequences, :func:`~nas.training.batches.truncates`) the split
    is evaluated in length-sorted batches cut to their longest sequence.

    Returns
    -------
    (loss, metric) : tuple of float
    """
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device)
    total = torch.zeros((), device=device)
    n = len(split)
    for batch in eval_batches(split, config.eval_batch_size, truncate=truncate):
        x, y, lengths = take(split, batch)
        with autocast(device, config):
            out = eval_forward(functools.partial(task.forward, model), x, lengths, config)
        loss_sum += task.loss(out, y, lengths) * x.shape[0]
        c, t = task.metric_counts(out, y, lengths)
        correct += c
        total += t
    model.train(was_training)
    return float(loss_sum / n), float(correct / total.clamp(min=1))


def count_parameters(model: torch.nn.Module) -> int:
    """Number of trainable parameter entries (masked ones included)."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def count_nonzero_weights(model: torch.nn.Module) -> int:
    """Nonzero effective weights: ``model.nonzero_weights()`` when the builder provides it."""
    if hasattr(model, "nonzero_weights"):
        return int(model.nonzero_weights())
    return int(sum(int(torch.count_nonzero(p)) for p in model.parameters()))


def _clip_gradients(model, max_norm: float | None) -> None:
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)


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
    layout = memory_format(config, data.train.x)
    model = model.to(device, memory_format=layout)
    model.train()
    # The compiled module shares the model's parameters; evaluation and the result use the model.
    forward_model = torch.compile(model) if config.compile else model
    loss_fn = training_loss(task, config)

    n = len(data.train)
    steps_per_epoch = math.ceil(n / config.batch_size)
    budget_steps = total_steps(n, config)
    momentum = CutMomentum(model.parameters(), config, 1, stacked=False)
    optimizer = make_optimizer(model.parameters(), momentum.optimizer_config())
    scheduler = make_step_schedule(optimizer, config, budget_steps)
    tracker = PlateauTracker(1, config)
    generator = make_generator(config.seed, device)
    check_augment(config, tuple(data.train.x.shape[1:]))
    augmenter = make_augment_generator(config, device)
    best_state = None
    history: list[dict[str, float]] = []
    steps = 0
    epochs_run = 0
    stopped_early = False
    tr = data.train
    truncate = truncates(tr, data.info)
    for cb in callbacks:
        cb.on_train_start({"model": model, "data": data, "task": task, "config": config, "device": device,
                           "steps_per_epoch": steps_per_epoch})

    clock = 0.0
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        first_bad = torch.full((), -1, dtype=torch.long, device=device)
        epoch_steps = 0
        for batch in epoch_batches(tr, config, generator, device, truncate=truncate)[:max(budget_steps - steps, 0)]:
            x, y, lengths = take(tr, batch, config.augment, augmenter)
            x = x.contiguous(memory_format=layout)  # a no-op in the default layout
            with autocast(device, config):
                out = task.forward(forward_model, x, lengths)
                loss = loss_fn(out, y, lengths)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            _clip_gradients(model, config.grad_clip)
            momentum.apply()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            detached = loss.detach().float()
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(detached), steps, first_bad)
            loss_sum += detached
            steps += 1
            epoch_steps += 1
        if epoch_steps == 0:
            break
        epochs_run = epoch
        bad = int(first_bad)
        if bad >= 0:
            raise TrainingError(
                f"non-finite training loss in epoch {epoch} at step {bad} (task {task.name!r}, lr={config.lr}); "
                "expected finite losses"
            )
        val_loss, val_metric = evaluate(model, data.val, task, config, device, truncate)
        clock += time.perf_counter() - started
        cuts = tracker.cuts[0]
        improved = tracker.update(0, epoch, val_metric)
        if tracker.cuts[0] != cuts:
            momentum.cut(0)
        if config.patience is not None and improved:
            best_state = copy.deepcopy(model.state_dict())
        if config.schedule == "plateau":
            for group in optimizer.param_groups:
                group["lr"] = config.lr * tracker.lr_scale[0]
        record = {"epoch": epoch, "train_loss": float(loss_sum) / epoch_steps, "val_loss": val_loss,
                  "val_accuracy": val_metric, "lr": optimizer.param_groups[0]["lr"], "steps": steps,
                  "elapsed_s": clock}
        history.append(record)
        stop = any([bool(cb.on_epoch_end(epoch, record, model)) for cb in callbacks])
        if tracker.stopped[0]:
            stopped_early = True
        if stop or stopped_early or steps >= budget_steps:
            break

    started = time.perf_counter()
    if best_state is not None:
        model.load_state_dict(best_state)
    best = history[tracker.best_epoch[0] - 1] if config.patience is not None else history[-1]
    test_loss, test_metric = evaluate(model, data.test, task, config, device, truncate)
    clock += time.perf_counter() - started
    used, expected = count_test_examples(data)
    result = TrainResult(
        task=task.name, metric=task.metric_name, test_accuracy=test_metric, val_accuracy=best["val_accuracy"],
        test_loss=test_loss, val_loss=best["val_loss"], epochs=epochs_run, steps=steps, wall_time_s=clock,
        device=device_name(device), parameters=count_parameters(model), nonzero_weights=count_nonzero_weights(model),
        test_examples=used, test_expected=expected, stopped_early=stopped_early, best_epoch=int(best["epoch"]),
        history=history, config=config.to_dict(), model=model,
    )
    for cb in callbacks:
        cb.on_train_end(result)
    return result


def build_seeded(genome, task: Task, data, seed: int) -> torch.nn.Module:
    """Build ``genome``'s model (on the CPU) with initial weights drawn from a generator seeded with ``seed``.

    ``fork_rng`` as well: constructing ``torch.nn`` layers draws from the global RNG before the
    builder re-draws from ``generator``, and library code must leave the caller's RNG as it was.
    """
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    with torch.random.fork_rng(devices=[]):
        return task.build(genome, data, generator=generator)


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
