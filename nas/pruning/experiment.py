"""``nas prune``: train a network with several seeds, prune it with one or more methods, report.

For every seed the network is built (``--arch`` widths or a ``--genome``) and trained once at the
base budget; every method then starts from a copy of that trained network, so methods are paired
by seed. After every pruning step the results so far are written to the output file, so an
interrupted run keeps the steps it finished. Seeds are trained one after another (training them
as one population is still open, issue 13).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nas.exceptions import ConfigError, PruningError
from nas.pruning.run import prunable, prune_model
from nas.pruning.saliency import METHODS
from nas.pruning.schedule import plan_schedule

__all__ = ["PruneConfig", "run_pruning", "summarise"]


@dataclass(frozen=True)
class PruneConfig:
    """Settings of ``nas prune``; validated on construction.

    Parameters
    ----------
    task : str
    arch : str, optional
        Dense MLP widths, e.g. ``"784-100-10"`` (feed-forward tasks); or
    genome : dict, optional
        A genome of any family (its masks are pruned).
    methods : tuple of str
        Saliency methods (:data:`nas.pruning.METHODS`).
    target : float
        Compression to reach, in (0, 1).
    rate, count : optional
        Iterative share of the remaining weights per step, or a fixed count; neither: one shot.
    retrain : int
        Retraining epochs per step (the cap with ``variable``).
    variable : float, optional
        Variable retraining: stop when the validation accuracy gains less than this.
    seeds : int
        Independently initialised networks (seeds ``0 .. seeds-1``).
    epochs : int, optional
        Base training epochs (default: the task's budget).
    train : tuple of (str, value)
        Other :class:`~nas.training.config.TrainConfig` options (lr, subsets, ...).
    data_dir, device : str, optional
    """

    task: str = "mnist"
    arch: str | None = None
    genome: dict | None = None
    methods: tuple[str, ...] = ("mcb",)
    target: float = 0.8
    rate: float | None = 0.25
    count: int | None = None
    retrain: int = 2
    variable: float | None = None
    seeds: int = 1
    epochs: int | None = None
    train: tuple = field(default_factory=tuple)
    data_dir: str | None = None
    device: str | None = None

    def __post_init__(self):
        from nas.config import _int, _options_table
        from nas.training.tasks import get_task

        task = get_task(self.task)
        if (self.arch is None) == (self.genome is None):
            raise ConfigError("give the network to prune as --arch WIDTHS or as --genome FILE (one of them)")
        if self.arch is not None:
            from nas.pruning.networks import parse_arch

            parse_arch(self.arch)
            if "ff" not in task.families:
                raise PruningError(f"--arch builds a feed-forward MLP; task {self.task!r} trains {list(task.families)}: "
                                   "give a --genome of one of those families")
        else:
            from search_spaces.genome import genome_from_any

            task.check_family(genome_from_any(self.genome).family)
        methods = tuple(self.methods)
        bad = [m for m in methods if m not in METHODS]
        if not methods or bad:
            raise PruningError(f"unknown pruning method(s) {bad or methods!r}; expected some of: {', '.join(METHODS)}")
        object.__setattr__(self, "methods", tuple(dict.fromkeys(methods)))
        if self.rate is not None and self.count is not None:
            raise PruningError("give a rate (share of the remaining weights per step) or a count per step, not both")
        if self.count is not None:
            _int("count", self.count, 1)
        plan_schedule(1_000_000, target=self.target, rate=self.rate)  # a bad target or rate fails now
        _int("retrain", self.retrain, 1)
        _int("seeds", self.seeds, 1, 1000)
        if self.epochs is not None:
            _int("epochs", self.epochs, 1)
        if self.variable is not None and (isinstance(self.variable, bool) or not isinstance(self.variable, (int, float))
                                          or not 0 < self.variable < 1):
            raise ConfigError(f"variable retraining needs a validation gain epsilon in (0, 1), got {self.variable!r}")
        object.__setattr__(self, "train", _options_table("train", self.train))
        self.base_config(0)  # a bad training option fails now

    def base_config(self, seed: int):
        from nas.training.tasks import get_task

        options: dict[str, Any] = {**dict(self.train), "seed": seed}
        if self.epochs is not None:
            options["epochs"] = self.epochs
        if self.device is not None:
            options["device"] = self.device
        return get_task(self.task).default_config(**options)

    def retrain_config(self, seed: int):
        config = self.base_config(seed)
        changes: dict[str, Any] = {"epochs": self.retrain, "schedule": "none"}
        if self.variable is not None:
            changes.update(patience=1, min_delta=float(self.variable))
        return dataclasses.replace(config, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["methods"], d["train"] = list(self.methods), dict(self.train)
        return d


def _build(config: PruneConfig, task, data, seed: int):
    import torch

    generator = torch.Generator().manual_seed(seed)
    if config.arch is not None:
        from nas.pruning.networks import DenseMLP, parse_arch

        widths = parse_arch(config.arch)
        features, classes = int(math.prod(data.input_shape)), data.num_classes
        if widths[0] != features or widths[-1] != classes:
            raise PruningError(f"--arch {config.arch} must start with the task's {features} inputs and end with its "
                               f"{classes} classes")
        return DenseMLP(widths, generator=generator)
    from search_spaces.genome import genome_from_any

    return task.build(genome_from_any(config.genome), data, generator=generator)


def summarise(runs: dict[str, list[list[dict]]]) -> dict[str, list[dict]]:
    """Per method, per step: compression and weights (mean over seeds) and test accuracy mean ± std."""
    out = {}
    for method, per_seed in runs.items():
        steps = []
        for i in range(min((len(r) for r in per_seed), default=0)):
            rows = [r[i] for r in per_seed]
            acc = np.array([r["test_accuracy"] for r in rows], dtype=float)
            before = np.array([r["test_accuracy_before_retrain"] for r in rows], dtype=float)
            steps.append({"step": i + 1, "compression": float(np.mean([r["compression"] for r in rows])),
                          "weights": float(np.mean([r["weights"] for r in rows])), "seeds": len(rows),
                          "test_accuracy_mean": float(acc.mean()), "test_accuracy_std": float(acc.std(ddof=1)) if acc.size > 1 else 0.0,
                          "test_accuracy_before_retrain_mean": float(before.mean()),
                          "test_accuracy_before_retrain_std": float(before.std(ddof=1)) if before.size > 1 else 0.0})
        out[method] = steps
    return out


def _write(path: Path, config: PruneConfig, base: list[dict], runs: dict, done: bool) -> None:
    from nas.provenance import provenance, to_jsonable, write_json_atomic

    payload = {"config": config.to_dict(), "complete": done, "base": base,
               "methods": {m: {"steps": s} for m, s in summarise(runs).items()}, "runs": runs,
               "provenance": provenance()}
    try:
        write_json_atomic(path, to_jsonable(payload))
    except OSError as err:
        raise PruningError(f"cannot write {str(path)!r}: {err.strerror or err}") from None


def run_pruning(config: PruneConfig, out, echo=None) -> dict[str, list[dict]]:
    """Train, prune and write ``out`` (JSON, rewritten after every step); returns :func:`summarise`.

    Raises
    ------
    PruningError, ConfigError
        Bad settings, a target already reached or unreachable for this network (before any
        training), or a layer that would become empty (after the steps before it were written).
    """
    from nas.device import resolve_device
    from nas.training.loop import train_model
    from nas.training.tasks import get_task

    out = Path(out)
    if out.exists() and out.is_dir():
        raise PruningError(f"--out {str(out)!r} is a folder; expected a JSON file path")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise PruningError(f"--out {str(out)!r}: {str(folder)!r} is not a writable folder; nothing was trained")
    task = get_task(config.task)
    resolve_device(config.device)
    data = task.load(data_dir=config.data_dir)
    models = {0: _build(config, task, data, 0)}  # seed 0's network also sizes the schedule
    total = int(sum(int(m.sum()) for m in prunable(models[0])[2]))
    steps = plan_schedule(total, target=config.target, rate=config.rate, count=config.count)
    # an iterative schedule prunes its share of what is left (of each layer for mcu); the plan
    # gives the number of steps, and for global methods the same counts
    amounts = [float(config.rate)] * len(steps) if config.rate is not None else steps
    base: list[dict] = []
    runs: dict[str, list[list[dict]]] = {m: [] for m in config.methods}
    for seed in range(config.seeds):
        model = models.pop(seed, None) or _build(config, task, data, seed)
        result = train_model(model, data, task, config.base_config(seed))
        base.append({"seed": seed, "test_accuracy": result.test_accuracy, "weights": total})
        if echo:
            echo(f"seed {seed}: trained, test accuracy {result.test_accuracy:.4f}")
        for method in config.methods:
            records: list[dict] = []
            runs[method].append(records)

            def save(record, records=records):
                records.append(record)
                _write(out, config, base, runs, done=False)

            prune_model(copy.deepcopy(model), task, data, method=method, steps=amounts, retrain=config.retrain_config(seed),
                        seed=seed, total=total, on_step=save)
            if echo:
                echo(f"seed {seed}, {method}: {records[-1]['compression']:.1%} compression, "
                     f"test accuracy {records[-1]['test_accuracy']:.4f}")
    _write(out, config, base, runs, done=True)
    return summarise(runs)
