"""What a training run is told and what it returns: :class:`TrainConfig`, its overrides and :class:`TrainResult`.

Kept apart from the loop so that tasks (which build their default ``TrainConfig``) and the loop
(which needs tasks) import in one direction only: ``config`` ← ``tasks`` ← ``loop``.

Every training option has one rule, in :attr:`TrainConfig.constraints`. :class:`TrainOverrides`
(what a search, a prior study or a pruning run changes of a task's defaults) is checked by the
same table, so ``nas train --epochs``, ``nas search --epochs``, ``[train]`` tables, study
``train`` options and ``nas prune --retrain-option`` all refuse a value with the same message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from numbers import Integral, Real
from typing import Any, ClassVar, Mapping

import torch

from nas.validation import (
    Boolean,
    Constraint,
    Interval,
    Options,
    Text,
    check_fields,
    check_value,
    check_values,
    describe,
    invalid,
)

__all__ = ["TrainConfig", "TrainOverrides", "TrainOptions", "TrainOption", "TrainResult", "OPTIMIZERS", "SCHEDULES",
           "PRECISIONS", "AUGMENTATIONS", "PLATEAU_COMPARES"]

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("none", "cosine", "plateau", "onecycle")
PRECISIONS = ("fp32", "bf16", "auto")
AUGMENTATIONS = ("none", "crop_flip")
PLATEAU_COMPARES = ("best", "previous")

_COUNT = Interval(Integral, 1, None)
_SHARE = Interval(Real, 0, 1)


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
        Maximum gradient norm (per model; per candidate in cohort training).
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
        Train a single model through :func:`torch.compile` (stacks are not compiled);
        pays for itself only on long runs on a GPU.
    augment : {"none", "crop_flip"}
        Training-batch augmentation on the device: ``crop_flip`` pads each image with 4 zero
        pixels per side, crops a random window of the original size and mirrors it horizontally
        with probability 1/2 (image tasks only; evaluation is never augmented). Its draws come
        from their own generator seeded from ``seed``, so shuffling is the same with and without.
    test_curve : bool
        Also score the test split after every epoch (``test_loss`` and ``test_accuracy`` in each
        epoch's history record), for learning curves a study can re-read at any earlier budget.
        Nothing selects on it; it costs one test evaluation per epoch.
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
    test_curve: bool = False
    bucket_batches: int = 16
    device: str | None = None
    seed: int = 0
    progress: bool = False
    train_subset: int | None = None
    val_subset: int | None = None
    test_subset: int | None = None

    #: The one rule of every training option (checked by :meth:`__post_init__` and by
    #: :class:`TrainOverrides`); ``plateau_momentum`` needing SGD is checked after it.
    constraints: ClassVar[dict] = {
        "epochs": _COUNT,
        "max_steps": [_COUNT, None],
        "batch_size": _COUNT,
        "eval_batch_size": _COUNT,
        "optimizer": Options(OPTIMIZERS),
        "lr": Interval(Real, 0, None, closed="right"),
        "momentum": _SHARE,
        "weight_decay": Interval(Real, 0, None),
        "schedule": Options(SCHEDULES),
        "warmup": Interval(Real, 0, 1, closed="neither"),
        "plateau_factor": Interval(Real, 0, 1, closed="right"),
        "plateau_patience": Interval(Integral, 0, None),
        "plateau_compare": Options(PLATEAU_COMPARES),
        "plateau_momentum": [_SHARE, None],
        "min_lr": [Interval(Real, 0, None, closed="right"), None],
        "patience": [_COUNT, None],
        "min_delta": Interval(Real, 0, None),
        "grad_clip": [Interval(Real, 0, None, closed="right"), None],
        "label_smoothing": Interval(Real, 0, 1, closed="left"),
        "precision": Options(PRECISIONS),
        "channels_last": Boolean(),
        "compile": Boolean(),
        "augment": Options(AUGMENTATIONS),
        "eval_flip": Boolean(),
        "test_curve": Boolean(),
        "bucket_batches": _COUNT,
        "device": [Text(), None],
        "seed": Interval(Integral, 0, None),
        "progress": Boolean(),
        "train_subset": [_COUNT, None],
        "val_subset": [_COUNT, None],
        "test_subset": [_COUNT, None],
    }

    def __post_init__(self):
        check_fields(self)
        if self.plateau_momentum is not None and self.optimizer != "sgd":
            raise invalid(self, "plateau_momentum",
                          f"None with optimizer={self.optimizer!r} (it needs optimizer='sgd')")

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed (validated again; an unknown field is refused)."""
        return TrainConfig(**{**self.to_dict(), **TrainOverrides(changes).to_dict()})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _is_table(value) -> bool:
    """A mapping, :class:`TrainOverrides` or a sequence of ``(name, value)`` pairs."""
    if isinstance(value, (Mapping, TrainOverrides)):
        return True
    return isinstance(value, (tuple, list)) and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in value)


@dataclass(frozen=True)
class TrainOverrides:
    """A validated set of :class:`TrainConfig` field overrides (what a command changes of a task's defaults).

    Built once from a mapping, ``(name, value)`` pairs or another ``TrainOverrides``: a name that
    is no ``TrainConfig`` field is refused (naming the known ones) and each value is checked by
    ``TrainConfig``'s own rule (:attr:`TrainConfig.constraints`), so a bad ``--train`` option fails
    with the same message as a bad ``TrainConfig`` field. Rules between fields (``plateau_momentum``
    needs SGD) are checked when the ``TrainConfig`` is built: :meth:`apply`.

    Iterates as sorted ``(name, value)`` pairs (the form configs stored before it existed);
    :meth:`to_dict` is the JSON form.

    Parameters
    ----------
    pairs : mapping or sequence of (str, value) or TrainOverrides, optional

    Raises
    ------
    OptionError
        Not a table of options, an unknown name, or a value outside its rule.

    Examples
    --------
    >>> TrainOverrides({"lr": 0.01, "epochs": 2}).to_dict()
    {'epochs': 2, 'lr': 0.01}
    >>> TrainOverrides({"epochs": 0})
    Traceback (most recent call last):
    ...
    nas.exceptions.OptionError: TrainConfig.epochs = 0; expected an integer >= 1
    """

    pairs: Any = ()

    def __post_init__(self):
        pairs = () if self.pairs is None else self.pairs
        if not _is_table(pairs):
            raise invalid("TrainOverrides", "pairs", TrainOptions().describe(), pairs)
        values = dict(pairs.items() if isinstance(pairs, Mapping) else pairs)
        clean = check_values("TrainConfig", {str(k): v for k, v in values.items()}, TrainConfig.constraints)
        object.__setattr__(self, "pairs", tuple(sorted(clean.items())))

    def __iter__(self):
        return iter(self.pairs)

    def __repr__(self) -> str:
        return f"TrainOverrides({self.to_dict()!r})"

    def __len__(self) -> int:
        return len(self.pairs)

    def names(self) -> list[str]:
        """The overridden fields, sorted."""
        return [name for name, _ in self.pairs]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.pairs)

    def merged(self, other) -> "TrainOverrides":
        """These overrides with ``other``'s (a table of options) on top."""
        return TrainOverrides({**self.to_dict(), **TrainOverrides(other).to_dict()})

    def apply(self, defaults: Mapping[str, Any] | TrainConfig) -> TrainConfig:
        """The :class:`TrainConfig` of ``defaults`` (a TrainConfig or a mapping of its fields, e.g.
        a task's defaults) with these overrides; the rules between fields are checked here."""
        base = defaults.to_dict() if isinstance(defaults, TrainConfig) else dict(defaults)
        return TrainConfig(**{**base, **self.to_dict()})


class TrainOptions(Constraint):
    """Constraint of a config field that holds training overrides: a table of ``TrainConfig``
    options, stored as :class:`TrainOverrides` (each option checked by ``TrainConfig``'s rules,
    whose errors name ``TrainConfig``)."""

    def accepts(self, value) -> bool:
        return _is_table(value)

    def clean(self, value) -> TrainOverrides:
        return value if isinstance(value, TrainOverrides) else TrainOverrides(value)

    def describe(self, plural: bool = False) -> str:
        return "a table of TrainConfig options (a mapping or (name, value) pairs)"


class TrainOption(Constraint):
    """Constraint of a config field that *is* one training option under another name (e.g. the
    base epochs of ``nas prune``): checked by that ``TrainConfig`` field's rule, looked up when
    checked, and reported as ``TrainConfig.FIELD``."""

    def __init__(self, name: str):
        self.name = name

    def accepts(self, value) -> bool:
        return True

    def clean(self, value):
        return check_value("TrainConfig", self.name, value, TrainConfig.constraints[self.name])

    def describe(self, plural: bool = False) -> str:
        return describe(TrainConfig.constraints[self.name])


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

