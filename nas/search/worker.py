"""Workers: claim a search's waiting trials from the ledger, train them, record the results.

The search process is one such worker (its local trainer); ``nas worker`` processes on this or
other machines are others. Claims are atomic, heartbeats show who is alive, and a trial taken over
as stale is never recorded twice (see :mod:`nas.ledger`).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import platform
import socket
import time
from typing import Any, Callable

from nas.exceptions import LedgerError, TrainingError
from nas.ledger import Claim, Ledger
from nas.provenance import library_versions
from nas.search.config import SearchConfig
from nas.search.evaluator import Trainer
from nas.search.rungs import FIDELITY_ATTR
from nas.search.strategies import Objectives
from nas.training.candidates import SETUP_ERRORS, Outcome, trains_together
from nas.training.device import set_threads
from predictors.inputs import curve_features
from search_spaces.exceptions import SparseNASError
from search_spaces.features import graph_features
from search_spaces.genome import Genome

__all__ = ["train_claims", "run_worker", "share_size", "thread_share", "MAX_SHARE"]

Echo = Callable[[str], None]


@functools.lru_cache(maxsize=1)
def _library_versions() -> dict:
    return library_versions()  # read once per process: importlib.metadata is slow


def _trial_attrs(genome: Genome, outcome: Outcome) -> dict:
    attrs: dict[str, Any] = {"host": platform.node(), "libraries": dict(_library_versions())}
    for k, v in (outcome.metrics or {}).items():
        if isinstance(v, (int, float, str, bool)) or v is None:
            attrs[k] = v
    curve = (outcome.metrics or {}).get("val_curve")
    if isinstance(curve, (list, tuple)) and curve:  # the learning curve, and what a predictor may read of it
        attrs["val_curve"] = [float(v) for v in curve]
        if all(math.isfinite(v) for v in attrs["val_curve"]):
            attrs.update(curve_features(attrs["val_curve"]))
    notes = (outcome.metrics or {}).get("notes")
    if notes:  # what the trainer changed to make the run fit (out of memory: smaller stack or batch)
        attrs["notes"] = "; ".join(notes)
    attrs["features"] = graph_features(genome)  # cached: the gate computed them already
    return attrs


def train_claims(
    ledger: Ledger, trainer: Trainer, claims: list[Claim], objectives: Objectives, *, heartbeat_interval: float = 10.0
) -> dict[int, Outcome]:
    """Train claimed trials and record them; on Ctrl-C requeue the unfinished ones and re-raise.

    The claims' heartbeats are renewed every ``heartbeat_interval`` seconds while they train. A
    trial that another process requeued meanwhile (it took this worker for dead) is not recorded
    twice: its outcome here gets an ``error`` saying so, and the requeued copy stands.
    """
    done: dict[int, Outcome] = {}
    with ledger.heartbeat(claims, heartbeat_interval):
        _train_and_record(ledger, trainer, claims, objectives, done)
    return done


def _train_and_record(ledger, trainer, claims, objectives, done) -> None:
    try:
        if trains_together(getattr(trainer, "family", "ff")):
            pairs = _train_by_fidelity(trainer, claims)  # trained together, one cohort per rung's budget
        else:  # one at a time, each recorded as soon as it is trained
            pairs = ((c, _train(trainer, [c], c.attrs.get(FIDELITY_ATTR))[0]) for c in claims)
        for claim, outcome in pairs:
            if outcome.error is None:
                try:
                    values = objectives.values_from(outcome.metrics)
                    if not all(math.isfinite(v) for v in values):
                        raise TrainingError(f"non-finite objective values {values}")
                except SparseNASError as err:
                    outcome = Outcome(error=f"{type(err).__name__}: {err}")
            try:
                if outcome.error is None:
                    ledger.complete(claim, values, _trial_attrs(claim.genome, outcome))
                else:
                    ledger.fail(claim, outcome.error, _trial_attrs(claim.genome, outcome))
            except LedgerError as err:  # taken over as stale while it trained: the copy counts
                outcome = Outcome(error=f"not recorded: {err}")
            done[claim.number] = outcome
    except BaseException as err:  # the worker is going down: its unfinished claims go back to the queue
        why = "interrupted (Ctrl-C)" if isinstance(err, KeyboardInterrupt) else f"{type(err).__name__} in the worker"
        # Ctrl-C and set-up errors (no device, unusable data) are no trial's fault; anything else may be
        # the candidate's, so it counts towards max_retries like a death
        blameless = isinstance(err, (KeyboardInterrupt, *SETUP_ERRORS))
        for claim in claims:
            if claim.number not in done:
                with contextlib.suppress(Exception):  # already taken over, or the storage is gone: nothing to do
                    ledger.fail(claim, f"{why}; requeued", requeue=True, count=not blameless)
        raise


def _train(trainer, claims: list[Claim], share: float | None) -> list[Outcome]:
    """Train the claims' genomes at ``share`` of the screening budget (a rung of successive
    halving, :mod:`nas.search.rungs`); None or 1: the screening budget itself, as without halving."""
    genomes = [c.genome for c in claims]
    if share is None or float(share) >= 1.0:
        return trainer.train(genomes)
    return trainer.train(genomes, fidelity=float(share))


def _train_by_fidelity(trainer, claims: list[Claim]):
    """``(claim, outcome)`` pairs, the claims of one fidelity trained together (one fidelity: one cohort)."""
    groups: dict = {}
    for c in claims:
        groups.setdefault(c.attrs.get(FIDELITY_ATTR), []).append(c)
    for share, group in groups.items():
        yield from zip(group, _train(trainer, group, share))


#: Most trials one worker claims at once (a stack is then cut to fit the device's memory).
MAX_SHARE = 256


def share_size(waiting: int, workers: int, limit: int | None = None) -> int:
    """Trials a worker claims at once (its *share*): what is waiting divided among the live
    workers (rounded up, at least 1, at most :data:`MAX_SHARE`), or ``limit`` when given.

    >>> share_size(12, 2), share_size(12, 5), share_size(0, 3), share_size(40, 1, limit=4)
    (6, 3, 1, 4)
    """
    if limit is not None:
        return limit
    return max(1, min(MAX_SHARE, -(-waiting // max(1, workers))))


def thread_share(workers_here: int, cores: int | None = None) -> int:
    """Torch threads for one of ``workers_here`` workers on a machine of ``cores`` cores, so that
    together they do not oversubscribe it.

    >>> thread_share(3, cores=2), thread_share(2, cores=16)
    (1, 8)
    """
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, workers_here))


def run_worker(
    ledger: Ledger,
    *,
    max_trials: int | None = None,
    idle_timeout: float = 60.0,
    share: int | None = None,
    threads: int | str | None = None,
    echo: Echo | None = None,
    trainer: Trainer | None = None,
    device: str | None = None,
    data_dir: str | None = None,
) -> int:
    """Serve a search from its ledger: claim waiting trials, train, record; returns trials done.

    The search's config (task, training budgets, objectives) is read from the ledger. The device
    and the data are checked before anything is claimed (a set-up error stops the worker and fails
    no trial). The worker registers in the ledger; each round it claims ``share`` trials, or by
    default its share of those waiting among the live workers (:func:`share_size`), and trains
    them together as one cohort. ``threads="share"`` sets torch's threads before each
    round to this machine's cores divided by the live workers on it (:func:`thread_share`); an
    integer sets that many; None leaves torch alone. Stops after ``max_trials`` trials or when
    nothing has been waiting for ``idle_timeout`` seconds. ``device`` and ``data_dir`` replace the
    search's own for this worker (another machine has its own GPU and its own data folder).
    """
    stored = ledger.config
    if stored is None:
        raise LedgerError(f"ledger {ledger.name!r} holds no search config; start it with `nas search`")
    config = SearchConfig.from_stored(stored)
    here = {k: v for k, v in {"device": device, "data_dir": data_dir}.items() if v is not None}
    if here:
        config = config.with_changes(**here)
    if trainer is None:
        trainer = Trainer(config)
        trainer.prepare()  # no such device, unusable data: stop before claiming anything
    objectives = Objectives(config.metric, config.second_objective)
    done, idle_since = 0, time.monotonic()
    ledger.register_worker()
    time.sleep(min(config.poll_interval, 1.0))  # workers started together see each other before claiming
    try:
        while max_trials is None or done < max_trials:
            live = ledger.live_workers(config.stale_after)
            size = share_size(ledger.waiting(), len(live) or 1, share)
            if max_trials is not None:
                size = min(size, max_trials - done)
            claims = ledger.claim_many(size)
            if not claims:
                if ledger.requeue_stale(config.stale_after, max_retries=config.max_retries):  # a dead worker's trials
                    continue
                if time.monotonic() - idle_since > idle_timeout:
                    break
                ledger.register_worker()
                time.sleep(min(config.poll_interval, 1.0, idle_timeout))
                continue
            if threads is not None:
                here = sum(1 for facts in live.values() if facts.get("host") == socket.gethostname())
                set_threads(thread_share(here or 1) if threads == "share" else int(threads))
            outcomes = train_claims(ledger, trainer, claims, objectives, heartbeat_interval=config.heartbeat_interval)
            done += len(claims)
            idle_since = time.monotonic()
            if echo:
                for c in claims:
                    o = outcomes[c.number]
                    status = f"failed: {o.error}" if o.error else f"{config.metric}={o.metrics.get(config.metric)}"
                    echo(f"trial {c.number} ({c.genome.key}): {status}")
    finally:
        with contextlib.suppress(Exception):  # the storage may be what failed
            ledger.unregister_worker()
    return done
