"""The search's ledger as a result store (:class:`~nas.stores.ResultStore`): an adapter, not a new storage.

* **Settings** are the ledger attribute ``config`` (the search config as a dict); the part a
  resumed ledger must agree on is given by the caller (``compared``; the search passes its
  config's trajectory fields, :meth:`nas.search.config.SearchConfig.trajectory`).
* **Records** are the ledger's finished evaluations, in trial-number order: every ``COMPLETE``
  trial, and every ``FAIL`` trial that was not requeued (a failed training is a result too), as
  ``{"genome": genome dict, "values": objective values (None for a failure), "attrs": user
  attributes}`` — the attributes the search records (generation, reason, metrics, ...) without
  the claim's bookkeeping (genome JSON, key, worker, heartbeat, requeued).
* :meth:`LedgerStore.append` adds finished trials through :meth:`Ledger.add` (the storage's
  public ``create_new_trial`` with a finished template). One trial is one transaction on every
  backend (one commit on an RDB, one log line under the journal's lock). A list of several is marked as one
  group (a user attribute with a group id and its size), and :meth:`records` shows a group only
  when all its trials are there: a failure part-way leaves its first trials in the storage
  (Optuna cannot delete a trial; the dashboard shows them) but never among the records.
  The search itself records through :meth:`nas.ledger.Ledger.complete` (claim, train, complete),
  whose ``COMPLETE`` transition is one transaction as well.
"""

from __future__ import annotations

import json
import math
import uuid
from collections import Counter
from typing import Any, Callable, Mapping, Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.exceptions import (
    LedgerError,
    LedgerExistsError,
    LedgerNotFoundError,
    LedgerSettingsError,
)
from nas.ledger.ledger import CONFIG_ATTR, Ledger
from nas.ledger.storage import shown_url
from nas.ledger.trials import genome_params
from nas.stores import ResultStore
from search_spaces.genome import Genome

__all__ = ["LedgerStore", "GROUP_ATTR"]

#: User attribute of trials appended together: ``[group id, number of trials in the group]``.
GROUP_ATTR = "append_group"
# user attributes that belong to a trial's bookkeeping, not to its record
_NOT_RECORDED = ("genome", "key", "worker", "heartbeat", "requeued", GROUP_ATTR)

Compared = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def _record(trial: FrozenTrial) -> dict:
    return {"genome": Genome.from_json(trial.user_attrs["genome"]).to_dict(),
            "values": None if trial.state == TrialState.FAIL else list(trial.values),
            "attrs": {k: v for k, v in trial.user_attrs.items() if k not in _NOT_RECORDED}}


class LedgerStore(ResultStore):
    """The ledger ``(url, name)`` as a result store (see the module docstring).

    Parameters
    ----------
    ledger : Ledger
        The opened ledger; use :meth:`open`, :meth:`create` or :meth:`load`.
    compared : callable, optional
        Settings dict -> the fields a resumed ledger must agree on (default: all).
    """

    def __init__(self, ledger: Ledger, compared: Compared | None = None):
        self.ledger = ledger
        self._compared = compared

    @classmethod
    def open(cls, location, settings=None, *, resume: bool = False, directions: Sequence[str] | None = None,
             compared: Compared | None = None) -> "LedgerStore":
        """Open the ledger ``location = (url, name)`` for a new search, or with ``resume`` an existing one.

        The checks come in the search's order: a ledger that exists is compared first (so a new
        search over an old ledger with other settings hears which ones differ), then refused
        unless ``resume``. The asked ``settings`` are stored (a resumed search may change what
        ``compared`` leaves out, e.g. the number of generations).

        Raises
        ------
        LedgerNotFoundError
            ``resume`` and no such ledger file or ledger, or a ledger not made by ``nas search``.
        LedgerSettingsError
            The ledger exists with other settings (each differing field named).
        LedgerExistsError
            Not ``resume`` and the ledger exists (or holds trials of something else).
        LedgerError
            The storage cannot be opened, or the ledger's directions differ from ``directions``.
        """
        url, name = location
        ledger = Ledger.open(url, name, directions=directions, create=not resume)
        store = cls(ledger, compared)
        foreign = f"ledger {name!r} in {shown_url(url)!r} was not made by `nas search`; nothing to resume"
        if ledger.config is None:
            if resume:
                raise LedgerNotFoundError(foreign)
            if ledger.trials():
                raise LedgerExistsError(foreign)
        else:
            if settings is not None:
                store.check_settings(settings)
            if not resume:
                raise LedgerExistsError(f"ledger {name!r} already exists in {shown_url(url)!r}; pass --resume to "
                                        "continue it, or choose another --ledger / --out")
        if settings is not None:
            ledger.set_attr(CONFIG_ATTR, dict(settings))
        return store

    @classmethod
    def create(cls, location, settings, *, directions: Sequence[str] = ("maximize",),
               compared: Compared | None = None) -> "LedgerStore":
        """A new ledger ``location = (url, name)`` holding ``settings`` (see :meth:`open`)."""
        if settings is None:
            raise LedgerError("a new ledger needs its settings (the search config); got None")
        return cls.open(location, settings, resume=False, directions=directions, compared=compared)

    @classmethod
    def load(cls, location, *, directions: Sequence[str] | None = None,
             compared: Compared | None = None) -> "LedgerStore":
        """The existing ledger ``location = (url, name)``, its settings unchecked and unchanged.

        Raises
        ------
        LedgerNotFoundError
            No such ledger file or ledger, or a ledger not made by ``nas search``.
        """
        url, name = location
        ledger = Ledger.open(url, name, directions=directions, create=False)
        if ledger.config is None:
            raise LedgerNotFoundError(f"ledger {name!r} in {shown_url(url)!r} was not made by `nas search`; "
                                      "nothing to resume")
        return cls(ledger, compared)

    def compared(self, settings) -> dict[str, Any]:
        return dict(settings if self._compared is None else self._compared(settings))

    def mismatch(self, found) -> LedgerSettingsError:
        detail = "; ".join(f"{k}: ledger has {found[k][0]!r}, asked {found[k][1]!r}" for k in sorted(found))
        return LedgerSettingsError(
            f"ledger {self.ledger.name!r} in {shown_url(self.ledger.url)!r} exists with an incompatible config "
            f"({detail}); resume it with the same settings (--resume), or choose another --ledger / --out", found)

    def settings(self) -> dict:
        """The stored search config (a dict)."""
        return dict(self.ledger.config or {})

    def records(self) -> list[dict]:
        """The finished evaluations, in trial-number order (groups appended part-way left out)."""
        finished = [t for t in self.ledger.trials([TrialState.COMPLETE, TrialState.FAIL])
                    if not t.user_attrs.get("requeued")]
        present = Counter(t.user_attrs[GROUP_ATTR][0] for t in finished if GROUP_ATTR in t.user_attrs)
        whole = [t for t in finished
                 if GROUP_ATTR not in t.user_attrs or present[t.user_attrs[GROUP_ATTR][0]] == t.user_attrs[GROUP_ATTR][1]]
        return [_record(t) for t in sorted(whole, key=lambda t: t.number)]

    def _trial(self, i: int, record: Mapping[str, Any], group: list | None) -> FrozenTrial:
        """``record`` as a finished trial; a record that cannot be one is a LedgerError naming it."""
        if not isinstance(record, Mapping) or set(record) - {"genome", "values", "attrs"}:
            raise LedgerError(f"record {i} must be a dict with 'genome', 'values' and 'attrs'; got {record!r}")
        try:
            genome = Genome.from_dict(record["genome"])
        except Exception as err:  # noqa: BLE001 - any bad genome is a bad record
            raise LedgerError(f"record {i}: not a genome ({type(err).__name__}: {err})") from None
        values, attrs = record.get("values"), dict(record.get("attrs") or {})
        directions = len(self.ledger.directions)
        if values is not None and (not isinstance(values, (list, tuple)) or len(values) != directions or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)):
            raise LedgerError(f"record {i}: values must be {directions} finite number(s) or None; got {values!r}")
        try:
            json.dumps(attrs, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise LedgerError(f"record {i}: attrs must be JSON without NaN ({err})") from None
        clash = sorted(set(attrs) & set(_NOT_RECORDED))
        if clash:
            raise LedgerError(f"record {i}: attrs may not set {clash} (the ledger's own)")
        params, dists = genome_params(genome)
        user_attrs = {"genome": genome.to_json(), "key": genome.key, **attrs,
                      **({GROUP_ATTR: group} if group else {})}
        return optuna.trial.create_trial(
            state=TrialState.FAIL if values is None else TrialState.COMPLETE,
            values=None if values is None else [float(v) for v in values],
            params=params, distributions=dists, user_attrs=user_attrs)

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Add ``records`` as finished trials; several are one group, shown only when whole.

        Raises
        ------
        LedgerError
            A record that is not a finished evaluation (checked before anything is added).
        """
        records = list(records)
        group = [uuid.uuid4().hex, len(records)] if len(records) > 1 else None
        trials = [self._trial(i, r, group) for i, r in enumerate(records)]
        for trial in trials:
            self.ledger.add(trial)
