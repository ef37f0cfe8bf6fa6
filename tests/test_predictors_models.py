"""The regressor registry: one contract test over every registered model, check_estimator on ours."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.gaussian_process.kernels import RBF
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import check_estimator

import predictors
from predictors.models import GaussianProcess
from predictors import EnsembleRegressor, get_model_spec, list_models, make_predictor, make_regressor, predict_with_uncertainty
from predictors.exceptions import PredictorError, UnknownModelError
from predictors.synthetic import synthetic_evaluations

# keep every model small so the contract runs fast
SMALL = {
    "rf": {"n_estimators": 10},
    "extra_trees": {"n_estimators": 10},
    "ensemble": {"n_estimators": 10, "members": ("rf", "extra_trees", "bayes_ridge")},
    "hgb": {"max_iter": 20},
    "adaboost": {"n_estimators": 10},
    "gp": {"n_restarts_optimizer": 0},
}


@pytest.fixture(scope="module")
def data():
    df = synthetic_evaluations(40, seed=3)
    return df, df["test_accuracy"].to_numpy()


def test_registry_has_the_issue_models():
    assert {"bayes_ridge", "rf", "extra_trees", "hgb", "adaboost", "svr", "knn", "gp", "ensemble"} <= set(list_models())


@pytest.mark.parametrize("name", list_models())
def test_regressor_contract(name):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    y = X[:, 0] - 0.5 * X[:, 1] ** 2 + 0.01 * rng.normal(size=30)
    reg = make_regressor(name, random_state=0, **SMALL.get(name, {}))
    with pytest.raises(NotFittedError):
        reg.predict(X)
    assert reg.fit(X, y) is reg
    pred = reg.predict(X)
    assert pred.shape == (30,) and np.isfinite(pred).all()
    # same seed, same predictions
    again = make_regressor(name, random_state=0, **SMALL.get(name, {})).fit(X, y).predict(X)
    np.testing.assert_allclose(pred, again)


@pytest.mark.parametrize("name", list_models())
def test_pipeline_and_uncertainty_contract(name, data):
    df, y = data
    pipe = make_predictor(name, group="paper", random_state=0, **SMALL.get(name, {}))
    assert isinstance(pipe, Pipeline) and pipe.steps[0][0] == "features" and pipe.steps[-1][0] == "model"
    assert ("scale" in pipe.named_steps) == get_model_spec(name).scale
    pipe.fit(df, y)
    result = predict_with_uncertainty(pipe, df.genome.tolist()[:7])
    mean, std = result
    np.testing.assert_allclose(mean, pipe.predict(df.genome.tolist()[:7]), rtol=1e-6, atol=1e-9)
    assert std.shape == (7,) and (std >= 0).all()
    assert result.has_uncertainty == (get_model_spec(name).uncertainty != "none") == predictors.has_uncertainty(pipe)
    if result.has_uncertainty:
        assert std.max() > 0
    else:
        assert (std == 0).all()


def test_unknown_model_and_bad_params():
    with pytest.raises(UnknownModelError, match="unknown model 'xgb'; expected one of: adaboost"):
        make_regressor("xgb")
    with pytest.raises(UnknownModelError):
        make_predictor("xgb")
    with pytest.raises(PredictorError, match="does not accept the parameters"):
        make_regressor("knn", no_such_param=3)


def test_gp_kernels():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    for kernel in ("rbf", "matern32", "matern52"):
        assert make_regressor("gp", random_state=0, kernel=kernel, n_restarts_optimizer=0).fit(X, y).predict(X).shape == (20,)
    with pytest.raises(PredictorError, match="gp kernel must be one of"):
        make_regressor("gp", kernel="linear")


def test_ensemble_members_validated():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    with pytest.raises(PredictorError, match="cannot contain itself"):
        EnsembleRegressor(members=("rf", "ensemble"), n_estimators=5).fit(X, y)
    with pytest.raises(UnknownModelError):
        EnsembleRegressor(members=("rf", "nope"), n_estimators=5).fit(X, y)


@pytest.mark.parametrize(
    "estimator",
    [EnsembleRegressor(members=("rf", "bayes_ridge"), n_estimators=5, random_state=0), GaussianProcess(kernel=RBF(), optimizer=None)],
    ids=lambda e: type(e).__name__,
)
def test_our_regressors_pass_check_estimator(estimator):
    check_estimator(estimator)
