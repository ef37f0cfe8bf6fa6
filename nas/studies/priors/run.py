"""Running a prior study: draw the genomes, train each with every seed as cohorts, stream the runs.

The loop, in pseudocode::

    data   <- task.load(...)                      # a data error stops here, before any file is written
    genomes <- draw_study_genomes(config)         # or, on --resume, the stored ones (checked)
    for each cohort of `cohort_size` genomes, in index order:
        for seed in 0 .. S-1:
            todo <- genomes of the chunk without a finished (id, seed) run
            outcomes <- train_candidates(todo, task, budget with seed)   # stacked cohorts
            append one line per outcome to runs.jsonl                    # atomic: all or none

With ``jobs`` > 1 the cohorts train in that many spawned processes at once and are appended as
they finish (each cohort's runs are the same whichever process trains them).

The report is the caller's (``nas priors evaluate`` writes it with
:func:`nas.studies.priors.report.write_report` once the runs are done).

A killed study loses at most the cohort in flight; ``--resume`` skips every finished run.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch
from tqdm.auto import tqdm

from nas.exceptions import StudyError
from nas.studies.priors.config import StudyConfig
from nas.studies.priors.sampling import draw_study_genomes
from nas.studies.priors.store import RUN_FIELDS, StudyStore
from nas.training.candidates import train_candidates
from nas.training.device import resolve_device, set_threads
from nas.training.equal_cost import task_weight_counter
from nas.training.tasks import get_task

__all__ = ["run_study", "counts", "diverged"]

log = logging.getLogger(__name__)


def _error(record) -> str | None:
    error = record.get("error")
    return error if isinstance(error, str) and error else None  # None, or NaN in a table: no error


def diverged(record) -> bool:
    """Whether the run is the network's own failure: a non-finite loss, or no finite test accuracy."""
    error = _error(record)
    if error is not None:
        return error.startswith("TrainingError")
    accuracy = record.get("test_accuracy")
    return not isinstance(accuracy, (int, float)) or not math.isfinite(accuracy)


def counts(record: dict) -> bool:
    """Whether a run is a result: it trained or diverged. Any other error (out of memory, a
    failing device) says nothing about the network; such runs are retried by ``--resume`` and
    left out of the report."""
    return _error(record) is None or diverged(record)


#: Per-epoch values kept in a run's ``curve`` (from the training history).
CURVE_KEYS = ("val_accuracy", "test_accuracy", "val_loss", "test_loss", "train_loss")


def _record(genome_id: str, seed: int, outcome) -> dict:
    if outcome.metrics is None:
        return {"id": genome_id, "seed": seed, "error": outcome.error}
    out = {"id": genome_id, "seed": seed, "error": None}
    for key in RUN_FIELDS:
        out[key] = _finite(outcome.metrics.get(key))
    history = outcome.metrics.get("history")
    if isinstance(history, list) and history:  # the learning curve: the study can be re-read at any epoch
        out["curve"] = {key: [_finite(h.get(key)) for h in history] for key in CURVE_KEYS}
    return out


def _finite(value):
    return None if isinstance(value, float) and not math.isfinite(value) else value


def run_study(config: StudyConfig, resume: bool = False, requested: StudyConfig | None = None,
              overwrite: bool = False) -> Path:
    """Run (or continue) the study ``config`` in ``config.out``; returns the folder.

    Parameters
    ----------
    config : StudyConfig
        Settings of a new study; on ``resume`` the runtime fields (out, data, device, cohort_size,
        jobs, progress) of the continued one.
    resume : bool
        Continue the study stored in ``config.out``.
    requested : StudyConfig, optional
        On resume: settings the caller asked for explicitly; they must equal the stored ones.
    overwrite : bool
        Replace the study ``config.out`` holds (removed once the data has loaded); a folder holding
        other files is still refused.

    Raises
    ------
    StudyError
        A new study in a folder that is not empty (:class:`~nas.exceptions.StudyExistsError`), a
        resume of a folder without a study (``StudyNotFoundError``) or with different settings
        (``StudySettingsError``), a damaged study folder.
    DataError
        The task's data cannot be loaded (before anything is written).
    """
    folder = Path(config.out)
    if resume:  # checked before the data is loaded: a refused resume is one line at once
        store = StudyStore.open(folder, requested, resume=True)
        runtime = {k: getattr(config, k) for k in ("out", "data_dir", "device", "cohort_size", "jobs", "progress",
                                                   "allow_partial_data")}
        config = store.settings().with_changes(**runtime)
    else:
        StudyStore.check_new(folder, replace=overwrite)  # a study to replace is removed once the data has loaded
    task = get_task(config.task)
    resolve_device(config.device)  # a device that does not exist stops here, not as a failed run per genome
    data = task.load(data_dir=config.data_dir, allow_partial=config.allow_partial_data)
    if resume:
        genomes = store.genomes()  # the stored genomes are the study's, whatever this code version would draw
        expected = config.per_prior * len(config.families) * len(config.priors)
        if len(genomes) != expected:
            raise StudyError(f"{str(folder / 'genomes.jsonl')!r} holds {len(genomes)} genomes; its settings make "
                             f"{expected}; the study folder is damaged")
    else:
        genomes = draw_study_genomes(config, task_weight_counter(task, data) if config.match == "weights" else None)
        chance = task.chance(data)
        if overwrite and StudyStore(folder).exists:
            shutil.rmtree(folder)
        store = StudyStore.create(folder, config, genomes, chance=chance)
    done = {(r["id"], int(r["seed"])) for r in store.records() if counts(r)}
    units = []  # (genomes, seed) cohorts still to train, in index order
    for start in range(0, len(genomes), config.cohort_size):
        chunk = genomes[start:start + config.cohort_size]
        for seed in range(config.seeds):
            todo = [g for g in chunk if (g.id, seed) not in done]
            if todo:
                units.append((todo, seed))
    total = len(genomes) * config.seeds
    with tqdm(total=total, initial=len(done), desc="prior study", unit="run", disable=not config.progress) as bar:
        for records in _train_units(units, config, task, data):
            store.append(records)
            bar.update(len(records))
    return folder


def _budget(config: StudyConfig, task, seed: int):
    return task.default_config(**{**config.train_options, "seed": seed, "test_curve": True,
                                  "progress": config.progress and config.jobs == 1,
                                  **({"device": config.device} if config.device else {})})


def _train_unit(todo, seed: int, config: StudyConfig, task, data) -> list[dict]:
    outcomes = train_candidates([g.genome for g in todo], task, _budget(config, task, seed), data)
    return [_record(g.id, seed, o) for g, o in zip(todo, outcomes)]


def _train_units(units, config: StudyConfig, task, data):
    """Each cohort's run records, as they finish: in this process (``jobs`` 1), or in ``jobs``
    worker processes (spawned; each loads the data once and trains with this process's thread
    count). A cohort's runs do not depend on which process trains it or when."""
    if config.jobs == 1 or len(units) <= 1:
        for todo, seed in units:
            yield _train_unit(todo, seed, config, task, data)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(config.jobs, len(units)), mp_context=context, initializer=_start_worker,
                             initargs=(config, torch.get_num_threads())) as pool:
        futures = [pool.submit(_worker_unit, todo, seed) for todo, seed in units]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:  # an interrupt or a failed cohort: no new cohort starts
            for future in futures:
                future.cancel()
            raise


_WORKER: dict = {}


def _start_worker(config: StudyConfig, threads: int) -> None:
    """A worker process's entry point: the parent's thread count (set by its command), the data."""
    set_threads(threads)
    task = get_task(config.task)
    _WORKER.update(config=config, task=task,
                   data=task.load(data_dir=config.data_dir, allow_partial=config.allow_partial_data))


def _worker_unit(todo, seed: int) -> list[dict]:
    return _train_unit(todo, seed, _WORKER["config"], _WORKER["task"], _WORKER["data"])
