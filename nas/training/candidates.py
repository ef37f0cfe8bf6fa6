"""Training a list of candidate genomes for a search or a study: together (stacked) where the
family allows, one by one otherwise, each failure pinned on the candidate that caused it.

:func:`train_candidates` returns one :class:`Outcome` per genome. Errors of the set-up
(:data:`SETUP_ERRORS`: a device that does not exist, unusable data) are raised, never recorded as
a candidate's failure.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Sequence

from nas.exceptions import DataError, DeviceError, TrainingError
from nas.training.device import resolve_device
from nas.training.loop import train_genome
from nas.training.stacking import train_cohort
from search_spaces.exceptions import SparseNASError
from search_spaces.genome import Genome

__all__ = ["Outcome", "train_candidates", "trains_together", "stacks_alone", "SETUP_ERRORS"]

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What training one candidate produced: metrics dict and model, or the failure reason."""

    metrics: dict | None = None
    model: Any = None
    error: str | None = None


#: Errors of the set-up, not of a candidate: they stop a search or worker instead of failing trials.
SETUP_ERRORS = (DeviceError, DataError)

def trains_together(family: str) -> bool:
    return family in ("ff", "cnn") or family.startswith("rnn:")


def stacks_alone(family: str, device=None) -> bool:
    """True where one network trains faster as a stack of one than as its own module: a sparse
    RNN on the CPU (the stack's wavefront runs all its levels in one batched call per time step,
    where the module runs one fused recurrence per level and per skip pair; measured in
    ``docs/benchmarks.md``). On a GPU the module's fused kernels run whole sequences per call,
    and the comparison is not measured yet, so a single RNN keeps its module there."""
    return family.startswith("rnn:") and resolve_device(device).type == "cpu"


def train_candidates(genomes: Sequence[Genome], task, config, data) -> list[Outcome]:
    """Train ``genomes``; together as stacked cohorts for ``ff``, ``cnn`` and ``rnn:*`` (a single
    RNN on the CPU too, as a stack of one: :func:`stacks_alone`), one by one otherwise.

    A candidate whose training raises is returned as failed with the reason; the others go on.
    If a cohort run fails as a whole, its candidates are retrained one by one so the
    failure is pinned on the one that caused it. Stacked candidates' metrics carry
    ``cohort_size`` (candidates trained together) and ``cohort_wall_time_s``.

    Raises
    ------
    DeviceError, DataError
        Set-up errors (:data:`SETUP_ERRORS`: a device that does not exist, unusable data) are
        raised, not recorded: they are no candidate's fault and would fail every one of them.
    """
    genomes = list(genomes)
    if not genomes:
        return []
    if all(trains_together(g.family) for g in genomes) and (len(genomes) > 1 or stacks_alone(genomes[0].family,
                                                                                                config.device)):
        start = time.perf_counter()
        try:
            # "record": a diverging candidate is frozen and reported, the others train on
            results = train_cohort(genomes, task, config, data=data, on_error="record")
        except SETUP_ERRORS:
            raise
        except (TrainingError, RuntimeError, ValueError) as err:
            log.warning("cohort training of %d candidates failed (%s: %s); training them one by one",
                        len(genomes), type(err).__name__, err)
            results = None  # the stack as a whole failed: pin the failure down one by one
        if results is not None:
            cohort_s = time.perf_counter() - start
            outcomes = []
            for r in results:
                if r.error:
                    outcomes.append(Outcome(error=f"TrainingError: {r.error}"))
                else:
                    # wall_time_s of stacked candidates is the batch's time shared evenly
                    outcomes.append(Outcome(metrics={**r.to_dict(), "cohort_size": len(genomes), "cohort_wall_time_s": cohort_s}, model=r.model))
            return outcomes
    outcomes = []
    for genome in genomes:
        try:
            result = train_genome(genome, task, config, data=data)
        except SETUP_ERRORS:
            raise
        except (TrainingError, SparseNASError, RuntimeError, ValueError) as err:
            outcomes.append(Outcome(error=f"{type(err).__name__}: {err}"))
            continue
        outcomes.append(Outcome(metrics={**result.to_dict(), "cohort_size": 1}, model=result.model))
    return outcomes
