"""What predictor gating did, from a benchmark that ran a strategy both ungated (``NAME``) and
gated (``NAME+gate``) on the same seeds.

Per pair of runs (one seed): the candidates the strategy proposed, how many the gate left
untrained, the compute that saved (those candidates × the run's mean trained cost: what training
them would have cost), and the gated run's best validation value at the budget minus the ungated
run's. Over seeds: medians, the Wilcoxon signed-rank test of the paired differences
(:func:`scipy.stats.wilcoxon`; runs of one seed share generation 0, so the pairs are matched), and
the compute ratio of the gated arm against the ungated one (:func:`~nas.studies.bench.compare.compute_ratio`:
> 1 means gating reached the ungated search's final median best with less compute).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from nas.studies.bench.compare import ALPHA, MIN_SEEDS, compute_ratio
from nas.studies.bench.config import GATED
from nas.studies.bench.curves import Trace, value_at

__all__ = ["gating_table", "GATING_COLUMNS"]

GATING_COLUMNS = ["strategy", "gated", "pairs", "proposed", "trained", "skipped", "saved_share", "saved_compute",
                  "best_val_diff", "p_wilcoxon", "ratio", "ci_low", "ci_high", "verdict"]


def _pair_rows(plain: list[Trace], gated: list[Trace], budget: int) -> list[dict]:
    by_seed = {t.seed: t for t in plain}
    rows = []
    for g in gated:
        u = by_seed.get(g.seed)
        if u is None:
            continue
        trained = int(g.compute.size)
        per = float(g.total_compute / trained) if trained else math.nan
        rows.append({"proposed": g.proposed, "trained": trained, "skipped": g.skipped,
                     "saved_share": g.skipped / g.proposed if g.proposed else math.nan,
                     "saved_compute": g.skipped * per, "diff": value_at(g, budget)[0] - value_at(u, budget)[0]})
    return rows


def _verdict(pairs: int, p: float, diff: float, ratio: dict) -> str:
    if pairs < MIN_SEEDS:
        return f"cannot tell: fewer than {MIN_SEEDS} paired seeds"
    quality = ("no quality difference detected" if math.isnan(p) or p >= ALPHA
               else "better with gating" if diff > 0 else "worse with gating")
    if ratio["ci_low"] > 1:
        speed = "reaches the ungated final median best with less compute"
    elif ratio["ci_high"] < 1:
        speed = "needs more compute than ungated"
    else:
        speed = "compute to the target: no difference detected"
    return f"{quality}; {speed}"


def gating_table(traces: list[Trace], budget: int, strategies: list[str]) -> pd.DataFrame:
    """One row per strategy run both ungated and gated (see the module docstring); empty without such a pair."""
    by = {s: [t for t in traces if t.strategy == s] for s in strategies}
    rows = []
    for name in strategies:
        gated_name = f"{name}{GATED}"
        if name.endswith(GATED) or gated_name not in by or not by[name] or not by[gated_name]:
            continue
        pairs = _pair_rows(by[name], by[gated_name], budget)
        if not pairs:
            continue
        frame = pd.DataFrame(pairs)
        diffs = frame["diff"].dropna().to_numpy(float)
        p = math.nan
        if len(diffs) >= MIN_SEEDS and np.any(diffs != 0):
            p = float(stats.wilcoxon(diffs).pvalue)
        ratio = compute_ratio(by[name], by[gated_name], budget)
        rows.append({"strategy": name, "gated": gated_name, "pairs": len(frame),
                     "proposed": float(frame["proposed"].median()), "trained": float(frame["trained"].median()),
                     "skipped": float(frame["skipped"].median()), "saved_share": float(frame["saved_share"].median()),
                     "saved_compute": float(frame["saved_compute"].median()),
                     "best_val_diff": float(np.median(diffs)) if diffs.size else math.nan, "p_wilcoxon": p,
                     "ratio": ratio["ratio"], "ci_low": ratio["ci_low"], "ci_high": ratio["ci_high"],
                     "verdict": _verdict(len(frame), p, float(np.median(diffs)) if diffs.size else math.nan, ratio)})
    return pd.DataFrame(rows, columns=GATING_COLUMNS)
