"""Is a prior study's budget enough to compare its priors? Per cell, and a verdict per pair.

A test that finds no difference between two priors says something only if the networks could
learn at the budget used and the labels carry structural signal. Per cell this module measures:

* **at chance**: the share of genomes whose label is at most chance + the study's margin (or that
  diverged), per prior;
* **still learning**: the median over genomes of the last epoch's gain in validation accuracy
  (from the learning curves the study records; unknown for runs of one epoch or without curves);
* **repeatability**: ICC(1) of the seed noise section, with its interval (unknown with one run
  per genome);

and gives every pair of priors one verdict:

* ``"A better than B"`` — Holm-corrected Mann–Whitney p < ``ALPHA`` (with p, Cliff's δ, sizes);
* ``"budget too small to compare these priors"`` — no significant difference, and either prior
  has at least ``CHANCE_LIMIT`` of its genomes at chance, or the repeatability's interval lies
  at or below 0 (the labels hold no measurable structure);
* ``"no difference detected"`` — otherwise, stated with the smallest |δ| the pair's sizes detect
  with 80 % power (normal approximation of the Mann–Whitney statistic: under an effect δ its
  z-score is δ · sqrt(3 n_a n_b / (n_a + n_b + 1))).

A cell whose networks are still improving at the last epoch gets a note: its verdicts may change
with a longer budget.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import norm

__all__ = ["ALPHA", "CHANCE_LIMIT", "RISING", "adequacy", "adequacy_lines", "detectable_delta", "format_value",
           "verdict_lines"]

#: Significance level of a verdict (on Holm-corrected p).
ALPHA = 0.05
#: Share of a prior's genomes at chance from which a comparison is "budget too small".
CHANCE_LIMIT = 0.5
#: Median last-epoch gain in validation accuracy above which a cell is "still learning".
RISING = 0.01
POWER = 0.8


def detectable_delta(n_a: int, n_b: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """Smallest |Cliff's δ| a two-sided Mann–Whitney test of ``n_a`` against ``n_b`` values detects
    with probability ``power`` at level ``alpha`` (normal approximation; may exceed 1 for tiny n).

    >>> round(detectable_delta(50, 50), 2)
    0.33
    """
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    return float(z / math.sqrt(3.0 * n_a * n_b / (n_a + n_b + 1)))


def adequacy(part: pd.DataFrame, pairs: list[dict] | None, noise: dict | None) -> dict:
    """The budget-adequacy figures and pair verdicts of one cell.

    Parameters
    ----------
    part : DataFrame
        The cell's genome table: ``prior``, ``failed`` (at chance or diverged; None where unknown)
        and optionally ``last_gain``.
    pairs : list of dict, optional
        :func:`nas.studies.priors.stats.compare_groups` pairs (``a, b, n_a, n_b, p_holm,
        cliffs_delta``).
    noise : dict, optional
        :func:`nas.studies.priors.stats.noise_ceiling` of the cell.
    """
    at_chance = {}
    for prior, group in part.groupby("prior", sort=False):
        failed = group["failed"]
        at_chance[str(prior)] = float(failed.astype(float).mean()) if failed.notna().all() else math.nan
    gains = part["last_gain"].to_numpy(dtype=float) if "last_gain" in part else np.array([])
    gains = gains[np.isfinite(gains)]
    rising = float(np.median(gains)) if gains.size else math.nan
    icc_high = noise.get("icc1_high", math.nan) if noise else math.nan
    no_signal = math.isfinite(icc_high) and icc_high <= 0
    out = {"at_chance": at_chance, "last_gain_median": rising, "still_learning": bool(rising > RISING),
           "icc1": noise.get("icc1", math.nan) if noise else math.nan,
           "icc1_low": noise.get("icc1_low", math.nan) if noise else math.nan, "icc1_high": icc_high,
           "verdicts": []}
    for pair in pairs or []:
        a, b, p, delta = pair["a"], pair["b"], pair["p_holm"], pair["cliffs_delta"]
        row = {"a": a, "b": b, "n_a": int(pair["n_a"]), "n_b": int(pair["n_b"]), "p_holm": p, "cliffs_delta": delta,
               "detectable_delta": detectable_delta(pair["n_a"], pair["n_b"])}
        chance = max(at_chance.get(a, math.nan), at_chance.get(b, math.nan))
        if p < ALPHA:
            better, worse = (a, b) if delta > 0 else (b, a)
            row["verdict"] = f"{better} better than {worse}"
        elif (math.isfinite(chance) and chance >= CHANCE_LIMIT) or no_signal:
            why = (f"{chance:.0%} of a prior's genomes at chance" if math.isfinite(chance) and chance >= CHANCE_LIMIT
                   else "the repeatability's interval lies at or below 0")
            row["verdict"] = f"budget too small to compare these priors ({why})"
        else:
            row["verdict"] = "no difference detected, although the budget supports a conclusion"
        out["verdicts"].append(row)
    return out


def format_value(value, spec: str) -> str:
    """A figure for the reports' Markdown: ``spec`` formatting, "—" when missing or not finite."""
    return "—" if value is None or not math.isfinite(value) else format(value, spec)


def adequacy_lines(cell: dict) -> list[str]:
    """The cell's "Budget adequacy" section of ``report.md``."""
    a = cell.get("adequacy")
    if a is None:
        return []
    chance = ", ".join(f"{prior} {format_value(share, '.0%')}" for prior, share in a["at_chance"].items())
    lines = ["", "### Budget adequacy", "",
             f"- At chance (or diverged): {chance}.",
             f"- Last epoch's gain in validation accuracy (median over genomes): {format_value(a['last_gain_median'], '+.4f')}"
             + (" — **still learning**: a longer budget may change the verdicts." if a["still_learning"] else "."),
             f"- Repeatability ICC(1): {format_value(a['icc1'], '.3f')} [{format_value(a['icc1_low'], '.3f')}, {format_value(a['icc1_high'], '.3f')}]."]
    if a["verdicts"]:
        lines += ["", "| a | b | verdict | p (Holm) | Cliff's δ | n | smallest \\|δ\\| detectable (80 % power) |",
                  "|---|---|---|---|---|---|---|"]
        for v in a["verdicts"]:
            lines.append(f"| {v['a']} | {v['b']} | {v['verdict']} | {format_value(v['p_holm'], '.3g')} | {v['cliffs_delta']:+.3f} | "
                         f"{v['n_a']} vs {v['n_b']} | {format_value(v['detectable_delta'], '.2f')} |")
    return lines


def verdict_lines(cells: dict) -> list[str]:
    """The report's opening: per cell and pair of priors one plain sentence — which prior is
    better, by how much, with p, δ and n; that the budget cannot tell; or that no difference was
    detected, with the effect the sizes would have detected."""
    lines = ["## Verdict", ""]
    for family, cell in cells.items():
        a = cell.get("adequacy") or {}
        if not a.get("verdicts"):
            lines.append(f"- **{family}**: nothing to compare (fewer than two priors with at least 2 complete genomes).")
            continue
        means = {r["prior"]: r["mean"] for r in cell.get("priors", [])}
        for v in a["verdicts"]:
            n = f"n = {v['n_a']} vs {v['n_b']}"
            if v["verdict"].startswith("budget too small"):
                pair = f"{v['a']} and {v['b']}"
                text = f"{v['verdict'].replace('these priors', pair)}; {n}."
            elif v["p_holm"] < ALPHA:
                better, worse = (v["a"], v["b"]) if v["cliffs_delta"] > 0 else (v["b"], v["a"])
                text = (f"{better} better than {worse}: mean {format_value(means.get(better), '.4f')} vs "
                        f"{format_value(means.get(worse), '.4f')}, Holm p = {v['p_holm']:.2g}, Cliff's δ = "
                        f"{abs(v['cliffs_delta']):.2f}, {n}.")
            else:
                text = (f"no difference detected between {v['a']} and {v['b']} at {n} (Holm p = {v['p_holm']:.2g}, "
                        f"δ = {v['cliffs_delta']:+.2f}); an effect of |δ| ≥ {v['detectable_delta']:.2f} would have "
                        "been detected with 80 % power.")
            lines.append(f"- **{family}**: {text}")
        if a.get("still_learning"):
            lines.append(f"- *{family}: the networks were still improving at the last epoch; a longer budget may "
                         "change these verdicts.*")
    return lines + [""]
