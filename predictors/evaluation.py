"""Honest evaluation of predictors: repeated cross-validation with bootstrap intervals.

How the numbers are made (the same in :func:`evaluate`, :func:`predictors.tune` and the CLI):

* **Features once.** :class:`~predictors.features.GraphFeatures` learns nothing from the data,
  so a pipeline that starts with it is split: the feature matrix is computed once for all
  architectures and the rest of the pipeline (scaler, regressor) is cloned and fitted inside
  each fold. No information crosses from test to training folds.
* **Repeated K-fold** (default 10 × 5): every repeat predicts each architecture once, out of
  fold. A metric's *mean* is the metric of the out-of-fold predictions of a repeat, averaged over
  repeats; precision@k and top-k regret thus rank all ``n`` architectures at once.
* **95 % interval**: percentile bootstrap over architectures — resample the ``n`` architectures
  with replacement, recompute the repeat-averaged metric, take the 2.5 / 97.5 percentiles.
* **Per-fold values** (metric on each test fold) are kept as well and summarised as mean ± std.
* **Grouped** (``groups=``, e.g. the prior or the task): leave-one-group-out — train on all other
  groups, test on one; the per-fold values are then per held-out group.
* Unset ``random_state`` parameters of the pipeline are seeded from ``random_state``, so a call
  is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.inspection import permutation_importance as _sk_permutation_importance
from sklearn.model_selection import KFold, RepeatedKFold, ShuffleSplit
from sklearn.pipeline import Pipeline

from predictors.exceptions import EvaluationDataError
from predictors.features import GraphFeatures, as_architectures
from predictors.metrics import LOWER_IS_BETTER, METRIC_LABELS, METRICS, compute_metric, default_k

__all__ = [
    "EvaluationReport",
    "LearningCurve",
    "evaluate",
    "learning_curve",
    "permutation_importance",
    "prepare",
    "check_target",
    "DEFAULT_SIZES",
]

DEFAULT_SIZES = (25, 50, 100, 200, 400)


# --- inputs --------------------------------------------------------------------------------


def check_target(y, n: int | None = None, name: str = "target") -> np.ndarray:
    """``y`` as a finite, non-constant float vector of length ``n``.

    Raises
    ------
    EvaluationDataError
        Wrong length, non-numeric, NaN/inf or constant values; the message shows them.
    """
    try:
        arr = np.asarray(y, dtype=np.float64).ravel()
    except (TypeError, ValueError) as err:
        raise EvaluationDataError(f"{name} must be numeric: {err}") from None
    if n is not None and arr.size != n:
        raise EvaluationDataError(f"{name} has {arr.size} values but there are {n} architectures")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        shown = ", ".join(f"row {i}: {arr[i]}" for i in bad[:5])
        raise EvaluationDataError(f"{name} must be finite; got {bad.size} NaN/inf values ({shown})")
    if arr.size and np.ptp(arr) == 0:
        raise EvaluationDataError(f"{name} is constant (every value is {float(arr[0])!r}); nothing to predict")
    return arr


def _seed_unset(estimator, seed: int):
    """Give every unset ``random_state`` parameter a seed derived from ``seed`` (reproducible CV)."""
    params = estimator.get_params(deep=True)
    keys = sorted(k for k, v in params.items() if (k == "random_state" or k.endswith("__random_state")) and v is None)
    if keys:
        seeds = np.random.SeedSequence(seed).generate_state(len(keys))
        estimator.set_params(**{k: int(s) for k, s in zip(keys, seeds)})
    return estimator


def prepare(pipeline, X, random_state: int = 0):
    """Split off the feature step: ``(feature matrix or X, the rest of the pipeline, names)``.

    The returned estimator is an unfitted clone with unset seeds filled in from ``random_state``.
    """
    if isinstance(pipeline, str):
        from predictors.models import make_predictor

        pipeline = make_predictor(pipeline)
    est = clone(pipeline)
    if isinstance(est, Pipeline) and isinstance(est.steps[0][1], GraphFeatures) and len(est.steps) > 1:
        feats = est.steps[0][1].fit(X)
        Xf = feats.transform(X)
        rest = Pipeline(est.steps[1:])
        return Xf, _seed_unset(rest, random_state), [str(n) for n in feats.get_feature_names_out()]
    if isinstance(X, pd.DataFrame):
        Xa = X
    else:
        Xa = np.asarray(X) if not isinstance(X, list) else np.asarray(as_architectures(X), dtype=object)
    names = None
    if isinstance(Xa, np.ndarray) and Xa.ndim == 2 and Xa.dtype != object:
        names = [f"x{i}" for i in range(Xa.shape[1])]
    return Xa, _seed_unset(est, random_state), names


def _take(X, idx):
    return X.iloc[idx] if isinstance(X, pd.DataFrame) else X[idx]


def _n_rows(X) -> int:
    return len(X)


# --- the report ----------------------------------------------------------------------------


def _clean(x):
    return None if x is None or (isinstance(x, float) and not np.isfinite(x)) else x


@dataclass
class EvaluationReport:
    """Cross-validated quality of a predictor.

    Attributes
    ----------
    mean, low, high : dict[str, float]
        Per metric: the repeat-averaged out-of-fold value and its 95 % bootstrap interval.
    fold_values : dict[str, ndarray]
        Per metric: the value on each test fold (per held-out group when grouped).
    n_architectures : int
    folds, repeats, k : int
    maximize : bool
    fold_labels : list
        A label per fold: ``"repeat r / fold f"`` or the held-out group.
    oof_predictions : ndarray, shape (repeats, n)
    y : ndarray, shape (n,)
    description : str
        Free text for the table header (model, target, data).
    """

    mean: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]
    fold_values: dict[str, np.ndarray]
    n_architectures: int
    folds: int
    repeats: int
    k: int
    maximize: bool = True
    grouped: bool = False
    fold_labels: list = field(default_factory=list)
    oof_predictions: np.ndarray | None = None
    y: np.ndarray | None = None
    n_bootstrap: int = 0
    description: str = ""

    def to_dict(self) -> dict:
        """A JSON-ready summary: metric → mean, interval, per-fold mean/std and values (NaN → null)."""
        metrics = {}
        for m in self.mean:
            fv = np.asarray(self.fold_values[m], dtype=float)
            metrics[m] = {
                "mean": _clean(float(self.mean[m])),
                "ci_low": _clean(float(self.low[m])),
                "ci_high": _clean(float(self.high[m])),
                "fold_mean": _clean(float(np.nanmean(fv))) if np.isfinite(fv).any() else None,
                "fold_std": _clean(float(np.nanstd(fv))) if np.isfinite(fv).any() else None,
                "fold_values": [_clean(float(v)) for v in fv],
            }
        return {
            "description": self.description,
            "n_architectures": self.n_architectures,
            "folds": self.folds,
            "repeats": self.repeats,
            "grouped": self.grouped,
            "k": self.k,
            "maximize": self.maximize,
            "n_bootstrap": self.n_bootstrap,
            "fold_labels": [str(x) for x in self.fold_labels],
            "metrics": metrics,
        }

    def to_table(self) -> str:
        """The report as a fixed-width text table."""
        scheme = (
            f"leave-one-group-out over {self.folds} groups"
            if self.grouped
            else f"{self.repeats}×{self.folds}-fold CV"
        )
        lines = []
        if self.description:
            lines.append(self.description)
        lines.append(f"{self.n_architectures} architectures, {scheme}, k={self.k}, 95% CI: bootstrap over architectures (B={self.n_bootstrap})")
        lines.append(f"{'metric':<17}{'mean':>9}  {'95% CI':<20}{'per fold':>18}")
        for m in self.mean:
            fv = np.asarray(self.fold_values[m], dtype=float)
            fold = f"{np.nanmean(fv):.3f} ± {np.nanstd(fv):.3f}" if np.isfinite(fv).any() else "n/a"
            ci = f"[{self.low[m]:.3f}, {self.high[m]:.3f}]"
            label = METRIC_LABELS.get(m, m) + (" (↓)" if m in LOWER_IS_BETTER else "")
            lines.append(f"{label:<17}{self.mean[m]:>9.3f}  {ci:<20}{fold:>18}")
        if self.grouped:
            lines.append("per held-out group (R², Kendall τ): " + "; ".join(
                f"{g}: {self.fold_values['r2'][i]:.3f}, {self.fold_values['kendall'][i]:.3f}"
                for i, g in enumerate(self.fold_labels)
            ))
        return "\n".join(lines)


def _bootstrap(y, oof, metrics, k, maximize, n_bootstrap, rng) -> dict[str, tuple[float, float]]:
    n = y.size
    values = {m: np.full(n_bootstrap, np.nan) for m in metrics}
    for b in range(n_bootstrap):
        idx = rng.integers(0, n, n)
        yb = y[idx]
        for m in metrics:
            vals = [compute_metric(m, yb, row[idx], k=k, maximize=maximize) for row in oof]
            vals = [v for v in vals if np.isfinite(v)]
            if vals:
                values[m][b] = np.mean(vals)
    out = {}
    for m, v in values.items():
        v = v[np.isfinite(v)]
        out[m] = (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) if v.size else (np.nan, np.nan)
    return out


def evaluate(
    pipeline,
    genomes,
    y,
    *,
    folds: int = 5,
    repeats: int = 10,
    random_state: int = 0,
    groups: Sequence | None = None,
    k: int | None = None,
    maximize: bool = True,
    n_bootstrap: int = 1000,
    metrics: Sequence[str] = METRICS,
    description: str = "",
) -> EvaluationReport:
    """Repeated (or grouped) cross-validation of a predictor, with bootstrap intervals.

    Parameters
    ----------
    pipeline : Pipeline, estimator or str
        Unfitted predictor (e.g. :func:`predictors.make_predictor`), or a registered model name.
    genomes : sequence or DataFrame
        Architectures (Genomes, LayeredDAGs, genome JSON, or a DataFrame with a ``genome`` column).
    y : array-like of shape (n,)
        The measured metric (e.g. test accuracy).
    folds, repeats : int
        K of K-fold and how many times it is repeated with new shuffles (default 10 × 5).
    random_state : int
        Seeds the splits, the bootstrap and any unset model seed.
    groups : sequence, optional
        A group label per architecture (prior, task); switches to leave-one-group-out.
    k : int, optional
        k of precision@k and top-k regret; default 10 % of the architectures.
    maximize : bool
        Larger target is better (accuracy); False for losses.
    n_bootstrap : int
        Bootstrap resamples for the intervals (0 disables them: intervals are NaN).

    Returns
    -------
    EvaluationReport

    Raises
    ------
    EvaluationDataError
        Fewer architectures than folds, a target of the wrong length, constant or with NaN/inf,
        fewer than two groups, or features that are NaN/inf.
    """
    n = _n_rows(genomes)
    if n == 0:
        raise EvaluationDataError("expected evaluation data with at least one architecture, got none")
    y = check_target(y, n)
    if not isinstance(folds, (int, np.integer)) or folds < 2:
        raise EvaluationDataError(f"folds must be an integer >= 2, got {folds!r}")
    if not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise EvaluationDataError(f"repeats must be an integer >= 1, got {repeats!r}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise EvaluationDataError(f"unknown metrics {unknown}; expected some of {list(METRICS)}")
    X, est, _ = prepare(pipeline, genomes, random_state)
    k = default_k(n) if k is None else int(k)
    if not 1 <= k <= n:
        raise EvaluationDataError(f"k must be in [1, {n}] (the number of architectures), got {k}")

    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise EvaluationDataError(f"groups must have one label per architecture ({n}), got shape {groups.shape}")
        labels = list(pd.unique(groups))
        if len(labels) < 2:
            raise EvaluationDataError(f"grouped CV needs at least 2 groups, got {labels}")
        splits = [(np.flatnonzero(groups != g), np.flatnonzero(groups == g)) for g in labels]
        n_rep, fold_labels, n_folds = 1, labels, len(labels)
    else:
        if n < folds:
            raise EvaluationDataError(f"{folds}-fold CV needs at least {folds} architectures, got {n}")
        splits = list(RepeatedKFold(n_splits=folds, n_repeats=repeats, random_state=random_state).split(np.zeros(n)))
        n_rep, n_folds = repeats, folds
        fold_labels = [f"repeat {r} / fold {f}" for r in range(repeats) for f in range(folds)]

    oof = np.full((n_rep, n), np.nan)
    fold_values = {m: np.full(len(splits), np.nan) for m in metrics}
    for i, (train, test) in enumerate(splits):
        model = clone(est).fit(_take(X, train), y[train])
        pred = np.asarray(model.predict(_take(X, test)), dtype=float)
        oof[i // n_folds, test] = pred
        k_fold = max(1, int(round(k * test.size / n)))
        for m in metrics:
            fold_values[m][i] = compute_metric(m, y[test], pred, k=k_fold, maximize=maximize)

    mean = {}
    for m in metrics:
        vals = np.array([compute_metric(m, y, row, k=k, maximize=maximize) for row in oof])
        mean[m] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
    if n_bootstrap > 0:
        ci = _bootstrap(y, oof, metrics, k, maximize, n_bootstrap, np.random.default_rng(random_state))
    else:
        ci = {m: (float("nan"), float("nan")) for m in metrics}
    return EvaluationReport(
        mean=mean,
        low={m: ci[m][0] for m in metrics},
        high={m: ci[m][1] for m in metrics},
        fold_values=fold_values,
        n_architectures=n,
        folds=n_folds,
        repeats=n_rep,
        k=k,
        maximize=maximize,
        grouped=groups is not None,
        fold_labels=fold_labels,
        oof_predictions=oof,
        y=y,
        n_bootstrap=int(n_bootstrap),
        description=description,
    )


# --- learning curves -----------------------------------------------------------------------


@dataclass
class LearningCurve:
    """A metric against the number of training architectures.

    Attributes
    ----------
    sizes : list of int
        Training-set sizes used (requested sizes that fit, then the whole training pool).
    values : dict[str, ndarray]
        Per metric, shape ``(len(sizes), repeats)``: the metric on the held-out architectures.
    n_test : int
        Held-out architectures per repeat.
    skipped_sizes : list of int
        Requested sizes larger than the training pool.
    """

    sizes: list
    values: dict
    n_test: int
    repeats: int
    skipped_sizes: list = field(default_factory=list)

    def mean(self, metric: str) -> np.ndarray:
        return np.nanmean(self.values[metric], axis=1)

    def std(self, metric: str) -> np.ndarray:
        return np.nanstd(self.values[metric], axis=1)

    def to_dict(self) -> dict:
        return {
            "sizes": list(self.sizes),
            "n_test": self.n_test,
            "repeats": self.repeats,
            "skipped_sizes": list(self.skipped_sizes),
            "metrics": {
                m: {"mean": [_clean(float(v)) for v in self.mean(m)], "std": [_clean(float(v)) for v in self.std(m)]}
                for m in self.values
            },
        }


def learning_curve(
    pipeline,
    genomes,
    y,
    *,
    sizes: Sequence[int] = DEFAULT_SIZES,
    test_fraction: float = 0.2,
    repeats: int = 5,
    random_state: int = 0,
    metrics: Sequence[str] = ("r2", "kendall"),
    min_size: int = 5,
) -> LearningCurve:
    """How the predictor improves with more training architectures.

    Each repeat holds out ``test_fraction`` of the architectures (seeded shuffle) and trains on
    random subsets of the rest of each size. Sizes larger than the pool are skipped and listed;
    the whole pool is always the last point.

    Raises
    ------
    EvaluationDataError
        Too few architectures for a test set of two and a training set of ``min_size``.
    """
    n = _n_rows(genomes)
    y = check_target(y, n)
    if not 0 < test_fraction < 1:
        raise EvaluationDataError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n_test = max(2, int(round(test_fraction * n)))
    pool = n - n_test
    if pool < min_size:
        raise EvaluationDataError(f"a learning curve needs at least {min_size + 2} architectures, got {n}")
    used = sorted({int(s) for s in sizes if min_size <= s < pool}) + [pool]
    skipped = sorted(int(s) for s in sizes if s > pool)
    X, est, _ = prepare(pipeline, genomes, random_state)
    rng = np.random.default_rng(random_state)
    splitter = ShuffleSplit(n_splits=repeats, test_size=n_test, random_state=random_state)
    values = {m: np.full((len(used), repeats), np.nan) for m in metrics}
    for r, (train_pool, test) in enumerate(splitter.split(np.zeros(n))):
        for i, size in enumerate(used):
            train = rng.choice(train_pool, size=size, replace=False)
            if np.ptp(y[train]) == 0:
                continue  # a constant training target teaches nothing; leave NaN
            pred = clone(est).fit(_take(X, train), y[train]).predict(_take(X, test))
            for m in metrics:
                values[m][i, r] = compute_metric(m, y[test], pred, k=default_k(n_test))
    return LearningCurve(sizes=used, values=values, n_test=n_test, repeats=repeats, skipped_sizes=skipped)


# --- permutation importance ----------------------------------------------------------------


def permutation_importance(
    pipeline,
    genomes,
    y,
    *,
    folds: int = 5,
    n_repeats: int = 5,
    random_state: int = 0,
    scoring: str = "r2",
) -> pd.DataFrame:
    """Permutation feature importance on held-out folds.

    For each of ``folds`` folds the pipeline is fitted on the training part; each feature of the
    test part is shuffled ``n_repeats`` times and the drop of ``scoring`` recorded.

    Returns
    -------
    DataFrame
        Columns ``feature``, ``importance_mean``, ``importance_std``, sorted by decreasing mean.

    Raises
    ------
    EvaluationDataError
        Fewer architectures than folds, or a bad target.
    """
    n = _n_rows(genomes)
    y = check_target(y, n)
    if n < folds or folds < 2:
        raise EvaluationDataError(f"{folds}-fold permutation importance needs at least {max(folds, 2)} architectures, got {n}")
    X, est, names = prepare(pipeline, genomes, random_state)
    if names is None:
        raise EvaluationDataError("permutation importance needs a pipeline starting with GraphFeatures or a numeric matrix")
    chunks = []
    kf = KFold(n_splits=folds, shuffle=True, random_state=random_state)
    for i, (train, test) in enumerate(kf.split(np.zeros(n))):
        model = clone(est).fit(_take(X, train), y[train])
        result = _sk_permutation_importance(
            model, _take(X, test), y[test], n_repeats=n_repeats, random_state=random_state + i, scoring=scoring
        )
        chunks.append(result.importances)
    imp = np.concatenate(chunks, axis=1)
    df = pd.DataFrame({"feature": names, "importance_mean": imp.mean(axis=1), "importance_std": imp.std(axis=1)})
    return df.sort_values("importance_mean", ascending=False, kind="stable").reset_index(drop=True)
