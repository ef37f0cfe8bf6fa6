"""Predictor gating: fit the structure-to-performance predictor, predict candidates, choose whom to train."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy.stats import kendalltau
from sklearn.base import clone

from nas.exceptions import ConfigError
from nas.search.config import SearchConfig
from predictors import load_predictor
from predictors.models import make_predictor
from predictors.uncertainty import predict_with_uncertainty
from search_spaces.genome import Genome

__all__ = ["fit_predictor", "load_search_predictor", "predict", "gate", "gate_costs", "cost_order", "kendall"]


def fit_predictor(config: SearchConfig, genomes: Sequence[Genome], y: Sequence[float], random_state: int, template=None):
    """Fit the configured predictor on all evaluations so far (a scikit-learn pipeline).

    With ``template`` (a loaded predictor), an unfitted clone of it is fitted instead, so tuned
    hyperparameters carry over.
    """
    if template is not None:
        pipeline = clone(template)
    else:
        pipeline = make_predictor(model=config.predictor_model, group=config.predictor_group, random_state=random_state)
    return pipeline.fit(list(genomes), np.asarray(y, dtype=float))


def load_search_predictor(path: str):
    """Load a saved predictor for gating; it must need nothing but the genome.

    Raises
    ------
    PredictorFileError
        Unreadable, untrusted or made for another feature set (see :func:`predictors.load_predictor`).
    ConfigError
        It needs extra feature columns (e.g. zero-cost proxies) that a search does not compute.
    """
    pipeline = load_predictor(path)
    extra = tuple(getattr(pipeline.steps[0][1], "extra_columns", ()) or ())
    if extra:
        raise ConfigError(
            f"predictor file {path!r} needs the extra feature columns {list(extra)}; a search can only give "
            "graph features (fit it without --extra-features)"
        )
    return pipeline


def predict(pipeline, genomes: Sequence[Genome]) -> tuple[np.ndarray, np.ndarray]:
    mean, std = predict_with_uncertainty(pipeline, list(genomes))
    return np.asarray(mean, dtype=float), np.asarray(std, dtype=float)


def gate(mean: np.ndarray, std: np.ndarray, config: SearchConfig, kth_best: float | None, rng: np.random.Generator,
         costs: Sequence[float] | None = None) -> tuple[list[int], list[int]]:
    """Pick the candidates to train and the shadow sample among the rejected ones.

    Rules (``config.gate_rule``): ``top`` trains the ``train_fraction`` share with the best
    predicted mean; ``ucb`` every candidate whose mean + ``ucb_beta`` × std reaches ``kth_best``
    (at least one); ``cost`` the ``train_fraction`` share first in :func:`cost_order` (predicted
    gain per predicted training cost ``costs``, one per candidate; None: equal costs).

    Returns ``(selected, shadow)`` as sorted candidate indices. Ties in the prediction keep the
    candidates' order, so the choice is deterministic; only the shadow sample draws from ``rng``.
    """
    n = len(mean)
    order = sorted(range(n), key=lambda i: (-mean[i], i))
    share = max(1, math.ceil(config.train_fraction * n))
    if config.gate_rule == "ucb" and kth_best is not None:
        selected = [i for i in order if mean[i] + config.ucb_beta * std[i] >= kth_best] or order[:1]
    elif config.gate_rule == "cost":
        selected = cost_order(mean, std, costs, kth_best, config.ucb_beta)[:share]
    else:
        selected = order[:share]
    rejected = sorted(set(range(n)) - set(selected))
    shadow: list[int] = []
    if rejected and config.shadow_fraction > 0:
        k = max(1, math.ceil(config.shadow_fraction * len(rejected)))
        shadow = sorted(int(rejected[i]) for i in rng.choice(len(rejected), size=min(k, len(rejected)), replace=False))
    return sorted(selected), shadow


def gate_costs(config: SearchConfig, trainer, candidates: Sequence[Genome]) -> list[float] | None:
    """The predicted training costs the ``cost`` rule weighs (:meth:`nas.search.evaluator.Trainer.training_cost`);
    None for the other rules, and for a trainer that cannot predict them (equal costs)."""
    if config.gate_rule != "cost" or not hasattr(trainer, "training_cost"):
        return None
    return list(trainer.training_cost(list(candidates)))


def cost_order(mean, std, costs, kth_best: float | None, beta: float) -> list[int]:
    """Candidates by predicted accuracy gain per predicted training cost, best first.

    The gain is optimistic, as in UCB: ``mean + beta * std - kth_best`` (``kth_best``: the
    ``survivors``-th best value measured so far; with nothing measured, the lowest optimistic
    value among the candidates). Candidates with a positive gain come first, by gain / cost;
    then the others (no predicted gain, so the ratio says nothing) by their optimistic value, the
    cheaper first on ties. ``costs`` None means equal costs; a cost of 0 ranks a candidate with
    a gain first, an infinite or NaN cost (an unbuildable candidate) last among those with a
    gain. Ties keep the candidates' order.

    Examples
    --------
    >>> cost_order([0.6, 0.6, 0.7], [0, 0, 0], [2.0, 1.0, 1.0], 0.5, beta=1.0)  # gains .1 .1 .2
    [2, 1, 0]
    """
    mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    n = len(mean)
    cost = np.ones(n) if costs is None else np.asarray(costs, dtype=float)
    cost = np.where(np.isnan(cost), np.inf, np.maximum(cost, np.finfo(float).tiny))
    optimistic = mean + beta * std
    reference = float(np.min(optimistic)) if kth_best is None else float(kth_best)
    gain = optimistic - reference
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(np.isinf(cost), 0.0, gain / cost)
    ahead = sorted((i for i in range(n) if gain[i] > 0), key=lambda i: (-ratio[i], i))
    rest = sorted((i for i in range(n) if not gain[i] > 0), key=lambda i: (-optimistic[i], cost[i], i))
    return ahead + rest


def kendall(a, b) -> float | None:
    if len(a) < 3 or np.all(np.asarray(a) == a[0]) or np.all(np.asarray(b) == b[0]):
        return None

    tau = kendalltau(a, b).statistic
    return None if not np.isfinite(tau) else float(tau)
