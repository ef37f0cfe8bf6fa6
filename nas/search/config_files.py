"""A search config from its sources, and the copy a run directory keeps.

:func:`build_config` applies, in order: the field defaults, the task's search defaults
(:data:`~nas.search.config.SEARCH_DEFAULTS`), the ``--quick`` defaults of the task
(:data:`~nas.search.config.QUICK`), a TOML file (top-level keys, or a ``[search]`` table; training
options in a ``[train]`` table), then command-line options; with ``resume``, the run directory's
``config.json`` first. :func:`write_config` writes ``config.json`` beside the results with code and
library versions; :func:`load_run_config` reads it back wherever the directory now is.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from nas.exceptions import ConfigError
from nas.ledger import absolute_storage, portable_storage
from nas.provenance import provenance, write_json_atomic
from nas.search.config import (
    QUICK,
    RENAMED_KEYS,
    SEARCH_DEFAULTS,
    SearchConfig,
    legacy_search_dict,
)
from nas.training.tasks import get_task
from nas.validation import invalid

__all__ = ["build_config", "load_toml", "load_run_config", "write_config"]


def load_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a search TOML file: top-level keys or a ``[search]`` table, plus an optional ``[train]`` table.

    Raises
    ------
    ConfigError
        Missing file or invalid TOML.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {err}") from None
    if "search" in data:
        search = dict(data.pop("search"))
        for table in ("train", "final_train"):
            if table in data:
                search.setdefault(table, data.pop(table))
        if data:
            raise ConfigError(f"config file {str(path)!r}: unexpected tables {sorted(data)} beside [search]")
        data = search
    return {RENAMED_KEYS.get(k, k): v for k, v in data.items()}


def build_config(
    *, config_file: str | os.PathLike | None = None, quick: bool = False, resume: bool = False, **options
) -> SearchConfig:
    """Defaults ← the task's search defaults (:data:`SEARCH_DEFAULTS`: screening budget, widths,
    final training) ← ``--quick`` defaults of the task ← TOML file ← options (None means "not given").

    With ``resume``, the run directory's ``config.json`` (when there is one) comes right after the
    defaults, so ``nas search --out RUN --resume`` continues with the stored settings and only the
    options given again (e.g. more ``--generations``) change.

    ``train`` tables merge key by key at each step rather than replacing each other.

    Raises
    ------
    ConfigError, UnknownNameError
        An invalid value, an unknown option, or an unknown task / strategy.
    """
    given = {k: v for k, v in options.items() if v is not None}
    from_file = load_toml(config_file) if config_file is not None else {}
    for layer in (given, from_file):  # a relative ledger path names a file under the current folder
        if "storage" in layer:
            layer["storage"] = absolute_storage(layer["storage"])
    stored = _stored_config(given.get("out", from_file.get("out", SearchConfig.out))) if resume else {}
    task = given.get("task", from_file.get("task", stored.get("task", SearchConfig.task)))
    get_task(task)  # an unknown task fails here, listing the known ones
    merged: dict[str, Any] = {}
    train: dict[str, Any] = {}
    final_train: dict[str, Any] = {}
    layers = [stored, {} if stored else SEARCH_DEFAULTS.get(task, {}), QUICK.get(task, QUICK["mnist"]) if quick else {}, from_file, given]
    for layer in layers:
        for key, value in layer.items():
            if key in ("train", "final_train"):  # tables of options merge name by name
                rule = SearchConfig.constraints[key]
                if not rule.accepts(value):
                    raise invalid("SearchConfig", key, rule.describe(), value)
                (train if key == "train" else final_train).update(dict(value))
            else:
                merged[key] = value
    merged["train"] = train
    merged["final_train"] = final_train
    merged["quick"] = bool(quick) or bool(merged.get("quick", False))
    # each training option is checked once, by TrainConfig's rules, as the config is built; rules
    # between options and the task's defaults when the search's trainer builds its TrainConfigs
    return SearchConfig.from_dict(merged)


def _stored_config(run_dir, required: bool = False) -> dict[str, Any]:
    """The ``search`` table of ``RUN_DIR/config.json`` (or {} when there is none and it is not
    ``required``), with ``out`` set to ``run_dir`` and a relative ledger path resolved against it."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        if required:
            raise ConfigError(f"{str(run_dir)!r} is not a search run directory: no config.json in it")
        return {}
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))["search"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        detail = getattr(err, "strerror", None) or err
        raise ConfigError(f"cannot read the stored config {str(path)!r}: {type(err).__name__}: {detail}") from None
    if not isinstance(stored, dict):
        raise ConfigError(f"cannot read the stored config {str(path)!r}: no 'search' table")
    out = {k: v for k, v in legacy_search_dict(stored).items() if v is not None}
    out["out"] = str(run_dir)
    if "storage" in out:
        out["storage"] = absolute_storage(out["storage"], run_dir)
    return out


def load_run_config(run_dir: str | os.PathLike) -> SearchConfig:
    """The search config of a run directory, wherever the directory now is and whatever the
    current folder: ``out`` is ``run_dir`` and a relative ledger path is resolved against it.

    Raises
    ------
    ConfigError
        No readable ``config.json`` with a ``search`` table.
    """
    stored = _stored_config(run_dir, required=True)
    return SearchConfig.from_dict(stored)


def write_config(config: SearchConfig, run_dir: str | os.PathLike) -> Path:
    """Write ``RUN_DIR/config.json``: the config plus code and library versions (atomically); a
    ledger file inside the run directory is stored relative to it (:func:`portable_storage`)."""
    search = config.to_dict()
    search["storage"] = portable_storage(config.storage, run_dir) if config.storage is not None else None
    search["ledger_name"] = config.ledger  # not the folder's name: the folder may be renamed
    return write_json_atomic(Path(run_dir) / "config.json", {"search": search, "provenance": provenance()})
