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

__all__ = ["check_target", "seed_unset", "prepare", "take_rows", "n_rows", "curve_features", "CURVE_COLUMNS"]

#: Columns a learning curve gives a predictor (:func:`curve_features`); present only for candidates
#: that have a curve, so they are extra features (``--extra-features curve_last,curve_slope``),
#: never default inputs.
CURVE_COLUMNS = ("curve_last", "curve_slope", "curve_epochs")


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


def curve_features(curve) -> dict[str, float]:
    """What a predictor may read of a learning curve (validation accuracy after each epoch).

    ``curve_last``: the last value; ``curve_slope``: the least-squares slope per epoch over the last
    three epochs (0 with one epoch: no change seen yet); ``curve_epochs``: how many epochs it has.
    A predictor of a longer budget's accuracy (a higher rung, the final training) can use them;
    as inputs for the *same* run's ``val_accuracy`` they leak the target (``curve_last`` is it).

    >>> {k: round(v, 3) for k, v in curve_features([0.5, 0.7, 0.8]).items()}
    {'curve_last': 0.8, 'curve_slope': 0.15, 'curve_epochs': 3.0}

    Raises
    ------
    EvaluationDataError
        An empty curve or one with non-finite values.
    """
    y = np.asarray(curve, dtype=np.float64).ravel()
    if y.size == 0 or not np.all(np.isfinite(y)):
        raise EvaluationDataError(f"a learning curve must be a non-empty list of finite values; got {list(y)[:5]}")
    tail = y[-3:]
    slope = float(np.polyfit(np.arange(tail.size, dtype=np.float64), tail, 1)[0]) if tail.size > 1 else 0.0
    return {"curve_last": float(y[-1]), "curve_slope": slope, "curve_epochs": float(y.size)}
