"""Strategies compared across runs: each run's best accuracy, aggregated per strategy over seeds.

:func:`compare_runs` opens run directories and groups them by strategy (``ga``, ``random``, ...;
" (no gate)" when gating is off). A run's value is its best fully trained survivor's mean final
test accuracy (:func:`nas.report.run.best_final_accuracy`) or, without a final phase, its best
screening test accuracy. Per strategy: mean ± sample std over runs; between strategies: Welch's
t-test and the Mann–Whitney U test. ``nas report RUN --compare OTHER ...`` writes the result into
``report.md`` (:func:`compare_section`), ``compare.csv`` and ``compare_tests.csv``.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from nas.report.run import (
    FINAL_MEASURE,
    best_final_accuracy,
    best_screening,
    fmt_number,
    is_missing,
    open_run_ledger,
)

__all__ = ["compare_runs", "aggregate", "Comparison", "strategy_label", "budget_label", "compare_section"]


def strategy_label(config) -> str:
    """A run's strategy as grouped in comparisons: the strategy, plus " (no gate)" with gating off."""
    return f"{config.strategy}{'' if config.gating else ' (no gate)'}"


@dataclass(frozen=True)
class Comparison:
    """Runs aggregated per strategy (see :func:`compare_runs`).

    Attributes
    ----------
    runs : pandas.DataFrame
        One row per run: ``run``, ``strategy`` (label), ``seed``, ``task``, ``measure``, ``value``
        (NaN for a run with no result).
    groups : pandas.DataFrame
        One row per strategy, in order of first appearance: ``strategy``, ``runs`` (with a
        result), ``seeds`` and ``values`` (space-separated, by seed), ``measure`` (the measures
        used, `` / ``-separated when they differ), ``mean``, ``std`` (sample std, ddof 1; NaN for
        one run).
    tests : pandas.DataFrame
        One row per pair of strategies: ``a``, ``b``, ``n_a``, ``n_b``, ``welch_t``, ``welch_p``
        (``scipy.stats.ttest_ind(equal_var=False)``), ``mannwhitney_u``, ``mannwhitney_p``
        (``scipy.stats.mannwhitneyu``, two-sided; U of ``a``), ``mannwhitney_min_p`` (the
        smallest p the exact test can give with these sizes and no ties: 2 / C(n_a + n_b, n_a)),
        ``note`` (why a value is missing). NaN where no test is possible (fewer than 2 runs).
    """

    runs: object
    groups: object
    tests: object


def budget_label(config) -> str:
    """What a run spent on its networks, in words: screening and final training overrides (the
    task's defaults where none), the final phase's size, candidates per generation and the
    compute cap. Two runs with different labels are not compared at one budget."""
    def options(d):
        return ", ".join(f"{k}={v}" for k, v in sorted(d.items())) or "task defaults"

    parts = [f"screening {options(config.train_options)}", f"{config.population} x {config.generations} candidates"]
    if config.compute_budget is not None:
        parts.append(f"compute <= {config.compute_budget:,} example-epochs")
    if config.final_top:
        parts.append(f"final: top {config.final_top} x {config.final_seeds} seeds, {options(config.final_train_options)}")
    else:
        parts.append("no final phase")
    return "; ".join(parts)


def _run_result(ledger) -> tuple[float | None, str]:
    """A run's best final test accuracy, else its best screening accuracy; and which it is."""
    final = best_final_accuracy(ledger)
    if final is not None:
        return final, FINAL_MEASURE
    return best_screening(ledger)


def aggregate(entries) -> Comparison:
    """Aggregate ``(run_dir, config, ledger)`` entries per strategy label (see :class:`Comparison`)."""
    rows, seen = [], set()
    for run_dir, config, ledger in entries:
        where = Path(run_dir).resolve()
        if where in seen:  # the same run named twice counts once
            continue
        seen.add(where)
        value, measure = _run_result(ledger)
        rows.append({"run": str(run_dir), "strategy": strategy_label(config), "seed": int(config.seed),
                     "task": config.task, "budget": budget_label(config), "measure": measure,
                     "value": math.nan if value is None else value})
    runs = pd.DataFrame(rows, columns=["run", "strategy", "seed", "task", "budget", "measure", "value"])
    labels = list(dict.fromkeys(runs["strategy"]))
    values: dict[str, np.ndarray] = {}
    groups = []
    for label in labels:
        sub = runs[(runs["strategy"] == label) & runs["value"].notna()].sort_values(["seed", "run"])
        v = sub["value"].to_numpy(dtype=float)
        values[label] = v
        groups.append({
            "strategy": label, "runs": len(v), "seeds": " ".join(str(x) for x in sub["seed"]),
            "measure": " / ".join(sorted(set(sub["measure"]))) or "no result",
            "mean": float(v.mean()) if v.size else math.nan,
            "std": float(v.std(ddof=1)) if v.size > 1 else math.nan,
            "values": " ".join(repr(float(x)) for x in v),
        })
    tests = []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            x, y = values[a], values[b]
            row = {"a": a, "b": b, "n_a": len(x), "n_b": len(y), "welch_t": math.nan, "welch_p": math.nan,
                   "mannwhitney_u": math.nan, "mannwhitney_p": math.nan, "mannwhitney_min_p": math.nan, "note": ""}
            if len(x) < 2 or len(y) < 2:
                row["note"] = "no test possible: fewer than 2 runs in a group"
            else:
                with warnings.catch_warnings():  # constant groups: scipy warns and returns NaN, said in the note
                    warnings.simplefilter("ignore", RuntimeWarning)
                    welch = stats.ttest_ind(x, y, equal_var=False)
                    mwu = stats.mannwhitneyu(x, y, alternative="two-sided")
                row.update(welch_t=float(welch.statistic), welch_p=float(welch.pvalue),
                           mannwhitney_u=float(mwu.statistic), mannwhitney_p=float(mwu.pvalue),
                           mannwhitney_min_p=min(1.0, 2.0 / math.comb(len(x) + len(y), len(x))))
                if math.isnan(row["welch_p"]):
                    row["note"] = "Welch's t undefined: no spread within either group"
            tests.append(row)
    tests = pd.DataFrame(tests, columns=["a", "b", "n_a", "n_b", "welch_t", "welch_p", "mannwhitney_u",
                                         "mannwhitney_p", "mannwhitney_min_p", "note"])
    groups = pd.DataFrame(groups, columns=["strategy", "runs", "seeds", "measure", "mean", "std", "values"])
    return Comparison(runs=runs, groups=groups, tests=tests)


def compare_runs(run_dirs: Sequence[str | os.PathLike]) -> Comparison:
    """Aggregate search runs per strategy: mean ± std over runs of each run's best accuracy, and tests.

    A run's value is its best final test accuracy (:func:`best_final_accuracy`) or, when its
    search has no final records, its best screening test accuracy: the highest ``test_accuracy``
    over its trained candidates (the primary metric when there is no such column). Runs group by
    :func:`strategy_label`; runs of one group differ by seed. Each pair of strategies with at
    least 2 runs each gets Welch's t-test and the two-sided Mann–Whitney U test.

    Parameters
    ----------
    run_dirs : paths
        Search run directories (a directory named twice counts once).

    Returns
    -------
    Comparison

    Raises
    ------
    ConfigError
        A directory is not a search run directory.
    LedgerError
        A run's ledger cannot be opened or holds malformed final records.
    """
    entries = []
    for run_dir in run_dirs:
        ledger, config = open_run_ledger(run_dir)
        entries.append((run_dir, config, ledger))
    return aggregate(entries)


def compare_section(comparison: Comparison) -> list[str]:
    """Markdown: runs aggregated per strategy, and the tests between strategies."""
    groups, tests, runs = comparison.groups, comparison.tests, comparison.runs
    lines = [
        "", "## Strategies compared across runs", "",
        f"This run and the {len(runs) - 1} compared run(s), grouped by strategy (\"(no gate)\": gating off); runs "
        "of one strategy differ by seed. A run's value is its best *final test accuracy* (its best survivor's "
        "mean over seeds, after full training) or, for a run without final training, its best *screening test "
        "accuracy* (the highest `test_accuracy` over its trained candidates; the primary metric when there is "
        "none). Mean ± sample std (ddof 1) over runs; also in `compare.csv`.",
        "",
        "| strategy | runs | seeds | measure | mean ± std |",
        "|---|---|---|---|---|",
    ]
    for _, g in groups.iterrows():
        std = "" if is_missing(g["std"]) else f" ± {g['std']:.4f}"
        seeds = ", ".join(g["seeds"].split()) or "–"
        lines.append(f"| {g['strategy']} | {g['runs']} | {seeds} | {g['measure']} | {fmt_number(g['mean'])}{std} |")
    measures = set(runs.loc[runs["value"].notna(), "measure"])
    if len(measures) > 1:
        lines += ["", f"**Caution:** the runs do not share one measure ({', '.join(sorted(measures))}); final and "
                      "screening accuracies are not comparable, so run the final phase on every run or on none."]
    elif measures and FINAL_MEASURE not in measures:
        lines += ["", "Screening accuracy is the maximum over every trained candidate of a noisy short-training "
                      "value: it is biased upward, more so for runs that trained more candidates (gating off)."]
    if runs["task"].nunique() > 1:
        lines += ["", f"**Caution:** the runs are of different tasks ({', '.join(sorted(runs['task'].unique()))})."]
    if runs["budget"].nunique() > 1:
        lines += ["", "**Caution:** the runs had different budgets, so their values are not compared at one budget: "
                      + "; ".join(f"`{Path(r['run']).name}`: {r['budget']}" for _, r in runs.iterrows()) + "."]
    empty = runs[runs["value"].isna()]
    if not empty.empty:
        lines += ["", "Runs without any result (left out): " + ", ".join(f"`{r}`" for r in empty["run"]) + "."]
    if tests.empty:
        return lines
    lines += [
        "", "Between each pair of strategies: Welch's t-test (unequal variances) and the Mann–Whitney U test, "
            "both two-sided; also in `compare_tests.csv`.",
        "",
        "| A | B | runs | Welch t | p | Mann–Whitney U | p | smallest possible Mann–Whitney p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, t in tests.iterrows():
        n = f"{t['n_a']} vs {t['n_b']}"
        if t["note"].startswith("no test"):
            lines.append(f"| {t['a']} | {t['b']} | {n} | no test possible: fewer than 2 runs in a group "
                         "| – | – | – | – |")
            continue
        lines.append(f"| {t['a']} | {t['b']} | {n} | {fmt_number(t['welch_t'], '+.2f')} | {fmt_number(t['welch_p'], '.3g')} | "
                     f"{fmt_number(t['mannwhitney_u'], '.1f')} | {fmt_number(t['mannwhitney_p'], '.3g')} | "
                     f"{fmt_number(t['mannwhitney_min_p'], '.3g')} |")
        if t["note"]:
            lines.append(f"| | | | {t['note']} | | | | |")
    sizes = sorted(set(groups.loc[groups["runs"] > 0, "runs"]))
    n_words = " or ".join(str(n) for n in sizes)
    lines += [
        "",
        f"With n = {n_words} runs per group these tests have little power when n is small: only a large, "
        "consistent difference reaches p < 0.05, and a larger p is no evidence that the strategies perform "
        "alike. The exact Mann–Whitney test cannot go below 2 / C(n_A + n_B, n_A) without ties (last column; "
        "0.1 for 3 + 3 runs, above the usual 0.05 whatever the data); more seeds per strategy are the remedy.",
    ]
    return lines
