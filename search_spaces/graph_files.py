"""Many graph files at once, and genomes kept as JSON lines.

Many graphs at once (:func:`import_genomes`): files and directories are read in-process, every
graph gets an id, and :func:`write_genomes_jsonl` / :func:`read_genomes_jsonl` keep them as JSON
lines ``{"id": ..., "genome": {...}, "source": ...}``, written all-or-nothing.

Each graph follows the import rule of :func:`search_spaces.graph_io.genome_from_graph`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Sequence

from search_spaces.atomic import write_text_atomic
from search_spaces.exceptions import SearchSpaceError
from search_spaces.genome import Genome
from search_spaces.graph_io import (
    READ_FORMATS,
    SUFFIXES,
    GraphFormatError,
    check_format,
    format_from_suffix,
    import_genome,
)

__all__ = [
    "GenomeRecord",
    "collect_graph_files",
    "genomes_from_files",
    "import_genomes",
    "write_genomes_jsonl",
    "genome_record_line",
    "read_genomes_jsonl",
    "write_output",
]


#: A genome with its id and the file it came from, as :func:`import_genomes` returns it.
GenomeRecord = tuple[str, Genome, str]


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _walk_graph_files(folder: Path, fmt: str | None) -> tuple[list[tuple[str, Path]], list[Path]]:
    found, skipped = [], []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _is_hidden(d))  # sorted: a stable order of ids
        for name in sorted(names):
            if _is_hidden(name):
                continue
            path = Path(root) / name
            suffix_fmt = SUFFIXES.get(path.suffix.lower())
            if suffix_fmt in READ_FORMATS and (fmt is None or suffix_fmt == fmt):
                found.append((path.relative_to(folder).with_suffix("").as_posix(), path))
            else:
                skipped.append(path)
    return found, skipped


def collect_graph_files(paths: Sequence, fmt: str | None = None) -> tuple[list[tuple[str, Path]], list[Path]]:
    r"""The graph files named by ``paths`` (files or directories), each with its id.

    A file given by name is read whatever its suffix when ``fmt`` is given, else its suffix must
    name a format; its id is its stem. A directory is walked recursively in sorted order; a file
    found there is taken when its suffix names a readable format (that of ``fmt``, when given) and
    skipped otherwise; its id is its path relative to the directory, without the suffix (``sub/g``).
    Hidden files and directories (names starting with ``.``) are ignored and not counted.

    Parameters
    ----------
    paths : str, Path or a sequence of them
        Graph files and directories holding them.
    fmt : {"graphml", "edgelist", "json"}, optional
        Format of every file; default: each file's suffix.

    Returns
    -------
    files : list of (str, Path)
        ``(id, path)`` of every graph file, in the order of ``paths``.
    skipped : list of Path
        Files found in directories whose suffix names no (or another) graph format.

    Raises
    ------
    GraphFormatError
        No paths, a path that does not exist, a named file of unknown format, a directory with no
        graph file, or two files with the same id (both are named).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.edgelist").write_text("0 1\n")
    >>> _ = (folder / "notes.md").write_text("hi\n")
    >>> files, skipped = collect_graph_files([folder])
    >>> [i for i, _ in files], [p.name for p in skipped]
    (['a'], ['notes.md'])
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]  # one path, not a sequence of its characters
    if fmt is not None:
        check_format(fmt, READ_FORMATS)
    if not paths:
        raise GraphFormatError("expected at least one graph file or directory, got none")
    files, skipped = [], []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found, passed = _walk_graph_files(path, fmt)
            if not found:
                suffixes = [s for s, f in SUFFIXES.items() if f in READ_FORMATS and fmt in (None, f)]
                what = "is empty" if not passed else f"holds no graph file ({len(passed)} other files, e.g. {passed[0].name!r})"
                raise GraphFormatError(f"directory {str(path)!r} {what}; expected files ending in {', '.join(suffixes)}")
            files += found
            skipped += passed
        elif path.is_file():
            if fmt is None:
                format_from_suffix(path)  # an unknown suffix fails now, before any file is parsed
            files.append((path.stem, path))
        else:
            raise GraphFormatError(f"graph file or directory {str(path)!r} does not exist")
    first: dict[str, Path] = {}
    for graph_id, path in files:
        if graph_id in first:
            raise GraphFormatError(
                f"duplicate id {graph_id!r}: {str(first[graph_id])!r} and {str(path)!r}; expected one file per id (rename one)"
            )
        first[graph_id] = path
    return files, skipped


def _naming(err: Exception, where: str) -> Exception:
    # Keep the error's type (EmptyGraphError, InvalidGenomeError, ...) and add which file it is.
    message = str(err)
    if where not in message:
        err.args = (f"{where}: {message}",) + err.args[1:]
    return err


def genomes_from_files(files: Iterable[tuple[str, Path]], fmt: str | None = None, family: str = "ff",
                       width: int = 1, readout: str = "sinks") -> list[GenomeRecord]:
    """Import every ``(id, path)`` of :func:`collect_graph_files`, in-process.

    Returns
    -------
    list of (str, Genome, str)
        ``(id, genome, source)`` in input order; ``source`` is the path as given.

    Raises
    ------
    SearchSpaceError
        The first file that fails (:class:`GraphFormatError`, :class:`EmptyGraphError`, ...),
        with its path in the message. Nothing is returned then.
    """
    records = []
    for graph_id, path in files:
        try:
            genome = import_genome(path, fmt, family=family, width=width, readout=readout)
        except SearchSpaceError as err:
            raise _naming(err, str(path)) from None
        records.append((graph_id, genome, str(path)))
    return records


def import_genomes(paths: Sequence, fmt: str | None = None, family: str = "ff", width: int = 1,
                   readout: str = "sinks") -> list[GenomeRecord]:
    r"""Turn many graph files (and directories of them) into genomes, all or nothing.

    :func:`collect_graph_files` then :func:`genomes_from_files`; each graph follows the import rule
    of :func:`genome_from_graph`.

    Parameters
    ----------
    paths : str, Path or a sequence of them
        Graph files and directories (walked recursively; other files skipped).
    fmt : {"graphml", "edgelist", "json"}, optional
        Format of every file; default: each file's suffix.
    family : str
        Family of every genome (``ff``, ``rnn:gru``, ``cnn``, ...).
    width : int
        Units per vertex of every genome (1: the paper's networks).
    readout : {"sinks", "last"}
        Which vertices feed the output: every sink, or the last layer only (the paper's).

    Returns
    -------
    list of (str, Genome, str)
        ``(id, genome, source)``: the id is a named file's stem or a directory file's relative
        path without suffix; ``source`` is the file's path.

    Raises
    ------
    GraphFormatError
        See :func:`collect_graph_files`; or a file that does not parse (named).
    EmptyGraphError
        A graph without edges (named).
    InvalidGenomeError
        A graph with more than ``MAX_NODES`` nodes (named), an unknown family or readout, or a
        width below 1.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "path.edgelist").write_text("a b\nb c\n")
    >>> [(i, g.edits) for i, g, _ in import_genomes([folder])]
    [('path', (('add', 0, 1), ('add', 1, 2)))]
    """
    files, _ = collect_graph_files(paths, fmt)
    return genomes_from_files(files, fmt, family=family, width=width, readout=readout)


def genome_record_line(graph_id: str, genome: Genome, source: str) -> str:
    """One JSON line of :func:`write_genomes_jsonl`: ``{"id", "genome", "source"}``, id first."""
    # Built by hand so that "id" comes first and the genome stays its canonical (sorted) JSON.
    return f'{{"id": {json.dumps(graph_id)}, "genome": {genome.to_json()}, "source": {json.dumps(source)}}}'


def write_output(path, text: str, force: bool = False) -> Path:
    """Write ``text`` to ``path`` atomically; refuse an existing file unless ``force``.

    The text goes to a temporary file in the same folder that is renamed onto ``path`` at the
    end, so ``path`` is never half-written and a failure leaves nothing behind.

    Raises
    ------
    GraphFormatError
        ``path`` exists (and not ``force``), is a directory, or cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise GraphFormatError(f"output {str(path)!r} is a directory; expected a file path")
    if path.exists() and not force:
        raise GraphFormatError(f"output file {str(path)!r} exists; expected a new path (or pass --overwrite to replace it)")
    if path.parent.exists() and not path.parent.is_dir():
        raise GraphFormatError(f"cannot write {str(path)!r}: {str(path.parent)!r} is a file, not a folder")
    try:
        write_text_atomic(path, text)
    except OSError as err:
        raise GraphFormatError(f"cannot write {str(path)!r}: {err.strerror or err}") from None
    return path


def write_genomes_jsonl(records: Iterable[GenomeRecord], path, force: bool = False) -> Path:
    """Write ``(id, genome, source)`` records as JSON lines, atomically.

    One line per record: ``{"id": ..., "genome": {...canonical genome...}, "source": ...}``, the
    format :func:`read_genomes_jsonl` and ``predictors.read_genomes`` read.

    Raises
    ------
    GraphFormatError
        Duplicate ids, ``path`` exists (and not ``force``) or cannot be written.
    """
    records = list(records)
    seen: dict[str, str] = {}
    for graph_id, _, source in records:
        if graph_id in seen:
            raise GraphFormatError(f"duplicate id {graph_id!r}: {seen[graph_id]!r} and {source!r}; expected unique ids")
        seen[graph_id] = source
    return write_output(path, "".join(genome_record_line(*r) + "\n" for r in records), force=force)


def read_genomes_jsonl(path) -> list[GenomeRecord]:
    """Read what :func:`write_genomes_jsonl` writes.

    Every non-blank line is an object with ``id`` (a string or integer, read as a string) and
    ``genome`` (a genome object); ``source`` is optional (``""`` when absent).

    Raises
    ------
    GraphFormatError
        Missing or unreadable file, no records, a line that is not such an object, an invalid
        genome (with its line number) or a duplicate id (with both line numbers).
    """
    path = Path(path)
    if not path.is_file():
        raise GraphFormatError(f"genome file {str(path)!r} does not exist or is not a file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise GraphFormatError(f"cannot read genome file {str(path)!r}: {err}") from None
    records, line_of = [], {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            raise GraphFormatError(f"{where}: expected a JSON object, got invalid JSON ({err})") from None
        if not isinstance(data, dict) or "id" not in data or "genome" not in data:
            got = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise GraphFormatError(f"{where}: expected an object with 'id' and 'genome', got {got}")
        graph_id = data["id"]
        if isinstance(graph_id, bool) or not isinstance(graph_id, (str, int)) or graph_id == "":
            raise GraphFormatError(f"{where}: expected a non-empty string id, got {graph_id!r}")
        graph_id = str(graph_id)
        if graph_id in line_of:
            raise GraphFormatError(f"{path}: duplicate id {graph_id!r} on lines {line_of[graph_id]} and {number}; expected unique ids")
        line_of[graph_id] = number
        try:
            genome = Genome.from_dict(data["genome"])
        except SearchSpaceError as err:
            raise GraphFormatError(f"{where}: invalid genome: {err}") from None
        records.append((graph_id, genome, str(data.get("source", ""))))
    if not records:
        raise GraphFormatError(f"{path}: expected at least one genome record, got none")
    return records
