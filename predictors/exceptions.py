"""Typed errors of the ``predictors`` package."""

from __future__ import annotations

from search_spaces.exceptions import SparseNASError

__all__ = ["PredictorError", "EvaluationDataError", "PredictorFileError", "UnknownModelError", "CutShortWarning"]


class PredictorError(SparseNASError):
    """Base of errors raised by the ``predictors`` package."""


class EvaluationDataError(PredictorError, ValueError):
    """Evaluation data that cannot be used (too few rows, missing or constant target, NaN/inf)."""


class PredictorFileError(PredictorError):
    """A saved predictor that is unreadable, untrusted or made for another feature set."""


class UnknownModelError(PredictorError, KeyError):
    """A regressor name that is not registered."""

    def __init__(self, name: str, known):
        self.name = name
        self.known = sorted(known)
        super().__init__(f"unknown model {name!r}; expected one of: {', '.join(self.known)}")

    def __str__(self) -> str:
        return self.args[0]


class CutShortWarning(UserWarning):
    """A text table whose last line has no line end: it may have been cut short (an interrupted
    copy or download), and its last row then holds a damaged value."""
