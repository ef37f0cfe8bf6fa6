"""Pareto fronts and the hypervolume of scored candidates, through :mod:`moocore`.

Objectives come with *weights*: ``+1`` for a maximised objective (accuracy), ``-1`` for a
minimised one (a cost: nonzero weights, parameters, FLOPs), as :attr:`Objectives.weights` gives
them. The hypervolume of a set of points is the area (volume) of the objective space they
dominate up to a *reference point* that every point should beat — for (accuracy, cost): accuracy 0
and the largest cost considered. :func:`normalised_hypervolume` divides it by the reference box,
so it reads as a share of the unit square: 1 would be accuracy 1 at cost 0.

Examples
--------
>>> pts = np.array([[0.9, 5.0], [0.8, 2.0], [0.7, 6.0]])
>>> pareto_ranks(pts, (1.0, -1.0)).tolist(), nondominated(pts, (1.0, -1.0)).tolist()
([0, 0, 1], [True, True, False])
>>> round(hypervolume(pts, (1.0, -1.0), (0.0, 10.0)), 6)  # 0.8 x (5 - 2) + 0.9 x (10 - 5)
6.9
>>> round(normalised_hypervolume(pts, (1.0, -1.0), (0.0, 10.0)), 6)
0.69
"""

from __future__ import annotations

from typing import Sequence

import moocore
import numpy as np

__all__ = ["pareto_ranks", "nondominated", "hypervolume", "normalised_hypervolume"]


def _maximise(weights: Sequence[float]) -> list[bool]:
    return [float(w) > 0 for w in weights]


def _points(points, weights) -> np.ndarray:
    return np.asarray(points, dtype=float).reshape(-1, len(weights))


def pareto_ranks(points, weights: Sequence[float]) -> np.ndarray:
    """The non-dominated front of each point (0: dominated by no other point; equal points share
    a front)."""
    pts = _points(points, weights)
    if len(pts) == 0:
        return np.zeros(0, dtype=int)
    return np.asarray(moocore.pareto_rank(pts, maximise=_maximise(weights)), dtype=int)


def nondominated(points, weights: Sequence[float]) -> np.ndarray:
    """Boolean mask of the points no other point dominates (equal points are all kept)."""
    pts = _points(points, weights)
    if len(pts) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(moocore.is_nondominated(pts, maximise=_maximise(weights), keep_weakly=True), dtype=bool)


def hypervolume(points, weights: Sequence[float], reference: Sequence[float]) -> float:
    """The hypervolume ``points`` dominate up to ``reference`` (0 for no points; points that do
    not beat the reference add nothing; NaN rows are left out)."""
    pts = _points(points, weights)
    pts = pts[~np.isnan(pts).any(axis=1)]
    if len(pts) == 0:
        return 0.0
    return float(moocore.hypervolume(pts, ref=np.asarray(reference, dtype=float), maximise=_maximise(weights)))


def normalised_hypervolume(points, weights: Sequence[float], reference: Sequence[float],
                           best: Sequence[float] | None = None) -> float:
    """:func:`hypervolume` divided by the box between ``reference`` and ``best`` (default: 1 for
    a maximised objective, 0 for a minimised one — accuracy 1 at no cost)."""
    if best is None:
        best = [1.0 if m else 0.0 for m in _maximise(weights)]
    box = float(np.prod(np.abs(np.asarray(best, dtype=float) - np.asarray(reference, dtype=float))))
    return hypervolume(points, weights, reference) / box if box > 0 else float("nan")
