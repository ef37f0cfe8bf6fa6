"""How stacks should be grouped: timed training steps of the plans, and the cost model.

Draws N feed-forward genomes from mixed priors (as ``bench_training.py`` does), builds their MNIST
models and times one training step (forward, backward, Adam) with synthetic inputs for four ways
of stacking them (``--task reber``: N sparse GRUs from the paper's Reber priors, symbol
sequences of ``--steps`` time steps; the recurrent cost model's terms are per time step):

* ``one stack``: every candidate padded and carried to the deepest (``grouping="none"``);
* ``per depth``: one stack per distinct depth;
* ``planned``: :func:`nas.training.stacking.plan_stacks` (``grouping="cost"``, the default);
* ``one by one``: every candidate alone.

Each row shows the measured milliseconds per step and the model's estimate
(:func:`nas.training.stacking.step_cost`). With ``--fit`` it also times ``--fit-samples`` random
contiguous stacks and fits the three constants of :data:`nas.training.stacking.STEP_COST` for this device
by non-negative least squares, to check (or replace) the ones in the code.

Usage::

    python scripts/bench_grouping.py --threads 1
    python scripts/bench_grouping.py --device cuda --n 256 --fit
    python scripts/bench_grouping.py --task reber --n 32 --fit --threads 1
"""

from __future__ import annotations

import argparse
import sys
import time
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from bench_training import benchmark_genomes, reber_genomes  # the same candidates as the throughput benchmark
from nas.training.device import device_name, resolve_device, set_threads, synchronize
from nas.training.stacking import STEP_COST, StackedFeedForward, StackedRecurrent, plan_stacks, step_cost, step_terms
from nas.training.tasks import get_task
from nas.training import build_seeded


def time_step(models, x, y, device, repeats: int) -> float:
    """Seconds per training step (forward, backward, Adam) of ``models`` as one stack, after one warm-up step."""
    recurrent = hasattr(models[0], "cell")
    stack = (StackedRecurrent if recurrent else StackedFeedForward)(models, device)
    optimizer = torch.optim.Adam(stack.parameters(), lr=1e-3)
    targets = y.repeat(len(models))
    for r in range(repeats + 1):
        if r == 1:
            synchronize(device)
            start = time.perf_counter()
        out = stack.forward(x, None)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return (time.perf_counter() - start) / repeats


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=("mnist", "reber"), default="mnist")
    parser.add_argument("--steps", type=int, default=32, help="time steps of the synthetic sequences (--task reber)")
    parser.add_argument("--n", type=int, default=32, help="candidates")
    parser.add_argument("--nodes", type=int, nargs=2, default=(20, 100), metavar=("LOW", "HIGH"))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per stack")
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fit", action="store_true", help="fit STEP_COST's constants for this device")
    parser.add_argument("--fit-samples", type=int, default=40)
    args = parser.parse_args(argv)
    for name in ("n", "steps", "batch_size", "repeats", "fit_samples"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    set_threads(args.threads)  # entry point: the only place the thread count is set
    device = resolve_device(args.device)
    rng = np.random.default_rng(args.seed)  # the candidates, then the --fit samples
    reber = args.task == "reber"
    gen = torch.Generator().manual_seed(args.seed)
    if reber:
        genomes = reber_genomes(args.n, rng)
        vocab = ["<pad>"] + [f"s{i}" for i in range(12)]
        shape = SimpleNamespace(input_shape=(args.steps,), num_classes=2, info={"vocab": vocab},
                                train=SimpleNamespace(x=torch.zeros(1, dtype=torch.int64)))
        x = torch.randint(1, len(vocab), (args.batch_size, args.steps), generator=gen).to(device)
        y = torch.randint(0, 2, (args.batch_size,), generator=gen).to(device)
    else:
        genomes = benchmark_genomes(args.n, args.nodes, rng)
        shape = SimpleNamespace(input_shape=(1, 28, 28), num_classes=10, train=SimpleNamespace(x=torch.zeros(1)), info={})
        x = torch.randn(args.batch_size, 784, generator=gen).to(device)
        y = torch.randint(0, 10, (args.batch_size,), generator=gen).to(device)
    task = get_task(args.task)
    models = [build_seeded(g, task, shape, 0) for g in genomes]
    models.sort(key=lambda m: (len(m.layer_sizes), sum(m.layer_sizes)))
    per_step = args.steps if reber else 1  # the recurrent model's terms are per time step
    depths = [len(m.layer_sizes) for m in models]
    print(f"device: {device_name(device)}; torch threads: {torch.get_num_threads()}; {args.n} candidates, "
          f"depths {min(depths)}-{max(depths)} ({len(set(depths))} distinct), batch {args.batch_size}")

    by_depth: dict[int, list[int]] = {}
    for i, d in enumerate(depths):
        by_depth.setdefault(d, []).append(i)
    plans = {
        "one stack": [list(range(len(models)))],
        "per depth": list(by_depth.values()),
        "planned": plan_stacks(models, args.batch_size, device),
        "one by one": [[i] for i in range(len(models))],
    }
    time_step(models[:2], x, y, device, 1)  # warm-up
    for name, groups in plans.items():
        seconds = sum(time_step([models[i] for i in g], x, y, device, args.repeats) for g in groups)
        estimate = per_step * sum(step_cost([models[i] for i in g], args.batch_size, device) for g in groups)
        print(f"{name:>10}: {len(groups):>3} stack(s)  {seconds * 1e3:9.1f} ms/step measured  "
              f"{estimate * 1e3:9.1f} ms/step estimated")

    if args.fit:
        from scipy.optimize import nnls

        rows, seconds = [], []
        for _ in range(args.fit_samples):
            first = int(rng.integers(0, len(models)))
            last = int(rng.integers(first + 1, min(len(models), first + 12) + 1))
            group = models[first:last]
            rows.append(step_terms(group, args.batch_size))
            seconds.append(time_step(group, x, y, device, args.repeats) / per_step)
        coef, _ = nnls(np.array(rows), np.array(seconds))
        predicted = np.array(rows) @ coef
        error = np.median(np.abs(predicted - seconds) / np.array(seconds))
        family = "rnn" if reber else "ff"
        print(f"fitted STEP_COST[{family!r}][{device.type!r}] = {{'mac': {coef[0]:.3g}, 'element': {coef[1]:.3g}, "
              f"'layer': {coef[2]:.3g}}}  (median relative error {error:.1%}; in the code: "
              f"{STEP_COST[family].get(device.type, STEP_COST[family]['cpu'])})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
