"""The ledger of a search: Optuna storage (:mod:`.storage`: URLs, passwords, opening), the
Optuna study of trials, claims and heartbeats (:mod:`.ledger`), what a trial holds
(:mod:`.trials`) and the ledger as a result store (:mod:`.store`, :class:`LedgerStore`). Public
names are re-exported here."""

from nas.ledger.ledger import MAX_RETRIES, Claim, Ledger, worker_id
from nas.ledger.storage import (
    PASSWORD_ENV,
    PASSWORD_FILE_ENV,
    absolute_storage,
    default_storage_url,
    open_storage,
    portable_storage,
    shown_url,
    stored_url,
)
from nas.ledger.store import LedgerStore
from nas.ledger.trials import genome_params

__all__ = ["Ledger", "LedgerStore", "Claim", "MAX_RETRIES", "genome_params", "worker_id", "open_storage",
           "default_storage_url", "shown_url", "stored_url", "absolute_storage", "portable_storage", "PASSWORD_ENV",
           "PASSWORD_FILE_ENV"]
