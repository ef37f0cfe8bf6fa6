"""The one training loop: epochs of steps, then validation, early stopping and the plateau schedule.

:func:`run_epochs` trains a *trainee* — one model (:func:`nas.training.loop.train_model`) or a
stack of candidates (:func:`nas.training.stacking.loop.train_stack`) — and is written once for
both. Per epoch::

    trainee.start_epoch(rate scales, active)       # plateau rates; a stack also freezes stopped candidates
    for each batch of the epoch (within the step budget):
        losses = trainee.losses(x, y, lengths)     # one per candidate (a scalar for one model)
        zero_grad; losses.sum().backward()         # the sum: each candidate's gradient is its own
        trainee.clip(grad_clip); momentum.apply(); trainee.step(optimizer); schedule.step()
        remember the first non-finite loss per candidate (on the device: no host sync per step)
    a candidate whose loss was non-finite: trainee.diverged(...) (raises, or the candidate stops)
    val_loss, val_metric = trainee.validate()
    per active candidate: PlateauTracker.update -> momentum cut, best snapshot, history record
    stop when every candidate stopped, the step budget is spent or ``on_epoch`` says so

after which the best-validation weights are restored (with ``patience``). What differs between one
model and a stack — the forward and loss, gradient clipping, how a plateau's lower rate is applied,
what a non-finite loss does, snapshots — is the trainee's; the step tail, the bookkeeping and the
decisions are this module's, so both make exactly the same ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import torch
from tqdm.auto import tqdm

from nas.training.batches import (
    epoch_batches,
    make_augment_generator,
    make_generator,
    take,
    total_steps,
)
from nas.training.config import TrainConfig, TrainResult
from nas.training.device import device_name
from nas.training.evaluation import (
    count_nonzero_weights,
    count_parameters,
    count_test_examples,
)
from nas.training.optimization import (
    CutMomentum,
    PlateauTracker,
    make_optimizer,
    make_step_schedule,
)

__all__ = ["Trainee", "Fit", "run_epochs", "trained_result"]


class Trainee(Protocol):
    """What :func:`run_epochs` trains: one model (``size`` 1, not ``stacked``) or a stack."""

    size: int
    stacked: bool  # parameters have the candidate first

    def parameters(self) -> list[torch.Tensor]:
        """The trained tensors, in a fixed order."""

    def start_epoch(self, lr_scale: Sequence[float], active: Sequence[bool], optimizer: torch.optim.Optimizer) -> None:
        """Apply the plateau schedule's rate scales; ``active[i]`` is False for a stopped candidate."""

    def losses(self, x: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """The training loss of each candidate (a scalar for one model)."""

    def clip(self, max_norm: float | None) -> None:
        """Clip the gradients to ``max_norm`` (per candidate), if given."""

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """The optimizer step (a stack scales each candidate's update by its rate)."""

    def mean_losses(self, loss_sum: torch.Tensor, steps: int) -> list[float]:
        """The epoch's mean training loss of each candidate."""

    def diverged(self, index: int, epoch: int, step: int) -> None:
        """Candidate ``index`` had a non-finite loss at ``step``: raise, or record it (it then stops)."""

    def validate(self) -> tuple[list[float], list[float]]:
        """Validation loss and metric of each candidate."""

    def test(self) -> tuple[list[float], list[float]]:
        """Test loss and metric of each candidate (``test_curve``: after every epoch)."""

    def keep_best(self, index: int) -> None:
        """Snapshot candidate ``index``'s weights: its best validation so far."""

    def restore_best(self) -> None:
        """Put the snapshots back (called once, after training, with ``patience``)."""


@dataclass
class Fit:
    """What :func:`run_epochs` measured, per candidate."""

    history: list[list[dict]]  # per epoch: epoch, train_loss, val_loss, val_accuracy, lr, steps, elapsed_s
    epochs: list[int]  # epochs trained (the last one a candidate was active in)
    steps: list[int]  # steps trained by then
    best_epoch: list[int]
    stopped: list[bool]  # stopped by early stopping, a plateau at min_lr, or a non-finite loss
    clock: float  # seconds of training epochs and validation

    def chosen(self, index: int, config: TrainConfig) -> dict:
        """The epoch whose weights candidate ``index`` ends with: the best one under early stopping."""
        history = self.history[index]
        return history[self.best_epoch[index] - 1] if config.patience is not None else history[-1]


def run_epochs(trainee: Trainee, train, config: TrainConfig, device: torch.device, truncate: bool,
               on_epoch: Callable[[int, list], bool] | None = None) -> Fit:
    """Train ``trainee`` on the ``train`` split (on ``device``) as ``config`` says; see the module notes.

    ``on_epoch(epoch, records)`` is called after each epoch with each candidate's new history
    record (None for an inactive one); a true return stops training.
    """
    size = trainee.size
    params = trainee.parameters()
    budget_steps = total_steps(len(train), config)
    momentum = CutMomentum(params, config, size, stacked=trainee.stacked)
    optimizer = make_optimizer(params, momentum.optimizer_config())
    scheduler = make_step_schedule(optimizer, config, budget_steps)
    tracker = PlateauTracker(size, config)
    generator = make_generator(config.seed, device)
    augmenter = make_augment_generator(config, device)  # the same draws alone and stacked
    shape = (size,) if trainee.stacked else ()
    history: list[list[dict]] = [[] for _ in range(size)]
    epochs_run = [0] * size
    steps_run = [0] * size
    clock = 0.0
    steps = 0
    # a cohort's steps as a bar (stacked candidates can train for minutes before an epoch ends);
    # disable=None: shown on a terminal only, never as lines in a log
    with tqdm(total=budget_steps, unit="step", desc=f"training {size} together", leave=False,
              disable=None if config.progress and trainee.stacked else True) as bar:
        for epoch in range(1, config.epochs + 1):
            started = time.perf_counter()
            active = [not s for s in tracker.stopped]
            trainee.start_epoch(tracker.lr_scale, active, optimizer)
            loss_sum = torch.zeros(shape, device=device)
            first_bad = torch.full(shape, -1, dtype=torch.long, device=device)
            epoch_steps = 0
            for batch in epoch_batches(train, config, generator, device, truncate=truncate)[:max(budget_steps - steps, 0)]:
                x, y, lengths = take(train, batch, config.augment, augmenter)
                losses = trainee.losses(x, y, lengths)
                optimizer.zero_grad(set_to_none=True)
                losses.sum().backward()
                trainee.clip(config.grad_clip)
                momentum.apply()
                trainee.step(optimizer)
                if scheduler is not None:
                    scheduler.step()
                detached = losses.detach().float()
                first_bad = torch.where((first_bad < 0) & ~torch.isfinite(detached), steps, first_bad)
                loss_sum += detached
                steps += 1
                epoch_steps += 1
                bar.update(1)
            if epoch_steps == 0:
                break
            for i, bad in enumerate(first_bad.view(-1).tolist()):
                if active[i] and bad >= 0:
                    trainee.diverged(i, epoch, bad)
                    tracker.stopped[i] = True
                    active[i] = False
            val_loss, val_metric = trainee.validate()
            clock += time.perf_counter() - started
            test_loss, test_metric = trainee.test() if config.test_curve else (None, None)
            train_loss = trainee.mean_losses(loss_sum, epoch_steps)
            # The rate the candidates stepped with: the plateau schedule scales the configured one.
            lr = config.lr if config.schedule == "plateau" else optimizer.param_groups[0]["lr"]
            records: list[dict | None] = [None] * size
            for i in range(size):
                if not active[i]:
                    continue
                epochs_run[i] = epoch
                steps_run[i] = steps
                cuts = tracker.cuts[i]
                improved = tracker.update(i, epoch, val_metric[i])
                if tracker.cuts[i] != cuts:
                    momentum.cut(i)
                if config.patience is not None and improved:
                    trainee.keep_best(i)
                records[i] = {"epoch": epoch, "train_loss": train_loss[i], "val_loss": val_loss[i],
                              "val_accuracy": val_metric[i], "lr": lr * tracker.lr_scale[i], "steps": steps,
                              "elapsed_s": clock}
                if test_metric is not None:  # scored, never selected on
                    records[i].update(test_loss=test_loss[i], test_accuracy=test_metric[i])
                history[i].append(records[i])
            stop = bool(on_epoch(epoch, records)) if on_epoch is not None else False
            if stop or all(tracker.stopped) or steps >= budget_steps:
                break
    if config.patience is not None:
        trainee.restore_best()
    return Fit(history, epochs_run, steps_run, list(tracker.best_epoch), list(tracker.stopped), clock)


def trained_result(fit: Fit, index: int, model: torch.nn.Module, data, task, config: TrainConfig, device: torch.device,
                   test: tuple[float, float], wall_time_s: float) -> TrainResult:
    """Candidate ``index``'s :class:`TrainResult`: ``test`` is its (loss, metric) on the test split."""
    chosen = fit.chosen(index, config)
    used, expected = count_test_examples(data)
    test_loss, test_metric = test
    return TrainResult(
        task=task.name, metric=task.metric_name, test_accuracy=test_metric, val_accuracy=chosen["val_accuracy"],
        test_loss=test_loss, val_loss=chosen["val_loss"], epochs=fit.epochs[index], steps=fit.steps[index],
        wall_time_s=wall_time_s, device=device_name(device), parameters=count_parameters(model),
        nonzero_weights=count_nonzero_weights(model), test_examples=used, test_expected=expected,
        stopped_early=bool(fit.stopped[index]), best_epoch=int(chosen["epoch"]), history=fit.history[index],
        config=config.to_dict(), model=model,
    )
