"""Saliencies and one pruning step over the masked weights of a network (biases are never pruned).

Methods (Stier et al. 2021, after Han et al. 2015 and LeCun et al. 1990):

``mcb``  magnitude, class-blinded: |w|, one threshold over all layers.
``mcu``  magnitude, class-uniform: |w|, a threshold per layer (every layer loses the same share).
``mcd``  magnitude, class-distributed: |w| / σ_layer (σ: standard deviation of the layer's
         remaining weights, ddof=0), one threshold over all layers.
``random`` uniform random saliency from the caller's generator, one threshold.
``obd``  Optimal Brain Damage: ½ · H_ii · w², with the Hessian diagonal H_ii of the loss
         (:func:`hessian_diagonal`), one threshold.

A step removes ``amount`` of the weights that are still unpruned — a share in (0, 1) of them, or
an exact count — those with the smallest saliency, as ``torch.nn.utils.prune`` does (its global
L1 pruning for ``mcb``, per-layer L1 pruning for ``mcu``; the tests check the masks are equal).
Counts are rounded like torch: ``round(share * remaining)``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from nas.exceptions import PruningError

__all__ = ["METHODS", "GLOBAL_METHODS", "check_method", "saliencies", "prune_step", "hessian_diagonal", "count_to_prune"]

METHODS = ("mcb", "mcu", "mcd", "random", "obd")
#: Methods with one threshold over all layers (``mcu`` has one per layer).
GLOBAL_METHODS = ("mcb", "mcd", "random", "obd")


def check_method(method: str) -> str:
    """``method`` if it is a pruning method (:data:`METHODS`); else :class:`PruningError` listing them."""
    if method not in METHODS:
        raise PruningError(f"unknown pruning method {method!r}; expected one of: {', '.join(METHODS)}")
    return method


def _check_layers(weights: Sequence[torch.Tensor], masks: Sequence[torch.Tensor]) -> None:
    if not weights or len(weights) != len(masks):
        raise PruningError(f"expected one mask per weight tensor and at least one layer, got {len(weights)} weights "
                           f"and {len(masks)} masks")
    for i, (w, m) in enumerate(zip(weights, masks)):
        if w.shape != m.shape:
            raise PruningError(f"layer {i}: mask shape {tuple(m.shape)} differs from weight shape {tuple(w.shape)}")


def saliencies(method: str, weights: Sequence[torch.Tensor], masks: Sequence[torch.Tensor], *,
               rng: np.random.Generator | None = None, hessian: Sequence[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """The saliency of every weight under ``method`` (pruned weights included; callers skip them).

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    weights, masks : sequence of Tensor
        The prunable weight tensors and their 0/1 masks (same shapes).
    rng : numpy.random.Generator
        Required by ``random``.
    hessian : sequence of Tensor
        Required by ``obd``: the loss's Hessian diagonal, one tensor per weight tensor.

    Raises
    ------
    PruningError
        An unknown method, mismatched shapes, or a missing ``rng`` / ``hessian``.
    """
    check_method(method)
    _check_layers(weights, masks)
    weights = [w.detach() for w in weights]
    if method in ("mcb", "mcu"):
        return [w.abs() for w in weights]
    if method == "mcd":
        out = []
        for w, m in zip(weights, masks):
            kept = w[m.bool()]
            sd = float(kept.std(unbiased=False)) if kept.numel() > 1 else 0.0
            out.append(w.abs() / sd if sd > 0 else w.abs())
        return out
    if method == "random":
        if rng is None:
            raise PruningError("method 'random' needs a numpy Generator (rng=) so the draw is reproducible")
        return [torch.as_tensor(rng.random(tuple(w.shape)), dtype=w.dtype, device=w.device) for w in weights]
    if hessian is None or len(hessian) != len(weights):
        raise PruningError("method 'obd' needs the Hessian diagonal of the loss, one tensor per weight tensor "
                           "(hessian_diagonal)")
    return [0.5 * h.detach().to(w.device) * w.pow(2) for h, w in zip(hessian, weights)]


def count_to_prune(amount, remaining: int) -> int:
    """Weights a step removes: ``round(amount * remaining)`` for a share, ``amount`` for a count.

    Raises
    ------
    PruningError
        A share outside (0, 1), a count below 1, or more than ``remaining``.
    """
    if isinstance(amount, bool) or not isinstance(amount, (int, float, np.integer, np.floating)):
        raise PruningError(f"amount must be a share in (0, 1) or a whole number of weights, got {amount!r}")
    if isinstance(amount, (float, np.floating)):
        if not 0 < amount < 1:
            raise PruningError(f"a pruning share must be in (0, 1) of the remaining weights, got {amount!r}")
        k = round(float(amount) * remaining)
    else:
        k = int(amount)
        if k < 1:
            raise PruningError(f"a pruning count must be at least 1 weight, got {amount!r}")
    if k > remaining:
        raise PruningError(f"cannot remove {k} weights: only {remaining} remain unpruned")
    return k


def _lowest(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``k`` smallest scores (torch.topk, as torch.nn.utils.prune)."""
    return torch.topk(scores, k=k, largest=False).indices


def prune_step(method: str, weights: Sequence[torch.Tensor], masks: Sequence[torch.Tensor], amount, *,
               rng: np.random.Generator | None = None, hessian: Sequence[torch.Tensor] | None = None,
               names: Sequence[str] | None = None) -> list[torch.Tensor]:
    """New masks after removing ``amount`` of the unpruned weights with the smallest saliency.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    weights, masks : sequence of Tensor
        Prunable weights and their current 0/1 masks; they are not changed.
    amount : float or int
        A share in (0, 1) of the unpruned weights (of each layer for ``mcu``, of all for the
        others), or a count (for ``mcu``: turned into the share it is of all unpruned weights,
        so the total removed can differ from the count by rounding in each layer).
    rng, hessian
        See :func:`saliencies`.
    names : sequence of str, optional
        Layer names for error messages.

    Returns
    -------
    list of Tensor
        New masks (float, same dtype and device as the old ones); a pruned weight stays pruned.

    Raises
    ------
    PruningError
        Bad method or amount, or a layer that would lose all its weights (the message names it).

    Examples
    --------
    >>> w = [torch.tensor([[0.1, -2.0], [0.5, 3.0]])]
    >>> prune_step("mcb", w, [torch.ones(2, 2)], 2)[0].tolist()
    [[0.0, 1.0], [0.0, 1.0]]
    """
    scores = saliencies(method, weights, masks, rng=rng, hessian=hessian)
    names = list(names) if names is not None else [f"layer {i}" for i in range(len(masks))]
    new = [m.detach().clone() for m in masks]
    if method == "mcu":
        if not isinstance(amount, (float, np.floating)):
            # a count over the network: every layer loses the same share of what it has left
            remaining = int(sum(int(m.sum()) for m in new))
            amount = count_to_prune(amount, remaining) / remaining
        for i, (s, m) in enumerate(zip(scores, new)):
            alive = m.reshape(-1).bool()
            k = round(float(amount) * int(alive.sum()))
            if k == 0:
                continue
            idx = torch.nonzero(alive).reshape(-1)[_lowest(s.reshape(-1)[alive], k)]
            m.view(-1)[idx] = 0
    else:
        flat = torch.cat([s.reshape(-1) for s in scores])
        alive = torch.cat([m.reshape(-1) for m in new]).bool()
        k = count_to_prune(amount, int(alive.sum()))
        idx = torch.nonzero(alive).reshape(-1)[_lowest(flat[alive], k)]
        cut = torch.ones_like(flat)
        cut[idx] = 0
        start = 0
        for m in new:
            size = m.numel()
            m.mul_(cut[start:start + size].view_as(m).to(m.dtype))
            start += size
    for name, old, m in zip(names, masks, new):
        if old.sum() > 0 and m.sum() == 0:
            raise PruningError(f"{name} would lose all its weights; prune less per step or use a per-layer method (mcu)")
    return new


def hessian_diagonal(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor], *, probes: int = 16,
                     generator: torch.Generator | None = None, exact: bool = False) -> list[torch.Tensor]:
    """The diagonal of the Hessian of ``loss_fn()`` with respect to ``params``.

    Hutchinson's estimator by default: E[z ⊙ (H z)] over Rademacher vectors z, one Hessian-vector
    product (a second backward pass through the gradient) per probe; it is exact when H is
    diagonal. ``exact=True`` differentiates every gradient entry separately (one backward pass per
    weight: for tests and tiny networks only).

    Parameters
    ----------
    loss_fn : callable
        Returns the scalar loss (e.g. on a validation batch), built from ``params``.
    params : sequence of Tensor
        Leaf tensors with ``requires_grad``.
    probes : int
        Rademacher probes of the estimator.
    generator : torch.Generator, optional
        Source of the probes (seed it for a reproducible estimate).

    Raises
    ------
    PruningError
        ``probes`` below 1 or a parameter without ``requires_grad``.
    """
    params = list(params)
    if any(not p.requires_grad for p in params):
        raise PruningError("hessian_diagonal needs parameters with requires_grad=True")
    if not exact and (isinstance(probes, bool) or not isinstance(probes, int) or probes < 1):
        raise PruningError(f"probes must be an integer >= 1, got {probes!r}")
    grads = torch.autograd.grad(loss_fn(), params, create_graph=True)
    if exact:
        out = []
        for p, g in zip(params, grads):
            diag = torch.zeros(p.numel(), dtype=p.dtype, device=p.device)
            flat = g.reshape(-1)
            for j in range(flat.numel()):
                (row,) = torch.autograd.grad(flat[j], p, retain_graph=True, allow_unused=True)
                diag[j] = 0.0 if row is None else row.reshape(-1)[j]
            out.append(diag.view_as(p).detach())
        return out
    total = [torch.zeros_like(p) for p in params]
    for _ in range(probes):
        zs = [(torch.randint(0, 2, p.shape, generator=generator, dtype=torch.int64).to(p.device) * 2 - 1).to(p.dtype)
              for p in params]
        hz = torch.autograd.grad(grads, params, grad_outputs=zs, retain_graph=True, allow_unused=True)
        for t, z, h in zip(total, zs, hz):
            if h is not None:
                t.add_(z * h)
    return [t.div_(probes).detach() for t in total]
