"""Optuna tuning: seeded, bounded, returns a fitted pipeline and its study."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from sklearn.pipeline import Pipeline

from predictors import tune
from predictors.exceptions import EvaluationDataError, UnknownModelError
from predictors.synthetic import synthetic_evaluations


@pytest.fixture(scope="module")
def data():
    df = synthetic_evaluations(40, seed=2)
    return df, df["test_accuracy"].to_numpy()


def test_tune_is_seeded_and_returns_fitted_pipeline(data):
    df, y = data
    pipe, study = tune("knn", df, y, n_trials=4, random_state=0, folds=3, group="paper")
    assert isinstance(pipe, Pipeline) and isinstance(study, optuna.Study)
    assert len(study.trials) == 4
    assert study.user_attrs["model"] == "knn" and study.user_attrs["tuned_params"]["n_neighbors"] == pipe.named_steps["model"].n_neighbors
    assert pipe.predict(df.genome[:3].tolist()).shape == (3,)
    _, again = tune("knn", df, y, n_trials=4, random_state=0, folds=3, group="paper")
    assert again.best_params == study.best_params and again.best_value == study.best_value
    assert np.isfinite(study.best_value)


def test_tune_kendall_on_a_forest(data):
    df, y = data
    pipe, study = tune("extra_trees", df, y, n_trials=2, random_state=1, folds=3, scoring="kendall", group="size")
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert pipe.named_steps["model"].n_estimators == study.best_params["n_estimators"]


def test_tune_bad_inputs(data):
    df, y = data
    with pytest.raises(UnknownModelError):
        tune("nope", df, y)
    with pytest.raises(EvaluationDataError, match="scoring must be one of"):
        tune("knn", df, y, scoring="accuracy")
    with pytest.raises(EvaluationDataError, match="n_trials must be an integer"):
        tune("knn", df, y, n_trials=0)
    with pytest.raises(EvaluationDataError, match="constant"):
        tune("knn", df, np.ones(len(df)))
