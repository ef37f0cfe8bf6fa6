"""Typed errors of the ``nas`` package (data, tasks, training, search, result stores)."""

from __future__ import annotations

from search_spaces.exceptions import InvalidValueError, SparseNASError

__all__ = [
    "SparseNASError",
    "NASError",
    "DataError",
    "DatasetNotFoundError",
    "ChecksumError",
    "CorruptFileError",
    "TruncatedFileError",
    "UnknownNameError",
    "ConfigError",
    "OptionError",
    "DeviceError",
    "TrainingError",
    "LedgerError",
    "StudyError",
    "PruningError",
    "StoreError",
    "StoreExistsError",
    "StoreNotFoundError",
    "SettingsMismatchError",
    "LedgerExistsError",
    "LedgerNotFoundError",
    "LedgerSettingsError",
    "StudyExistsError",
    "StudyNotFoundError",
    "StudySettingsError",
]


class NASError(SparseNASError):
    """Base of errors raised by the ``nas`` package."""


class DataError(NASError):
    """A dataset file that cannot be used."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """Dataset files are missing and could not be downloaded."""


class ChecksumError(DataError):
    """A file whose checksum differs from the known one."""


class CorruptFileError(DataError):
    """A file whose content does not have the expected layout (e.g. a wrong magic number)."""


class TruncatedFileError(CorruptFileError):
    """A file holding fewer records than its format promises."""


class UnknownNameError(NASError, KeyError):
    """An unknown dataset, task, strategy or model name; the message lists the valid ones."""

    def __init__(self, kind: str, name: str, known):
        self.kind = kind
        self.name = name
        self.known = sorted(known)
        super().__init__(f"unknown {kind} {name!r}; expected one of: {', '.join(self.known)}")

    def __str__(self) -> str:
        return self.args[0]


class ConfigError(NASError, ValueError):
    """A configuration value outside what is allowed."""


class OptionError(ConfigError, InvalidValueError):
    """A config field that breaks its rule: ``OWNER.FIELD = VALUE; expected WHAT`` (see :mod:`nas.validation`).

    Attributes ``owner``, ``field``, ``value`` and ``expected`` hold the parts of the message.
    """

    default_owner = "config"


class DeviceError(NASError, ValueError):
    """A torch device that does not exist or cannot be used."""


class TrainingError(NASError, RuntimeError):
    """Training could not run or diverged (e.g. NaN loss)."""


class StoreError(NASError):
    """A result store (:mod:`nas.stores`: the ledger, a study folder, a pruning run's steps) cannot be used as asked."""


class StoreExistsError(StoreError):
    """A new store was asked for where one exists (continue it with ``resume``, or choose another place)."""


class StoreNotFoundError(StoreError):
    """A store to continue (``resume``) does not exist."""


class SettingsMismatchError(StoreError):
    """A store continued with settings that differ from its stored ones.

    Attributes
    ----------
    differences : dict
        Each differing setting, mapped to ``(stored value, asked value)``.
    """

    def __init__(self, message: str, differences: dict):
        super().__init__(message)
        self.differences = dict(differences)


class LedgerError(StoreError):
    """The evaluation ledger (Optuna storage) cannot be used as asked."""


class LedgerExistsError(LedgerError, StoreExistsError):
    """A new search asked for a study that exists in the storage."""


class LedgerNotFoundError(LedgerError, StoreNotFoundError):
    """A ledger file or study to continue does not exist."""


class LedgerSettingsError(LedgerError, SettingsMismatchError):
    """A search resumed with a config whose trajectory differs from the study's."""


class StudyError(StoreError):
    """A prior study's folder cannot be used as asked (exists, differs on resume, is damaged)."""


class StudyExistsError(StudyError, StoreExistsError):
    """A new study asked for in a folder that holds one (or other files)."""


class StudyNotFoundError(StudyError, StoreNotFoundError):
    """A study to continue or read is not in its folder."""


class StudySettingsError(StudyError, SettingsMismatchError):
    """A study resumed with settings that differ from its stored ones."""


class PruningError(NASError, ValueError):
    """A pruning request that cannot be carried out (method, amount, target, network)."""
