"""Pruning a trained network step by step, with retraining after every step.

:func:`prune_model` follows one schedule with one method on one trained network::

    total <- unpruned prunable weights now
    for k in schedule:
        masks <- prune_step(method, weights, masks, k)     # the k least salient go
        accuracy before retraining <- evaluate(test)
        retrain (fixed epochs, or until the validation gain is below epsilon, capped)
        record compression, weights left, accuracy before and after

Variable retraining is the training config's own early stopping: ``epochs`` = the cap,
``patience=1`` and ``min_delta`` = epsilon. Not yet here (issue 13): several seeds trained and
pruned as one population, the ``nas prune`` command and its output file.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from nas.exceptions import PruningError
from nas.pruning.saliency import hessian_diagonal, prune_step
from search_spaces.builders.masked import masked_parameters

__all__ = ["prune_model", "prunable", "fisher_diagonal"]


def prunable(model) -> tuple[list[str], list[torch.nn.Parameter], list[torch.Tensor]]:
    """Names, weights and mask buffers of ``model``'s prunable (masked) weights.

    Raises
    ------
    PruningError
        The model has no masked weights.
    """
    named = list(masked_parameters(model))
    if not named:
        raise PruningError(f"{type(model).__name__} has no masked weights to prune")
    return [n for n, _, _ in named], [w for _, w, _ in named], [m for _, _, m in named]


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


def prune_model(model, task, data, *, method: str, steps, retrain, seed: int = 0, total: int | None = None,
                on_step: Callable[[dict], None] | None = None, hessian_batch: int = 256, curvature: str = "fisher",
                probes: int = 16) -> list[dict]:
    """Prune ``model`` (trained, any network with masks) in ``steps`` and retrain after each.

    Parameters
    ----------
    model : torch.nn.Module
        Pruned and retrained in place.
    task : Task
    data : Dataset
    method : str
        One of :data:`nas.pruning.METHODS`.
    steps : sequence of int or float
        Per step, a count of weights (:func:`nas.pruning.plan_schedule`) or a share of the
        remaining ones (for ``mcu``: of each layer's remaining ones).
    retrain : TrainConfig
        Retraining after every step (``epochs=0`` is not allowed by TrainConfig: use fixed or
        variable retraining).
    seed : int
        Step ``i`` draws (``random``'s saliencies, ``obd``'s labels) from
        ``numpy.random.default_rng([seed, i])``.
    total : int, optional
        Prunable weights the compression is counted from (default: those unpruned now).
    on_step : callable, optional
        Called with each step's record as soon as the step is done (e.g. to save it).
    hessian_batch : int
        Validation examples for ``obd``'s curvature.
    curvature : {"fisher", "hutchinson"}
        ``obd``'s Hessian diagonal: the Gauss–Newton (Fisher) diagonal (:func:`fisher_diagonal`,
        positive, the default) or Hutchinson's unbiased estimate of the exact diagonal
        (:func:`nas.pruning.hessian_diagonal` with ``probes``), which is noisy on large layers.

    Returns
    -------
    list of dict
        Per step: ``step``, ``removed``, ``weights`` (prunable weights left), ``compression``,
        ``test_accuracy_before_retrain``, ``test_accuracy``, ``val_accuracy``.
    """
    from nas.device import resolve_device
    from nas.training.loop import evaluate, prepare_data, train_model

    if curvature not in ("fisher", "hutchinson"):
        raise PruningError(f"curvature must be 'fisher' or 'hutchinson', got {curvature!r}")

    device = resolve_device(retrain.device)
    model.to(device)
    names, weights, masks = prunable(model)
    if total is None:
        total = int(sum(int(m.sum()) for m in masks))
    prepared = prepare_data(data, retrain, device)
    records = []
    for number, k in enumerate(steps, 1):
        rng = np.random.default_rng([seed, number])
        hessian = None
        if method == "obd":
            batch = prepared.val.subset(slice(0, hessian_batch))
            x, y, lengths = batch.x, batch.y, batch.lengths
            generator = torch.Generator(device=device).manual_seed(int(rng.integers(2**62)))
            if curvature == "fisher":
                hessian = fisher_diagonal(model, task, x, y, lengths, weights, generator)
            else:
                hessian = hessian_diagonal(lambda: task.loss(task.forward(model, x, lengths), y, lengths), weights,
                                           probes=probes, generator=generator)
        before_step = int(sum(int(m.sum()) for m in masks))
        new = prune_step(method, weights, masks, float(k) if isinstance(k, float) else int(k), rng=rng, hessian=hessian,
                         names=names)
        with torch.no_grad():
            for w, m, n in zip(weights, masks, new):
                m.copy_(n)
                w.mul_(m)  # pruned weights are zero, not only hidden by the mask
        _, before = evaluate(model, prepared.test, task, retrain, device)
        result = train_model(model, data, task, retrain)
        left = int(sum(int(m.sum()) for m in masks))
        records.append({"step": number, "removed": before_step - left, "weights": left, "compression": 1 - left / total,
                        "test_accuracy_before_retrain": before, "test_accuracy": result.test_accuracy,
                        "val_accuracy": result.val_accuracy})
        if on_step is not None:
            on_step(records[-1])
    return records
