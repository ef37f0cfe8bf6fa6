"""``nas prune``: train a network with several seeds, prune it with one or more methods, report.

One run::

    networks <- the architecture (--arch widths or a --genome), initialised with seeds 0..S-1
    train all S together as one cohort (base budget)
    candidates <- a copy of every trained network for every method       (methods paired by seed)
    prune_models(candidates): every step prunes all M x S and retrains them together
    after base training and every step: the stage is stored beside the output (networks and
        record, :mod:`nas.studies.pruning.store`) and the output file rewritten (an interrupted
        run keeps its finished steps; ``resume`` continues it from the stored ones)
    summary per method and step (mean ± std over seeds), paired tests against the first method

The S networks differ in their initial weights (and in ``random``'s and ``obd``'s draws); as a
cohort they share the batch order (base training: seed 0; retraining step i:
:func:`nas.studies.pruning.run.step_seed`), so the spread over seeds is that of initialisation.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np
import torch
from scipy import stats

from nas.exceptions import ConfigError, PruningError
from nas.provenance import provenance, to_jsonable, write_json_atomic
from nas.studies.pruning.networks import DenseMLP, parse_arch
from nas.studies.pruning.run import Candidate, prune_models
from nas.studies.pruning.saliency import METHODS
from nas.studies.pruning.schedule import plan_schedule
from nas.studies.pruning.store import PruneStore, steps_folder
from nas.studies.pruning.targets import make_prunable, parse_weights, prunable
from nas.training.config import TrainConfig, TrainOption, TrainOptions, TrainOverrides
from nas.training.device import resolve_device
from nas.training.loop import build_seeded
from nas.training.stacking import train_models
from nas.training.tasks import get_task
from nas.validation import (
    Interval,
    Items,
    Options,
    Satisfies,
    Text,
    check_fields,
    invalid,
)
from search_spaces.genome import Genome, genome_from_any

__all__ = ["PruneConfig", "run_pruning", "summarise", "paired_tests", "network_kind_of"]

#: TrainConfig options a run sets itself (seeds are ``--seeds``, the device ``--device``).
_OWN_OPTIONS = ("seed", "device", "progress")


def network_kind_of(arch, genome) -> str:
    """``"ff"`` or ``"rnn"`` for the network ``--arch``/``--genome`` describes.

    Raises
    ------
    PruningError
        A CNN genome (its weights carry no masks).
    """
    if arch is not None:
        return "ff"

    family = genome_from_any(genome).family
    if family == "cnn":
        raise PruningError("a cnn genome cannot be pruned (its convolutions carry no masks); expected a feed-forward "
                           "(ff) or recurrent (rnn:<cell>) genome")
    return "ff" if family == "ff" else "rnn"


@dataclass(frozen=True)
class PruneConfig:
    """Settings of ``nas prune``; validated on construction.

    Parameters
    ----------
    task : str
    arch : str, optional
        Dense MLP widths, e.g. ``"784-100-10"`` (feed-forward tasks); or
    genome : dict, optional
        A feed-forward or recurrent genome (its network is built and pruned).
    methods : tuple of str
        Saliency methods (:data:`nas.studies.pruning.METHODS`); the first is the reference of the paired tests.
    weights : str
        The parts pruned (:mod:`nas.studies.pruning.targets`): ``"all"`` or a comma-separated list
        (``input,hidden,output`` for MLPs, ``input,recurrent,output`` for RNNs).
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
        Base training epochs (default: the task's budget); checked by ``TrainConfig.epochs``'s rule.
    train : TrainOverrides
        Other :class:`~nas.training.config.TrainConfig` options (lr, schedule, subsets, ...) for
        base training and retraining (a mapping or pairs are accepted; not ``seed``, ``device``
        or ``progress``, which the run sets).
    retrain_options : TrainOverrides
        Options for retraining only, on top of ``train`` (e.g. a smaller ``lr``).
    on_empty : {"error", "stop"}
        A network whose next step would empty a layer: stop the run with an error (after the
        finished steps are written), or stop pruning that network only (its later steps are
        missing; each step reports how many seeds reached it).
    data_dir, device : str, optional

    Raises
    ------
    OptionError
        A setting outside its rule (:attr:`constraints`; a training option: ``TrainConfig.FIELD = ...``).
    PruningError
        An unknown method, both a rate and a count, a network the task cannot train or a CNN genome.
    """

    task: str = "mnist"
    arch: str | None = None
    genome: dict | None = None
    methods: tuple[str, ...] = ("mcb",)
    weights: str = "all"
    target: float = 0.8
    rate: float | None = 0.25
    count: int | None = None
    retrain: int = 2
    variable: float | None = None
    seeds: int = 1
    epochs: int | None = None
    train: TrainOverrides = field(default_factory=TrainOverrides)
    retrain_options: TrainOverrides = field(default_factory=TrainOverrides)
    on_empty: str = "error"
    data_dir: str | None = None
    device: str | None = None

    #: One rule per setting; the network (arch or genome, its parts), the methods, a rate or a
    #: count, and the training options the run sets itself are checked after it.
    constraints: ClassVar[dict] = {
        "task": Text(),
        "arch": [Text(), None],
        "genome": [Satisfies(lambda v: isinstance(v, (Mapping, Genome, str)), "a genome (its dict or JSON)"), None],
        "methods": Items(Text(), nonempty=True),
        "weights": Text(),
        "target": Interval(Real, 0, 1, closed="neither"),
        "rate": [Interval(Real, 0, 1, closed="neither"), None],
        "count": [Interval(Integral, 1, None), None],
        "retrain": Interval(Integral, 1, 1000),
        "variable": [Interval(Real, 0, 1, closed="neither"), None],
        "seeds": Interval(Integral, 1, 1000),
        "epochs": [TrainOption("epochs"), None],
        "train": TrainOptions(),
        "retrain_options": TrainOptions(),
        "on_empty": Options(("error", "stop")),
        "data_dir": [Text(), None],
        "device": [Text(), None],
    }

    def __post_init__(self):
        check_fields(self)
        task = get_task(self.task)
        if (self.arch is None) == (self.genome is None):
            raise ConfigError("give the network to prune as --arch WIDTHS or as --genome FILE (one of them)")
        if self.arch is not None:
            parse_arch(self.arch)
            if "ff" not in task.families:
                raise PruningError(f"--arch builds a feed-forward MLP; task {self.task!r} trains {list(task.families)}: "
                                   "give a --genome of one of those families")
        else:
            task.check_family(genome_from_any(self.genome).family)
        kind = network_kind_of(self.arch, self.genome)
        object.__setattr__(self, "weights", ",".join(parse_weights(self.weights, kind)))
        bad = [m for m in self.methods if m not in METHODS]
        if bad:
            raise PruningError(f"unknown pruning method(s) {bad!r}; expected some of: {', '.join(METHODS)}")
        object.__setattr__(self, "methods", tuple(dict.fromkeys(self.methods)))
        if self.rate is not None and self.count is not None:
            raise PruningError("give a rate (share of the remaining weights per step) or a count per step, not both")
        for name, option in (("train", "--train"), ("retrain_options", "--retrain-option")):
            own = [k for k in getattr(self, name).names() if k in _OWN_OPTIONS]
            if own:
                raise invalid(self, name, f"other TrainConfig options: {option} may not set {', '.join(own)} "
                                          f"(the run sets it: --seeds, --device)")
        given = self.train.to_dict().get("epochs")
        if self.epochs is not None and given is not None and given != self.epochs:
            raise ConfigError(f"--epochs {self.epochs} and --train epochs={given} both set the base training's epochs; "
                              "expected one of them")
        # the rules between training options and the task's defaults (plateau_momentum needs SGD)
        # fail now, before anything is trained: the retraining config, built on the base config
        self.retrain_config()

    def base_config(self) -> TrainConfig:
        """The base training of every seed (one cohort: batch order from seed 0); its steps show as a
        bar on a terminal (``progress``: display only, never in a log)."""
        options: dict[str, Any] = {"progress": True}
        if self.epochs is not None:
            options["epochs"] = self.epochs
        if self.device is not None:
            options["device"] = self.device
        return get_task(self.task).default_config(self.train, **options)

    def retrain_config(self) -> TrainConfig:
        """Retraining after every step: ``retrain`` epochs, no schedule unless the retraining
        options set one; variable retraining stops at a gain below ``variable`` (patience 1)."""
        config = self.base_config()
        changes: dict[str, Any] = {"epochs": self.retrain, "schedule": "none", "patience": None, "min_lr": None,
                                   "plateau_momentum": None}
        if self.variable is not None:
            changes.update(patience=1, min_delta=float(self.variable))
        return config.replace(**{**changes, **self.retrain_options.to_dict()})

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["methods"] = list(self.methods)
        d["train"], d["retrain_options"] = self.train.to_dict(), self.retrain_options.to_dict()
        return d


def _build(config: PruneConfig, task, data, seed: int):
    if config.arch is not None:
        widths = parse_arch(config.arch)
        features, classes = int(math.prod(data.input_shape)), data.num_classes
        if widths[0] != features or widths[-1] != classes:
            raise PruningError(f"--arch {config.arch} must start with the task's {features} inputs and end with its "
                               f"{classes} classes")
        return DenseMLP(widths, generator=torch.Generator().manual_seed(seed))

    return build_seeded(genome_from_any(config.genome), task, data, seed)


def _std(values: np.ndarray) -> float:
    return float(values.std(ddof=1)) if values.size > 1 else 0.0


def summarise(runs: dict[str, list[list[dict]]]) -> dict[str, list[dict]]:
    """Per method, per step: compression and weights (mean over seeds), test accuracy before and
    after retraining (mean ± sample std over seeds) and the retraining epochs (mean)."""
    out = {}
    for method, per_seed in runs.items():
        steps = []
        for i in range(max((len(r) for r in per_seed), default=0)):
            rows = [r[i] for r in per_seed if len(r) > i]  # seeds that stopped early drop out
            acc = np.array([r["test_accuracy"] for r in rows], dtype=float)
            before = np.array([r["test_accuracy_before_retrain"] for r in rows], dtype=float)
            steps.append({"step": i + 1, "compression": float(np.mean([r["compression"] for r in rows])),
                          "weights": float(np.mean([r["weights"] for r in rows])), "seeds": len(rows),
                          "test_accuracy_mean": float(acc.mean()), "test_accuracy_std": _std(acc),
                          "test_accuracy_before_retrain_mean": float(before.mean()),
                          "test_accuracy_before_retrain_std": _std(before),
                          "retrain_epochs_mean": float(np.mean([r.get("retrain_epochs", 0) for r in rows]))})
        out[method] = steps
    return out


def paired_tests(runs: dict[str, list[list[dict]]], reference: str) -> dict[str, list[dict]]:
    """Every other method against ``reference`` at every step, paired by seed.

    Per step, over the seeds both reached: the mean and sample std of the per-seed differences
    in test accuracy (method − reference), a paired t-test (:func:`scipy.stats.ttest_rel`) and the Wilcoxon signed-rank
    test (:func:`scipy.stats.wilcoxon`, exact for small n), both two-sided; p-values are None
    below 3 seeds or when every difference is zero. Not corrected for multiple comparisons.
    """
    out: dict[str, list[dict]] = {}
    if reference not in runs:
        return out
    for method, per_seed in runs.items():
        if method == reference:
            continue
        rows = []
        for i in range(max((len(r) for r in per_seed), default=0)):
            pairs = [(r[i], q[i]) for r, q in zip(per_seed, runs[reference]) if len(r) > i and len(q) > i]
            if not pairs:
                break
            a = np.array([x["test_accuracy"] for x, _ in pairs], dtype=float)
            b = np.array([y["test_accuracy"] for _, y in pairs], dtype=float)
            diff = a - b
            row = {"step": i + 1, "compression": float(np.mean([x["compression"] for x, _ in pairs])), "n": int(diff.size),
                   "difference_mean": float(diff.mean()), "difference_std": _std(diff), "t_p": None, "wilcoxon_p": None}
            if diff.size >= 3 and np.any(diff != 0):
                row["t_p"] = float(stats.ttest_rel(a, b).pvalue)
                row["wilcoxon_p"] = float(stats.wilcoxon(a, b).pvalue)
            rows.append(row)
        out[method] = rows
    return out


def _write(path: Path, config: PruneConfig, base: list[dict], runs: dict, done: bool, timings: dict) -> None:
    reference = config.methods[0]
    payload = {"config": config.to_dict(), "complete": done, "base": base,
               "methods": {m: {"steps": s} for m, s in summarise(runs).items()},
               "comparisons": {"reference": reference, "methods": paired_tests(runs, reference)},
               "runs": runs, "timings": timings, "provenance": provenance()}
    try:
        write_json_atomic(path, to_jsonable(payload))
    except OSError as err:
        raise PruningError(f"cannot write {str(path)!r}: {err.strerror or err}") from None


def check_out(out) -> Path:
    """``out`` as a Path, if it can be written: not a folder, in a writable folder.

    Raises
    ------
    PruningError
        Otherwise (before anything is trained).
    """
    out = Path(out)
    if out.exists() and out.is_dir():
        raise PruningError(f"--out {str(out)!r} is a folder; expected a JSON file path")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise PruningError(f"--out {str(out)!r}: {str(folder)!r} is not a writable folder; nothing was trained")
    return out


def run_pruning(config: PruneConfig, out, echo=None, *, resume: bool = False,
                overwrite: bool = False) -> dict[str, list[dict]]:
    """Train, prune and write ``out`` (JSON, rewritten after every step); returns :func:`summarise`.

    Every finished stage (base training, each step) is stored beside ``out``
    (:class:`~nas.studies.pruning.store.PruneStore` in :func:`~nas.studies.pruning.store.steps_folder`),
    so that a killed run continues with ``resume`` and ends as an uninterrupted one would.

    Parameters
    ----------
    resume : bool
        Continue the run stored beside ``out``; ``config`` must have its settings (the data
        folder and the device may differ).
    overwrite : bool
        Discard an earlier run's stored stages first (``--overwrite``).

    Raises
    ------
    PruningError, ConfigError
        Bad settings, a target already reached or unreachable for this network (before any
        training), or a layer that would become empty (after the steps before it were written).
    StoreExistsError, StoreNotFoundError, SettingsMismatchError
        A new run where an earlier one's stages are; ``resume`` without them, or with other settings.
    """
    out = check_out(out)
    folder = steps_folder(out)
    if overwrite and not resume:
        PruneStore(folder).remove()
    store = PruneStore.open(folder, config.to_dict(), resume=resume)
    try:
        return _prune(config, out, store, echo)
    except BaseException:
        if not store.records():  # nothing finished: the run leaves nothing behind
            store.remove()
        raise


def _prune(config: PruneConfig, out: Path, store: PruneStore, echo) -> dict[str, list[dict]]:
    """:func:`run_pruning` from the stages ``store`` holds: none, some, or all of them."""
    records = store.records()
    base, runs, timings, complete = store.results(config.methods, config.seeds)
    if complete:
        store.drop_networks()  # in case a kill came between the end's record and their removal
        _write(out, config, base, runs, True, timings)
        return summarise(runs)
    task = get_task(config.task)
    resolve_device(config.device)
    data = task.load(data_dir=config.data_dir)
    seeds = list(range(config.seeds))
    models = [_build(config, task, data, seed) for seed in seeds]
    for model in models:
        make_prunable(model, config.weights)  # masks of ones: the function is unchanged
    total = int(sum(int(m.sum()) for m in prunable(models[0], config.weights)[2]))
    steps = plan_schedule(total, target=config.target, rate=config.rate, count=config.count)
    # an iterative schedule prunes its share of what is left (of each layer for mcu); the plan
    # gives the number of steps, and for global methods the same counts
    amounts = [float(config.rate)] * len(steps) if config.rate is not None else steps
    # the clock goes on from the time the stored stages took
    started = time.perf_counter() - timings.get("base_training_s", 0.0) - timings.get("pruning_s", 0.0)
    if not records:
        if echo:
            echo(f"training {len(models)} network(s) of {total:,} prunable weights together")
        trained = train_models(models, task, config.base_config(), data)
        timings = {"base_training_s": time.perf_counter() - started}
        base = [{"seed": s, "test_accuracy": r.test_accuracy, "val_accuracy": r.val_accuracy, "epochs": r.epochs,
                 "weights": total, "device": r.device} for s, r in zip(seeds, trained)]
        if echo:
            accuracies = np.array([b["test_accuracy"] for b in base])
            echo(f"trained: test accuracy {accuracies.mean():.4f} ± {_std(accuracies):.4f} over {len(base)} seed(s)")
    candidates = [Candidate(method, seed, copy.deepcopy(models[seed])) for method in config.methods for seed in seeds]
    if not records:
        store.append_stage(0, {"step": 0, "base": base, "timings": timings}, [c.model for c in candidates])
        done, active = 0, candidates
    else:
        done, active = store.restore(candidates)
        if echo:
            echo(f"resuming after step {done}/{len(amounts)} (base training and {done} step(s) stored)")
    _write(out, config, base, runs, False, timings)

    def save(number: int, finished: list[dict | None]) -> None:
        row: dict[str, list[dict | None]] = {m: [None] * config.seeds for m in config.methods}
        for candidate, record in zip(active, finished):
            if record is not None:  # None: this candidate stopped (on_empty="stop")
                runs[candidate.method][candidate.seed].append(record)
                row[candidate.method][candidate.seed] = record
        timings["pruning_s"] = time.perf_counter() - started - timings["base_training_s"]
        store.append_stage(number, {"step": number, "runs": row, "timings": dict(timings)}, [c.model for c in candidates])
        _write(out, config, base, runs, False, timings)
        if echo:
            parts = ", ".join(f"{m} {np.mean([r[-1]['test_accuracy'] for r in runs[m] if len(r) == number]):.4f}"
                              for m in config.methods if any(len(r) == number for r in runs[m]))
            level = next(r for r in finished if r is not None)["compression"]
            stopped = len(candidates) - sum(r is not None for r in finished)  # before this step or at it
            echo(f"step {number}/{len(amounts)}: {level:.1%} compression; test accuracy {parts}"
                 + (f" ({stopped} network(s) stopped: a layer would have lost its last weight)" if stopped else ""))

    if active and done < len(amounts):
        prune_models(active, task, data, steps=amounts[done:], first_step=done + 1, retrain=config.retrain_config(),
                     weights=config.weights, total=total, on_step=save,
                     on_empty="stop" if config.on_empty == "stop" else "raise")
    store.append([{"complete": True, "timings": timings}])
    store.drop_networks()
    _write(out, config, base, runs, True, timings)
    return summarise(runs)
