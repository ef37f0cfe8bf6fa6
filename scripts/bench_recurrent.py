"""One sparse RNN, one epoch on the full Reber training set, against its compute floor.

The network is a paper prior's graph (connected Watts–Strogatz, k = n // 5, p = 1, or
Barabási–Albert with m = n // 10 from m isolated nodes) of ``--nodes`` vertices, width 1, readout
``last``, task ``reber_paper``, batch 128, Adam 1e-3, clip 5 — the ``stier2021-reber`` budget's
epoch. It is trained three ways in one process, each from the same initial weights and batch
order:

* ``module``: its own module, :func:`nas.training.loop.train_genome` (torch's fused recurrent
  kernels, one call per DAG level and per skip pair) — how a single RNN trained before the
  wavefront;
* ``levels``: a stack of one with the level-by-level schedule;
* ``torch_steps``: a stack of one with the wavefront's batched-torch steps (before the compiled
  steps of :mod:`nas.training.stacking.compiled`);
* ``wavefront``: a stack of one with the wavefront's compiled steps (how a single RNN trains now).

**The compute floor.** The epoch's arithmetic is counted from the network's masks with the
search's FLOPs counter (:func:`nas.training.flops.model_flops`: every nonzero input, recurrent and
bias weight once per true time step — padding not counted — and the classifier once per string)
as forward multiply-adds; training costs three forward passes (the backward pass two), two FLOPs
per multiply-add. The floor is those FLOPs divided by the rate this core reaches on a large
single-precision matrix product (``--matmul-size``, default 1024), measured here. Evaluation of
the validation and test splits is excluded (both cut to ``--eval-subset`` strings).

Usage::

    python scripts/bench_recurrent.py --threads 1                # 30-node GRU, minutes on a 2-core CPU
    python scripts/bench_recurrent.py --quick                    # 2,000 strings, seconds
    python scripts/bench_recurrent.py --prior ba --cell lstm --json out.json
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from nas.provenance import library_versions, write_json_atomic
from nas.training import TrainConfig, build_seeded, get_task, train_genome
from nas.training.device import device_name, resolve_device, set_threads
from nas.training.flops import mean_sequence_length, model_flops
from nas.training.stacking import train_cohort
from nas.training.stacking.schedule import recurrent_schedule, wavefront_kernel
from search_spaces.genome import Genome


def paper_genome(prior: str, nodes: int, cell: str, seed: int) -> Genome:
    """The paper's Reber prior of ``nodes`` vertices (width 1, readout ``last``)."""
    if prior == "ws":
        return Genome("watts_strogatz", {"k": max(2, nodes // 5), "p": 1.0}, nodes=nodes, seed=seed,
                      family=f"rnn:{cell}", readout="last")
    return Genome("barabasi_albert_original", {"m": max(1, nodes // 10)}, nodes=nodes, seed=seed,
                  family=f"rnn:{cell}", readout="last")


def check_json_path(parser: argparse.ArgumentParser, path: str) -> None:
    """Refuse a ``--json`` path whose folder is missing or not writable before any work."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        parser.error(f"--json {path}: its folder does not exist")
    if not os.access(folder, os.W_OK):
        parser.error(f"--json {path}: its folder is not writable")


def matmul_rate(size: int, repeats: int = 5) -> float:
    """Single-precision FLOP/s of a ``size`` x ``size`` matrix product on the current threads (best of ``repeats``)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=30)
    parser.add_argument("--prior", choices=("ws", "ba"), default="ws")
    parser.add_argument("--cell", choices=("tanh", "relu", "gru", "lstm"), default="gru")
    parser.add_argument("--seed", type=int, default=0, help="graph seed, initial weights and batch order")
    parser.add_argument("--train-subset", type=int, help="training strings (default: the whole training set)")
    parser.add_argument("--eval-subset", type=int, default=100, help="validation and test strings (not timed apart)")
    parser.add_argument("--matmul-size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--quick", action="store_true", help="2,000 training strings")
    parser.add_argument("--json", dest="json_path", help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.nodes < 10:
        parser.error(f"--nodes must be >= 10 (the paper's priors start there), got {args.nodes}")
    for name in ("train_subset", "eval_subset", "matmul_size", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.json_path:
        check_json_path(parser, args.json_path)
    set_threads(args.threads)
    device = resolve_device("cpu")
    task = get_task("reber_paper")
    data = task.load(data_dir=args.data_dir)
    train = 2000 if args.quick and args.train_subset is None else args.train_subset
    data = data.subset(train, args.eval_subset, args.eval_subset)
    genome = paper_genome(args.prior, args.nodes, args.cell, args.seed)
    model = build_seeded(genome, task, data, args.seed)
    dag = genome.dag()
    macs = model_flops(model, mean_length=mean_sequence_length(data))
    epoch_flops = 3 * 2 * macs * len(data.train)
    rate = matmul_rate(args.matmul_size)
    floor = epoch_flops / rate
    print(f"device: {device_name(device)}; torch threads: {torch.get_num_threads()}; {genome.family} of {args.nodes} "
          f"vertices ({args.prior}), {dag.num_layers} levels of {list(dag.layer_sizes)}, {len(dag.skip_pairs)} skip "
          f"layers; {len(data.train)} training strings, mean length {mean_sequence_length(data):.1f}")
    print(f"forward multiply-adds per string {macs:,}; one epoch {epoch_flops / 1e9:.3f} GFLOP; "
          f"matmul rate {rate / 1e9:.1f} GFLOP/s; compute floor {floor:.3f} s")
    config = TrainConfig(epochs=1, batch_size=128, optimizer="adam", lr=1e-3, grad_clip=5.0, device="cpu", seed=args.seed)
    figures = {"device": device_name(device), "threads": torch.get_num_threads(), "genome": genome.to_dict(),
               "levels": dag.num_layers, "skip_layers": len(dag.skip_pairs), "train_strings": len(data.train),
               "forward_macs_per_string": macs, "epoch_gflop": epoch_flops / 1e9, "matmul_gflops": rate / 1e9,
               "floor_s": floor, "versions": library_versions()}
    train_cohort([genome], task, config.replace(max_steps=2), data=data)  # warm-up
    runs = {
        "module": lambda: train_genome(genome, task, config, data=data),
        "levels": lambda: _with_schedule("levels", lambda: train_cohort([genome], task, config, data=data)[0]),
        "torch_steps": lambda: _with_kernel("torch", lambda: train_cohort([genome], task, config, data=data)[0]),
        "wavefront": lambda: train_cohort([genome], task, config, data=data)[0],
    }
    accuracy = {}
    for name, run in runs.items():
        start = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - start
        accuracy[name] = result.test_accuracy
        figures[f"{name}_s"] = seconds
        figures[f"{name}_floor_ratio"] = seconds / floor
        print(f"{name:>11}: {seconds:8.2f} s for the epoch, {seconds / floor:6.1f}x the compute floor")
    figures["speedup_wavefront_vs_module"] = figures["module_s"] / figures["wavefront_s"]
    figures["speedup_compiled_vs_torch_steps"] = figures["torch_steps_s"] / figures["wavefront_s"]
    print(f"wavefront stack of one / own module: {figures['speedup_wavefront_vs_module']:.2f}x faster; compiled / "
          f"batched-torch steps: {figures['speedup_compiled_vs_torch_steps']:.2f}x faster; test accuracy {accuracy}")
    if args.json_path:
        write_json_atomic(args.json_path, figures)
    return 0


def _with_schedule(name: str, run):
    with recurrent_schedule(name):
        return run()


def _with_kernel(name: str, run):
    with wavefront_kernel(name):
        return run()


if __name__ == "__main__":
    raise SystemExit(main())
