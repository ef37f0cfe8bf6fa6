"""Honest evaluation of predictors: repeated cross-validation with BCa bootstrap intervals.

How the numbers are made (the same in :func:`evaluate`, :func:`predictors.tune`,
:func:`predictors.compare_predictors` and the CLI):

* **Features once.** :class:`~predictors.features.GraphFeatures` learns nothing from the data,
  so a pipeline that starts with it is split: the feature matrix is computed once for all
  architectures and the rest of the pipeline (scaler, regressor) is cloned and fitted inside
  each fold. No information crosses from test to training folds.
* **Repeated K-fold** (default 10 × 5): every repeat predicts each architecture once, out of
  fold. A metric's *mean* is the metric of the out-of-fold predictions of a repeat, averaged over
  repeats; precision@k and top-k regret thus rank all ``n`` architectures at once.
* **95 % interval**: BCa bootstrap over architectures (:func:`scipy.stats.bootstrap`,
  ``method="BCa"``, through :func:`predictors.intervals.bootstrap_interval`): resample the ``n``
  architectures with replacement (their true values and out-of-fold predictions together) and
  recompute the repeat-averaged metric. Where BCa is undefined — a degenerate bootstrap
  distribution (e.g. precision@k 1.0 in every resample) or resamples without a value — the
  metric's interval is the plain percentile bootstrap (2.5 / 97.5 percentiles of the finite
  resampled values).
* **Per-fold values** (metric on each test fold) are kept as well and summarised as mean ± std.
* **Grouped** (``groups=``, e.g. the prior, the task, or the family of relatives an architecture
  descends from), two schemes (``cv=``):

  - ``"logo"`` (the default with ``groups``): leave-one-group-out — train on all other groups,
    test on one; the per-fold values are then per held-out group (transfer to an unseen prior);
  - ``"group_kfold"``: repeated grouped K-fold (:func:`group_kfold_splits`) — whole groups are
    dealt to ``folds`` folds, reshuffled every repeat, so relatives are never split across
    training and test and the score is not flattered by near-copies of test architectures in
    the training folds.
* Unset ``random_state`` parameters of the pipeline are seeded from ``random_state``, so a call
  is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.inspection import permutation_importance as _sk_permutation_importance
from sklearn.model_selection import KFold, RepeatedKFold, ShuffleSplit
from sklearn.pipeline import Pipeline

from predictors.exceptions import EvaluationDataError
from predictors.features import GraphFeatures, as_architectures
from predictors.intervals import bootstrap_interval
from predictors.metrics import (
    LOWER_IS_BETTER,
    METRIC_LABELS,
    METRICS,
    compute_metric,
    default_k,
)
from predictors.models import make_predictor

__all__ = [
    "EvaluationReport",
    "LearningCurve",
    "evaluate",
    "cv_splits",
    "run_cv",
    "repeat_averaged",
    "CVSplits",
    "group_kfold_splits",
    "CV_SCHEMES",
    "learning_curve",
    "permutation_importance",
    "prepare",
    "seed_unset",
    "take_rows",
    "check_target",
    "DEFAULT_SIZES",
]

DEFAULT_SIZES = (25, 50, 100, 200, 400)
#: Cross-validation schemes of :func:`evaluate` (``cv=``): plain repeated K-fold, repeated
#: K-fold over whole groups, leave-one-group-out.
CV_SCHEMES = ("kfold", "group_kfold", "logo")


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


def seed_unset(estimator, seed: int):
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
        pipeline = make_predictor(pipeline)
    est = clone(pipeline)
    if isinstance(est, Pipeline) and isinstance(est.steps[0][1], GraphFeatures) and len(est.steps) > 1:
        feats = est.steps[0][1].fit(X)
        Xf = feats.transform(X)
        rest = Pipeline(est.steps[1:])
        return Xf, seed_unset(rest, random_state), [str(n) for n in feats.get_feature_names_out()]
    if isinstance(X, pd.DataFrame):
        Xa = X
    else:
        Xa = np.asarray(X) if not isinstance(X, list) else np.asarray(as_architectures(X), dtype=object)
    names = None
    if isinstance(Xa, np.ndarray) and Xa.ndim == 2 and Xa.dtype != object:
        names = [f"x{i}" for i in range(Xa.shape[1])]
    return Xa, seed_unset(est, random_state), names


class CVSplits(NamedTuple):
    """The (train, test) index pairs of a cross-validation, in order, and how to read them."""

    splits: list
    repeats: int  # rows of out-of-fold predictions: each repeat tests every architecture once
    folds: int  # splits per repeat
    labels: list  # one per split: "repeat r / fold f", or the held-out group
    scheme: str  # one of CV_SCHEMES


def group_kfold_splits(groups, folds: int = 5, repeats: int = 1, random_state: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Repeated K-fold over whole groups: ``repeats × folds`` (train, test) index pairs.

    Each repeat deals the distinct groups, in an order shuffled by
    ``numpy.random.default_rng(random_state)``, one at a time to the fold that holds the fewest
    architectures so far (ties: the lowest fold), so folds are about equal in size and differ
    between repeats. Every architecture is tested exactly once per repeat, and no group is ever on
    both sides of a split. (scikit-learn's ``GroupKFold`` shuffles only from version 1.6 on and
    then balances group counts, not sizes; this works with every supported version.)

    Parameters
    ----------
    groups : sequence of hashable, shape (n,)
        A label per architecture; architectures with equal labels (relatives) stay together.
    folds, repeats : int
    random_state : int

    Returns
    -------
    list of (ndarray, ndarray)
        Repeat by repeat, fold by fold.

    Raises
    ------
    EvaluationDataError
        Missing labels, or fewer distinct groups than folds.

    Examples
    --------
    >>> groups = ["a", "a", "b", "c", "c", "d"]
    >>> splits = group_kfold_splits(groups, folds=2, repeats=3, random_state=0)
    >>> len(splits), sorted(np.concatenate([test for _, test in splits[:2]]).tolist())
    (6, [0, 1, 2, 3, 4, 5])
    >>> any({groups[i] for i in train} & {groups[i] for i in test} for train, test in splits)
    False
    """
    codes, uniques = pd.factorize(pd.Series(list(groups), dtype=object))
    if (codes < 0).any():
        raise EvaluationDataError(f"groups must not be missing; rows {np.flatnonzero(codes < 0)[:5].tolist()} have no label")
    if len(uniques) < folds:
        raise EvaluationDataError(f"{folds}-fold grouped CV needs at least {folds} distinct groups, got {len(uniques)}")
    sizes = np.bincount(codes)
    rng = np.random.default_rng(random_state)
    out = []
    for _ in range(repeats):
        load = np.zeros(folds, dtype=np.int64)
        fold_of = np.empty(len(uniques), dtype=np.int64)
        for g in rng.permutation(len(uniques)):
            f = int(np.argmin(load))
            fold_of[g] = f
            load[f] += sizes[g]
        row_fold = fold_of[codes]
        out.extend((np.flatnonzero(row_fold != f), np.flatnonzero(row_fold == f)) for f in range(folds))
    return out


def cv_splits(
    n: int,
    *,
    folds: int = 5,
    repeats: int = 10,
    random_state: int = 0,
    groups: Sequence | None = None,
    cv: str | None = None,
) -> CVSplits:
    """The splits of :func:`evaluate` for ``n`` architectures (also used by the comparison and nested CV).

    Parameters
    ----------
    n : int
    folds, repeats, random_state : int
        As in :func:`evaluate`; ignored by leave-one-group-out (one fold per group, one repeat).
    groups : sequence, optional
        A group label per architecture.
    cv : {"kfold", "group_kfold", "logo"}, optional
        Default: ``"logo"`` with ``groups``, ``"kfold"`` without.

    Raises
    ------
    EvaluationDataError
        Bad ``folds`` / ``repeats`` / ``cv``, a grouped scheme without groups (or groups with
        ``"kfold"``), groups of the wrong length, fewer than two groups (``"logo"``) or than
        ``folds`` groups (``"group_kfold"``), fewer architectures than folds.
    """
    if not isinstance(folds, (int, np.integer)) or folds < 2:
        raise EvaluationDataError(f"folds must be an integer >= 2, got {folds!r}")
    if not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise EvaluationDataError(f"repeats must be an integer >= 1, got {repeats!r}")
    if cv is None:
        cv = "kfold" if groups is None else "logo"
    if cv not in CV_SCHEMES:
        raise EvaluationDataError(f"cv must be one of {list(CV_SCHEMES)}, got {cv!r}")
    if cv == "kfold":
        if groups is not None:
            raise EvaluationDataError("cv='kfold' ignores groups; pass cv='group_kfold' or 'logo' to use them, or no groups")
        if n < folds:
            raise EvaluationDataError(f"{folds}-fold CV needs at least {folds} architectures, got {n}")
        splits = list(RepeatedKFold(n_splits=folds, n_repeats=repeats, random_state=random_state).split(np.zeros(n)))
        labels = [f"repeat {r} / fold {f}" for r in range(repeats) for f in range(folds)]
        return CVSplits(splits, int(repeats), int(folds), labels, cv)
    if groups is None:
        raise EvaluationDataError(f"cv={cv!r} needs groups (a label per architecture)")
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise EvaluationDataError(f"groups must have one label per architecture ({n}), got shape {groups.shape}")
    if cv == "group_kfold":
        splits = group_kfold_splits(groups, folds, repeats, random_state)
        labels = [f"repeat {r} / fold {f}" for r in range(repeats) for f in range(folds)]
        return CVSplits(splits, int(repeats), int(folds), labels, cv)
    labels = list(pd.unique(groups))
    if len(labels) < 2:
        raise EvaluationDataError(f"grouped CV needs at least 2 groups, got {labels}")
    splits = [(np.flatnonzero(groups != g), np.flatnonzero(groups == g)) for g in labels]
    return CVSplits(splits, 1, len(labels), labels, cv)


def take_rows(X, idx):
    """The rows ``idx`` of ``X`` (a DataFrame by position, else an array or a list of architectures)."""
    return X.iloc[idx] if isinstance(X, pd.DataFrame) else X[idx]


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
        Per metric: the value on each test fold (per held-out group with leave-one-group-out).
    n_architectures : int
    folds, repeats, k : int
    maximize : bool
    fold_labels : list
        A label per fold: ``"repeat r / fold f"`` or the held-out group.
    oof_predictions : ndarray, shape (repeats, n)
    y : ndarray, shape (n,)
    description : str
        Free text for the table header (model, target, data).
    cv : str
        The scheme, one of :data:`CV_SCHEMES` (see :attr:`scheme`); ``grouped`` is true for the two
        grouped ones.
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
    cv: str = ""

    @property
    def scheme(self) -> str:
        """The CV scheme; a report built without ``cv`` reads ``grouped`` as leave-one-group-out."""
        return self.cv or ("logo" if self.grouped else "kfold")

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
            "cv": self.scheme,
            "k": self.k,
            "maximize": self.maximize,
            "n_bootstrap": self.n_bootstrap,
            "fold_labels": [str(x) for x in self.fold_labels],
            "metrics": metrics,
        }

    def to_table(self) -> str:
        """The report as a fixed-width text table."""
        if self.scheme == "logo":
            scheme = f"leave-one-group-out over {self.folds} groups"
        elif self.scheme == "group_kfold":
            scheme = f"{self.repeats}×{self.folds}-fold CV over whole groups"
        else:
            scheme = f"{self.repeats}×{self.folds}-fold CV"
        lines = []
        if self.description:
            lines.append(self.description)
        lines.append(
            f"{self.n_architectures} architectures, {scheme}, k={self.k}, "
            f"95% CI: BCa bootstrap over architectures (B={self.n_bootstrap})"
        )
        lines.append(f"{'metric':<17}{'mean':>9}  {'95% CI':<20}{'per fold':>18}")
        for m in self.mean:
            fv = np.asarray(self.fold_values[m], dtype=float)
            fold = f"{np.nanmean(fv):.3f} ± {np.nanstd(fv):.3f}" if np.isfinite(fv).any() else "n/a"
            ci = f"[{self.low[m]:.3f}, {self.high[m]:.3f}]"
            label = METRIC_LABELS.get(m, m) + (" (↓)" if m in LOWER_IS_BETTER else "")
            lines.append(f"{label:<17}{self.mean[m]:>9.3f}  {ci:<20}{fold:>18}")
        if self.scheme == "logo":
            lines.append("per held-out group (R², Kendall τ): " + "; ".join(
                f"{g}: {self.fold_values['r2'][i]:.3f}, {self.fold_values['kendall'][i]:.3f}"
                for i, g in enumerate(self.fold_labels)
            ))
        return "\n".join(lines)


def repeat_averaged(y, oof, metrics, k: int, maximize: bool = True) -> np.ndarray:
    """Per metric, the metric of each repeat's out-of-fold predictions averaged over repeats
    (NaN where no repeat defines it). ``oof`` has shape ``(repeats, n)``."""
    out = []
    for m in metrics:
        vals = np.array([compute_metric(m, y, row, k=k, maximize=maximize) for row in oof])
        out.append(np.nanmean(vals) if np.isfinite(vals).any() else np.nan)
    return np.array(out)


def _intervals(y, oof, metrics, k, maximize, n_bootstrap, random_state) -> dict[str, tuple[float, float]]:
    """BCa (else percentile) intervals of the repeat-averaged metrics, resampling architectures."""
    low, high, _ = bootstrap_interval(
        lambda idx: repeat_averaged(y[idx], oof[:, idx], metrics, k, maximize),
        y.size, n_resamples=n_bootstrap, random_state=random_state,
    )  # fmt: skip
    return {m: (float(low[i]), float(high[i])) for i, m in enumerate(metrics)}


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
    cv: str | None = None,
) -> EvaluationReport:
    """Repeated (or grouped) cross-validation of a predictor, with BCa bootstrap intervals.

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
        A group label per architecture (prior, task, lineage); switches to leave-one-group-out
        unless ``cv`` says otherwise.
    cv : {"kfold", "group_kfold", "logo"}, optional
        The scheme (module notes). Default: ``"logo"`` with ``groups``, ``"kfold"`` without.
        ``"group_kfold"`` runs ``repeats`` × ``folds``-fold CV over whole groups
        (:func:`group_kfold_splits`): relatives never straddle training and test.
    k : int, optional
        k of precision@k and top-k regret; default 10 % of the architectures.
    maximize : bool
        Larger target is better (accuracy); False for losses.
    n_bootstrap : int
        Bootstrap resamples for the BCa intervals (0 disables them: intervals are NaN).

    Returns
    -------
    EvaluationReport

    Raises
    ------
    EvaluationDataError
        Fewer architectures than folds, a target of the wrong length, constant or with NaN/inf,
        fewer than two groups (fewer than ``folds`` for ``"group_kfold"``), an unknown ``cv`` or
        one that contradicts ``groups``, or features that are NaN/inf.
    """
    n = len(genomes)
    if n == 0:
        raise EvaluationDataError("expected evaluation data with at least one architecture, got none")
    y = check_target(y, n)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise EvaluationDataError(f"unknown metrics {unknown}; expected some of {list(METRICS)}")
    plan = cv_splits(n, folds=folds, repeats=repeats, random_state=random_state, groups=groups, cv=cv)
    k = default_k(n) if k is None else int(k)
    if not 1 <= k <= n:
        raise EvaluationDataError(f"k must be in [1, {n}] (the number of architectures), got {k}")
    X, est, _ = prepare(pipeline, genomes, random_state)
    return run_cv(
        est, X, y, plan, k=k, maximize=maximize, n_bootstrap=n_bootstrap, metrics=metrics,
        random_state=random_state, description=description,
    )  # fmt: skip


def run_cv(
    est,
    X,
    y: np.ndarray,
    plan: CVSplits,
    *,
    k: int,
    maximize: bool = True,
    n_bootstrap: int = 1000,
    metrics: Sequence[str] = METRICS,
    random_state: int = 0,
    description: str = "",
    fit_fold=None,
) -> EvaluationReport:
    """The loop of :func:`evaluate` on prepared inputs (:func:`prepare`, :func:`cv_splits`).

    ``fit_fold(i, train, X_train, y_train) -> fitted model``, if given, replaces
    ``clone(est).fit(X_train, y_train)`` for split ``i`` (nested tuning passes each training
    fold's groups and keeps what was chosen). Inputs are not validated again.
    """
    n = y.size
    oof = np.full((plan.repeats, n), np.nan)
    fold_values = {m: np.full(len(plan.splits), np.nan) for m in metrics}
    for i, (train, test) in enumerate(plan.splits):
        if fit_fold is None:
            model = clone(est).fit(take_rows(X, train), y[train])
        else:
            model = fit_fold(i, train, take_rows(X, train), y[train])
        pred = np.asarray(model.predict(take_rows(X, test)), dtype=float)
        oof[i // plan.folds, test] = pred
        k_fold = max(1, int(round(k * test.size / n)))
        for m in metrics:
            fold_values[m][i] = compute_metric(m, y[test], pred, k=k_fold, maximize=maximize)

    mean = dict(zip(metrics, map(float, repeat_averaged(y, oof, metrics, k, maximize))))
    if n_bootstrap > 0:
        ci = _intervals(y, oof, metrics, k, maximize, n_bootstrap, random_state)
    else:
        ci = {m: (float("nan"), float("nan")) for m in metrics}
    return EvaluationReport(
        mean=mean,
        low={m: ci[m][0] for m in metrics},
        high={m: ci[m][1] for m in metrics},
        fold_values=fold_values,
        n_architectures=n,
        folds=plan.folds,
        repeats=plan.repeats,
        k=k,
        maximize=maximize,
        grouped=plan.scheme != "kfold",
        fold_labels=list(plan.labels),
        oof_predictions=oof,
        y=y,
        n_bootstrap=int(n_bootstrap),
        description=description,
        cv=plan.scheme,
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
    n = len(genomes)
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
            pred = clone(est).fit(take_rows(X, train), y[train]).predict(take_rows(X, test))
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
    n = len(genomes)
    y = check_target(y, n)
    if n < folds or folds < 2:
        raise EvaluationDataError(f"{folds}-fold permutation importance needs at least {max(folds, 2)} architectures, got {n}")
    X, est, names = prepare(pipeline, genomes, random_state)
    if names is None:
        raise EvaluationDataError("permutation importance needs a pipeline starting with GraphFeatures or a numeric matrix")
    chunks = []
    kf = KFold(n_splits=folds, shuffle=True, random_state=random_state)
    for i, (train, test) in enumerate(kf.split(np.zeros(n))):
        model = clone(est).fit(take_rows(X, train), y[train])
        result = _sk_permutation_importance(
            model, take_rows(X, test), y[test], n_repeats=n_repeats, random_state=random_state + i, scoring=scoring
        )
        chunks.append(result.importances)
    imp = np.concatenate(chunks, axis=1)
    df = pd.DataFrame({"feature": names, "importance_mean": imp.mean(axis=1), "importance_std": imp.std(axis=1)})
    return df.sort_values("importance_mean", ascending=False, kind="stable").reset_index(drop=True)
