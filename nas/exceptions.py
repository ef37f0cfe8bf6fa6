"""Typed errors of the ``nas`` package (data, tasks, training, search, ledger)."""

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


class LedgerError(NASError):
    """The evaluation ledger (Optuna storage) cannot be used as asked."""


class StudyError(NASError):
    """A prior study's folder cannot be used as asked (exists, differs on resume, is damaged)."""


class PruningError(NASError, ValueError):
    """A pruning request that cannot be carried out (method, amount, target, network)."""
