"""The registry of regressors and the predictor pipeline.

Every entry builds a fresh, unfitted scikit-learn regressor from its name, a ``random_state`` and
keyword parameters, and declares whether it needs scaled inputs, whether it gives a predictive
uncertainty, and its hyperparameter space for :func:`predictors.tune`.

How sure a prediction is: :mod:`predictors.uncertainty`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import (
    AdaBoostRegressor,
    ExtraTreesRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel
from sklearn.linear_model import BayesianRidge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVR
from sklearn.utils.validation import check_is_fitted, validate_data

from predictors.exceptions import PredictorError, UnknownModelError
from predictors.features import GraphFeatures

__all__ = [
    "ModelSpec",
    "EnsembleRegressor",
    "GaussianProcess",
    "register_model",
    "get_model_spec",
    "list_models",
    "make_regressor",
    "make_predictor",
    "make_paper_predictor",
]

SearchSpace = Callable[["object", int], dict]  # (optuna trial, n_train) -> params


@dataclass(frozen=True)
class ModelSpec:
    """A registered regressor.

    Parameters
    ----------
    name : str
    build : callable
        ``build(random_state, **params) -> regressor`` (unfitted).
    scale : bool
        Whether the pipeline standardises the features before this model.
    uncertainty : str
        ``"native"`` (``predict(X, return_std=True)``), ``"trees"`` (per-tree spread) or ``"none"``.
    space : callable
        ``space(trial, n_train) -> params``: the Optuna search space (bounded).
    doc : str
    """

    name: str
    build: Callable[..., object]
    scale: bool
    uncertainty: str
    space: SearchSpace = field(repr=False)
    doc: str = ""


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
    """Add a regressor to the registry.

    Raises
    ------
    PredictorError
        ``spec.name`` is already registered and ``replace`` is False, or ``spec.uncertainty`` is
        not one of ``"native"``, ``"trees"``, ``"none"``.
    """
    if spec.uncertainty not in ("native", "trees", "none"):
        raise PredictorError(f"uncertainty must be 'native', 'trees' or 'none', got {spec.uncertainty!r}")
    if spec.name in _REGISTRY and not replace:
        raise PredictorError(f"model {spec.name!r} is already registered; pass replace=True to override")
    _REGISTRY[spec.name] = spec
    return spec


def get_model_spec(name: str) -> ModelSpec:
    """The registered :class:`ModelSpec` called ``name``; raises :class:`UnknownModelError`."""
    if name not in _REGISTRY:
        raise UnknownModelError(name, _REGISTRY)
    return _REGISTRY[name]


def list_models() -> list[str]:
    """Names of the registered regressors, sorted."""
    return sorted(_REGISTRY)


def make_regressor(name: str, random_state=None, **params):
    """A fresh, unfitted regressor from the registry.

    Parameters
    ----------
    name : str
        One of :func:`list_models`, e.g. ``"rf"``, ``"gp"``, ``"ensemble"``.
    random_state : int or None
        Seed for models that draw random numbers (ignored by deterministic ones).
    **params
        Hyperparameters of the model (those of the scikit-learn class; for ``svr`` those of the
        inner :class:`~sklearn.svm.SVR`).

    Raises
    ------
    UnknownModelError
        ``name`` is not registered.
    PredictorError
        A parameter the model does not accept.

    Examples
    --------
    >>> make_regressor("rf", random_state=0, n_estimators=10).n_estimators
    10
    """
    spec = get_model_spec(name)
    try:
        return spec.build(random_state, **params)
    except TypeError as err:
        raise PredictorError(f"model {name!r} does not accept the parameters {sorted(params)}: {err}") from None


def make_predictor(model: str = "rf", group: str = "extended", random_state=None, extra_columns: Sequence[str] = (), **params) -> Pipeline:
    """A predictor pipeline: :class:`GraphFeatures` → scaler (where the model needs one) → regressor.

    Parameters
    ----------
    model : str
        A registered regressor name.
    group : str
        Feature group of :class:`GraphFeatures`.
    random_state : int or None
    extra_columns : sequence of str
        Extra numeric columns of a DataFrame input, used as features.
    **params
        Hyperparameters of the regressor.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``"features"``, optionally ``"scale"``, and ``"model"``.
    """
    spec = get_model_spec(model)
    steps = [("features", GraphFeatures(group=group, extra_columns=tuple(extra_columns)))]
    if spec.scale:
        steps.append(("scale", StandardScaler()))
    steps.append(("model", make_regressor(model, random_state=random_state, **params)))
    return Pipeline(steps)


def make_paper_predictor(random_state=None) -> Pipeline:
    """The predictor of Stier et al. (2021), reproducibly seeded: their 23 features, min-max
    scaled, into a random forest with scikit-learn's defaults.

    ``GraphFeatures(group="paper") → MinMaxScaler() → RandomForestRegressor(random_state=...)``,
    every other parameter at its default (100 trees, as in the authors' code; the registry's
    ``rf`` has 200). The baseline every predictor of ours is compared with
    (:func:`predictors.compare_predictors`).

    Parameters
    ----------
    random_state : int or None
        Seed of the forest.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``"features"``, ``"scale"``, ``"model"`` (the names of :func:`make_predictor`).

    Examples
    --------
    >>> pipe = make_paper_predictor(0)
    >>> [name for name, _ in pipe.steps], pipe.named_steps["model"].n_estimators
    (['features', 'scale', 'model'], 100)
    """
    return Pipeline(
        [
            ("features", GraphFeatures(group="paper")),
            ("scale", MinMaxScaler()),
            ("model", RandomForestRegressor(random_state=random_state)),
        ]
    )


# --- our own estimator ---------------------------------------------------------------------


class EnsembleRegressor(RegressorMixin, BaseEstimator):
    """Average of a few registered regressors; its uncertainty is the members' spread.

    Parameters
    ----------
    members : tuple of str, default ("rf", "extra_trees", "hgb", "bayes_ridge")
        Registered model names; members that need scaling get their own scaler.
    n_estimators : int, default 100
        Trees per tree-based member.
    random_state : int or None
        Each member gets its own seed derived from it.

    Attributes
    ----------
    estimators_ : list of fitted estimators
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(40.0).reshape(20, 2); y = X[:, 0] * 2
    >>> m = EnsembleRegressor(members=("rf", "bayes_ridge"), n_estimators=10, random_state=0).fit(X, y)
    >>> mean, std = m.predict(X[:3], return_std=True)
    >>> mean.shape, std.shape
    ((3,), (3,))
    """

    def __init__(self, members: Sequence[str] = ("rf", "extra_trees", "hgb", "bayes_ridge"), n_estimators: int = 100, random_state=None):
        self.members = members
        self.n_estimators = n_estimators
        self.random_state = random_state

    def _member(self, name: str, seed: int):
        if name == "ensemble":
            raise PredictorError("an ensemble cannot contain itself; choose members among the other models")
        spec = get_model_spec(name)
        params = {"n_estimators": self.n_estimators} if name in ("rf", "extra_trees", "adaboost") else {}
        reg = spec.build(seed, **params)
        return make_pipeline(StandardScaler(), reg) if spec.scale else reg

    def fit(self, X, y):
        """Fit every member on ``(X, y)``; returns self."""
        X, y = validate_data(self, X, y, y_numeric=True)
        if isinstance(self.members, str) or len(self.members) == 0:
            raise PredictorError(f"members must be a non-empty sequence of model names, got {self.members!r}")
        if not isinstance(self.n_estimators, (int, np.integer)) or self.n_estimators < 1:
            raise PredictorError(f"n_estimators must be a positive integer, got {self.n_estimators!r}")
        seeds = np.random.SeedSequence(self.random_state).generate_state(len(self.members))
        self.estimators_ = [self._member(name, int(seed)).fit(X, y) for name, seed in zip(self.members, seeds)]
        return self

    def predict(self, X, return_std: bool = False):
        """Mean of the members' predictions (and their standard deviation if ``return_std``)."""
        check_is_fitted(self, "estimators_")
        X = validate_data(self, X, reset=False)
        preds = np.stack([est.predict(X) for est in self.estimators_])
        mean = preds.mean(axis=0)
        return (mean, preds.std(axis=0)) if return_std else mean


class GaussianProcess(GaussianProcessRegressor):
    """scikit-learn's Gaussian process, except that ``predict`` refuses to run before ``fit``.

    The parent class predicts from the prior when unfitted, which would let a forgotten ``fit``
    pass as a (meaningless) prediction. Parameters and attributes are those of
    :class:`~sklearn.gaussian_process.GaussianProcessRegressor`.
    """

    def predict(self, X, return_std=False, return_cov=False):
        """Predictive mean (and std or covariance); raises NotFittedError before ``fit``."""
        check_is_fitted(self, "X_train_")
        return super().predict(X, return_std=return_std, return_cov=return_cov)


# --- the registered models -----------------------------------------------------------------


def _int(trial, name, low, high, log=False):
    return trial.suggest_int(name, low, max(low, high), log=log)


def _forest_space(trial, n_train):
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 400, step=50),
        "max_depth": trial.suggest_int("max_depth", 2, 32, log=True),
        "min_samples_leaf": _int(trial, "min_samples_leaf", 1, min(10, max(1, n_train // 4))),
        "max_features": trial.suggest_float("max_features", 0.2, 1.0),
    }


def _svr(random_state, **params):
    # Accuracies live in [0, 1]; SVR's epsilon-tube would swallow them unless the target is scaled.
    return TransformedTargetRegressor(regressor=SVR(**params), transformer=StandardScaler())


_GP_KERNELS = {
    "rbf": lambda: RBF(1.0, (1e-2, 1e3)),
    "matern32": lambda: Matern(1.0, (1e-2, 1e3), nu=1.5),
    "matern52": lambda: Matern(1.0, (1e-2, 1e3), nu=2.5),
}


def _gp(random_state, alpha=1e-10, n_restarts_optimizer=1, kernel="rbf", **params):
    if kernel not in _GP_KERNELS:
        raise PredictorError(f"gp kernel must be one of {sorted(_GP_KERNELS)}, got {kernel!r}")
    # isotropic length scale: with 40+ features and a few hundred architectures, one length scale
    # per feature (ARD) overfits the marginal likelihood and multiplies the fitting time
    k = ConstantKernel(1.0, (1e-3, 1e3)) * _GP_KERNELS[kernel]() + WhiteKernel(0.1, (1e-6, 1e1))
    return GaussianProcess(
        kernel=k, alpha=alpha, normalize_y=True, n_restarts_optimizer=n_restarts_optimizer, random_state=random_state, **params
    )


#: The registered models (users may add their own with :func:`register_model`).
DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        "bayes_ridge",
        lambda rs, **p: BayesianRidge(**p),
        scale=True,
        uncertainty="native",
        space=lambda t, n: {k: t.suggest_float(k, 1e-8, 1e-2, log=True) for k in ("alpha_1", "alpha_2", "lambda_1", "lambda_2")},
        doc="Bayesian ridge regression (linear; predictive std).",
    ),
    ModelSpec(
        "rf",
        lambda rs, **p: RandomForestRegressor(random_state=rs, **{"n_estimators": 200, **p}),
        scale=False,
        uncertainty="trees",
        space=_forest_space,
        doc="Random forest, 200 trees (per-tree spread).",
    ),
    ModelSpec(
        "extra_trees",
        lambda rs, **p: ExtraTreesRegressor(random_state=rs, **{"n_estimators": 200, **p}),
        scale=False,
        uncertainty="trees",
        space=_forest_space,
        doc="Extremely randomised trees, 200 trees (per-tree spread).",
    ),
    ModelSpec(
        "hgb",
        lambda rs, **p: HistGradientBoostingRegressor(random_state=rs, **p),
        scale=False,
        uncertainty="none",
        space=lambda t, n: {
            "learning_rate": t.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "max_iter": t.suggest_int("max_iter", 50, 500, step=50),
            "max_leaf_nodes": t.suggest_int("max_leaf_nodes", 4, 64, log=True),
            "min_samples_leaf": _int(t, "min_samples_leaf", 2, min(40, max(2, n // 4))),
            "l2_regularization": t.suggest_float("l2_regularization", 1e-6, 10.0, log=True),
        },
        doc="Histogram gradient boosting.",
    ),
    ModelSpec(
        "adaboost",
        lambda rs, **p: AdaBoostRegressor(random_state=rs, **p),
        scale=False,
        uncertainty="none",
        space=lambda t, n: {
            "n_estimators": t.suggest_int("n_estimators", 25, 300, step=25),
            "learning_rate": t.suggest_float("learning_rate", 0.01, 2.0, log=True),
            "loss": t.suggest_categorical("loss", ["linear", "square", "exponential"]),
        },
        doc="AdaBoost.R2 over depth-3 trees.",
    ),
    ModelSpec(
        "svr",
        _svr,
        scale=True,
        uncertainty="none",
        space=lambda t, n: {
            "C": t.suggest_float("C", 1e-2, 1e2, log=True),
            "epsilon": t.suggest_float("epsilon", 1e-3, 1.0, log=True),
            "gamma": t.suggest_float("gamma", 1e-4, 1.0, log=True),
        },
        doc="RBF support-vector regression on a standardised target.",
    ),
    ModelSpec(
        "knn",
        lambda rs, **p: KNeighborsRegressor(**{"n_neighbors": 5, **p}),
        scale=True,
        uncertainty="none",
        space=lambda t, n: {
            "n_neighbors": _int(t, "n_neighbors", 1, min(30, max(1, n - 1))),
            "weights": t.suggest_categorical("weights", ["uniform", "distance"]),
        },
        doc="k nearest neighbours on standardised features.",
    ),
    ModelSpec(
        "gp",
        _gp,
        scale=True,
        uncertainty="native",
        space=lambda t, n: {
            "alpha": t.suggest_float("alpha", 1e-10, 1e-1, log=True),
            "kernel": t.suggest_categorical("kernel", sorted(_GP_KERNELS)),
        },
        doc="Gaussian process, constant × RBF (or Matérn) + white noise, normalised target (predictive std).",
    ),
    ModelSpec(
        "ensemble",
        lambda rs, **p: EnsembleRegressor(random_state=rs, **p),
        scale=False,
        uncertainty="native",
        space=lambda t, n: {"n_estimators": t.suggest_int("n_estimators", 50, 300, step=50)},
        doc="Mean of rf, extra_trees, hgb and bayes_ridge (members' spread).",
    ),
)

for _spec in DEFAULT_MODELS:
    register_model(_spec, replace=True)
