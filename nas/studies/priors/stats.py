"""The statistics of a prior study: intervals, tests between priors, seed noise, correlations.

Pure functions of arrays and tables; :mod:`nas.studies.priors.report` turns them into ``report.md``.

* **Intervals** of a mean and of the repeatabilities: BCa bootstrap over genomes, 95 %
  (:func:`predictors.intervals.bootstrap_interval` over ``scipy.stats.bootstrap``; the percentile
  interval where BCa is undefined).
* **Across priors**: Kruskal–Wallis H test (``scipy.stats.kruskal``); **pairwise**: two-sided
  Mann–Whitney U (``scipy.stats.mannwhitneyu``) with Holm's step-down correction over the pairs,
  and Cliff's δ = P(X > Y) − P(X < Y) = 2U/(n_x n_y) − 1 as the effect size.
* **Seed noise**: a genome trained with S seeds gives S accuracies. A one-way random-effects
  analysis of variance splits their variance into *between genomes* (what structure can explain)
  and *within genomes* (seed noise): with MSB and MSW its mean squares,
  repeatability ICC(1) = (MSB − MSW) / (MSB + (S − 1) MSW) is the share of a *single run's*
  variance that lies between genomes, and ICC(1, S) = (MSB − MSW) / MSB that of the *mean over S
  runs*. They are the noise ceilings: the highest R² any predictor that sees only the structure
  could reach on single-run labels (the paper's design) and on S-run means. (Shrout & Fleiss 1979.)
* **Correlations**: Pearson r with its Fisher-z interval (``scipy.stats.pearsonr``), Spearman ρ
  with the Fisher-z interval of Bonett & Wright (2000), standard error sqrt((1 + ρ²/2)/(n − 3)).
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from predictors.intervals import bootstrap_interval

__all__ = ["mean_interval", "holm", "cliffs_delta", "compare_groups", "noise_ceiling", "correlations"]

CONFIDENCE = 0.95


def mean_interval(values, seed: int = 0, n_resamples: int = 2000) -> tuple[float, float]:
    """BCa bootstrap 95 % interval of the mean; ``(mean, mean)`` for constant values, NaN below 3 values."""
    x = np.asarray(values, dtype=float)
    if x.size < 3:
        return (math.nan, math.nan)
    if np.ptp(x) == 0:
        return (float(x[0]), float(x[0]))
    low, high, _ = bootstrap_interval(lambda idx: x[idx].mean(), x.size, n_resamples=n_resamples, random_state=seed,
                                      confidence_level=CONFIDENCE)
    return float(low[0]), float(high[0])


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), in the input order.

    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def cliffs_delta(x, y, u: float | None = None) -> float:
    """P(X > Y) − P(X < Y) over all pairs, in [-1, 1] (0: no tendency): 2U / (n_x n_y) − 1 with U
    the Mann–Whitney statistic of ``x`` (pairs with x > y, ties counting half); pass ``u`` when
    it is already known."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if u is None:
        u = stats.mannwhitneyu(x, y, alternative="two-sided").statistic
    return float(2.0 * u / (x.size * y.size) - 1.0)


def compare_groups(values: dict[str, np.ndarray]) -> dict:
    """Kruskal–Wallis across groups and Holm-corrected pairwise Mann–Whitney tests.

    Parameters
    ----------
    values : dict of str to array
        Group name (prior) -> one value per genome.

    Returns
    -------
    dict
        ``{"kruskal": {"H", "p", "n"}, "pairs": DataFrame}``; the frame has one row per pair:
        ``a, b, n_a, n_b, U, p, p_holm, cliffs_delta`` (δ > 0: ``a`` tends to be higher).
        With all values identical the tests are undefined: H = 0 and p = 1.
    """
    names = list(values)
    arrays = [np.asarray(values[n], dtype=float) for n in names]
    if len(arrays) < 2 or any(a.size < 2 for a in arrays):
        raise ValueError(f"compare_groups needs at least two groups of two values, got sizes {[a.size for a in arrays]}")
    pooled = np.concatenate(arrays)
    if np.ptp(pooled) == 0:
        h, p = 0.0, 1.0
    else:
        h, p = (float(v) for v in stats.kruskal(*arrays))
    rows = []
    for (na, a), (nb, b) in itertools.combinations(zip(names, arrays), 2):
        if np.ptp(np.concatenate([a, b])) == 0:
            u, pu = a.size * b.size / 2.0, 1.0
        else:
            res = stats.mannwhitneyu(a, b, alternative="two-sided")
            u, pu = float(res.statistic), float(res.pvalue)
        rows.append({"a": na, "b": nb, "n_a": a.size, "n_b": b.size, "U": u, "p": pu,
                     "cliffs_delta": cliffs_delta(a, b, u)})
    pairs = pd.DataFrame(rows)
    pairs.insert(pairs.columns.get_loc("p") + 1, "p_holm", holm(pairs["p"]))
    return {"kruskal": {"H": h, "p": p, "n": int(pooled.size), "groups": len(arrays)}, "pairs": pairs}


def _anova(matrix: np.ndarray) -> tuple[float, float]:
    """Mean squares between and within rows of a (genomes, seeds) matrix."""
    g, s = matrix.shape
    row_means = matrix.mean(axis=1)
    msb = s * float(np.sum((row_means - matrix.mean()) ** 2)) / (g - 1)
    msw = float(np.sum((matrix - row_means[:, None]) ** 2)) / (g * (s - 1))
    return msb, msw


def _iccs(matrix: np.ndarray) -> tuple[float, float]:
    s = matrix.shape[1]
    if np.ptp(matrix) == 0:
        return (math.nan, math.nan)  # every value equal: no variance to split
    msb, msw = _anova(matrix)
    if msb <= 0:
        return (math.nan, math.nan)
    return (msb - msw) / (msb + (s - 1) * msw), (msb - msw) / msb


def noise_ceiling(matrix, seed: int = 0, n_resamples: int = 1000) -> dict:
    """Seed-to-seed noise of a (genomes × seeds) accuracy matrix and the noise ceilings of R².

    Returns
    -------
    dict
        ``genomes``, ``seeds``; ``within_sd`` (pooled standard deviation of one genome over its
        seeds, sqrt(MSW)); ``between_sd`` (of the genomes' true means, sqrt((MSB − MSW)/S),
        0 if negative); ``mean_abs_diff`` (mean |difference| between two seeds of a genome);
        ``icc1`` and ``icc_mean`` (the ceilings for single-run and S-run-mean labels, see the
        module docstring), each with a BCa bootstrap interval over genomes (``*_low``, ``*_high``).

    Raises
    ------
    ValueError
        Fewer than 3 genomes or 2 seeds, or non-finite values.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] < 3 or m.shape[1] < 2:
        raise ValueError(f"noise_ceiling needs a (genomes >= 3, seeds >= 2) matrix, got shape {m.shape}")
    if not np.isfinite(m).all():
        raise ValueError("noise_ceiling needs finite accuracies")
    g, s = m.shape
    msb, msw = _anova(m)
    icc1, icck = _iccs(m)
    pairs = [abs(m[:, i] - m[:, j]) for i, j in itertools.combinations(range(s), 2)]
    out = {"genomes": g, "seeds": s, "within_sd": math.sqrt(msw), "between_sd": math.sqrt(max(msb - msw, 0.0) / s),
           "mean_abs_diff": float(np.mean(pairs)), "icc1": icc1, "icc_mean": icck}
    if math.isfinite(icc1) and msw > 0:
        low, high, _ = bootstrap_interval(lambda idx: np.array(_iccs(m[idx])), g, n_resamples=n_resamples,
                                          random_state=seed, confidence_level=CONFIDENCE)
        out.update(icc1_low=float(low[0]), icc1_high=float(high[0]), icc_mean_low=float(low[1]),
                   icc_mean_high=float(high[1]))
    else:
        for name in ("icc1", "icc_mean"):
            out[f"{name}_low"] = out[f"{name}_high"] = math.nan
    return out


def _fisher(r: float, se: float) -> tuple[float, float]:
    z, q = math.atanh(max(min(r, 0.999999), -0.999999)), stats.norm.ppf(0.5 + CONFIDENCE / 2)
    return math.tanh(z - q * se), math.tanh(z + q * se)


def correlations(features: pd.DataFrame, y) -> pd.DataFrame:
    """Pearson and Spearman correlation of every non-constant feature with ``y``, with 95 % intervals.

    Returns
    -------
    DataFrame
        One row per feature, sorted by |Spearman ρ| (largest first): ``feature, n, pearson,
        pearson_low, pearson_high, pearson_p, spearman, spearman_low, spearman_high, spearman_p``.
        Empty when ``y`` is constant or there are fewer than 4 rows.
    """
    y = np.asarray(y, dtype=float)
    n = y.size
    rows = []
    if n >= 4 and np.ptp(y) > 0:
        for name in features.columns:
            x = features[name].to_numpy(dtype=float)
            if np.ptp(x) == 0:
                continue
            with warnings.catch_warnings():  # nearly constant features are reported, with wide intervals
                warnings.simplefilter("ignore")
                pr = stats.pearsonr(x, y)
                ci = pr.confidence_interval(CONFIDENCE)
                sr = stats.spearmanr(x, y)
            rho = float(sr.statistic)
            low, high = _fisher(rho, math.sqrt((1 + rho**2 / 2) / (n - 3))) if n > 3 else (math.nan, math.nan)
            rows.append({"feature": name, "n": n, "pearson": float(pr.statistic), "pearson_low": float(ci.low),
                         "pearson_high": float(ci.high), "pearson_p": float(pr.pvalue), "spearman": rho,
                         "spearman_low": low, "spearman_high": high, "spearman_p": float(sr.pvalue)})
    cols = ["feature", "n", "pearson", "pearson_low", "pearson_high", "pearson_p", "spearman", "spearman_low",
            "spearman_high", "spearman_p"]
    out = pd.DataFrame(rows, columns=cols)
    return out.reindex(out["spearman"].abs().sort_values(ascending=False).index).reset_index(drop=True)
