"""Budget calibration of a prior study: the cheapest budget whose verdicts agree with the full one.

``nas priors calibrate`` trains a small stratified subsample of the study (``sample`` genomes per
prior and cell — the study's own draw with fewer genomes, so their sizes still span the range —
each with the study's seeds) at the *reference* budget, a normal resumable study folder whose runs
record their learning curves. The ladder is read from those curves, so one run to the reference
serves every rung: at rung ``e`` a run's value is its validation accuracy after epoch ``e`` (a run
that stopped earlier keeps its last value; a diverged run counts as chance), a genome's value the
mean over its seeds. Per rung and cell:

* **ranking**: Kendall τ (``scipy.stats.kendalltau``) of the genomes' values at the rung against
  the reference rung;
* **verdicts**: every pair of priors classed as "a higher", "b higher" (Holm-corrected
  Mann–Whitney p < 0.05, by the sign of Cliff's δ) or "no difference", compared with the
  reference's classes.

The chosen budget is the cheapest rung where τ reaches ``tau`` in every cell and every verdict
agrees; the reference itself when none does. A cell whose genomes are mostly at chance at the
reference has no ranking to keep (its order is seed noise): its τ is shown, not required. The
ladder also gives the reference's own τ across seed halves: where it is below ``tau`` the
reference ranks its genomes largely by seed noise. The curve after epoch ``e`` of a longer run
stands in for a run of ``e`` epochs: exact for a constant learning rate, an approximation under a
schedule that depends on the total (the report says which schedule ran).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from nas.exceptions import ConfigError, StudyError
from nas.provenance import to_jsonable, write_json_atomic, write_text_atomic
from nas.studies.priors import stats
from nas.studies.priors.adequacy import ALPHA, CHANCE_LIMIT, format_value
from nas.studies.priors.agreement import reference_lines, reference_verdicts
from nas.studies.priors.curves import value_at
from nas.studies.priors.run import counts
from nas.studies.priors.store import StudyStore
from nas.training.tasks import get_task

__all__ = ["CALIBRATION_FILE", "DEFAULT_TAU", "check_calibration", "check_ladder", "check_sample", "ladder_lines", "ladder_table",
           "ladder_values", "read_ladder", "write_calibration"]

#: Settings a calibration and the study it calibrates must share (the training options too, but epochs).
SHARED_SETTINGS = ("task", "priors", "families", "nodes", "width", "readout", "match")

CALIBRATION_FILE = "calibration.json"
#: Kendall τ against the reference that a rung's genome ranking must reach in every cell.
DEFAULT_TAU = 0.8


def check_sample(sample: int) -> None:
    """Raise ConfigError for a calibration subsample of fewer than 2 genomes per prior and cell."""
    if sample < 2:
        raise ConfigError(f"--sample: expected at least 2 genomes per prior and cell to rank, got {sample}")


def check_ladder(rungs, reference: int, sample: int) -> tuple[int, ...]:
    """The ladder's rungs (epochs, ascending, the reference appended), checked before any training.

    Raises
    ------
    ConfigError
        No rung, a rung below 1 or above the reference (the reference below the cheapest rung), or
        a subsample of fewer than 2 genomes per prior.
    """
    rungs = tuple(sorted({int(r) for r in rungs}))
    if not rungs or rungs[0] < 1:
        raise ConfigError(f"--ladder: expected epochs >= 1, got {list(rungs)}")
    if reference < rungs[-1]:
        raise ConfigError(f"--ladder: the reference budget ({reference} epochs) is below the rung {rungs[-1]}; "
                          "expected every rung at most the reference")
    check_sample(sample)
    return tuple(r for r in rungs if r < reference) + (reference,)


def check_calibration(study, calibration) -> None:
    """Raise unless the calibration's settings (``StudyConfig``) are the study's, but for its size,
    seeds, draw seed and epochs.

    Raises
    ------
    ConfigError
        Names the first setting that differs, with both values.
    """
    for name in SHARED_SETTINGS:
        mine, theirs = getattr(study, name), getattr(calibration, name)
        if mine != theirs:
            raise ConfigError(f"--calibration was made for {name} = {theirs!r}; this study has {mine!r}. "
                              "Expected the same study settings (but size, seeds and epochs)")
    mine = {k: v for k, v in study.train_options.items() if k != "epochs"}
    theirs = {k: v for k, v in calibration.train_options.items() if k != "epochs"}
    if mine != theirs:
        raise ConfigError(f"--calibration was made with the training options {theirs}; this study has {mine}. "
                          "Expected the same options (but epochs)")


def ladder_values(records: list[dict], genomes, rungs, chance: float) -> pd.DataFrame:
    """One row per genome with every seed finished: ``id, family, prior``, its mean value at every
    rung (columns ``e<epochs>``) and each seed's value at the reference (``s0``, ``s1``, ...)."""
    runs = [r for r in records if counts(r)]
    seeds = {}
    for r in runs:
        seeds.setdefault(r["id"], {})[int(r["seed"])] = r
    needed = max((len(s) for s in seeds.values()), default=0)
    rows = []
    for g in genomes:  # in the study's order, so cells keep it too
        by_seed = seeds.get(g.id, {})
        if not by_seed or len(by_seed) < needed:
            continue
        row = {"id": g.id, "family": g.family, "prior": g.prior}
        for e in rungs:
            row[f"e{e}"] = float(np.mean([value_at(r, e, chance) for r in by_seed.values()]))
        row.update({f"s{k}": value_at(by_seed[s], rungs[-1], chance) for k, s in enumerate(sorted(by_seed))})
        rows.append(row)
    return pd.DataFrame(rows)


def _classes(part: pd.DataFrame, column: str) -> dict[tuple[str, str], int]:
    """Per pair of priors: +1 (a higher), -1 (b higher) or 0 (no significant difference)."""
    groups = {p: g[column].to_numpy() for p, g in part.groupby("prior", sort=False)}
    if len(groups) < 2 or any(v.size < 2 for v in groups.values()):
        return {}
    pairs = stats.compare_groups(groups)["pairs"]
    return {(r["a"], r["b"]): (int(np.sign(r["cliffs_delta"])) if r["p_holm"] < ALPHA else 0)
            for r in pairs.to_dict("records")}


def ladder_table(values: pd.DataFrame, rungs, tau: float = DEFAULT_TAU, floor: float | None = None) -> dict:
    """The ladder: per rung and cell, τ against the reference and the verdicts' agreement; the choice.

    ``floor`` (chance + the study's fail margin): a genome valued at or below it at the reference
    is at chance. A cell with at least ``CHANCE_LIMIT`` of its genomes at chance has no ranking to
    keep (its order is seed noise), so its τ is shown but not required; its verdicts still are.
    """
    reference = rungs[-1]
    cells = dict(tuple(values.groupby("family", sort=False)))
    ranked = {}
    for family, part in cells.items():
        at_chance = float((part[f"e{reference}"] <= floor).mean()) if floor is not None else 0.0
        ranked[family] = (at_chance, at_chance < CHANCE_LIMIT)
    rows = []
    for e in rungs:
        row = {"epochs": e, "cost_share": e / reference, "cells": {}}
        for family, part in cells.items():
            ref_classes, classes = _classes(part, f"e{reference}"), _classes(part, f"e{e}")
            if part[f"e{e}"].nunique() < 2 or part[f"e{reference}"].nunique() < 2:
                t = 1.0 if e == reference else math.nan  # a constant ranking says nothing
            else:
                t = float(kendalltau(part[f"e{e}"], part[f"e{reference}"]).statistic)
            flips = [f"{a} vs {b}" for (a, b), c in ref_classes.items() if classes.get((a, b)) != c]
            row["cells"][family] = {"tau": t, "genomes": len(part), "verdicts_agree": not flips, "disagree": flips,
                                    "at_chance": ranked[family][0], "ranked": ranked[family][1]}
        row["agrees"] = all(c["verdicts_agree"] and (not c["ranked"] or (math.isfinite(c["tau"]) and c["tau"] >= tau))
                            for c in row["cells"].values())
        rows.append(row)
    chosen = next((r["epochs"] for r in rows if r["agrees"]), reference)
    return {"rungs": rows, "chosen_epochs": chosen, "reference_epochs": reference, "tau": tau,
            "reference_tau_across_seeds": {str(f): _tau_across_seeds(part) for f, part in cells.items()}}


def _tau_across_seeds(part: pd.DataFrame) -> float:
    """Kendall τ of the genomes' reference values from the first half of their seeds against the
    second half: how well the reference ranks like a second run of itself (NaN below 2 seeds)."""
    seeds = sorted(c for c in part.columns if c.startswith("s") and c[1:].isdigit())
    if len(seeds) < 2:
        return math.nan
    half = len(seeds) // 2
    first, second = part[seeds[:half]].mean(axis=1), part[seeds[half:]].mean(axis=1)
    if first.nunique() < 2 or second.nunique() < 2:
        return math.nan
    return float(kendalltau(first, second).statistic)


def write_calibration(folder, rungs, tau: float = DEFAULT_TAU) -> dict:
    """Read the calibration study in ``folder``, write ``calibration.json`` and ``calibration.md``,
    and return the ladder (:func:`ladder_table` plus the study's settings and the verdicts at the
    reference budget, :func:`~nas.studies.priors.agreement.reference_verdicts`)."""
    folder = Path(folder)
    store = StudyStore(folder)
    config = store.settings()
    values = ladder_values(store.records(), store.genomes(), rungs, store.chance())
    if values.empty:
        raise StudyError(f"{str(folder)!r}: no genome has finished every seed; nothing to calibrate")
    result = ladder_table(values, rungs, tau, floor=store.chance() + config.fail_margin)
    result.update({"sample": config.per_prior, "seeds": config.seeds, "task": config.task,
                   "schedule": get_task(config.task).default_config(**config.train_options).schedule,
                   "genomes": len(values), "reference_verdicts": reference_verdicts(folder),
                   "own_study": True})  # the calibration's own folder: its report compares nothing with itself
    lines = ["# Budget calibration", "", *ladder_lines(result), "",
             *reference_lines(result["reference_verdicts"], result["reference_epochs"])]
    write_json_atomic(folder / CALIBRATION_FILE, to_jsonable(result))
    write_text_atomic(folder / "calibration.md", "\n".join(lines))
    return result


def read_ladder(folder) -> dict:
    """The ``calibration.json`` of a calibration folder (see :func:`write_calibration`).

    Raises
    ------
    StudyError
        The folder holds no finished calibration.
    """
    path = Path(folder) / CALIBRATION_FILE
    if not path.is_file():
        raise StudyError(f"{str(folder)!r} holds no {CALIBRATION_FILE}; expected the --out of a finished "
                         "nas priors calibrate")
    try:
        ladder = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StudyError(f"cannot read {str(path)!r} as the JSON of a calibration: {err}") from None
    if not isinstance(ladder, dict) or not isinstance(ladder.get("chosen_epochs"), int) or not ladder.get("rungs"):
        raise StudyError(f"{str(path)!r} is no calibration (expected its rungs and chosen_epochs); run nas priors "
                         "calibrate again")
    return ladder


def ladder_lines(result: dict) -> list[str]:
    """The ladder as markdown (the calibration's own report and the study's)."""
    cells = list(result["rungs"][0]["cells"]) if result["rungs"] else []
    lines = [f"Subsample: {result.get('sample', '?')} genomes per prior and cell × {result.get('seeds', '?')} seeds "
             f"({result.get('genomes', '?')} genomes), trained to the reference budget of {result['reference_epochs']} "
             f"epochs (schedule: {result.get('schedule', '?')}); each rung read from the learning curves. A rung agrees "
             f"when Kendall τ against the reference reaches {result['tau']} in every cell whose networks learn at the "
             f"reference (a cell with at least {CHANCE_LIMIT:.0%} of its genomes at chance there has no ranking to keep: "
             "its τ is shown in brackets, not required) and every pair of priors keeps its verdict (higher / lower / "
             "no difference at Holm p < 0.05).", "",
             "| epochs | cost | " + " | ".join(f"{c}: τ, verdicts" for c in cells) + " | agrees |",
             "|---|---|" + "---|" * len(cells) + "---|"]
    for r in result["rungs"]:
        parts = []
        for c in cells:
            cell = r["cells"][c]
            t = format_value(cell["tau"], ".2f")
            t = t if cell.get("ranked", True) else f"({t}; {cell['at_chance']:.0%} at chance)"
            parts.append(f"{t}, " + ("agree" if cell["verdicts_agree"] else "flip: " + "; ".join(cell["disagree"])))
        lines.append(f"| {r['epochs']} | {r['cost_share']:.0%} | " + " | ".join(parts) + f" | {'yes' if r['agrees'] else 'no'} |")
    lines += ["", f"**Chosen budget: {result['chosen_epochs']} epochs** (the reference: {result['reference_epochs']})."]
    across = result.get("reference_tau_across_seeds") or {}
    if across:
        lines += ["", "The reference's own ranking across seeds (Kendall τ of the genomes' reference values from one "
                  "half of their seeds against the other): " + ", ".join(f"{c} {format_value(t, '.2f')}" for c, t in across.items())
                  + "."]
        short = [c for c, t in across.items() if math.isfinite(t) and t < result["tau"]
                 and result["rungs"][-1]["cells"].get(c, {}).get("ranked", True)]
        if short:
            lines.append(f"**In {', '.join(short)} one half of the reference's seeds ranks the genomes less alike "
                         f"the other half than τ = {result['tau']} asks of a cheaper rung: the reference's ranking is "
                         "largely seed noise there. A rung's τ against it is read from the same runs, so it measures "
                         "how alike one run's early and late epochs rank, not a steadier truth; more seeds per genome "
                         "make the reference steadier.**")
    return lines

