"""The report of a search run: ``report.md`` and its plots, rebuilt from the ledger at any time.

:func:`build_report` writes best-so-far against training time (one line per run compared),
predicted against measured per generation with the predictor's Kendall τ, the Pareto front when
the search has two objectives, the metric by prior and the best network's graph; the survivors
fully trained with how their screening ranked against their final accuracy; and, with runs to
compare, per strategy the mean ± std over runs (seeds) of each run's best accuracy with Welch's t
and Mann–Whitney U tests between strategies (:mod:`nas.report.compare`), also written as
``compare.csv`` and ``compare_tests.csv``. :class:`RunOutputs` is what the CLI hands the search
loop so that it writes these files without importing this package.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Sequence

import matplotlib
import numpy as np
from matplotlib.colors import BoundaryNorm
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, MaxNLocator
from scipy import stats

from nas.ledger import Ledger, shown_url
from nas.provenance import write_text_atomic
from nas.report.baseline import dense_section
from nas.report.compare import aggregate, compare_section, strategy_label
from nas.report.drawing import draw_genome
from nas.report.equal_cost import structure_effect, structure_section
from nas.report.pareto import front_mask, pareto_section, pareto_summary
from nas.report.run import (
    best_screened,
    chosen_survivor,
    evaluations_frame,
    export_run,
    final_frame,
    final_records,
    fmt_number,
    is_missing,
    open_run_ledger,
)
from nas.search.config_files import load_run_config
from search_spaces.exceptions import SparseNASError
from search_spaces.genome import Genome

__all__ = ["build_report", "RunOutputs"]


class RunOutputs:
    """The run directory's exports for :func:`nas.search.loop.run_search`: after every generation
    the files of :func:`export_run`; at the end those and, with ``report``, ``report.md``."""

    def __init__(self, report: bool = True):
        self.report = report

    def after_generation(self, ledger: Ledger, run_dir: Path) -> None:
        export_run(ledger, run_dir)

    def at_end(self, ledger: Ledger, run_dir: Path) -> None:
        if self.report:
            build_report(run_dir, ledger=ledger)  # exports the files too
        else:
            export_run(ledger, run_dir)


def _best_so_far_curve(frame, metric: str, compute: bool = False):
    """(x, best so far): x is cumulative trained example-epochs with ``compute``, else wall-clock minutes."""
    frame = frame.sort_values("trial")
    column, scale = ("example_epochs", 1.0) if compute else ("wall_time_s", 60.0)
    return np.cumsum(frame[column].fillna(0.0).to_numpy()) / scale, np.maximum.accumulate(frame[metric].to_numpy())


def build_report(run_dir: str | os.PathLike, *, ledger=None, compare: Sequence[str | os.PathLike] = ()) -> Path:
    """Write ``RUN_DIR/report.md`` and its PNG plots from the ledger; returns the report's path.

    Parameters
    ----------
    run_dir : path
        A search run directory.
    ledger : Ledger, optional
        Already opened ledger (else found through ``config.json``).
    compare : paths
        Other run directories (other seeds, strategies, gating off): drawn on the best-so-far
        plot and, with this run, aggregated per strategy (:func:`compare_runs`) in the report
        and in ``compare.csv`` (per strategy) and ``compare_tests.csv`` (per pair of strategies).

    Raises
    ------
    ConfigError
        ``run_dir`` or a compared directory is not a search run directory.
    LedgerError
        A ledger cannot be opened or holds malformed final records.
    """
    run_dir = Path(run_dir)
    if ledger is None:
        ledger, config = open_run_ledger(run_dir)
    else:  # the search's own ledger (opened with the password a stored URL does not keep)

        config = load_run_config(run_dir)
    others = [(Path(o), *open_run_ledger(o)) for o in compare]  # (dir, ledger, config): a bad one fails first
    final = final_frame(ledger)  # malformed final records, here or in a compared run, fail before any write
    comparison = None
    if others:
        comparison = aggregate([(run_dir, config, ledger)] + [(d, cfg, led) for d, led, cfg in others])
    export_run(ledger, run_dir)
    if comparison is not None:
        write_text_atomic(run_dir / "compare.csv", comparison.groups.to_csv(index=False))
        write_text_atomic(run_dir / "compare_tests.csv", comparison.tests.to_csv(index=False))
    frame = evaluations_frame(ledger)
    failed = evaluations_frame(ledger, failed=True)
    state = ledger.load_state() or {"generations": [], "generation": 0}
    history = state["generations"]
    names = ledger.get_attr("objectives") or [config.metric]
    metric = names[0]
    runs = [(config, frame)] + [(cfg, evaluations_frame(led)) for _, led, cfg in others]
    plots = [
        _plot_best_so_far(runs, metric, run_dir),
        _plot_predicted(frame, history, metric, run_dir),
        _plot_pareto(frame, names, run_dir),
        _plot_by_prior(frame, metric, run_dir),
        _draw_best_graph(frame, final, metric, run_dir),
    ]
    plots = [plot for plot in plots if plot is not None]
    text = _markdown(config, frame, failed, history, names, plots, ledger, final=final, comparison=comparison)
    path = run_dir / "report.md"
    write_text_atomic(path, text)
    return path


def _plot_best_so_far(runs, metric: str, run_dir: Path) -> tuple[str, str]:
    """Best so far, one line per run, against trained example-epochs (the same on any machine and
    load; where the runs record it) and against wall-clock training time."""
    compute = all("example_epochs" in fr and fr["example_epochs"].notna().any() for _, fr in runs if not fr.empty)
    fig = Figure(figsize=(11 if compute else 6, 4))
    axes = fig.subplots(1, 2 if compute else 1, squeeze=False)[0]
    panels = [(True, "cumulative training compute (example-epochs)")] if compute else []
    for ax, (by_compute, label) in zip(axes, panels + [(False, "cumulative training time (min, wall clock)")]):
        for cfg, fr in runs:
            if not fr.empty:
                x, y = _best_so_far_curve(fr, metric, compute=by_compute)
                ax.step(x, y, where="post", label=f"{strategy_label(cfg)} seed {cfg.seed} ({len(fr)} trained)")
        ax.set_xlabel(label)
        if by_compute:
            ax.xaxis.set_major_formatter(EngFormatter())  # 200k, 1M: readable ticks for large counts
        ax.set_ylabel(f"best {metric} so far")
        ax.grid(alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:  # a run with no successful trial has nothing to label
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(run_dir / "best_so_far.png", dpi=120)
    return "best_so_far.png", "Best so far against training compute and wall-clock time"


def _plot_predicted(frame, history, metric: str, run_dir: Path) -> tuple[str, str] | None:
    """Predicted against measured, per generation, and the predictor's τ over generations."""
    predicted = frame.dropna(subset=["predicted"]) if "predicted" in frame else frame.iloc[0:0]
    if predicted.empty:
        return None
    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    # generations are whole numbers: one colour each, not a continuous scale
    generations = sorted({int(g) for g in predicted["generation"]})
    cmap = matplotlib.colormaps["viridis"].resampled(generations[-1] - generations[0] + 1)
    norm = BoundaryNorm(np.arange(generations[0] - 0.5, generations[-1] + 1.5), cmap.N)
    sc = ax1.scatter(predicted["predicted"], predicted[metric], c=predicted["generation"], cmap=cmap, norm=norm, s=18)
    for reason, marker in (("shadow", "x"),):
        sub = predicted[predicted["reason"] == reason]
        ax1.scatter(sub["predicted"], sub[metric], marker=marker, c="red", s=30, label="shadow sample")
    lo = float(min(predicted["predicted"].min(), predicted[metric].min()))
    hi = float(max(predicted["predicted"].max(), predicted[metric].max()))
    ax1.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax1.set_xlabel(f"predicted {metric}")
    ax1.set_ylabel(f"measured {metric}")
    ax1.legend(fontsize=7)
    bar = fig.colorbar(sc, ax=ax1, label="generation")
    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    gens = [h["generation"] for h in history if h.get("kendall_tau") is not None]
    taus = [h["kendall_tau"] for h in history if h.get("kendall_tau") is not None]
    ax2.plot(gens, taus, "o-")
    ax2.axhline(0, color="k", lw=0.8)
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.set_xlabel("generation")
    ax2.set_ylabel("Kendall tau (predicted vs measured)")
    ax2.set_ylim(-1, 1)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(run_dir / "predicted_vs_actual.png", dpi=120)
    return "predicted_vs_actual.png", "Predicted against measured (trained candidates), and Kendall τ per generation"


def _plot_pareto(frame, names: list[str], run_dir: Path) -> tuple[str, str] | None:
    """The Pareto front, when the search has two objectives."""
    if len(names) < 2 or frame.empty:
        return None
    metric = names[0]
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.scatter(frame[names[1]], frame[metric], s=14, alpha=0.6, label="trained")
    pts = frame[[metric, names[1]]].to_numpy()
    front = np.flatnonzero(front_mask(frame, metric, names[1]))
    ax.plot(pts[front, 1][np.argsort(pts[front, 1])], pts[front, 0][np.argsort(pts[front, 1])], "r.-", label="Pareto front")
    ax.set_xlabel(f"{names[1]} (lower is better)")
    ax.set_ylabel(metric)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(run_dir / "pareto.png", dpi=120)
    return "pareto.png", f"Pareto front: {metric} against {names[1]}"


def _plot_by_prior(frame, metric: str, run_dir: Path) -> tuple[str, str] | None:
    """The metric by prior: a box and the points of each."""
    if frame.empty:
        return None
    priors = sorted(frame["prior"].unique())
    fig = Figure(figsize=(max(5, 1.2 * len(priors)), 4))
    ax = fig.subplots()
    ax.boxplot([frame.loc[frame["prior"] == p, metric].to_numpy() for p in priors], showfliers=False)
    for i, p in enumerate(priors, start=1):
        ys = frame.loc[frame["prior"] == p, metric].to_numpy()
        ax.scatter(np.full(len(ys), i) + np.linspace(-0.15, 0.15, len(ys)), ys, s=10, alpha=0.7)
    ax.set_xticks(range(1, len(priors) + 1), [f"{p}\n(n={int((frame['prior'] == p).sum())})" for p in priors], fontsize=7)
    ax.set_ylabel(metric)
    fig.tight_layout()
    fig.savefig(run_dir / "accuracy_by_prior.png", dpi=120)
    return "accuracy_by_prior.png", f"{metric} by prior"


def _draw_best_graph(frame, final, metric: str, run_dir: Path) -> tuple[str, str] | None:
    """The best network's wiring (the chosen survivor, else the best screened trial)."""
    best_genome = None
    chosen = chosen_survivor(final) if final is not None and not final.empty else None
    if chosen is not None:
        best_genome = final.loc[chosen, "genome"]
    elif not frame.empty:
        best_genome = best_screened(frame, metric)["genome"]
    if best_genome is None:
        return None
    try:
        genome = Genome.from_json(best_genome)
        draw_genome(genome, run_dir / "best_graph.png")
    except (SparseNASError, ValueError, TypeError):  # a genome that cannot be rebuilt: no picture
        return None
    return "best_graph.png", (f"The best network's graph: {genome.prior}, {genome.nodes} vertices, "
                              f"by DAG layer (key {genome.key})")


def _final_section(final, metric: str) -> list[str]:
    """Markdown: the survivors fully trained, and how screening ranked them against final accuracy."""
    lines = [
        "", "## Survivors fully trained", "",
        "The best screened candidates, each trained in full over several seeds (one row per training in "
        "`final.csv`). Screening is the candidate's screening "
        f"`{metric}`; final test accuracy is the mean ± sample std (ddof 1) over its seeds. ★ marks the best "
        "network, the one with the highest mean final *validation* accuracy (the test set does not choose it; "
        "`best/` holds it).",
        "",
        f"| | genome key | prior | nodes | width | readout | non-zero weights | screening {metric} | "
        "final test accuracy | 95 % binomial interval | test images | seeds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    best = chosen_survivor(final)
    for i, row in final.iterrows():
        std = "" if is_missing(row["final_std"]) else f" ± {row['final_std']:.4f}"
        interval = "–" if is_missing(row["ci_low"]) else f"{row['ci_low']:.4f}–{row['ci_high']:.4f}"
        images = "–" if is_missing(row["test_examples"]) else str(int(row["test_examples"]))
        if not is_missing(row["test_expected"]) and not is_missing(row["test_examples"]) \
                and int(row["test_expected"]) > int(row["test_examples"]):
            images += f" of {int(row['test_expected'])}"
        lines.append(
            f"| {'★' if i == best else ''} | `{row['key']}` | {row['prior']} | {row['nodes']} | {row['width']} | "
            f"{row['readout']} | {'–' if is_missing(row['nonzero_weights']) else int(row['nonzero_weights'])} | "
            f"{fmt_number(row['screening'])} | "
            f"{fmt_number(row['final_mean'])}{std} | {interval} | {images} | {row['n_seeds']} |"
        )
    partial = final[final["test_expected"].notna() & final["test_examples"].notna()]
    partial = partial[partial["test_expected"].astype(float) > partial["test_examples"].astype(float)]
    lines += ["", "The binomial interval (Wilson, 95 %) is the test set's own sampling error for an accuracy "
              "measured on that many images; the spread over seeds (± std) comes on top of it."]
    if not partial.empty:
        row = partial.iloc[0]
        lines.append(f"**Partial test set**: these figures rest on {int(row['test_examples'])} of the "
                     f"{int(row['test_expected'])} test images (`--allow-partial-data` or a test subset).")
    ranked = final[final["screening"].notna() & final["final_mean"].notna()]
    lines.append("")
    if len(ranked) < 3:
        lines.append(f"Screening against final ranking: Kendall τ needs at least 3 genomes with both values; "
                     f"{len(ranked)} {'has' if len(ranked) == 1 else 'have'} them.")
    else:
        with warnings.catch_warnings():  # all values tied: τ is NaN, said below
            warnings.simplefilter("ignore", RuntimeWarning)
            tau = stats.kendalltau(ranked["screening"].to_numpy(float), ranked["final_mean"].to_numpy(float))
        if math.isnan(tau.statistic):
            lines.append(f"Screening against final ranking: Kendall τ is undefined over the {len(ranked)} genomes "
                         "(all screening or all final values tie).")
        else:
            lines.append(
                f"Screening against final ranking: Kendall τ = {tau.statistic:+.2f} (p = {tau.pvalue:.3g}) between "
                f"screening `{metric}` and mean final test accuracy over {len(ranked)} genomes "
                "(τ = 1: screening ranked them exactly as full training did)."
            )
    return lines


def _markdown(config, frame, failed, history, names, plots, ledger, *, final=None, comparison=None) -> str:
    """``report.md``: summary, survivors, strategies compared, generations, trainer notes, plots."""
    metric = names[0]
    lines = _summary_lines(config, frame, failed, history, names, final)
    lines += structure_section(structure_effect(frame, config, metric), metric)
    lines += pareto_section(pareto_summary(frame, names))
    if final is not None and not final.empty:
        lines += _final_section(final, metric)
        chosen = chosen_survivor(final)
        if chosen is not None:
            key = final.loc[chosen, "key"]
            lines += dense_section(ledger, key, [r for r in final_records(ledger) if r["key"] == key])
    if comparison is not None:
        lines += compare_section(comparison)
    lines += _generation_lines(history)
    lines += _notes_lines(ledger, failed)
    lines += _plots_lines(plots, final, comparison)
    return "\n".join(lines)


def _summary_lines(config, frame, failed, history, names, final) -> list[str]:
    """Markdown: the title, what the run was, its summary table and the notes on saved time."""
    metric = names[0]
    trained = int(sum(h["trained"] for h in history))
    skipped = int(sum(h["skipped"] for h in history))
    shadow = int(sum(h["shadow"] for h in history))
    train_s = float(sum(h["train_time_s"] for h in history))
    saved_s = float(sum(h["saved_time_s"] for h in history))
    lines = [
        f"# Search report: {config.ledger}",
        "",
        f"Task `{config.task}`, strategy `{config.strategy}`, seed {config.seed}, population {config.population}, "
        f"survivors {config.survivors}, {len(history)} of {config.generations} generations done; "
        f"gating {'on (' + config.gate_rule + ')' if config.gating else 'off'}; objective(s): {', '.join(names)}.",
        f"Ledger `{config.ledger}` in `{shown_url(config.storage_url)}` "
        f"(browse it with `optuna-dashboard {shown_url(config.storage_url)}`).",
        "",
        "## Summary",
        "",
        "| | |",
        "|---|---|",
        f"| candidates proposed | {trained + skipped} |",
        f"| trained (of which shadow samples) | {trained} ({shadow}) |",
        f"| skipped by the predictor gate | {skipped} |",
        f"| failed trainings | {len(failed)} |",
        f"| training time (wall clock, sum over trials) | {train_s:.1f} s |",
        f"| training time saved by gating (estimate) | {saved_s:.1f} s ({100 * saved_s / max(train_s + saved_s, 1e-9):.0f} % of the ungated total) |",
    ]
    if not frame.empty:
        best = best_screened(frame, metric)
        test = f", test accuracy {best['test_accuracy']:.4f}" if "test_accuracy" in frame and not is_missing(best["test_accuracy"]) else ""
        lines.append(f"| best {metric} | {best[metric]:.4f} (trial {int(best['trial'])}{test}) |")
    chosen = chosen_survivor(final) if final is not None and final["final_mean"].notna().any() else None
    if chosen is not None:  # the survivor best/ holds: chosen by validation, never by test
        top = final.loc[chosen]
        std = "" if is_missing(top["final_std"]) else f" ± {top['final_std']:.4f}"
        interval = "" if is_missing(top["ci_low"]) else (
            f", 95 % binomial interval {top['ci_low']:.4f}–{top['ci_high']:.4f} on {int(top['test_examples'])}"
            + ("" if is_missing(top["test_expected"]) or int(top["test_expected"]) <= int(top["test_examples"])
               else f" of {int(top['test_expected'])}") + " test images")
        lines.append(f"| best fully trained (final test accuracy) | {top['final_mean']:.4f}{std} over "
                     f"{top['n_seeds']} seed(s) (`{top['key']}`){interval} |")
    if chosen is not None:  # best/ holds the best fully trained survivor, not the best screened candidate
        lines += ["", f"Best architecture (the fully trained survivor chosen by validation): `{final.loc[chosen, 'genome']}` "
                      "(also in `best/genome.json`; weights in `best/model.pt`)."]
    elif not frame.empty:
        lines += ["", f"Best architecture (best screened): `{best['genome']}` (also in `best/genome.json`; weights in "
                      "`best/model.pt`)."]
    lines += [
        "",
        "Saved time is estimated per generation: for families trained together in stacks (`ff`, `rnn:*`) as the "
        "measured training time times the step-cost model's marginal cost of the gated-out candidates (the planned "
        "cost of all candidates minus that of the trained ones, over the latter), since a skipped candidate would "
        "have joined a stack rather than cost a run of its own; otherwise as the gated-out candidates times the "
        "mean training time per trained candidate. The gate also changes which candidates the search breeds "
        "from: compare with a `--no-gating` run for the measured difference.",
        "A shadow candidate is a *false negative* when its measured value reaches the k-th best (k = survivors) "
        "measured so far: the gate rejected something that would have survived.",
    ]
    return lines


def _generation_lines(history) -> list[str]:
    """Markdown: one table row per generation."""
    lines: list[str] = []
    lines += [
        "",
        "## Per generation",
        "",
        "| gen | candidates | trained | shadow | skipped | failed | Kendall τ | MAE | false neg. | best so far | train s | saved s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for h in history:
        fn = "–" if h.get("false_negatives") is None else f"{h['false_negatives']}/{h['shadow']}"
        lines.append(
            f"| {h['generation']} | {h['candidates']} | {h['trained']} | {h['shadow']} | {h['skipped']} | {h['failed']} | "
            f"{fmt_number(h.get('kendall_tau'), '+.2f')} | {fmt_number(h.get('mae'))} | {fn} | {fmt_number(h.get('best_so_far'))} | "
            f"{h['train_time_s']:.1f} | {h['saved_time_s']:.1f} |"
        )
    return lines


def _notes_lines(ledger, failed) -> list[str]:
    """Markdown: what the trainer changed to make trainings fit, and the failed trainings."""
    lines: list[str] = []
    notes = [(t.number, t.user_attrs["notes"]) for t in ledger.trials() if t.user_attrs.get("notes")]
    notes += [(f"{r.get('trial', '?')} (final, seed {r['seed']})", r["notes"]) for r in final_records(ledger)
              if r.get("notes")]
    if notes:
        lines += ["", "## Trainer notes", "", "What the trainer changed to make a training fit (out of device "
                  "memory: a smaller stack, or a smaller batch, which changes that training's budget):", ""]
        lines += [f"- trial {number}: {note}" for number, note in notes]
    if not failed.empty:
        lines += ["", "## Failed trainings", ""]
        for _, row in failed.iterrows():
            lines.append(f"- trial {int(row['trial'])} (generation {row.get('generation')}): {row['fail_reason']}")
    return lines


def _plots_lines(plots, final, comparison) -> list[str]:
    """Markdown: the plots and the run directory's files."""
    lines: list[str] = []
    lines += ["", "## Plots", ""]
    for file, caption in plots:
        lines += [f"![{caption}]({file})", "", f"*{caption}.*", ""]
    extra = (", `final.csv` (one row per final training: genome and seed)" if final is not None and not final.empty else "")
    extra += ", `compare.csv` and `compare_tests.csv` (strategies compared)" if comparison is not None else ""
    lines += ["", "Files: `config.json` (config, code and library versions), `evaluations.csv` (one row per trained "
              f"architecture; `nas predictor evaluate` reads it){extra}, `best/`. Rebuild with `nas report RUN_DIR`.", ""]
    return lines
