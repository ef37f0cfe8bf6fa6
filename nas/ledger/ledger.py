"""The ledger: one Optuna study per search, one trial per training run, the search's state beside it.

Optuna's storage is the single source of truth of a search; the run directory's files are exports.

* **Storage.** ``sqlite:///RUN_DIR/ledger.db`` (the default), ``journal:RUN_DIR/ledger.log``
  (Optuna's journal file, safe for several processes on one file system), or any Optuna RDB URL
  (``postgresql://…``, ``mysql://…``) for workers on many machines. A URL that cannot be opened
  raises :class:`~nas.exceptions.LedgerError` in one line.
* **Trials.** The search *enqueues* a candidate as a ``WAITING`` trial whose params are the
  genome's scalar choices (prior, nodes, ``<prior>.<param>``, seed, family) and whose user
  attributes hold the genome JSON, its key and architecture key, the generation, why it is trained and
  the predictor's prediction at the time. A worker *claims* a waiting trial (an atomic
  ``WAITING → RUNNING`` transition, so two workers never train the same one), trains it, and
  completes it with the objective values plus metrics, features, wall time, device and library
  versions as user attributes — or fails it with the reason.
* **Heartbeats.** A claim records the worker (``host:pid``) and a ``heartbeat`` time; while it
  trains, a background thread (:meth:`Ledger.heartbeat`) renews the heartbeat. A ``RUNNING``
  trial is *stale* when its heartbeat is older than ``stale_after`` seconds, or at once when its
  worker was a process on this host that no longer exists. :meth:`Ledger.requeue_stale` fails
  stale trials and enqueues copies, so a killed worker (or machine) does not stall a search: the
  search calls it on ``--resume`` and while it waits, idle workers call it too. (Optuna's own
  heartbeat exists only for RDB storages and only inside ``study.optimize``; this one is a user
  attribute and works on every storage, the journal file included.)
* **State.** Ledger attributes (the Optuna study's user attributes) hold the search's config (``config``) and, after every
  generation, the state needed to continue (``search_state``: strategy state, RNG state,
  predictor training set, per-generation statistics).

Examples
--------
>>> ledger = Ledger.open("sqlite:///:memory:", "demo", directions=["maximize"])  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Iterable, Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.exceptions import LedgerError, LedgerNotFoundError
from nas.ledger.storage import check_exists, open_storage, scrub, shown_url
from nas.ledger.trials import genome_params, jsonable
from search_spaces.genome import (
    Genome,
)

__all__ = ["Ledger", "Claim", "worker_id", "MAX_RETRIES"]

STATE_ATTR = "search_state"
#: Requeues of a genome whose worker died before it is recorded as failed (:meth:`Ledger.requeue_stale`).
MAX_RETRIES = 3
# attributes of one run of a trial, not carried over to a requeued copy
_RUN_ATTRS = ("genome", "key", "fail_reason", "requeued", "worker", "heartbeat")
CONFIG_ATTR = "config"
WORKER_ATTR = "worker:"


@dataclass(frozen=True)
class Claim:
    """A waiting trial a worker has claimed: its ids, genome and enqueue-time attributes."""

    trial_id: int
    number: int
    genome: Genome
    attrs: dict


def worker_id() -> str:
    """This process as a ledger worker: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_gone(worker: str | None) -> bool:
    """True when ``worker`` (``host:pid``) names a process on this host that no longer exists."""
    if not isinstance(worker, str) or ":" not in worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):  # exists (another user's) or cannot tell: not provably gone
        return False
    return False


@contextlib.contextmanager
def _owned(claim: Claim):
    """Turn Optuna's "trial already finished" into a LedgerError that says what happened."""
    try:
        yield
    except optuna.exceptions.UpdateFinishedTrialError:
        raise LedgerError(
            f"trial {claim.number} was already finished by another process: was this search resumed "
            "(which requeues running trials) while this process was still training it?"
        ) from None


class Ledger:
    """The ledger of one search: an Optuna study holding every training run (see the module
    docstring). Use :meth:`open`.

    Attributes
    ----------
    study : optuna.Study
        The Optuna study behind the ledger (Optuna's word; in ``nas`` a *study* is a prior or
        pruning study, and this object is only ever called the ledger).
    storage : optuna.storages.BaseStorage
        Its storage, as opened from ``url``.
    url : str
    """

    def __init__(self, study: optuna.Study, storage, url: str):
        self.study = study
        self.storage = storage
        self.url = url
        self.study_id = storage.get_study_id_from_name(study.study_name)

    @property
    def name(self) -> str:
        return self.study.study_name

    def trial_id(self, trial: FrozenTrial) -> int:
        """The storage's id of ``trial`` (the storage's public lookup by study and trial number)."""
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, trial.number)

    @classmethod
    def open(cls, url: str, name: str, *, directions: Sequence[str] | None = None, create: bool = True) -> "Ledger":
        """Open (or create) the ledger ``name`` in the storage at ``url``.

        Parameters
        ----------
        url : str
            Storage URL (see :func:`open_storage`).
        name : str
            The ledger's name in the storage (Optuna's study name).
        directions : list of {"maximize", "minimize"}, optional
            Needed to create the ledger; checked against an existing one.
        create : bool
            Create the ledger if it does not exist; else a missing one is an error.

        Raises
        ------
        LedgerNotFoundError
            A missing ledger file, or no ledger ``name`` in the storage (``create=False``).
        LedgerError
            Unreachable storage, or directions that differ from the existing ledger's.
        """
        if not create:
            check_exists(url)  # opening a file ledger would create it
        storage = open_storage(url)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            existing = optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            existing = None
        except Exception as err:
            raise LedgerError(f"cannot read ledger {name!r} from {shown_url(url)!r}: {type(err).__name__}: "
                              f"{scrub(str(err), url)}") from None
        if existing is None:
            if not create:
                names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
                raise LedgerNotFoundError(f"ledger {name!r} not found in {shown_url(url)!r}; ledgers there: {names or 'none'}")
            if not directions:
                raise LedgerError(f"creating ledger {name!r} needs its directions")
            existing = optuna.create_study(study_name=name, storage=storage, directions=list(directions))
        elif directions is not None:
            have = [d.name.lower() for d in existing.directions]
            if have != [d.lower() for d in directions]:
                raise LedgerError(f"ledger {name!r} has directions {have}, this search needs {list(directions)}")
        return cls(existing, storage, url)

    # --- ledger attributes --------------------------------------------------------------------
    # Reads and writes go through the storage itself, never through the study's own cache: Optuna
    # 4.3's cache skips trials older than one it added finished (measured: a resumed store lost
    # its first records), and a ledger is shared with other processes anyway.

    def get_attr(self, name: str, default=None):
        return self.storage.get_study_user_attrs(self.study_id).get(name, default)

    def set_attr(self, name: str, value) -> None:
        self.storage.set_study_user_attr(self.study_id, name, jsonable(value))

    @property
    def config(self) -> dict | None:
        return self.get_attr(CONFIG_ATTR)

    def save_state(self, state: dict) -> None:
        """Store the search state (one JSON string; written after every generation)."""
        self.set_attr(STATE_ATTR, json.dumps(jsonable(state), sort_keys=True))

    def load_state(self) -> dict | None:
        text = self.get_attr(STATE_ATTR)
        return None if text is None else json.loads(text)

    # --- trials -------------------------------------------------------------------------------

    def trials(self, states: Iterable[TrialState] | None = None) -> list[FrozenTrial]:
        return self.storage.get_all_trials(self.study_id, deepcopy=False,
                                           states=None if states is None else tuple(states))

    def add(self, trial: FrozenTrial) -> int:
        """Store a finished trial (built with :func:`optuna.trial.create_trial`); returns its id."""
        return self.storage.create_new_trial(self.study_id, template_trial=trial)

    @property
    def directions(self) -> list:
        return self.storage.get_study_directions(self.study_id)

    def enqueue(self, genome: Genome, **attrs) -> int:
        """Add a WAITING trial for ``genome``; ``attrs`` (generation, reason, predicted…) become user attributes.

        Returns the trial number.
        """
        params, dists = genome_params(genome)
        user_attrs = {"genome": genome.to_json(), "key": genome.key, **{k: jsonable(v) for k, v in attrs.items()}}
        trial = optuna.trial.create_trial(state=TrialState.WAITING, params=params, distributions=dists, user_attrs=user_attrs)
        trial._validate()
        trial_id = self.storage.create_new_trial(self.study_id, template_trial=trial)
        return self.storage.get_trial_number_from_id(trial_id)

    def claim(self, *, numbers: Iterable[int] | None = None) -> Claim | None:
        """Atomically take one waiting trial (optionally among ``numbers``); None when there is none."""
        claims = self.claim_many(1, numbers=numbers)
        return claims[0] if claims else None

    def claim_many(self, limit: int, *, numbers: Iterable[int] | None = None) -> list[Claim]:
        """Atomically take up to ``limit`` waiting trials (optionally among ``numbers``), lowest
        numbers first; a trial another worker takes first is skipped. One read of the queue.

        Each ``WAITING → RUNNING`` transition is one transaction that reads and writes the trial
        (``SELECT … FOR UPDATE`` on PostgreSQL and MySQL, ``BEGIN IMMEDIATE`` on SQLite, the
        journal's file lock), so every trial is claimed by exactly one worker (tested on every
        backend with racing processes).
        """
        wanted = None if numbers is None else set(numbers)
        out: list[Claim] = []
        for t in self.trials([TrialState.WAITING]):
            if len(out) >= limit:
                break
            if wanted is not None and t.number not in wanted:
                continue
            trial_id = self.trial_id(t)
            try:
                won = self.storage.set_trial_state_values(trial_id, TrialState.RUNNING)
            except optuna.exceptions.UpdateFinishedTrialError:  # taken and finished since the queue was read
                won = False
            if won:
                claim = Claim(trial_id, t.number, Genome.from_json(t.user_attrs["genome"]), dict(t.user_attrs))
                with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                    self.storage.set_trial_user_attr(trial_id, "worker", worker_id())
                    self.storage.set_trial_user_attr(trial_id, "heartbeat", time.time())
                out.append(claim)
        if len(out) > 1:
            self.beat(out)  # claiming a batch takes a while: none of it may look stale when training starts
        return out

    def waiting(self) -> int:
        """Trials waiting to be claimed."""
        return len(self.trials([TrialState.WAITING]))

    # --- workers ------------------------------------------------------------------------------

    def register_worker(self, **facts) -> None:
        """Announce (or renew) this process as a worker of the ledger: a ledger attribute
        ``worker:<host:pid>`` holding its host, the time and ``facts``."""
        self.set_attr(f"{WORKER_ATTR}{worker_id()}", {"host": socket.gethostname(), "beat": time.time(), **facts})

    def unregister_worker(self) -> None:
        """Mark this worker as gone (its attribute is kept, with ``gone`` set)."""
        self.set_attr(f"{WORKER_ATTR}{worker_id()}", {"host": socket.gethostname(), "beat": time.time(), "gone": True})

    def live_workers(self, stale_after: float, *, now: float | None = None) -> dict[str, dict]:
        """Workers registered and heard from within ``stale_after`` seconds (processes on this host
        that no longer exist excluded), by ``host:pid``."""
        now = time.time() if now is None else now
        attrs = self.storage.get_study_user_attrs(self.study_id)
        out = {}
        for key, facts in attrs.items():
            if not key.startswith(WORKER_ATTR) or not isinstance(facts, dict) or facts.get("gone"):
                continue
            worker = key[len(WORKER_ATTR):]
            beat = facts.get("beat")
            if isinstance(beat, (int, float)) and now - beat <= stale_after and not _process_gone(worker):
                out[worker] = facts
        return out

    def beat(self, claims: Iterable[Claim]) -> None:
        """Renew the heartbeat of ``claims``; trials finished meanwhile (e.g. taken over) are skipped."""
        now = time.time()
        for claim in claims:
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                self.storage.set_trial_user_attr(claim.trial_id, "heartbeat", now)

    @contextlib.contextmanager
    def heartbeat(self, claims: Sequence[Claim], interval: float):
        """Renew the heartbeat of ``claims`` every ``interval`` seconds in a background thread.

        A failed renewal (a storage hiccup) is retried at the next interval rather than raised:
        the training in the foreground matters more, and a long outage only makes the trials
        stale, which requeues them.
        """
        claims = list(claims)
        stop = threading.Event()

        def run():
            while not stop.wait(interval):
                with contextlib.suppress(Exception):
                    self.beat(claims)
                    self.register_worker()  # the worker itself is alive too

        thread = threading.Thread(target=run, name="nas-ledger-heartbeat", daemon=True)
        if claims:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread.is_alive():
                thread.join()

    def complete(self, claim: Claim, values: Sequence[float], attrs: dict) -> None:
        """Record a finished training run: objective ``values`` and user attributes.

        Raises
        ------
        LedgerError
            Another process already finished the trial (e.g. ``--resume`` requeued it while this
            process was still training it).
        """
        with _owned(claim):
            for k, v in attrs.items():
                self.storage.set_trial_user_attr(claim.trial_id, k, jsonable(v))
            self.storage.set_trial_state_values(claim.trial_id, TrialState.COMPLETE, values=[float(v) for v in values])

    def fail(self, claim: Claim, reason: str, attrs: dict | None = None, *, requeue: bool = False,
             count: bool = True) -> int | None:
        """Record a failed (or interrupted) run with its reason; ``requeue`` enqueues a fresh copy.

        A copy carries the number of earlier requeues of its genome in ``requeues`` (``count``
        False leaves it unchanged: for interruptions that are no worker's death, e.g. Ctrl-C).
        Returns the new trial's number when requeued.
        """
        with _owned(claim):
            for k, v in (attrs or {}).items():
                self.storage.set_trial_user_attr(claim.trial_id, k, jsonable(v))
            self.storage.set_trial_user_attr(claim.trial_id, "fail_reason", str(reason))
            self.storage.set_trial_user_attr(claim.trial_id, "requeued", bool(requeue))
            self.storage.set_trial_state_values(claim.trial_id, TrialState.FAIL)
        if requeue:
            keep = {k: v for k, v in claim.attrs.items() if k not in _RUN_ATTRS}
            keep["requeues"] = int(claim.attrs.get("requeues", 0)) + int(count)
            return self.enqueue(claim.genome, **keep)
        return None

    def stale(self, stale_after: float | None = None, *, now: float | None = None) -> list[FrozenTrial]:
        """RUNNING trials whose worker is presumed dead (see the module docstring).

        ``stale_after=None`` counts every RUNNING trial as stale (for when no worker can be alive).
        A trial without a heartbeat (claimed by an older version) is judged by its start time.
        """
        now = time.time() if now is None else now
        out = []
        for t in self.trials([TrialState.RUNNING]):
            beat = t.user_attrs.get("heartbeat")
            if not isinstance(beat, (int, float)):
                beat = t.datetime_start.timestamp() if t.datetime_start is not None else None
            if (stale_after is None or _process_gone(t.user_attrs.get("worker"))
                    or beat is None or now - beat > stale_after):
                out.append(t)
        return out

    def requeue_stale(self, stale_after: float | None = None, *, now: float | None = None,
                      max_retries: int | None = MAX_RETRIES) -> int:
        """Fail the stale RUNNING trials (:meth:`stale`) as interrupted and enqueue copies; returns how many.

        A genome whose workers died ``max_retries`` times already (``requeues``) is not requeued
        again but recorded as failed, so a candidate that kills every worker that trains it
        (or a machine that keeps dying) cannot stall a search forever (Optuna's
        ``RetryFailedTrialCallback(max_retry)`` does the same). ``None``: retry without a bound.
        A trial finished by its worker between the check and the requeue is left alone.
        """
        count = 0
        for t in self.stale(stale_after, now=now):
            claim = Claim(self.trial_id(t), t.number, Genome.from_json(t.user_attrs["genome"]), dict(t.user_attrs))
            worker = t.user_attrs.get("worker") or "unknown worker"
            tries = int(t.user_attrs.get("requeues", 0))
            try:
                if max_retries is not None and tries >= max_retries:
                    self.fail(claim, f"its worker died {tries + 1} times ({worker} the last); not retried again")
                else:
                    self.fail(claim, f"interrupted ({worker} stopped or stopped reporting); requeued", requeue=True)
            except LedgerError:
                continue
            count += 1
        return count

    def results_for(self, generation: int) -> dict[str, FrozenTrial]:
        """Finished (COMPLETE, or FAIL not requeued) trials of one generation, by genome key."""
        out = {}
        for t in self.trials([TrialState.COMPLETE, TrialState.FAIL]):
            if t.user_attrs.get("generation") != generation or t.user_attrs.get("requeued"):
                continue
            out[t.user_attrs["key"]] = t
        return out

    def pending_for(self, generation: int) -> dict[str, FrozenTrial]:
        """WAITING or RUNNING trials of one generation, by genome key."""
        return {
            t.user_attrs["key"]: t
            for t in self.trials([TrialState.WAITING, TrialState.RUNNING])
            if t.user_attrs.get("generation") == generation
        }
