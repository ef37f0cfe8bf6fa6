"""Bootstrap confidence intervals: BCa via :func:`scipy.stats.bootstrap`, percentile as fallback.

The data resampled are *row indices* (architectures, or repeats): one index array is the single
sample, so every resample keeps each row's true value and its predictions together (paired
resampling), and any statistic of the rows can be bootstrapped without scipy knowing its parts.

BCa (bias-corrected and accelerated, Efron 1987) corrects the percentile interval for the
bootstrap distribution's bias and skew (rank metrics and R² near their bounds are skewed). It is
undefined when that distribution is degenerate (every resample gives the same value, e.g. a
precision@k of 1.0 throughout) or when some resamples give no value (a resample whose target is
constant has no R²): scipy then returns NaN. For such a statistic the interval falls back to the
2.5 / 97.5 percentiles of the finite bootstrap values — the plain percentile bootstrap — and the
method used is reported per statistic.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Callable

import numpy as np
from scipy import stats

__all__ = ["bootstrap_interval", "BOOTSTRAP_METHODS", "SCIPY_RNG_KEYWORD"]

BOOTSTRAP_METHODS = ("BCa", "percentile")

# scipy 1.15 renamed random_state to rng (SPEC 7); older versions accept a Generator as random_state.
SCIPY_RNG_KEYWORD = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"
"""The name under which ``scipy.stats.bootstrap`` takes its generator: ``rng`` from scipy 1.15,
``random_state`` before (the declared floor is 1.11)."""


def bootstrap_interval(
    statistic: Callable[[np.ndarray], np.ndarray],
    n: int,
    *,
    n_resamples: int = 1000,
    random_state: int | np.random.Generator = 0,
    confidence_level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """BCa intervals of one or more statistics of ``n`` rows, resampling the rows.

    Parameters
    ----------
    statistic : callable
        ``statistic(idx) -> array of shape (m,)`` (or a float): the statistics of the rows
        ``idx`` (an integer array, with repeats). NaN marks a statistic undefined on ``idx``.
    n : int
        Number of rows (at least 2).
    n_resamples : int
        Bootstrap resamples (``scipy.stats.bootstrap``'s ``n_resamples``; BCa also evaluates the
        ``n`` leave-one-out jackknife samples).
    random_state : int or numpy.random.Generator
        Seed of the resampling.
    confidence_level : float

    Returns
    -------
    (low, high, methods)
        Arrays of shape ``(m,)`` and, per statistic, ``"BCa"`` or ``"percentile"`` (the fallback
        where BCa is undefined). Both bounds are NaN where no resample gave a value.

    Raises
    ------
    ValueError
        ``n`` < 2 or ``n_resamples`` < 1.

    Examples
    --------
    >>> x = np.arange(20.0)
    >>> low, high, methods = bootstrap_interval(lambda idx: x[idx].mean(), 20, n_resamples=200)
    >>> bool(low[0] < 9.5 < high[0]), methods
    (True, ['BCa'])
    """
    if n < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 rows, got {n}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)

    def stat(idx):
        return np.atleast_1d(np.asarray(statistic(np.asarray(idx, dtype=np.intp)), dtype=np.float64))

    with warnings.catch_warnings():
        # degenerate or NaN statistics are expected (see the module notes) and handled below
        warnings.simplefilter("ignore")
        res = stats.bootstrap(
            (np.arange(n),),
            stat,
            n_resamples=int(n_resamples),
            vectorized=False,
            method="BCa",
            confidence_level=confidence_level,
            **{SCIPY_RNG_KEYWORD: rng},
        )
    low = np.atleast_1d(np.asarray(res.confidence_interval.low, dtype=np.float64)).copy()
    high = np.atleast_1d(np.asarray(res.confidence_interval.high, dtype=np.float64)).copy()
    draws = np.asarray(res.bootstrap_distribution, dtype=np.float64).reshape(low.size, -1)
    tail = 100 * (1 - confidence_level) / 2
    methods = []
    for j in range(low.size):
        finite = draws[j][np.isfinite(draws[j])]
        if finite.size == draws.shape[1] and np.isfinite(low[j]) and np.isfinite(high[j]):
            methods.append("BCa")
            continue
        methods.append("percentile")
        if finite.size:
            low[j], high[j] = np.percentile(finite, tail), np.percentile(finite, 100 - tail)
        else:
            low[j] = high[j] = np.nan
    return low, high, methods
