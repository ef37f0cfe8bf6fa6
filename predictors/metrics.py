"""Predictor quality metrics: accuracy of the values and of the ranking.

All take ``(y_true, y_pred)`` as 1-D arrays; rank metrics and R² are NaN where they are undefined
(fewer than two values, or a constant vector) rather than a misleading number.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

__all__ = ["METRICS", "METRIC_LABELS", "LOWER_IS_BETTER", "compute_metric", "compute_metrics", "default_k"]

METRICS = ("r2", "kendall", "spearman", "mae", "precision_at_k", "top_k_regret")
METRIC_LABELS = {
    "r2": "R²",
    "kendall": "Kendall τ",
    "spearman": "Spearman ρ",
    "mae": "MAE",
    "precision_at_k": "precision@k",
    "top_k_regret": "top-k regret",
}
LOWER_IS_BETTER = frozenset({"mae", "top_k_regret"})


def default_k(n: int) -> int:
    """The default k of precision@k: 10 % of the architectures, at least 1."""
    return max(1, int(round(0.1 * n)))


def _constant(a: np.ndarray) -> bool:
    return a.size < 2 or np.ptp(a) == 0


def _top(a: np.ndarray, k: int, maximize: bool) -> np.ndarray:
    # stable sort so ties are broken by position, the same way every time
    order = np.argsort(-a if maximize else a, kind="stable")
    return order[:k]


def compute_metric(name: str, y_true, y_pred, *, k: int = 1, maximize: bool = True) -> float:
    """One metric of predictions against the truth.

    Parameters
    ----------
    name : str
        One of :data:`METRICS`.
    y_true, y_pred : array-like of shape (n,)
    k : int
        The k of ``precision_at_k`` and ``top_k_regret`` (capped at n).
    maximize : bool
        Whether a larger target is better (accuracy) or smaller (loss), for the top-k metrics.

    Returns
    -------
    float
        NaN where the metric is undefined (e.g. a rank correlation of a constant vector).

    Examples
    --------
    >>> compute_metric("precision_at_k", [1, 2, 3, 4], [0.1, 0.2, 0.4, 0.3], k=2)
    1.0
    >>> compute_metric("top_k_regret", [1, 2, 3, 4], [0.4, 0.3, 0.2, 0.1], k=1)
    3.0
    """
    yt = np.asarray(y_true, dtype=float)
    yp = np.asarray(y_pred, dtype=float)
    if name == "mae":
        return float(np.mean(np.abs(yt - yp)))
    if name == "r2":
        if _constant(yt):
            return float("nan")
        return float(1.0 - np.sum((yt - yp) ** 2) / np.sum((yt - yt.mean()) ** 2))
    if name in ("kendall", "spearman"):
        if _constant(yt) or _constant(yp):
            return float("nan")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn = stats.kendalltau if name == "kendall" else stats.spearmanr
            return float(fn(yt, yp).statistic)
    k = max(1, min(int(k), yt.size))
    if name == "precision_at_k":
        return len(set(_top(yt, k, maximize)) & set(_top(yp, k, maximize))) / k
    if name == "top_k_regret":
        chosen = yt[_top(yp, k, maximize)]
        return float(yt.max() - chosen.max()) if maximize else float(chosen.min() - yt.min())
    raise KeyError(f"unknown metric {name!r}; expected one of {METRICS}")


def compute_metrics(y_true, y_pred, *, k: int = 1, maximize: bool = True, metrics=METRICS) -> dict[str, float]:
    """Every metric of :data:`METRICS` (or ``metrics``) as a dict."""
    return {m: compute_metric(m, y_true, y_pred, k=k, maximize=maximize) for m in metrics}
