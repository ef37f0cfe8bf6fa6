"""Tasks: a dataset, the model families that fit it, a loss, a metric and training defaults.

A :class:`Task` is the one place that knows how a genome becomes a model *for this data* (input
features, channels, vocabulary, sequence output) and how outputs are scored. The training loop
(:mod:`nas.training.loop`) and cohort training (:mod:`nas.training.stacking`) are written once against it.

Registered tasks (:func:`list_tasks`):

``mnist``, ``fashion_mnist``
    Sparse feed-forward networks (family ``ff``) on 28×28 images, cross-entropy, accuracy.
``cifar10``
    Random-wired CNN (``cnn``, default) or feed-forward (``ff``) on 32×32 colour images.
``reber``
    The paper's valid/invalid classification of Reber strings with a sparse RNN
    (``rnn:tanh|relu|gru|lstm``, default ``rnn:gru``); logits taken at the last valid step.
``reber_paper``
    The same task with the paper's negatives: 44 % of the invalid strings break the grammar over
    the Reber letters (hard negatives), 56 % carry a letter outside the Reber alphabet, so they
    are separable by alphabet alone (``hard_negative_share=0.44``; ``reber`` uses 0.9).
``embedded_reber``
    Next-symbol prediction on embedded Reber strings: at every step the set of legal next symbols
    (multi-hot), binary cross-entropy on the valid steps; the metric is the classic string-level
    accuracy — a string is correct when, at every valid step, the symbols with sigmoid > 0.5 are
    exactly the legal ones.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F

from nas.datasets import load_dataset
from nas.defaults import TASK_DEFAULTS
from nas.exceptions import ConfigError, UnknownNameError
from nas.training.config import TrainConfig, TrainOverrides
from search_spaces.builders import build_model

__all__ = [
    "Task",
    "get_task",
    "list_tasks",
    "register_task",
    "classification_loss",
    "classification_counts",
    "next_symbol_loss",
    "next_symbol_counts",
]

RNN_FAMILIES = ("rnn:tanh", "rnn:relu", "rnn:gru", "rnn:lstm")


# --- losses and metrics --------------------------------------------------------------------------
# A metric is given as counts (correct, total) so the loop can sum it over evaluation batches.


def classification_loss(output: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy of logits ``(B, C)`` against class indices ``(B,)``."""
    return F.cross_entropy(output.float(), y)


def classification_counts(output: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor | None = None):
    """``(correct, total)`` of the arg-max prediction, as tensors (no host sync)."""
    correct = (output.argmax(dim=-1) == y).sum()
    return correct, torch.tensor(y.shape[0], device=y.device)


def _valid_steps(y: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Boolean ``(B, T)``: steps before each sequence's length (all steps when lengths is None)."""
    batch, steps = y.shape[0], y.shape[1]
    if lengths is None:
        return torch.ones(batch, steps, dtype=torch.bool, device=y.device)
    return torch.arange(steps, device=y.device).unsqueeze(0) < lengths.unsqueeze(1)


def next_symbol_loss(output: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy of logits ``(B, T, V)`` against multi-hot targets, over valid steps only."""
    valid = _valid_steps(y, lengths)
    per_symbol = F.binary_cross_entropy_with_logits(output.float(), y.float(), reduction="none")
    per_step = per_symbol.mean(dim=-1)
    return (per_step * valid).sum() / valid.sum().clamp(min=1)


def next_symbol_counts(output: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor | None = None):
    """``(correct, total)`` strings whose predicted next-symbol sets are right at every valid step."""
    valid = _valid_steps(y, lengths)
    step_ok = ((output > 0) == (y > 0.5)).all(dim=-1) | ~valid
    correct = step_ok.all(dim=1).sum()
    return correct, torch.tensor(y.shape[0], device=y.device)


# --- the task value ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """A dataset, the model families that fit it, loss, metric and training defaults.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"mnist"``.
    dataset : str
        Name passed to :func:`nas.datasets.load_dataset`.
    families : tuple of str
        Genome families this task accepts (``search_spaces.genome.FAMILIES`` entries).
    default_family : str
        Family used when a caller samples genomes for this task.
    loss : callable
        ``loss(output, y, lengths) -> scalar tensor`` (mean over the batch).
    metric_counts : callable
        ``metric_counts(output, y, lengths) -> (correct, total)`` tensors; the metric is their ratio.
    metric_name : str
        What the metric measures, written into results.
    target : str
        ``"class"`` (one label per example) or ``"next_symbol_set"`` (multi-hot per step).
    sequence : bool
        Inputs are symbol sequences and the model is called as ``model(x, lengths)``.
    train_defaults : mapping
        :class:`~nas.training.config.TrainConfig` fields of the task's default training (built-in
        tasks: ``train`` of :data:`nas.defaults.TASK_DEFAULTS`).
    load_options : mapping
        Extra keyword arguments for :func:`nas.datasets.load_dataset`.
    description : str
        One line for listings.
    """

    name: str
    dataset: str
    families: tuple[str, ...]
    default_family: str
    loss: Callable = field(repr=False, default=classification_loss)
    metric_counts: Callable = field(repr=False, default=classification_counts)
    metric_name: str = "accuracy"
    target: str = "class"
    sequence: bool = False
    train_defaults: Mapping[str, Any] = field(default_factory=dict)
    load_options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def default_config(self, overrides=None, /, **more) -> TrainConfig:
        """This task's :class:`~nas.training.config.TrainConfig`: its training defaults with ``overrides``
        (a :class:`~nas.training.config.TrainOverrides` or a table of options), then ``more``.

        Raises
        ------
        OptionError
            An unknown option or a value outside its rule (``TrainConfig.FIELD = VALUE; expected ...``).
        """
        options = TrainOverrides(overrides)
        if more:
            options = options.merged(more)
        return options.apply(self.train_defaults)

    def load(self, data_dir=None, allow_partial: bool = False, **opts):
        """Load this task's dataset (:func:`nas.datasets.load_dataset`) with the task's options."""
        return load_dataset(self.dataset, data_dir=data_dir, allow_partial=allow_partial, **{**dict(self.load_options), **opts})

    def check_family(self, family: str) -> None:
        """Raise :class:`ConfigError` when ``family`` cannot be trained on this task."""
        if family not in self.families:
            raise ConfigError(
                f"task {self.name!r} trains families {list(self.families)}; the genome's family is {family!r}"
            )

    def build(self, genome, data, generator: torch.Generator | None = None, dag=None) -> torch.nn.Module:
        """The untrained model for ``genome`` on ``data``, built on the CPU.

        Parameters
        ----------
        genome : search_spaces.genome.Genome
        data : nas.datasets.Dataset
            Supplies input shape, number of classes and vocabulary.
        generator : torch.Generator, optional
            Source of the initial weights (the global torch generator when omitted).
        dag : LayeredDAG, optional
            Wire this DAG instead of the genome's (e.g. its dense counterpart); default ``genome.dag()``.

        Raises
        ------
        ConfigError
            The genome's family does not fit this task.
        EmptyGraphError
            The genome's graph has no edges.
        """
        self.check_family(genome.family)
        return build_model(genome.dag() if dag is None else dag, genome.family, width=genome.width,
                           readout=genome.readout, generator=generator, **self.model_kwargs(genome.family, data))

    def chance(self, data) -> float:
        """The metric a network that has learned nothing scores: one over the classes for class
        targets (balanced splits), 0 for sequence targets (string accuracy)."""
        return 1.0 / data.num_classes if self.target == "class" else 0.0

    def model_kwargs(self, family: str, data) -> dict[str, Any]:
        """Keyword arguments of :func:`search_spaces.builders.build_model` for ``family`` on ``data``."""
        shape = tuple(data.input_shape)
        if family == "ff":
            return {"num_classes": data.num_classes, "in_features": int(math.prod(shape))}
        if family == "cnn":
            return {"num_classes": data.num_classes, "in_channels": int(shape[0])}
        kwargs: dict[str, Any] = {"num_classes": data.num_classes, "sequence_output": self.target == "next_symbol_set"}
        if data.train.x.dtype in (torch.int64, torch.int32):
            vocab = data.info.get("vocab")
            kwargs["vocab_size"] = len(vocab) if vocab else int(data.train.x.max()) + 1
        else:
            kwargs["in_features"] = int(shape[-1])
        return kwargs

    def forward(self, model: torch.nn.Module, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Call ``model`` the way this task's models are called."""
        return model(x, lengths) if self.sequence else model(x)


_TASKS: dict[str, Task] = {}


def register_task(task: Task, *, replace: bool = False) -> Task:
    """Add ``task`` to the registry (``replace=True`` to overwrite a name)."""
    if task.name in _TASKS and not replace:
        raise ConfigError(f"task {task.name!r} is already registered; pass replace=True to overwrite it")
    if task.default_family not in task.families:
        raise ConfigError(f"task {task.name!r}: default family {task.default_family!r} not in {list(task.families)}")
    _TASKS[task.name] = task
    return task


def get_task(name) -> Task:
    """The registered task ``name`` (a :class:`Task` is returned as is).

    Raises
    ------
    UnknownNameError
        ``name`` is not registered; the message lists the registered tasks.
    """
    if isinstance(name, Task):
        return name
    if name not in _TASKS:
        raise UnknownNameError("task", name, _TASKS)
    return _TASKS[name]


def list_tasks() -> list[str]:
    """Names of the registered tasks, sorted."""
    return sorted(_TASKS)


#: Share of the paper's invalid Reber strings that use only Reber letters (../shared/PAPER.md).
PAPER_HARD_NEGATIVE_SHARE = 0.44

# Default budgets: ``train`` of nas.defaults.TASK_DEFAULTS (docs/training.md: what they reach).
for _task in (
    Task("mnist", "mnist", ("ff",), "ff", description="MNIST digits, sparse feed-forward network"),
    Task("fashion_mnist", "fashion_mnist", ("ff",), "ff", description="Fashion-MNIST, sparse feed-forward network"),
    Task("cifar10", "cifar10", ("cnn", "ff"), "cnn", description="CIFAR-10, random-wired CNN (feed-forward allowed)"),
    Task("reber", "reber", RNN_FAMILIES, "rnn:gru", sequence=True,
         description="Reber grammar valid/invalid classification, sparse RNN (paper budget)"),
    Task("reber_paper", "reber", RNN_FAMILIES, "rnn:gru", sequence=True,
         load_options={"hard_negative_share": PAPER_HARD_NEGATIVE_SHARE},
         description="Reber classification with the paper's negatives (44 % hard, 56 % foreign letters)"),
    Task("embedded_reber", "embedded_reber", RNN_FAMILIES, "rnn:lstm", loss=next_symbol_loss,
         metric_counts=next_symbol_counts, metric_name="string_accuracy", target="next_symbol_set", sequence=True,
         description="embedded Reber next-symbol prediction, sparse RNN"),
):
    register_task(dataclasses.replace(_task, train_defaults=TASK_DEFAULTS[_task.name]["train"]))
