"""Cohort training: many sparse candidates trained *together*, each exactly as if alone.

Small sparse networks leave a GPU (and even a CPU core) idle; the cost of training one is launches
and memory traffic, not FLOPs. So candidates are stacked, the candidate first on every tensor:

* feed-forward (``ff``): per layer one ``(P, out, in)`` weight and one batched matmul
  (:mod:`.ff`);
* recurrent (``rnn:tanh|relu|gru|lstm``): per DAG level one batched recurrence over all
  candidates and all the level's skip layers (:mod:`.rnn`), candidates of one cell per stack;
* random-wired CNNs (``cnn``): per DAG layer one grouped convolution over all candidates' vertices
  (:mod:`.cnn`), candidates of one channel layout per stack;

which candidates share a stack is planned by a step-cost model (:mod:`.planner`), each planned
group is cut into chunks that fit in memory (:mod:`.memory`), and every stack is trained by the
one stacked loop (:mod:`.loop`). Feed-forward models with layer norm (and any other module) are
trained one after another (:func:`nas.training.loop.train_model`).

Out of device memory (``torch.OutOfMemoryError``) while a stack trains, the stack is split in
halves and each half trained again from its candidates' untouched weights; a single candidate that
still does not fit is retried with half the batch size (down to 8). Each such change is logged
and written to the affected results' ``notes``; the halved batch is in their ``config``.

:func:`train_cohort` takes genomes; :func:`train_models` takes modules already built — several
seeds of one network, or pruned copies of one: the stacks read each module's masks.
"""

from __future__ import annotations

import logging

import torch

from nas.exceptions import ConfigError, TrainingError
from nas.training.batches import check_augment, truncates
from nas.training.config import TrainConfig, TrainResult
from nas.training.device import memory_format, resolve_device
from nas.training.loop import build_seeded, prepare_data, train_model
from nas.training.stacking import cnn, ff, rnn
from nas.training.stacking.cnn import StackedCNN
from nas.training.stacking.ff import StackedFeedForward
from nas.training.stacking.loop import failed_result, train_stack
from nas.training.stacking.memory import (
    MEMORY_SAFETY,
    candidate_bytes,
    choose_chunk_size,
)
from nas.training.stacking.planner import (
    GROUPINGS,
    STEP_COST,
    plan_stacks,
    step_cost,
    step_terms,
)
from nas.training.stacking.rnn import StackedRecurrent
from nas.training.tasks import get_task
from search_spaces.genome import genome_from_any

__all__ = [
    "train_cohort", "train_models", "StackedFeedForward", "StackedRecurrent", "StackedCNN", "choose_chunk_size", "candidate_bytes",
    "plan_stacks", "step_cost", "step_terms", "MEMORY_SAFETY", "STEP_COST", "GROUPINGS",
]

log = logging.getLogger(__name__)


#: The smallest batch an out-of-memory retry shrinks a single candidate's batch to.
MIN_OOM_BATCH = 8


def _stack_kind(model, task) -> str | None:
    """Which stack ``model`` can join (``"ff"``, ``"rnn:<cell>"`` or a CNN's :func:`cnn.stack_key`),
    or None to train it alone."""
    if task.target == "class" and not task.sequence and cnn.stackable(model):
        return cnn.stack_key(model)
    if task.target == "class" and not task.sequence and ff.stackable(model):
        return "ff"
    if task.sequence and rnn.stackable(model):
        return f"rnn:{model.cell}"
    return None


def _chunks(group, config: TrainConfig, device, chunk_size, reserved: int, steps: int, image_size: int):
    """``group`` cut into chunks that fit in memory (logged when memory forces a split)."""
    per = candidate_bytes([m for _, m in group], config, steps=steps, image_size=image_size)
    size = chunk_size or choose_chunk_size(per, device, reserved=reserved)
    if chunk_size is None and size < len(group):
        log.info("a stack of %d candidates does not fit in memory (about %.1f MiB each); training it in %d chunks",
                 len(group), per / 2**20, -(-len(group) // size))
    return [group[start:start + size] for start in range(0, len(group), size)]


def _make_stack(kind: str, models, device, config: TrainConfig, x: torch.Tensor):
    if kind.startswith("cnn"):
        return StackedCNN(models, device, memory_format=memory_format(config, x))
    return (StackedRecurrent if kind.startswith("rnn") else StackedFeedForward)(models, device)


def _train_chunk(kind: str, chunk, data, task, config: TrainConfig, device, on_error: str, truncate: bool,
                 notes: tuple[str, ...] = ()) -> dict[int, TrainResult]:
    """Train one chunk as a stack; out of device memory, split it (or halve a single candidate's
    batch) and train again, each retry from the modules' weights before this try."""
    models, indices = [m for _, m in chunk], [i for i, _ in chunk]
    before = [{k: v.detach().to("cpu", copy=True) for k, v in m.state_dict().items()} for m in models]
    try:
        stack = _make_stack(kind, models, device, config, data.train.x)
        results = train_stack(stack, models, indices, data, task, config, device, on_error, truncate)
    except torch.OutOfMemoryError:
        stack = None
        for model, state in zip(models, before):
            model.load_state_dict(state)
        if device.type == "cuda":
            torch.cuda.empty_cache()
        if len(chunk) > 1:
            half = len(chunk) // 2
            note = (f"out of {device.type} memory in a stack of {len(chunk)} candidates; trained as stacks of "
                    f"{half} and {len(chunk) - half}")
            log.warning(note)
            return {**_train_chunk(kind, chunk[:half], data, task, config, device, on_error, truncate, notes + (note,)),
                    **_train_chunk(kind, chunk[half:], data, task, config, device, on_error, truncate, notes + (note,))}
        if config.batch_size // 2 < MIN_OOM_BATCH:
            message = (f"out of {device.type} memory training candidate {indices[0]} alone at batch size "
                       f"{config.batch_size}; expected it to fit at batch size >= {MIN_OOM_BATCH}")
            if on_error == "raise":
                raise TrainingError(message) from None
            return {indices[0]: failed_result(task, config, device, data, models[0], message, 0, 0, [])}
        smaller = config.replace(batch_size=config.batch_size // 2,
                                 eval_batch_size=max(config.eval_batch_size // 2, MIN_OOM_BATCH))
        note = (f"out of {device.type} memory training candidate {indices[0]} at batch size {config.batch_size}; "
                f"trained at batch size {smaller.batch_size}")
        log.warning(note)
        return _train_chunk(kind, chunk, data, task, smaller, device, on_error, truncate, notes + (note,))
    for result in results.values():
        result.notes.extend(notes)
    return results


def _check_options(on_error: str, chunk_size, grouping: str) -> None:
    if on_error not in ("raise", "record"):
        raise ConfigError(f"on_error = {on_error!r}; expected 'raise' or 'record'")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ConfigError(f"chunk_size = {chunk_size!r}; expected an integer >= 1 or None")
    if grouping not in GROUPINGS:
        raise ConfigError(f"grouping = {grouping!r}; expected one of {list(GROUPINGS)}")


def train_cohort(genomes, task, config: TrainConfig, data=None, data_dir=None, chunk_size: int | None = None,
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
        Most candidates per stack; by default chosen from the device's free memory (a cohort
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
        CNNs: ``"cost"`` stacks them on a GPU and trains each as its own stack on a CPU (where a
        stack measured slower); ``"none"`` stacks them everywhere.

    Returns
    -------
    list of TrainResult
        One per genome, in input order, each with its own trained module in ``model`` and the
        genome in ``genome``. ``wall_time_s`` of stacked candidates is their group's training time
        shared evenly, plus their own test evaluation.

    Raises
    ------
    ConfigError
        A genome whose family does not fit the task, an empty cohort or a bad chunk size.
    TrainingError
        A candidate's loss became non-finite (the message names the candidate, epoch and step), or
        not even one candidate fits in memory.
    DeviceError
        ``config.device`` does not exist.
    """
    if not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig, got {type(config).__name__}")
    task = get_task(task)
    genomes = [genome_from_any(g) for g in genomes]
    if not genomes:
        raise ConfigError("train_cohort needs at least one genome; got an empty cohort")
    _check_options(on_error, chunk_size, grouping)
    for g in genomes:
        task.check_family(g.family)
    resolve_device(config.device)  # a bad device fails before the data is loaded
    if data is None:
        data = task.load(data_dir=data_dir)

    # Built here, so a stack starts from each one's seeded weights (as its solo run would).
    models = [build_seeded(g, task, data, config.seed) for g in genomes]
    results = dict(enumerate(train_models(models, task, config, data, chunk_size=chunk_size, on_error=on_error,
                                          grouping=grouping)))
    out = []
    for i, g in enumerate(genomes):
        results[i].genome = g.to_dict()
        out.append(results[i])
    return out


def train_models(models, task, config: TrainConfig, data, chunk_size: int | None = None, on_error: str = "raise",
                 grouping: str = "cost") -> list[TrainResult]:
    """Train already built modules together, in place: those that stack (sparse or dense MLPs,
    sparse RNNs) as stacked cohorts, the others one after another with
    :func:`nas.training.loop.train_model`.

    The same as :func:`train_cohort` for modules instead of genomes: every module keeps the
    weights it has (e.g. several seeds of one architecture, or pruned copies of a network, whose
    masks the stack honours) and ends with its trained weights. ``config.seed`` seeds the batch
    order, which all candidates share. Results come in input order, without ``genome``.

    Raises
    ------
    ConfigError
        No modules, a bad ``on_error``, ``chunk_size`` or ``grouping``.
    TrainingError, DeviceError
        As :func:`train_cohort`.
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
        image_size = int(prepared.train.x.shape[-1]) if prepared.train.x.dim() == 4 else 32
        for kind, members in sorted(kinds.items()):
            # Similar candidates side by side, so a stack pads to similar depths and widths.
            members.sort(key=lambda item: (len(item[1].layer_sizes), sum(item[1].layer_sizes)))
            if kind.startswith("cnn"):
                # Cut where padding would cost more than cnn.PADDING_WASTE. On a CPU a CNN's step
                # is its convolutions' arithmetic, which stacking does not cut: there each
                # candidate is its own stack (measured 0.90x the throughput as one stack).
                # grouping="none": one stack per memory chunk.
                if grouping == "none":
                    groups = [members]
                elif device.type == "cpu":
                    groups = [[m] for m in members]
                else:
                    groups = [[members[k] for k in g] for g in cnn.plan_stacks([m for _, m in members])]
            elif grouping == "cost":
                groups = [[members[k] for k in g] for g in plan_stacks([m for _, m in members], config.batch_size, device)]
            else:
                groups = [members]
            for group in groups:
                for chunk in _chunks(group, config, device, chunk_size, reserved, steps, image_size):
                    results.update(_train_chunk(kind, chunk, prepared, task, config, device, on_error, truncate))
    return [results[i] for i in range(len(models))]
