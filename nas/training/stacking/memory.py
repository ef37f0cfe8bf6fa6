"""How many candidates a stack may hold: a footprint estimate against the device's free memory.

Each planned group is cut into chunks whose estimated footprint (parameters, gradients,
optimizer state, snapshots, activations) fits in a safety share of the device's free memory
(``torch.cuda.mem_get_info`` on GPU, ``MemAvailable`` on CPU). A cohort that does not fit is
split into more chunks, never dropped; only a single candidate too large for the device is an
error.
"""

from __future__ import annotations

from typing import Sequence

import torch

from nas.exceptions import TrainingError
from nas.training.config import TrainConfig
from nas.training.device import free_memory_bytes
from nas.training.stacking import cnn
from nas.training.stacking.ff import padded_widths
from nas.training.stacking.planner import (
    block_widths,
    is_recurrent,
    level_shapes,
    padded_entries,
    rnn_dims,
    rnn_shape,
)
from nas.training.stacking.schedule import current_schedule

__all__ = ["candidate_bytes", "cnn_bytes", "choose_chunk_size", "MEMORY_SAFETY"]

#: Share of the device's free memory a cohort chunk may plan to use.
MEMORY_SAFETY = 0.5


def candidate_bytes(models: Sequence[torch.nn.Module], config: TrainConfig, steps: int = 1, image_size: int = 32) -> int:
    """Estimated device bytes one candidate needs while training in a stack of ``models``.

    Per parameter entry (padded to the stack): weight, mask, gradient, two optimizer states, best
    snapshot, pre-step copy and the masked weight of the forward (8 floats).

    Feed-forward: per example of a batch, each layer's pre-activation, activation and gradient (3
    floats per unit), also for the fan-out skip layers (see
    :class:`~nas.training.stacking.ff.StackedFeedForward`).

    Random-wired CNN (``image_size``: the input's height): :func:`cnn_bytes`.

    Recurrent (``steps``: the padded sequence length): the parameters of the stack's union layout
    (every level padded to its widest candidate, a block for every skip source), and per example
    and time step what the wavefront (:mod:`.wavefront`) keeps of the candidate's own blocks for
    the backward pass — each block's state, activated gates and the GRU's recurrent projection
    (``(2 + G)`` floats per unit) and the level output it read (the widest level ``W``) — plus
    every level's output and its gradient (``2 L W``) and level 0's input projection, all doubled
    for temporaries; evaluation batches keep the level outputs of every step but their blocks'
    state for one step only. The level-by-level schedule (benchmarks only) computes and keeps every
    union block: per gate unit about 5 floats (its projections, gates and their gradients). The
    compiled CPU steps (:mod:`.compiled`) keep less (level outputs at each candidate's own widths,
    no gathered inputs): for them this is an upper bound.
    """
    model = models[0]
    if cnn.stackable(model):
        return cnn_bytes(models, config, image_size)
    if is_recurrent(model):
        gates, first_input, classes = rnn_dims(model)
        widths, sources = rnn_shape(models)
        shapes = level_shapes(widths, sources, first_input)
        entries = sum(gates * w * (inputs + k * (w + 2)) for k, w, inputs in shapes) + classes * (widths[-1] + 1)
        entries += model.embedding.weight.numel() if getattr(model, "embedding", None) is not None else 0
        if current_schedule() == "levels":  # every union block of every level, every step kept
            train = sum(5 * gates * k * w + 2 * k * w + 2 * inputs for k, w, inputs in shapes)
            evaluation = sum(3 * gates * k * w + 2 * k * w + inputs for k, w, inputs in shapes)
            return 4 * (8 * entries + steps * (2 * train * config.batch_size + evaluation * config.eval_batch_size))
        W, L = max(widths), len(widths)
        blocks = sum((2 + gates) * w + W for m in models for w in block_widths(m)) / len(models)
        level0 = gates * W + first_input
        train = steps * (blocks + 2 * L * W + level0)
        evaluation = steps * (L * W + level0) + 2 * blocks  # the wavefront keeps one step of its blocks
        return int(4 * (8 * entries + 2 * train * config.batch_size + evaluation * config.eval_batch_size))
    widths = padded_widths(models)
    skip_sources = sorted({s for m in models for s, _ in m.skip_pairs})
    classes = model.output_layer.out_features
    entries, tails = padded_entries(widths, skip_sources, model.input_layer.in_features, classes)
    total = sum(widths)
    # Fan-out outputs and the padded running sum of pending skip outputs, per source.
    units = total + classes + 2 * sum(tails) + len(skip_sources) * total
    return 4 * (8 * entries + 3 * units * max(config.batch_size, config.eval_batch_size))


def cnn_bytes(models: Sequence[torch.nn.Module], config: TrainConfig, image_size: int = 32) -> int:
    """Estimated device bytes of one random-wired CNN candidate in a stack of ``models``.

    Parameter entries as :func:`candidate_bytes` (8 floats each). Activations per example: every
    vertex output of every layer kept for the backward pass — its summed input, ReLU, depthwise
    and pointwise convolution, BatchNorm output and the sum's temporaries (6 tensors), and their
    gradients (×2); evaluation keeps about 2 per vertex.
    """
    widths = cnn.padded_layers(models)
    first = models[0]
    separable = first.separable
    entries, train, evaluation = 0, 0, 0
    size = image_size
    entries += first.stem[0].weight.numel() + 4 * first.channels[0] + first.output_layer.weight.numel()
    for k, c in enumerate(first.channels):
        cin = first.channels[max(k - 1, 0)]
        size = size // (first.first_stride if k == 0 else 2) or 1
        total = sum(widths)
        entries += 2 * total * total
        for layer, w in enumerate(widths):
            c_in = cin if layer == 0 else c
            entries += w * (c_in * 9 + c * c_in if separable else c * c_in * 9) + 4 * w * c
            # layer 0 also holds its inputs (the stage input once per vertex) at the input's resolution
            train += 2 * 6 * w * c * size * size + (2 * 2 * w * c_in * 4 * size * size if layer == 0 else 0)
            evaluation += 2 * w * c * size * size
    return 4 * (8 * entries + max(train * config.batch_size, evaluation * config.eval_batch_size))


def choose_chunk_size(per_candidate: int, device: torch.device, reserved: int = 0, safety: float = MEMORY_SAFETY) -> int:
    """How many candidates fit in ``safety`` × free memory of ``device`` after ``reserved`` bytes.

    Raises
    ------
    TrainingError
        Not even one candidate fits; the message gives both figures.
    """
    free = free_memory_bytes(device)
    usable = safety * free - reserved
    if per_candidate > usable:
        raise TrainingError(
            f"a cohort cannot fit even one candidate on {device}: one needs about {per_candidate / 2**20:.1f} MiB, "
            f"{safety:.0%} of the free {free / 2**20:.1f} MiB minus {reserved / 2**20:.1f} MiB of data leaves "
            f"{max(usable, 0) / 2**20:.1f} MiB"
        )
    return max(1, int(usable // per_candidate))
