"""The population loop: one stack of candidates trained together, each exactly as if alone.

Exactness (a candidate trained alone and inside a population from the same seed gives the same
result within floating-point tolerance):

* Every candidate sees the same batches in the same order as a solo run
  (:func:`nas.training.batches.epoch_batches`, one shuffling generator seeded with
  ``config.seed``) and starts from the same weights (:func:`nas.training.loop.build_seeded`).
* The loss is the *sum* of per-candidate mean losses, so each candidate's gradient is exactly its
  own. Adam/AdamW/SGD are elementwise, so per-candidate optimizer state is automatic; gradient
  clipping is done per candidate; the cosine schedule is shared (same budget).
* Early stopping and the plateau schedule are per candidate (:class:`~nas.training.loop.PlateauTracker`),
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
from nas.training.batches import (
    epoch_batches,
    eval_batches,
    eval_forward,
    make_augment_generator,
    make_generator,
    take,
    total_steps,
)
from nas.training.config import TrainConfig, TrainResult
from nas.training.device import device_name
from nas.training.loop import (
    CutMomentum,
    PlateauTracker,
    autocast,
    count_nonzero_weights,
    count_parameters,
    count_test_examples,
    evaluate,
    make_optimizer,
    make_step_schedule,
)
from nas.training.tasks import classification_counts, classification_loss

__all__ = ["train_stack", "set_mode", "per_candidate_loss", "per_candidate_correct", "clip_per_candidate", "verify_stack", "failed_result"]


def per_candidate_loss(task, out: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor | None,
                       label_smoothing: float = 0.0) -> torch.Tensor:
    """The task's mean loss of each candidate, shape ``(P,)``; ``out`` has the candidate first.

    ``label_smoothing`` (classification only) as in :func:`nas.training.loop.training_loss`."""
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


def train_stack(stack, models, indices, data, task, config: TrainConfig, device, on_error: str,
                truncate: bool) -> dict[int, TrainResult]:
    """Train one stack of candidates (``data`` already prepared on ``device``); return their
    results keyed by ``indices`` (the candidates' positions in the caller's population)."""
    started = time.perf_counter()
    train = data.train
    probe = train.subset(slice(0, min(8, len(train))))
    verify_stack(stack, models, task, probe.x, probe.lengths, device)
    params = stack.parameters()
    P = stack.size
    n = len(train)
    budget_steps = total_steps(n, config)
    momentum = CutMomentum(params, config, P, stacked=True)
    optimizer = make_optimizer(params, momentum.optimizer_config())
    scheduler = make_step_schedule(optimizer, config, budget_steps)
    tracker = PlateauTracker(P, config)
    generator = make_generator(config.seed, device)
    augmenter = make_augment_generator(config, device)  # the same draws as each candidate's solo run
    keep_best = config.patience is not None
    # What a best-validation snapshot keeps: the weights and any running statistics (BatchNorm).
    buffers = list(stack.buffers()) if hasattr(stack, "buffers") else []
    state = params + buffers
    best = [p.detach().clone() for p in state] if keep_best else None
    history: list[list[dict]] = [[] for _ in range(P)]
    epochs_run = [0] * P
    steps_run = [0] * P
    errors: dict[int, str] = {}
    clock = 0.0
    steps = 0
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        active = [not s for s in tracker.stopped]
        scale = torch.tensor([tracker.lr_scale[i] if active[i] else 0.0 for i in range(P)], device=device)
        rescale = bool((scale != 1.0).any())
        # A frozen candidate's running statistics must not move either (the forward updates them).
        frozen = [b.detach().clone() for b in buffers] if rescale else []
        loss_sum = torch.zeros(P, device=device)
        first_bad = torch.full((P,), -1, dtype=torch.long, device=device)
        epoch_steps = 0
        set_mode(stack, True)
        for batch in epoch_batches(train, config, generator, device, truncate=truncate)[:max(budget_steps - steps, 0)]:
            x, y, lengths = take(train, batch, config.augment, augmenter)
            with autocast(device, config):
                out = stack.forward(x, lengths)
            losses = per_candidate_loss(task, out, y, lengths, config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            if config.grad_clip is not None:
                clip_per_candidate(params, config.grad_clip)
            momentum.apply()
            before = [p.detach().clone() for p in params] if rescale else None
            optimizer.step()
            if rescale:
                with torch.no_grad():
                    for p, old in zip(params, before):
                        view = scale.view(-1, *([1] * (p.dim() - 1)))
                        # where(): a frozen candidate keeps its weights even if its update is NaN.
                        p.copy_(torch.where(view == 0, old, torch.lerp(old, p, view)))
                    for b, old in zip(buffers, frozen):
                        b.copy_(torch.where(scale.view(-1, *([1] * (b.dim() - 1))) == 0, old, b))
            if scheduler is not None:
                scheduler.step()
            detached = losses.detach()
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(detached), steps, first_bad)
            loss_sum += detached
            steps += 1
            epoch_steps += 1
        if epoch_steps == 0:
            break
        bad = first_bad.tolist()
        for i in range(P):
            if active[i] and bad[i] >= 0:
                message = (f"non-finite training loss of population candidate {indices[i]} in epoch {epoch} at step "
                           f"{bad[i]} (task {task.name!r}, lr={config.lr}); expected finite losses")
                if on_error == "raise":
                    raise TrainingError(message)
                errors[i] = message
                tracker.stopped[i] = True
                active[i] = False
        val_loss, val_metric = _evaluate_stacked(stack, data.val, task, config, device, truncate)
        clock += time.perf_counter() - t0
        train_loss = (loss_sum / epoch_steps).tolist()
        lr = optimizer.param_groups[0]["lr"]
        for i in range(P):
            if not active[i]:
                continue
            epochs_run[i] = epoch
            steps_run[i] = steps
            cuts = tracker.cuts[i]
            improved = tracker.update(i, epoch, val_metric[i])
            if tracker.cuts[i] != cuts:
                momentum.cut(i)
            if keep_best and improved:
                with torch.no_grad():
                    for snap, p in zip(best, state):
                        snap[i].copy_(p[i])
            history[i].append({"epoch": epoch, "train_loss": train_loss[i], "val_loss": val_loss[i],
                               "val_accuracy": val_metric[i], "lr": lr * tracker.lr_scale[i], "steps": steps,
                               "elapsed_s": clock})
        if all(tracker.stopped) or steps >= budget_steps:
            break
    if keep_best:
        with torch.no_grad():
            for snap, p in zip(best, state):
                p.copy_(snap)
    train_time = time.perf_counter() - started

    results = {}
    for i, (model, index) in enumerate(zip(models, indices)):
        t0 = time.perf_counter()
        if i in errors or not history[i]:
            results[index] = failed_result(task, config, device, data, model, errors.get(i, "no epoch completed"),
                                            epochs_run[i], steps_run[i], history[i])
            continue
        stack.unstack(i, model)
        test_loss, test_metric = evaluate(model, data.test, task, config, device, truncate)
        chosen = history[i][tracker.best_epoch[i] - 1] if keep_best else history[i][-1]
        used, expected = count_test_examples(data)
        results[index] = TrainResult(
            task=task.name, metric=task.metric_name, test_accuracy=test_metric, val_accuracy=chosen["val_accuracy"],
            test_loss=test_loss, val_loss=chosen["val_loss"], epochs=epochs_run[i], steps=steps_run[i],
            # The group trained together: its wall time is shared evenly between its candidates.
            wall_time_s=train_time / P + (time.perf_counter() - t0), device=device_name(device),
            parameters=count_parameters(model), nonzero_weights=count_nonzero_weights(model),
            test_examples=used, test_expected=expected, stopped_early=bool(tracker.stopped[i]),
            best_epoch=int(chosen["epoch"]), history=history[i], config=config.to_dict(), model=model,
        )
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
