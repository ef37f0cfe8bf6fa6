"""Strategies compared over seeds at one compute budget: quality, tests against the baseline, and
the compute ratio.

Per run (a :class:`~nas.studies.bench.curves.Trace`), at the budget: the best validation value,
the incumbent's test accuracy, the area under the anytime curve, the final phase's test accuracy,
and for a search with a second objective (a cost) the normalised hypervolume of (validation value,
cost) at a reference cost shared by every run: the largest cost any run trained within the budget.
Per strategy: median, mean ± sample std over seeds. Against the baseline (random search): the
two-sided Mann–Whitney U test of each measure, Holm-corrected over the strategies compared, and
Cliff's δ (> 0: the strategy tends to be higher).

**The compute ratio.** The target is the baseline's *final median best*: the median over its
seeds of the best validation value at the budget. For every seed of a strategy, the compute its
run needed to first reach the target (``inf``: not within the budget); a strategy's compute is
the (lower) median over its seeds — ``inf`` when most seeds never reach it ("not reached"). The
ratio is the baseline's compute over the strategy's: 3 means a third of random search's compute.
Its 95 % interval is a percentile bootstrap over seeds (:func:`scipy.stats.bootstrap`, both groups
resampled, the target recomputed from each baseline resample).

**Enough seeds?** The exact Mann–Whitney test with ``n`` and ``m`` seeds cannot give a p below
``2 / C(n + m, n)`` (0.1 for 3 + 3): with fewer than 3 seeds a group says "cannot tell", and a
comparison whose smallest possible p is above 0.05 says so instead of "no difference".
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from nas.studies.bench.curves import (
    Trace,
    area,
    compute_to_reach,
    cost_within,
    hypervolume_at,
    value_at,
)
from nas.studies.priors.stats import cliffs_delta, holm
from predictors.intervals import SCIPY_RNG_KEYWORD

__all__ = ["BenchSummary", "summarize", "run_table", "reference_cost", "measures_of", "lower_median", "compute_ratio", "ALPHA", "MIN_SEEDS",
           "MEASURES"]

ALPHA = 0.05
MIN_SEEDS = 3
#: The measures compared per run: column -> what it is.
MEASURES = {
    "best_val": "best validation value at the budget",
    "incumbent_test": "test accuracy of the incumbent at the budget",
    "auc": "area under the anytime curve / budget",
    "final_test": "final phase: test accuracy of the chosen survivor",
    "hypervolume": "hypervolume of (validation value, cost) at the budget",
}


def measures_of(runs: pd.DataFrame) -> list[str]:
    """The measures a run table holds (``hypervolume`` only with a second objective)."""
    return [m for m in MEASURES if m in runs.columns]


@dataclass(frozen=True)
class BenchSummary:
    """What :func:`summarize` measured: ``runs`` (one row per run), ``strategies`` (one per
    strategy), ``tests`` (one per strategy and measure, against the baseline) and ``ratios`` (one
    per strategy); ``target`` is the baseline's final median best."""

    runs: pd.DataFrame
    strategies: pd.DataFrame
    tests: pd.DataFrame
    ratios: pd.DataFrame
    target: float
    baseline: str
    budget: int
    reference_cost: float = math.nan  # the hypervolume's reference cost (NaN: one objective)


def lower_median(values) -> float:
    """The lower median (an element of ``values``: finite whenever at least half are).

    >>> lower_median([3.0, 1.0, math.inf, math.inf]), lower_median([2.0, math.inf, 1.0])
    (inf, 2.0)
    """
    v = np.sort(np.asarray(values, dtype=float))
    return float(v[(v.size - 1) // 2]) if v.size else math.nan


def reference_cost(traces: list[Trace], budget: int) -> float:
    """The largest cost any run trained within ``budget`` (NaN without a second objective)."""
    costs = np.concatenate([cost_within(t, budget) for t in traces]) if traces else np.zeros(0)
    costs = costs[np.isfinite(costs)]
    return float(costs.max()) if costs.size else math.nan


def run_table(traces: list[Trace], budget: int, reference: float = math.nan) -> pd.DataFrame:
    """One row per run: its measures at the budget (``hypervolume`` at the ``reference`` cost when
    it is given), its compute and seconds."""
    rows = []
    for t in traces:
        best, incumbent = value_at(t, budget)
        rows.append({"strategy": t.strategy, "seed": t.seed, "run": t.run, "best_val": best,
                     "incumbent_test": incumbent, "auc": area(t, budget), "final_test": t.final_test,
                     "evaluations": int(t.compute.size), "screening_compute": t.total_compute,
                     "reached_budget": t.total_compute >= budget, "final_compute": t.final_compute,
                     "train_time_s": t.train_time_s, "final_time_s": t.final_time_s})
        if not math.isnan(reference):
            rows[-1]["hypervolume"] = hypervolume_at(t, budget, reference)
    return pd.DataFrame(rows)


def _spread(values: np.ndarray) -> dict:
    v = values[~np.isnan(values)]
    return {"median": float(np.median(v)) if v.size else math.nan, "mean": float(v.mean()) if v.size else math.nan,
            "std": float(v.std(ddof=1)) if v.size > 1 else math.nan}


def _verdict(n: int, m: int, p_holm: float, delta: float, better: str, worse: str) -> str:
    if min(n, m) == 0:
        return "no values"
    if min(n, m) < MIN_SEEDS:
        return f"cannot tell: fewer than {MIN_SEEDS} seeds"
    smallest = 2.0 / math.comb(n + m, n)
    if smallest > ALPHA:
        return f"cannot tell: with {n} and {m} seeds the smallest possible p is {smallest:.3g}"
    if p_holm < ALPHA:
        return better if delta > 0 else worse
    return "no difference detected"


def _tests(runs: pd.DataFrame, baseline: str, strategies: list[str]) -> pd.DataFrame:
    rows = []
    others = [s for s in strategies if s != baseline]
    for measure in measures_of(runs):
        base = runs.loc[runs["strategy"] == baseline, measure].dropna().to_numpy(float)
        found = []
        for s in others:
            x = runs.loc[runs["strategy"] == s, measure].dropna().to_numpy(float)
            row = {"strategy": s, "baseline": baseline, "measure": measure, "n": len(x), "n_baseline": len(base),
                   "U": math.nan, "p": math.nan, "p_holm": math.nan, "cliffs_delta": math.nan,
                   "smallest_p": math.nan}
            if len(x) >= 1 and len(base) >= 1:
                u = stats.mannwhitneyu(x, base, alternative="two-sided")
                row.update(U=float(u.statistic), p=float(u.pvalue), cliffs_delta=cliffs_delta(x, base, u.statistic),
                           smallest_p=min(1.0, 2.0 / math.comb(len(x) + len(base), len(x))))
            found.append(row)
        tested = [i for i, r in enumerate(found) if not math.isnan(r["p"])]
        if tested:
            for i, p in zip(tested, holm([found[i]["p"] for i in tested])):
                found[i]["p_holm"] = float(p)
        for r in found:
            r["verdict"] = _verdict(r["n"], r["n_baseline"], r["p_holm"], r["cliffs_delta"],
                                    f"higher than {baseline}", f"lower than {baseline}")
        rows += found
    return pd.DataFrame(rows, columns=["strategy", "baseline", "measure", "n", "n_baseline", "U", "p", "p_holm",
                                       "cliffs_delta", "smallest_p", "verdict"])


def compute_ratio(base: list[Trace], other: list[Trace], budget: int, *, n_resamples: int = 2000, seed: int = 0) -> dict:
    """The compute ratio of ``other`` against ``base`` (see the module docstring), with its
    bootstrap interval.

    Returns
    -------
    dict
        ``target``, ``compute_baseline``, ``compute``, ``ratio`` (0 when ``other`` does not reach
        the target), ``ci_low``, ``ci_high``, ``reached`` (seeds of ``other`` that reach it),
        ``seeds``, ``per_seed`` (each seed's compute, ``inf`` = not reached).
    """
    base_best = np.array([value_at(t, budget)[0] for t in base])
    target = float(np.nanmedian(base_best)) if np.isfinite(base_best).any() else math.nan

    def ratio(ib, io) -> float:
        goal = float(np.nanmedian(base_best[ib])) if np.isfinite(base_best[ib]).any() else math.nan
        cb = lower_median([compute_to_reach(base[i], goal, budget) for i in ib])
        co = lower_median([compute_to_reach(other[i], goal, budget) for i in io])
        if math.isinf(co) or math.isnan(cb):
            return 0.0
        return math.inf if co == 0 else cb / co

    per_seed = [compute_to_reach(t, target, budget) for t in other]
    result = {"target": target, "compute_baseline": lower_median([compute_to_reach(t, target, budget) for t in base]),
              "compute": lower_median(per_seed), "seeds": len(other), "reached": int(np.isfinite(per_seed).sum()),
              "per_seed": per_seed, "ci_low": math.nan, "ci_high": math.nan}
    result["ratio"] = ratio(np.arange(len(base)), np.arange(len(other)))
    if len(base) >= 2 and len(other) >= 2:
        with warnings.catch_warnings():  # a constant bootstrap distribution (all seeds alike) is fine here
            warnings.simplefilter("ignore")
            boot = stats.bootstrap((np.arange(len(base)), np.arange(len(other))),
                                   lambda ib, io: ratio(ib.astype(int), io.astype(int)), vectorized=False,
                                   paired=False, n_resamples=n_resamples, method="percentile",
                                   **{SCIPY_RNG_KEYWORD: np.random.default_rng(seed)})
        result["ci_low"], result["ci_high"] = float(boot.confidence_interval.low), float(boot.confidence_interval.high)
    return result


def _ratio_verdict(r: dict, baseline: str) -> str:
    if math.isnan(r["target"]):
        return f"cannot tell: {baseline} has no result"
    if math.isinf(r["compute"]):
        return f"not reached: fewer than half of the seeds reach {baseline}'s final median best within the budget"
    if min(r["seeds"], r["seeds_baseline"]) < MIN_SEEDS:
        return f"cannot tell: fewer than {MIN_SEEDS} seeds"
    if r["ci_low"] > 1:
        return f"needs less compute than {baseline}"
    if r["ci_high"] < 1:
        return f"needs more compute than {baseline}"
    return "no difference detected (the interval holds 1)"


def summarize(traces: list[Trace], budget: int, baseline: str, strategies: list[str] | None = None) -> BenchSummary:
    """Everything the benchmark's report says (see the module docstring)."""
    strategies = strategies or list(dict.fromkeys(t.strategy for t in traces))
    reference = reference_cost(traces, budget)
    runs = run_table(traces, budget, reference)
    groups = []
    for s in strategies:
        sub = runs[runs["strategy"] == s]
        row = {"strategy": s, "seeds": len(sub)}
        for measure in measures_of(runs):
            for k, v in _spread(sub[measure].to_numpy(float)).items():
                row[f"{measure}_{k}"] = v
        row["screening_compute_median"] = float(sub["screening_compute"].median()) if len(sub) else math.nan
        row["final_compute_median"] = float(sub["final_compute"].median()) if len(sub) else math.nan
        row["train_time_s_median"] = float(sub["train_time_s"].median()) if len(sub) else math.nan
        row["runs_short_of_budget"] = int((~sub["reached_budget"]).sum())
        groups.append(row)
    by = {s: [t for t in traces if t.strategy == s] for s in {*strategies, baseline}}
    ratios = []
    for s in strategies:
        r = compute_ratio(by[baseline], by[s], budget)
        r.update(strategy=s, baseline=baseline, seeds_baseline=len(by[baseline]))
        r["verdict"] = "the baseline" if s == baseline else _ratio_verdict(r, baseline)
        r["per_seed"] = " ".join("inf" if math.isinf(c) else f"{c:.0f}" for c in r["per_seed"])
        ratios.append(r)
    ratio_columns = ["strategy", "baseline", "target", "compute_baseline", "compute", "ratio", "ci_low", "ci_high",
                     "reached", "seeds", "seeds_baseline", "per_seed", "verdict"]
    target = ratios[strategies.index(baseline)]["target"] if baseline in strategies else math.nan
    return BenchSummary(runs=runs, strategies=pd.DataFrame(groups), tests=_tests(runs, baseline, strategies),
                        ratios=pd.DataFrame(ratios, columns=ratio_columns), target=target, baseline=baseline,
                        budget=budget, reference_cost=reference)
