"""Pruning trained networks step by step, with retraining after every step — many at once.

:func:`prune_models` prunes a cohort of candidates (each a trained network, a method and a
seed) along one schedule::

    total <- prunable weights of each candidate now
    for k in schedule:
        for every candidate: masks <- prune_step(method, weights, masks, k)   # the k least salient go
        accuracy before retraining <- evaluate(test), per candidate
        retrain all candidates together (one stacked cohort; fixed epochs, or until the
            validation gain is below epsilon, capped — per candidate)
        record compression, weights left, accuracy before and after

Candidates that stack (sparse or dense MLPs, sparse RNNs) are retrained as one cohort by
:func:`nas.training.stacking.train_models`, each exactly as if alone (the stacks honour every
mask); they share the batch order, drawn for step ``i`` from ``SeedSequence([retrain.seed, i])``.
Variable retraining is the training config's own early stopping: ``epochs`` = the cap,
``patience=1`` and ``min_delta`` = epsilon. :func:`prune_model` is the one-network case.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from nas.exceptions import PruningError
from nas.studies.pruning.saliency import check_method, hessian_diagonal, prune_step
from nas.studies.pruning.targets import prunable
from nas.training.batches import truncates
from nas.training.device import resolve_device
from nas.training.loop import evaluate, prepare_data
from nas.training.stacking import train_models

__all__ = ["Candidate", "prune_models", "prune_model", "prunable", "fisher_diagonal", "step_seed"]

log = logging.getLogger(__name__)


@dataclass
class Candidate:
    """One network to prune: its saliency ``method``, its ``seed`` (step ``i`` draws ``random``'s
    saliencies and ``obd``'s labels from ``numpy.random.default_rng([seed, i])``) and the trained
    ``model`` (pruned and retrained in place)."""

    method: str
    seed: int
    model: torch.nn.Module


def step_seed(seed: int, step: int) -> int:
    """The batch-order seed of retraining step ``step`` (1-based) of a run seeded ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(step)]).generate_state(1)[0])


def fisher_diagonal(model, task, x, y, lengths, weights, generator: torch.Generator) -> list[torch.Tensor]:
    """Gauss–Newton (Fisher) diagonal of the loss over ``weights``: the mean squared per-example
    gradient, with labels drawn from the network's own predictive distribution.

    For softmax cross-entropy it equals, in expectation, the diagonal of the Gauss–Newton matrix —
    LeCun et al.'s positive approximation of the Hessian diagonal in Optimal Brain Damage. One
    backward pass per example of ``x``.

    Raises
    ------
    PruningError
        The task is not a classification (labels cannot be drawn).
    """
    if task.target != "class":
        raise PruningError(f"obd draws labels from the network's predictions; task {task.name!r} is not a classification")
    with torch.no_grad():
        logits = task.forward(model, x, lengths).float()
        drawn = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator).reshape(-1)
    total = [torch.zeros_like(w) for w in weights]
    for i in range(x.shape[0]):
        part = None if lengths is None else lengths[i:i + 1]
        loss = task.loss(task.forward(model, x[i:i + 1], part), drawn[i:i + 1], part)
        for t, g in zip(total, torch.autograd.grad(loss, weights, allow_unused=True)):
            if g is not None:
                t.add_(g.detach().pow(2))
    return [t / x.shape[0] for t in total]


def _curvature(candidate, task, prepared, weights, rng, device, hessian_batch, curvature, probes):
    """``obd``'s Hessian diagonal for one candidate (see :func:`prune_models`)."""
    model = candidate.model
    batch = prepared.val.subset(slice(0, hessian_batch))
    x, y, lengths = batch.x, batch.y, batch.lengths
    generator = torch.Generator(device=device).manual_seed(int(rng.integers(2**62)))
    if curvature == "fisher":
        return fisher_diagonal(model, task, x, y, lengths, weights, generator)
    return hessian_diagonal(lambda: task.loss(task.forward(model, x, lengths), y, lengths), weights, probes=probes,
                            generator=generator)


def prune_models(candidates: Sequence[Candidate], task, data, *, steps, retrain, weights="all",
                 total: int | None = None, on_step: Callable[[int, list[dict]], None] | None = None,
                 hessian_batch: int = 256, curvature: str = "fisher", probes: int = 16,
                 on_empty: str = "raise", first_step: int = 1) -> list[list[dict]]:
    """Prune every candidate in ``steps``, retraining them all together after each step.

    Parameters
    ----------
    candidates : sequence of Candidate
        Trained networks (feed-forward or recurrent), their methods and seeds.
    task : Task
    data : Dataset
    steps : sequence of int or float
        Per step, a count of weights (:func:`nas.studies.pruning.plan_schedule`) or a share of the
        remaining ones (for ``mcu``: of each layer's remaining ones).
    retrain : TrainConfig
        Retraining after every step; its ``seed`` seeds the steps' batch orders (:func:`step_seed`).
    weights : str or sequence of str
        The parts pruned (:mod:`nas.studies.pruning.targets`): ``"all"`` or e.g. ``"recurrent"``.
    total : int, optional
        Prunable weights the compression is counted from (default: each candidate's unpruned
        ones now).
    on_step : callable, optional
        ``on_step(step, records)`` as soon as a step is done: one record per candidate, None for
        a candidate that has stopped.
    on_empty : {"raise", "stop"}
        A candidate whose step would empty a layer: ``"raise"`` a PruningError (the steps
        before were reported), or ``"stop"`` pruning that candidate (its history ends; the
        others go on), as the paper's code stops a run when a layer has no weight left.
    hessian_batch : int
        Validation examples for ``obd``'s curvature.
    curvature : {"fisher", "hutchinson"}
        ``obd``'s Hessian diagonal: the Gauss–Newton (Fisher) diagonal (:func:`fisher_diagonal`,
        positive, the default) or Hutchinson's unbiased estimate of the exact diagonal
        (:func:`nas.studies.pruning.hessian_diagonal` with ``probes``), which is noisy on large layers.
    first_step : int
        The number of the first of ``steps`` (a resumed run continues its numbering; the step
        number seeds the step's draws and batch order, so step i is the same step either way).

    Returns
    -------
    list of list of dict
        Per candidate, per step: ``step``, ``removed``, ``weights`` (prunable weights left),
        ``compression``, ``test_accuracy_before_retrain``, ``test_accuracy``, ``val_accuracy``,
        ``retrain_epochs``.

    Raises
    ------
    PruningError
        An unknown method or curvature, a network that cannot be pruned, or a layer that would
        lose all its weights (the message names the candidate; the steps before were reported).
    """
    if curvature not in ("fisher", "hutchinson"):
        raise PruningError(f"curvature must be 'fisher' or 'hutchinson', got {curvature!r}")
    if on_empty not in ("raise", "stop"):
        raise PruningError(f"on_empty must be 'raise' or 'stop', got {on_empty!r}")
    candidates = list(candidates)
    if not candidates:
        raise PruningError("prune_models needs at least one candidate; got none")
    for c in candidates:
        check_method(c.method)
    device = resolve_device(retrain.device)
    for c in candidates:
        c.model.to(device)
    targets = [prunable(c.model, weights) for c in candidates]  # after .to(): buffers are new tensors there
    totals = [total if total is not None else int(sum(int(m.sum()) for m in masks)) for _, _, masks in targets]
    prepared = prepare_data(data, retrain, device)
    truncate = truncates(prepared.test, prepared.info)
    history: list[list[dict]] = [[] for _ in candidates]
    active = list(range(len(candidates)))
    for number, k in enumerate(steps, first_step):
        amount = float(k) if isinstance(k, float) else int(k)
        removed, before = {}, {}
        for i in list(active):
            c, (names, ws, masks) = candidates[i], targets[i]
            rng = np.random.default_rng([c.seed, number])
            hessian = (_curvature(c, task, prepared, ws, rng, device, hessian_batch, curvature, probes)
                       if c.method == "obd" else None)
            had = int(sum(int(m.sum()) for m in masks))
            try:
                new = prune_step(c.method, ws, masks, amount, rng=rng, hessian=hessian, names=names)
            except PruningError as err:
                if on_empty == "stop" and "would lose all its weights" in str(err):
                    active.remove(i)  # as the paper's code: this network's pruning ends here
                    log.info("%s, seed %d: stopped before step %d (%s)", c.method, c.seed, number, err)
                    continue
                raise PruningError(f"{c.method}, seed {c.seed}, step {number}: {err}") from None
            with torch.no_grad():
                for w, m, n in zip(ws, masks, new):
                    m.copy_(n)
                    w.mul_(m)  # pruned weights are zero, not only hidden by the mask
            removed[i] = had - int(sum(int(m.sum()) for m in masks))
            before[i] = evaluate(c.model, prepared.test, task, retrain, device, truncate)[1]
        if not active:
            break
        config = retrain.replace(seed=step_seed(retrain.seed, number))
        results = dict(zip(active, train_models([candidates[i].model for i in active], task, config, data)))
        records: list[dict | None] = [None] * len(candidates)
        for i, result in results.items():
            left = int(sum(int(m.sum()) for m in targets[i][2]))
            records[i] = {"step": number, "removed": removed[i], "weights": left, "compression": 1 - left / totals[i],
                          "test_accuracy_before_retrain": before[i], "test_accuracy": result.test_accuracy,
                          "val_accuracy": result.val_accuracy, "retrain_epochs": result.epochs}
            history[i].append(records[i])
        if on_step is not None:
            on_step(number, records)
    return history


def prune_model(model, task, data, *, method: str, steps, retrain, seed: int = 0, total: int | None = None,
                on_step: Callable[[dict], None] | None = None, weights="all", **options) -> list[dict]:
    """Prune one trained ``model`` in ``steps`` with ``method``, retraining after each step.

    :func:`prune_models` with one :class:`Candidate`; ``on_step(record)`` gets each step's
    record, ``options`` are :func:`prune_models`'s (``hessian_batch``, ``curvature``, ``probes``).
    """
    step_hook = None if on_step is None else (lambda number, records: records[0] is not None and on_step(records[0]))
    return prune_models([Candidate(method, seed, model)], task, data, steps=steps, retrain=retrain, weights=weights,
                        total=total, on_step=step_hook, **options)[0]
