"""Cross-validation splits: repeated K-fold, repeated grouped K-fold and leave-one-group-out.

One split list is drawn per evaluation and shared by everything scored on it (:func:`cv_splits`),
so pipelines compared on it are paired.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import RepeatedKFold

from predictors.exceptions import EvaluationDataError

__all__ = ["CVSplits", "CV_SCHEMES", "cv_splits", "group_kfold_splits"]

#: Cross-validation schemes of :func:`predictors.evaluate` (``cv=``): plain repeated K-fold,
#: repeated K-fold over whole groups, leave-one-group-out.
CV_SCHEMES = ("kfold", "group_kfold", "logo")


class CVSplits(NamedTuple):
    """The (train, test) index pairs of a cross-validation, in order, and how to read them."""

    splits: list
    repeats: int  # rows of out-of-fold predictions: each repeat tests every architecture once
    folds: int  # splits per repeat
    labels: list  # one per split: "repeat r / fold f", or the held-out group
    scheme: str  # one of CV_SCHEMES


def group_kfold_splits(groups, folds: int = 5, repeats: int = 1, random_state: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Repeated K-fold over whole groups: ``repeats × folds`` (train, test) index pairs.

    Each repeat deals the distinct groups, in an order shuffled by
    ``numpy.random.default_rng(random_state)``, one at a time to the fold that holds the fewest
    architectures so far (ties: the lowest fold), so folds are about equal in size and differ
    between repeats. Every architecture is tested exactly once per repeat, and no group is ever on
    both sides of a split. (scikit-learn's ``GroupKFold`` shuffles only from version 1.6 on and
    then balances group counts, not sizes; this works with every supported version.)

    Parameters
    ----------
    groups : sequence of hashable, shape (n,)
        A label per architecture; architectures with equal labels (relatives) stay together.
    folds, repeats : int
    random_state : int

    Returns
    -------
    list of (ndarray, ndarray)
        Repeat by repeat, fold by fold.

    Raises
    ------
    EvaluationDataError
        Missing labels, or fewer distinct groups than folds.

    Examples
    --------
    >>> groups = ["a", "a", "b", "c", "c", "d"]
    >>> splits = group_kfold_splits(groups, folds=2, repeats=3, random_state=0)
    >>> len(splits), sorted(np.concatenate([test for _, test in splits[:2]]).tolist())
    (6, [0, 1, 2, 3, 4, 5])
    >>> any({groups[i] for i in train} & {groups[i] for i in test} for train, test in splits)
    False
    """
    codes, uniques = pd.factorize(pd.Series(list(groups), dtype=object))
    if (codes < 0).any():
        raise EvaluationDataError(f"groups must not be missing; rows {np.flatnonzero(codes < 0)[:5].tolist()} have no label")
    if len(uniques) < folds:
        raise EvaluationDataError(f"{folds}-fold grouped CV needs at least {folds} distinct groups, got {len(uniques)}")
    sizes = np.bincount(codes)
    rng = np.random.default_rng(random_state)
    out = []
    for _ in range(repeats):
        load = np.zeros(folds, dtype=np.int64)
        fold_of = np.empty(len(uniques), dtype=np.int64)
        for g in rng.permutation(len(uniques)):
            f = int(np.argmin(load))
            fold_of[g] = f
            load[f] += sizes[g]
        row_fold = fold_of[codes]
        out.extend((np.flatnonzero(row_fold != f), np.flatnonzero(row_fold == f)) for f in range(folds))
    return out


def cv_splits(
    n: int,
    *,
    folds: int = 5,
    repeats: int = 10,
    random_state: int = 0,
    groups: Sequence | None = None,
    cv: str | None = None,
) -> CVSplits:
    """The splits of :func:`evaluate` for ``n`` architectures (also used by the comparison and nested CV).

    Parameters
    ----------
    n : int
    folds, repeats, random_state : int
        As in :func:`evaluate`; ignored by leave-one-group-out (one fold per group, one repeat).
    groups : sequence, optional
        A group label per architecture.
    cv : {"kfold", "group_kfold", "logo"}, optional
        Default: ``"logo"`` with ``groups``, ``"kfold"`` without.

    Raises
    ------
    EvaluationDataError
        Bad ``folds`` / ``repeats`` / ``cv``, a grouped scheme without groups (or groups with
        ``"kfold"``), groups of the wrong length, fewer than two groups (``"logo"``) or than
        ``folds`` groups (``"group_kfold"``), fewer architectures than folds.
    """
    if not isinstance(folds, (int, np.integer)) or folds < 2:
        raise EvaluationDataError(f"folds must be an integer >= 2, got {folds!r}")
    if not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise EvaluationDataError(f"repeats must be an integer >= 1, got {repeats!r}")
    if cv is None:
        cv = "kfold" if groups is None else "logo"
    if cv not in CV_SCHEMES:
        raise EvaluationDataError(f"cv must be one of {list(CV_SCHEMES)}, got {cv!r}")
    if cv == "kfold":
        if groups is not None:
            raise EvaluationDataError("cv='kfold' ignores groups; pass cv='group_kfold' or 'logo' to use them, or no groups")
        if n < folds:
            raise EvaluationDataError(f"{folds}-fold CV needs at least {folds} architectures, got {n}")
        splits = list(RepeatedKFold(n_splits=folds, n_repeats=repeats, random_state=random_state).split(np.zeros(n)))
        labels = [f"repeat {r} / fold {f}" for r in range(repeats) for f in range(folds)]
        return CVSplits(splits, int(repeats), int(folds), labels, cv)
    if groups is None:
        raise EvaluationDataError(f"cv={cv!r} needs groups (a label per architecture)")
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise EvaluationDataError(f"groups must have one label per architecture ({n}), got shape {groups.shape}")
    if cv == "group_kfold":
        splits = group_kfold_splits(groups, folds, repeats, random_state)
        labels = [f"repeat {r} / fold {f}" for r in range(repeats) for f in range(folds)]
        return CVSplits(splits, int(repeats), int(folds), labels, cv)
    labels = list(pd.unique(groups))
    if len(labels) < 2:
        raise EvaluationDataError(f"grouped CV needs at least 2 groups, got {labels}")
    splits = [(np.flatnonzero(groups != g), np.flatnonzero(groups == g)) for g in labels]
    return CVSplits(splits, 1, len(labels), labels, cv)
