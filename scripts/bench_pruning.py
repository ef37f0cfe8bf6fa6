"""Pruning many networks at once vs one after another: the same candidates, the same steps.

``--n`` copies of a trained network (seeds 0..n-1, methods alternating mcb / random) are pruned
for ``--steps`` steps with ``--retrain`` epochs each, once as one cohort
(:func:`nas.studies.pruning.prune_models` on all of them) and once one candidate per call; prints both
wall times, the largest accuracy difference between the two and, last, ``ratio: X.XX``
(one-at-a-time time / population time).

Usage::

    python scripts/bench_pruning.py --arch 784-100-10 --n 10 --steps 2 --retrain 1 --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time


def main(argv=None) -> int:
    import torch

    from nas.training.device import set_threads
    from nas.studies.pruning import Candidate, DenseMLP, parse_arch, prune_models
    from nas.training.stacking import train_models
    from nas.training.tasks import get_task
    from search_spaces.exceptions import SparseNASError

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="784-100-10")
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--retrain", type=int, default=1)
    parser.add_argument("--train-subset", type=int, default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=None, help="Also write the figures to this JSON file.")
    args = parser.parse_args(argv)
    if min(args.n, args.steps, args.retrain) < 1:
        parser.error(f"--n, --steps and --retrain must be >= 1; got {args.n}, {args.steps}, {args.retrain}")
    set_threads(args.threads)
    try:
        widths = parse_arch(args.arch)
        task = get_task("mnist")
        data = task.load(data_dir=args.data_dir)
    except SparseNASError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    config = task.default_config(epochs=1, optimizer="sgd", lr=0.01, momentum=0.0, batch_size=64, schedule="none",
                                 train_subset=args.train_subset)
    nets = [DenseMLP(widths, generator=torch.Generator().manual_seed(s)) for s in range(args.n)]
    train_models(nets, task, config, data)
    retrain = config.replace(epochs=args.retrain)
    make = lambda: [Candidate("mcb" if s % 2 == 0 else "random", s, copy.deepcopy(nets[s])) for s in range(args.n)]  # noqa: E731
    steps = [0.25] * args.steps
    together, alone = make(), make()
    t0 = time.perf_counter()
    joint = prune_models(together, task, data, steps=steps, retrain=retrain)
    population_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = [prune_models([c], task, data, steps=steps, retrain=retrain)[0] for c in alone]
    solo_s = time.perf_counter() - t0
    gap = max(abs(a["test_accuracy"] - b["test_accuracy"]) for ra, rb in zip(joint, single) for a, b in zip(ra, rb))
    figures = {"arch": args.arch, "n": args.n, "steps": args.steps, "retrain": args.retrain,
               "train_examples": len(data.train) if args.train_subset is None else args.train_subset,
               "population_s": population_s, "one_at_a_time_s": solo_s, "max_accuracy_gap": gap,
               "threads": torch.get_num_threads(), "ratio": solo_s / population_s}
    print(f"population:    {population_s:8.1f} s for {args.n} candidates x {args.steps} steps")
    print(f"one at a time: {solo_s:8.1f} s")
    print(f"largest test-accuracy difference between the two: {gap:.4f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2)
    print(f"ratio: {figures['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
