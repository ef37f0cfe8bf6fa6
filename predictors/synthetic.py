"""Synthetic evaluation data with a known truth, for tests, demos and sanity checks.

The "accuracy" is a smooth function of two structural features plus Gaussian noise, so a sound
predictor must reach a high R² and rank correlation, and a broken one cannot. It is *not* a model
of real training results.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from predictors.exceptions import EvaluationDataError
from search_spaces.exceptions import SearchSpaceError
from search_spaces.features import graph_features
from search_spaces.genome import Genome
from search_spaces.priors import get_prior

__all__ = ["synthetic_accuracy", "synthetic_evaluations", "SYNTHETIC_PRIORS"]

SYNTHETIC_PRIORS = ("watts_strogatz", "barabasi_albert", "erdos_renyi")


def synthetic_accuracy(features: dict) -> float:
    """The noiseless synthetic target: a smooth function of ``density`` and ``layers``.

    Examples
    --------
    >>> round(synthetic_accuracy({"density": 0.24, "layers": 10}), 3)
    0.6
    """
    return float(0.6 + 0.25 * np.tanh(6.0 * (features["density"] - 0.24)) - 0.1 * np.tanh((features["layers"] - 10) / 8.0))


def synthetic_evaluations(
    n: int,
    *,
    seed: int = 0,
    priors: Sequence[str] = SYNTHETIC_PRIORS,
    nodes: tuple[int, int] = (10, 30),
    noise: float = 0.01,
    family: str = "ff",
) -> pd.DataFrame:
    """``n`` random genomes with a synthetic ``test_accuracy`` (and the noiseless ``true_accuracy``).

    Genomes cycle through ``priors``; parameters are drawn by each prior's ``sample_params``;
    draws that give an edgeless graph are replaced by the next draw.

    Returns
    -------
    DataFrame
        Columns ``genome`` (JSON), ``prior``, ``test_accuracy``, ``true_accuracy``, ``epoch1_accuracy``
        (the truth plus more noise: an "early metric" extra feature).

    Raises
    ------
    EvaluationDataError
        ``n`` < 1 or a bad ``nodes`` range.
    """
    if n < 1:
        raise EvaluationDataError(f"n must be >= 1, got {n}")
    if not 2 <= nodes[0] <= nodes[1]:
        raise EvaluationDataError(f"nodes must be a range (low, high) with 2 <= low <= high, got {nodes}")
    rng = np.random.default_rng(seed)
    rows = []
    attempts = 0
    while len(rows) < n:
        attempts += 1
        if attempts > 20 * n:
            raise EvaluationDataError(f"could not draw {n} usable genomes from {list(priors)} in {attempts} attempts")
        prior = priors[len(rows) % len(priors)]
        size = int(rng.integers(nodes[0], nodes[1] + 1))
        try:
            genome = Genome(prior, get_prior(prior).sample_params(size, rng), nodes=size, seed=int(rng.integers(0, 2**31)), family=family)
            feats = graph_features(genome.dag())
        except SearchSpaceError:
            continue
        truth = synthetic_accuracy(feats)
        rows.append(
            {
                "genome": genome.to_json(),
                "prior": prior,
                "test_accuracy": truth + noise * rng.standard_normal(),
                "true_accuracy": truth,
                "epoch1_accuracy": truth - 0.1 + 5 * noise * rng.standard_normal(),
            }
        )
    return pd.DataFrame(rows)
