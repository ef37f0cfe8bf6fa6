"""Is a difference between two predictors real? The corrected repeated k-fold t-test.

Why this test. The ``r × k`` per-fold differences (and the ``r`` per-repeat ones) are not
independent: every repeat reuses the same ``n`` architectures and training sets overlap by
``(k - 2) / (k - 1)``, so a plain paired t-test or a Wilcoxon signed-rank test over repeats
treats correlated values as independent evidence and gives p-values that are far too small —
more repeats would make any difference "significant". Nadeau & Bengio (2003, *Inference for the
generalization error*) correct the variance of the mean difference for that overlap; Bouckaert &
Frank (2004) apply it to repeated k-fold CV::

    t = mean(d) / sqrt((1 / (r k) + n_test / n_train) * var(d)),   df = r k - 1

with ``d`` the per-fold differences, ``var`` the sample variance and ``n_test / n_train`` the
mean test-to-training size ratio (``1 / (k - 1)`` for K-fold). It is the test with acceptable
type-I error among those they studied. Folds where a metric is undefined (NaN) are left out.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["corrected_resampled_ttest", "TEST_NAME"]

TEST_NAME = "corrected repeated k-fold t-test (Nadeau & Bengio 2003)"


def corrected_resampled_ttest(differences, test_train_ratio: float) -> tuple[float, int, float]:
    """The corrected repeated k-fold t-test (Nadeau & Bengio 2003) of per-fold differences.

    Parameters
    ----------
    differences : array-like
        Per-fold score differences of two models on the same splits (NaN entries are dropped).
    test_train_ratio : float
        Mean test-fold size over mean training-fold size (``1 / (k - 1)`` for K-fold).

    Returns
    -------
    (t, df, p_value)
        Two-sided. With no spread, ``p`` is 1 for a zero mean and 0 otherwise; with fewer than two
        folds everything is NaN.

    Examples
    --------
    >>> t, df, p = corrected_resampled_ttest([0.1, 0.2, 0.15, 0.12, 0.18], 0.25)
    >>> df, round(t, 2), p < 0.05
    (4, 5.42, True)
    """
    d = np.asarray(differences, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return float("nan"), int(max(d.size - 1, 0)), float("nan")
    mean, var = float(d.mean()), float(d.var(ddof=1))
    df = d.size - 1
    if var == 0.0:
        return (0.0 if mean == 0 else float(np.copysign(np.inf, mean))), df, (1.0 if mean == 0 else 0.0)
    t = mean / np.sqrt((1.0 / d.size + test_train_ratio) * var)
    return float(t), df, float(2 * stats.t.sf(abs(t), df))
