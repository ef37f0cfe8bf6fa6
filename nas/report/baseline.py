"""The search report's dense baseline: the best fully trained network beside its dense counterpart.

Reads the records :func:`nas.search.baseline.run_dense_baseline` left in the ledger (attribute
``dense_baseline``) and the best survivor's final records, and writes one small table (test
accuracy mean ± sample std over seeds, nonzero weights) with a verdict sentence. The verdict
needs at least 3 seeds on each side (Welch's t-test, :func:`scipy.stats.ttest_ind`); with fewer
it says so and gives the figures only; without a significant difference while a network is within
:data:`LEARNED_MARGIN` of chance (recorded with the baseline) it says "cannot tell at this
budget". The best survivor was *chosen* among several by
validation accuracy, which flatters it a little against a baseline that was not chosen; the
section says so.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from nas.exceptions import LedgerError
from nas.search.baseline import DENSE_ATTR

__all__ = ["dense_records", "dense_section", "LEARNED_MARGIN"]

#: A network whose mean test accuracy is within this of chance has not learned enough for "no
#: difference" to mean anything (the prior studies' fail margin).
LEARNED_MARGIN = 0.05


def dense_records(ledger, best_key: str) -> list[dict]:
    """The dense baseline's records of the survivor ``best_key`` (one per seed, failures included).

    Raises
    ------
    LedgerError
        The attribute is not a list of records.
    """
    records = ledger.get_attr(DENSE_ATTR) or []
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise LedgerError(f"ledger attribute {DENSE_ATTR!r} must be a list of records, got {records!r:.80}")
    return [r for r in records if r.get("of") == best_key]


def _accuracies(records) -> np.ndarray:
    values = [r.get("test_accuracy") for r in records]
    return np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)


def _mean_std(values: np.ndarray) -> str:
    if len(values) == 0:
        return "—"
    return f"{values.mean():.4f}" + (f" ± {values.std(ddof=1):.4f}" if len(values) > 1 else "")


def _count(weights) -> str:
    return "—" if weights is None else f"{int(weights):,}"


def dense_section(ledger, best_key: str, best_records: list[dict]) -> list[str]:
    """Markdown lines of the comparison ([] when the run trained no dense baseline).

    ``best_records`` are the best survivor's final records (one per seed)."""
    dense = dense_records(ledger, best_key)
    if not dense:
        return []
    sparse_acc, dense_acc = _accuracies(best_records), _accuracies(dense)
    sparse_w = next((r["nonzero_weights"] for r in best_records if r.get("nonzero_weights")), None)
    dense_w = next((r["nonzero_weights"] for r in dense if r.get("nonzero_weights")), None)
    share = f" ({100 * sparse_w / dense_w:.1f} % of the dense)" if sparse_w and dense_w else ""
    sizes = dense[0].get("layer_sizes")
    lines = [
        "", "## Dense baseline", "",
        f"The best network beside its dense counterpart: the same layer sizes ({sizes}), vertex width "
        f"{dense[0].get('width', 1)} and readout, every vertex joined to every vertex of every later layer (the sparse "
        "network is a subgraph of it), trained at the same full budget and seeds. Test accuracy is the mean ± sample std over seeds.", "",
        "| network | final test accuracy | seeds | nonzero weights |", "|---|---|---|---|",
        f"| best sparse | {_mean_std(sparse_acc)} | {len(sparse_acc)} | {_count(sparse_w)}{share} |",
        f"| dense | {_mean_std(dense_acc)} | {len(dense_acc)} | {_count(dense_w)} |",
        "",
    ]
    failed = [r for r in dense if r.get("error")]
    if failed:
        lines += [f"{len(failed)} dense training(s) failed: {failed[0]['error']}", ""]
    if len(sparse_acc) == 0 or len(dense_acc) == 0:
        return lines + ["No verdict: one side has no test accuracy."]
    diff = sparse_acc.mean() - dense_acc.mean()
    if min(len(sparse_acc), len(dense_acc)) < 3:
        return lines + [f"Difference (sparse − dense) {diff:+.4f} over {len(sparse_acc)} and {len(dense_acc)} seed(s): "
                        "too few seeds for a test (3 or more on each side are needed); no verdict."]
    if np.ptp(sparse_acc) == 0 and np.ptp(dense_acc) == 0:
        verdict = "identical on every seed" if diff == 0 else "every seed differs by the same amount; no test"
        return lines + [f"Difference (sparse − dense) {diff:+.4f}: {verdict}."]
    test = stats.ttest_ind(sparse_acc, dense_acc, equal_var=False)
    chance = dense[0].get("chance")
    if test.pvalue < 0.05:
        verdict = ("the sparse network is more accurate" if diff > 0 else "the dense network is more accurate")
    elif chance is not None and min(sparse_acc.mean(), dense_acc.mean()) <= chance + LEARNED_MARGIN:
        verdict = (f"cannot tell at this budget: a network within {LEARNED_MARGIN} of chance ({chance:.3g}) has not "
                   "learned enough to be compared")
    else:
        verdict = f"no difference shown at {len(sparse_acc)} and {len(dense_acc)} seeds"
    return lines + [
        f"Difference (sparse − dense) {diff:+.4f}, Welch's t = {test.statistic:+.2f}, p = {test.pvalue:.3g}: {verdict}. "
        "The sparse network was chosen among the survivors by validation accuracy, which favours it slightly."
    ]
