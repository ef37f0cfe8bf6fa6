"""Learning curves of a prior study's runs (``curve`` in ``runs.jsonl``: validation and test
accuracy and loss, training loss, after every epoch), read at any epoch."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from nas.exceptions import StudyError
from nas.studies.priors.run import diverged

__all__ = ["genome_curves", "last_gain", "value_at"]


def last_gain(curve) -> float:
    """The last epoch's gain of a learning curve (a list of values per epoch); NaN if shorter than 2."""
    values = [v for v in (curve or []) if v is not None and math.isfinite(v)]
    return float(values[-1] - values[-2]) if len(values) >= 2 else math.nan


def value_at(record: dict, epoch: int, chance: float) -> float:
    """Validation accuracy of a run after ``epoch`` (its last value if it stopped earlier; chance if
    it diverged).

    Raises
    ------
    StudyError
        The run has no learning curve (recorded before studies kept them).
    """
    if diverged(record):
        return chance
    curve = [v for v in ((record.get("curve") or {}).get("val_accuracy") or []) if v is not None]
    if not curve:
        raise StudyError(f"run of genome {record['id']!r} (seed {record['seed']}) has no learning curve; "
                         "calibration needs runs recorded with curves")
    return float(curve[min(epoch, len(curve)) - 1])


def genome_curves(runs: pd.DataFrame) -> dict:
    """A genome's mean validation and test curves over its seeds (JSON, the epochs all seeds ran)
    and the mean last-epoch gain in validation accuracy; empty for runs recorded without curves."""
    out = {}
    for key, column in (("val_accuracy", "val_curve"), ("test_accuracy", "test_curve")):
        curves = [c.get(key) for c in runs["curve"] if isinstance(c, dict)] if "curve" in runs else []
        curves = [c for c in curves if c and any(v is not None for v in c)]
        if not curves:
            continue
        epochs = min(len(c) for c in curves)
        out[column] = json.dumps([float(np.mean(values)) if (values := [c[e] for c in curves if c[e] is not None])
                                  else None for e in range(epochs)])
        if key == "val_accuracy":
            gains = [g for g in map(last_gain, curves) if math.isfinite(g)]
            out["last_gain"] = float(np.mean(gains)) if gains else math.nan
    return out
