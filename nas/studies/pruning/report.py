"""Markdown tables of a ``nas prune`` result: accuracy per compression level and paired tests.

``markdown_tables(result)`` takes the JSON ``nas prune`` writes and returns two tables — mean ±
std test accuracy (in %) per compression level and method, and every method against the
reference method per level (mean difference in percentage points, paired t-test and Wilcoxon
p-values, n) — plus, when given, reference figures to print beside the measured ones (e.g. the
paper's table).
"""

from __future__ import annotations

import numpy as np

__all__ = ["markdown_tables", "PAPER_TABLE"]

#: Stier et al. 2021, mean test accuracy (%) over 25 runs, 25 % steps, 2-epoch retraining
#: (../shared/PAPER.md), keyed by compression level (%) rounded to one decimal.
PAPER_TABLE = {
    76.3: {"mcb": 97.56, "mcd": 97.19, "mcu": 97.04, "obd": 97.37, "random": 93.03},
    82.2: {"mcb": 97.53, "mcd": 97.05, "mcu": 96.74, "obd": 97.34, "random": 91.99},
    90.0: {"mcb": 97.25, "mcd": 96.08, "mcu": 96.03, "obd": 97.09, "random": 89.07},
}


def _p(value) -> str:
    return "–" if value is None else f"{value:.2g}"


def markdown_tables(result: dict, reference_table: dict | None = None) -> str:
    """Markdown for ``result`` (a ``nas prune`` JSON, complete or not).

    Parameters
    ----------
    result : dict
    reference_table : dict, optional
        ``{compression %: {method: accuracy %}}`` printed in brackets after the measured value
        at the levels it has (e.g. :data:`PAPER_TABLE`).
    """
    methods = list(result["methods"])
    steps = {m: result["methods"][m]["steps"] for m in methods}
    depth = max((len(s) for s in steps.values()), default=0)  # a method whose networks stopped has fewer
    seeds = max((s[0]["seeds"] for s in steps.values() if s), default=0)
    base = [b["test_accuracy"] for b in result.get("base", [])]
    lines = []
    if base:
        spread = float(np.std(base, ddof=1)) if len(base) > 1 else 0.0
        lines.append(f"Before pruning: {100 * np.mean(base):.2f} ± {100 * spread:.2f} % test accuracy "
                     f"({len(base)} seeds).\n")
    header = "| compression | " + " | ".join(methods) + " |"
    lines += [f"Test accuracy after retraining, % (mean ± std over {seeds} seeds"
              + ("; the paper's mean in brackets" if reference_table else "")
              + "; [n seeds] where networks stopped because a step would have emptied a layer, – where all did):\n",
              header, "|" + "---|" * (len(methods) + 1)]
    for i in range(depth):
        level = 100 * next(steps[m][i] for m in methods if len(steps[m]) > i)["compression"]
        reference = (reference_table or {}).get(round(level, 1), {})
        cells = []
        for m in methods:
            if len(steps[m]) <= i:
                cells.append("–")  # every network of this method stopped before this step
                continue
            s = steps[m][i]
            cell = f"{100 * s['test_accuracy_mean']:.2f} ± {100 * s['test_accuracy_std']:.2f}"
            if s["seeds"] < seeds:
                cell += f" [{s['seeds']} seed{'s' if s['seeds'] != 1 else ''}]"
            if m in reference:
                cell += f" ({reference[m]:.2f})"
            cells.append(cell)
        lines.append(f"| {level:.1f} % | " + " | ".join(cells) + " |")
    comparisons = result.get("comparisons", {})
    others = comparisons.get("methods", {})
    if others:
        ref = comparisons["reference"]
        lines += ["", f"Each method against {ref}, paired by seed (difference in percentage points, mean ± std; "
                      "two-sided paired t-test and Wilcoxon signed-rank p, uncorrected):\n",
                  "| compression | method | difference | t-test p | Wilcoxon p | n |", "|---|---|---|---|---|---|"]
        for i in range(depth):
            for m, rows in others.items():
                if i >= len(rows):
                    continue
                r = rows[i]
                lines.append(f"| {100 * r['compression']:.1f} % | {m} | {100 * r['difference_mean']:+.2f} ± "
                             f"{100 * r['difference_std']:.2f} | {_p(r['t_p'])} | {_p(r['wilcoxon_p'])} | {r['n']} |")
    return "\n".join(lines) + "\n"
