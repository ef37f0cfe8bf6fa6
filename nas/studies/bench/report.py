"""The benchmark's outputs, from its folder alone: ``report.md``, the anytime curves and the tables.

:func:`write_bench_report` reads the settings (``bench.json``) and every run directory that has
trained something, then writes (atomically) into the benchmark's folder:

``anytime.png``
    Left: the best validation value so far against the cumulative screening compute; right: the
    incumbent's test accuracy. Median over seeds per strategy, the interquartile range shaded;
    the dotted line is the baseline's final median best (the compute ratio's target).
``anytime.csv``
    The same curves on a grid of 201 compute values: per strategy, median and quartiles.
``summary.csv``
    Per strategy: the measures' median, mean and std over seeds, compute, seconds, and the
    compute ratio with its interval.
``tests.csv``
    Per strategy and measure, against the baseline: Mann–Whitney U, p, Holm-corrected p, Cliff's
    δ, the smallest p the seeds allow, and the verdict.
``runs.csv``
    One row per run.
``report.md``
    The settings, the headline (compute ratios), the quality table, the tests, and what is
    missing (runs not finished, runs that stopped short of the budget).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from nas.provenance import atomic_path, write_text_atomic
from nas.studies.bench.compare import (
    ALPHA,
    MEASURES,
    MIN_SEEDS,
    BenchSummary,
    measures_of,
    summarize,
)
from nas.studies.bench.config import BenchConfig
from nas.studies.bench.curves import Trace, on_grid, read_trace
from nas.studies.bench.gating import gating_table
from nas.studies.bench.store import BenchStore

__all__ = ["write_bench_report", "read_traces", "OUTPUTS"]

OUTPUTS = ("report.md", "anytime.png", "anytime.csv", "summary.csv", "tests.csv", "runs.csv")
GRID_POINTS = 201


def read_traces(config: BenchConfig) -> tuple[list[Trace], list[str]]:
    """The traces of the runs that have a ledger, and the names of those that have none yet."""
    traces, missing = [], []
    for strategy, seed in config.runs():
        run_dir = config.run_dir(strategy, seed)
        if not (run_dir / "config.json").is_file():
            missing.append(run_dir.name)
            continue
        trace = read_trace(run_dir, strategy, seed)
        (traces if trace.compute.size else missing).append(trace if trace.compute.size else run_dir.name)
    return traces, missing


def _bands(traces: list[Trace], grid: np.ndarray) -> dict[str, np.ndarray]:
    best = np.array([on_grid(t, grid)[0] for t in traces])
    test = np.array([on_grid(t, grid)[1] for t in traces])
    out = {}
    with warnings.catch_warnings():  # grid points before any seed's first result are all NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        for name, m in (("best_val", best), ("incumbent_test", test)):
            out[f"{name}_median"] = np.nanmedian(m, axis=0)
            out[f"{name}_q25"] = np.nanpercentile(m, 25, axis=0)
            out[f"{name}_q75"] = np.nanpercentile(m, 75, axis=0)
    return out


def _curves(by: dict[str, list[Trace]], budget: int) -> pd.DataFrame:
    grid = np.linspace(0.0, float(budget), GRID_POINTS)
    frames = []
    for s, traces in by.items():
        if traces:
            frames.append(pd.DataFrame({"strategy": s, "compute": grid, **_bands(traces, grid)}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _plot(curves: pd.DataFrame, summary: BenchSummary, metric: str, path: Path) -> None:
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True)
    for ax, name, label in ((axes[0], "best_val", f"best {metric} so far"),
                            (axes[1], "incumbent_test", "test accuracy of the incumbent")):
        for i, (s, sub) in enumerate(curves.groupby("strategy", sort=False)):
            color = f"C{i}"
            n = int((summary.runs["strategy"] == s).sum())
            ax.step(sub["compute"], sub[f"{name}_median"], where="post", color=color, label=f"{s} (median of {n})")
            ax.fill_between(sub["compute"], sub[f"{name}_q25"], sub[f"{name}_q75"], step="post", color=color,
                            alpha=0.2, linewidth=0)
        ax.set_xlabel("screening compute (trained example-epochs)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    if not math.isnan(summary.target):
        axes[0].axhline(summary.target, color="grey", linestyle=":", linewidth=1,
                        label=f"{summary.baseline}'s final median best")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"anytime curves over seeds (shaded: interquartile range), budget {summary.budget:,} example-epochs")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)


def _p(value) -> str:
    """A p value with 2 significant digits (1e-05, not 0.000)."""
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2g}"


def _fmt(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "not reached"
    return f"{value:.{digits}f}"


def _ratio_text(r) -> str:
    if math.isinf(r["compute"]) or r["ratio"] == 0:
        return "not reached"
    interval = "" if math.isnan(r["ci_low"]) else f" [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
    return f"{r['ratio']:.2f}×{interval}"


def _gating_lines(gating: pd.DataFrame, metric: str) -> list[str]:
    """Markdown: what gating saved and cost, per strategy run both ungated and gated."""
    if gating.empty:
        return []
    lines = ["", "## Gating", "",
             "Each strategy run ungated and gated on the same seeds (pairs). Saved: the proposed candidates the gate "
             f"left untrained and what training them would have cost (median over pairs). Quality: the gated run's best "
             f"{metric} at the budget minus the ungated run's (median; Wilcoxon signed-rank over the pairs). Ratio: the "
             "ungated arm's compute to its final median best over the gated arm's (95 % bootstrap interval).", "",
             "| strategy | pairs | proposed | trained | gated out (share) | compute saved | quality difference (p) | "
             "ratio [95 %] | verdict |", "|---|---|---|---|---|---|---|---|---|"]
    for _, g in gating.iterrows():
        ratio = "not reached" if g["ratio"] == 0 else f"{g['ratio']:.2f}× [{_fmt(g['ci_low'], 2)}, {_fmt(g['ci_high'], 2)}]"
        lines.append(f"| {g['strategy']} vs {g['gated']} | {g['pairs']} | {_fmt(g['proposed'], 0)} | {_fmt(g['trained'], 0)} | "
                     f"{_fmt(g['skipped'], 0)} ({_fmt(100 * g['saved_share'], 0)} %) | {_fmt(g['saved_compute'], 0)} | "
                     f"{g['best_val_diff']:+.4f} ({_p(g['p_wilcoxon'])}) | {ratio} | {g['verdict']} |")
    return lines


def _markdown(config: BenchConfig, summary: BenchSummary, missing: list[str], metric: str,
              gating: pd.DataFrame | None = None) -> str:
    b = summary.baseline
    lines = [f"# Search benchmark: {config.task}, {', '.join(config.strategies)}", "",
             f"Strategies {', '.join(config.strategies)} × seeds {config.first_seed}..{config.first_seed + config.seeds - 1} "
             f"on `{config.task}`{' (`--quick`)' if config.quick else ''}, every run stopped by a screening compute "
             f"budget of **{config.compute_budget:,} trained example-epochs** (training examples × epochs; the "
             "generation that crosses it runs whole, the values below are read at the budget). Search options: "
             f"`{dict(config.search) or 'the task defaults'}`.", ""]
    if missing:
        lines += [f"**Partial benchmark: {len(missing)} of {len(config.runs())} runs have no results yet** "
                  f"({', '.join(missing)}); continue with `--resume`.", ""]
    short = summary.runs[~summary.runs["reached_budget"]]
    if len(short):
        lines += [f"**{len(short)} runs stopped before the budget** (their generations ran out: "
                  f"{', '.join(short['run'])}); raise `--generations`.", ""]
    lines += ["## Compute ratio", "",
              f"The target is {b}'s final median best {metric}: **{_fmt(summary.target)}**. Compute to reach it = the "
              "median over seeds of the compute after which a run's best so far first reaches it; ratio = "
              f"{b}'s compute / the strategy's (> 1: less compute than {b}), 95 % percentile bootstrap over seeds.", "",
              "| strategy | compute to target (median) | seeds reaching it | ratio [95 % interval] | verdict |",
              "|---|---|---|---|---|"]
    for _, r in summary.ratios.iterrows():
        ratio = "1 (reference)" if r["strategy"] == b else _ratio_text(r)
        lines.append(f"| {r['strategy']} | {_fmt(r['compute'], 0)} | {r['reached']} of {r['seeds']} | {ratio} | "
                     f"{r['verdict']} |")
    measures = measures_of(summary.runs)
    hv = "hypervolume" in measures
    lines += ["", "## Quality at the budget", "",
              "Median; mean ± std over seeds. AUC: area under the best-so-far curve / budget."
              + (f" Hypervolume: the share of the box {metric} 0–1 × cost 0–{summary.reference_cost:,.0f} (the "
                 "largest cost any run trained) that a run's (validation value, cost) front dominates." if hv else ""), "",
              "| strategy | seeds | best " + metric + " | incumbent test accuracy | AUC | final test accuracy | "
              + ("hypervolume | " if hv else "") + "screening compute | final compute | training s |",
              "|---|---|---|---|---|---|---|---|---|" + ("---|" if hv else "")]
    for _, g in summary.strategies.iterrows():
        cells = [f"{_fmt(g[f'{m}_median'])}; {_fmt(g[f'{m}_mean'])} ± {_fmt(g[f'{m}_std'])}" for m in measures]
        lines.append(f"| {g['strategy']} | {g['seeds']} | " + " | ".join(cells) +
                     f" | {_fmt(g['screening_compute_median'], 0)} | {_fmt(g['final_compute_median'], 0)} | "
                     f"{_fmt(g['train_time_s_median'], 1)} |")
    lines += ["", f"## Against {b}", "",
              f"Two-sided Mann–Whitney U per measure, Holm-corrected over the strategies; Cliff's δ > 0: higher than "
              f"{b}. With fewer than {MIN_SEEDS} seeds, or seeds too few for the exact test to reach p < {ALPHA}, "
              "the verdict is \"cannot tell\".", "",
              "| strategy | measure | n | p | p (Holm) | Cliff's δ | smallest possible p | verdict |",
              "|---|---|---|---|---|---|---|---|"]
    for _, t in summary.tests.iterrows():
        lines.append(f"| {t['strategy']} | {MEASURES[t['measure']]} | {t['n']} vs {t['n_baseline']} | {_p(t['p'])} | "
                     f"{_p(t['p_holm'])} | {_fmt(t['cliffs_delta'], 2)} | {_p(t['smallest_p'])} | "
                     f"{t['verdict']} |")
    lines += _gating_lines(gating if gating is not None else pd.DataFrame(), metric)
    lines += ["", "![anytime curves](anytime.png)", "",
              "Files: `summary.csv` (per strategy), `tests.csv`, `runs.csv` (per run), `anytime.csv` (the curves); "
              "each run directory `STRATEGY-sSEED` is a search run (`nas report` rebuilds its report).", ""]
    return "\n".join(lines)


def write_bench_report(folder: str | Path) -> BenchSummary | None:
    """Write the outputs (see the module docstring) for the benchmark in ``folder``; None (and
    nothing written) while no run has results.

    Raises
    ------
    BenchNotFoundError, BenchError
        No benchmark in ``folder``, or a damaged one.
    ConfigError, LedgerError
        A run directory that cannot be read.
    """
    folder = Path(folder)
    config = BenchStore.load(folder).settings()
    traces, missing = read_traces(config)
    if not traces:
        return None
    summary = summarize(traces, config.compute_budget, config.baseline,
                        [s for s in config.strategies if any(t.strategy == s for t in traces)])
    by = {s: [t for t in traces if t.strategy == s] for s in config.strategies}
    curves = _curves(by, config.compute_budget)
    metric = (dict(config.search).get("metric")) or "val_accuracy"
    ratios = summary.ratios.drop(columns=["baseline"]).rename(columns={"compute": "compute_to_target"})
    table = summary.strategies.merge(ratios, on=["strategy"], how="left", suffixes=("", "_ratio"))
    write_text_atomic(folder / "summary.csv", table.to_csv(index=False))
    write_text_atomic(folder / "tests.csv", summary.tests.to_csv(index=False))
    write_text_atomic(folder / "runs.csv", summary.runs.to_csv(index=False))
    write_text_atomic(folder / "anytime.csv", curves.to_csv(index=False))
    _plot(curves, summary, metric, folder / "anytime.png")
    gating = gating_table(traces, config.compute_budget, list(config.strategies))
    if not gating.empty:
        write_text_atomic(folder / "gating.csv", gating.to_csv(index=False))
    write_text_atomic(folder / "report.md", _markdown(config, summary, missing, metric, gating))
    return summary
