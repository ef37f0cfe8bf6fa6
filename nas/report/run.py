"""Reading and exporting a search run directory, rebuilt from the ledger at any time.

:func:`export_run` writes ``evaluations.csv`` (the format ``nas predictor evaluate`` reads: one
row per trained architecture, a ``genome`` column with its JSON, one column per metric, ``reason``
saying why it was trained), ``best/genome.json`` and, once the search's final phase has fully
trained its survivors, ``final.csv`` (one row per (genome, seed) training). :func:`evaluations_frame`
and :func:`final_frame` are the tables the report (:mod:`nas.report.search`) and comparisons
(:mod:`nas.report.compare`) read.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from nas.exceptions import LedgerError
from nas.ledger import Ledger
from nas.provenance import write_json_atomic, write_text_atomic
from nas.search.config_files import load_run_config
from nas.search.final import FINAL_ATTR, best_final_key
from search_spaces.genome import JSON_DEFAULTS

__all__ = ["evaluations_frame", "export_run", "open_run_ledger", "final_frame", "final_records", "test_interval",
           "best_final_accuracy", "best_screening", "best_screened", "chosen_survivor", "is_missing", "fmt_number",
           "FINAL_MEASURE"]

_FINAL_REQUIRED = ("key", "genome", "seed", "screening", "test_accuracy")
_FINAL_COLUMNS = ("key", "prior", "nodes", "width", "readout", "seed", "test_accuracy", "val_accuracy", "screening",
                  "screening_test_accuracy", "nonzero_weights", "wall_time_s", "example_epochs", "genome")
FINAL_MEASURE = "final test accuracy"

_BASE_COLUMNS = ("trial", "generation", "index", "reason", "strategy", "key", "architecture", "prior", "nodes", "width",
                 "readout", "family",
                 "predicted", "predicted_std", "genome")
_SKIP_ATTRS = {"genome", "key", "features", "libraries", "requeued", "fail_reason"}
#: Trial attributes stored under an older name: a search's dedup key was ``wl_hash`` until it keyed
#: width and readout too (its column is ``architecture`` in every run, old or new).
_OLD_ATTR_NAMES = {"wl_hash": "architecture"}


def evaluations_frame(ledger, *, failed: bool = False):
    """One row per COMPLETE trial (``failed=True``: per failed, not requeued, trial) as a DataFrame."""
    names = ledger.get_attr("objectives") or ["value"]
    rows = []
    for t in ledger.trials():
        if failed:
            if t.state.name != "FAIL" or t.user_attrs.get("requeued"):
                continue
        elif t.state.name != "COMPLETE":
            continue
        genome = json.loads(t.user_attrs["genome"])
        row = {"trial": t.number, **_genome_columns(genome), "family": genome.get("family", JSON_DEFAULTS["family"])}
        for k, v in t.user_attrs.items():
            if k not in _SKIP_ATTRS and (v is None or isinstance(v, (int, float, str, bool))):
                row[_OLD_ATTR_NAMES.get(k, k)] = v
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



def final_records(ledger) -> list[dict]:
    """The final phase's records (ledger attribute ``final``), checked; [] when there are none.

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
        raise LedgerError(f"ledger attribute {FINAL_ATTR!r} must be a list of records, got {type(records).__name__}")
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
    """The genome's columns, a field it lacks read as :meth:`Genome.from_dict` reads it (one set of
    defaults: a genome stored before widths and readouts existed has width 1 and readout ``last``)."""
    genome = {**JSON_DEFAULTS, **genome}
    return {"prior": genome.get("prior"), "nodes": genome["nodes"], "width": genome["width"],
            "readout": genome["readout"]}


def final_frame(ledger):
    """The survivors fully trained by the final phase: one row per genome, best mean first.

    Parameters
    ----------
    ledger : Ledger
        The search's ledger; its ledger attribute ``final`` holds one record per (genome, seed).

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
    columns = ["key", "genome", "prior", "nodes", "width", "readout", "nonzero_weights", "screening",
               "final_mean", "final_std", "n_seeds", "val_mean", "test_examples", "test_expected", "ci_low", "ci_high"]
    groups: dict[str, list[dict]] = {}
    for record in final_records(ledger):
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


def _mean_finite(values) -> float:
    values = np.array([_number(v) for v in values], dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else math.nan


def chosen_survivor(final) -> int | None:
    """Row of the best fully trained survivor: the highest mean final *validation* accuracy (the
    choice :func:`nas.search.final.best_final_key` makes; the test set never selects), ties to the
    better screened one."""
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
    best = chosen_survivor(final)
    return None if best is None or is_missing(final.loc[best, "final_mean"]) else float(final.loc[best, "final_mean"])


def best_screening(ledger) -> tuple[float | None, str]:
    """The best screening accuracy of a run and what it measures: the highest ``test_accuracy``
    over its COMPLETE trials screened at the full budget, else (no such column) the highest primary metric."""
    frame = _fully_screened(evaluations_frame(ledger))
    if "test_accuracy" in frame and frame["test_accuracy"].notna().any():
        return float(frame["test_accuracy"].max()), "screening test accuracy"
    metric = (ledger.get_attr("objectives") or ["value"])[0]
    if metric in frame and frame[metric].notna().any():
        return float(frame[metric].max()), f"screening {metric}"
    return None, "no result"


def _final_csv(records: list[dict]) -> str:
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
    run_dir = Path(run_dir)
    final = final_records(ledger)
    frame = evaluations_frame(ledger)
    write_text_atomic(run_dir / "evaluations.csv", frame.to_csv(index=False))
    if final:
        write_text_atomic(run_dir / "final.csv", _final_csv(final))
    metric = (ledger.get_attr("objectives") or ["value"])[0]
    table = final_frame(ledger) if final else None
    chosen = chosen_survivor(table) if final else None
    if chosen is not None:  # the best fully trained survivor
        row = table.loc[chosen]
        write_json_atomic(run_dir / "best" / "genome.json", {
            "genome": json.loads(row["genome"]),
            "final": {k: (None if is_missing(row[k]) else row[k]) for k in table.columns if k != "genome"},
        })
    elif not frame.empty:
        best = best_screened(frame, metric)
        write_json_atomic(run_dir / "best" / "genome.json", {
            "genome": json.loads(best["genome"]),
            "trial": int(best["trial"]),
            "metrics": {k: best[k] for k in frame.columns if k not in ("genome",) and not is_missing(best[k])},
        })


def best_screened(frame, metric: str):
    """The best screened trial's row: the highest ``metric``, ties to the earlier trial; a trial
    stopped at a lower rung of successive halving (``fidelity`` < 1) is no candidate."""
    frame = _fully_screened(frame)
    return frame.sort_values([metric, "trial"], ascending=[False, True]).iloc[0]


def _fully_screened(frame):
    """The rows trained at the full screening budget (all of them without successive halving)."""
    if "fidelity" not in frame.columns:
        return frame
    return frame[frame["fidelity"].isna() | (frame["fidelity"] >= 1.0)]


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
    config = load_run_config(run_dir)
    return Ledger.open(config.storage_url, config.ledger, create=False), config


def fmt_number(value, spec=".4f") -> str:
    """A number for a Markdown table: "–" when missing, ``spec`` for floats."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return format(value, spec) if isinstance(value, (float, np.floating)) else str(value)
