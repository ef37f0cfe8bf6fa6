"""The structure effect at equal cost: with a weight or FLOPs target every candidate has about the
same size, so the spread of their screening results is what the wiring alone is worth.

:func:`structure_effect` computes it from a run's ``evaluations.csv`` frame
(:func:`nas.report.run.evaluations_frame`); :func:`structure_section` is its part of ``report.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nas.report.run import fmt_number

__all__ = ["structure_effect", "structure_section", "COST_COLUMNS"]

#: The config field of each cost target and the ``evaluations.csv`` column holding that cost.
COST_COLUMNS = {"weight_target": "nonzero_weights", "flops_target": "flops"}


def structure_effect(frame: pd.DataFrame, config, metric: str) -> dict | None:
    """Best against median ``metric`` over the trained candidates of a search with a cost target.

    Parameters
    ----------
    frame : DataFrame
        One row per trained (COMPLETE) candidate, as :func:`~nas.report.run.evaluations_frame`.
    config : SearchConfig
        Its ``weight_target`` or ``flops_target`` says which cost was fixed.
    metric : str
        The screening metric (the search's first objective).

    Returns
    -------
    dict or None
        None without a cost target. Else ``target_name`` (the config field), ``target``, ``column``
        (the cost's column), ``n`` (candidates with a value of ``metric``), ``best``, ``median``,
        ``q25``, ``q75``, ``iqr`` (NaN when ``n`` is 0), ``n_costs`` (candidates whose cost is
        recorded) and ``deviation_min`` / ``deviation_max``: (cost − target) / target over them
        (NaN when none is).
    """
    name = next((field for field in COST_COLUMNS if getattr(config, field, None) is not None), None)
    if name is None:
        return None
    target, column = float(getattr(config, name)), COST_COLUMNS[name]
    values = pd.to_numeric(frame[metric], errors="coerce").dropna().to_numpy(float) if metric in frame else np.array([])
    costs = pd.to_numeric(frame[column], errors="coerce").dropna().to_numpy(float) if column in frame else np.array([])
    deviation = (costs - target) / target
    q25, median, q75 = np.percentile(values, [25, 50, 75]) if values.size else (np.nan,) * 3
    return {
        "target_name": name, "target": target, "column": column, "n": int(values.size),
        "best": float(values.max()) if values.size else np.nan, "median": float(median),
        "q25": float(q25), "q75": float(q75), "iqr": float(q75 - q25),
        "n_costs": int(costs.size),
        "deviation_min": float(deviation.min()) if costs.size else np.nan,
        "deviation_max": float(deviation.max()) if costs.size else np.nan,
    }


def structure_section(effect: dict | None, metric: str) -> list[str]:
    """Markdown: the structure effect (nothing without a cost target)."""
    if effect is None:
        return []
    what = "nonzero weights" if effect["column"] == "nonzero_weights" else "FLOPs per example"
    lines = [
        "", "## Structure at equal cost", "",
        f"Every candidate's width was set so its {what} come closest to {effect['target']:,.0f} "
        f"(`{effect['target_name']}`): size is fixed, the wiring is what differs. How much it matters, over the "
        f"{effect['n']} trained candidates (screening `{metric}`; shadow and warm-up ones included):", "",
        "| | |", "|---|---|",
        f"| best | {fmt_number(effect['best'])} |",
        f"| median | {fmt_number(effect['median'])} |",
        f"| best − median | {fmt_number(effect['best'] - effect['median'])} |",
        f"| interquartile range (25th–75th percentile) | {fmt_number(effect['iqr'])} "
        f"({fmt_number(effect['q25'])}–{fmt_number(effect['q75'])}) |",
    ]
    if effect["n_costs"]:
        lines.append(f"| {what} relative to the target (min, max) | {100 * effect['deviation_min']:+.1f} %, "
                     f"{100 * effect['deviation_max']:+.1f} % over {effect['n_costs']} candidates |")
    else:
        lines.append(f"| {what} relative to the target | – (no `{effect['column']}` recorded) |")
    lines += ["", "The best of many screened candidates is biased upward (the more candidates, the higher), so "
              "best − median overstates what one search's wiring choice gains; the interquartile range is the "
              "typical spread. Widths are whole numbers, so costs scatter around the target."]
    return lines
