"""Running a benchmark: every (strategy, seed) as a normal, resumable search run directory.

:func:`prepare_bench` checks everything that can be checked before any training — the settings,
the folder, every run's search config, the device and data, and that the compute budget covers at
least one candidate — and writes nothing; :func:`run_bench` then runs the searches seed by seed,
one after the other or ``jobs`` at a time in separate processes (each run is deterministic alone,
so the results do not depend on ``jobs``; only the wall times do), under a progress bar with an
ETA. A run's line is appended to ``runs.jsonl``
when its search (final phase included) is done. Killed and started again with ``resume``, the
benchmark skips the finished runs and continues an interrupted one through the search's own
resume (its ledger holds every finished generation), so each run reaches the trajectory an
uninterrupted one would. The runner never writes the report: the CLI calls
:func:`nas.studies.bench.report.write_bench_report` when the runs are done.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tqdm.auto import tqdm

from nas.exceptions import ConfigError, LedgerNotFoundError
from nas.ledger import Ledger
from nas.search.config import SearchConfig
from nas.search.evaluator import Trainer
from nas.search.loop import SearchOutputs, run_search
from nas.search.statistics import screening_compute
from nas.studies.bench.config import (
    BenchConfig,
    generations_cap,
    run_name,
    search_config,
    search_options,
)
from nas.studies.bench.feasible import check_cost_target
from nas.studies.bench.store import BenchStore
from nas.training.device import set_threads

__all__ = ["BenchPlan", "bench_config", "prepare_bench", "run_bench", "run_directories"]

Echo = Callable[[str], None]

#: How job processes start: "spawn" (a fresh interpreter: safe beside torch's threads).
JOB_CONTEXT = "spawn"


@dataclass
class BenchPlan:
    """A checked benchmark, ready to run: its settings, every run's search config, and what one
    screened candidate costs (example-epochs)."""

    config: BenchConfig
    resume: bool
    searches: dict[tuple[str, int], SearchConfig]
    resumed: set[tuple[str, int]]  # runs whose ledger exists: continued with the search's --resume
    done: set[tuple[str, int]]  # runs already recorded as finished
    candidate_cost: int
    warnings: list[str] = field(default_factory=list)


def bench_config(out: str, *, resume: bool = False, config_file=None, search: dict | None = None, **given) -> BenchConfig:
    """The benchmark's settings: the defaults (with ``resume``: the stored settings) ← ``given``
    (None means not given) ← the search options of ``config_file`` and ``search``, merged over
    the stored ones option by option. Checked against the stored ones by :func:`prepare_bench`.

    Raises
    ------
    BenchNotFoundError
        ``resume`` where ``out`` holds no benchmark.
    OptionError, UnknownNameError, ConfigError
        A bad value, an unknown strategy or task, a missing or invalid TOML file.
    """
    fields = {k: v for k, v in given.items() if v is not None}
    options = search_options(config_file, search or {})
    if resume:
        stored = BenchStore.load(out).settings()
        merged = {**stored.to_dict(), **fields, "out": str(out)}
        merged["search"] = {**dict(stored.search), **options}
        return BenchConfig.from_dict(merged)
    return BenchConfig(out=str(out), search=options, **fields)


def _has_ledger(config: SearchConfig) -> bool:
    try:
        Ledger.open(config.storage_url, config.ledger, create=False)
    except LedgerNotFoundError:
        return False
    return True


def prepare_bench(config: BenchConfig, *, resume: bool = False, overwrite: bool = False) -> BenchPlan:
    """Check a benchmark before anything is trained or written (see the module docstring).

    With ``resume``, ``config`` must agree with the stored settings (:func:`bench_config` builds
    it over them). With ``overwrite``, a benchmark that ``config.out`` holds is removed once every
    check has passed (a folder holding other files is still refused).

    Raises
    ------
    BenchExistsError
        Not ``resume``, and ``config.out`` holds a benchmark or other files.
    BenchNotFoundError, BenchSettingsError
        ``resume`` where there is no benchmark, or with other settings (each one named).
    OptionError, UnknownNameError, ConfigError
        A search option no search accepts (checked on every run's config), a compute budget
        below one candidate's screening cost, or a weight or FLOPs target no candidate can meet
        (:func:`~nas.studies.bench.feasible.check_cost_target`).
    DeviceError, DataError
        No such device; missing or unusable data.
    """
    done: set[tuple[str, int]] = set()
    if resume:
        store = BenchStore.load(config.out)
        store.check_settings(config)
        done = {(r["strategy"], r["seed"]) for r in store.records()}
    else:
        BenchStore.check_new(config.out, replace=overwrite)
    first = search_config(config, *config.runs()[0], resume=False)
    trainer = Trainer(first)
    trainer.prepare()  # no such device, missing or truncated data: before anything is written
    cost = int(trainer.screening_cost())
    if config.compute_budget < cost:
        raise ConfigError(f"--compute-budget {config.compute_budget:,} is below one candidate's screening cost "
                          f"({cost:,} example-epochs: {trainer.train_examples():,} training examples x "
                          f"{trainer.train_config.epochs} epochs); expected at least {cost:,}")
    check_cost_target(first, trainer)  # a weight or FLOPs target no candidate can meet
    cap = generations_cap(config, trainer.train_examples())
    searches, resumed = {}, set()
    for strategy, seed in config.runs():
        if (strategy, seed) in done:
            continue
        probe = search_config(config, strategy, seed, resume=False, generations=cap)
        again = resume and _has_ledger(probe)
        searches[(strategy, seed)] = search_config(config, strategy, seed, resume=again, generations=cap) if again else probe
        if again:
            resumed.add((strategy, seed))
    plan = BenchPlan(config, resume, searches, resumed, done, cost)
    population = first.population
    if config.compute_budget < 2 * population * cost:
        plan.warnings.append(
            f"the compute budget ({config.compute_budget:,} example-epochs) is below two generations of "
            f"{population} candidates at {cost:,} each: strategies differ only after their first generation")
    if overwrite and not resume and BenchStore(config.out).exists:
        shutil.rmtree(config.out)  # every check has passed
    return plan


def _run_one(search: SearchConfig, strategy: str, seed: int, resume: bool, outputs, threads: int | None) -> dict:
    """Run one search (continued with ``resume``) and return its record for ``runs.jsonl``."""
    if threads is not None:
        set_threads(threads)
    start = time.perf_counter()
    run = run_search(search, resume=resume, trainer=Trainer(search), outputs=None if outputs is None else outputs())
    final = [r.get("example_epochs") for r in run.final if r.get("example_epochs") is not None]
    return {
        "strategy": strategy, "seed": seed, "run": run_name(strategy, seed),
        "generations": len(run.generations), "budget_reached": run.budget_reached,
        "example_epochs": screening_compute(run.generations),
        "final_example_epochs": int(sum(final)) if final else None,
        "elapsed_s": time.perf_counter() - start,
    }


def run_bench(plan: BenchPlan, *, outputs: Callable[[], SearchOutputs] | None = None, progress: bool = True,
              echo: Echo | None = None, jobs: int = 1, threads: int | None = None) -> list[dict]:
    """Run the plan's searches (skipping finished runs) and return every run record.

    Parameters
    ----------
    plan : BenchPlan
        From :func:`prepare_bench`.
    outputs : callable, optional
        Makes each run's exports (the CLI passes ``functools.partial(RunOutputs, report=False)``;
        with ``jobs > 1`` it must pickle).
    progress : bool
        A progress bar over runs (on stderr) with elapsed time and ETA.
    echo : callable, optional
        Receives the plan's warnings.
    jobs : int
        Runs at a time, each in its own process (:data:`JOB_CONTEXT`); 1: in this process.
    threads : int, optional
        Torch threads of each job process (None: torch's choice).

    Raises
    ------
    KeyboardInterrupt
        The finished runs are recorded and the interrupted runs keep their last generation; run
        again with ``resume``.
    """
    config = plan.config
    for line in plan.warnings:
        if echo:
            echo(f"warning: {line}")
    store = BenchStore.open(config.out, config, resume=plan.resume)
    todo = [(run, plan.searches[run], run in plan.resumed) for run in config.runs() if run not in plan.done]
    bar = tqdm(total=len(config.runs()), initial=len(plan.done), unit="run", desc="bench", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)

    def record(line: dict):
        store.append([line])
        plan.resumed.discard((line["strategy"], line["seed"]))
        bar.update(1)

    try:
        if jobs <= 1:
            for (strategy, seed), search, resume in todo:
                bar.set_postfix_str(f"{run_name(strategy, seed)}{' (resumed)' if resume else ''}")
                record(_run_one(search, strategy, seed, resume, outputs, None))
        else:
            _run_jobs(todo, outputs, jobs, threads, record)
    finally:
        bar.close()
    return store.records()


def _run_jobs(todo, outputs, jobs: int, threads: int | None, record: Callable[[dict], None]):
    """``todo`` ``jobs`` at a time in separate processes, recorded as each finishes. A run is handed
    to the pool only when a job process is free, so none waits in its queue when the benchmark is
    interrupted."""
    waiting = iter(todo)
    with _sigterm_interrupts_jobs():
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context(JOB_CONTEXT),
                                   initializer=_start_job)
        try:
            pending = set()
            while True:
                for (strategy, seed), search, resume in itertools.islice(waiting, jobs - len(pending)):
                    pending.add(pool.submit(_run_one, search, strategy, seed, resume, outputs, threads))
                if not pending:
                    break
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    record(future.result())
        finally:  # on an error or Ctrl-C: no new run starts; the running ones stop at their next generation
            pool.shutdown(wait=True, cancel_futures=True)


def _start_job() -> None:
    """A job process's entry point: SIGINT raises KeyboardInterrupt in it, also where the benchmark
    started with SIGINT ignored (a background job of a non-interactive shell: ``nohup ... &``),
    which the job process would inherit, so that the SIGINT of a ``kill PID`` reaches its run."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def _sigterm_interrupts_jobs():
    """SIGTERM (``kill PID``, a scheduler's time limit) to the benchmark process acts as Ctrl-C does
    to the whole process group: each job process gets SIGINT and stops its run where ``resume``
    continues it, and this process raises KeyboardInterrupt. Without it the job processes outlive
    their parent and keep writing run directories that a ``--resume`` would open beside them."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return

    raised = []

    def interrupt(signum, frame):
        for child in multiprocessing.active_children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGINT)
        if not raised:  # a second SIGTERM must not break the shutdown that waits for the jobs
            raised.append(signum)
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_directories(config: BenchConfig) -> dict[tuple[str, int], Path]:
    """Every run's directory, by (strategy, seed)."""
    return {(s, seed): config.run_dir(s, seed) for s, seed in config.runs()}
