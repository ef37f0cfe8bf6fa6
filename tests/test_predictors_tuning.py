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


# --- nested cross-validation ---------------------------------------------------------------


def test_nested_cv_never_tunes_on_outer_test_rows(data, monkeypatch):
    from predictors import tuning
    from predictors.splits import cv_splits

    df, y = data
    seen = []
    real_tune = tuning.tune

    def recording_tune(model, genomes, y_train, **kwargs):
        seen.append((np.asarray(genomes.index), kwargs.get("groups")))
        return real_tune(model, genomes, y_train, **kwargs)

    monkeypatch.setattr(tuning, "tune", recording_tune)
    relatives = np.arange(len(df)) // 2  # 20 families of two
    nested = tuning.nested_evaluate("knn", df, y, n_trials=2, outer_folds=4, outer_repeats=1, inner_folds=3,
                                    random_state=0, group="size", groups=relatives, cv="group_kfold", n_bootstrap=0)  # fmt: skip
    plan = cv_splits(len(df), folds=4, repeats=1, random_state=0, groups=relatives, cv="group_kfold")
    assert len(seen) == 4 == len(nested.best_params) == len(nested.train_indices)
    for (rows, inner_groups), (train, test), recorded in zip(seen, plan.splits, nested.train_indices):
        assert sorted(rows) == sorted(train) and not set(rows) & set(test)  # the outer test rows are never tuned on
        np.testing.assert_array_equal(recorded, train)
        np.testing.assert_array_equal(inner_groups, relatives[train])  # the inner CV is grouped too
    for m in ("r2", "kendall", "spearman"):
        assert len(nested.report.fold_values[m]) == 4
    assert nested.inner_scores.shape == (4,) and np.isfinite(nested.optimism)
    assert "nested CV" in nested.to_table() and nested.to_dict()["scoring"] == "r2"


def test_nested_cv_is_seeded_and_checks_inputs(data):
    from predictors import nested_evaluate

    df, y = data
    a = nested_evaluate("knn", df, y, n_trials=2, outer_folds=3, inner_folds=2, group="size", n_bootstrap=20, random_state=1)
    b = nested_evaluate("knn", df, y, n_trials=2, outer_folds=3, inner_folds=2, group="size", n_bootstrap=20, random_state=1)
    assert a.report.to_dict() == b.report.to_dict() and a.best_params == b.best_params
    assert a.report.low["r2"] <= a.report.high["r2"]
    with pytest.raises(UnknownModelError):
        nested_evaluate("nope", df, y)
    with pytest.raises(EvaluationDataError, match="scoring must be one of"):
        nested_evaluate("knn", df, y, scoring="accuracy")
    with pytest.raises(EvaluationDataError, match="at least 3 distinct groups"):
        nested_evaluate("knn", df, y, n_trials=1, outer_folds=2, inner_folds=3, group="size",
                        groups=np.arange(len(df)) % 4, cv="group_kfold", n_bootstrap=0)  # fmt: skip
