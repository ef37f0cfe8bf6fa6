"""A genome's layered DAG as a picture: the search report's ``best_graph.png``."""

from __future__ import annotations

import networkx as nx
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from search_spaces.genome import Genome

__all__ = ["draw_genome"]


def draw_genome(genome: Genome, path) -> None:
    """Draw ``genome``'s layered DAG to ``path`` (PNG): one column per layer, edges left to right,
    colour by layer, and the vertices the output reads ringed (every sink with the ``sinks``
    readout, the last layer with ``last``); a legend says so."""
    dag = genome.dag()
    graph = dag.to_networkx()
    pos = {}
    for layer, nodes in enumerate(dag.layers):
        for j, node in enumerate(nodes):
            pos[node] = (layer, j - (len(nodes) - 1) / 2)
    read = set(dag.sinks) if genome.readout == "sinks" else set(dag.layers[-1])
    fig = Figure(figsize=(max(4.5, 1.1 * len(dag.layers)), max(3, 0.45 * max(dag.layer_sizes))))
    ax = fig.subplots()
    nx.draw_networkx_edges(graph, pos, ax=ax, alpha=0.35, arrowsize=6, width=0.7)
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=90, node_color=[pos[v][0] for v in graph.nodes],
                           cmap="viridis", edgecolors=["black" if v in read else "none" for v in graph.nodes])
    ringed = "a sink: the output reads it" if genome.readout == "sinks" else "last layer: the output reads it"
    ax.legend(handles=[
        Line2D([], [], marker="o", linestyle="", markerfacecolor="lightgray", markeredgecolor="black", label=ringed),
        Line2D([], [], marker="o", linestyle="", markerfacecolor="lightgray", markeredgecolor="none",
               label=f"vertex ({genome.width} unit{'s' if genome.width != 1 else ''}; colour: its layer)"),
    ], fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.12), ncol=2, frameon=False)
    ax.set_title(f"{genome.prior}, {dag.num_nodes} vertices, {dag.num_edges} edges, {len(dag.layers)} layers, "
                 f"readout {genome.readout}", fontsize=9)
    ax.set_xlabel("DAG layer")
    ax.set_xticks(range(len(dag.layers)))
    ax.tick_params(bottom=True, labelbottom=True, left=False, labelleft=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
