"""What a training run is told and what it returns: :class:`TrainConfig` and :class:`TrainResult`.

Kept apart from the loop so that tasks (which build their default ``TrainConfig``) and the loop
(which needs tasks) import in one direction only: ``config`` ← ``tasks`` ← ``loop``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from nas.exceptions import ConfigError

__all__ = ["TrainConfig", "TrainResult", "OPTIMIZERS", "SCHEDULES", "PRECISIONS", "AUGMENTATIONS", "PLATEAU_COMPARES"]

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("none", "cosine", "plateau", "onecycle")
PRECISIONS = ("fp32", "bf16", "auto")
AUGMENTATIONS = ("none", "crop_flip")
PLATEAU_COMPARES = ("best", "previous")


def _check_int(name: str, value, low: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        extra = " or None" if allow_none else ""
        raise ConfigError(f"TrainConfig.{name} = {value!r}; expected an integer >= {low}{extra}")


def _check_float(name: str, value, low: float, high: float = math.inf, low_open: bool = False, allow_none=False):
    if value is None and allow_none:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if not ok:
        bound = f"> {low}" if low_open else f">= {low}"
        upper = f" and <= {high}" if math.isfinite(high) else ""
        extra = " or None" if allow_none else ""
        raise ConfigError(f"TrainConfig.{name} = {value!r}; expected a finite number {bound}{upper}{extra}")


def _check_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"TrainConfig.{name} = {value!r}; expected one of {list(allowed)}")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: budget, optimizer, schedule, early stopping, precision, device and seed.

    Parameters
    ----------
    epochs : int
        Passes over the training split (>= 1).
    max_steps : int, optional
        Stop after this many optimizer steps even if epochs remain.
    batch_size, eval_batch_size : int
        Training and evaluation batch sizes.
    optimizer : {"adam", "adamw", "sgd"}
    lr, momentum, weight_decay : float
        ``momentum`` is used by SGD only.
    schedule : {"none", "cosine", "plateau", "onecycle"}
        ``cosine`` anneals per step to 0 over the budget; ``plateau`` multiplies the rate by
        ``plateau_factor`` after ``plateau_patience`` epochs without validation improvement;
        ``onecycle`` (per step, :class:`torch.optim.lr_scheduler.OneCycleLR`, linear) rises from
        ``lr / 25`` to ``lr`` over the first ``warmup`` share of the budget and falls to
        ``lr / 25e4`` over the rest (the schedule of the fast CIFAR-10 scripts).
    warmup : float
        ``onecycle`` only: the share of the budget spent rising (0 < warmup < 1).
    plateau_factor : float
    plateau_patience : int
    plateau_compare : {"best", "previous"}
        What an epoch must beat not to count as a plateau epoch: the best validation metric so far
        (default), or the previous epoch's (the paper's pruning baseline).
    plateau_momentum : float, optional
        SGD only: the momentum from the first plateau cut on; every cut also restarts the
        momentum, as a fresh optimizer would (the paper's baseline: 0 before, 0.5 after).
    min_lr : float, optional
        With ``schedule="plateau"``: a plateau reached at a rate of ``min_lr`` or below stops the
        model instead of cutting the rate again (the paper's pruning baseline: 0.01, 0.001,
        0.0001, stop). Compared with a relative tolerance of 1e-9, so ``0.01 × 0.1 × 0.1``
        counts as ``1e-4``.
    patience : int, optional
        Early stopping: stop after this many epochs without validation improvement and restore
        the best weights. None turns it off (the final weights are tested).
    min_delta : float
        Smallest metric gain that counts as an improvement.
    grad_clip : float, optional
        Maximum gradient norm (per model; per candidate in population training).
    label_smoothing : float
        Classification tasks: the training loss's label smoothing (0 = plain cross-entropy;
        validation and test losses are always plain).
    precision : {"fp32", "bf16", "auto"}
        ``bf16`` runs forward and loss under bfloat16 autocast; ``auto``: bf16 on a CUDA device,
        fp32 elsewhere (a CPU gains nothing from it).
    channels_last : bool
        Image models: weights and batches in the channels-last memory layout (faster
        convolutions on tensor-core GPUs; the arithmetic is the same).
    compile : bool
        Train a single model through :func:`torch.compile` (population stacks are not compiled);
        pays for itself only on long runs on a GPU.
    augment : {"none", "crop_flip"}
        Training-batch augmentation on the device: ``crop_flip`` pads each image with 4 zero
        pixels per side, crops a random window of the original size and mirrors it horizontally
        with probability 1/2 (image tasks only; evaluation is never augmented). Its draws come
        from their own generator seeded from ``seed``, so shuffling is the same with and without.
    eval_flip : bool
        Image tasks: score validation and test images on the image and its horizontal mirror,
        averaging the two logits (flip test-time augmentation, as the fast CIFAR-10 scripts do).
        Selection and test figures then both use it; training is unchanged.
    bucket_batches : int
        Sequence tasks: each epoch's shuffled order is cut into pools of this many batches and
        each pool sorted by length, so a batch holds sequences of similar length; every batch is
        cut to its longest sequence, so padding is barely computed. 1 keeps the plain shuffled
        batches (still cut to their longest sequence). Ignored for non-sequence data.
    device : str, optional
        None = ``cuda`` if available, else ``cpu``.
    seed : int
        Seeds model initialisation (:func:`build_seeded`) and the shuffling generator.
    progress : bool
        Show a tqdm progress bar on stderr.
    train_subset, val_subset, test_subset : int, optional
        Use only the first examples of a split (quick runs; a partial test set is recorded).

    Raises
    ------
    ConfigError
        A field outside its allowed values; the message names field, value and what is allowed.
    """

    epochs: int = 10
    max_steps: int | None = None
    batch_size: int = 128
    eval_batch_size: int = 2048
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "none"
    warmup: float = 0.25
    plateau_factor: float = 0.1
    plateau_patience: int = 2
    plateau_compare: str = "best"
    plateau_momentum: float | None = None
    min_lr: float | None = None
    patience: int | None = None
    min_delta: float = 0.0
    grad_clip: float | None = None
    label_smoothing: float = 0.0
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    augment: str = "none"
    eval_flip: bool = False
    bucket_batches: int = 16
    device: str | None = None
    seed: int = 0
    progress: bool = False
    train_subset: int | None = None
    val_subset: int | None = None
    test_subset: int | None = None

    def __post_init__(self):
        _check_int("epochs", self.epochs, 1)
        _check_int("max_steps", self.max_steps, 1, allow_none=True)
        _check_int("batch_size", self.batch_size, 1)
        _check_int("eval_batch_size", self.eval_batch_size, 1)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_float("lr", self.lr, 0.0, low_open=True)
        _check_float("momentum", self.momentum, 0.0, 1.0)
        _check_float("weight_decay", self.weight_decay, 0.0)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_float("plateau_factor", self.plateau_factor, 0.0, 1.0, low_open=True)
        _check_int("plateau_patience", self.plateau_patience, 0)
        _check_choice("plateau_compare", self.plateau_compare, PLATEAU_COMPARES)
        _check_float("plateau_momentum", self.plateau_momentum, 0.0, 1.0, allow_none=True)
        if self.plateau_momentum is not None and self.optimizer != "sgd":
            raise ConfigError(f"TrainConfig.plateau_momentum = {self.plateau_momentum!r} needs optimizer='sgd'; "
                              f"got optimizer={self.optimizer!r}")
        _check_float("min_lr", self.min_lr, 0.0, low_open=True, allow_none=True)
        _check_int("patience", self.patience, 1, allow_none=True)
        _check_float("min_delta", self.min_delta, 0.0)
        _check_float("grad_clip", self.grad_clip, 0.0, low_open=True, allow_none=True)
        _check_float("warmup", self.warmup, 0.0, 1.0, low_open=True)
        if self.warmup >= 1.0:
            raise ConfigError(f"TrainConfig.warmup = {self.warmup!r}; expected a share of the budget below 1")
        _check_float("label_smoothing", self.label_smoothing, 0.0, 1.0)
        if self.label_smoothing >= 1.0:
            raise ConfigError(f"TrainConfig.label_smoothing = {self.label_smoothing!r}; expected a number >= 0 and < 1")
        _check_choice("precision", self.precision, PRECISIONS)
        for name in ("channels_last", "compile", "eval_flip"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"TrainConfig.{name} = {getattr(self, name)!r}; expected True or False")
        _check_choice("augment", self.augment, AUGMENTATIONS)
        _check_int("bucket_batches", self.bucket_batches, 1)
        if self.device is not None and not isinstance(self.device, str):
            raise ConfigError(f"TrainConfig.device = {self.device!r}; expected a device string or None")
        _check_int("seed", self.seed, 0)
        if not isinstance(self.progress, bool):
            raise ConfigError(f"TrainConfig.progress = {self.progress!r}; expected True or False")
        for name in ("train_subset", "val_subset", "test_subset"):
            _check_int(name, getattr(self, name), 1, allow_none=True)

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed (validated again)."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ConfigError(f"unknown TrainConfig field(s) {unknown}; expected some of {[f.name for f in fields(self)]}")
        return TrainConfig(**{**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class TrainResult:
    """What one training run produced. :meth:`to_dict` is JSON-safe; ``model`` is not in it.

    ``val_accuracy``/``test_accuracy`` hold the task's metric (accuracy; string-level accuracy for
    ``embedded_reber``, named in ``metric``). With early stopping they are those of the restored
    best-validation weights. ``notes`` says what the trainer changed to make the run possible
    (e.g. a smaller stack or batch after the device ran out of memory).
    """

    task: str
    metric: str
    test_accuracy: float
    val_accuracy: float
    test_loss: float
    val_loss: float
    epochs: int
    steps: int
    wall_time_s: float
    device: str
    parameters: int
    nonzero_weights: int
    test_examples: int
    test_expected: int
    stopped_early: bool
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    genome: dict | None = None
    config: dict | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    model: torch.nn.Module | None = field(default=None, repr=False, compare=False)

    @property
    def partial_test(self) -> bool:
        """True when fewer test examples were used than the full test set has."""
        return self.test_examples < self.test_expected

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        out["partial_test"] = self.partial_test
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None  # JSON has no NaN
        return out

