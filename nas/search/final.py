"""After the search: the survivors fully trained, and the files of the best network (``best/``).

The search compares candidates at a short *screening* budget. Its ``final_top`` best screened
candidates (by the primary metric, distinct architectures) are then trained again on the task's
full budget — the whole training set, the task's epochs and schedule, plus ``final_train``
overrides — once per seed ``seed .. seed + final_seeds - 1``. Each (candidate, seed) training is a
*final record* in the ledger (ledger attribute ``final``), with the candidate's screening value
beside its final test accuracy, so the report can say how well screening ranked the survivors
(Kendall τ) and give each one's test accuracy as mean ± std over seeds.

The best fully trained network is the survivor with the highest mean final *validation*
accuracy (selection never looks at the test set); ``best/model.pt`` holds its weights at the first
final seed and ``best/model.json`` its genome and final figures. Without a final phase
(``final_top = 0``), ``best/`` holds the best screened trial, as it does while the search runs.

Resuming: records are saved after every seed's cohort, so a killed final phase continues with the
(candidate, seed) pairs not yet recorded; training is deterministic on the CPU, so a survivor's
model that was lost with the process is retrained identically when ``best/`` needs it.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from nas.ledger import Ledger
from nas.provenance import atomic_path, write_json_atomic
from nas.search.config import SearchConfig
from nas.search.rungs import screened_fully
from search_spaces.genome import Genome

__all__ = ["FINAL_ATTR", "BEST_ATTR", "TimeSlice", "final_seeds", "final_candidates", "run_final", "best_final_key",
           "save_best_model", "ensure_best_model", "best_trial"]

FINAL_ATTR = "final"
BEST_ATTR = "final_best"

Echo = Callable[[str], None]


def final_seeds(config: SearchConfig) -> list[int]:
    """The seeds every survivor is fully trained with."""
    return [config.seed + i for i in range(config.final_seeds)]


def _lineage(genome: Genome) -> tuple:
    """The graph a genome was drawn as, before its width, readout and edge edits: two survivors
    of one draw are near-copies (e.g. one graph at two widths, or one edge apart)."""
    return (genome.family, genome.prior, json.dumps(genome.params, sort_keys=True), genome.nodes, genome.seed)


def final_candidates(ledger: Ledger, k: int) -> list:
    """The ``k`` best COMPLETE trials by the primary metric (ties: earlier trial), one per architecture;
    only trials screened at the full budget (a lower rung of successive halving is no candidate).

    Survivors are distinct graphs: a trial drawn as the same graph as one already picked (the same
    prior, parameters, size and seed; another width, readout or a few edge edits) is passed over for
    the next best, and such near-copies fill the remaining places only when there are fewer than
    ``k`` distinct graphs.
    """
    done = sorted((t for t in ledger.trials() if t.state.name == "COMPLETE" and screened_fully(t.user_attrs)),
                  key=lambda t: (-t.values[0], t.number))
    picked, near_copies, keys, lineages = [], [], set(), set()
    for t in done:
        genome = Genome.from_json(t.user_attrs["genome"])
        if genome.key in keys:
            continue
        keys.add(genome.key)
        if _lineage(genome) in lineages:
            near_copies.append(t)
            continue
        lineages.add(_lineage(genome))
        picked.append(t)
        if len(picked) == k:
            return picked
    return picked + near_copies[: k - len(picked)]


def _record(trial, genome: Genome, seed: int, metrics: dict | None, error: str | None, wall: float) -> dict:
    metrics = metrics or {}
    return {
        "key": genome.key,
        "genome": genome.to_json(),
        "trial": trial.number,
        "seed": seed,
        "screening": float(trial.values[0]),
        "screening_test_accuracy": trial.user_attrs.get("test_accuracy"),
        "test_accuracy": metrics.get("test_accuracy"),
        "val_accuracy": metrics.get("val_accuracy"),
        "test_loss": metrics.get("test_loss"),
        "nonzero_weights": metrics.get("nonzero_weights"),
        "epochs": metrics.get("epochs"),
        "test_examples": metrics.get("test_examples"),
        "test_expected": metrics.get("test_expected"),
        "notes": "; ".join(metrics.get("notes") or []) or None,
        "wall_time_s": wall,
        "example_epochs": metrics.get("example_epochs"),  # the full training's compute
        "error": error,
    }


class TimeSlice:
    """A run's time limit, for searches resumed in slices (``nas search --time-limit``).

    Work comes in units (a generation, a final seed's cohort); :meth:`may_start` is False once the
    slice's elapsed time plus the longest unit so far would pass the limit. The first unit of a
    slice always starts, so every slice makes progress even when one unit alone is longer.
    """

    clock = staticmethod(time.monotonic)

    def __init__(self, seconds: float | None = None):
        self.seconds = seconds
        self.started = self.clock()
        self.longest = 0.0
        self.units = 0
        self.stopped = False

    def may_start(self) -> bool:
        if self.seconds is None or self.units == 0:
            return True
        if self.clock() - self.started + self.longest > self.seconds:
            self.stopped = True
        return not self.stopped

    def done(self, seconds: float) -> None:
        self.units += 1
        self.longest = max(self.longest, seconds)


def run_final(config: SearchConfig, ledger: Ledger, trainer, run_dir: Path, echo: Echo | None = None,
              time_slice: TimeSlice | None = None) -> list[dict]:
    """Fully train the survivors (see the module notes); returns every final record.

    Candidates of one seed are trained together (one cohort) when their family allows it.
    With ``time_slice``, a seed's cohort starts only if the slice allows it; the records so far
    are kept and a resumed run trains the rest.
    """
    if config.final_top == 0:
        return []
    survivors = [(t, Genome.from_json(t.user_attrs["genome"])) for t in final_candidates(ledger, config.final_top)]
    records = list(ledger.get_attr(FINAL_ATTR) or [])
    done = {(r["key"], r["seed"]) for r in records}
    seeds = final_seeds(config)
    models = {}
    for seed in seeds:
        todo = [(t, g) for t, g in survivors if (g.key, seed) not in done]
        if not todo:
            continue
        if time_slice is not None and not time_slice.may_start():
            return records
        start, unit = time.perf_counter(), TimeSlice.clock()
        outcomes = trainer.train_final([g for _, g in todo], seed)
        if time_slice is not None:
            time_slice.done(TimeSlice.clock() - unit)
        wall = (time.perf_counter() - start) / len(todo)
        for (trial, genome), outcome in zip(todo, outcomes):
            records.append(_record(trial, genome, seed, outcome.metrics, outcome.error, wall))
            if seed == seeds[0] and outcome.model is not None:
                models[genome.key] = outcome.model
        ledger.set_attr(FINAL_ATTR, records)  # a kill loses at most this seed's cohort
        if echo:
            accs = ", ".join("failed" if o.error else f"{o.metrics.get('test_accuracy', float('nan')):.4f}" for o in outcomes)
            echo(f"final seed {seed}: {len(todo)} survivors fully trained, test accuracy {accs}")
    best = best_final_key(records)
    if best is None:
        return records
    ledger.set_attr(BEST_ATTR, best)
    _write_final_best(run_dir, records, best, models.get(best), trainer, seeds[0])
    return records


def best_final_key(records: list[dict]) -> str | None:
    """Key of the survivor with the highest mean final validation accuracy (ties: better screened)."""
    by_key: dict[str, list[dict]] = {}
    for r in records:
        if r.get("val_accuracy") is not None and math.isfinite(r["val_accuracy"]):
            by_key.setdefault(r["key"], []).append(r)
    if not by_key:
        return None
    return max(by_key, key=lambda k: (float(np.mean([r["val_accuracy"] for r in by_key[k]])), by_key[k][0]["screening"]))


def _write_final_best(run_dir: Path, records: list[dict], key: str, model, trainer, first_seed: int) -> None:
    mine = [r for r in records if r["key"] == key and r.get("test_accuracy") is not None]
    genome = Genome.from_json(mine[0]["genome"])
    meta = run_dir / "best" / "model.json"
    if model is None:
        if meta.exists() and (run_dir / "best" / "model.pt").exists():
            stored = json.loads(meta.read_text())
            if stored.get("key") == key and stored.get("final", {}).get("seed") == first_seed:
                return  # written by the run that trained it
        outcome = trainer.train_final([genome], first_seed)[0]  # deterministic on the CPU: the same weights
        model = outcome.model
        if model is None:
            return
    test = [r["test_accuracy"] for r in mine]
    final = {
        "seed": first_seed,
        "seeds": [r["seed"] for r in mine],
        "test_accuracy_mean": float(np.mean(test)),
        "test_accuracy_std": float(np.std(test, ddof=1)) if len(test) > 1 else None,
        "val_accuracy_mean": float(np.mean([r["val_accuracy"] for r in mine])),
        "nonzero_weights": mine[0]["nonzero_weights"],
        "screening": mine[0]["screening"],
    }
    _write_model(run_dir, genome, model, mine[0]["trial"], final=final)


# --- best model files ----------------------------------------------------------------------------


def best_trial(ledger: Ledger):
    """The best COMPLETE trial by the primary metric (ties: the earlier one), or None."""
    return next(iter(final_candidates(ledger, 1)), None)


def _write_model(run_dir: Path, genome: Genome, model, trial_number: int, final: dict | None = None) -> None:
    best = run_dir / "best"
    with atomic_path(best / "model.pt") as tmp:
        torch.save(model.state_dict(), tmp)
    meta = {"key": genome.key, "trial": trial_number, "genome": genome.to_dict()}
    if final is not None:
        meta["final"] = final
    write_json_atomic(best / "model.json", meta)


def save_best_model(run_dir: Path, ledger: Ledger, claims, outcomes) -> None:
    """While the search runs: ``best/`` takes the best screened trial's model when one of ``claims`` is it."""
    best = best_trial(ledger)
    if best is None:
        return
    for claim in claims:
        o = outcomes.get(claim.number)
        if claim.number == best.number and o is not None and o.model is not None:
            _write_model(run_dir, claim.genome, o.model, claim.number)


def ensure_best_model(run_dir: Path, ledger: Ledger, trainer) -> None:
    """Make ``best/model.pt`` hold the best screened trial's weights, retraining it if another worker trained it."""
    best = best_trial(ledger)
    if best is None:
        return
    meta = run_dir / "best" / "model.json"
    if meta.exists() and (run_dir / "best" / "model.pt").exists() and json.loads(meta.read_text()).get("trial") == best.number:
        return
    genome = Genome.from_json(best.user_attrs["genome"])
    outcome = trainer.train([genome])[0]
    if outcome.model is not None:  # deterministic on the CPU: the same weights the worker had
        _write_model(run_dir, genome, outcome.model, best.number)
