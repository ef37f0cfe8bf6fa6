"""Optuna tuning of a registered regressor on its cross-validated score."""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import optuna
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import RepeatedKFold

from predictors.evaluation import _take, check_target, prepare
from predictors.exceptions import EvaluationDataError
from predictors.metrics import LOWER_IS_BETTER, compute_metric
from predictors.models import get_model_spec, make_predictor, make_regressor

__all__ = ["tune", "TUNING_SCORES"]

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
):
    """Tune a registered regressor's hyperparameters with Optuna's TPE on the CV score.

    Every trial is scored on the same seeded repeated K-fold splits: the metric of the
    out-of-fold predictions of each repeat, averaged over repeats (as in :func:`predictors.evaluate`).

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
        Bad target, too few architectures, or a bad ``n_trials`` / ``scoring``.
    """
    spec = get_model_spec(model)
    if scoring not in TUNING_SCORES:
        raise EvaluationDataError(f"scoring must be one of {list(TUNING_SCORES)}, got {scoring!r}")
    if not isinstance(n_trials, (int, np.integer)) or not 1 <= n_trials <= 10_000:
        raise EvaluationDataError(f"n_trials must be an integer in [1, 10000], got {n_trials!r}")
    n = len(genomes)
    y = check_target(y, n)
    if n < folds:
        raise EvaluationDataError(f"{folds}-fold CV needs at least {folds} architectures, got {n}")
    base = make_predictor(model, group=group, random_state=random_state, extra_columns=extra_columns)
    X, rest, _ = prepare(base, genomes, random_state)
    splits = list(RepeatedKFold(n_splits=folds, n_repeats=repeats, random_state=random_state).split(np.zeros(n)))
    n_train = min(len(train) for train, _ in splits)
    k = max(1, int(round(0.1 * n)))

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
                fitted = clone(est).fit(_take(X, train), y[train])
                oof[i // folds, test] = fitted.predict(_take(X, test))
        trial.set_user_attr("convergence_warnings", sum(issubclass(w.category, ConvergenceWarning) for w in caught))
        scores = [compute_metric(scoring, y, row, k=k) for row in oof]
        score = float(np.nanmean(scores)) if np.isfinite(scores).any() else float("nan")
        if not np.isfinite(score):
            raise optuna.TrialPruned(f"score {scoring} undefined for {params}")
        return score

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
