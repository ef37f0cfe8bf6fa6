"""Evaluation: known-truth synthetic data, reproducibility, grouped CV, curves, importance, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from predictors import evaluate, learning_curve, make_predictor, permutation_importance
from predictors.exceptions import EvaluationDataError
from predictors.features import feature_group_names
from predictors.metrics import METRICS, compute_metric
from predictors.synthetic import synthetic_evaluations


@pytest.fixture(scope="module")
def data():
    df = synthetic_evaluations(90, seed=0)
    return df, df["test_accuracy"].to_numpy()


def _rf():
    return make_predictor("rf", group="paper", random_state=0, n_estimators=30)


def test_known_truth_is_recovered(data):
    df, y = data
    report = evaluate(_rf(), df, y, folds=3, repeats=2, n_bootstrap=200)
    assert report.n_architectures == 90 and report.folds == 3 and report.repeats == 2
    assert report.mean["r2"] > 0.75
    assert report.mean["kendall"] > 0.6
    assert report.mean["spearman"] > 0.8
    for m in METRICS:
        assert report.low[m] <= report.mean[m] <= report.high[m] or m == "top_k_regret"
        assert len(report.fold_values[m]) == 6
    assert report.oof_predictions.shape == (2, 90) and np.isfinite(report.oof_predictions).all()


def test_noise_target_gives_no_skill(data):
    df, _ = data
    noise = np.random.default_rng(1).normal(size=len(df))
    report = evaluate(_rf(), df, noise, folds=3, repeats=2, n_bootstrap=100)
    assert report.mean["r2"] < 0.2
    assert report.low["kendall"] < 0.15  # the interval includes "no rank skill"


def test_cv_is_seeded_and_reproducible(data):
    df, y = data
    pipe = make_predictor("extra_trees", group="size", n_estimators=10)  # no random_state: evaluate seeds it
    a = evaluate(pipe, df, y, folds=3, repeats=2, n_bootstrap=50, random_state=5)
    b = evaluate(pipe, df, y, folds=3, repeats=2, n_bootstrap=50, random_state=5)
    c = evaluate(pipe, df, y, folds=3, repeats=2, n_bootstrap=50, random_state=6)
    assert a.to_dict() == b.to_dict()
    np.testing.assert_array_equal(a.oof_predictions, b.oof_predictions)
    assert a.to_dict() != c.to_dict()


def test_report_serialises(data):
    df, y = data
    report = evaluate("bayes_ridge", df, y, folds=3, repeats=1, n_bootstrap=20, description="demo")
    d = json.loads(json.dumps(report.to_dict()))
    assert set(d["metrics"]) == set(METRICS)
    assert {"mean", "ci_low", "ci_high", "fold_values"} <= set(d["metrics"]["r2"])
    assert d["n_architectures"] == 90
    table = report.to_table()
    assert "demo" in table and "Kendall τ" in table and "90 architectures" in table


def test_grouped_cv_by_prior(data):
    df, y = data
    report = evaluate(_rf(), df, y, groups=df["prior"], n_bootstrap=50)
    assert report.grouped and report.repeats == 1
    assert sorted(report.fold_labels) == sorted(df["prior"].unique())
    assert len(report.fold_values["r2"]) == 3
    assert "per held-out group" in report.to_table()
    with pytest.raises(EvaluationDataError, match="at least 2 groups"):
        evaluate(_rf(), df, y, groups=["a"] * len(df))
    with pytest.raises(EvaluationDataError, match="one label per architecture"):
        evaluate(_rf(), df, y, groups=["a", "b"])


@pytest.mark.parametrize(
    "y, match",
    [
        (np.full(90, 0.5), "constant"),
        (np.r_[np.nan, np.linspace(0, 1, 89)], r"NaN/inf values \(row 0: nan\)"),
        (np.r_[np.inf, np.linspace(0, 1, 89)], "NaN/inf"),
        (np.linspace(0, 1, 10), "has 10 values but there are 90"),
    ],
)
def test_bad_targets_raise(data, y, match):
    df, _ = data
    with pytest.raises(EvaluationDataError, match=match):
        evaluate(_rf(), df, y, folds=3, repeats=1)


def test_too_few_rows_and_bad_settings(data):
    df, y = data
    with pytest.raises(EvaluationDataError, match="5-fold CV needs at least 5 architectures, got 4"):
        evaluate(_rf(), df.iloc[:4], y[:4])
    with pytest.raises(EvaluationDataError, match="at least one architecture"):
        evaluate(_rf(), df.iloc[:0], y[:0])
    with pytest.raises(EvaluationDataError, match="folds must be an integer >= 2"):
        evaluate(_rf(), df, y, folds=1)
    with pytest.raises(EvaluationDataError, match=r"k must be in \[1, 90\]"):
        evaluate(_rf(), df, y, folds=3, repeats=1, k=500)


def test_learning_curve(data):
    df, y = data
    curve = learning_curve(_rf(), df, y, sizes=(10, 25, 50, 400), repeats=2, random_state=0)
    assert curve.sizes == [10, 25, 50, 72] and curve.skipped_sizes == [400] and curve.n_test == 18
    assert curve.values["r2"].shape == (4, 2)
    assert curve.mean("r2")[-1] > curve.mean("r2")[0]  # more architectures help on a learnable truth
    assert json.loads(json.dumps(curve.to_dict()))["sizes"] == [10, 25, 50, 72]
    with pytest.raises(EvaluationDataError, match="at least 7 architectures"):
        learning_curve(_rf(), df.iloc[:5], y[:5])


def test_permutation_importance_finds_the_truth(data):
    df, y = data
    imp = permutation_importance(make_predictor("rf", group="extended", random_state=0, n_estimators=30), df, y, folds=3, n_repeats=2)
    assert list(imp.columns) == ["feature", "importance_mean", "importance_std"]
    assert len(imp) == len(feature_group_names("extended"))
    # the truth is a function of density (and layers); density or an exact proxy of it must lead
    assert set(imp.feature[:3]) & {"density", "degree_centrality_mean", "edges"}


def test_metrics_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert compute_metric("r2", y, y) == 1.0
    assert compute_metric("kendall", y, y[::-1]) == pytest.approx(-1.0)
    assert compute_metric("mae", y, y + 0.5) == 0.5
    assert compute_metric("precision_at_k", y, [4, 3, 2, 1], k=2) == 0.0
    assert compute_metric("top_k_regret", y, [0, 0, 0, 1], k=1) == 0.0
    assert compute_metric("top_k_regret", y, [4, 3, 2, 1], k=1, maximize=False) == 3.0
    assert np.isnan(compute_metric("spearman", y, [1, 1, 1, 1]))


# --- BCa intervals -------------------------------------------------------------------------


def test_intervals_are_scipy_bca_over_architectures(data):
    import scipy.stats

    from predictors.intervals import SCIPY_RNG_KEYWORD, bootstrap_interval

    df, y = data
    report = evaluate(_rf(), df, y, folds=3, repeats=2, n_bootstrap=200, random_state=3, metrics=("r2", "spearman"))
    oof = report.oof_predictions

    def statistic(idx):
        return np.mean([compute_metric("r2", y[idx], row[idx]) for row in oof])

    direct = scipy.stats.bootstrap((np.arange(len(y)),), statistic, n_resamples=200, vectorized=False, method="BCa",
                                   **{SCIPY_RNG_KEYWORD: np.random.default_rng(3)})  # fmt: skip
    assert report.low["r2"] == pytest.approx(direct.confidence_interval.low, rel=1e-12)
    assert report.high["r2"] == pytest.approx(direct.confidence_interval.high, rel=1e-12)
    low, high, methods = bootstrap_interval(statistic, len(y), n_resamples=200, random_state=3)
    assert methods == ["BCa"] and (low[0], high[0]) == pytest.approx((report.low["r2"], report.high["r2"]), rel=1e-12)


def test_degenerate_or_undefined_statistics_fall_back_to_percentiles():
    from predictors.intervals import bootstrap_interval

    y = np.r_[np.zeros(9), 1.0]

    def statistic(idx):
        # constant; undefined (NaN) on resamples without the 1.0; the mean (BCa works)
        return [1.0, y[idx].max() if y[idx].max() > 0 else np.nan, y[idx].mean()]

    low, high, methods = bootstrap_interval(statistic, 10, n_resamples=300, random_state=0)
    assert methods == ["percentile", "percentile", "BCa"]
    assert (low[0], high[0]) == (1.0, 1.0) and (low[1], high[1]) == (1.0, 1.0)
    assert np.isfinite([low[2], high[2]]).all() and low[2] <= 0.1 <= high[2]
    low, high, methods = bootstrap_interval(lambda idx: np.nan, 10, n_resamples=50)
    assert np.isnan(low[0]) and np.isnan(high[0]) and methods == ["percentile"]


# --- grouped K-fold ------------------------------------------------------------------------


def test_group_kfold_splits_keep_groups_whole():
    from predictors.splits import group_kfold_splits

    rng = np.random.default_rng(0)
    groups = rng.integers(0, 17, size=120).astype(str)  # 17 families of relatives, unequal sizes
    splits = group_kfold_splits(groups, folds=5, repeats=4, random_state=7)
    assert len(splits) == 20
    for r in range(4):
        tested = np.concatenate([test for _, test in splits[5 * r: 5 * r + 5]])
        assert sorted(tested) == list(range(120))  # each architecture tested once per repeat
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
        assert len(train) + len(test) == 120 and len(test) > 0
    sizes = [len(test) for _, test in splits]
    assert max(sizes) - min(sizes) <= np.bincount(np.unique(groups, return_inverse=True)[1]).max()
    # repeats reshuffle; the seed reproduces
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(splits[:5], splits[5:10]))
    again = group_kfold_splits(groups, folds=5, repeats=4, random_state=7)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again))
    with pytest.raises(EvaluationDataError, match="at least 5 distinct groups, got 3"):
        group_kfold_splits(["a", "b", "c", "a"], folds=5)


def test_evaluate_with_grouped_kfold(data):
    df, y = data
    relatives = np.arange(len(df)) // 3  # 30 families of 3
    report = evaluate(_rf(), df, y, groups=relatives, cv="group_kfold", folds=3, repeats=2, n_bootstrap=50)
    assert report.cv == "group_kfold" and report.grouped and report.repeats == 2 and report.folds == 3
    assert len(report.fold_values["r2"]) == 6 and np.isfinite(report.oof_predictions).all()
    assert "2×3-fold CV over whole groups" in report.to_table() and "per held-out group" not in report.to_table()
    assert report.to_dict()["cv"] == "group_kfold"
    # the default with groups is still leave-one-group-out
    assert evaluate(_rf(), df, y, groups=df["prior"], n_bootstrap=0).cv == "logo"
    with pytest.raises(EvaluationDataError, match="needs groups"):
        evaluate(_rf(), df, y, cv="group_kfold")
    with pytest.raises(EvaluationDataError, match="cv='kfold' ignores groups"):
        evaluate(_rf(), df, y, cv="kfold", groups=relatives)
    with pytest.raises(EvaluationDataError, match="cv must be one of"):
        evaluate(_rf(), df, y, cv="loo")


@pytest.mark.parametrize("sizes", [[10, 20, 40, 80], list(range(10, 130, 10))])
def test_the_learning_curve_is_labelled_at_its_sizes_as_plain_integers_without_minor_labels(sizes):
    from predictors.learning_curve import LearningCurve
    from predictors.plots import MAX_SIZE_LABELS, learning_curve_figure

    rng = np.random.default_rng(0)
    curve = LearningCurve(sizes=sizes, values={"r2": rng.random((len(sizes), 3)), "kendall": rng.random((len(sizes), 3))},
                          n_test=20, repeats=3)
    ax = learning_curve_figure(curve).axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == f"{sizes[0]:,}" and labels[-1] == f"{sizes[-1]:,}" and len(labels) <= MAX_SIZE_LABELS
    assert set(labels) <= {f"{s:,}" for s in sizes}
    assert all(t.get_text() == "" for t in ax.get_xticklabels(minor=True))
