"""The result-store contract: one small interface for every place a command keeps its results.

A *store* holds the **settings** its results were made with (written once, when the store is
created) and **records** — JSON objects in the order they were appended. Every backend keeps
four promises, checked by one contract suite (``tests/test_store_contract.py``) run against
each of them, as Optuna runs one storage suite against every storage:

1. :meth:`ResultStore.append` is atomic: a record, or a list of records, is stored whole or not at
   all; a failure (or a kill) in the middle leaves no partial record and a store that still opens.
2. :meth:`ResultStore.records` reads every record back, in order, with its JSON types.
3. :meth:`ResultStore.open` with ``resume=True`` continues an existing store (in another process,
   after a restart); a store that does not exist is :class:`~nas.exceptions.StoreNotFoundError`.
4. Settings that differ from the stored ones are refused: :class:`~nas.exceptions.SettingsMismatchError`
   names every differing field with its stored and asked value (:func:`differences`). Creating a
   store where one exists is :class:`~nas.exceptions.StoreExistsError`.

Backends (each beside the code whose results it keeps, so that this module knows no domain)::

    nas.studies.priors.store.StudyStore    a prior study's folder: study.json, genomes.jsonl, runs.jsonl
    nas.studies.pruning.store.PruneStore   ``nas prune``'s finished steps beside --out (``--resume``)
    nas.ledger.store.LedgerStore           the search's Optuna ledger (SQLite, journal file, PostgreSQL)

The two file stores share :mod:`nas.stores.jsonl` (JSON lines appended by an atomic rewrite).
"""

from __future__ import annotations

import abc
from typing import Any, Mapping, Self, Sequence

from nas.exceptions import SettingsMismatchError, StoreError

__all__ = ["ResultStore", "differences", "describe"]

_MISSING = None  # how a setting one side lacks is shown (as the search has always shown it)


def differences(stored: Mapping[str, Any], asked: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The settings whose values differ, as ``{field: (stored, asked)}``.

    Fields are taken in ``asked``'s order, then those only ``stored`` has; a field one side lacks
    counts as ``None`` there.

    >>> differences({"seeds": 2, "task": "mnist"}, {"task": "mnist", "seeds": 3})
    {'seeds': (2, 3)}
    """
    fields = [*asked, *(k for k in stored if k not in asked)]
    return {k: (stored.get(k, _MISSING), asked.get(k, _MISSING)) for k in fields
            if stored.get(k, _MISSING) != asked.get(k, _MISSING)}


def describe(found: Mapping[str, tuple[Any, Any]], stored: str = "stored", asked: str = "asked") -> str:
    """``found`` (from :func:`differences`) as one line: ``"seeds: stored 2, asked 3; ..."``.

    >>> describe({"seeds": (2, 3)}, "stored", "given")
    'seeds: stored 2, given 3'
    """
    return "; ".join(f"{k}: {stored} {a!r}, {asked} {b!r}" for k, (a, b) in found.items())


class ResultStore(abc.ABC):
    """A store of settings and records (see the module docstring).

    A backend implements :meth:`create`, :meth:`load`, :meth:`settings`, :meth:`records` and
    :meth:`append`, and says which settings must agree on resume (:meth:`compared`); :meth:`open`
    and :meth:`check_settings` are written once here.
    """

    @classmethod
    @abc.abstractmethod
    def create(cls, location, settings, **options) -> Self:
        """A new store at ``location`` holding ``settings`` and no records.

        Raises
        ------
        StoreExistsError
            A store (or, for a folder, other files) is already there.
        """

    @classmethod
    @abc.abstractmethod
    def load(cls, location, **options) -> Self:
        """The existing store at ``location``, its settings unchecked (for readers).

        Raises
        ------
        StoreNotFoundError
            No store is there.
        """

    @classmethod
    def open(cls, location, settings=None, *, resume: bool = False, **options) -> Self:
        """:meth:`create` a store, or with ``resume`` continue the one at ``location``.

        ``settings`` may be None on resume: the stored ones are taken as they are.

        Raises
        ------
        StoreExistsError
            Not ``resume``, and a store is there.
        StoreError
            Not ``resume``, and no ``settings``.
        StoreNotFoundError
            ``resume``, and no store is there.
        SettingsMismatchError
            ``resume`` with settings that differ from the stored ones (each field named).
        """
        if not resume:
            if settings is None:
                raise StoreError("a new store needs the settings its results are made with; got None")
            return cls.create(location, settings, **options)
        store = cls.load(location, **options)
        if settings is not None:
            store.check_settings(settings)
        return store

    @abc.abstractmethod
    def settings(self):
        """The stored settings (the backend's settings object)."""

    @abc.abstractmethod
    def records(self) -> list[dict]:
        """Every record, in the order appended."""

    @abc.abstractmethod
    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Store ``records`` after the others: all of them, or (on any failure) none.

        Raises
        ------
        StoreError
            A record the backend cannot store (nothing is stored), or the store cannot be written.
        """

    def compared(self, settings) -> dict[str, Any]:
        """The part of ``settings`` a resumed store must agree on, as a JSON-shaped dict
        (default: all of it)."""
        return dict(settings)

    def check_settings(self, settings) -> None:
        """Raise :meth:`mismatch` when ``settings`` differ from the stored ones in :meth:`compared`."""
        found = differences(self.compared(self.settings()), self.compared(settings))
        if found:
            raise self.mismatch(found)

    def mismatch(self, found: dict[str, tuple[Any, Any]]) -> SettingsMismatchError:
        """The error for settings that differ (a backend words it for its command)."""
        return SettingsMismatchError(f"the store was made with other settings ({describe(found)})", found)
