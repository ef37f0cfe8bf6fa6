"""``nas prune``'s result store: the finished stages of a run, so that ``--resume`` continues it.

Beside ``--out FILE.json`` a run keeps the folder ``FILE.steps/``:

``settings.json``
    The run's settings (:meth:`~nas.studies.pruning.experiment.PruneConfig.to_dict`) with code and
    library versions; written when the run starts.
``steps.jsonl``
    One record per finished stage, appended atomically (:mod:`nas.stores.jsonl`): base training
    (``{"base": [...], "timings": ...}``), every pruning step (``{"step": i, "runs": {method: [record
    or None per seed]}, "timings": ...}``) and the end (``{"complete": true, "timings": ...}``).
``networks-<step>.pt``
    Every candidate's weights and masks after the last finished stage (``torch.save`` of a list
    of state dicts), written before that stage's record and the previous file removed after it,
    so the record of the last stage always has its networks. Removed when the run completes.

``FILE.json`` is rendered from these records after every stage (same shape as ever). On resume,
:meth:`~nas.stores.ResultStore.check_settings` compares every setting but the runtime ones
(:data:`RUNTIME`: the data folder and the device).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from nas.exceptions import (
    SettingsMismatchError,
    StoreError,
    StoreExistsError,
    StoreNotFoundError,
)
from nas.provenance import atomic_path, provenance, to_jsonable, write_json_atomic
from nas.stores import describe
from nas.stores.jsonl import FolderStore, append_lines, encode_lines, read_lines

__all__ = ["PruneStore", "RUNTIME", "steps_folder"]

#: Settings a resumed run may change: where the data is and which device trains.
RUNTIME = ("data_dir", "device")
SETTINGS_FILE, STEPS_FILE = "settings.json", "steps.jsonl"
_NETWORKS = re.compile(r"^networks-(\d+)\.pt$")


def steps_folder(out) -> Path:
    """The store of the run whose output is ``out``: ``prune.json`` -> ``prune.steps/``."""
    out = Path(out)
    folder = out.with_suffix(".steps")
    return folder if folder != out else out.with_name(out.name + ".steps")


class PruneStore(FolderStore):
    """The finished stages of one ``nas prune`` run (see the module docstring)."""

    SETTINGS_FILE = SETTINGS_FILE

    @classmethod
    def create(cls, folder, settings: Mapping[str, Any]) -> "PruneStore":
        """Start the store of a new run in ``folder``.

        Raises
        ------
        StoreExistsError
            ``folder`` holds an earlier run's stages, or is not an empty folder.
        StoreError
            It cannot be written.
        """
        store = cls(folder)
        if store.exists:
            raise StoreExistsError(f"{str(store.folder)!r} holds the finished steps of an earlier run; pass --resume "
                                   "to continue it, or --overwrite to start again")
        if store.folder.exists() and (not store.folder.is_dir() or any(store.folder.iterdir())):
            raise StoreExistsError(f"{str(store.folder)!r} exists and is not an earlier run's steps; expected a new "
                                   "or empty folder for them (move it, or choose another --out)")
        try:
            store.folder.mkdir(parents=True, exist_ok=True)
            write_json_atomic(store.folder / SETTINGS_FILE, {"settings": dict(settings), "provenance": provenance()})
        except OSError as err:
            raise StoreError(f"cannot write {str(store.folder)!r}: {err.strerror or err}") from None
        return store

    @classmethod
    def load(cls, folder) -> "PruneStore":
        """The stages of the run in ``folder``.

        Raises
        ------
        StoreNotFoundError
            No run there.
        """
        store = cls(folder)
        if not store.exists:
            raise StoreNotFoundError(f"--resume: no earlier run to continue ({str(store.folder / SETTINGS_FILE)!r} "
                                     "does not exist); start one without --resume")
        return store

    def compared(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        # through JSON: the stored side is JSON, the asked one may hold tuples
        plain = json.loads(json.dumps(to_jsonable(dict(settings))))
        return {k: v for k, v in plain.items() if k not in RUNTIME}

    def mismatch(self, found) -> SettingsMismatchError:
        return SettingsMismatchError(f"--resume with different pruning settings ({describe(found, 'stored', 'given')}); "
                                     "repeat the original arguments, or pass --overwrite to start again", found)

    def settings(self) -> dict[str, Any]:
        """The stored settings (a :meth:`PruneConfig.to_dict` dict).

        Raises
        ------
        StoreError
            ``settings.json`` is missing or damaged.
        """
        path = self.folder / SETTINGS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StoreNotFoundError(f"{str(self.folder)!r} holds no pruning run ({SETTINGS_FILE} is missing)") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise StoreError(f"cannot read {str(path)!r}: {err}") from None
        if not isinstance(data, dict) or not isinstance(data.get("settings"), dict):
            raise StoreError(f"{str(path)!r} has no 'settings'; the run's steps are damaged")
        return data["settings"]

    def records(self) -> list[dict]:
        """The finished stages, in order.

        Raises
        ------
        StoreError
            A line that is not a JSON object (the run's steps are damaged).
        """
        path = self.folder / STEPS_FILE
        if not path.exists():
            return []
        records = read_lines(path, torn_ok=True, what="the run's steps")
        for number, record in enumerate(records, 1):
            if not isinstance(record, dict):
                raise StoreError(f"{str(path)!r} line {number}: expected a JSON object, got {type(record).__name__}; "
                                 "the run's steps are damaged")
        return records

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Append stage records (JSON objects): all of them or none.

        Raises
        ------
        StoreError
            A record that is not a JSON object (nothing is appended), or the file cannot be written.
        """
        for i, record in enumerate(records):
            if not isinstance(record, Mapping):
                raise StoreError(f"record {i} must be a JSON object; got {type(record).__name__}")
        # NaN as in FILE.json (a diverged network's accuracy): Python's json reads it back
        append_lines(self.folder / STEPS_FILE, encode_lines([to_jsonable(dict(r)) for r in records], allow_nan=True))

    # --- the stages -----------------------------------------------------------------------

    def results(self, methods: Sequence[str], seeds: int) -> tuple[list[dict], dict, dict, bool]:
        """What the stored stages hold: the base results, the step records per method, per seed
        (in step order), the last timings and whether the run completed."""
        base, timings, complete = [], {}, False
        runs: dict[str, list[list[dict]]] = {m: [[] for _ in range(seeds)] for m in methods}
        for record in self.records():
            timings = dict(record.get("timings", timings))
            base = record.get("base", base)
            for method, per_seed in record.get("runs", {}).items():
                for seed, row in enumerate(per_seed):
                    if row is not None:
                        runs[method][seed].append(row)
            complete = complete or bool(record.get("complete"))
        return base, runs, timings, complete

    def restore(self, candidates: Sequence) -> tuple[int, list]:
        """Load the networks of the last stored stage into ``candidates`` (each with ``method``,
        ``seed`` and ``model``, in the order they were stored); returns the stage's number and the
        candidates still pruned after it (those with a record there).

        Raises
        ------
        StoreError
            No stage stored, or its networks are missing or do not fit ``candidates``.
        """
        records = self.records()
        if not records:
            raise StoreError(f"{str(self.folder)!r} holds no finished stage to continue from")
        last = records[-1]
        done = int(last.get("step", 0))
        states = self.networks(done)
        if len(states) != len(candidates):
            raise StoreError(f"{str(self.folder)!r} holds {len(states)} networks for step {done}; this run has "
                             f"{len(candidates)} (methods x seeds); the run's steps are damaged")
        for candidate, state in zip(candidates, states):
            candidate.model.load_state_dict(state)
        if "runs" not in last:
            return done, list(candidates)
        return done, [c for c in candidates if last["runs"][c.method][c.seed] is not None]

    # --- the networks of the last stage ---------------------------------------------------

    def _networks_path(self, step: int) -> Path:
        return self.folder / f"networks-{int(step):04d}.pt"

    def append_stage(self, step: int, record: Mapping[str, Any], networks: Sequence[torch.nn.Module]) -> None:
        """Store a finished stage: the ``networks`` after it (every candidate, in order), then its
        ``record``, then drop the networks of the stage before."""
        states = [{k: v.detach().cpu() for k, v in net.state_dict().items()} for net in networks]
        path = self._networks_path(step)
        try:
            with atomic_path(path) as tmp:
                torch.save(states, tmp)
        except OSError as err:
            raise StoreError(f"cannot write {str(path)!r}: {err.strerror or err}") from None
        self.append([record])
        self.drop_networks(keep=step)

    def networks(self, step: int) -> list[dict]:
        """The candidates' state dicts stored with stage ``step``.

        Raises
        ------
        StoreError
            They are missing or cannot be read (the run's steps are damaged).
        """
        path = self._networks_path(step)
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise StoreError(f"{str(path)!r} is missing: the networks of step {step} are needed to resume; the run's "
                             "steps are damaged (pass --overwrite to start again)") from None
        except Exception as err:  # noqa: BLE001 - torch raises several types for a damaged file
            raise StoreError(f"cannot read {str(path)!r}: {type(err).__name__}: {err}") from None

    def drop_networks(self, keep: int | None = None) -> None:
        """Remove the stored networks (but those of stage ``keep``)."""
        for path in self.folder.glob("networks-*.pt"):
            match = _NETWORKS.match(path.name)
            if match and (keep is None or int(match.group(1)) != keep):
                path.unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete this store's files and its folder (other files, if any, are left with the folder)."""
        if not self.folder.is_dir():
            return
        self.drop_networks()
        for name in (STEPS_FILE, SETTINGS_FILE):
            (self.folder / name).unlink(missing_ok=True)
        for leftover in self.folder.glob(".*.tmp"):  # a killed writer's temporary file
            leftover.unlink(missing_ok=True)
        try:
            os.rmdir(self.folder)
        except OSError:
            pass  # not empty: someone else's files stay
