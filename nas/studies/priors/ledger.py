"""A prior study's ledger: the settings, the genomes, and one JSON line per finished training run.

Files in the study folder:

``study.json``
    The settings (:class:`~nas.studies.priors.config.StudyConfig`) with code and library versions; written
    atomically when the study starts.
``genomes.jsonl``
    One line per genome (:class:`~nas.studies.priors.sampling.StudyGenome`): id, family, prior, index,
    genome; written atomically when the study starts.
``runs.jsonl``
    One line per finished training run (genome id, training seed, metrics or the error), appended
    and flushed to disk as each population call finishes. A run killed mid-write leaves at most a
    torn last line, which is dropped (and cut off before the next append).

A plain append-only file rather than the search's Optuna ledger: a study has no queue and no
state besides its finished runs, and the lines can be read by any tool.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from nas.exceptions import StudyError
from nas.provenance import provenance, write_json_atomic, write_text_atomic
from nas.studies.priors.config import StudyConfig
from nas.studies.priors.sampling import StudyGenome

__all__ = ["StudyLedger", "RUN_FIELDS"]

#: Metrics kept from each training run (besides id, seed and error).
RUN_FIELDS = ("test_accuracy", "val_accuracy", "test_loss", "val_loss", "epochs", "best_epoch", "wall_time_s",
              "nonzero_weights", "parameters", "test_examples", "test_expected", "batch_size")

SETTINGS_FILE, GENOMES_FILE, RUNS_FILE = "study.json", "genomes.jsonl", "runs.jsonl"


def _run_problem(record) -> str | None:
    """What makes ``record`` no run record, or None."""
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    if not isinstance(record.get("id"), str) or not record["id"]:
        return f"expected a genome id string, got {record.get('id')!r}"
    seed = record.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        return f"expected an integer seed >= 0, got {seed!r}"
    if record.get("error") is not None and not isinstance(record["error"], str):
        return f"expected an error string or null, got {record['error']!r}"
    for key in RUN_FIELDS:
        value = record.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"expected a number or null for {key!r}, got {value!r}"
    return None


class StudyLedger:
    """The files of one study folder (see the module docstring)."""

    def __init__(self, folder):
        self.folder = Path(folder)

    @property
    def exists(self) -> bool:
        return (self.folder / SETTINGS_FILE).is_file()

    @classmethod
    def create(cls, folder, config: StudyConfig, genomes: list[StudyGenome], chance: float = 0.0) -> "StudyLedger":
        """Start a study in ``folder`` (created if missing; it must not hold a study or other files).

        ``chance`` is the task's chance-level accuracy (1 / classes), stored for the report.

        Raises
        ------
        StudyError
            ``folder`` already holds a study or other files, or cannot be written.
        """
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise StudyError(f"--out {str(folder)!r} is a file; expected a folder for the study")
        if (folder / SETTINGS_FILE).exists():
            raise StudyError(f"{str(folder)!r} already holds a study; pass --resume to continue it or choose another --out")
        if folder.is_dir() and any(folder.iterdir()):
            raise StudyError(f"{str(folder)!r} is not empty; a study needs a new or empty folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_text_atomic(folder / GENOMES_FILE, "".join(json.dumps(g.to_dict()) + "\n" for g in genomes))
            # settings last: a folder with study.json always has its genomes
            write_json_atomic(folder / SETTINGS_FILE, {"study": config.to_dict(), "chance": float(chance),
                                                         "provenance": provenance()})
        except OSError as err:
            raise StudyError(f"cannot write the study to {str(folder)!r}: {err.strerror or err}") from None
        return cls(folder)

    def _read_json(self, name: str):
        try:
            return json.loads((self.folder / name).read_text())
        except FileNotFoundError:
            raise StudyError(f"{str(self.folder)!r} holds no study ({name} is missing)") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise StudyError(f"cannot read {str(self.folder / name)!r}: {err}") from None

    def config(self) -> StudyConfig:
        """The stored settings.

        Raises
        ------
        StudyError
            No study in the folder, or its ``study.json`` is damaged.
        """
        data = self._read_json(SETTINGS_FILE)
        if not isinstance(data, dict) or not isinstance(data.get("study"), dict):
            raise StudyError(f"{str(self.folder / SETTINGS_FILE)!r} has no 'study' settings")
        try:
            return StudyConfig.from_dict(data["study"])
        except Exception as err:  # noqa: BLE001 - any bad stored value is a damaged study
            raise StudyError(f"{str(self.folder / SETTINGS_FILE)!r} holds invalid settings: {err}") from None

    def chance(self) -> float:
        """The task's chance-level accuracy stored when the study started."""
        value = self._read_json(SETTINGS_FILE).get("chance", 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise StudyError(f"{str(self.folder / SETTINGS_FILE)!r}: 'chance' must be a number in [0, 1], got {value!r}")
        return float(value)

    def provenance(self) -> dict:
        return dict(self._read_json(SETTINGS_FILE).get("provenance", {}))

    def genomes(self) -> list[StudyGenome]:
        """The study's genomes, in training order."""
        out = []
        for number, line in enumerate(self._lines(GENOMES_FILE, torn_ok=False), 1):
            try:
                out.append(StudyGenome.from_dict(line))
            except Exception as err:  # noqa: BLE001
                raise StudyError(f"{GENOMES_FILE} line {number}: not a study genome ({err})") from None
        return out

    def runs(self) -> list[dict]:
        """The finished runs (a torn last line is left out).

        Raises
        ------
        StudyError
            A line that is not a run record (names the line and what is wrong).
        """
        records = self._lines(RUNS_FILE, torn_ok=True)
        for number, record in enumerate(records, 1):
            problem = _run_problem(record)
            if problem:
                raise StudyError(f"{str(self.folder / RUNS_FILE)!r} line {number}: {problem}; the study folder is damaged")
        return records

    def _lines(self, name: str, torn_ok: bool) -> list[dict]:
        path = self.folder / name
        if not path.exists():
            if name == RUNS_FILE:
                return []
            raise StudyError(f"{str(path)!r} is missing; the study folder is damaged")
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as err:
            raise StudyError(f"cannot read {str(path)!r}: {err}") from None
        lines = text.split("\n")
        complete, tail = lines[:-1], lines[-1]
        if tail and not torn_ok:
            complete.append(tail)
        out = []
        for number, line in enumerate(complete, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                raise StudyError(f"{str(path)!r} line {number} is not JSON; the study folder is damaged") from None
        return out

    def append_runs(self, records: list[dict]) -> None:
        """Append finished runs and flush them to disk; a torn last line is cut off first."""
        path = self.folder / RUNS_FILE
        try:
            if path.exists():
                with open(path, "rb+") as fh:
                    data = fh.read()
                    if data and not data.endswith(b"\n"):
                        fh.truncate(data.rfind(b"\n") + 1)  # a line torn by a kill
            with open(path, "a") as fh:
                fh.write("".join(json.dumps(r, allow_nan=False) + "\n" for r in records))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as err:
            raise StudyError(f"cannot append to {str(path)!r}: {err.strerror or err}") from None
