"""Command-line option parsing shared by several ``nas`` commands."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from nas.exceptions import ConfigError

__all__ = ["parse_key_values", "check_output", "warn_if_large", "LARGE_GRAPH", "old_spelling", "renamed"]

#: Graphs above this many nodes get a warning: features (betweenness, O(N·E)) and per-layer masks
#: then take minutes and gigabytes (measured: a 5000-node genome took 4.3 GB).
LARGE_GRAPH = 1000


def parse_key_values(pairs, option: str, what: str = "NAME=VALUE") -> dict:
    """``("a=1", "b=x")`` -> ``{"a": 1, "b": "x"}``: values are JSON where they parse, else strings.

    Raises
    ------
    ConfigError
        An item without ``=`` or without a name; the message names ``option``.
    """
    out = {}
    for item in pairs:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{option} expects {what}, got {item!r}")
        try:
            out[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[name.strip()] = raw
    return out


def check_output(path, overwrite: bool, option: str = "--out", flag: str = "--overwrite"):
    """``path`` as a Path if a command may write it there, checked before any work starts.
    Missing folders on the way are fine (the writer creates them) if the nearest existing one is
    a writable folder.

    Raises
    ------
    ConfigError
        ``path`` is a folder; a file stands where a folder should be; the nearest existing folder
        is not writable; or the file exists and ``overwrite`` is False.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{option} {str(path)!r} is a folder; expected a file path")
    if path.exists() and not overwrite:
        raise ConfigError(f"{option} {str(path)!r} exists; expected a new file (or pass {flag} to replace it)")
    folder = path.parent if str(path.parent) else Path(".")
    existing = next((p for p in [folder, *folder.parents] if p.exists()), Path("."))
    if not existing.is_dir():
        raise ConfigError(f"{option} {str(path)!r}: {str(existing)!r} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {str(path)!r}: the folder {str(existing)!r} is not writable")
    return path


def old_spelling(flag: str, name: str, **attrs):
    """A hidden option for a flag that was renamed (kept for one release): it reaches the command
    as ``name``, to be merged with the new one by :func:`renamed`."""
    return click.option(flag, name, hidden=True, **attrs)


def renamed(value, old_value, new_flag: str, old_flag: str):
    """The value of ``new_flag``, or of its old spelling ``old_flag`` (a hidden alias, silent so that
    an error stays one line).

    Raises
    ------
    ConfigError
        Both spellings were given.
    """
    if old_value is None:
        return value
    if value is not None:
        raise ConfigError(f"{old_flag} is the old spelling of {new_flag}; expected one of them, got both")
    return old_value


def warn_if_large(genomes) -> None:
    """One line on stderr when a genome is large enough to take minutes and gigabytes."""
    big = max((g.nodes for g in genomes), default=0)
    if big > LARGE_GRAPH:
        click.echo(f"warning: a graph of {big} nodes (above {LARGE_GRAPH}): its features and masks can take minutes "
                   "and several GB of memory", err=True)
