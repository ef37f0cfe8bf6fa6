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
  - ``"group_kfold"``: repeated grouped K-fold (:func:`~predictors.splits.group_kfold_splits`) — whole groups are
    dealt to ``folds`` folds, reshuffled every repeat, so relatives are never split across
    training and test and the score is not flattered by near-copies of test architectures in
    the training folds.
* Unset ``random_state`` parameters of the pipeline are seeded from ``random_state``, so a call
  is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from sklearn.base import clone
from tqdm.auto import tqdm

from predictors.exceptions import EvaluationDataError
from predictors.inputs import check_target, n_rows, prepare, take_rows
from predictors.intervals import bootstrap_interval
from predictors.metrics import (
    LOWER_IS_BETTER,
    METRIC_LABELS,
    METRICS,
    compute_metric,
    default_k,
)
from predictors.splits import CVSplits, cv_splits

__all__ = ["EvaluationReport", "evaluate", "run_cv", "repeat_averaged", "clean"]


def clean(x):
    """``x``, or None where it is missing or not finite (JSON has no NaN)."""
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
        The scheme, one of :data:`~predictors.splits.CV_SCHEMES` (see :attr:`scheme`); ``grouped`` is true for the two
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
                "mean": clean(float(self.mean[m])),
                "ci_low": clean(float(self.low[m])),
                "ci_high": clean(float(self.high[m])),
                "fold_mean": clean(float(np.nanmean(fv))) if np.isfinite(fv).any() else None,
                "fold_std": clean(float(np.nanstd(fv))) if np.isfinite(fv).any() else None,
                "fold_values": [clean(float(v)) for v in fv],
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
        intervals = (f"95% CI: BCa bootstrap over architectures (B={self.n_bootstrap})" if self.n_bootstrap
                     else "no intervals (bootstrap off)")
        lines.append(f"{self.n_architectures} architectures, {scheme}, k={self.k}, {intervals}")
        lines.append(f"{'metric':<17}{'mean':>9}  {'95% CI':<20}{'per fold':>18}")
        for m in self.mean:
            fv = np.asarray(self.fold_values[m], dtype=float)
            fold = f"{np.nanmean(fv):.3f} ± {np.nanstd(fv):.3f}" if np.isfinite(fv).any() else "n/a"
            ci = f"[{self.low[m]:.3f}, {self.high[m]:.3f}]" if self.n_bootstrap else "-"
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
    progress: bool = False,
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
        (:func:`~predictors.splits.group_kfold_splits`): relatives never straddle training and test.
    k : int, optional
        k of precision@k and top-k regret; default 10 % of the architectures.
    maximize : bool
        Larger target is better (accuracy); False for losses.
    n_bootstrap : int
        Bootstrap resamples for the BCa intervals (0 disables them: intervals are NaN).
    progress : bool
        A bar over the folds on stderr when it is a terminal.

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
    n = n_rows(genomes)
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
        random_state=random_state, description=description, progress=progress,
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
    progress: bool = False,
) -> EvaluationReport:
    """The loop of :func:`evaluate` on prepared inputs (:func:`~predictors.inputs.prepare`, :func:`~predictors.splits.cv_splits`).

    ``fit_fold(i, train, X_train, y_train) -> fitted model``, if given, replaces
    ``clone(est).fit(X_train, y_train)`` for split ``i`` (nested tuning passes each training
    fold's groups and keeps what was chosen). Inputs are not validated again. ``progress``: a bar
    over the folds on a terminal (never lines in a log).
    """
    n = y.size
    oof = np.full((plan.repeats, n), np.nan)
    fold_values = {m: np.full(len(plan.splits), np.nan) for m in metrics}
    folds = tqdm(plan.splits, desc="cross-validation", unit="fold", leave=False, disable=None if progress else True)
    for i, (train, test) in enumerate(folds):
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
