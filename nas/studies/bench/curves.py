"""Anytime curves of a search run: what it had found after each amount of training compute.

:func:`read_trace` reads a run directory's ledger into a :class:`Trace`: every finished screening
training (failed ones included: they spent compute), in the order the search made them —
generation, then the candidate's index, so a resumed run reads as the uninterrupted one — with
the cumulative compute (trained example-epochs) after each. From it:

- the *best validation value so far* (the search's primary metric), a step function of compute;
- the *incumbent's test accuracy*: the test accuracy of the candidate that is the best so far
  (ties: the earlier one) — what a user stopping the search at that compute would report;
- with a second objective (a cost), :func:`hypervolume_at`: the normalised hypervolume of
  (validation value, cost) of the evaluations so far, at a reference cost shared by the runs
  compared (:mod:`nas.search.pareto`);
- :func:`value_at`, :func:`on_grid`, :func:`area` (the area under the best-so-far curve over
  ``[0, budget]`` divided by the budget: 0 before the first result, so it is a mean accuracy
  over the compute) and :func:`compute_to_reach` (the compute after which the best so far first
  reaches a value, ``inf`` when it does not within the budget).

Evaluations whose cumulative compute passes the budget (the rest of the generation that crossed
it, which runs whole) are left out of every value *at the budget*; the run's final phase is read
separately (:attr:`Trace.final_test`, :attr:`Trace.final_compute`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nas.exceptions import ConfigError
from nas.ledger import Ledger
from nas.search.config_files import load_run_config
from nas.search.final import FINAL_ATTR, best_final_key
from nas.search.pareto import normalised_hypervolume

__all__ = ["Trace", "read_trace", "value_at", "on_grid", "area", "compute_to_reach", "hypervolume_at", "cost_within"]


@dataclass(frozen=True)
class Trace:
    """One run's screening evaluations in search order (see the module docstring)."""

    strategy: str
    seed: int
    run: str
    compute: np.ndarray  # cumulative example-epochs after each evaluation
    value: np.ndarray  # the primary metric (validation); NaN for a failed training
    test: np.ndarray  # test accuracy; NaN when failed or not measured
    train_time_s: float  # screening training seconds (the trials' wall_time_s)
    final_test: float = math.nan  # mean final test accuracy of the chosen survivor (NaN: no final phase)
    final_compute: float = math.nan  # example-epochs of the final phase's full trainings
    final_time_s: float = math.nan
    cost: np.ndarray | None = None  # the second objective (a cost, minimised); None: one objective
    proposed: int = 0  # candidates the strategy proposed (trained or gated out), every generation
    skipped: int = 0  # of them, gated out by the predictor (never trained)

    @property
    def best(self) -> np.ndarray:
        """Best value so far after each evaluation (NaN until the first success)."""
        filled = np.where(np.isnan(self.value), -np.inf, self.value)
        best = np.maximum.accumulate(filled) if filled.size else filled
        return np.where(np.isinf(best), np.nan, best)

    @property
    def incumbent_test(self) -> np.ndarray:
        """Test accuracy of the best-so-far candidate after each evaluation (ties: the earlier one)."""
        out = np.full(self.value.shape, np.nan)
        best, test = -np.inf, np.nan
        for i, (v, t) in enumerate(zip(self.value, self.test)):
            if not np.isnan(v) and v > best:
                best, test = v, t
            out[i] = test
        return out

    @property
    def total_compute(self) -> float:
        return float(self.compute[-1]) if self.compute.size else 0.0


def read_trace(run_dir: str | Path, strategy: str | None = None, seed: int | None = None) -> Trace:
    """The :class:`Trace` of a search run directory.

    Raises
    ------
    ConfigError
        Not a run directory, or a run whose trials carry no ``example_epochs`` (made before
        compute was counted).
    LedgerError
        The ledger cannot be opened.
    """
    config = load_run_config(run_dir)
    ledger = Ledger.open(config.storage_url, config.ledger, create=False)
    rows = []
    for t in ledger.trials():
        if t.state.name not in ("COMPLETE", "FAIL") or t.user_attrs.get("requeued"):
            continue  # a requeued trial's copy is the one that counts, as in the uninterrupted run
        spent = t.user_attrs.get("example_epochs")
        if spent is None:
            raise ConfigError(f"run {str(run_dir)!r}: trial {t.number} has no example_epochs; expected a run made "
                              "since trainings count their compute")
        ok = t.state.name == "COMPLETE" and t.values is not None
        test = t.user_attrs.get("test_accuracy") if ok else None
        rows.append((int(t.user_attrs.get("generation", 0)), int(t.user_attrs.get("index", t.number)), t.number,
                     float(spent), float(t.values[0]) if ok else math.nan, math.nan if test is None else float(test),
                     float(t.user_attrs.get("wall_time_s") or 0.0),
                     float(t.values[1]) if ok and len(t.values) > 1 else math.nan))
    rows.sort()
    generations = (ledger.load_state() or {}).get("generations") or []
    skipped = int(sum(g.get("skipped") or 0 for g in generations))
    proposed = skipped + int(sum(g.get("trained") or 0 for g in generations))
    compute = np.cumsum([r[3] for r in rows]) if rows else np.zeros(0)
    final = list(ledger.get_attr(FINAL_ATTR) or [])
    final_test = final_compute = final_time = math.nan
    if final:
        key = best_final_key(final)
        chosen = [r["test_accuracy"] for r in final if r.get("key") == key and r.get("test_accuracy") is not None]
        final_test = float(np.mean(chosen)) if chosen else math.nan
        spent = [r.get("example_epochs") for r in final]
        final_compute = float(sum(s for s in spent if s is not None)) if any(s is not None for s in spent) else math.nan
        final_time = float(sum(r.get("wall_time_s") or 0.0 for r in final))
    return Trace(strategy=strategy or config.strategy, seed=config.seed if seed is None else seed,
                 run=Path(run_dir).name, compute=np.asarray(compute, dtype=float),
                 value=np.array([r[4] for r in rows], dtype=float), test=np.array([r[5] for r in rows], dtype=float),
                 train_time_s=float(sum(r[6] for r in rows)), final_test=final_test, final_compute=final_compute,
                 final_time_s=final_time, proposed=proposed, skipped=skipped,
                 cost=np.array([r[7] for r in rows], dtype=float) if config.second_objective else None)


def _last_within(trace: Trace, compute: float) -> int:
    """Index of the last evaluation finished within ``compute`` (-1: none)."""
    return int(np.searchsorted(trace.compute, compute, side="right")) - 1


def value_at(trace: Trace, compute: float) -> tuple[float, float]:
    """(best value so far, the incumbent's test accuracy) once ``compute`` example-epochs were
    spent; NaN before the first successful evaluation."""
    i = _last_within(trace, compute)
    if i < 0:
        return math.nan, math.nan
    return float(trace.best[i]), float(trace.incumbent_test[i])


def on_grid(trace: Trace, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`value_at` at every point of ``grid`` (two arrays)."""
    idx = np.searchsorted(trace.compute, grid, side="right") - 1
    best, incumbent = trace.best, trace.incumbent_test
    safe = np.clip(idx, 0, None)
    b = np.where(idx >= 0, best[safe] if best.size else np.nan, np.nan)
    t = np.where(idx >= 0, incumbent[safe] if incumbent.size else np.nan, np.nan)
    return b.astype(float), t.astype(float)


def area(trace: Trace, budget: float) -> float:
    """Area under the best-so-far curve over ``[0, budget]`` divided by ``budget`` (0 before the
    first successful evaluation): the mean best value over the compute, in the metric's units.

    >>> t = Trace("random", 0, "r", np.array([10.0, 20.0]), np.array([0.5, 0.7]), np.array([0.4, 0.6]), 0.0)
    >>> area(t, 40.0)  # 0 on [0, 10), 0.5 on [10, 20), 0.7 on [20, 40]
    0.475
    """
    if budget <= 0:
        return math.nan
    best = np.nan_to_num(trace.best, nan=0.0)
    edges = np.minimum(np.append(trace.compute, budget), budget)
    widths = np.diff(edges)  # evaluation i's value holds from compute[i] to the next one
    return float(np.sum(best * np.clip(widths, 0.0, None)) / budget)


def compute_to_reach(trace: Trace, target: float, budget: float) -> float:
    """Compute (example-epochs) after which the best value so far first reaches ``target``;
    ``inf`` when it does not within ``budget``, or ``target`` is NaN."""
    if math.isnan(target):
        return math.inf
    best = np.nan_to_num(trace.best, nan=-np.inf)
    reached = np.flatnonzero((best >= target) & (trace.compute <= budget))
    return float(trace.compute[reached[0]]) if reached.size else math.inf


def cost_within(trace: Trace, budget: float) -> np.ndarray:
    """The second objective of the evaluations finished within ``budget`` (empty for one objective)."""
    if trace.cost is None:
        return np.zeros(0)
    return trace.cost[: _last_within(trace, budget) + 1]


def hypervolume_at(trace: Trace, budget: float, reference_cost: float) -> float:
    """Normalised hypervolume of (best value, cost) of the evaluations finished within ``budget``,
    at the reference (0, ``reference_cost``); NaN for a one-objective run.

    >>> t = Trace("random", 0, "r", np.array([10.0, 20.0]), np.array([0.5, 0.8]), np.array([0.4, 0.6]), 0.0,
    ...           cost=np.array([1.0, 3.0]))
    >>> round(hypervolume_at(t, 20.0, 4.0), 6)  # 0.5 x (3 - 1) + 0.8 x (4 - 3), over 1 x 4
    0.45
    """
    if trace.cost is None:
        return math.nan
    n = _last_within(trace, budget) + 1
    points = np.column_stack([trace.value[:n], trace.cost[:n]])
    return normalised_hypervolume(points, (1.0, -1.0), (0.0, reference_cost))
