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

__all__ = ["fit_predictor", "load_search_predictor", "predict", "gate", "kendall"]


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


def gate(mean: np.ndarray, std: np.ndarray, config: SearchConfig, kth_best: float | None, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Pick the candidates to train and the shadow sample among the rejected ones.

    Returns ``(selected, shadow)`` as sorted candidate indices. Ties in the prediction keep the
    candidates' order, so the choice is deterministic; only the shadow sample draws from ``rng``.
    """
    n = len(mean)
    order = sorted(range(n), key=lambda i: (-mean[i], i))
    if config.gate_rule == "ucb" and kth_best is not None:
        selected = [i for i in order if mean[i] + config.ucb_beta * std[i] >= kth_best] or order[:1]
    else:
        selected = order[: max(1, math.ceil(config.train_fraction * n))]
    rejected = sorted(set(range(n)) - set(selected))
    shadow: list[int] = []
    if rejected and config.shadow_fraction > 0:
        k = max(1, math.ceil(config.shadow_fraction * len(rejected)))
        shadow = sorted(int(rejected[i]) for i in rng.choice(len(rejected), size=min(k, len(rejected)), replace=False))
    return sorted(selected), shadow


def kendall(a, b) -> float | None:
    if len(a) < 3 or np.all(np.asarray(a) == a[0]) or np.all(np.asarray(b) == b[0]):
        return None

    tau = kendalltau(a, b).statistic
    return None if not np.isfinite(tau) else float(tau)
