"""Which features a predictor relies on: permutation importance on held-out folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.inspection import permutation_importance as _sk_permutation_importance
from sklearn.model_selection import KFold

from predictors.exceptions import EvaluationDataError
from predictors.inputs import check_target, n_rows, prepare, take_rows

__all__ = ["permutation_importance"]


def permutation_importance(
    pipeline,
    genomes,
    y,
    *,
    folds: int = 5,
    n_repeats: int = 5,
    random_state: int = 0,
    scoring: str = "r2",
) -> pd.DataFrame:
    """Permutation feature importance on held-out folds.

    For each of ``folds`` folds the pipeline is fitted on the training part; each feature of the
    test part is shuffled ``n_repeats`` times and the drop of ``scoring`` recorded.

    Returns
    -------
    DataFrame
        Columns ``feature``, ``importance_mean``, ``importance_std``, sorted by decreasing mean.

    Raises
    ------
    EvaluationDataError
        Fewer architectures than folds, or a bad target.
    """
    n = n_rows(genomes)
    y = check_target(y, n)
    if n < folds or folds < 2:
        raise EvaluationDataError(f"{folds}-fold permutation importance needs at least {max(folds, 2)} architectures, got {n}")
    X, est, names = prepare(pipeline, genomes, random_state)
    if names is None:
        raise EvaluationDataError("permutation importance needs a pipeline starting with GraphFeatures or a numeric matrix")
    chunks = []
    kf = KFold(n_splits=folds, shuffle=True, random_state=random_state)
    for i, (train, test) in enumerate(kf.split(np.zeros(n))):
        model = clone(est).fit(take_rows(X, train), y[train])
        result = _sk_permutation_importance(
            model, take_rows(X, test), y[test], n_repeats=n_repeats, random_state=random_state + i, scoring=scoring
        )
        chunks.append(result.importances)
    imp = np.concatenate(chunks, axis=1)
    df = pd.DataFrame({"feature": names, "importance_mean": imp.mean(axis=1), "importance_std": imp.std(axis=1)})
    return df.sort_values("importance_mean", ascending=False, kind="stable").reset_index(drop=True)
