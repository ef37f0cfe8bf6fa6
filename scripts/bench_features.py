"""Benchmark of :func:`search_spaces.features.graph_features` on 50-, 250- and 1,000-node graphs.

A benchmark, not a test: it prints times and asserts nothing. Goal: under 1 s for 1,000 nodes on
one CPU core. For a one-core figure run it pinned, with BLAS limited to one thread::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c 0 \\
        python scripts/bench_features.py

Each row is the median (and min/max) wall time of ``--repeats`` calls on one graph per prior,
and the median CPU time of the process (``time.process_time``), which is the figure to quote on
a shared machine where other work inflates wall time.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import networkx as nx

from search_spaces.genome import Genome
from search_spaces.features import EXACT_BETWEENNESS_MAX, graph_features

# Sparse priors at the sizes the search uses: average degree about 6-10.
CASES = {
    "barabasi_albert_original": lambda n: {"m": 3},
    "watts_strogatz": lambda n: {"k": 6, "p": 0.3},
    "erdos_renyi": lambda n: {"p": min(1.0, max(0.01, 8.0 / n))},
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 250, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--networkx", action="store_true",
                        help="also time networkx's own path and centrality functions once per graph, for reference")  # fmt: skip
    args = parser.parse_args(argv)
    print(f"python {platform.python_version()}, networkx {nx.__version__}, "
          f"exact betweenness up to {EXACT_BETWEENNESS_MAX} nodes")  # fmt: skip
    print(f"{'prior':<26}{'nodes':>6}{'edges':>7}{'median s':>10}{'min s':>8}{'max s':>8}{'cpu s':>8}")
    for n in args.sizes:
        for prior, params in CASES.items():
            dag = Genome(prior, params(n), nodes=n, seed=0).dag()
            graph_features(dag)  # warm-up (imports, caches on the DAG)
            times, cpu = [], []
            for _ in range(args.repeats):
                fresh = Genome(prior, params(n), nodes=n, seed=0).dag()  # no cached DAG state
                t0, c0 = time.perf_counter(), time.process_time()
                graph_features(fresh)
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            print(f"{prior:<26}{n:>6}{dag.num_edges:>7}{statistics.median(times):>10.3f}"
                  f"{min(times):>8.3f}{max(times):>8.3f}{statistics.median(cpu):>8.3f}")  # fmt: skip
            if args.networkx:
                print(f"{'  networkx reference':<39}{'':>10}{'':>16}{_networkx_seconds(dag):>8.3f}")


def _networkx_seconds(dag) -> float:
    """CPU seconds networkx needs for the path-based features alone (largest component)."""
    g = dag.undirected()
    lcc = g.subgraph(max(nx.connected_components(g), key=len))
    c0 = time.process_time()
    nx.eccentricity(lcc)
    nx.average_shortest_path_length(lcc)
    nx.closeness_centrality(lcc)
    nx.betweenness_centrality(lcc)
    nx.edge_betweenness_centrality(lcc)
    return time.process_time() - c0


if __name__ == "__main__":
    main()
