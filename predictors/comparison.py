"""Comparing predictors on identical splits: which is better, by how much, and is it real?

:func:`compare_predictors` cross-validates every pipeline on the *same* repeated K-fold splits
(one split list, drawn once), so the differences between pipelines are paired: the same
architectures are trained on and predicted in every fold. Feature matrices are computed once per
feature set (a pipeline starting with :class:`~predictors.features.GraphFeatures` shares the
matrix with every other pipeline of the same group and extra columns).

Reported, per pipeline and metric (default R², Kendall τ, Spearman ρ), as in
:func:`predictors.evaluate`: the metric of each repeat's out-of-fold predictions, its mean over
repeats, and a 95 % BCa interval over architectures. Per pair of pipelines: the mean difference
(``a - b``) with its BCa interval over architectures (paired: each resample takes the same
architectures for both) and a **corrected repeated k-fold t-test** on the per-fold differences.

The test, and why it is that one, is in :mod:`predictors.significance`.

The BCa interval of a difference holds the fitted out-of-fold predictions fixed: it sees which
architectures were drawn, not how the models would change with other training sets, so it is
narrower than the test implies. Decide whether a difference is real with the test.

Example
-------
>>> from predictors import make_paper_predictor, make_predictor
>>> from predictors.synthetic import synthetic_evaluations
>>> df = synthetic_evaluations(40, seed=0)
>>> result = compare_predictors(
...     {"paper": make_paper_predictor(0), "size": make_predictor("rf", group="size", random_state=0, n_estimators=20)},
...     df, df.test_accuracy, n_splits=4, n_repeats=2, n_bootstrap=0)
>>> sorted(result.mean), result.pair("paper", "size").df
(['paper', 'size'], 7)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from predictors.evaluation import repeat_averaged, run_cv
from predictors.exceptions import EvaluationDataError
from predictors.features import GraphFeatures
from predictors.inputs import check_target, n_rows, prepare, seed_unset
from predictors.intervals import bootstrap_interval
from predictors.metrics import METRIC_LABELS, METRICS, compute_metric, default_k
from predictors.models import make_predictor
from predictors.significance import TEST_NAME, corrected_resampled_ttest
from predictors.splits import cv_splits

__all__ = ["compare_predictors", "ComparisonResult", "PairedDifference", "describe_pipeline"]

DEFAULT_METRICS = ("r2", "kendall", "spearman")


@dataclass
class PairedDifference:
    """Pipeline ``a`` minus pipeline ``b`` on one metric, over the same splits.

    Attributes
    ----------
    a, b, metric : str
    mean_difference : float
        Mean over repeats of (``a``'s minus ``b``'s metric of the repeat's out-of-fold
        predictions), i.e. ``mean[a] - mean[b]``.
    low, high : float
        95 % BCa interval of that difference over architectures (NaN without bootstrap).
    per_repeat : ndarray, shape (repeats,)
    fold_differences : ndarray, shape (repeats * splits,)
        Per test fold: ``a``'s metric minus ``b``'s.
    t, df, p_value : float, int, float
        Corrected repeated k-fold t-test on ``fold_differences`` (two-sided).
    """

    a: str
    b: str
    metric: str
    mean_difference: float
    low: float
    high: float
    per_repeat: np.ndarray
    fold_differences: np.ndarray
    t: float
    df: int
    p_value: float

    def flipped(self) -> "PairedDifference":
        """The same comparison as ``b`` minus ``a``."""
        return PairedDifference(
            self.b, self.a, self.metric, -self.mean_difference, -self.high, -self.low, -self.per_repeat,
            -self.fold_differences, -self.t, self.df, self.p_value,
        )  # fmt: skip

    def to_dict(self) -> dict:
        return {
            "a": self.a,
            "b": self.b,
            "metric": self.metric,
            "mean_difference": _clean(self.mean_difference),
            "ci_low": _clean(self.low),
            "ci_high": _clean(self.high),
            "per_repeat": [_clean(v) for v in self.per_repeat],
            "t": _clean(self.t),
            "df": self.df,
            "p_value": _clean(self.p_value),
        }


def _clean(x):
    x = float(x)
    return x if np.isfinite(x) else None


@dataclass
class ComparisonResult:
    """Several predictors scored on identical splits (:func:`compare_predictors`).

    Attributes
    ----------
    names : list of str
        The pipelines, in the order given.
    metrics : tuple of str
    mean, low, high : dict
        ``[name][metric]``: the repeat-averaged out-of-fold metric and its 95 % BCa interval over
        architectures.
    interval_methods : dict
        ``[name][metric]``: ``"BCa"``, or ``"percentile"`` where BCa was undefined.
    per_repeat : dict
        ``[name][metric]``: ndarray of shape (repeats,), each repeat's out-of-fold metric.
    fold_values : dict
        ``[name][metric]``: ndarray of shape (repeats * splits,), the metric on each test fold.
    oof_predictions : dict
        ``[name]``: ndarray of shape (repeats, n).
    pairs : list of PairedDifference
        Every pair ``(a, b)`` with ``a`` before ``b`` in ``names``, for every metric.
    splits : list of (ndarray, ndarray)
        The (train, test) indices every pipeline was scored on.
    n_architectures, n_splits, n_repeats, n_bootstrap, random_state : int
    cv : str
        ``"kfold"`` or, with groups, ``"group_kfold"`` / ``"logo"``.
    descriptions : dict
        ``[name]``: the pipeline's steps in one line, e.g.
        ``"GraphFeatures(paper) → MinMaxScaler → RandomForestRegressor"``.
    """

    names: list
    metrics: tuple
    mean: dict
    low: dict
    high: dict
    interval_methods: dict
    per_repeat: dict
    fold_values: dict
    oof_predictions: dict
    pairs: list
    splits: list
    n_architectures: int
    n_splits: int
    n_repeats: int
    n_bootstrap: int
    random_state: int
    cv: str = "kfold"
    descriptions: dict = field(default_factory=dict)
    y: np.ndarray | None = field(default=None, repr=False)

    def pair(self, a: str, b: str, metric: str = "r2") -> PairedDifference:
        """``a`` minus ``b`` on ``metric`` (either order).

        Raises
        ------
        KeyError
            No such pipelines or metric.
        """
        for p in self.pairs:
            if p.metric == metric and (p.a, p.b) == (a, b):
                return p
            if p.metric == metric and (p.a, p.b) == (b, a):
                return p.flipped()
        raise KeyError(f"no comparison of {a!r} and {b!r} on {metric!r}; pipelines {self.names}, metrics {list(self.metrics)}")

    def to_dict(self) -> dict:
        """JSON-ready and flat.

        ``pipelines[name]``: ``description`` and, per metric ``m``, ``m`` (mean), ``m_low``,
        ``m_high``, ``m_interval`` (``"BCa"`` / ``"percentile"``), ``m_per_repeat``. ``pairs``: one
        entry per pair with ``a``, ``b``, ``test`` and, per metric, ``m_diff``, ``m_diff_low``,
        ``m_diff_high``, ``m_diff_per_repeat``, ``m_t``, ``m_df``, ``m_p``; ``p`` is ``r2_p`` (the
        headline test) when R² was compared.
        """
        pipelines = {}
        for name in self.names:
            row: dict = {"description": self.descriptions.get(name, "")}
            for m in self.metrics:
                row[m] = _clean(self.mean[name][m])
                row[f"{m}_low"] = _clean(self.low[name][m])
                row[f"{m}_high"] = _clean(self.high[name][m])
                row[f"{m}_interval"] = self.interval_methods[name][m]
                row[f"{m}_per_repeat"] = [_clean(v) for v in self.per_repeat[name][m]]
            pipelines[name] = row
        pairs = []
        for a, b in itertools.combinations(self.names, 2):
            row = {"a": a, "b": b, "test": TEST_NAME}
            for m in self.metrics:
                p = self.pair(a, b, m)
                row.update({
                    f"{m}_diff": _clean(p.mean_difference), f"{m}_diff_low": _clean(p.low), f"{m}_diff_high": _clean(p.high),
                    f"{m}_diff_per_repeat": [_clean(v) for v in p.per_repeat],
                    f"{m}_t": _clean(p.t), f"{m}_df": p.df, f"{m}_p": _clean(p.p_value),
                })  # fmt: skip
            if "r2" in self.metrics:
                row["p"] = row["r2_p"]
            pairs.append(row)
        return {
            "n_architectures": self.n_architectures,
            "n_splits": self.n_splits,
            "n_repeats": self.n_repeats,
            "cv": self.cv,
            "metrics": list(self.metrics),
            "n_bootstrap": self.n_bootstrap,
            "random_state": self.random_state,
            "intervals": "BCa bootstrap over architectures (percentile where BCa is undefined)",
            "pipelines": pipelines,
            "pairs": pairs,
        }

    def to_table(self) -> str:
        """A fixed-width text table: pipelines, then pairwise differences."""
        scheme = f"{self.n_repeats}×{self.n_splits}-fold CV" + ("" if self.cv == "kfold" else f" ({self.cv})")
        lines = [
            f"{self.n_architectures} architectures, {scheme}, identical splits for every pipeline; "
            f"95% CI: BCa bootstrap over architectures (B={self.n_bootstrap})",
            f"{'pipeline':<16}" + "".join(f"{METRIC_LABELS.get(m, m):>26}" for m in self.metrics),
        ]
        for name in self.names:
            cells = "".join(
                f"{self.mean[name][m]:>8.3f} [{self.low[name][m]:6.3f}, {self.high[name][m]:6.3f}]" for m in self.metrics
            )
            lines.append(f"{name:<16}{cells}")
        for p in self.pairs:
            label = METRIC_LABELS.get(p.metric, p.metric)
            lines.append(
                f"{p.a} − {p.b}: Δ{label} {p.mean_difference:+.3f} [{p.low:+.3f}, {p.high:+.3f}], "
                f"corrected t = {p.t:.2f}, df = {p.df}, p = {p.p_value:.3g}"
            )
        return "\n".join(lines)


def describe_pipeline(pipeline) -> str:
    """A pipeline's steps in one line: ``"GraphFeatures(paper) → MinMaxScaler → RandomForestRegressor"``."""
    if isinstance(pipeline, str):
        return pipeline
    steps = [step for _, step in pipeline.steps] if isinstance(pipeline, Pipeline) else [pipeline]
    parts = []
    for step in steps:
        if isinstance(step, GraphFeatures):
            extra = list(step.extra_columns) if not isinstance(step.extra_columns, str) else [step.extra_columns]
            parts.append(f"GraphFeatures({step.group}{' + ' + ', '.join(extra) if extra else ''})")
        else:
            parts.append(type(step).__name__)
    return " → ".join(parts)


def _split_features(pipeline, X, cache: dict, random_state: int):
    """``(matrix or X, rest of the pipeline)``, the feature matrix shared per feature set."""
    if isinstance(pipeline, str):
        pipeline = make_predictor(pipeline)
    est = clone(pipeline)
    if isinstance(est, Pipeline) and isinstance(est.steps[0][1], GraphFeatures) and len(est.steps) > 1:
        feats = est.steps[0][1]
        extra = feats.extra_columns
        key = (feats.group, extra if isinstance(extra, str) else tuple(extra))
        if key not in cache:
            cache[key] = feats.fit(X).transform(X)
        return cache[key], seed_unset(Pipeline(est.steps[1:]), random_state)
    Xa, rest, _ = prepare(est, X, random_state)
    return Xa, rest


def compare_predictors(
    pipelines: Mapping[str, Pipeline],
    X,
    y,
    *,
    n_splits: int = 5,
    n_repeats: int = 10,
    random_state: int = 0,
    groups: Sequence | None = None,
    cv: str | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    n_bootstrap: int = 1000,
) -> ComparisonResult:
    """Score every pipeline on the same repeated K-fold splits and test their differences.

    Parameters
    ----------
    pipelines : mapping of str to Pipeline
        Unfitted predictors by name (e.g. ``{"paper": make_paper_predictor(0), "product":
        make_predictor("rf", random_state=0)}``), or registered model names. At least two.
    X : sequence or DataFrame
        Architectures (as for :func:`predictors.evaluate`), or a numeric feature matrix for
        pipelines that take one.
    y : array-like of shape (n,)
        The measured metric.
    n_splits, n_repeats : int
        K of K-fold and its repeats (default 10 × 5); one split list for every pipeline.
    random_state : int
        Seeds the splits, every unset model seed and the bootstrap.
    groups : sequence, optional
        Group labels: the splits then keep groups whole.
    cv : {"kfold", "group_kfold", "logo"}, optional
        As in :func:`predictors.evaluate` and :func:`predictors.cv_splits`: leave one group out
        by default with ``groups`` (so two groups give two folds, each prior predicted from the
        other), K-fold without.
    metrics : sequence of str
        Of :data:`predictors.METRICS` (default R², Kendall τ, Spearman ρ).
    n_bootstrap : int
        BCa resamples over architectures (0: intervals are NaN).

    Returns
    -------
    ComparisonResult

    Raises
    ------
    EvaluationDataError
        Fewer than two pipelines, a bad target, unknown metrics, or too few architectures /
        groups for the splits.
    """
    names, metrics, n, y = _check_inputs(pipelines, X, y, metrics)
    plan = cv_splits(n, folds=n_splits, repeats=n_repeats, random_state=random_state, groups=groups, cv=cv)
    k = default_k(n)
    oof, fold_values, per_repeat = _cross_validate(names, pipelines, X, y, plan, k, metrics, random_state)
    # the repeat average of the per-repeat values (NaN where no repeat defines the metric)
    mean = {name: {m: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for m, v in per_repeat[name].items()}
            for name in names}
    seed = np.random.SeedSequence(random_state)  # the pipelines' intervals spawn from it first, then the pairs'
    ci = _intervals(names, oof, y, metrics, k, n_bootstrap, seed)
    pairs = _paired_differences(names, oof, fold_values, per_repeat, mean, y, plan, metrics, k, n_bootstrap, seed)
    return ComparisonResult(
        names=names,
        metrics=metrics,
        mean=mean,
        low={name: {m: ci[name][m][0] for m in metrics} for name in names},
        high={name: {m: ci[name][m][1] for m in metrics} for name in names},
        interval_methods={name: {m: ci[name][m][2] for m in metrics} for name in names},
        per_repeat=per_repeat,
        fold_values=fold_values,
        oof_predictions=oof,
        pairs=pairs,
        splits=list(plan.splits),
        n_architectures=n,
        n_splits=plan.folds,
        n_repeats=plan.repeats,
        n_bootstrap=int(n_bootstrap),
        random_state=random_state,
        cv=plan.scheme,
        descriptions={name: describe_pipeline(p) for name, p in zip(names, pipelines.values())},
        y=y,
    )


def _check_inputs(pipelines, X, y, metrics) -> tuple[list[str], tuple, int, np.ndarray]:
    """``(names, metrics, n, y)`` after checking the pipelines, metrics and target."""
    if not isinstance(pipelines, Mapping) or len(pipelines) < 2:
        raise EvaluationDataError(f"compare_predictors needs a mapping of at least two named pipelines, got {pipelines!r}")
    names = [str(name) for name in pipelines]
    if len(set(names)) != len(names):
        raise EvaluationDataError(f"pipeline names must be distinct as strings, got {names}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise EvaluationDataError(f"unknown metrics {unknown}; expected some of {list(METRICS)}")
    n = n_rows(X)
    if n == 0:
        raise EvaluationDataError("expected evaluation data with at least one architecture, got none")
    return names, tuple(metrics), n, check_target(y, n)


def _cross_validate(names, pipelines, X, y, plan, k, metrics, random_state):
    """Every pipeline through the one CV loop on ``plan``: out-of-fold predictions, per-fold and
    per-repeat metrics, each by pipeline name."""
    cache: dict = {}
    oof, fold_values, per_repeat = {}, {}, {}
    for name, pipeline in zip(names, pipelines.values()):
        Xp, est = _split_features(pipeline, X, cache, random_state)
        report = run_cv(est, Xp, y, plan, k=k, metrics=metrics, n_bootstrap=0)  # the one CV loop
        oof[name], fold_values[name] = report.oof_predictions, report.fold_values
        per_repeat[name] = {m: np.array([compute_metric(m, y, row, k=k) for row in oof[name]]) for m in metrics}
    return oof, fold_values, per_repeat


def _intervals(names, oof, y, metrics, k, n_bootstrap, seed: np.random.SeedSequence) -> dict:
    """``[name][metric]``: (low, high, method) of the BCa interval over architectures (NaN without bootstrap)."""
    nan_pair = (float("nan"), float("nan"), "none")
    ci = {name: {m: nan_pair for m in metrics} for name in names}
    if n_bootstrap > 0:
        for name, child in zip(names, seed.spawn(len(names))):
            low, high, methods = bootstrap_interval(
                lambda idx, p=oof[name]: repeat_averaged(y[idx], p[:, idx], metrics, k),
                y.size, n_resamples=n_bootstrap, random_state=np.random.default_rng(child),
            )  # fmt: skip
            ci[name] = {m: (float(low[j]), float(high[j]), methods[j]) for j, m in enumerate(metrics)}
    return ci


def _paired_differences(names, oof, fold_values, per_repeat, mean, y, plan, metrics, k, n_bootstrap,
                        seed: np.random.SeedSequence) -> list[PairedDifference]:
    """Every pair ``(a, b)`` in order, for every metric: the difference, its interval and the corrected test."""
    ratio = float(np.mean([len(test) / len(train) for train, test in plan.splits]))
    pairs = []
    pair_seeds = seed.spawn(len(names) * (len(names) - 1) // 2)
    for (a, b), child in zip(itertools.combinations(names, 2), pair_seeds):
        if n_bootstrap > 0:
            low, high, _ = bootstrap_interval(
                lambda idx, pa=oof[a], pb=oof[b]: repeat_averaged(y[idx], pa[:, idx], metrics, k)
                - repeat_averaged(y[idx], pb[:, idx], metrics, k),
                y.size, n_resamples=n_bootstrap, random_state=np.random.default_rng(child),
            )  # fmt: skip
        else:
            low = high = np.full(len(metrics), np.nan)
        for j, m in enumerate(metrics):
            d_fold = fold_values[a][m] - fold_values[b][m]
            t, df, p = corrected_resampled_ttest(d_fold, ratio)
            pairs.append(
                PairedDifference(
                    a, b, m, mean[a][m] - mean[b][m], float(low[j]), float(high[j]),
                    per_repeat[a][m] - per_repeat[b][m], d_fold, t, df, p,
                )  # fmt: skip
            )
    return pairs
