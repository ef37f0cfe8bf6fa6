"""MNIST test accuracy of default-sampled sparse MLPs: every built-in prior, ``--nodes`` vertices.

Each genome is what ``nas arch sample --prior P --nodes N --seed S`` prints (its default width
and readout, or the ones given here); all of one seed are trained together for ``--epochs``
epochs at the task's budget otherwise (``nas train --genomes``, which equals training each
alone). Prints one JSON line per network and a summary per prior.

Usage::

    python scripts/measure_sampled.py --nodes 100 --epochs 2 --seeds 0 1 2 --data-dir ../shared/data
    python scripts/measure_sampled.py --width 1 --readout last ...   # the paper's construction
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def main(argv=None) -> int:
    from nas.cli.arch import SAMPLE_WIDTH
    from nas.training.device import set_threads
    from nas.training import get_task
    from nas.training.stacking import train_cohort
    from search_spaces.exceptions import SparseNASError
    from search_spaces.genome import Genome
    from search_spaces.operators import default_priors
    from search_spaces.priors import get_prior

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--width", type=int, default=SAMPLE_WIDTH)
    parser.add_argument("--readout", choices=["sinks", "last"], default="sinks")
    parser.add_argument("--task", default="mnist")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.nodes < 2 or args.epochs < 1 or args.width < 1 or min(args.seeds) < 0:
        parser.error(f"--nodes must be >= 2, --epochs and --width >= 1, --seeds >= 0; got {args.nodes}, "
                     f"{args.epochs}, {args.width}, {args.seeds}")
    set_threads(args.threads)
    try:
        task = get_task(args.task)
        data = task.load(data_dir=args.data_dir)
    except SparseNASError as err:  # unknown task, missing or corrupt data: one line, before any training
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    results: dict[str, list[float]] = {}
    for seed in args.seeds:
        genomes = []
        for name in default_priors():
            prior = get_prior(name)
            params = prior.sample_params(args.nodes, np.random.default_rng(seed))  # as `nas arch sample` draws them
            genomes.append(Genome(name, params, nodes=args.nodes, seed=seed, width=args.width, readout=args.readout))
        start = time.perf_counter()
        config = task.default_config(epochs=args.epochs, seed=0, device="cpu")
        for genome, result in zip(genomes, train_cohort(genomes, task, config, data=data)):
            results.setdefault(genome.prior, []).append(result.test_accuracy)
            print(json.dumps({"prior": genome.prior, "seed": seed, "width": genome.width, "readout": genome.readout,
                              "layers": genome.dag().num_layers, "nonzero_weights": result.nonzero_weights,
                              "test_accuracy": round(result.test_accuracy, 4)}), flush=True)
        print(f"# seed {seed}: {len(genomes)} networks in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    print("\n| prior | test accuracy (mean ± std) | min | n |\n|---|---|---|---|")
    for name, accs in results.items():
        std = np.std(accs, ddof=1) if len(accs) > 1 else float("nan")
        print(f"| {name} | {np.mean(accs):.4f} ± {std:.4f} | {min(accs):.4f} | {len(accs)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
