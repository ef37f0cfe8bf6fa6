"""Best-first order of scored candidates, for one objective or a Pareto front of two.

The strategies that pick "the best" of a set — the aging evolution's tournament, the predictor
strategies' ranking of predicted values — use one rule: the non-dominated front first (Pareto
rank), then the first objective, then the position in the set (so ties are deterministic). With
one objective this is plain "highest value first, earliest on ties".
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from nas.search.pareto import pareto_ranks

__all__ = ["pareto_fronts", "best_first"]


def pareto_fronts(points: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """The non-dominated front of each point (0 = not dominated by any other point).

    Parameters
    ----------
    points : array of shape (n, k)
        Objective values, one row per candidate.
    weights : sequence of k floats
        ``+1`` for a maximised objective, ``-1`` for a minimised one (:attr:`Objectives.weights`).

    Returns
    -------
    numpy.ndarray of int, shape (n,)

    Examples
    --------
    >>> pareto_fronts(np.array([[0.9, 5.0], [0.8, 2.0], [0.7, 6.0]]), (1.0, -1.0)).tolist()
    [0, 0, 1]
    """
    return pareto_ranks(points, weights)


def best_first(points: np.ndarray, weights: Sequence[float]) -> list[int]:
    """Indices of ``points`` best first: Pareto front, then the first objective, then position.

    Examples
    --------
    >>> best_first(np.array([[0.5], [0.9], [0.9], [0.1]]), (1.0,))
    [1, 2, 0, 3]
    """
    points = np.asarray(points, dtype=float).reshape(len(points), -1)
    fronts = pareto_fronts(points, weights)
    first = points[:, 0] * float(weights[0]) if len(points) else np.zeros(0)
    return sorted(range(len(points)), key=lambda i: (int(fronts[i]), -first[i], i))
