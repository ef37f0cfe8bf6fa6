"""Command-line option parsing shared by several ``nas`` commands."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Sequence

import click

from nas.exceptions import ConfigError
from nas.training.tasks import list_tasks

__all__ = [
    "parse_key_values", "check_output", "check_output_folder", "warn_if_large", "LARGE_GRAPH", "old_spelling", "renamed",
    "AliasedOption", "CommaChoice", "RegistryChoice", "WholeHelpGroup", "overwrite_option", "progress_option",
    "threads_option", "device_option", "data_dir_option", "train_option", "task_option", "choice_option",
    "train_overrides", "seed_option", "SEED_RANGE", "refuse_resume_and_overwrite",
]

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
    _check_writable(path, path.parent if str(path.parent) else Path("."), option)
    return path


def _check_writable(path: Path, folder: Path, option: str) -> None:
    """The nearest existing one of ``folder`` and its parents is a folder this process can write."""
    existing = next((p for p in [folder, *folder.parents] if p.exists()), Path("."))
    if not existing.is_dir():
        raise ConfigError(f"{option} {str(path)!r}: {str(existing)!r} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {str(path)!r}: the folder {str(existing)!r} is not writable")


def check_output_folder(path, option: str = "--out") -> Path:
    """``path`` as a Path if a command may create files in it, checked before any work starts: an
    existing folder, or a new one whose nearest existing parent is a writable folder.

    Raises
    ------
    ConfigError
        ``path`` is a file, a file stands where a folder should be, or the folder is not writable.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {str(path)!r} is a file; expected a folder")
    _check_writable(path, path, option)
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


# --- One vocabulary --------------------------------------------------------------------------
# Every command spells a shared notion with the option below, so --overwrite, --threads, --device,
# --data-dir, --progress/--no-progress, --train KEY=VALUE and --task mean the same thing (and take
# the same values) everywhere; tests/test_cli_vocabulary.py walks every command and checks it.


class WholeHelpGroup(click.Group):
    """A group whose ``--help`` lists each sub-command with its whole first sentence (wrapped),
    where click would cut it at the line's end."""

    def format_commands(self, ctx, formatter):
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class AliasedOption(click.Option):
    """An option some of whose spellings are old ones: still accepted, not shown in ``--help``."""

    def __init__(self, *args, old: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.old_spellings = tuple(old)

    def get_help_record(self, ctx):
        shown, self.opts = self.opts, [o for o in self.opts if o not in self.old_spellings]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = shown


def _names(names: Callable[[], Sequence[str]] | Sequence[str]) -> tuple[str, ...]:
    """A registry's names now (``names`` is the registry's lister, or the names themselves)."""
    return tuple(names() if callable(names) else names)


class RegistryChoice(click.Choice):
    """A click Choice over a registry's names, read when the option is used (so a strategy or
    task registered after the command was built is accepted and listed)."""

    def __init__(self, names: Callable[[], Sequence[str]] | Sequence[str]):
        self._names = names
        super().__init__([])

    @property
    def choices(self) -> tuple[str, ...]:
        return _names(self._names)

    @choices.setter
    def choices(self, value) -> None:  # click's __init__ assigns it; the registry is the source
        pass


class CommaChoice(click.ParamType):
    """Comma-separated names, each from a closed set (``mcb,mcu``); the value stays the string
    given, so the code behind the option parses it as before. ``--help`` lists the set, read
    from the registry when the option is used."""

    name = "comma_choice"

    def __init__(self, choices: Callable[[], Sequence[str]] | Sequence[str], *, suffixes: tuple[str, ...] = ()):
        self._names = choices
        self.suffixes = tuple(suffixes)

    @property
    def choices(self) -> tuple[str, ...]:
        return _names(self._names)

    def get_metavar(self, param, ctx=None):
        return "[" + "|".join(self.choices) + "],..."

    def convert(self, value, param, ctx):
        names = [part.strip() for part in str(value).split(",")]
        if not all(names):
            self.fail(f"expected comma-separated names from {', '.join(self.choices)}; got {value!r}", param, ctx)
        for name in names:
            base = next((name[: -len(s)] for s in self.suffixes if name.endswith(s)), name)
            if base not in self.choices:
                self.fail(f"{name!r} is not one of {', '.join(self.choices)}", param, ctx)
        return value


def choice_option(*decls, choices, help: str, comma: bool = False, suffixes: tuple[str, ...] = (), **attrs):
    """An option over a closed set (a registry's names, or a callable returning them): a click
    Choice, or :class:`CommaChoice` for a comma-separated list."""
    kind = CommaChoice(choices, suffixes=suffixes) if comma else RegistryChoice(choices)
    return click.option(*decls, type=kind, help=help, **attrs)


def task_option(help: str = "Task.", name: str = "task", **attrs):
    """``--task``, one of the registered tasks (``nas.training.tasks.list_tasks``)."""
    return choice_option("--task", name, choices=list_tasks, help=help, **attrs)


def overwrite_option(help: str = "Replace --out if it exists."):
    """``--overwrite``: the one flag that lets a command replace what it wrote before
    (``--force``, its old spelling on some commands, is still accepted)."""
    return click.option("--overwrite", "--force", "overwrite", is_flag=True, cls=AliasedOption, old=("--force",),
                        help=help)


def progress_option(default: bool | None = None, help: str = "Progress bar on stderr."):
    """``--progress/--no-progress``; ``None`` as the default means: when stderr is a terminal."""
    return click.option("--progress/--no-progress", "progress", default=default, help=help,
                        show_default=default is not None)


#: Seeds numpy and torch both accept.
SEED_RANGE = click.IntRange(0, 2**32 - 1)


def seed_option(help: str, **attrs):
    """``--seed S``: the seed of this run (an integer in [0, 2**32 - 1], what numpy and torch accept).
    ``--seeds N`` is always a count."""
    return click.option("--seed", type=SEED_RANGE, metavar="S", help=help, **attrs)


def threads_option(help: str = "CPU threads for torch in this process (default: torch's choice)."):
    """``--threads N`` (N >= 1): torch's intra-op threads in this process."""
    return click.option("--threads", type=click.IntRange(min=1), metavar="N", help=help)


def device_option(help: str = "Torch device, e.g. cpu, cuda, cuda:1 (default: cuda if available, else cpu)."):
    """``--device``: a torch device string, checked where the command resolves it."""
    return click.option("--device", metavar="DEVICE", help=help)


def data_dir_option(help: str = "Dataset folder (else NAS_DATA_DIR, else the cache)."):
    """``--data-dir DIRECTORY``."""
    return click.option("--data-dir", type=click.Path(file_okay=False), metavar="DIRECTORY",
                        help=help)


def refuse_resume_and_overwrite(resume: bool, overwrite: bool, what: str) -> None:
    """``--resume`` continues ``what`` and ``--overwrite`` replaces it: one of them, not both.

    Raises
    ------
    ConfigError
        Both were given.
    """
    if resume and overwrite:
        raise ConfigError(f"--resume continues {what} and --overwrite replaces it; expected one of them")


def train_option(help: str = "Any TrainConfig option, e.g. --train lr=0.02; repeatable.", name: str = "train_pairs"):
    """``--train KEY=VALUE`` (repeatable): training overrides, parsed with :func:`parse_key_values`."""
    return click.option("--train", name, multiple=True, metavar="KEY=VALUE", help=help)


def train_overrides(pairs, flags: dict[str, object] | None = None, what: str = "the training") -> dict:
    """The training overrides of ``--train KEY=VALUE`` merged with the explicit flags that set the
    same fields (``flags`` maps a TrainConfig field to ``(flag, value)``; ``None`` values are
    not given).

    Raises
    ------
    ConfigError
        A malformed pair, or a flag and a ``--train`` pair that set one field to two values.
    """
    options = parse_key_values(pairs, "--train", "KEY=VALUE (a TrainConfig field)")
    for field, (flag, value) in (flags or {}).items():
        if value is None:
            continue
        if field in options and options[field] != value:
            raise ConfigError(f"{flag} {value} and --train {field}={options[field]} both set {what}'s {field}; "
                              "expected one of them")
        options[field] = value
    return options
