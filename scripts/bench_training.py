"""Training throughput: the same N sparse networks one after another vs. as one cohort.

``--task mnist`` (default): N feed-forward genomes drawn from mixed priors on MNIST. ``--task
reber``: N sparse RNNs (``--cell``, default GRU) from the paper's Reber priors — Barabási–Albert
with m = n // 10 from m isolated nodes and connected Watts–Strogatz with k = n // 5, p = 1, n
uniform in [10, 50], alternating — on the Reber grammar; it also reports the share of computed
time steps that are padding with whole padded sequences, with batches cut to their longest
sequence, and with length buckets (the default). ``--task cifar10``: N random-wired CNNs (mixed
priors, ``--nodes``, default 8-24 vertices per stage) on CIFAR-10 (the shared data's training
batches; the truncated test batch is accepted and used as it is).

Both are trained with a fixed budget (no early stopping), first one at a time with
:func:`nas.training.loop.train_genome`, then together with
:func:`nas.training.stacking.train_cohort`, in the same process on the same device, and the
script prints candidates per minute for both and their ratio. For MNIST it also measures the time
a single sparse MLP needs to reach a target test accuracy (training time only; the per-epoch test
evaluation that checks the target is not counted).

Usage::

    python scripts/bench_training.py --quick            # seconds on a 2-core CPU
    python scripts/bench_training.py --n 64 --epochs 10 # the full benchmark
    python scripts/bench_training.py --device cuda --n 1024 --epochs 10
    python scripts/bench_training.py --task reber --quick
    python scripts/bench_training.py --task reber --n 64 --epochs 1 --train-subset 4000 --threads 1
    python scripts/bench_training.py --task reber --n 64 --epochs 1 --train-subset 4000 --threads 1 --compare-schedules
    python scripts/bench_training.py --task cifar10 --n 8 --epochs 1 --train-subset 2000 --threads 2

``--compare-schedules`` (Reber) adds the population trained with the level-by-level schedule (the
code before the wavefront, :func:`nas.training.stacking.rnn.recurrent_schedule`), the population
with the wavefront's batched-torch steps instead of the compiled ones (the code before
:mod:`nas.training.stacking.compiled`) and the networks one at a time as stacks of one (how a
single sparse RNN trains now), with their ratios.

The last line is always ``ratio: <population throughput / one-at-a-time throughput>`` (one at a
time: each network's own module, :func:`~nas.training.loop.train_genome`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nas.datasets import load_dataset
from nas.provenance import library_versions, write_json_atomic
from nas.training import Callback, TrainConfig, evaluate, train_genome
from nas.training.device import device_name, resolve_device, set_threads, synchronize
from nas.training.stacking import train_cohort
from nas.training.stacking.schedule import recurrent_schedule, wavefront_kernel
from nas.training.tasks import get_task
from search_spaces.genome import Genome
from search_spaces.operators import random_genome

PRIORS = ("erdos_renyi", "watts_strogatz", "barabasi_albert", "holme_kim", "layered_random", "random_dag")
# The single-MLP reference of docs/training.md: two DAG layers of 256 units, 30 % of the edges between them.
TARGET_GENOME = Genome("layered_random", {"layers": 2, "p": 0.3, "skip": 0.0}, nodes=512, seed=0, family="ff")


def benchmark_genomes(n: int, nodes, rng: np.random.Generator) -> list[Genome]:
    """The benchmark's N feed-forward genomes: uniform over PRIORS, node counts in ``nodes``, drawn from ``rng``."""
    return [random_genome(rng, priors=PRIORS, nodes=tuple(nodes), family="ff") for _ in range(n)]


def cnn_genomes(n: int, nodes, rng: np.random.Generator) -> list[Genome]:
    """N random-wired CNN genomes: uniform over PRIORS, vertex counts in ``nodes``, drawn from ``rng``."""
    return [random_genome(rng, priors=PRIORS, nodes=tuple(nodes), family="cnn") for _ in range(n)]


def reber_genomes(n: int, rng: np.random.Generator, cell: str = "gru") -> list[Genome]:
    """The paper's Reber priors, alternating BA (m = n // 10, m isolated start nodes) and connected
    WS (k = n // 5, p = 1), n uniform in [10, 50], graph seeds from ``rng``."""
    genomes = []
    for i in range(n):
        nodes = int(rng.integers(10, 51))
        seed = int(rng.integers(0, 2**31 - 1))
        if i % 2 == 0:
            genomes.append(Genome("barabasi_albert_original", {"m": max(1, nodes // 10)}, nodes=nodes, seed=seed,
                                  family=f"rnn:{cell}"))
        else:
            genomes.append(Genome("watts_strogatz", {"k": max(2, nodes // 5), "p": 1.0}, nodes=nodes, seed=seed,
                                  family=f"rnn:{cell}"))
    return genomes


def padding_report(data, config: TrainConfig, figures: dict) -> None:
    """Print and record the padded share of computed time steps in one training epoch, three ways."""
    from nas.training.batches import epoch_batches, make_generator, padded_step_fraction

    split = data.train
    whole = 1.0 - float(split.lengths.sum()) / (len(split) * split.x.shape[1])
    shares = {"whole_sequences": whole}
    for key, buckets in (("cut_to_longest", 1), ("length_buckets", config.bucket_batches)):
        batches = epoch_batches(split, config.replace(bucket_batches=buckets), make_generator(config.seed, "cpu"), "cpu", True)
        shares[key] = padded_step_fraction(split, batches)
    figures["padded_step_fraction"] = shares
    print("padded share of computed time steps: " + ", ".join(f"{k.replace('_', ' ')} {v:.1%}" for k, v in shares.items()))


def _timed(label: str, key: str, figures: dict, device: torch.device, train) -> list[float]:
    """Run ``train()`` (a list of results) between device syncs; record and print its throughput."""
    synchronize(device)
    start = time.perf_counter()
    results = train()
    synchronize(device)
    seconds = time.perf_counter() - start
    accuracy = [r.test_accuracy for r in results]
    figures[f"{key}_s"] = seconds
    figures[f"{key}_per_min"] = len(results) / seconds * 60
    print(f"{label}: {seconds:.2f} s, {len(results) / seconds * 60:.1f} candidates/min, "
          f"mean test accuracy {np.mean(accuracy):.4f}")
    return accuracy


class _StopAtTarget(Callback):
    """Evaluates the test split after every epoch and stops once it reaches the target."""

    def __init__(self, task, config, device, target):
        self.task, self.config, self.device, self.target = task, config, device, target
        self.reached = None
        self.test = None

    def on_train_start(self, context):
        self.test = context["data"].test

    def on_epoch_end(self, epoch, record, model):
        _, accuracy = evaluate(model, self.test, self.task, self.config, self.device)
        record["test_accuracy"] = accuracy
        if accuracy >= self.target and self.reached is None:
            self.reached = (epoch, record["elapsed_s"], accuracy)
            return True
        return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=("mnist", "reber", "cifar10"), default="mnist")
    parser.add_argument("--cell", choices=("tanh", "relu", "gru", "lstm"), default="gru", help="recurrent cell (--task reber)")
    parser.add_argument("--n", type=int, default=64, help="candidates")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--nodes", type=int, nargs=2, default=None, metavar=("LOW", "HIGH"),
                        help="node range (default 20-100; cifar10: 8-24)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--train-subset", type=int)
    parser.add_argument("--val-subset", type=int, help="validation examples (default: all; a short run is then "
                                                         "mostly evaluation)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--target", type=float, default=0.98, help="test accuracy for the time-to-target run")
    parser.add_argument("--target-epochs", type=int, default=10, help="epoch cap (and cosine length) of the time-to-target run")
    parser.add_argument("--target-lr", type=float, default=2e-3, help="Adam learning rate of the time-to-target run")
    parser.add_argument("--skip-solo", action="store_true", help="population only (ratio not computed)")
    parser.add_argument("--compare-schedules", action="store_true",
                        help="--task reber: also time the population with the level-by-level schedule (the code "
                             "before the wavefront) and one at a time as stacks of one (how single RNNs train now)")
    parser.add_argument("--compare-grouping", action="store_true",
                        help="also time the population as one padded stack per memory chunk (grouping='none')")
    parser.add_argument("--target-only", action="store_true", help="only the time-to-target run (no ratio)")
    parser.add_argument("--quick", action="store_true", help="8 candidates, 2,000 training images, 1 epoch, 1 thread")
    parser.add_argument("--json", dest="json_path", help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.json_path and not Path(args.json_path).resolve().parent.is_dir():
        # checked before the run: the figures of a long benchmark must not be lost at the end
        parser.error(f"--json {args.json_path}: its folder does not exist")
    reber, cifar = args.task == "reber", args.task == "cifar10"
    args.nodes = tuple(args.nodes or ((8, 24) if cifar else (20, 100)))
    if args.quick:
        args.n, args.epochs, args.train_subset, args.target_epochs = 8, 1, args.train_subset or (1000 if reber else 2000), 1
    if reber or cifar:
        args.target_only = False  # the time-to-target run is MNIST's
    if args.quick and not args.threads:
        # Tiny models gain nothing from intra-op threads, and on a busy 2-core machine two threads
        # stall each other in every parallel region (observed: 8x slower one-at-a-time runs).
        args.threads = 1
    set_threads(args.threads)  # entry point: the only place the thread count is set

    device = resolve_device(args.device)
    task = args.task
    data = load_dataset(task, data_dir=args.data_dir, allow_partial=cifar)
    if args.quick or (reber and args.train_subset):
        # Reber's evaluation splits (1,876 + 6,250 strings) would outweigh a small training subset.
        data = data.subset(args.train_subset, 1000, 1000)
    elif args.train_subset or args.val_subset:
        data = data.subset(args.train_subset, args.val_subset, None)
    rng = np.random.default_rng(args.seed)
    if reber:
        genomes = reber_genomes(args.n, rng, args.cell)
    else:
        genomes = (cnn_genomes if cifar else benchmark_genomes)(args.n, args.nodes, rng)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, device=str(device), seed=args.seed,
                         grad_clip=5.0 if reber else None)
    if cifar:
        config = get_task("cifar10").default_config(epochs=args.epochs, batch_size=args.batch_size, device=str(device),
                                                    seed=args.seed)
    what = (f"sparse {args.cell.upper()}s (paper priors, n 10-50)" if reber else
            f"random-wired CNNs (nodes {args.nodes[0]}-{args.nodes[1]})" if cifar else
            f"sparse MLPs (nodes {args.nodes[0]}-{args.nodes[1]})")
    print(f"device: {device_name(device)}; torch threads: {torch.get_num_threads()}; task {task}: {args.n} {what}, "
          f"{args.epochs} epoch(s), {len(data.train)} training examples")

    # Warm-up: first use of an optimizer imports torch._dynamo, first CUDA kernels compile.
    train_genome(genomes[0], task, config.replace(epochs=1, max_steps=2), data=data)
    train_cohort(genomes[:2], task, config.replace(epochs=1, max_steps=2), data=data)

    figures: dict = {"device": device_name(device), "threads": torch.get_num_threads(), "task": task, "n": args.n,
                     "epochs": args.epochs, "train_examples": len(data.train),
                     "nodes": [10, 50] if reber else list(args.nodes), "versions": library_versions()}
    if cifar:
        figures["test_examples"] = len(data.test)
    if reber:
        figures["cell"] = args.cell
        padding_report(data, config, figures)
    solo_accuracy = None
    if args.target_only:
        args.skip_solo = True
    if not args.skip_solo:
        solo_accuracy = _timed("one at a time", "one_at_a_time", figures, device,
                               lambda: [train_genome(g, task, config, data=data) for g in genomes])
    if not args.target_only:
        # CNNs: always as one stack here (the default trains each alone on a CPU, where stacks lose)
        pop_accuracy = _timed("population", "population", figures, device,
                              lambda: train_cohort(genomes, task, config, data=data,
                                                       grouping="none" if cifar else "cost"))
        if args.compare_schedules and reber:
            with recurrent_schedule("levels"):
                _timed("population, level-by-level schedule", "population_levels", figures, device,
                       lambda: train_cohort(genomes, task, config, data=data))
            with wavefront_kernel("torch"):
                _timed("population, wavefront with batched-torch steps", "population_torch_steps", figures, device,
                       lambda: train_cohort(genomes, task, config, data=data))
            figures["kernel_gain"] = figures["population_per_min"] / figures["population_torch_steps_per_min"]
            print(f"compiled / batched-torch wavefront steps, population throughput: {figures['kernel_gain']:.2f}")
            _timed("one at a time, stacks of one", "one_at_a_time_stacked", figures, device,
                   lambda: [train_cohort([g], task, config, data=data)[0] for g in genomes])
            figures["schedule_gain"] = figures["population_per_min"] / figures["population_levels_per_min"]
            print(f"wavefront / level-by-level population throughput: {figures['schedule_gain']:.2f}")
            if "one_at_a_time_per_min" in figures:
                figures["stack_of_one_gain"] = figures["one_at_a_time_stacked_per_min"] / figures["one_at_a_time_per_min"]
                print(f"stacks of one / fused modules, one at a time: {figures['stack_of_one_gain']:.2f}")
            ratio = figures["population_per_min"] / figures["one_at_a_time_stacked_per_min"]
            figures["ratio_vs_stacks_of_one"] = ratio
            print(f"ratio against stacks of one: {ratio:.2f}")
        if args.compare_grouping:
            _timed("population, one padded stack", "population_one_stack", figures, device,
                   lambda: train_cohort(genomes, task, config, data=data, grouping="none"))
            gain = figures["population_per_min"] / figures["population_one_stack_per_min"]
            figures["grouping_gain"] = gain
            print(f"grouping gain (cost-planned stacks / one padded stack): {gain:.2f}")
    if solo_accuracy is not None:
        gap = float(np.max(np.abs(np.array(solo_accuracy) - np.array(pop_accuracy))))
        figures["max_accuracy_gap"] = gap
        print(f"largest |solo - population| test accuracy difference: {gap:.2e}")

    if not reber and not cifar:
        _time_to_target(args, data, device, figures)
    if args.json_path:
        write_json_atomic(args.json_path, figures)
    if "one_at_a_time_s" in figures:
        ratio = figures["population_per_min"] / figures["one_at_a_time_per_min"]
        print(f"ratio: {ratio:.2f}")
    else:
        print("ratio: n/a (no one-at-a-time run)")
    return 0


def _time_to_target(args, data, device, figures: dict) -> None:
    """Time a single sparse MLP to ``args.target`` MNIST test accuracy (training time only)."""
    # Cosine over the epoch cap: the time-to-target run stops as soon as the target is reached.
    tconfig = TrainConfig(epochs=args.target_epochs, batch_size=args.batch_size, lr=args.target_lr, schedule="cosine",
                          device=str(device), seed=args.seed)
    stopper = _StopAtTarget(get_task("mnist"), tconfig, device, args.target)
    result = train_genome(TARGET_GENOME, "mnist", tconfig, data=data, callbacks=[stopper])
    if stopper.reached is not None:
        epoch, seconds, accuracy = stopper.reached
        figures["time_to_target_s"] = seconds
        print(f"time to {args.target:.0%} test accuracy (single sparse MLP, {result.nonzero_weights} weights): "
              f"{seconds:.2f} s training, epoch {epoch}, accuracy {accuracy:.4f}")
    else:
        best = max(h.get("test_accuracy", 0.0) for h in result.history)
        figures["time_to_target_s"] = None
        print(f"time to {args.target:.0%} test accuracy: not reached in {result.epochs} epoch(s) "
              f"({result.wall_time_s:.2f} s, best {best:.4f})")


if __name__ == "__main__":
    sys.exit(main())
