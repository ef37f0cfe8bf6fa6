"""Does a calibrated study reach the verdicts of the full budget? Its verdicts beside the reference's.

``nas priors calibrate`` trains its subsample to the reference (full) budget; the same tests the
study's report runs (:func:`nas.studies.priors.table.cell_tests`: Holm-corrected Mann–Whitney on
mean test accuracy, Cliff's δ, the budget-adequacy verdict) give that subsample its own verdict per
cell and pair of priors: the *reference verdicts*, stored in ``calibration.json``. The study that
runs at the calibrated budget then sets its verdicts beside them. A pair's class is "a higher",
"b higher" (Holm p < ``ALPHA``, by the sign of δ) or "no significant difference"; the two studies

* **agree** when the classes are equal;
* **contradict** when both find a difference, in opposite directions;
* otherwise only one of them finds a difference. The reference subsample is smaller than the
  study, so a difference the study finds and the reference misses is no contradiction; the
  reference's power to see it is stated (the smallest |δ| it detects with 80 % power).
"""

from __future__ import annotations

import numpy as np

from nas.studies.priors.adequacy import ALPHA, format_value
from nas.studies.priors.table import cell_tests, genome_table

__all__ = ["agreement", "agreement_lines", "agreement_summary", "reference_lines", "reference_verdicts"]

_KEYS = ("a", "b", "n_a", "n_b", "p_holm", "cliffs_delta", "detectable_delta", "verdict")


def reference_verdicts(folder, seed: int = 0) -> dict:
    """Per cell, the verdict of every pair of priors in the (calibration) study in ``folder``:
    ``{cell: [{a, b, n_a, n_b, p_holm, cliffs_delta, detectable_delta, verdict}]}``."""
    frame, facts = genome_table(folder)
    if frame.empty:
        return {}
    seeds = int(facts["config"].seeds)
    return {str(family): [{k: v[k] for k in _KEYS} for v in cell_tests(part, seeds, seed)["adequacy"]["verdicts"]]
            for family, part in frame.groupby("family", sort=False)}


def _class(verdict: dict) -> int:
    return int(np.sign(verdict["cliffs_delta"])) if verdict["p_holm"] < ALPHA else 0


def _aligned(reference: list[dict], a: str, b: str) -> dict | None:
    """The reference's verdict on the pair ``a, b``, its δ signed as ``a`` against ``b``."""
    for v in reference:
        if (v["a"], v["b"]) == (a, b):
            return v
        if (v["a"], v["b"]) == (b, a):
            return {**v, "a": a, "b": b, "n_a": v["n_b"], "n_b": v["n_a"], "cliffs_delta": -v["cliffs_delta"]}
    return None


def agreement(cells: dict, reference: dict) -> list[dict]:
    """One row per cell and pair of priors of the study (``cells``: the report's statistics, each
    with its ``adequacy`` verdicts): the study's and the reference's verdicts and ``outcome``
    (``agree``, ``contradict``, ``study only``, ``reference only`` or ``no reference``)."""
    rows = []
    for family, cell in cells.items():
        for v in (cell.get("adequacy") or {}).get("verdicts", []):
            ref = _aligned(reference.get(family, []), v["a"], v["b"])
            if ref is None:
                outcome = "no reference"
            else:
                mine, theirs = _class(v), _class(ref)
                outcome = ("agree" if mine == theirs else "contradict" if mine * theirs < 0
                           else "study only" if mine else "reference only")
            rows.append({"cell": family, "a": v["a"], "b": v["b"], "outcome": outcome,
                         "study": {k: v[k] for k in _KEYS}, "reference": ref})
    return rows


def _short(v: dict | None) -> str:
    if v is None:
        return "—"
    return (f"{v['verdict']} (p {format_value(v['p_holm'], '.2g')}, δ {v['cliffs_delta']:+.2f}, n {v['n_a']} vs {v['n_b']}, "
            f"detects \\|δ\\| ≥ {format_value(v['detectable_delta'], '.2f')})")


_OUTCOME = {"agree": "yes", "contradict": "**no: opposite directions**",
            "study only": "no: only the study finds a difference", "reference only": "no: only the reference finds one",
            "no reference": "— (the reference has no verdict on this pair)"}


def agreement_summary(rows: list[dict]) -> str:
    """``"k of m verdicts agree with the full-budget reference; c contradict"``."""
    agree = sum(r["outcome"] == "agree" for r in rows)
    contradict = sum(r["outcome"] == "contradict" for r in rows)
    return f"{agree} of {len(rows)} verdicts agree with the full-budget reference; {contradict} contradict"


def agreement_lines(rows: list[dict], study_epochs, ladder: dict) -> list[str]:
    """The report's section setting the study's verdicts beside the full-budget reference's
    (``ladder``: the calibration's, :func:`nas.studies.priors.calibration.read_ladder`)."""
    if not rows:
        return []
    chosen = ladder["chosen_epochs"]
    override = (f" This study trained for {study_epochs} epochs, not the calibrated {chosen} (--epochs overrode "
                "the calibration)." if study_epochs != chosen else "")
    lines = ["## Agreement with the full-budget reference", "",
             f"The calibration subsample trained to the reference budget ({ladder['reference_epochs']} epochs), tested "
             f"as this study is, beside this study's verdicts at {study_epochs} epochs: **{agreement_summary(rows)}.** "
             "The reference is smaller than the study: a difference only the study finds is no contradiction (the "
             f"reference's detectable |δ| says what it could see).{override}", "",
             "| cell | a | b | this study | reference | agree |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['cell']} | {r['a']} | {r['b']} | {_short(r['study'])} | {_short(r['reference'])} | "
                     f"{_OUTCOME[r['outcome']]} |")
    return lines + [""]


def reference_lines(reference: dict, epochs) -> list[str]:
    """The reference verdicts as markdown (the calibration's own report)."""
    lines = [f"## Verdicts at the reference budget ({epochs} epochs)", "",
             "The subsample's own verdicts (mean test accuracy; Holm-corrected Mann–Whitney, Cliff's δ); a study at "
             "the chosen budget is set beside them in its report.", "",
             "| cell | a | b | verdict |", "|---|---|---|---|"]
    lines += [f"| {cell} | {v['a']} | {v['b']} | {_short(v)} |" for cell, verdicts in reference.items() for v in verdicts]
    return lines + [""]
