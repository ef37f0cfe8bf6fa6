"""Do structure-to-accuracy predictors transfer across priors? Leave one prior out, per model and
feature set, in both directions.

A predictor trained on the genomes of the other priors predicts the held-out prior's (``cv =
"logo"`` of :func:`predictors.evaluate`); with two priors that is each direction once. Tried: the
product's random forest, and models that extrapolate beyond the training range — Bayesian ridge
(linear) and a Gaussian process —, each on every feature (``extended``) and on the size-normalised
features (``normalised``: counts per vertex, raw sizes left out), since priors of a study often
differ in size-bound features a forest cannot extrapolate.
"""

from __future__ import annotations

import math
import warnings

from sklearn.exceptions import ConvergenceWarning

import predictors

__all__ = ["TRANSFER_GROUPS", "TRANSFER_MODELS", "transfer", "transfer_lines"]

TRANSFER_MODELS = ("rf", "bayes_ridge", "gp")
TRANSFER_GROUPS = ("extended", "normalised")


def transfer(genomes, y, priors, seed: int = 0) -> list[dict]:
    """Per model, feature set and held-out prior: R² and Kendall τ on that prior's genomes of a
    predictor fitted on the others' (``model, features, held_out, n, r2, kendall``)."""
    rows = []
    for group in TRANSFER_GROUPS:
        for model in TRANSFER_MODELS:
            with warnings.catch_warnings():  # a GP's noise level at its bound is a fit, not a failure
                warnings.simplefilter("ignore", ConvergenceWarning)
                result = predictors.evaluate(predictors.make_predictor(model, group=group, random_state=seed), genomes,
                                             y, groups=list(priors), cv="logo", random_state=seed, n_bootstrap=0)
            sizes = {label: sum(1 for p in priors if p == label) for label in result.fold_labels}
            for label, r2, tau in zip(result.fold_labels, result.fold_values["r2"], result.fold_values["kendall"]):
                rows.append({"model": model, "features": group, "held_out": str(label), "n": sizes[label],
                             "r2": float(r2), "kendall": float(tau)})
    return rows


def _f(value) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.3f}"


def transfer_lines(rows: list[dict]) -> list[str]:
    """The "Transfer across priors" table of the report."""
    if not rows:
        return []
    held = list(dict.fromkeys(r["held_out"] for r in rows))
    lines = ["", "#### Transfer across priors (leave one prior out: trained on the others, tested on it)", "",
             "| model | features | " + " | ".join(f"held out {h}: R², τ" for h in held) + " |",
             "|---|---|" + "---|" * len(held)]
    for model in dict.fromkeys(r["model"] for r in rows):
        for group in dict.fromkeys(r["features"] for r in rows):
            cells = {r["held_out"]: r for r in rows if r["model"] == model and r["features"] == group}
            lines.append(f"| {model} | {group} | " + " | ".join(
                f"{_f(cells[h]['r2'])}, {_f(cells[h]['kendall'])}" if h in cells else "—" for h in held) + " |")
    lines.append("\nR² below 0: worse than predicting the held-out prior's mean — the predictor does not transfer.")
    return lines
