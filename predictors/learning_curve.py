"""How a predictor improves with more training architectures (:func:`learning_curve`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import ShuffleSplit

from predictors.evaluation import clean
from predictors.exceptions import EvaluationDataError
from predictors.inputs import check_target, n_rows, prepare, take_rows
from predictors.metrics import compute_metric, default_k

__all__ = ["LearningCurve", "learning_curve", "DEFAULT_SIZES"]

DEFAULT_SIZES = (25, 50, 100, 200, 400)


@dataclass
class LearningCurve:
    """A metric against the number of training architectures.

    Attributes
    ----------
    sizes : list of int
        Training-set sizes used (requested sizes that fit, then the whole training pool).
    values : dict[str, ndarray]
        Per metric, shape ``(len(sizes), repeats)``: the metric on the held-out architectures.
    n_test : int
        Held-out architectures per repeat.
    skipped_sizes : list of int
        Requested sizes larger than the training pool.
    """

    sizes: list
    values: dict
    n_test: int
    repeats: int
    skipped_sizes: list = field(default_factory=list)

    def mean(self, metric: str) -> np.ndarray:
        return np.nanmean(self.values[metric], axis=1)

    def std(self, metric: str) -> np.ndarray:
        return np.nanstd(self.values[metric], axis=1)

    def to_dict(self) -> dict:
        return {
            "sizes": list(self.sizes),
            "n_test": self.n_test,
            "repeats": self.repeats,
            "skipped_sizes": list(self.skipped_sizes),
            "metrics": {
                m: {"mean": [clean(float(v)) for v in self.mean(m)], "std": [clean(float(v)) for v in self.std(m)]}
                for m in self.values
            },
        }


def learning_curve(
    pipeline,
    genomes,
    y,
    *,
    sizes: Sequence[int] = DEFAULT_SIZES,
    test_fraction: float = 0.2,
    repeats: int = 5,
    random_state: int = 0,
    metrics: Sequence[str] = ("r2", "kendall"),
    min_size: int = 5,
) -> LearningCurve:
    """How the predictor improves with more training architectures.

    Each repeat holds out ``test_fraction`` of the architectures (seeded shuffle) and trains on
    random subsets of the rest of each size. Sizes larger than the pool are skipped and listed;
    the whole pool is always the last point.

    Raises
    ------
    EvaluationDataError
        Too few architectures for a test set of two and a training set of ``min_size``.
    """
    n = n_rows(genomes)
    y = check_target(y, n)
    if not 0 < test_fraction < 1:
        raise EvaluationDataError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n_test = max(2, int(round(test_fraction * n)))
    pool = n - n_test
    if pool < min_size:
        raise EvaluationDataError(f"a learning curve needs at least {min_size + 2} architectures, got {n}")
    used = sorted({int(s) for s in sizes if min_size <= s < pool}) + [pool]
    skipped = sorted(int(s) for s in sizes if s > pool)
    X, est, _ = prepare(pipeline, genomes, random_state)
    rng = np.random.default_rng(random_state)
    splitter = ShuffleSplit(n_splits=repeats, test_size=n_test, random_state=random_state)
    values = {m: np.full((len(used), repeats), np.nan) for m in metrics}
    for r, (train_pool, test) in enumerate(splitter.split(np.zeros(n))):
        for i, size in enumerate(used):
            train = rng.choice(train_pool, size=size, replace=False)
            if np.ptp(y[train]) == 0:
                continue  # a constant training target teaches nothing; leave NaN
            pred = clone(est).fit(take_rows(X, train), y[train]).predict(take_rows(X, test))
            for m in metrics:
                values[m][i, r] = compute_metric(m, y[test], pred, k=default_k(n_test))
    return LearningCurve(sizes=used, values=values, n_test=n_test, repeats=repeats, skipped_sizes=skipped)
