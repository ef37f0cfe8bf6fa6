"""Population training: many sparse candidates trained *together*, each exactly as if alone.

Small sparse networks leave a GPU (and even a CPU core) idle; the cost of training one is launches
and memory traffic, not FLOPs. So candidates are stacked, the candidate first on every tensor:

* feed-forward (``ff``): per layer one ``(P, out, in)`` weight and one batched matmul
  (:mod:`.ff`);
* recurrent (``rnn:tanh|relu|gru|lstm``): per DAG level one batched recurrence over all
  candidates and all the level's skip layers (:mod:`.rnn`), candidates of one cell per stack;

which candidates share a stack is planned by a step-cost model (:mod:`.planner`), each planned
group is cut into chunks that fit in memory (:mod:`.memory`), and every stack is trained by the
one population loop (:mod:`.loop`). Other families (CNN) and feed-forward models with layer norm
are trained one after another (:func:`nas.training.loop.train_genome` / ``train_model``).

:func:`train_population` takes genomes; :func:`train_models` takes modules already built — several
seeds of one network, or pruned copies of one: the stacks read each module's masks.
"""

from __future__ import annotations

import logging

import torch

from nas.device import resolve_device
from nas.exceptions import ConfigError
from nas.training.batches import check_augment, truncates
from nas.training.config import TrainConfig, TrainResult
from nas.training.loop import build_seeded, prepare_data, train_genome, train_model
from nas.training.population import ff, rnn
from nas.training.population.ff import StackedFeedForward
from nas.training.population.loop import train_stack
from nas.training.population.memory import MEMORY_SAFETY, candidate_bytes, choose_chunk_size
from nas.training.population.planner import GROUPINGS, STEP_COST, plan_stacks, step_cost, step_terms
from nas.training.population.rnn import StackedRecurrent
from nas.training.tasks import get_task

__all__ = [
    "train_population", "train_models", "StackedFeedForward", "StackedRecurrent", "choose_chunk_size", "candidate_bytes",
    "plan_stacks", "step_cost", "step_terms", "MEMORY_SAFETY", "STEP_COST", "GROUPINGS",
]

log = logging.getLogger(__name__)


def _stack_kind(model, task) -> str | None:
    """Which stack ``model`` can join (``"ff"`` or ``"rnn:<cell>"``), or None to train it alone."""
    if task.target == "class" and not task.sequence and ff.stackable(model):
        return "ff"
    if task.sequence and rnn.stackable(model):
        return f"rnn:{model.cell}"
    return None


def _chunks(group, config: TrainConfig, device, chunk_size, reserved: int, steps: int):
    """``group`` cut into chunks that fit in memory (logged when memory forces a split)."""
    per = candidate_bytes([m for _, m in group], config, steps=steps)
    size = chunk_size or choose_chunk_size(per, device, reserved=reserved)
    if chunk_size is None and size < len(group):
        log.info("a stack of %d candidates does not fit in memory (about %.1f MiB each); training it in %d chunks",
                 len(group), per / 2**20, -(-len(group) // size))
    return [group[start:start + size] for start in range(0, len(group), size)]


def _check_options(on_error: str, chunk_size, grouping: str) -> None:
    if on_error not in ("raise", "record"):
        raise ConfigError(f"on_error = {on_error!r}; expected 'raise' or 'record'")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ConfigError(f"chunk_size = {chunk_size!r}; expected an integer >= 1 or None")
    if grouping not in GROUPINGS:
        raise ConfigError(f"grouping = {grouping!r}; expected one of {list(GROUPINGS)}")


def train_population(genomes, task, config: TrainConfig, data=None, data_dir=None, chunk_size: int | None = None,
                     on_error: str = "raise", grouping: str = "cost") -> list[TrainResult]:
    """Train several genomes; feed-forward and recurrent ones together as stacked, padded tensors.

    Parameters
    ----------
    genomes : sequence of Genome, dict or JSON string
    task : Task or str
    config : TrainConfig
        Shared by all candidates (each still has its own early stopping and plateau schedule).
    data : Dataset, optional
        Loaded with ``task.load(data_dir)`` when omitted.
    data_dir : path, optional
    chunk_size : int, optional
        Most candidates per stack; by default chosen from the device's free memory (a population
        that does not fit is split into more stacks, never dropped, and the split is logged).
    on_error : {"raise", "record"}
        What a diverging (non-finite loss) candidate does: ``"raise"`` a :class:`TrainingError`
        for the whole call (like :func:`nas.training.loop.train_genome`), or ``"record"`` it — that
        candidate is frozen, its result has ``error`` set, NaN metrics and no model, and the
        others train on. Only stacked candidates can be recorded; a solo fallback always raises.
    grouping : {"cost", "none"}
        How candidates of different depths share stacks (see the module docstring): ``"cost"``
        (default) follows :func:`plan_stacks`; ``"none"`` pads every chunk to its deepest member
        (the benchmark's comparison). Results are the same either way, within float tolerance.

    Returns
    -------
    list of TrainResult
        One per genome, in input order, each with its own trained module in ``model`` and the
        genome in ``genome``. ``wall_time_s`` of stacked candidates is their group's training time
        shared evenly, plus their own test evaluation.

    Raises
    ------
    ConfigError
        A genome whose family does not fit the task, an empty population or a bad chunk size.
    TrainingError
        A candidate's loss became non-finite (the message names the candidate, epoch and step), or
        not even one candidate fits in memory.
    DeviceError
        ``config.device`` does not exist.
    """
    from search_spaces.genome import genome_from_any

    if not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig, got {type(config).__name__}")
    task = get_task(task)
    genomes = [genome_from_any(g) for g in genomes]
    if not genomes:
        raise ConfigError("train_population needs at least one genome; got an empty population")
    _check_options(on_error, chunk_size, grouping)
    for g in genomes:
        task.check_family(g.family)
    resolve_device(config.device)  # a bad device fails before the data is loaded
    if data is None:
        data = task.load(data_dir=data_dir)

    # CNNs never stack; the others are built here so a stack starts from each one's seeded weights.
    models = [build_seeded(g, task, data, config.seed) if g.family != "cnn" else None for g in genomes]
    solo = {i: train_genome(g, task, config, data=data) for i, (g, m) in enumerate(zip(genomes, models)) if m is None}
    built = [i for i, m in enumerate(models) if m is not None]
    results = dict(solo)
    if built:
        trained = train_models([models[i] for i in built], task, config, data, chunk_size=chunk_size, on_error=on_error,
                               grouping=grouping)
        results.update(zip(built, trained))
    out = []
    for i, g in enumerate(genomes):
        results[i].genome = g.to_dict()
        out.append(results[i])
    return out


def train_models(models, task, config: TrainConfig, data, chunk_size: int | None = None, on_error: str = "raise",
                 grouping: str = "cost") -> list[TrainResult]:
    """Train already built modules together, in place: those that stack (sparse or dense MLPs,
    sparse RNNs) as stacked populations, the others one after another with
    :func:`nas.training.loop.train_model`.

    The same as :func:`train_population` for modules instead of genomes: every module keeps the
    weights it has (e.g. several seeds of one architecture, or pruned copies of a network, whose
    masks the stack honours) and ends with its trained weights. ``config.seed`` seeds the batch
    order, which all candidates share. Results come in input order, without ``genome``.

    Raises
    ------
    ConfigError
        No modules, a bad ``on_error``, ``chunk_size`` or ``grouping``.
    TrainingError, DeviceError
        As :func:`train_population`.
    """
    if not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig, got {type(config).__name__}")
    task = get_task(task)
    models = list(models)
    if not models:
        raise ConfigError("train_models needs at least one module; got none")
    _check_options(on_error, chunk_size, grouping)
    device = resolve_device(config.device)
    results: dict[int, TrainResult] = {}
    kinds: dict[str, list[tuple[int, torch.nn.Module]]] = {}
    for i, model in enumerate(models):
        kind = _stack_kind(model, task)
        if kind is None:
            results[i] = train_model(model, data, task, config)
        else:
            kinds.setdefault(kind, []).append((i, model))
    if kinds:
        check_augment(config, tuple(data.train.x.shape[1:]))
        prepared = prepare_data(data, config, device)
        truncate = truncates(prepared.train, prepared.info)
        reserved = sum(t.numel() * t.element_size() for t in (prepared.train.x, prepared.val.x)) if device.type == "cuda" else 0
        steps = int(prepared.train.x.shape[1]) if prepared.train.lengths is not None else 1
        for kind, members in sorted(kinds.items()):
            # Similar candidates side by side, so a chunk pads to similar depths and widths.
            members.sort(key=lambda item: (len(item[1].layer_widths), sum(item[1].layer_widths)))
            if grouping == "cost":
                groups = [[members[k] for k in g] for g in plan_stacks([m for _, m in members], config.batch_size, device)]
            else:
                groups = [members]
            for group in groups:
                for chunk in _chunks(group, config, device, chunk_size, reserved, steps):
                    chunk_models = [m for _, m in chunk]
                    stacked = StackedRecurrent if kind.startswith("rnn") else StackedFeedForward
                    stack = stacked(chunk_models, device)
                    results.update(train_stack(stack, chunk_models, [i for i, _ in chunk], prepared, task, config, device,
                                               on_error, truncate))
    return [results[i] for i in range(len(models))]
