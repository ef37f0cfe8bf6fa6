"""CIFAR-10 time to accuracy: one fixed-wiring random-wired CNN, trained with the fast recipe.

The reference is built by the same builder a search uses (stem, three wired stages, head), wired by
a Watts–Strogatz small-world graph (Xie et al.'s best generator, k = 4, p = 0.75) with ``--nodes``
vertices per stage and ``--width`` times the default channels (16, 32, 64). The recipe is the one
of the fast CIFAR-10 scripts, all of it in :class:`nas.training.TrainConfig`: the whole dataset on
the device (no DataLoader), on-device random crops and flips, bf16 autocast and channels-last on a
GPU, a large batch with SGD and momentum, a one-cycle schedule, label smoothing and
optionally ``torch.compile``. After every epoch the *test* set is scored (that evaluation is not
counted in the training time); the script reports the training seconds to reach each
``--targets`` accuracy. The test set here only measures the reference's speed — a search never
selects on it. ``--max-minutes`` stops training after the epoch that passes it (the schedule is
then cut short; the JSON says so). At the end the trained network's validation and test accuracy
are scored plain and with flip test-time augmentation (``TrainConfig.eval_flip``), for a paired
comparison over ``--seed`` runs.

Usage::

    python scripts/bench_cifar.py --quick                       # minutes on a 2-core CPU (tiny)
    python scripts/bench_cifar.py --device cuda --epochs 30 --width 4 --nodes 32 --json out.json

The last line is ``time to <target>: <seconds> s`` (or ``not reached``) for the highest target.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

from nas.datasets import load_dataset
from nas.training.device import device_name, resolve_device, set_threads, synchronize
from nas.provenance import library_versions, write_json_atomic
from nas.training import Callback, evaluate, train_genome
from nas.training.tasks import get_task
from search_spaces.exceptions import SparseNASError
from search_spaces.genome import Genome


class _TestEveryEpoch(Callback):
    """Scores the test split after each epoch; records when each target is first reached."""

    def __init__(self, task, config, device, targets, max_seconds=None):
        self.task, self.config, self.device, self.targets = task, config, device, sorted(targets)
        self.max_seconds = max_seconds
        self.capped = False
        self.reached: dict[float, tuple[int, float, float]] = {}
        self.curve: list[dict] = []
        self.data = None

    def on_train_start(self, context):
        self.data = context["data"]

    def on_epoch_end(self, epoch, record, model):
        synchronize(self.device)
        _, accuracy = evaluate(model, self.data.test, self.task, self.config, self.device)
        self.curve.append({"epoch": epoch, "train_s": record["elapsed_s"], "test_accuracy": accuracy,
                           "val_accuracy": record["val_accuracy"]})
        print(f"epoch {epoch}: {record['elapsed_s']:.1f} s training, val {record['val_accuracy']:.4f}, "
              f"test {accuracy:.4f}", flush=True)
        for target in self.targets:
            if accuracy >= target and target not in self.reached:
                self.reached[target] = (epoch, record["elapsed_s"], accuracy)
        self.capped = self.max_seconds is not None and record["elapsed_s"] > self.max_seconds
        return len(self.reached) == len(self.targets) or self.capped


def flip_evaluation(model, data, task, config, device) -> dict[str, dict[str, float]]:
    """Validation and test accuracy of ``model``, plain and with flip test-time augmentation."""
    return {name: {kind: evaluate(model, getattr(data, name), task, config.replace(eval_flip=flip), device)[1]
                   for kind, flip in (("plain", False), ("flip", True))}
            for name in ("val", "test")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=32, help="vertices per stage")
    parser.add_argument("--width", type=int, default=4, help="channel multiplier of (16, 32, 64)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--lr", type=float, default=0.2, help="peak SGD rate of the one-cycle schedule")
    parser.add_argument("--targets", type=float, nargs="+", default=(0.90, 0.93))
    parser.add_argument("--train-subset", type=int)
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--quick", action="store_true", help="width 1, 8 nodes, 2 epochs on 2,000 images (a smoke run)")
    parser.add_argument("--max-minutes", type=float, help="stop training after the epoch that passes this")
    parser.add_argument("--json", dest="json_path", help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.json_path and not Path(args.json_path).resolve().parent.is_dir():
        parser.error(f"--json {args.json_path}: its folder does not exist")
    if args.max_minutes is not None and not (math.isfinite(args.max_minutes) and args.max_minutes > 0):
        parser.error(f"--max-minutes {args.max_minutes}: expected a finite number of minutes > 0")
    if args.quick:
        args.nodes, args.width, args.epochs, args.train_subset, args.batch_size = 8, 1, 2, args.train_subset or 2000, 128
        args.targets = [0.2, 0.3]
    set_threads(args.threads)
    try:
        return _run(args)
    except SparseNASError as err:  # missing or corrupt data, a bad device or budget: one line, nothing written
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1


def _run(args) -> int:
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    task = get_task("cifar10")
    data = load_dataset("cifar10", data_dir=args.data_dir, allow_partial=True)
    genome = Genome("watts_strogatz", {"k": 4, "p": 0.75}, nodes=args.nodes, seed=0, family="cnn", width=args.width)
    # Validation: the task's seeded 5,000 images carved from the training batches; test: what the data has.
    config = task.default_config(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, schedule="onecycle", warmup=0.2,
        momentum=0.9, weight_decay=5e-4 * 512 / args.batch_size, label_smoothing=0.1, grad_clip=None,
        precision="bf16" if gpu else "fp32", channels_last=gpu, compile=args.compile, device=str(device),
        seed=args.seed, train_subset=args.train_subset, eval_batch_size=1024,
        val_subset=1000 if args.quick else None,
    )
    print(f"device: {device_name(device)}; reference: {genome.to_json()}; {len(data.train)} training images, "
          f"{len(data.test)} test images; {args.epochs} epochs, batch {args.batch_size}, one-cycle peak {args.lr}")
    max_seconds = None if args.max_minutes is None else 60.0 * args.max_minutes
    stopper = _TestEveryEpoch(task, config, device, args.targets, max_seconds)
    started = time.perf_counter()
    result = train_genome(genome, task, config, data=data, callbacks=[stopper])
    wall = time.perf_counter() - started
    if result.error:
        print(f"bench_cifar.py: training failed: {result.error}", file=sys.stderr)
        return 1
    flip = flip_evaluation(result.model, stopper.data, task, config, device)
    figures = {
        "device": device_name(device), "genome": genome.to_dict(), "parameters": result.parameters,
        "config": config.to_dict(), "test_examples": len(data.test), "curve": stopper.curve, "wall_s": wall,
        "reached": {str(t): {"epoch": e, "train_s": s, "test_accuracy": a} for t, (e, s, a) in stopper.reached.items()},
        "capped_at_max_minutes": stopper.capped, "flip_evaluation": flip, "seed": args.seed,
        "versions": library_versions(),
    }
    if args.json_path:
        write_json_atomic(args.json_path, figures)
    if stopper.capped:
        print(f"stopped after epoch {result.epochs} of {args.epochs}: past --max-minutes {args.max_minutes}")
    print("flip evaluation (plain -> flip): " + ", ".join(
        f"{name} {accs['plain']:.4f} -> {accs['flip']:.4f}" for name, accs in flip.items()))
    for target in sorted(args.targets):
        if target in stopper.reached:
            epoch, seconds, accuracy = stopper.reached[target]
            print(f"time to {target:.0%}: {seconds:.1f} s (epoch {epoch}, test {accuracy:.4f} on {len(data.test)} images)")
        else:
            best = max((c["test_accuracy"] for c in stopper.curve), default=float("nan"))
            print(f"time to {target:.0%}: not reached in {result.epochs} epochs (best test {best:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
