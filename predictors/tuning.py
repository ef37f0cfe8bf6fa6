"""Optuna tuning of a registered regressor on its cross-validated score, and nested CV of it.

:func:`tune` selects hyperparameters on CV splits of the data it is given, so its best score is
optimistic. :func:`nested_evaluate` measures what tuning is worth: an *outer* cross-validation
whose every training part is tuned on its own (inner CV on those rows only) and whose test part,
never seen by the tuning, is scored.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import optuna
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from predictors.evaluation import EvaluationReport, run_cv
from predictors.exceptions import EvaluationDataError
from predictors.inputs import check_target, prepare, take_rows
from predictors.metrics import LOWER_IS_BETTER, METRICS, compute_metric, default_k
from predictors.models import get_model_spec, make_predictor, make_regressor
from predictors.splits import cv_splits

__all__ = ["tune", "TUNING_SCORES", "TunedPredictor", "NestedEvaluation", "nested_evaluate"]

TUNING_SCORES = ("r2", "kendall", "spearman", "mae")


def tune(
    model: str,
    genomes,
    y,
    *,
    n_trials: int = 30,
    random_state: int = 0,
    folds: int = 5,
    repeats: int = 1,
    scoring: str = "r2",
    group: str = "extended",
    extra_columns: Sequence[str] = (),
    timeout: float | None = None,
    groups: Sequence | None = None,
):
    """Tune a registered regressor's hyperparameters with Optuna's TPE on the CV score.

    Every trial is scored on the same seeded repeated K-fold splits: the metric of the
    out-of-fold predictions of each repeat, averaged over repeats (as in :func:`predictors.evaluate`).
    With ``groups`` the splits are repeated grouped K-fold
    (:func:`predictors.splits.group_kfold_splits`): relatives never straddle them.

    Parameters
    ----------
    model : str
        A registered model name (:func:`predictors.list_models`).
    genomes, y
        Architectures and their measured metric.
    n_trials : int
        Number of Optuna trials (bounded; at least 1).
    random_state : int
        Seeds the sampler, the splits and the models.
    folds, repeats : int
        The CV of each trial.
    scoring : {"r2", "kendall", "spearman", "mae"}
        The score to optimise (MAE is minimised, the others maximised).
    group, extra_columns
        Features, as in :func:`predictors.make_predictor`.
    timeout : float, optional
        Stop starting new trials after this many seconds.
    groups : sequence, optional
        A group label per architecture; the CV then keeps each group whole.

    Returns
    -------
    (Pipeline, optuna.Study)
        The best configuration refitted on all the data, and the study (``study.best_params``,
        user attributes ``model``, ``scoring``, ``tuned_params``).

    Raises
    ------
    UnknownModelError
        ``model`` is not registered.
    EvaluationDataError
        Bad target, too few architectures (or groups), or a bad ``n_trials`` / ``scoring``.
    """
    spec = get_model_spec(model)
    if scoring not in TUNING_SCORES:
        raise EvaluationDataError(f"scoring must be one of {list(TUNING_SCORES)}, got {scoring!r}")
    if not isinstance(n_trials, (int, np.integer)) or not 1 <= n_trials <= 10_000:
        raise EvaluationDataError(f"n_trials must be an integer in [1, 10000], got {n_trials!r}")
    n = len(genomes)
    y = check_target(y, n)
    scheme = None if groups is None else "group_kfold"
    splits = cv_splits(n, folds=folds, repeats=repeats, random_state=random_state, groups=groups, cv=scheme).splits
    base = make_predictor(model, group=group, random_state=random_state, extra_columns=extra_columns)
    X, rest, _ = prepare(base, genomes, random_state)
    n_train = min(len(train) for train, _ in splits)
    k = default_k(n)

    objective = _cv_objective(model, spec, rest, X, y, splits, folds, repeats, scoring, k, n_train, random_state)

    study = optuna.create_study(
        direction="minimize" if scoring in LOWER_IS_BETTER else "maximize",
        sampler=optuna.samplers.TPESampler(seed=random_state),
        study_name=f"tune-{model}",
    )
    study.optimize(objective, n_trials=int(n_trials), timeout=timeout)
    if not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
        raise EvaluationDataError(f"no tuning trial of {model!r} gave a defined {scoring} score")
    best = spec.space(optuna.trial.FixedTrial(study.best_params), n_train)
    study.set_user_attr("model", model)
    study.set_user_attr("scoring", scoring)
    study.set_user_attr("tuned_params", best)
    pipeline = make_predictor(model, group=group, random_state=random_state, extra_columns=extra_columns, **best)
    pipeline.fit(genomes, y)
    return pipeline, study


def _cv_objective(model, spec, rest, X, y, splits, folds, repeats, scoring, k, n_train, random_state):
    """Optuna's objective for :func:`tune`: the repeat-averaged out-of-fold ``scoring`` of the
    parameters a trial draws from ``spec.space``, on the fixed ``splits``."""
    n = y.size

    def objective(trial: optuna.Trial) -> float:
        params = spec.space(trial, n_train)
        est = clone(rest)
        est.steps[-1] = (est.steps[-1][0], make_regressor(model, random_state=random_state, **params))
        oof = np.full((repeats, n), np.nan)
        with warnings.catch_warnings(record=True) as caught:
            # optimiser convergence notes (GP bounds, MLP iterations) are kept with the trial,
            # not printed once per fold
            warnings.simplefilter("always", ConvergenceWarning)
            for i, (train, test) in enumerate(splits):
                fitted = clone(est).fit(take_rows(X, train), y[train])
                oof[i // folds, test] = fitted.predict(take_rows(X, test))
        trial.set_user_attr("convergence_warnings", sum(issubclass(w.category, ConvergenceWarning) for w in caught))
        scores = [compute_metric(scoring, y, row, k=k) for row in oof]
        score = float(np.nanmean(scores)) if np.isfinite(scores).any() else float("nan")
        if not np.isfinite(score):
            raise optuna.TrialPruned(f"score {scoring} undefined for {params}")
        return score

    return objective


# --- nested cross-validation -----------------------------------------------------------------


class TunedPredictor(RegressorMixin, BaseEstimator):
    """A registered regressor whose ``fit`` first tunes it with :func:`tune` on the data it gets.

    Cross-validating this estimator *is* nested cross-validation: every outer training fold is
    tuned on its own, and the outer test fold is never seen by the tuning.

    Parameters
    ----------
    model : str
        A registered model name.
    n_trials, folds, repeats, scoring, group, extra_columns, timeout
        Passed to :func:`tune` (``folds`` / ``repeats``: the inner CV).
    random_state : int or None
        Seeds the tuning and the model.

    Attributes
    ----------
    pipeline_ : Pipeline
        The tuned predictor refitted on the training data.
    best_params_ : dict
        The chosen hyperparameters.
    inner_score_ : float
        The best inner CV score (optimistic: it was selected on those splits).
    n_train_ : int
        Architectures it was tuned and fitted on.
    """

    def __init__(self, model: str = "rf", n_trials: int = 20, folds: int = 3, repeats: int = 1, scoring: str = "r2",
                 group: str = "extended", extra_columns: Sequence[str] = (), random_state=None,
                 timeout: float | None = None):  # fmt: skip
        self.model = model
        self.n_trials = n_trials
        self.folds = folds
        self.repeats = repeats
        self.scoring = scoring
        self.group = group
        self.extra_columns = extra_columns
        self.random_state = random_state
        self.timeout = timeout

    def fit(self, X, y, groups=None):
        """Tune on ``(X, y)`` (inner CV grouped by ``groups`` if given), refit the best; returns self."""
        pipeline, study = tune(
            self.model, X, y, n_trials=self.n_trials, random_state=self.random_state, folds=self.folds,
            repeats=self.repeats, scoring=self.scoring, group=self.group, extra_columns=self.extra_columns,
            timeout=self.timeout, groups=groups,
        )  # fmt: skip
        self.pipeline_ = pipeline
        self.best_params_ = dict(study.user_attrs["tuned_params"])
        self.inner_score_ = float(study.best_value)
        self.n_train_ = len(X)
        return self

    def predict(self, X):
        """Predictions of the tuned pipeline."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict(X)


@dataclass
class NestedEvaluation:
    """Outer-fold quality of a tuned predictor (:func:`nested_evaluate`).

    Attributes
    ----------
    report : EvaluationReport
        Scores on the outer test folds: ``report.fold_values[m]`` per outer fold, ``report.mean``
        and the BCa interval over architectures of the repeat-averaged out-of-fold metric.
    best_params : list of dict
        The hyperparameters tuning chose on each outer training fold.
    inner_scores : ndarray
        Each outer fold's best inner CV score (``scoring``): what tuning alone would have claimed.
    train_indices : list of ndarray
        Rows each outer fold was tuned on (the outer test rows are never among them).
    scoring : str
    """

    report: EvaluationReport
    best_params: list = field(default_factory=list)
    inner_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    train_indices: list = field(default_factory=list)
    scoring: str = "r2"

    @property
    def optimism(self) -> float:
        """Mean inner best score minus mean outer-fold score of ``scoring`` (> 0: tuning flatters)."""
        outer = np.asarray(self.report.fold_values[self.scoring], dtype=float)
        return float(np.nanmean(self.inner_scores) - np.nanmean(outer))

    def to_dict(self) -> dict:
        """JSON-ready: the outer report, the chosen parameters, inner scores and the optimism."""
        return {
            "outer": self.report.to_dict(),
            "scoring": self.scoring,
            "best_params": [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in p.items()} for p in self.best_params],
            "inner_scores": [float(v) for v in self.inner_scores],
            "optimism": self.optimism,
        }

    def to_table(self) -> str:
        """The outer report's table, then inner (selection) against outer (honest) score."""
        return self.report.to_table() + (
            f"\nnested CV: inner best {self.scoring} {np.nanmean(self.inner_scores):.3f} (optimistic) vs "
            f"outer {np.nanmean(self.report.fold_values[self.scoring]):.3f}; optimism {self.optimism:+.3f}"
        )


def nested_evaluate(
    model: str,
    genomes,
    y,
    *,
    n_trials: int = 20,
    outer_folds: int = 5,
    outer_repeats: int = 1,
    inner_folds: int = 3,
    inner_repeats: int = 1,
    random_state: int = 0,
    group: str = "extended",
    extra_columns: Sequence[str] = (),
    scoring: str = "r2",
    groups: Sequence | None = None,
    cv: str | None = None,
    metrics: Sequence[str] = ("r2", "kendall", "spearman"),
    n_bootstrap: int = 1000,
    timeout: float | None = None,
) -> NestedEvaluation:
    """Nested cross-validation of :func:`tune`: tune on each outer training fold, score on its test fold.

    The outer CV is that of :func:`predictors.evaluate` (``outer_repeats`` × ``outer_folds``-fold,
    or grouped with ``groups`` / ``cv``); inside every outer training fold, :func:`tune` runs
    ``n_trials`` Optuna trials on ``inner_repeats`` × ``inner_folds``-fold CV of those rows only
    (grouped K-fold when ``groups`` is given), refits the best configuration on them and predicts
    the outer test fold. Cost: ``outer_repeats × outer_folds × n_trials × inner_repeats ×
    inner_folds`` fits.

    Parameters
    ----------
    model : str
        A registered model name.
    genomes, y
        Architectures and their measured metric.
    n_trials : int
        Trials per outer fold.
    outer_folds, outer_repeats, inner_folds, inner_repeats : int
    random_state : int
        Seeds the outer splits, every tuning, the models and the bootstrap.
    group, extra_columns, scoring, timeout
        As in :func:`tune` (``timeout`` per outer fold).
    groups : sequence, optional
        Group labels (relatives, priors). The outer CV defaults to leave-one-group-out with
        groups (``cv="group_kfold"`` for grouped K-fold); the inner CV is always grouped K-fold.
    cv : {"kfold", "group_kfold", "logo"}, optional
        The outer scheme (:func:`predictors.evaluate`).
    metrics : sequence of str
        Scored on each outer test fold (default R², Kendall τ, Spearman ρ).
    n_bootstrap : int
        Resamples of the BCa interval over architectures (0: none).

    Returns
    -------
    NestedEvaluation

    Raises
    ------
    UnknownModelError
        ``model`` is not registered.
    EvaluationDataError
        Bad target, metrics, ``scoring`` or ``n_trials``; too few architectures or groups for
        the outer or an inner CV.

    Examples
    --------
    >>> from predictors.synthetic import synthetic_evaluations
    >>> df = synthetic_evaluations(30, seed=0)
    >>> nested = nested_evaluate("knn", df, df.test_accuracy, n_trials=2, outer_folds=3, inner_folds=2,
    ...                          group="size", n_bootstrap=0)
    >>> len(nested.best_params), sorted(nested.report.mean)
    (3, ['kendall', 'r2', 'spearman'])
    """
    metrics, n, y = _check_nested_inputs(model, genomes, y, scoring, metrics)
    plan = cv_splits(n, folds=outer_folds, repeats=outer_repeats, random_state=random_state, groups=groups, cv=cv)
    labels = None if groups is None else np.asarray(groups)
    tuned = TunedPredictor(model, n_trials=n_trials, folds=inner_folds, repeats=inner_repeats, scoring=scoring,
                           group=group, extra_columns=tuple(extra_columns), random_state=random_state, timeout=timeout)  # fmt: skip
    X, est, _ = prepare(tuned, genomes, random_state)
    chosen: list[TunedPredictor] = []
    trained: list[np.ndarray] = []

    def fit_fold(i, train, X_train, y_train):
        fitted = clone(est).fit(X_train, y_train, groups=None if labels is None else labels[train])
        chosen.append(fitted)
        trained.append(np.asarray(train))
        return fitted

    with _optuna_warnings_only():  # a line per trial per outer fold is noise
        report = run_cv(est, X, y, plan, k=default_k(n), n_bootstrap=n_bootstrap, metrics=tuple(metrics),
                        random_state=random_state, fit_fold=fit_fold,
                        description=f"nested CV of tuned {model!r} ({n_trials} trials per outer fold)")  # fmt: skip
    return NestedEvaluation(
        report=report,
        best_params=[m.best_params_ for m in chosen],
        inner_scores=np.array([m.inner_score_ for m in chosen]),
        train_indices=trained,
        scoring=scoring,
    )


def _check_nested_inputs(model, genomes, y, scoring, metrics) -> tuple[tuple, int, np.ndarray]:
    """``(metrics, n, y)`` for :func:`nested_evaluate`; ``scoring`` joins the metrics (the
    optimism compares inner and outer on the same score)."""
    get_model_spec(model)  # unknown names fail before any work
    if scoring not in TUNING_SCORES:
        raise EvaluationDataError(f"scoring must be one of {list(TUNING_SCORES)}, got {scoring!r}")
    if scoring not in metrics:
        metrics = (*metrics, scoring)  # the optimism compares inner and outer on the same score
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise EvaluationDataError(f"unknown metrics {unknown}; expected some of {list(METRICS)}")
    n = len(genomes)
    if n == 0:
        raise EvaluationDataError("expected evaluation data with at least one architecture, got none")
    return metrics, n, check_target(y, n)


@contextlib.contextmanager
def _optuna_warnings_only():
    """Optuna logs warnings and errors only while inside (its level is restored after)."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)
