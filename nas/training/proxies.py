"""Zero-cost proxies: cheap scores of an untrained, masked network, used as extra predictor inputs.

Each proxy is computed on a CPU copy of the model (the model passed in is never changed), in
evaluation mode (no dropout, batch-norm running statistics untouched), so it is a deterministic
function of the model's initial weights and the batch.

Masks: a model from :mod:`search_spaces.builders` exposes ``masked_parameters()`` yielding
``(name, weight, mask)``; only unmasked entries count. Any other module counts every weight
matrix (parameters with two or more dimensions) with an all-ones mask.

* ``snip`` (Lee et al. 2019): Σ |∂L/∂w · w| over unmasked weights, on the batch.
* ``grad_norm``: ‖∂L/∂w‖₂ over unmasked weights.
* ``synflow`` (Tanaka et al. 2020): with every parameter replaced by its absolute value and the
  input by ones (for token inputs: the first sequence of the batch), R = Σ output; the score is
  Σ ∂R/∂w · w over unmasked weights. Computed in float64 to delay overflow. Raw values span
  many orders of magnitude, so ``log_synflow`` = sign(s)·log(1 + |s|) is reported too (finite
  even when no path reaches the output). Gated recurrent cells are not sign-preserving, so
  their synflow can be negative.
* ``params``: number of unmasked weights plus all biases and other parameters.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from nas.exceptions import ConfigError

__all__ = ["zero_cost_proxies", "masked_weights", "PROXY_NAMES"]

PROXY_NAMES = ("synflow", "log_synflow", "snip", "grad_norm", "params")


def masked_weights(model: nn.Module) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """``(name, weight, mask)`` for every prunable weight of ``model`` (see the module docstring)."""
    if hasattr(model, "masked_parameters"):
        return [(name, w, m.to(w.dtype)) for name, w, m in model.masked_parameters()]
    return [(name, p, torch.ones_like(p)) for name, p in model.named_parameters() if p.dim() >= 2]


def _copy(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    clone = copy.deepcopy(model).to(device="cpu", dtype=dtype)
    clone.eval()
    for p in clone.parameters():
        p.requires_grad_(True)
        p.grad = None
    return clone


def _output(out):
    # models may return (logits, state) like torch RNNs
    return out[0] if isinstance(out, (tuple, list)) else out


def _count_params(model: nn.Module) -> int:
    masked = masked_weights(model)
    masked_ids = {id(w) for _, w, _ in masked}
    total = sum(int(m.sum().item()) for _, _, m in masked)
    total += sum(p.numel() for p in model.parameters() if id(p) not in masked_ids)
    return int(total)


def _gradient_proxies(model, batch_x, batch_y, loss_fn) -> dict[str, float]:
    net = _copy(model, torch.float32)
    x = batch_x.to("cpu")
    if x.is_floating_point():
        x = x.float()
    loss = loss_fn(_output(net(x)), batch_y.to("cpu"))
    if not torch.isfinite(loss):
        raise ConfigError(f"zero-cost proxies need a finite loss on the batch, got {loss.item()}")
    loss.backward()
    snip, sq = 0.0, 0.0
    for _, w, m in masked_weights(net):
        g = w.grad if w.grad is not None else torch.zeros_like(w)
        snip += float((g * w * m).detach().abs().sum())
        sq += float(((g * m).detach() ** 2).sum())
    return {"snip": snip, "grad_norm": math.sqrt(sq)}


def _synflow(model, batch_x) -> float:
    net = _copy(model, torch.float64)
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    x = batch_x[:1].to("cpu")
    x = torch.ones_like(x, dtype=torch.float64) if x.is_floating_point() else x
    out = _output(net(x))
    out.double().sum().backward()
    score = 0.0
    for _, w, m in masked_weights(net):
        if w.grad is not None:
            score += float((w.grad * w * m).detach().sum())
    return score


def zero_cost_proxies(model: nn.Module, batch_x: torch.Tensor, batch_y: torch.Tensor, loss_fn) -> dict[str, float]:
    """Zero-cost proxies of an untrained masked network on one batch.

    Parameters
    ----------
    model : nn.Module
        The untrained network (not modified; a CPU copy is scored).
    batch_x : Tensor
        Inputs of one batch (float features/images, or int64 token indices).
    batch_y : Tensor
        Targets of the batch for ``loss_fn``.
    loss_fn : callable
        ``loss_fn(output, batch_y) -> scalar tensor``, e.g. ``nn.CrossEntropyLoss()``.

    Returns
    -------
    dict
        ``synflow``, ``log_synflow``, ``snip``, ``grad_norm``, ``params`` (floats).

    Raises
    ------
    ConfigError
        An empty batch, a model without weights, or a non-finite loss.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = torch.randn(8, 4, generator=g), torch.randint(0, 2, (8,), generator=g)
    >>> sorted(zero_cost_proxies(net, x, y, nn.CrossEntropyLoss()))
    ['grad_norm', 'log_synflow', 'params', 'snip', 'synflow']
    """
    if batch_x.shape[0] == 0:
        raise ConfigError(f"zero-cost proxies need a non-empty batch, got shape {tuple(batch_x.shape)}")
    if not masked_weights(model):
        raise ConfigError(f"{type(model).__name__} has no weight matrices to score")
    out = _gradient_proxies(model, batch_x, batch_y, loss_fn)
    syn = _synflow(model, batch_x)
    out["synflow"] = syn
    out["log_synflow"] = math.copysign(math.log1p(abs(syn)), syn)
    out["params"] = float(_count_params(model))
    return {k: out[k] for k in PROXY_NAMES}
