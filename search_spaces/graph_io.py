"""Reading and writing graphs: a user's own graph in, a genome's graph out.

Reading never executes code: GraphML goes through networkx's XML reader, edge lists are parsed as
text, JSON is networkx node-link data read with :mod:`json`. Nothing is unpickled.

Import rule (:func:`genome_from_graph`): direction, parallel edges and self-loops are dropped
(a genome's graph is undirected and simple); nodes are relabelled ``0..n-1`` in sorted order —
numerically when every label is an integer (or a string of one), else in natural order (``n2``
before ``n10``) — so that the low→high orientation of :class:`~search_spaces.dag.LayeredDAG`
follows that order. One exception keeps a user's DAG intact: a *directed acyclic* input is
relabelled in its lexicographically smallest topological order (by the same sort key), which is
the sorted order whenever that is already topological, so every edge keeps its direction.
The result is a genome of the ``explicit`` prior whose edges are ``("add", u, v)`` edits.

Many graphs at once (:func:`import_genomes`): files and directories are read in-process, every
graph gets an id, and :func:`write_genomes_jsonl` / :func:`read_genomes_jsonl` keep them as JSON
lines ``{"id": ..., "genome": {...}, "source": ...}``, written all-or-nothing.

Examples
--------
>>> import networkx as nx
>>> g = genome_from_graph(nx.Graph([("b", "c"), ("a", "b")]), family="ff")
>>> g.prior, g.nodes, g.edits
('explicit', 3, (('add', 0, 1), ('add', 1, 2)))
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Iterable, Sequence

import matplotlib
import networkx as nx
from matplotlib.figure import Figure

from search_spaces.atomic import write_text_atomic
from search_spaces.dag import LayeredDAG
from search_spaces.exceptions import (
    EmptyGraphError,
    InvalidGenomeError,
    SearchSpaceError,
)
from search_spaces.genome import MAX_NODES, Genome

__all__ = [
    "READ_FORMATS",
    "WRITE_FORMATS",
    "GraphFormatError",
    "GenomeRecord",
    "read_graph",
    "genome_from_graph",
    "import_genome",
    "collect_graph_files",
    "genomes_from_files",
    "import_genomes",
    "write_genomes_jsonl",
    "genome_record_line",
    "read_genomes_jsonl",
    "write_output",
    "write_graph",
    "relabel_sorted",
    "format_from_suffix",
]

READ_FORMATS = ("graphml", "edgelist", "json")
WRITE_FORMATS = ("graphml", "edgelist", "json", "png")
_SUFFIXES = {".graphml": "graphml", ".xml": "graphml", ".edgelist": "edgelist", ".edges": "edgelist",
             ".txt": "edgelist", ".json": "json", ".png": "png"}  # fmt: skip


class GraphFormatError(SearchSpaceError):
    """A graph file that cannot be read or written in the requested format."""


def format_from_suffix(path, formats=READ_FORMATS) -> str:
    """The format implied by a file name's suffix.

    Raises
    ------
    GraphFormatError
        The suffix names none of ``formats``.
    """
    fmt = _SUFFIXES.get(Path(path).suffix.lower())
    if fmt not in formats:
        raise GraphFormatError(f"cannot tell the format of {str(path)!r} from its suffix; expected one of {list(formats)}")
    return fmt


def _check_format(fmt: str, formats) -> str:
    if fmt not in formats:
        raise GraphFormatError(f"unknown graph format {fmt!r}; expected one of {list(formats)}")
    return fmt


def read_graph(path, fmt: str | None = None) -> nx.Graph:
    """Read a graph file as networkx would, without executing anything.

    Parameters
    ----------
    path : str or Path
    fmt : {"graphml", "edgelist", "json"}, optional
        Default: from the suffix.

    Returns
    -------
    networkx.Graph or networkx.DiGraph
        As stored (directed when the file says so); labels as read (strings for edge lists).

    Raises
    ------
    GraphFormatError
        Missing file, unknown format or content that does not parse (with the reader's reason).
    """
    path = Path(path)
    fmt = _check_format(fmt, READ_FORMATS) if fmt is not None else format_from_suffix(path)
    if not path.is_file():
        raise GraphFormatError(f"graph file {str(path)!r} does not exist or is not a file")
    try:
        if fmt == "graphml":
            return nx.read_graphml(path)
        if fmt == "edgelist":
            # Only the first two columns are endpoints; further columns (weights) are ignored.
            graph = nx.Graph()
            for number, line in enumerate(path.read_text().splitlines(), 1):
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                parts = line.split()
                if len(parts) < 2:
                    raise GraphFormatError(f"{path}: line {number}: expected 'u v', got {line!r}")
                graph.add_edge(parts[0], parts[1])
            return graph
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or "nodes" not in data:
            raise GraphFormatError(f"{path}: expected networkx node-link JSON (an object with 'nodes'), got {type(data).__name__}")
        edges = "links" if "links" in data and "edges" not in data else "edges"
        return nx.node_link_graph(data, edges=edges)
    except GraphFormatError:
        raise
    except (ElementTree.ParseError, nx.NetworkXError, json.JSONDecodeError, KeyError, TypeError, ValueError,
            AttributeError, IndexError, UnicodeDecodeError, OSError) as err:  # fmt: skip
        raise GraphFormatError(f"cannot read {str(path)!r} as {fmt}: {type(err).__name__}: {err}") from None


def _natural_key(label):
    text = str(label)
    try:
        return (0, int(text), "")
    except ValueError:
        pass
    return (1, 0, [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text) if t])


def relabel_sorted(graph: nx.Graph) -> tuple[nx.Graph, dict]:
    """Relabel nodes ``0..n-1`` (see the module rule); returns the new graph and the old→new map."""
    order = sorted(graph.nodes, key=_natural_key)
    if graph.is_directed() and nx.is_directed_acyclic_graph(graph):
        order = list(nx.lexicographical_topological_sort(graph, key=_natural_key))
    mapping = {node: i for i, node in enumerate(order)}
    out = nx.Graph()
    out.add_nodes_from(range(len(order)))
    out.add_edges_from((mapping[u], mapping[v]) for u, v in graph.edges() if u != v)
    return out, mapping


def genome_from_graph(graph: nx.Graph, family: str = "ff") -> Genome:
    """A genome of the ``explicit`` prior carrying ``graph``'s edges as ``("add", u, v)`` edits.

    Raises
    ------
    EmptyGraphError
        No nodes or no edges (after dropping self-loops).
    InvalidGenomeError
        Too many nodes (more than ``MAX_NODES``) or an unknown family.
    """
    if graph.number_of_nodes() == 0:
        raise EmptyGraphError("the graph has no nodes; a sparse network needs at least two")
    if graph.number_of_nodes() > MAX_NODES:
        raise InvalidGenomeError("nodes", graph.number_of_nodes(), f"at most {MAX_NODES}")
    relabelled, _ = relabel_sorted(graph)
    if relabelled.number_of_edges() == 0:
        raise EmptyGraphError(
            f"the graph has {graph.number_of_nodes()} nodes but no edges (self-loops are dropped); "
            "a sparse network needs at least one"
        )
    edits = tuple(("add", u, v) for u, v in sorted((min(a, b), max(a, b)) for a, b in relabelled.edges))
    return Genome("explicit", {}, nodes=relabelled.number_of_nodes(), seed=0, family=family, edits=edits)


def import_genome(path, fmt: str | None = None, family: str = "ff") -> Genome:
    """:func:`read_graph` then :func:`genome_from_graph`."""
    return genome_from_graph(read_graph(path, fmt), family=family)


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
            suffix_fmt = _SUFFIXES.get(path.suffix.lower())
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
        _check_format(fmt, READ_FORMATS)
    if not paths:
        raise GraphFormatError("expected at least one graph file or directory, got none")
    files, skipped = [], []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found, passed = _walk_graph_files(path, fmt)
            if not found:
                suffixes = [s for s, f in _SUFFIXES.items() if f in READ_FORMATS and fmt in (None, f)]
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


def genomes_from_files(files: Iterable[tuple[str, Path]], fmt: str | None = None, family: str = "ff") -> list[GenomeRecord]:
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
            genome = import_genome(path, fmt, family=family)
        except SearchSpaceError as err:
            raise _naming(err, str(path)) from None
        records.append((graph_id, genome, str(path)))
    return records


def import_genomes(paths: Sequence, fmt: str | None = None, family: str = "ff") -> list[GenomeRecord]:
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
        A graph with more than ``MAX_NODES`` nodes (named), or an unknown family.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "path.edgelist").write_text("a b\nb c\n")
    >>> [(i, g.edits) for i, g, _ in import_genomes([folder])]
    [('path', (('add', 0, 1), ('add', 1, 2)))]
    """
    files, _ = collect_graph_files(paths, fmt)
    return genomes_from_files(files, fmt, family=family)


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
        raise GraphFormatError(f"output file {str(path)!r} exists; expected a new path (or pass --force to overwrite)")
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


def write_graph(genome_or_dag, path, fmt: str | None = None) -> Path:
    """Write the layered DAG of a genome (or a DAG) to ``path``.

    ``graphml`` and ``json`` (node-link) keep the orientation and a ``layer`` attribute per
    node; ``edgelist`` writes ``u v`` lines of the oriented edges; ``png`` draws the DAG by
    layer (matplotlib, :func:`networkx.multipartite_layout` on ``layer``).

    Raises
    ------
    GraphFormatError
        Unknown format or a path that cannot be written.
    EmptyGraphError
        The genome's graph has no edges.
    """
    path = Path(path)
    fmt = _check_format(fmt, WRITE_FORMATS) if fmt is not None else format_from_suffix(path, WRITE_FORMATS)
    dag = genome_or_dag if isinstance(genome_or_dag, LayeredDAG) else genome_or_dag.dag()
    graph = dag.to_networkx()
    try:
        if fmt == "graphml":
            nx.write_graphml(graph, path)
        elif fmt == "edgelist":
            nx.write_edgelist(graph, path, data=False)
        elif fmt == "json":
            path.write_text(json.dumps(nx.node_link_data(graph, edges="edges"), sort_keys=True))
        else:
            _draw_png(dag, graph, path)
    except OSError as err:
        raise GraphFormatError(f"cannot write {str(path)!r}: {err}") from None
    return path


def _draw_png(dag: LayeredDAG, graph: nx.DiGraph, path: Path) -> None:
    matplotlib.use("Agg", force=False)  # files only; never needs a display

    pos = nx.multipartite_layout(graph, subset_key="layer")
    width = max(4.0, 1.2 * dag.num_layers)
    height = max(3.0, 0.4 * max(dag.layer_widths))
    fig = Figure(figsize=(min(width, 40.0), min(height, 40.0)))
    ax = fig.add_subplot()
    colours = ["tab:red" if v in set(dag.dead_ends) else "tab:blue" for v in graph.nodes]
    small = dag.num_nodes <= 60
    nx.draw_networkx(graph, pos, ax=ax, node_color=colours, node_size=200 if small else 20,
                     with_labels=small, font_size=7, arrowsize=8, width=0.6)  # fmt: skip
    title = f"{dag.num_nodes} nodes, {dag.num_edges} edges, layers {list(dag.layer_widths)}"[:110]
    ax.set_title(title + " (red: dead ends)", fontsize=8)
    ax.set_axis_off()
    fig.savefig(path, dpi=120, bbox_inches="tight")
