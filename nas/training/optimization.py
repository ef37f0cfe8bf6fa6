"""What a training step minimises and how the weights move: the loss, the optimizer, its per-step
schedule, the plateau schedule and early stopping (:class:`PlateauTracker`) and restartable
momentum (:class:`CutMomentum`).

Shared by the one training loop (:mod:`nas.training.epochs`), so a model trained alone and a
candidate trained inside a stack make exactly the same decisions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from nas.training.config import TrainConfig
from nas.training.tasks import Task, classification_loss

__all__ = ["make_optimizer", "make_step_schedule", "training_loss", "PlateauTracker", "CutMomentum"]


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
    stack of candidates, so the two loops make exactly the same decisions. ``cuts[i]`` counts the rate
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
