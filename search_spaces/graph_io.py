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

Many graph files at once, and genomes as JSON lines: :mod:`search_spaces.graph_files`.

Examples
--------
>>> import networkx as nx
>>> g = genome_from_graph(nx.Graph([("b", "c"), ("a", "b")]), family="ff")
>>> g.prior, g.nodes, g.edits
('explicit', 3, (('add', 0, 1), ('add', 1, 2)))
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import matplotlib
import networkx as nx
from matplotlib.figure import Figure

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
    "SUFFIXES",
    "GraphFormatError",
    "read_graph",
    "genome_from_graph",
    "import_genome",
    "write_graph",
    "relabel_sorted",
    "format_from_suffix",
    "check_format",
]

READ_FORMATS = ("graphml", "edgelist", "json")
WRITE_FORMATS = ("graphml", "edgelist", "json", "png")
SUFFIXES = {".graphml": "graphml", ".xml": "graphml", ".edgelist": "edgelist", ".edges": "edgelist",
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
    fmt = SUFFIXES.get(Path(path).suffix.lower())
    if fmt not in formats:
        raise GraphFormatError(f"cannot tell the format of {str(path)!r} from its suffix; expected one of {list(formats)}")
    return fmt


def check_format(fmt: str, formats) -> str:
    """``fmt`` if it is one of ``formats``, else GraphFormatError."""
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
    fmt = check_format(fmt, READ_FORMATS) if fmt is not None else format_from_suffix(path)
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


def genome_from_graph(graph: nx.Graph, family: str = "ff", width: int = 1, readout: str = "sinks") -> Genome:
    """A genome of the ``explicit`` prior carrying ``graph``'s edges as ``("add", u, v)`` edits,
    built with ``width`` units per vertex and the ``readout`` it was made with (``last``: the
    paper's last-layer readout; ``sinks``: every sink feeds the output).

    Raises
    ------
    EmptyGraphError
        No nodes or no edges (after dropping self-loops).
    InvalidGenomeError
        Too many nodes (more than ``MAX_NODES``), an unknown family or readout, or a width below 1.
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
    return Genome("explicit", {}, nodes=relabelled.number_of_nodes(), seed=0, family=family, edits=edits,
                  width=width, readout=readout)


def import_genome(path, fmt: str | None = None, family: str = "ff", width: int = 1, readout: str = "sinks") -> Genome:
    """:func:`read_graph` then :func:`genome_from_graph`."""
    return genome_from_graph(read_graph(path, fmt), family=family, width=width, readout=readout)


def write_graph(genome_or_dag, path, fmt: str | None = None) -> Path:
    """Write the layered DAG of a genome (or a DAG) to ``path``.

    ``graphml`` and ``json`` (node-link) keep the orientation and a ``layer`` attribute per
    node; ``edgelist`` writes ``u v`` lines of the oriented edges; ``png`` draws the DAG by
    layer (matplotlib, :func:`networkx.multipartite_layout` on ``layer``).

    Raises
    ------
    GraphFormatError
        Unknown format, a path whose suffix names another format, or a path that cannot be written.
    EmptyGraphError
        The genome's graph has no edges.
    """
    path = Path(path)
    fmt = check_format(fmt, WRITE_FORMATS) if fmt is not None else format_from_suffix(path, WRITE_FORMATS)
    try:
        implied = format_from_suffix(path, WRITE_FORMATS)
    except GraphFormatError:
        implied = None  # a suffix of no format: the given format decides
    if implied is not None and implied != fmt:
        raise GraphFormatError(f"format {fmt!r} but {str(path)!r} ends in {path.suffix!r}, the suffix of {implied!r}; "
                               "expected a path whose suffix matches the format")
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
    height = max(3.0, 0.4 * max(dag.layer_sizes))
    fig = Figure(figsize=(min(width, 40.0), min(height, 40.0)))
    ax = fig.add_subplot()
    colours = ["tab:red" if v in set(dag.dead_ends) else "tab:blue" for v in graph.nodes]
    small = dag.num_nodes <= 60
    nx.draw_networkx(graph, pos, ax=ax, node_color=colours, node_size=200 if small else 20,
                     with_labels=small, font_size=7, arrowsize=8, width=0.6)  # fmt: skip
    title = f"{dag.num_nodes} nodes, {dag.num_edges} edges, layers {list(dag.layer_sizes)}"[:110]
    ax.set_title(title + " (red: dead ends)", fontsize=8)
    ax.set_axis_off()
    fig.savefig(path, format="png", dpi=120, bbox_inches="tight")
