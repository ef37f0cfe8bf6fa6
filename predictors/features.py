"""The feature transformer: architectures → a numeric feature matrix.

:class:`GraphFeatures` is a stateless scikit-learn transformer. It turns genomes, layered DAGs or
genome-JSON strings (or a :class:`pandas.DataFrame` with a ``genome`` column) into the structural
features of :mod:`search_spaces.features`, optionally followed by extra numeric columns of the
DataFrame (zero-cost proxies, first-epoch metrics, ...), so that their value can be measured
separately. Features are a pure function of each architecture, so the transformer learns nothing
in :meth:`GraphFeatures.fit` beyond the column names; this is what lets the evaluation compute
the matrix once and cross-validate the rest of a pipeline without leakage.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from predictors.exceptions import EvaluationDataError
from search_spaces.dag import LayeredDAG
from search_spaces.exceptions import SearchSpaceError
from search_spaces.features import FEATURE_GROUPS, feature_vector
from search_spaces.genome import Genome

__all__ = ["GraphFeatures", "GENOME_COLUMN", "feature_group_names", "as_architectures"]

GENOME_COLUMN = "genome"


def feature_group_names(group: str) -> tuple[str, ...]:
    """The structural feature names of a feature group of :mod:`search_spaces.features`.

    Parameters
    ----------
    group : str
        ``"paper"`` (the paper's 23), ``"extended"`` (every feature), ``"size"`` (baseline) or
        ``"normalised"`` (every feature with the size taken out: counts per vertex).

    Raises
    ------
    EvaluationDataError
        ``group`` is not one of the groups.
    """
    if group not in FEATURE_GROUPS:
        raise EvaluationDataError(f"unknown feature group {group!r}; expected one of: {', '.join(sorted(FEATURE_GROUPS))}")
    return tuple(FEATURE_GROUPS[group])


def _architecture(item, row: int) -> Genome | LayeredDAG:
    """One architecture given in any accepted form, as a Genome or a LayeredDAG."""
    if isinstance(item, LayeredDAG):
        return item
    try:
        genome = item if isinstance(item, Genome) else Genome.from_json(item) if isinstance(item, str) else None
    except SearchSpaceError as err:
        raise EvaluationDataError(f"row {row}: cannot read the genome: {err}") from None
    if genome is None:
        raise EvaluationDataError(
            f"row {row}: expected a Genome, a LayeredDAG or a genome JSON string, got {type(item).__name__}"
        )
    return genome


def as_architectures(X) -> list:
    """The architectures of ``X`` as a list (the ``genome`` column for a DataFrame)."""
    if isinstance(X, pd.DataFrame):
        if GENOME_COLUMN not in X.columns:
            raise EvaluationDataError(f"expected a column {GENOME_COLUMN!r}; got columns {list(X.columns)}")
        return list(X[GENOME_COLUMN])
    if isinstance(X, (Genome, LayeredDAG, str)):
        raise EvaluationDataError(f"expected a sequence of architectures, got a single {type(X).__name__}")
    if isinstance(X, np.ndarray):
        return list(X.ravel()) if X.ndim == 2 and X.shape[1] == 1 else list(X)
    return list(X)


class GraphFeatures(TransformerMixin, BaseEstimator):
    """Structural features of architectures, plus optional extra numeric columns.

    Parameters
    ----------
    group : {"paper", "extended", "size", "normalised"}, default "extended"
        Which structural features (:data:`search_spaces.features.FEATURE_GROUPS`).
    extra_columns : sequence of str, default ()
        Numeric columns of an input DataFrame appended after the structural features, e.g.
        zero-cost proxies (``synflow``, ``snip``) or first-epoch metrics. They require a DataFrame
        input.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        Names of the output columns, structural features first.
    n_features_out_ : int

    Raises
    ------
    EvaluationDataError
        An unknown group, a missing or non-numeric extra column, an unreadable genome, or a
        feature that is NaN/inf (never passed on silently).

    Examples
    --------
    >>> from search_spaces.genome import Genome
    >>> g = Genome("watts_strogatz", {"k": 4, "p": 0.5}, nodes=12, seed=1)
    >>> X = GraphFeatures(group="size").fit_transform([g, g.to_json()])
    >>> bool((X[0] == X[1]).all())
    True
    """

    def __init__(self, group: str = "extended", extra_columns: Sequence[str] = ()):
        self.group = group
        self.extra_columns = extra_columns

    def _names(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if isinstance(self.extra_columns, str):
            raise EvaluationDataError(f"extra_columns must be a sequence of column names, got the string {self.extra_columns!r}")
        return feature_group_names(self.group), tuple(self.extra_columns)

    def fit(self, X, y=None):
        """Record the output feature names (the features themselves need no fitting)."""
        structural, extra = self._names()
        self._check_extra(X, extra)
        self.feature_names_out_ = np.asarray([*structural, *extra], dtype=object)
        self.n_features_out_ = len(self.feature_names_out_)
        return self

    @staticmethod
    def _check_extra(X, extra: Iterable[str]) -> None:
        extra = list(extra)
        if not extra:
            return
        if not isinstance(X, pd.DataFrame):
            raise EvaluationDataError(f"extra columns {extra} need a DataFrame input, got {type(X).__name__}")
        missing = [c for c in extra if c not in X.columns]
        if missing:
            raise EvaluationDataError(f"extra columns {missing} not found; the data has columns {list(X.columns)}")

    def transform(self, X) -> np.ndarray:
        """The feature matrix, shape ``(n_architectures, n_features_out_)``, float64."""
        check_is_fitted(self, "feature_names_out_")

        structural, extra = self._names()
        if list(self.feature_names_out_) != [*structural, *extra]:
            raise EvaluationDataError(
                f"parameters changed since fit: features {list(self.feature_names_out_)} vs now {[*structural, *extra]}"
            )
        self._check_extra(X, extra)
        items = as_architectures(X)
        if not items:
            raise EvaluationDataError("expected at least one architecture, got none")
        out = np.empty((len(items), len(structural) + len(extra)), dtype=np.float64)
        for row, item in enumerate(items):
            # genomes hit search_spaces.features' cache: repeats (a GA population, a refit on
            # all evaluations so far) are decoded and computed once per process
            arch = _architecture(item, row)
            try:
                out[row, : len(structural)] = feature_vector(arch, structural)
            except SearchSpaceError as err:
                raise EvaluationDataError(f"row {row}: genome {arch} has no usable graph: {err}") from None
        if extra:
            try:
                out[:, len(structural):] = X[list(extra)].to_numpy(dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise EvaluationDataError(f"extra columns {list(extra)} must be numeric: {err}") from None
        bad = ~np.isfinite(out)
        if bad.any():
            rows, cols = np.nonzero(bad)
            names = [*structural, *extra]
            shown = ", ".join(f"row {r} {names[c]}={out[r, c]}" for r, c in list(zip(rows, cols))[:5])
            raise EvaluationDataError(f"expected finite features, got {int(bad.sum())} NaN/inf values ({shown})")
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output columns: structural features, then the extra columns."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
