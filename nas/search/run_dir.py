"""A search's run directory and ledger: open them for a new, resumed or replaced run.

A folder that holds a run (its ``config.json``) is continued only with ``resume`` and replaced
only with ``overwrite``, so a copied or renamed run directory never gets a second ledger beside
its own and never has its files overwritten by a new search.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from nas.exceptions import ConfigError, LedgerExistsError
from nas.ledger import Ledger, LedgerStore, shown_url
from nas.search.config import SearchConfig
from nas.search.strategies import Objectives

__all__ = ["open_run", "open_search_ledger"]


def open_search_ledger(config: SearchConfig, *, resume: bool) -> Ledger:
    """Open the study for ``config`` and check it against what the study holds.

    Raises
    ------
    LedgerError
        The study exists and ``resume`` is False; or it was made with a different config (the
        differing fields are named); or ``resume`` is asked for a study that does not exist.
    """
    objectives = Objectives(config.metric, config.second_objective)
    store = LedgerStore.open((config.storage_url, config.ledger), config.to_dict(), resume=resume,
                             directions=objectives.directions,
                             compared=lambda stored: SearchConfig.from_stored(stored).trajectory())
    store.ledger.set_attr("objectives", list(objectives.names))
    return store.ledger


def open_run(config: SearchConfig, resume: bool, overwrite: bool = False) -> tuple[Path, Ledger]:
    """The run directory (made if needed) and the search's ledger; a refused start leaves nothing behind.

    A folder that already holds a run (its ``config.json``) is continued only with ``resume`` and
    replaced only with ``overwrite``: a copied or renamed run directory would otherwise get a
    second ledger beside its own, and its files would be overwritten by the new search.
    """
    run_dir = Path(config.out)
    held = (run_dir / "config.json").is_file()
    if held and overwrite and resume:
        raise ConfigError("--resume continues the run in --out and --overwrite replaces it; expected one of them")
    if held and not resume:
        if not overwrite:
            raise LedgerExistsError(f"--out {str(run_dir)!r} already holds a search run (config.json); pass --resume to "
                                    "continue it, --overwrite to replace it, or choose another --out")
        if config.storage is not None:
            raise ConfigError(f"--overwrite replaces a run whose ledger is in its run directory; this run's ledger is "
                              f"{shown_url(config.storage)!r}: choose another --ledger or --out instead")
        shutil.rmtree(run_dir)
    created = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create the run directory {str(run_dir)!r}: {err.strerror}") from None
    try:
        ledger = open_search_ledger(config, resume=resume)
    except BaseException:
        if created and not any(run_dir.iterdir()):
            run_dir.rmdir()  # a refused start leaves nothing behind
        raise
    return run_dir, ledger
