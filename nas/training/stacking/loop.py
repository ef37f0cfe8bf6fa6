"""One stack of candidates trained together, each exactly as if alone.

The loop is the one loop (:func:`nas.training.epochs.run_epochs`); :class:`StackTrainee` is a
stack's side of it (per-candidate losses, clipping, rates and snapshots).

Exactness (a candidate trained alone and inside a stack from the same seed gives the same
result within floating-point tolerance):

* Every candidate sees the same batches in the same order as a solo run
  (:func:`nas.training.batches.epoch_batches`, one shuffling generator seeded with
  ``config.seed``) and starts from the same weights (:func:`nas.training.loop.build_seeded`).
* The loss is the *sum* of per-candidate mean losses, so each candidate's gradient is exactly its
  own. Adam/AdamW/SGD are elementwise, so per-candidate optimizer state is automatic; gradient
  clipping is done per candidate; the cosine schedule is shared (same budget).
* Early stopping and the plateau schedule are per candidate (:class:`~nas.training.optimization.PlateauTracker`),
  realised by scaling each candidate's update — the update of all three optimizers is linear in
  the learning rate, so scaling it equals a per-candidate learning rate, and a scale of 0 freezes
  a stopped candidate. Its best-validation weights are kept in a per-candidate snapshot.
* Before training, the stacked forward is checked against each candidate's own module on a few
  examples; a disagreement raises :class:`~nas.exceptions.TrainingError` instead of training a
  different function.

A stack is any object with ``size``, ``parameters()`` (tensors whose first axis is the
candidate), ``forward(x, lengths)`` (outputs with the candidate first) and ``unstack(i, model)``:
:class:`~nas.training.stacking.ff.StackedFeedForward`,
:class:`~nas.training.stacking.rnn.StackedRecurrent` and
:class:`~nas.training.stacking.cnn.StackedCNN` (which also has ``buffers()`` — its BatchNorm
statistics, kept in best snapshots with the weights — and ``train(mode)``).
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from nas.exceptions import TrainingError
from nas.training.batches import eval_batches, eval_forward, take
from nas.training.config import TrainConfig, TrainResult
from nas.training.device import autocast, device_name
from nas.training.epochs import run_epochs, trained_result
from nas.training.evaluation import (
    count_nonzero_weights,
    count_parameters,
    count_test_examples,
)
from nas.training.tasks import classification_counts, classification_loss

__all__ = ["train_stack", "StackTrainee", "set_mode", "per_candidate_loss", "per_candidate_correct", "clip_per_candidate", "verify_stack", "failed_result"]


def per_candidate_loss(task, out: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor | None,
                       label_smoothing: float = 0.0) -> torch.Tensor:
    """The task's mean loss of each candidate, shape ``(P,)``; ``out`` has the candidate first.

    ``label_smoothing`` (classification only) as in :func:`nas.training.optimization.training_loss`."""
    if task.loss is classification_loss:  # one fused call instead of P
        P, B, C = out.shape
        return F.cross_entropy(out.float().reshape(P * B, C), y.repeat(P), reduction="none",
                               label_smoothing=label_smoothing).view(P, B).mean(dim=1)
    return torch.stack([task.loss(o, y, lengths) for o in out])


def set_mode(stack, training: bool) -> None:
    """Training or evaluation mode for stacks that have one (BatchNorm in CNN stacks)."""
    if hasattr(stack, "train"):
        stack.train(training)


def per_candidate_correct(task, out: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor | None):
    """``(correct (P,), total)`` of the task's metric for each candidate."""
    if task.metric_counts is classification_counts:
        return (out.argmax(dim=-1) == y).sum(dim=1), y.shape[0]
    counts = [task.metric_counts(o, y, lengths) for o in out]
    return torch.stack([c for c, _ in counts]), counts[0][1]


@torch.no_grad()
def _evaluate_stacked(stack, split, task, config, device, truncate):
    P = stack.size
    set_mode(stack, False)
    loss_sum = torch.zeros(P, device=device)
    correct = torch.zeros(P, device=device)
    total = 0
    for batch in eval_batches(split, config.eval_batch_size, truncate):
        x, y, lengths = take(split, batch)
        with autocast(device, config):
            out = eval_forward(stack.forward, x, lengths, config)
        loss_sum += per_candidate_loss(task, out, y, lengths) * x.shape[0]
        c, t = per_candidate_correct(task, out, y, lengths)
        correct += c
        total += t
    return (loss_sum / len(split)).tolist(), (correct / max(float(total), 1.0)).tolist()


def clip_per_candidate(params: list[torch.Tensor], max_norm: float) -> None:
    """``torch.nn.utils.clip_grad_norm_``'s arithmetic with one norm per candidate (first axis)."""
    sq = sum(p.grad.float().pow(2).flatten(1).sum(dim=1) for p in params)
    coef = (max_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)
    for p in params:
        p.grad.mul_(coef.view(-1, *([1] * (p.dim() - 1))).to(p.grad.dtype))


def verify_stack(stack, models, task, x: torch.Tensor, lengths, device) -> None:
    """Raise TrainingError unless the stacked forward equals each candidate's own module on ``x``.

    Within 1e-4 (relative to the largest logit) on the CPU. On CUDA, cuDNN's recurrent kernels may
    use TF32 (torch's default for them) while the stack's matmuls use full fp32, so the check
    allows 1e-2 there: it still catches a wrong formula, whose error is of the logits' own size.
    """
    tolerance = 1e-4 if torch.device(device).type == "cpu" else 1e-2
    set_mode(stack, False)
    with torch.no_grad():
        stacked = stack.forward(x, lengths)
        for i, model in enumerate(models):
            own = task.forward(model.to(device).eval(), x, lengths)
            model.train()
            finite = torch.isfinite(own)
            if not torch.equal(finite, torch.isfinite(stacked[i])):
                raise TrainingError(f"stacked forward of candidate {i} is non-finite where its module's is not (or vice versa)")
            # Non-finite outputs (a diverged or poisoned candidate) are the loop's business, not a formula mismatch.
            err = float((stacked[i] - own)[finite].abs().max()) if finite.any() else 0.0
            scale = 1.0 + (float(own[finite].abs().max()) if finite.any() else 0.0)
            if not err <= tolerance * scale:
                raise TrainingError(
                    f"stacked forward of candidate {i} differs from its module by {err:.3g}; expected agreement within "
                    f"{tolerance * scale:.3g} (the builder's formula changed?)"
                )


class StackTrainee:
    """A stack of candidates as :func:`~nas.training.epochs.run_epochs` trains it (see
    :class:`~nas.training.epochs.Trainee`): per-candidate losses and clipping, a plateau's rate
    applied by scaling each candidate's update (0 freezes a stopped one), per-candidate snapshots."""

    stacked = True

    def __init__(self, stack, indices, data, task, config: TrainConfig, device, on_error: str, truncate: bool):
        self.stack, self.indices, self.data, self.task = stack, indices, data, task
        self.config, self.device, self.on_error, self.truncate = config, device, on_error, truncate
        self.size = stack.size
        self.params = stack.parameters()
        # What a best-validation snapshot keeps: the weights and any running statistics (BatchNorm).
        self.buffers = list(stack.buffers()) if hasattr(stack, "buffers") else []
        self.state = self.params + self.buffers
        self.best = [p.detach().clone() for p in self.state] if config.patience is not None else None
        self.errors: dict[int, str] = {}
        self.scale = None
        self.rescale = False
        self.frozen: list[torch.Tensor] = []

    def parameters(self) -> list[torch.Tensor]:
        return self.params

    def start_epoch(self, lr_scale, active, optimizer) -> None:
        self.scale = torch.tensor([lr_scale[i] if active[i] else 0.0 for i in range(self.size)], device=self.device)
        self.rescale = bool((self.scale != 1.0).any())
        # A frozen candidate's running statistics must not move either (the forward updates them).
        self.frozen = [b.detach().clone() for b in self.buffers] if self.rescale else []
        set_mode(self.stack, True)

    def losses(self, x, y, lengths) -> torch.Tensor:
        with autocast(self.device, self.config):
            out = self.stack.forward(x, lengths)
        return per_candidate_loss(self.task, out, y, lengths, self.config.label_smoothing)

    def clip(self, max_norm: float | None) -> None:
        if max_norm is not None:
            clip_per_candidate(self.params, max_norm)

    def step(self, optimizer) -> None:
        if not self.rescale:
            optimizer.step()
            return
        before = [p.detach().clone() for p in self.params]
        optimizer.step()
        with torch.no_grad():
            for p, old in zip(self.params, before):
                view = self.scale.view(-1, *([1] * (p.dim() - 1)))
                # where(): a frozen candidate keeps its weights even if its update is NaN.
                p.copy_(torch.where(view == 0, old, torch.lerp(old, p, view)))
            for b, old in zip(self.buffers, self.frozen):
                b.copy_(torch.where(self.scale.view(-1, *([1] * (b.dim() - 1))) == 0, old, b))

    def mean_losses(self, loss_sum: torch.Tensor, steps: int) -> list[float]:
        return (loss_sum / steps).tolist()

    def diverged(self, index: int, epoch: int, step: int) -> None:
        message = (f"non-finite training loss of stacked candidate {self.indices[index]} in epoch {epoch} at step "
                   f"{step} (task {self.task.name!r}, lr={self.config.lr}); expected finite losses")
        if self.on_error == "raise":
            raise TrainingError(message)
        self.errors[index] = message

    def validate(self) -> tuple[list[float], list[float]]:
        return _evaluate_stacked(self.stack, self.data.val, self.task, self.config, self.device, self.truncate)

    def test(self) -> tuple[list[float], list[float]]:
        return _evaluate_stacked(self.stack, self.data.test, self.task, self.config, self.device, self.truncate)

    @torch.no_grad()
    def keep_best(self, index: int) -> None:
        for snap, p in zip(self.best, self.state):
            snap[index].copy_(p[index])

    @torch.no_grad()
    def restore_best(self) -> None:
        for snap, p in zip(self.best, self.state):
            p.copy_(snap)


def train_stack(stack, models, indices, data, task, config: TrainConfig, device, on_error: str,
                truncate: bool) -> dict[int, TrainResult]:
    """Train one stack of candidates (``data`` already prepared on ``device``); return their
    results keyed by ``indices`` (the candidates' positions in the caller's cohort)."""
    started = time.perf_counter()
    probe = data.train.subset(slice(0, min(8, len(data.train))))
    verify_stack(stack, models, task, probe.x, probe.lengths, device)
    trainee = StackTrainee(stack, indices, data, task, config, device, on_error, truncate)
    fit = run_epochs(trainee, data.train, config, device, truncate)
    # Every candidate's test figures from one stacked pass (the stack equals each module; testing
    # the modules one by one cost a recurrent cohort a fifth of its time).
    test_losses, test_metrics = trainee.test()
    train_time = time.perf_counter() - started

    results = {}
    for i, (model, index) in enumerate(zip(models, indices)):
        if i in trainee.errors or not fit.history[i]:
            results[index] = failed_result(task, config, device, data, model, trainee.errors.get(i, "no epoch completed"),
                                           fit.epochs[i], fit.steps[i], fit.history[i])
            continue
        stack.unstack(i, model)
        # The group trained together: its wall time is shared evenly between its candidates.
        results[index] = trained_result(fit, i, model, data, task, config, device, (test_losses[i], test_metrics[i]),
                                        train_time / stack.size)
    return results


def failed_result(task, config, device, data, model, message, epochs, steps, history) -> TrainResult:
    """The result of a candidate that did not train: NaN metrics, ``error`` set, no model."""
    used, expected = count_test_examples(data)
    nan = float("nan")
    return TrainResult(
        task=task.name, metric=task.metric_name, test_accuracy=nan, val_accuracy=nan, test_loss=nan, val_loss=nan,
        epochs=epochs, steps=steps, wall_time_s=0.0, device=device_name(device), parameters=count_parameters(model),
        nonzero_weights=count_nonzero_weights(model), test_examples=used, test_expected=expected, stopped_early=False,
        best_epoch=0, history=history, config=config.to_dict(), error=message, model=None,
    )
