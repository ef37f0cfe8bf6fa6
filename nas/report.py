"""Exports and report of a search run directory, rebuilt from the ledger at any time.

:func:`export_run` writes ``evaluations.csv`` (the format ``nas predictor evaluate`` reads: one
row per trained architecture, a ``genome`` column with its JSON, one column per metric, ``reason``
saying why it was trained), ``best/genome.json`` and, once the search's final phase has fully
trained its survivors, ``final.csv`` (one row per (genome, seed) training). :func:`build_report`
writes ``report.md`` with its plots: best-so-far against training time (one line per run
compared), predicted against measured per generation with the predictor's Kendall τ, the Pareto
front when the search has two objectives, and the metric by prior; the survivors fully trained
(:func:`final_frame`) with how their screening ranked against their final accuracy; and, with
runs to compare, per strategy the mean ± std over runs (seeds) of each run's best accuracy
with Welch's t and Mann–Whitney U tests between strategies (:mod:`nas.compare`), also written
as ``compare.csv`` and ``compare_tests.csv``.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from nas.exceptions import LedgerError
from nas.final import FINAL_ATTR
from nas.ledger import shown_url
from nas.provenance import write_text_atomic
from search_spaces.genome import Genome, legacy_genome_dict

__all__ = ["evaluations_frame", "export_run", "build_report", "open_run_ledger", "final_frame", "test_interval",
           "best_final_accuracy", "best_screening", "is_missing", "fmt_number"]

_FINAL_REQUIRED = ("key", "genome", "seed", "screening", "test_accuracy")
_FINAL_COLUMNS = ("key", "prior", "nodes", "width", "readout", "seed", "test_accuracy", "val_accuracy", "screening",
                  "screening_test_accuracy", "nonzero_weights", "wall_time_s", "genome")
FINAL_MEASURE = "final test accuracy"

_BASE_COLUMNS = ("trial", "generation", "index", "reason", "strategy", "key", "wl_hash", "prior", "nodes", "width",
                 "readout", "family",
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
        row = {"trial": t.number, **_genome_columns(genome), "family": genome["family"]}
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



def _final_records(ledger) -> list[dict]:
    """The final phase's records (study attribute ``final``), checked; [] when there are none.

    Raises
    ------
    LedgerError
        The attribute is not a list of records with the keys :data:`_FINAL_REQUIRED` and a
        genome JSON object.
    """
    records = ledger.get_attr(FINAL_ATTR)
    if not records:
        return []
    if not isinstance(records, list):
        raise LedgerError(f"study attribute {FINAL_ATTR!r} must be a list of records, got {type(records).__name__}")
    out = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise LedgerError(f"{FINAL_ATTR}[{i}] must be a record (dict), got {record!r}")
        missing = [k for k in _FINAL_REQUIRED if k not in record]
        if missing:
            raise LedgerError(f"{FINAL_ATTR}[{i}] lacks {missing}; a final record needs {list(_FINAL_REQUIRED)}, "
                              f"got keys {sorted(record)}")
        try:
            genome = json.loads(record["genome"])
        except (TypeError, json.JSONDecodeError):
            genome = None
        if not isinstance(genome, dict):
            raise LedgerError(f"{FINAL_ATTR}[{i}]['genome'] must be a genome JSON object, "
                              f"got {str(record['genome'])[:80]!r}")
        out.append({**record, "_genome": genome})
    return out


def _number(value) -> float:
    """A record's number as a float; None (how the ledger stores NaN) becomes NaN."""
    return math.nan if value is None else float(value)


def _genome_columns(genome: dict) -> dict:
    genome = legacy_genome_dict(genome)  # stored before readouts existed: built with "last" (and width 1)
    return {"prior": genome.get("prior"), "nodes": genome.get("nodes"), "width": genome.get("width", 1),
            "readout": genome["readout"]}


def final_frame(ledger):
    """The survivors fully trained by the final phase: one row per genome, best mean first.

    Parameters
    ----------
    ledger : Ledger
        The search's ledger; its study attribute ``final`` holds one record per (genome, seed).

    Returns
    -------
    pandas.DataFrame
        Columns ``key``, ``genome`` (JSON), ``prior``, ``nodes``, ``width`` (1 when the genome has
        none), ``readout`` (``"last"`` when it has none), ``nonzero_weights`` (mean over seeds,
        rounded), ``screening`` (the candidate's screening value of the primary metric),
        ``final_mean`` and ``final_std`` (mean and sample std, ddof 1, of the test accuracy over
        seeds; std NaN with one seed), ``n_seeds`` (trainings with a test accuracy),
        ``val_mean``, ``test_examples`` (test images each training was scored on) and
        ``test_expected`` (the full test set's size; more than ``test_examples`` on a partial test
        set), ``ci_low`` and ``ci_high`` (:func:`test_interval` of ``final_mean``). Sorted by
        ``final_mean`` descending (ties by key). Empty, with these columns, without final records.

    Raises
    ------
    LedgerError
        Malformed final records (see :func:`_final_records`).
    """
    import pandas as pd

    columns = ["key", "genome", "prior", "nodes", "width", "readout", "nonzero_weights", "screening",
               "final_mean", "final_std", "n_seeds", "val_mean", "test_examples", "test_expected", "ci_low", "ci_high"]
    groups: dict[str, list[dict]] = {}
    for record in _final_records(ledger):
        groups.setdefault(str(record["key"]), []).append(record)
    rows = []
    for key, records in groups.items():
        first = records[0]
        acc = np.array([_number(r["test_accuracy"]) for r in records])
        acc = acc[np.isfinite(acc)]  # a diverged training stores None
        weights = [r["nonzero_weights"] for r in records if r.get("nonzero_weights") is not None]
        rows.append({
            "key": key, "genome": first["genome"], **_genome_columns(first["_genome"]),
            "nonzero_weights": int(round(float(np.mean(weights)))) if weights else None,
            "screening": _number(first["screening"]),
            "final_mean": float(acc.mean()) if acc.size else math.nan,
            "final_std": float(acc.std(ddof=1)) if acc.size > 1 else math.nan,
            "n_seeds": int(acc.size),
            "val_mean": _mean_finite([r.get("val_accuracy") for r in records]),
            **_test_columns(records, float(acc.mean()) if acc.size else math.nan),
        })
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.sort_values(["final_mean", "key"], ascending=[False, True], na_position="last")
    return frame.reset_index(drop=True)


def test_interval(accuracy: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of an accuracy measured on ``n`` test examples (binomial sampling of
    the test set: how far the accuracy on ``n`` images may be from that on the whole distribution).
    NaN for a missing accuracy or no examples."""
    from scipy import stats

    if not n or n < 1 or not math.isfinite(accuracy):
        return math.nan, math.nan
    k = int(round(min(max(accuracy, 0.0), 1.0) * n))
    ci = stats.binomtest(k, int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def _test_columns(records: list[dict], mean: float) -> dict:
    counts = [int(r["test_examples"]) for r in records if r.get("test_examples") is not None]
    expected = [int(r["test_expected"]) for r in records if r.get("test_expected") is not None]
    n = min(counts) if counts else None
    low, high = test_interval(mean, n) if n else (math.nan, math.nan)
    return {"test_examples": n, "test_expected": max(expected) if expected else None, "ci_low": low, "ci_high": high}


def draw_genome(genome: Genome, path) -> None:
    """Draw ``genome``'s layered DAG to ``path`` (PNG): one column per layer, edges left to right,
    sinks (the vertices a ``sinks`` readout reads) ringed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    dag = genome.dag()
    graph = dag.to_networkx()
    pos = {}
    for layer, nodes in enumerate(dag.layers):
        for j, node in enumerate(nodes):
            pos[node] = (layer, j - (len(nodes) - 1) / 2)
    sinks = set(dag.sinks)
    fig, ax = plt.subplots(figsize=(max(4, 1.1 * len(dag.layers)), max(3, 0.45 * max(dag.layer_widths))))
    nx.draw_networkx_edges(graph, pos, ax=ax, alpha=0.35, arrowsize=6, width=0.7)
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=90, node_color=[pos[v][0] for v in graph.nodes],
                           cmap="viridis", edgecolors=["black" if v in sinks else "none" for v in graph.nodes])
    ax.set_title(f"{genome.prior}, {dag.num_nodes} vertices, {dag.num_edges} edges, {len(dag.layers)} layers",
                 fontsize=9)
    ax.set_xlabel("DAG layer")
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _mean_finite(values) -> float:
    values = np.array([_number(v) for v in values], dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else math.nan


def _chosen(final) -> int | None:
    """Row of the best fully trained survivor: the highest mean final *validation* accuracy (the
    choice :func:`nas.final.best_final_key` makes; the test set never selects), ties to the
    better screened one."""
    from nas.final import best_final_key

    key = best_final_key([{"key": r.key, "val_accuracy": r.val_mean, "screening": r.screening}
                          for r in final.itertuples()])
    return None if key is None else final.index[final["key"] == key][0]


def best_final_accuracy(ledger) -> float | None:
    """Mean final test accuracy of the best fully trained survivor (chosen by mean final
    validation accuracy, :func:`_chosen`); None without final records.

    Raises
    ------
    LedgerError
        Malformed final records.
    """
    final = final_frame(ledger)
    best = _chosen(final)
    return None if best is None or is_missing(final.loc[best, "final_mean"]) else float(final.loc[best, "final_mean"])


def best_screening(ledger) -> tuple[float | None, str]:
    """The best screening accuracy of a run and what it measures: the highest ``test_accuracy``
    over its COMPLETE trials, else (no such column) the highest primary metric."""
    frame = evaluations_frame(ledger)
    if "test_accuracy" in frame and frame["test_accuracy"].notna().any():
        return float(frame["test_accuracy"].max()), "screening test accuracy"
    metric = (ledger.get_attr("objectives") or ["value"])[0]
    if metric in frame and frame[metric].notna().any():
        return float(frame[metric].max()), f"screening {metric}"
    return None, "no result"


def _final_csv(records: list[dict]) -> str:
    import pandas as pd

    rows = [{**_genome_columns(r["_genome"]), **{k: v for k, v in r.items() if k != "_genome"}} for r in records]
    frame = pd.DataFrame(rows)
    first = [c for c in _FINAL_COLUMNS if c in frame.columns and c != "genome"]
    rest = [c for c in frame.columns if c not in first and c != "genome"]
    return frame[first + rest + ["genome"]].to_csv(index=False)


def export_run(ledger, run_dir: str | os.PathLike) -> None:
    """Write ``evaluations.csv``, ``best/genome.json`` and, with final records, ``final.csv`` (atomically).

    Raises
    ------
    LedgerError
        Malformed final records (checked before anything is written).
    """
    from nas.provenance import write_json_atomic

    run_dir = Path(run_dir)
    final = _final_records(ledger)
    frame = evaluations_frame(ledger)
    write_text_atomic(run_dir / "evaluations.csv", frame.to_csv(index=False))
    if final:
        write_text_atomic(run_dir / "final.csv", _final_csv(final))
    metric = (ledger.get_attr("objectives") or ["value"])[0]
    table = final_frame(ledger) if final else None
    chosen = _chosen(table) if final else None
    if chosen is not None:  # the best fully trained survivor
        row = table.loc[chosen]
        write_json_atomic(run_dir / "best" / "genome.json", {
            "genome": json.loads(row["genome"]),
            "final": {k: (None if is_missing(row[k]) else row[k]) for k in table.columns if k != "genome"},
        })
    elif not frame.empty:
        best = _best_screened(frame, metric)
        write_json_atomic(run_dir / "best" / "genome.json", {
            "genome": json.loads(best["genome"]),
            "trial": int(best["trial"]),
            "metrics": {k: best[k] for k in frame.columns if k not in ("genome",) and not is_missing(best[k])},
        })


def _best_screened(frame, metric: str):
    """The best screened trial's row: the highest ``metric``, ties to the earlier trial."""
    return frame.sort_values([metric, "trial"], ascending=[False, True]).iloc[0]


def is_missing(value) -> bool:
    """True for None and NaN."""
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
    from nas.config import load_run_config
    from nas.ledger import Ledger

    config = load_run_config(run_dir)
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    run_dir = Path(run_dir)
    if ledger is None:
        ledger, config = open_run_ledger(run_dir)
    else:  # the search's own ledger (opened with the password a stored URL does not keep)
        from nas.config import load_run_config

        config = load_run_config(run_dir)
    others = [(Path(o), *open_run_ledger(o)) for o in compare]  # (dir, ledger, config): a bad one fails first
    final = final_frame(ledger)  # malformed final records, here or in a compared run, fail before any write
    comparison = None
    if others:
        from nas.compare import aggregate

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
    plots: list[tuple[str, str]] = []

    from nas.compare import strategy_label

    def label(cfg, fr):
        return f"{strategy_label(cfg)} seed {cfg.seed} ({len(fr)} trained)"

    # 1. best so far against training time, per run
    fig, ax = plt.subplots(figsize=(6, 4))
    runs = [(config, frame)] + [(cfg, evaluations_frame(led)) for _, led, cfg in others]
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

    # 5. the best network's wiring (the chosen survivor, else the best screened trial)
    best_genome = None
    chosen = _chosen(final) if final is not None and not final.empty else None
    if chosen is not None:
        best_genome = final.loc[chosen, "genome"]
    elif not frame.empty:
        best_genome = _best_screened(frame, metric)["genome"]
    if best_genome is not None:
        from search_spaces.exceptions import SparseNASError

        try:
            genome = Genome.from_dict(legacy_genome_dict(json.loads(best_genome)))
            draw_genome(genome, run_dir / "best_graph.png")
        except (SparseNASError, ValueError, TypeError):  # a genome that cannot be rebuilt: no picture
            genome = None
        if genome is not None:
            plots.append(("best_graph.png", f"The best network's graph: {genome.prior}, {genome.nodes} vertices, "
                                            f"by DAG layer (key {genome.key})"))

    text = _markdown(config, frame, failed, history, names, plots, ledger, final=final, comparison=comparison)
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


def fmt_number(value, spec=".4f") -> str:
    """A number for a Markdown table: "–" when missing, ``spec`` for floats."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return format(value, spec) if isinstance(value, (float, np.floating)) else str(value)


def _final_section(final, metric: str) -> list[str]:
    """Markdown: the survivors fully trained, and how screening ranked them against final accuracy."""
    from scipy import stats

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
    best = _chosen(final)
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
        f"Ledger: `{shown_url(config.storage_url)}`, study `{config.study_name}` "
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
        best = _best_screened(frame, metric)
        test = f", test accuracy {best['test_accuracy']:.4f}" if "test_accuracy" in frame and not is_missing(best["test_accuracy"]) else ""
        lines.append(f"| best {metric} | {best[metric]:.4f} (trial {int(best['trial'])}{test}) |")
    chosen = _chosen(final) if final is not None and final["final_mean"].notna().any() else None
    if chosen is not None:  # the survivor best/ holds: chosen by validation, never by test
        top = final.loc[chosen]
        std = "" if is_missing(top["final_std"]) else f" ± {top['final_std']:.4f}"
        interval = "" if is_missing(top["ci_low"]) else (
            f", 95 % binomial interval {top['ci_low']:.4f}–{top['ci_high']:.4f} on {int(top['test_examples'])}"
            + ("" if is_missing(top["test_expected"]) or int(top["test_expected"]) <= int(top["test_examples"])
               else f" of {int(top['test_expected'])}") + " test images")
        lines.append(f"| best fully trained (final test accuracy) | {top['final_mean']:.4f}{std} over "
                     f"{top['n_seeds']} seed(s) (`{top['key']}`){interval} |")
    if not frame.empty:
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
    ]
    if final is not None and not final.empty:
        lines += _final_section(final, metric)
    if comparison is not None:
        from nas.compare import compare_section

        lines += compare_section(comparison)
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
    notes = [(t.number, t.user_attrs["notes"]) for t in ledger.trials() if t.user_attrs.get("notes")]
    notes += [(f"{r.get('trial', '?')} (final, seed {r['seed']})", r["notes"]) for r in _final_records(ledger)
              if r.get("notes")]
    if notes:
        lines += ["", "## Trainer notes", "", "What the trainer changed to make a training fit (out of device "
                  "memory: a smaller stack, or a smaller batch, which changes that training's budget):", ""]
        lines += [f"- trial {number}: {note}" for number, note in notes]
    if not failed.empty:
        lines += ["", "## Failed trainings", ""]
        for _, row in failed.iterrows():
            lines.append(f"- trial {int(row['trial'])} (generation {row.get('generation')}): {row['fail_reason']}")
    lines += ["", "## Plots", ""]
    for file, caption in plots:
        lines += [f"![{caption}]({file})", "", f"*{caption}.*", ""]
    extra = (", `final.csv` (one row per final training: genome and seed)" if final is not None and not final.empty else "")
    extra += ", `compare.csv` and `compare_tests.csv` (strategies compared)" if comparison is not None else ""
    lines += ["", "Files: `config.json` (config, code and library versions), `evaluations.csv` (one row per trained "
              f"architecture; `nas predictor evaluate` reads it){extra}, `best/`. Rebuild with `nas report RUN_DIR`.", ""]
    return "\n".join(lines)
