"""The dense baseline beside the best fully trained network.

A sparse network is only interesting next to the dense network it thins out. After the final
phase the search trains, for each final seed, the *dense counterpart* of the best survivor: the
same family, layer sizes, vertex width and readout, with every vertex joined to every vertex of
every later layer (:func:`dense_dag`; the sparse network is a subgraph of it) — at the same full budget
(:meth:`~nas.search.evaluator.Trainer.final_config`), initial weights drawn from a generator
seeded with the final seed, as the survivors' are. Each seed's result is a record in the ledger
attribute :data:`DENSE_ATTR`; a killed run continues with the seeds not yet recorded, and a new
best survivor (another resumed slice choosing differently) starts the baseline afresh.

The report sets the two side by side (test accuracy mean ± std over seeds, nonzero weights) and,
with at least 3 seeds on both sides, gives Welch's t-test (:mod:`nas.report.baseline`).
"""

from __future__ import annotations

import time
from typing import Callable

import torch

from nas.ledger import Ledger
from nas.search.config import SearchConfig
from nas.search.final import BEST_ATTR, FINAL_ATTR, TimeSlice, final_seeds
from nas.training import build_seeded
from search_spaces.dag import LayeredDAG
from search_spaces.genome import Genome

__all__ = ["DENSE_ATTR", "dense_dag", "build_dense", "run_dense_baseline"]

DENSE_ATTR = "dense_baseline"

Echo = Callable[[str], None]


def dense_dag(dag: LayeredDAG) -> LayeredDAG:
    """The complete layered DAG with ``dag``'s layer sizes: every vertex feeds every vertex of
    every later layer. ``dag`` (relabelled layer by layer) is a subgraph of it, so its network
    holds every weight the sparse one has."""
    sizes = dag.layer_sizes
    starts = [sum(sizes[:l]) for l in range(len(sizes))]
    edges = [(starts[s] + i, starts[t] + j) for s in range(len(sizes)) for t in range(s + 1, len(sizes))
             for i in range(sizes[s]) for j in range(sizes[t])]
    return LayeredDAG.from_edges(sum(sizes), edges)


def build_dense(genome: Genome, task, data, seed: int) -> torch.nn.Module:
    """The dense counterpart of ``genome``'s network (see the module notes), initial weights from ``seed``."""
    return build_seeded(genome, task, data, seed, dag=dense_dag(genome.dag()))


def _best_genome(ledger: Ledger) -> Genome | None:
    best = ledger.get_attr(BEST_ATTR)
    for record in ledger.get_attr(FINAL_ATTR) or []:
        if record.get("key") == best:
            return Genome.from_json(record["genome"])
    return None


def run_dense_baseline(config: SearchConfig, ledger: Ledger, trainer, echo: Echo | None = None,
                       time_slice: TimeSlice | None = None) -> list[dict]:
    """Train the best survivor's dense counterpart once per final seed (``trainer.train_dense``;
    see the module notes) and return its records. Nothing happens without a final phase, without
    a best survivor or with ``config.dense_baseline`` off."""
    if not config.final_top or not config.dense_baseline:
        return []
    genome = _best_genome(ledger)
    if genome is None:
        return []
    records = [r for r in (ledger.get_attr(DENSE_ATTR) or []) if r.get("of") == genome.key]
    done = {r["seed"] for r in records}
    for seed in final_seeds(config):
        if seed in done:
            continue
        if time_slice is not None and not time_slice.may_start():
            break
        start, unit = time.perf_counter(), TimeSlice.clock()
        outcome = trainer.train_dense(genome, seed)
        metrics = outcome.metrics or {}
        record = {"of": genome.key, "seed": seed, "layer_sizes": list(genome.dag().layer_sizes), "width": genome.width,
                  **{k: metrics.get(k) for k in ("test_accuracy", "val_accuracy", "test_loss", "nonzero_weights",
                                                  "epochs", "test_examples", "example_epochs", "chance")},
                  "error": outcome.error}
        record["wall_time_s"] = time.perf_counter() - start
        if time_slice is not None:
            time_slice.done(TimeSlice.clock() - unit)
        records.append(record)
        ledger.set_attr(DENSE_ATTR, records)
        if echo:
            shown = record["error"] or f"test accuracy {record['test_accuracy']:.4f}, {record['nonzero_weights']:,} weights"
            echo(f"dense baseline, seed {seed}: {shown}")
    return records
