"""The multi-objective part of a search report: the Pareto front of (metric, cost) and its
hypervolume (:mod:`nas.search.pareto`).

The reference point is accuracy 0 (the metric's worst) and the largest cost among the trained
candidates, so the hypervolume reads as the share of the box [0, 1] × [0, largest cost] the front
dominates (:func:`~nas.search.pareto.normalised_hypervolume`): two runs' values are comparable
only at the same reference, which ``nas bench search`` fixes across its runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nas.search.pareto import nondominated, normalised_hypervolume

__all__ = ["pareto_summary", "pareto_section", "front_mask"]

#: (maximise the metric, minimise the cost)
WEIGHTS = (1.0, -1.0)


def front_mask(frame: pd.DataFrame, metric: str, cost: str) -> np.ndarray:
    """Rows of ``frame`` on the Pareto front of (``metric`` up, ``cost`` down)."""
    return nondominated(frame[[metric, cost]].to_numpy(float), WEIGHTS)


def pareto_summary(frame: pd.DataFrame, names: list[str]) -> dict | None:
    """The front and its hypervolume for a two-objective run (None for one objective or no rows).

    Returns
    -------
    dict
        ``metric``, ``cost``, ``front`` (its rows, cheapest first), ``reference`` (0, largest
        cost), ``hypervolume`` (normalised).
    """
    if len(names) < 2 or frame.empty or names[1] not in frame:
        return None
    metric, cost = names[0], names[1]
    rows = frame.dropna(subset=[metric, cost])
    if rows.empty:
        return None
    reference = (0.0, float(rows[cost].max()))
    front = rows[front_mask(rows, metric, cost)].sort_values(cost)
    hv = normalised_hypervolume(rows[[metric, cost]].to_numpy(float), WEIGHTS, reference)
    return {"metric": metric, "cost": cost, "front": front, "reference": reference, "hypervolume": hv}


def pareto_section(summary: dict | None) -> list[str]:
    """Markdown lines of :func:`pareto_summary` (none for a one-objective run)."""
    if summary is None:
        return []
    metric, cost, front = summary["metric"], summary["cost"], summary["front"]
    lines = ["", "## Pareto front", "",
             f"{len(front)} trained candidates are on the front of {metric} (higher is better) against {cost} (lower "
             f"is better). Hypervolume **{summary['hypervolume']:.4f}**: the share of the box {metric} 0–1 × "
             f"{cost} 0–{summary['reference'][1]:,.0f} (the largest {cost} trained) that the front dominates.",
             "", f"| trial | {metric} | {cost} | prior | nodes | width |", "|---|---|---|---|---|---|"]
    for _, r in front.iterrows():
        lines.append(f"| {int(r['trial'])} | {r[metric]:.4f} | {float(r[cost]):,.0f} | {r.get('prior', '')} | "
                     f"{r.get('nodes', '')} | {r.get('width', '')} |")
    return lines
