"""How sure a prediction is: a mean and a standard deviation from any registered model.

:func:`predict_with_uncertainty` gives a mean and a standard deviation for every model:

* ``gp`` (Gaussian process) and ``bayes_ridge``: the model's predictive standard deviation;
* ``rf`` and ``extra_trees``: the spread (standard deviation) of the per-tree predictions;
* ``ensemble``: the spread of its members' predictions;
* ``hgb``, ``adaboost``, ``svr``, ``knn``: zeros, with ``has_uncertainty`` False on the result,
  so a search can tell "certain" from "unknown".
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.linear_model import BayesianRidge
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from predictors.models import EnsembleRegressor

__all__ = ["UncertainPrediction", "has_uncertainty", "predict_with_uncertainty"]


class UncertainPrediction(tuple):
    """``(mean, std)``, unpacks as a pair; ``has_uncertainty`` says whether ``std`` is real."""

    def __new__(cls, mean, std, has_uncertainty: bool):
        obj = super().__new__(cls, (mean, std))
        obj.has_uncertainty = bool(has_uncertainty)
        return obj

    @property
    def mean(self) -> np.ndarray:
        return self[0]

    @property
    def std(self) -> np.ndarray:
        return self[1]


def _final(estimator):
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


def has_uncertainty(estimator) -> bool:
    """Whether :func:`predict_with_uncertainty` gives a real spread for this pipeline/regressor."""
    final = _final(estimator)
    if isinstance(final, (RandomForestRegressor, ExtraTreesRegressor)):
        return True
    if isinstance(final, (GaussianProcessRegressor, BayesianRidge, EnsembleRegressor)):
        return True
    return False


def predict_with_uncertainty(pipeline, X) -> UncertainPrediction:
    """Predicted mean and standard deviation for each architecture.

    Parameters
    ----------
    pipeline : fitted Pipeline or regressor
    X : architectures (or a feature matrix for a bare regressor)

    Returns
    -------
    UncertainPrediction
        Unpacks as ``(mean, std)``; ``std`` is the GP's / Bayesian ridge's predictive standard
        deviation, the per-tree spread of a forest, the members' spread of the ensemble, or zeros
        (then ``result.has_uncertainty`` is False).
    """
    check_is_fitted(pipeline)
    if isinstance(pipeline, Pipeline):
        Xt = pipeline[:-1].transform(X) if len(pipeline.steps) > 1 else X
    else:
        Xt = X
    final = _final(pipeline)
    if isinstance(final, (RandomForestRegressor, ExtraTreesRegressor)):
        Xt = np.asarray(Xt, dtype=np.float32)  # trees are fitted on float32; avoid per-tree re-validation cost
        per_tree = np.stack([tree.predict(Xt) for tree in final.estimators_])
        return UncertainPrediction(final.predict(Xt), per_tree.std(axis=0), True)
    if isinstance(final, (GaussianProcessRegressor, BayesianRidge, EnsembleRegressor)):
        mean, std = final.predict(Xt, return_std=True)
        return UncertainPrediction(np.asarray(mean, dtype=float), np.asarray(std, dtype=float), True)
    mean = np.asarray(final.predict(Xt), dtype=float)
    return UncertainPrediction(mean, np.zeros_like(mean), False)
