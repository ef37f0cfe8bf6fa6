"""A prior study's result store: the settings, the genomes, and one JSON line per finished training run.

Files in the study folder:

``study.json``
    The settings (:class:`~nas.studies.priors.config.StudyConfig`) with code and library versions; written
    atomically when the study starts.
``genomes.jsonl``
    One line per genome (:class:`~nas.studies.priors.sampling.StudyGenome`): id, family, prior, index,
    genome; written atomically when the study starts, before ``study.json``.
``runs.jsonl``
    One line per finished training run (genome id, training seed, metrics or the error), appended
    as each cohort finishes — all its runs or none (:mod:`nas.stores.jsonl`). A torn last
    line left by an older version's kill is dropped (and cut off before the next append).

:class:`StudyStore` is a :class:`~nas.stores.ResultStore`: its settings are the study config,
compared on resume over :data:`~nas.studies.priors.config.SETTING_FIELDS`; its records are the runs.
A plain file store rather than the search's Optuna ledger: a study has no queue and no state
besides its finished runs, and the lines can be read by any tool.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from nas.exceptions import (
    StudyError,
    StudyExistsError,
    StudyNotFoundError,
    StudySettingsError,
)
from nas.provenance import provenance, write_json_atomic, write_text_atomic
from nas.stores import describe
from nas.stores.jsonl import FolderStore, append_lines, encode_lines, read_lines
from nas.studies.priors.config import StudyConfig
from nas.studies.priors.sampling import StudyGenome

__all__ = ["StudyStore", "RUN_FIELDS"]

#: Metrics kept from each training run (besides id, seed and error).
RUN_FIELDS = ("test_accuracy", "val_accuracy", "test_loss", "val_loss", "epochs", "best_epoch", "wall_time_s",
              "nonzero_weights", "parameters", "test_examples", "test_expected", "cohort_size")

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


class StudyStore(FolderStore):
    """The files of one study folder (see the module docstring).

    ``StudyStore(folder)`` reads a folder as it is; :meth:`create` starts a study and
    :meth:`open` (``resume=True``) continues one, checking its settings.
    """

    SETTINGS_FILE = SETTINGS_FILE

    @classmethod
    def check_new(cls, folder, replace: bool = False) -> None:
        """Raise unless ``folder`` can take a new study (missing, or an empty folder; with
        ``replace`` also a folder holding a study, which the caller removes).

        Raises
        ------
        StudyExistsError
            ``folder`` is a file, holds a study or holds other files.
        """
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise StudyExistsError(f"--out {str(folder)!r} is a file; expected a folder for the study")
        if (folder / SETTINGS_FILE).exists():
            if replace:
                return
            raise StudyExistsError(f"{str(folder)!r} already holds a study; pass --resume to continue it or choose "
                                   "another --out")
        if folder.is_dir() and any(folder.iterdir()):
            raise StudyExistsError(f"{str(folder)!r} is not empty; a study needs a new or empty folder")

    @classmethod
    def create(cls, folder, settings: StudyConfig, genomes: Sequence[StudyGenome] = (), chance: float = 0.0,
               ) -> "StudyStore":
        """Start a study in ``folder`` (created if missing; it must not hold a study or other files).

        ``chance`` is the task's chance-level accuracy (1 / classes), stored for the report.

        Raises
        ------
        StudyExistsError
            ``folder`` already holds a study or other files.
        StudyError
            ``folder`` cannot be written.
        """
        cls.check_new(folder)
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_text_atomic(folder / GENOMES_FILE, "".join(json.dumps(g.to_dict()) + "\n" for g in genomes))
            # settings last: a folder with study.json always has its genomes
            write_json_atomic(folder / SETTINGS_FILE, {"study": settings.to_dict(), "chance": float(chance),
                                                         "provenance": provenance()})
        except OSError as err:
            raise StudyError(f"cannot write the study to {str(folder)!r}: {err.strerror or err}") from None
        return cls(folder)

    @classmethod
    def load(cls, folder) -> "StudyStore":
        """The study in ``folder``.

        Raises
        ------
        StudyNotFoundError
            ``folder`` holds no study.
        """
        store = cls(folder)
        if not store.exists:
            raise StudyNotFoundError(f"--resume: {str(store.folder)!r} holds no study (no {SETTINGS_FILE}); start one "
                                     "without --resume")
        return store

    def compared(self, settings: StudyConfig) -> dict[str, Any]:
        return settings.settings()

    def mismatch(self, found) -> StudySettingsError:
        return StudySettingsError(f"--resume with different study settings ({describe(found, 'stored', 'given')}); "
                                  "repeat the original settings or start a new study in another --out", found)

    def _read_json(self, name: str):
        try:
            return json.loads((self.folder / name).read_text())
        except FileNotFoundError:
            raise StudyNotFoundError(f"{str(self.folder)!r} holds no study ({name} is missing)") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise StudyError(f"cannot read {str(self.folder / name)!r}: {err}") from None

    def settings(self) -> StudyConfig:
        """The stored settings.

        Raises
        ------
        StudyNotFoundError
            No study in the folder.
        StudyError
            Its ``study.json`` is damaged.
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
        path = self.folder / GENOMES_FILE
        if not path.exists():
            raise StudyError(f"{str(path)!r} is missing; the study folder is damaged")
        out = []
        for number, line in enumerate(read_lines(path, torn_ok=False, error=StudyError, what="the study folder"), 1):
            try:
                out.append(StudyGenome.from_dict(line))
            except Exception as err:  # noqa: BLE001
                raise StudyError(f"{GENOMES_FILE} line {number}: not a study genome ({err})") from None
        return out

    def records(self) -> list[dict]:
        """The finished runs, in the order appended (a torn last line is left out).

        Raises
        ------
        StudyError
            A line that is not a run record (names the line and what is wrong).
        """
        path = self.folder / RUNS_FILE
        if not path.exists():
            return []
        records = read_lines(path, torn_ok=True, error=StudyError, what="the study folder")
        for number, record in enumerate(records, 1):
            problem = _run_problem(record)
            if problem:
                raise StudyError(f"{str(path)!r} line {number}: {problem}; the study folder is damaged")
        return records

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Append finished runs: all of them or none.

        Raises
        ------
        StudyError
            A record that is not a run (nothing is appended), or the file cannot be written.
        """
        for i, record in enumerate(records):
            problem = _run_problem(record)
            if problem:
                raise StudyError(f"run {i} cannot be stored: {problem}")
        append_lines(self.folder / RUNS_FILE, encode_lines(list(records), StudyError), StudyError)
