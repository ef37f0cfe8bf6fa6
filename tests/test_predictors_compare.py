"""Comparing predictors: identical splits, a planted difference found, the paper's pipeline, the test."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import RandomForestRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler

from predictors import (
    GraphFeatures,
    compare_predictors,
    evaluate,
    load_predictor,
    make_paper_predictor,
    make_predictor,
    save_predictor,
)
from predictors.exceptions import EvaluationDataError
from predictors.significance import corrected_resampled_ttest
from predictors.synthetic import synthetic_evaluations

_FITTED_ON: dict[str, list] = {}


class RowRecorder(RegressorMixin, BaseEstimator):
    """Predicts the training mean; records the row ids (column 0) of every training set."""

    def __init__(self, tag: str = "a"):
        self.tag = tag

    def fit(self, X, y):
        _FITTED_ON.setdefault(self.tag, []).append(np.asarray(X)[:, 0].astype(int))
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def _noise(X):
    """Features replaced by noise unrelated to the architectures (a pipeline that cannot learn)."""
    return np.random.default_rng(len(X)).normal(size=X.shape)


@pytest.fixture(scope="module")
def data():
    df = synthetic_evaluations(80, seed=5)
    return df, df["test_accuracy"].to_numpy()


def test_every_pipeline_sees_the_same_splits():
    _FITTED_ON.clear()
    n = 30
    X = np.arange(n, dtype=float)[:, None]  # column 0 is the row id
    y = np.linspace(0.0, 1.0, n)
    result = compare_predictors({"a": RowRecorder("a"), "b": RowRecorder("b")}, X, y, n_splits=3, n_repeats=2,
                                random_state=4, n_bootstrap=0)  # fmt: skip
    assert len(_FITTED_ON["a"]) == len(_FITTED_ON["b"]) == len(result.splits) == 6
    for seen_a, seen_b, (train, _) in zip(_FITTED_ON["a"], _FITTED_ON["b"], result.splits):
        np.testing.assert_array_equal(seen_a, seen_b)
        np.testing.assert_array_equal(seen_a, train)
    # identical predictors on identical splits: no difference, and the test says so
    pair = result.pair("a", "b")
    assert pair.mean_difference == 0.0 and pair.p_value == 1.0 and np.all(pair.fold_differences == 0)


def test_a_planted_difference_is_found(data):
    df, y = data
    real = make_predictor("rf", group="paper", random_state=0, n_estimators=30)
    noise = make_pipeline(GraphFeatures(group="paper"), FunctionTransformer(_noise),
                          RandomForestRegressor(n_estimators=30, random_state=0))  # fmt: skip
    result = compare_predictors({"real": real, "noise": noise}, df, y, n_splits=4, n_repeats=3, random_state=0, n_bootstrap=200)
    assert result.names == ["real", "noise"] and result.n_architectures == 80
    assert result.mean["real"]["r2"] > 0.6 and result.mean["noise"]["r2"] < 0.15
    assert result.low["real"]["r2"] <= result.mean["real"]["r2"] <= result.high["real"]["r2"]
    assert result.per_repeat["real"]["kendall"].shape == (3,) and result.fold_values["noise"]["r2"].shape == (12,)
    pair = result.pair("real", "noise", "r2")
    assert pair.mean_difference > 0.5 and pair.low > 0 and pair.p_value < 0.01 and pair.df == 11
    assert pair.mean_difference == pytest.approx(result.mean["real"]["r2"] - result.mean["noise"]["r2"])
    assert pair.mean_difference == pytest.approx(pair.per_repeat.mean())
    flipped = result.pair("noise", "real", "r2")
    assert flipped.mean_difference == -pair.mean_difference and flipped.p_value == pair.p_value
    assert {p.metric for p in result.pairs} == {"r2", "kendall", "spearman"}
    d = json.loads(json.dumps(result.to_dict()))
    real_row = d["pipelines"]["real"]
    assert real_row["r2"] == pytest.approx(result.mean["real"]["r2"]) and real_row["r2_interval"] in ("BCa", "percentile")
    assert real_row["description"] == "GraphFeatures(paper) → RandomForestRegressor" and len(real_row["kendall_per_repeat"]) == 3
    (row,) = d["pairs"]
    assert (row["a"], row["b"]) == ("real", "noise") and row["p"] == row["r2_p"] == pytest.approx(pair.p_value)
    assert row["r2_diff"] == pytest.approx(pair.mean_difference) and "Nadeau" in row["test"]
    assert "real − noise" in result.to_table()


def test_comparison_is_seeded_and_shares_feature_matrices(data, monkeypatch):
    df, y = data
    calls = []
    original = GraphFeatures.transform

    def counting(self, X):
        calls.append(self.group)
        return original(self, X)

    monkeypatch.setattr(GraphFeatures, "transform", counting)
    pipes = {
        "paper": make_paper_predictor(1),
        "paper_rf": make_predictor("rf", group="paper", n_estimators=10),  # unseeded: compare seeds it
        "size": make_predictor("rf", group="size", n_estimators=10),
    }
    a = compare_predictors(pipes, df, y, n_splits=3, n_repeats=2, random_state=2, n_bootstrap=30)
    assert sorted(calls) == ["paper", "size"]  # one feature matrix per feature group
    b = compare_predictors(pipes, df, y, n_splits=3, n_repeats=2, random_state=2, n_bootstrap=30)
    assert a.to_dict() == b.to_dict()
    c = compare_predictors(pipes, df, y, n_splits=3, n_repeats=2, random_state=3, n_bootstrap=30)
    assert a.to_dict() != c.to_dict()
    assert len(a.pairs) == 3 * 3  # three pairs, three metrics


def test_grouped_comparison_keeps_relatives_together(data):
    df, y = data
    relatives = np.arange(len(df)) // 4
    result = compare_predictors({"a": make_predictor("knn", group="size"), "b": make_predictor("bayes_ridge", group="size")},
                                df, y, n_splits=4, n_repeats=2, groups=relatives, cv="group_kfold", n_bootstrap=0)  # fmt: skip
    assert result.cv == "group_kfold"
    for train, test in result.splits:
        assert not set(relatives[train]) & set(relatives[test])


def test_groups_mean_what_they_mean_in_evaluate_leave_one_group_out(data):
    """With groups and no cv the comparison splits as predictors.evaluate does: one group left out
    per fold, so two priors give two folds (each predicted from the other) instead of an error."""
    df, y = data
    two = np.where(np.arange(len(df)) % 2 == 0, "erdos_renyi", "watts_strogatz")
    pipes = {"a": make_predictor("knn", group="size"), "b": make_predictor("bayes_ridge", group="size")}
    result = compare_predictors(pipes, df, y, n_splits=5, n_repeats=3, groups=two, n_bootstrap=0)
    single = evaluate(make_predictor("knn", group="size"), df, y, groups=two, n_bootstrap=0)
    assert result.cv == single.cv == "logo" and len(result.splits) == 2
    assert [set(two[test]) for _, test in result.splits] == [{"erdos_renyi"}, {"watts_strogatz"}]


def test_bad_inputs(data):
    df, y = data
    with pytest.raises(EvaluationDataError, match="at least two named pipelines"):
        compare_predictors({"only": make_paper_predictor(0)}, df, y)
    with pytest.raises(EvaluationDataError, match="unknown metrics"):
        compare_predictors({"a": make_paper_predictor(0), "b": make_paper_predictor(1)}, df, y, metrics=("auc",))
    with pytest.raises(EvaluationDataError, match="constant"):
        compare_predictors({"a": make_paper_predictor(0), "b": make_paper_predictor(1)}, df, np.ones(len(df)))


def test_paper_predictor_is_the_papers_pipeline(data, tmp_path):
    df, y = data
    pipe = make_paper_predictor(3)
    assert isinstance(pipe, Pipeline) and [name for name, _ in pipe.steps] == ["features", "scale", "model"]
    features, scale, model = (step for _, step in pipe.steps)
    assert features.group == "paper" and isinstance(scale, MinMaxScaler)
    defaults = RandomForestRegressor().get_params()
    assert isinstance(model, RandomForestRegressor) and model.get_params() == {**defaults, "random_state": 3}
    fitted = make_paper_predictor(3).fit(df, y)
    np.testing.assert_array_equal(fitted.predict(df), make_paper_predictor(3).fit(df, y).predict(df))  # seeded
    assert fitted.named_steps["features"].n_features_out_ == 23
    loaded = load_predictor(save_predictor(fitted, tmp_path / "paper.skops"))
    np.testing.assert_array_equal(loaded.predict(df), fitted.predict(df))


def test_corrected_ttest_by_hand():
    d = np.array([0.1, 0.2, 0.15, 0.12, 0.18])
    t, df, p = corrected_resampled_ttest(d, 0.25)
    assert df == 4 and t == pytest.approx(d.mean() / np.sqrt((1 / 5 + 0.25) * d.var(ddof=1)))
    # the correction makes it more conservative than the naive paired t-test
    from scipy import stats

    assert p > stats.ttest_1samp(d, 0.0).pvalue
    assert corrected_resampled_ttest([0.0, 0.0, 0.0], 0.5) == (0.0, 2, 1.0)
    assert corrected_resampled_ttest([0.1, np.nan], 0.5)[1] == 0 and np.isnan(corrected_resampled_ttest([0.1], 0.5)[2])
