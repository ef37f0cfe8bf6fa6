"""Scoring a trained model: validation and test loss and metric, and its size.

Both the single-model loop (:mod:`nas.training.loop`) and stacks (:mod:`nas.training.stacking`)
score a finished model here.
"""

from __future__ import annotations

import functools

import torch

from nas.training.batches import eval_batches, eval_forward, take
from nas.training.config import TrainConfig
from nas.training.device import autocast
from nas.training.tasks import Task

__all__ = ["evaluate", "count_parameters", "count_nonzero_weights", "count_test_examples"]


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
