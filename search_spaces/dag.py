"""Layered DAGs: the bridge from an undirected random graph to a layered sparse network.

Rules (those of Stier et al. 2021, made explicit):

* **Orientation.** Nodes are relabelled ``0..n-1`` in a topological order and every edge points
  from the lower to the higher label. The default order is the nodes' own index order (the
  paper's rule); ``order="random"`` draws a random order from ``rng`` instead.
* **Layering.** ``layer(v) = 1 + max(layer(u) for u in predecessors(v))``; sources are layer 0.
  So every edge goes forward by at least one layer, and an edge that spans ``t - s >= 2`` layers
  is a *skip edge*.
* **Input and output.** Layer 0 (exactly the sources) receives the network input; the last layer
  feeds the network output.
* **Dead ends.** A sink outside the last layer is a *dead end*: it is kept (as in the paper) and
  computed, but nothing downstream reads it. :attr:`LayeredDAG.dead_ends` lists them, and the
  feature ``dead_ends`` counts them. Isolated nodes are sources in layer 0 and, unless the graph
  has one layer, dead ends.
* A graph without nodes or edges defines no sparse network and raises
  :class:`~search_spaces.exceptions.EmptyGraphError`.

Examples
--------
>>> import networkx as nx
>>> dag = LayeredDAG.from_graph(nx.Graph([(0, 1), (1, 2), (0, 2), (2, 3)]))
>>> dag.layers
((0,), (1,), (2,), (3,))
>>> dag.skip_pairs
((0, 2),)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import numpy as np
from scipy import sparse

from search_spaces.exceptions import EmptyGraphError, SearchSpaceError

__all__ = ["LayeredDAG", "InvalidGraphError"]


class InvalidGraphError(SearchSpaceError):
    """A graph (or edge list) that is malformed: an edge outside the node range, a bad order."""


@dataclass(frozen=True, eq=False)
class LayeredDAG:
    """An immutable DAG on nodes ``0..num_nodes-1`` with edges ``u -> v``, ``u < v``, and layers.

    Build it with :meth:`from_graph` or :meth:`from_edges`; fields are derived state.
    """

    num_nodes: int
    edges: tuple[tuple[int, int], ...]
    layer_of: tuple[int, ...]

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def from_edges(cls, num_nodes: int, edges) -> "LayeredDAG":
        """Build from oriented edges on ``0..num_nodes-1``; each edge is turned to point low→high.

        Raises
        ------
        EmptyGraphError
            No nodes or no edges.
        InvalidGraphError
            An edge endpoint outside ``0..num_nodes-1``.
        """
        if isinstance(num_nodes, bool) or not isinstance(num_nodes, (int, np.integer)):
            raise InvalidGraphError(f"num_nodes must be an integer, got {num_nodes!r}")
        num_nodes = int(num_nodes)
        if num_nodes < 1:
            raise EmptyGraphError(f"a layered DAG needs at least one node, got num_nodes={num_nodes}")
        oriented = set()
        try:
            pairs = [tuple(edge) for edge in edges]
        except TypeError:
            raise InvalidGraphError(f"edges must be an iterable of (u, v) pairs, got {edges!r}") from None
        for edge in pairs:
            if len(edge) != 2 or any(isinstance(x, bool) or not isinstance(x, (int, np.integer)) for x in edge):
                raise InvalidGraphError(f"edge {edge!r}: expected a pair of integer node labels")
            u, v = int(edge[0]), int(edge[1])
            if u == v:
                continue  # self-loops carry no feed-forward meaning
            if not (0 <= u < num_nodes and 0 <= v < num_nodes):
                raise InvalidGraphError(f"edge ({u}, {v}) outside nodes 0..{num_nodes - 1}")
            oriented.add((min(u, v), max(u, v)))
        if not oriented:
            raise EmptyGraphError(f"graph with {num_nodes} nodes has no edges; a sparse network needs at least one")
        ordered = tuple(sorted(oriented))
        layer = [0] * num_nodes
        for u, v in ordered:  # sorted by u, and u < v: every predecessor is final before use
            layer[v] = max(layer[v], layer[u] + 1)
        return cls(num_nodes, ordered, tuple(layer))

    @classmethod
    def from_graph(cls, graph: nx.Graph, order: str = "index", rng: np.random.Generator | None = None) -> "LayeredDAG":
        """Orient and layer an undirected graph.

        Parameters
        ----------
        graph : networkx.Graph
            Nodes must be sortable; they are relabelled by sorted order (or a random order).
        order : {"index", "random"}
            ``"index"``: orient low→high node index (the paper's rule). ``"random"``: a random
            topological order drawn from ``rng``.
        rng : numpy.random.Generator, optional
            Required for ``order="random"``.

        Raises
        ------
        EmptyGraphError
            The graph has no nodes or no edges.
        InvalidGraphError
            Unknown ``order``, missing ``rng`` or node labels that cannot be sorted.
        """
        try:
            nodes = sorted(graph.nodes)
        except TypeError:
            raise InvalidGraphError(
                "node labels must be mutually sortable (e.g. all integers); relabel the graph "
                "first (search_spaces.graph_io does this for imported graphs)"
            ) from None
        if order == "random":
            if rng is None:
                raise InvalidGraphError("order='random' needs an rng (numpy.random.Generator), got None")
            nodes = [nodes[i] for i in rng.permutation(len(nodes))]
        elif order != "index":
            raise InvalidGraphError(f"order must be 'index' or 'random', got {order!r}")
        index = {node: i for i, node in enumerate(nodes)}
        if not nodes:
            raise EmptyGraphError("graph has no nodes")
        return cls.from_edges(len(nodes), ((index[u], index[v]) for u, v in graph.edges))

    # --- structure ------------------------------------------------------------------------

    @cached_property
    def layers(self) -> tuple[tuple[int, ...], ...]:
        """Nodes of each layer, in increasing node order."""
        out: list[list[int]] = [[] for _ in range(max(self.layer_of) + 1)]
        for node, layer in enumerate(self.layer_of):
            out[layer].append(node)
        return tuple(tuple(nodes) for nodes in out)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def num_edges(self) -> int:
        return len(self.edges)

    @cached_property
    def layer_sizes(self) -> tuple[int, ...]:
        return tuple(len(nodes) for nodes in self.layers)

    @cached_property
    def position(self) -> tuple[int, ...]:
        """Index of each node within its layer."""
        pos = [0] * self.num_nodes
        for nodes in self.layers:
            for i, node in enumerate(nodes):
                pos[node] = i
        return tuple(pos)

    @cached_property
    def out_degree(self) -> tuple[int, ...]:
        deg = [0] * self.num_nodes
        for u, _ in self.edges:
            deg[u] += 1
        return tuple(deg)

    @property
    def input_layer(self) -> tuple[int, ...]:
        """Layer 0: the sources, which receive the network input."""
        return self.layers[0]

    @property
    def output_layer(self) -> tuple[int, ...]:
        """The last layer, which feeds the network output."""
        return self.layers[-1]

    @property
    def sources(self) -> tuple[int, ...]:
        return self.layers[0]

    @cached_property
    def sinks(self) -> tuple[int, ...]:
        return tuple(v for v in range(self.num_nodes) if self.out_degree[v] == 0)

    @cached_property
    def dead_ends(self) -> tuple[int, ...]:
        """Sinks outside the last layer (kept, but nothing downstream reads them)."""
        last = self.num_layers - 1
        return tuple(v for v in self.sinks if self.layer_of[v] != last)

    @cached_property
    def skip_edges(self) -> tuple[tuple[int, int], ...]:
        """Edges spanning two or more layers."""
        return tuple((u, v) for u, v in self.edges if self.layer_of[v] - self.layer_of[u] >= 2)

    @cached_property
    def layer_pairs(self) -> tuple[tuple[int, int], ...]:
        """All ``(s, t)`` with at least one edge from layer ``s`` to layer ``t``, sorted."""
        return tuple(sorted({(self.layer_of[u], self.layer_of[v]) for u, v in self.edges}))

    @property
    def skip_pairs(self) -> tuple[tuple[int, int], ...]:
        """Layer pairs ``(s, t)``, ``t >= s + 2``, joined by at least one edge."""
        return tuple((s, t) for s, t in self.layer_pairs if t - s >= 2)

    def mask(self, source_layer: int, target_layer: int) -> np.ndarray:
        """Connectivity from layer ``s`` to layer ``t`` as a 0/1 float32 array.

        Shaped ``(layer_sizes[t], layer_sizes[s])`` like a torch ``Linear`` weight: entry ``[i, j]`` is 1
        when node ``layers[s][j]`` has an edge to node ``layers[t][i]``.
        """
        s, t = source_layer, target_layer
        if not (0 <= s < self.num_layers and 0 <= t < self.num_layers):
            raise IndexError(f"layers must be in 0..{self.num_layers - 1}, got ({s}, {t})")
        u, v = self._edge_array
        layer = np.asarray(self.layer_of)
        pos = np.asarray(self.position)
        pick = (layer[u] == s) & (layer[v] == t)
        out = np.zeros((self.layer_sizes[t], self.layer_sizes[s]), dtype=np.float32)
        out[pos[v[pick]], pos[u[pick]]] = 1.0
        return out

    @cached_property
    def _edge_array(self) -> tuple[np.ndarray, np.ndarray]:
        edges = np.asarray(self.edges, dtype=np.int64).reshape(-1, 2)
        return edges[:, 0], edges[:, 1]

    def adjacency(self):
        """Symmetric 0/1 adjacency of the undirected graph as a ``scipy.sparse.csr_array``."""
        u, v = self._edge_array
        data = np.ones(2 * u.size, dtype=np.float64)
        return sparse.csr_array(
            (data, (np.concatenate([u, v]), np.concatenate([v, u]))), shape=(self.num_nodes, self.num_nodes)
        )

    # --- views ----------------------------------------------------------------------------

    def to_networkx(self) -> nx.DiGraph:
        """The oriented graph, with a ``layer`` attribute on every node."""
        g = nx.DiGraph()
        g.add_nodes_from((v, {"layer": layer}) for v, layer in enumerate(self.layer_of))
        g.add_edges_from(self.edges)
        return g

    def undirected(self) -> nx.Graph:
        """The undirected graph the DAG was oriented from (nodes relabelled)."""
        g = nx.Graph()
        g.add_nodes_from(range(self.num_nodes))
        g.add_edges_from(self.edges)
        return g

    def wl_hash(self, iterations: int = 3) -> str:
        """Weisfeiler–Lehman hash of the oriented graph, for deduplication.

        Returned as ``"wl<iterations>:nx<networkx version>:<hex>"``: the WL hash of networkx may
        change between its releases, so the version is part of the key.
        """
        with warnings.catch_warnings():
            # networkx 3.5 changed its hashes and warns on every call; the version is in our key.
            warnings.simplefilter("ignore", UserWarning)
            digest = nx.weisfeiler_lehman_graph_hash(self.to_networkx(), iterations=iterations)
        return f"wl{iterations}:nx{nx.__version__}:{digest}"

    def __repr__(self) -> str:
        return f"LayeredDAG(nodes={self.num_nodes}, edges={self.num_edges}, layer_sizes={list(self.layer_sizes)})"

    def __eq__(self, other) -> bool:
        return isinstance(other, LayeredDAG) and (self.num_nodes, self.edges) == (other.num_nodes, other.edges)

    def __hash__(self) -> int:
        return hash((self.num_nodes, self.edges))
