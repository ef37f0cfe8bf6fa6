"""Exports and report of a search run directory, rebuilt from the ledger at any time.

:func:`export_run` writes ``evaluations.csv`` (the format ``nas predictor evaluate`` reads: one
row per trained architecture, a ``genome`` column with its JSON, one column per metric, ``reason``
saying why it was trained) and ``best/genome.json``. :func:`build_report` writes ``report.md``
with its plots: best-so-far against training time (one line per run compared), predicted against
measured per generation with the predictor's Kendall τ, the Pareto front when the search has two
objectives, and the metric by prior.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from nas.exceptions import ConfigError
from nas.provenance import write_text_atomic

__all__ = ["evaluations_frame", "export_run", "build_report", "open_run_ledger"]

_BASE_COLUMNS = ("trial", "generation", "index", "reason", "strategy", "key", "wl_hash", "prior", "nodes", "family",
                 "predicted", "predicted_std", "genome")
_SKIP_ATTRS = {"genome", "key", "features", "libraries", "requeued", "fail_reason"}


def evaluations_frame(ledger, *, failed: bool = False):
    """One row per COMPLETE trial (``failed=True``: per failed, not requeued, trial) as a DataFrame."""
    import pandas as pd

    names = ledger.get_attr("objectives") or ["value"]
    rows = []
    for t in ledger.trials():
        if failed:
            if t.state.name != "FAIL" or t.user_attrs.get("requeued"):
                continue
        elif t.state.name != "COMPLETE":
            continue
        genome = json.loads(t.user_attrs["genome"])
        row = {"trial": t.number, "prior": genome["prior"], "nodes": genome["nodes"], "family": genome["family"]}
        for k, v in t.user_attrs.items():
            if k not in _SKIP_ATTRS and (v is None or isinstance(v, (int, float, str, bool))):
                row[k] = v
        if failed:
            row["fail_reason"] = t.user_attrs.get("fail_reason")
        else:
            for name, value in zip(names, t.values):
                row[name] = value
        row["genome"] = t.user_attrs["genome"]
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=list(_BASE_COLUMNS))
    first = [c for c in _BASE_COLUMNS if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]



def export_run(ledger, run_dir: str | os.PathLike) -> None:
    """Write ``evaluations.csv`` and ``best/genome.json`` from the ledger (atomically)."""
    from nas.provenance import write_json_atomic

    run_dir = Path(run_dir)
    frame = evaluations_frame(ledger)
    write_text_atomic(run_dir / "evaluations.csv", frame.to_csv(index=False))
    metric = (ledger.get_attr("objectives") or ["value"])[0]
    if not frame.empty:
        best = frame.sort_values([metric, "trial"], ascending=[False, True]).iloc[0]
        write_json_atomic(run_dir / "best" / "genome.json", {
            "genome": json.loads(best["genome"]),
            "trial": int(best["trial"]),
            "metrics": {k: best[k] for k in frame.columns if k not in ("genome",) and not _missing(best[k])},
        })


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def open_run_ledger(run_dir: str | os.PathLike):
    """The ledger of a run directory, found through its ``config.json``.

    Raises
    ------
    ConfigError
        The directory has no readable ``config.json``.
    LedgerError
        Its storage or study cannot be opened.
    """
    from nas.config import SearchConfig
    from nas.ledger import Ledger

    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise ConfigError(f"{str(run_dir)!r} is not a search run directory: no config.json in it")
    try:
        config = SearchConfig.from_dict(json.loads(path.read_text())["search"])
    except (json.JSONDecodeError, KeyError) as err:
        raise ConfigError(f"{str(path)!r} is not a search config: {err}") from None
    return Ledger.open(config.storage_url, config.study_name, create=False), config


def _best_so_far_curve(frame, metric: str):
    frame = frame.sort_values("trial")
    time_h = np.cumsum(frame["wall_time_s"].fillna(0.0).to_numpy()) / 60.0
    return time_h, np.maximum.accumulate(frame[metric].to_numpy())


def build_report(run_dir: str | os.PathLike, *, ledger=None, compare: Sequence[str | os.PathLike] = ()) -> Path:
    """Write ``RUN_DIR/report.md`` and its PNG plots from the ledger; returns the report's path.

    Parameters
    ----------
    run_dir : path
        A search run directory.
    ledger : Ledger, optional
        Already opened ledger (else found through ``config.json``).
    compare : paths
        Other run directories drawn on the best-so-far plot (e.g. other strategies, gating off).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    run_dir = Path(run_dir)
    opened, config = open_run_ledger(run_dir)
    ledger = ledger or opened
    export_run(ledger, run_dir)
    frame = evaluations_frame(ledger)
    failed = evaluations_frame(ledger, failed=True)
    state = ledger.load_state() or {"generations": [], "generation": 0}
    history = state["generations"]
    names = ledger.get_attr("objectives") or [config.metric]
    metric = names[0]
    plots: list[tuple[str, str]] = []

    def label(cfg, fr):
        return f"{cfg.strategy}{'' if cfg.gating else ' (no gate)'} seed {cfg.seed} ({len(fr)} trained)"

    # 1. best so far against training time, per run
    fig, ax = plt.subplots(figsize=(6, 4))
    runs = [(config, frame)]
    for other in compare:
        other_ledger, other_cfg = open_run_ledger(other)
        runs.append((other_cfg, evaluations_frame(other_ledger)))
    for cfg, fr in runs:
        if not fr.empty:
            x, y = _best_so_far_curve(fr, metric)
            ax.step(x, y, where="post", label=label(cfg, fr))
    ax.set_xlabel("cumulative training time (min, wall clock)")
    ax.set_ylabel(f"best {metric} so far")
    if ax.get_legend_handles_labels()[0]:  # a run with no successful trial has nothing to label
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(run_dir / "best_so_far.png", dpi=120)
    plt.close(fig)
    plots.append(("best_so_far.png", "Best so far against training time"))

    # 2. predicted against measured, per generation, and the predictor's tau over generations
    predicted = frame.dropna(subset=["predicted"]) if "predicted" in frame else frame.iloc[0:0]
    if not predicted.empty:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        sc = ax1.scatter(predicted["predicted"], predicted[metric], c=predicted["generation"], cmap="viridis", s=18)
        for reason, marker in (("shadow", "x"),):
            sub = predicted[predicted["reason"] == reason]
            ax1.scatter(sub["predicted"], sub[metric], marker=marker, c="red", s=30, label="shadow sample")
        lo = float(min(predicted["predicted"].min(), predicted[metric].min()))
        hi = float(max(predicted["predicted"].max(), predicted[metric].max()))
        ax1.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax1.set_xlabel(f"predicted {metric}")
        ax1.set_ylabel(f"measured {metric}")
        ax1.legend(fontsize=7)
        fig.colorbar(sc, ax=ax1, label="generation")
        gens = [h["generation"] for h in history if h.get("kendall_tau") is not None]
        taus = [h["kendall_tau"] for h in history if h.get("kendall_tau") is not None]
        ax2.plot(gens, taus, "o-")
        ax2.axhline(0, color="k", lw=0.8)
        ax2.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax2.set_xlabel("generation")
        ax2.set_ylabel("Kendall tau (predicted vs measured)")
        ax2.set_ylim(-1, 1)
        ax2.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(run_dir / "predicted_vs_actual.png", dpi=120)
        plt.close(fig)
        plots.append(("predicted_vs_actual.png", "Predicted against measured (trained candidates), and Kendall τ per generation"))

    # 3. Pareto front
    if len(names) > 1 and not frame.empty:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.scatter(frame[names[1]], frame[metric], s=14, alpha=0.6, label="trained")
        pts = frame[[metric, names[1]]].to_numpy()
        front = _pareto(pts)
        ax.plot(pts[front, 1][np.argsort(pts[front, 1])], pts[front, 0][np.argsort(pts[front, 1])], "r.-", label="Pareto front")
        ax.set_xlabel(f"{names[1]} (lower is better)")
        ax.set_ylabel(metric)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(run_dir / "pareto.png", dpi=120)
        plt.close(fig)
        plots.append(("pareto.png", f"Pareto front: {metric} against {names[1]}"))

    # 4. metric by prior
    if not frame.empty:
        priors = sorted(frame["prior"].unique())
        fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(priors)), 4))
        ax.boxplot([frame.loc[frame["prior"] == p, metric].to_numpy() for p in priors], showfliers=False)
        for i, p in enumerate(priors, start=1):
            ys = frame.loc[frame["prior"] == p, metric].to_numpy()
            ax.scatter(np.full(len(ys), i) + np.linspace(-0.15, 0.15, len(ys)), ys, s=10, alpha=0.7)
        ax.set_xticks(range(1, len(priors) + 1), [f"{p}\n(n={int((frame['prior'] == p).sum())})" for p in priors], fontsize=7)
        ax.set_ylabel(metric)
        fig.tight_layout()
        fig.savefig(run_dir / "accuracy_by_prior.png", dpi=120)
        plt.close(fig)
        plots.append(("accuracy_by_prior.png", f"{metric} by prior"))

    text = _markdown(config, frame, failed, history, names, plots, ledger)
    path = run_dir / "report.md"
    write_text_atomic(path, text)
    return path


def _pareto(points: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated points (maximise column 0, minimise column 1)."""
    keep = []
    for i, (a, c) in enumerate(points):
        dominated = np.any((points[:, 0] >= a) & (points[:, 1] <= c) & ((points[:, 0] > a) | (points[:, 1] < c)))
        if not dominated:
            keep.append(i)
    return np.asarray(keep, dtype=int)


def _fmt(value, spec=".4f") -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return format(value, spec) if isinstance(value, (float, np.floating)) else str(value)


def _markdown(config, frame, failed, history, names, plots, ledger) -> str:
    metric = names[0]
    trained = int(sum(h["trained"] for h in history))
    skipped = int(sum(h["skipped"] for h in history))
    shadow = int(sum(h["shadow"] for h in history))
    train_s = float(sum(h["train_time_s"] for h in history))
    saved_s = float(sum(h["saved_time_s"] for h in history))
    lines = [
        f"# Search report: {config.study_name}",
        "",
        f"Task `{config.task}`, strategy `{config.strategy}`, seed {config.seed}, population {config.population}, "
        f"survivors {config.survivors}, {len(history)} of {config.generations} generations done; "
        f"gating {'on (' + config.gate_rule + ')' if config.gating else 'off'}; objective(s): {', '.join(names)}.",
        f"Ledger: `{config.storage_url}`, study `{config.study_name}` "
        f"(browse it with `optuna-dashboard {config.storage_url}`).",
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
        best = frame.sort_values([metric, "trial"], ascending=[False, True]).iloc[0]
        test = f", test accuracy {best['test_accuracy']:.4f}" if "test_accuracy" in frame and not _missing(best["test_accuracy"]) else ""
        lines.append(f"| best {metric} | {best[metric]:.4f} (trial {int(best['trial'])}{test}) |")
        lines += ["", f"Best architecture: `{best['genome']}` (also in `best/genome.json`; weights in `best/model.pt`)."]
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
            f"{_fmt(h.get('kendall_tau'), '+.2f')} | {_fmt(h.get('mae'))} | {fn} | {_fmt(h.get('best_so_far'))} | "
            f"{h['train_time_s']:.1f} | {h['saved_time_s']:.1f} |"
        )
    if not failed.empty:
        lines += ["", "## Failed trainings", ""]
        for _, row in failed.iterrows():
            lines.append(f"- trial {int(row['trial'])} (generation {row.get('generation')}): {row['fail_reason']}")
    lines += ["", "## Plots", ""]
    for file, caption in plots:
        lines += [f"![{caption}]({file})", "", f"*{caption}.*", ""]
    lines += ["", "Files: `config.json` (config, code and library versions), `evaluations.csv` (one row per trained "
              "architecture; `nas predictor evaluate` reads it), `best/`. Rebuild with `nas report RUN_DIR`.", ""]
    return "\n".join(lines)
