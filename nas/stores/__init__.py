"""Result stores: one contract (:mod:`.base`) for the ledger of a search, a prior study's folder and
a pruning run's steps; :mod:`.jsonl` holds the JSON-lines files the two file stores share.

The backends live beside the code whose results they keep (:class:`nas.ledger.store.LedgerStore`,
:class:`nas.studies.priors.store.StudyStore`, :class:`nas.studies.pruning.store.PruneStore`), so
this package depends on no command.
"""

from nas.stores.base import ResultStore, describe, differences

__all__ = ["ResultStore", "differences", "describe"]
