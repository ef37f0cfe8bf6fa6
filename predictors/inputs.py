"""A predictor's inputs: the target checked, the feature step split off, unset seeds filled in.

Every evaluation (:func:`predictors.evaluate`, the comparison, tuning, learning curves, permutation
importance) prepares its inputs here, so all compute the feature matrix once and seed the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from predictors.exceptions import EvaluationDataError
from predictors.features import GraphFeatures, as_architectures
from predictors.models import make_predictor

__all__ = ["check_target", "seed_unset", "prepare", "take_rows", "n_rows"]


def check_target(y, n: int | None = None, name: str = "target") -> np.ndarray:
    """``y`` as a finite, non-constant float vector of length ``n``.

    Raises
    ------
    EvaluationDataError
        Wrong length, non-numeric, NaN/inf or constant values; the message shows them.
    """
    try:
        arr = np.asarray(y, dtype=np.float64).ravel()
    except (TypeError, ValueError) as err:
        raise EvaluationDataError(f"{name} must be numeric: {err}") from None
    if n is not None and arr.size != n:
        raise EvaluationDataError(f"{name} has {arr.size} values but there are {n} architectures")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        shown = ", ".join(f"row {i}: {arr[i]}" for i in bad[:5])
        raise EvaluationDataError(f"{name} must be finite; got {bad.size} NaN/inf values ({shown})")
    if arr.size and np.ptp(arr) == 0:
        raise EvaluationDataError(f"{name} is constant (every value is {float(arr[0])!r}); nothing to predict")
    return arr


def seed_unset(estimator, seed: int):
    """Give every unset ``random_state`` parameter a seed derived from ``seed`` (reproducible CV)."""
    params = estimator.get_params(deep=True)
    keys = sorted(k for k, v in params.items() if (k == "random_state" or k.endswith("__random_state")) and v is None)
    if keys:
        seeds = np.random.SeedSequence(seed).generate_state(len(keys))
        estimator.set_params(**{k: int(s) for k, s in zip(keys, seeds)})
    return estimator


def prepare(pipeline, X, random_state: int = 0):
    """Split off the feature step: ``(feature matrix or X, the rest of the pipeline, names)``.

    The returned estimator is an unfitted clone with unset seeds filled in from ``random_state``.
    """
    if isinstance(pipeline, str):
        pipeline = make_predictor(pipeline)
    est = clone(pipeline)
    if isinstance(est, Pipeline) and isinstance(est.steps[0][1], GraphFeatures) and len(est.steps) > 1:
        feats = est.steps[0][1].fit(X)
        Xf = feats.transform(X)
        rest = Pipeline(est.steps[1:])
        return Xf, seed_unset(rest, random_state), [str(n) for n in feats.get_feature_names_out()]
    if isinstance(X, pd.DataFrame):
        Xa = X
    else:
        Xa = np.asarray(X) if not isinstance(X, list) else np.asarray(as_architectures(X), dtype=object)
    names = None
    if isinstance(Xa, np.ndarray) and Xa.ndim == 2 and Xa.dtype != object:
        names = [f"x{i}" for i in range(Xa.shape[1])]
    return Xa, seed_unset(est, random_state), names


def take_rows(X, idx):
    """Rows ``idx`` of ``X`` (a DataFrame, array or object array)."""
    return X.iloc[idx] if isinstance(X, pd.DataFrame) else X[idx]


def n_rows(X) -> int:
    """How many architectures ``X`` holds."""
    return len(X)
