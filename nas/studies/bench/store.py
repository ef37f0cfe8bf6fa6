"""A benchmark's result store: its settings and one JSON line per finished run.

Files in the benchmark's folder (beside the run directories ``STRATEGY-sSEED``):

``bench.json``
    The settings (:class:`~nas.studies.bench.config.BenchConfig`) with code and library versions,
    written atomically when the benchmark starts.
``runs.jsonl``
    One line per run whose search finished (its final phase included): strategy, seed, run
    directory, generations, screening and final compute, seconds; appended atomically
    (:mod:`nas.stores.jsonl`). A run without a line is resumed through the search's own
    ``--resume``, or started.

:class:`BenchStore` is a :class:`~nas.stores.ResultStore`: its settings are the benchmark config,
compared on resume over :meth:`BenchConfig.settings` (each differing option named); its records
are the finished runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from nas.exceptions import (
    SettingsMismatchError,
    StoreError,
    StoreExistsError,
    StoreNotFoundError,
)
from nas.provenance import provenance, write_json_atomic
from nas.stores import describe
from nas.stores.jsonl import FolderStore, append_lines, encode_lines, read_lines
from nas.studies.bench.config import BenchConfig

__all__ = ["BenchStore", "BenchError", "BenchExistsError", "BenchNotFoundError", "BenchSettingsError",
           "SETTINGS_FILE", "RUNS_FILE"]

SETTINGS_FILE, RUNS_FILE = "bench.json", "runs.jsonl"


class BenchError(StoreError):
    """A benchmark folder that cannot be read or written."""


class BenchExistsError(BenchError, StoreExistsError):
    """A new benchmark where a benchmark or other files already are."""


class BenchNotFoundError(BenchError, StoreNotFoundError):
    """``--resume`` where there is no benchmark."""


class BenchSettingsError(BenchError, SettingsMismatchError):
    """``--resume`` with settings other than the stored ones."""


_COUNTS = ("generations", "example_epochs", "final_example_epochs")


def _run_problem(record) -> str | None:
    """What makes ``record`` no run record, or None."""
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    for key in ("strategy", "run"):
        if not isinstance(record.get(key), str) or not record[key]:
            return f"expected a {key} name, got {record.get(key)!r}"
    seed = record.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        return f"expected an integer seed >= 0, got {seed!r}"
    for key in _COUNTS:
        value = record.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            return f"expected an integer >= 0 or null for {key!r}, got {value!r}"
    value = record.get("elapsed_s")
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"expected a number of seconds for 'elapsed_s', got {value!r}"
    return None


class BenchStore(FolderStore):
    """The files of one benchmark folder (see the module docstring)."""

    SETTINGS_FILE = SETTINGS_FILE

    @classmethod
    def check_new(cls, folder, replace: bool = False) -> None:
        """Raise unless ``folder`` can take a new benchmark (missing, or an empty folder; with
        ``replace`` also a folder holding a benchmark, which the caller removes).

        Raises
        ------
        BenchExistsError
            ``folder`` is a file, holds a benchmark or holds other files.
        """
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise BenchExistsError(f"--out {str(folder)!r} is a file; expected a folder for the benchmark")
        if (folder / SETTINGS_FILE).exists():
            if replace:
                return
            raise BenchExistsError(f"--out {str(folder)!r} already holds a benchmark; pass --resume to continue it "
                                   "or choose another --out")
        if folder.is_dir() and any(folder.iterdir()):
            raise BenchExistsError(f"--out {str(folder)!r} exists and is not empty; expected a new or empty folder "
                                   "(or --resume for a benchmark started there)")
        existing = next((p for p in [folder, *folder.parents] if p.exists()), Path("."))
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise BenchError(f"--out {str(folder)!r}: {str(existing)!r} is not a writable folder")

    @classmethod
    def create(cls, folder, settings: BenchConfig) -> "BenchStore":
        """Start a benchmark in ``folder`` (created if missing; it must be new or empty).

        Raises
        ------
        BenchExistsError
            ``folder`` already holds a benchmark or other files.
        BenchError
            ``folder`` cannot be written.
        """
        cls.check_new(folder)
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_json_atomic(folder / SETTINGS_FILE, {"bench": settings.to_dict(), "provenance": provenance()})
        except OSError as err:
            raise BenchError(f"cannot write the benchmark to {str(folder)!r}: {err.strerror or err}") from None
        return cls(folder)

    @classmethod
    def load(cls, folder) -> "BenchStore":
        """The benchmark in ``folder``.

        Raises
        ------
        BenchNotFoundError
            ``folder`` holds no benchmark.
        """
        store = cls(folder)
        if not store.exists:
            raise BenchNotFoundError(f"--resume: {str(store.folder)!r} holds no benchmark (no {SETTINGS_FILE}); "
                                     "start one without --resume")
        return store

    def compared(self, settings: BenchConfig) -> dict[str, Any]:
        return settings.settings()

    def mismatch(self, found) -> BenchSettingsError:
        return BenchSettingsError(f"--resume with other benchmark settings ({describe(found, 'stored', 'given')}); "
                                  "repeat the original settings or start a new benchmark in another --out", found)

    def settings(self) -> BenchConfig:
        """The stored settings (``out`` is where the folder is now).

        Raises
        ------
        BenchError
            ``bench.json`` is missing, damaged or holds invalid settings.
        """
        path = self.folder / SETTINGS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            stored = dict(data["bench"])
        except FileNotFoundError:
            raise BenchNotFoundError(f"{str(self.folder)!r} holds no benchmark ({SETTINGS_FILE} is missing)") from None
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
            raise BenchError(f"cannot read {str(path)!r}: {type(err).__name__}: {err}") from None
        try:
            return BenchConfig.from_dict({**stored, "out": str(self.folder)})
        except Exception as err:  # noqa: BLE001 - any bad stored value is a damaged benchmark
            raise BenchError(f"{str(path)!r} holds invalid settings: {err}") from None

    def records(self) -> list[dict]:
        """The finished runs, in the order appended.

        Raises
        ------
        BenchError
            A line that is not a run record (names the line and what is wrong).
        """
        path = self.folder / RUNS_FILE
        if not path.exists():
            return []
        records = read_lines(path, torn_ok=True, error=BenchError, what="the benchmark folder")
        for number, record in enumerate(records, 1):
            problem = _run_problem(record)
            if problem:
                raise BenchError(f"{str(path)!r} line {number}: {problem}; the benchmark folder is damaged")
        return records

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Append finished runs: all of them or none.

        Raises
        ------
        BenchError
            A record that is not a run (nothing is appended), or the file cannot be written.
        """
        for i, record in enumerate(records):
            problem = _run_problem(record)
            if problem:
                raise BenchError(f"run {i} cannot be stored: {problem}")
        append_lines(self.folder / RUNS_FILE, encode_lines(list(records), BenchError), BenchError)
