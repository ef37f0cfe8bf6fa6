"""How an epoch is cut into batches, on the device: shuffling, length buckets and augmentation.

Both loops (:mod:`nas.training.loop` and the stacked loop) draw their batches here, so a
candidate trained alone and inside a stack sees the same examples in the same order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from nas.exceptions import ConfigError, DataError
from nas.training.config import TrainConfig

#: Zero padding of ``crop_flip`` on each side (the usual CIFAR-10 choice: 4 pixels).
CROP_PAD = 4


def epoch_order(num_examples: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """A random permutation of the training examples, drawn on ``device``."""
    return torch.randperm(num_examples, generator=generator, device=device)


def make_generator(seed: int, device: torch.device) -> torch.Generator:
    """The shuffling generator for ``device``, seeded once."""
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


def make_augment_generator(config: TrainConfig, device: torch.device) -> torch.Generator | None:
    """The augmentation generator (None without augmentation), seeded apart from the shuffling one."""
    if config.augment == "none":
        return None

    return make_generator(int(np.random.SeedSequence([config.seed, 1]).generate_state(1)[0]), device)


def check_augment(config: TrainConfig, input_shape) -> None:
    """Raise ConfigError when ``config.augment`` or ``config.eval_flip`` cannot apply to examples of ``input_shape``."""
    asked = [name for name, on in (("augment='crop_flip'", config.augment == "crop_flip"),
                                   ("eval_flip=True", config.eval_flip)) if on]
    if asked and len(tuple(input_shape)) != 3:
        raise ConfigError(
            f"{' and '.join(asked)} needs image examples (channels, height, width); this task's examples have shape "
            f"{tuple(input_shape)}"
        )


def eval_forward(forward, x: torch.Tensor, lengths, config: TrainConfig) -> torch.Tensor:
    """``forward(x, lengths)`` as fp32 logits; with ``config.eval_flip`` the mean of the logits of
    ``x`` and of its horizontal mirror (images ``(B, C, H, W)``)."""
    out = forward(x, lengths).float()
    if config.eval_flip:
        out = (out + forward(x.flip(-1), lengths).float()) / 2
    return out


def augment_batch(x: torch.Tensor, kind: str, generator: torch.Generator | None) -> torch.Tensor:
    """Augment a training batch ``x`` of shape ``(B, C, H, W)`` on its device (see ``TrainConfig.augment``)."""
    if kind == "none" or generator is None:
        return x
    B, _, H, W = x.shape
    device = x.device
    padded = torch.nn.functional.pad(x, (CROP_PAD,) * 4)
    top = torch.randint(0, 2 * CROP_PAD + 1, (B,), generator=generator, device=device)
    left = torch.randint(0, 2 * CROP_PAD + 1, (B,), generator=generator, device=device)
    flip = torch.rand(B, generator=generator, device=device) < 0.5
    rows = top[:, None] + torch.arange(H, device=device)
    cols = left[:, None] + torch.arange(W, device=device)
    cols = torch.where(flip[:, None], cols.flip(1), cols)  # a mirrored crop reads its columns backwards
    # Advanced indices around the channel slice: the result is (B, H, W, C).
    out = padded[torch.arange(B, device=device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


def total_steps(num_examples: int, config: TrainConfig) -> int:
    """Optimizer steps the budget allows (epochs × batches per epoch, capped by ``max_steps``)."""
    steps = config.epochs * math.ceil(num_examples / config.batch_size)
    return steps if config.max_steps is None else min(steps, config.max_steps)


# --- sequences: length buckets and truncation ----------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """One batch: example indices (on the device) and the time steps to keep (None: all)."""

    index: torch.Tensor
    steps: int | None = None


def check_lengths(split, name: str = "split") -> None:
    """Raise DataError unless every sequence length of ``split`` lies in ``1..T`` (its padded length).

    An empty sequence has no last step to read, and a length beyond ``T`` would silently wrap
    around when the last step is gathered, so both loops check their data once, up front.
    """
    if split.lengths is None or len(split) == 0:
        return
    if tuple(split.lengths.shape) != (len(split),):
        raise DataError(f"the {name} split has {len(split)} sequences but lengths of shape {tuple(split.lengths.shape)}; "
                        f"expected ({len(split)},)")
    steps = int(split.x.shape[1])
    low, high = int(split.lengths.min()), int(split.lengths.max())
    if low < 1 or high > steps:
        raise DataError(f"sequence lengths of the {name} split must lie in 1..{steps} (the padded length); "
                        f"got min {low}, max {high}")


def truncates(split, data_info: dict | None = None) -> bool:
    """True when ``split`` holds sequences padded at the end, so a batch may drop its trailing
    all-padding steps without changing any valid step."""
    return split.lengths is not None and (data_info or {}).get("padding", "end") == "end"


def _batch_steps(lengths: torch.Tensor, order: torch.Tensor, batch_size: int) -> list[int]:
    """The longest sequence of each batch of ``order`` (one host transfer for the whole epoch)."""
    n = order.shape[0]
    count = -(-n // batch_size)
    ordered = torch.zeros(count * batch_size, dtype=lengths.dtype, device=lengths.device)
    ordered[:n] = lengths[order]
    return ordered.view(count, batch_size).amax(dim=1).tolist()


def epoch_batches(split, config: TrainConfig, generator: torch.Generator, device: torch.device,
                  truncate: bool = False) -> list[Batch]:
    """The batches of one training epoch, in order.

    A permutation of the examples is drawn from ``generator`` (:func:`epoch_order`) and cut into
    ``config.batch_size`` batches. For sequences (``truncate``) with ``config.bucket_batches > 1``
    the permutation is first cut into pools of that many batches, each pool is sorted by length
    (stable), and the order of the resulting batches is shuffled with a second draw, so a batch
    holds sequences of similar length and its padded steps are few. With ``truncate`` each batch
    keeps only the steps up to its longest sequence. Solo and cohort training call this with
    generators seeded alike, so they see the same batches.

    Returns
    -------
    list of Batch
    """
    n = len(split)
    order = epoch_order(n, generator, device)
    size = config.batch_size
    if not truncate:
        return [Batch(order[start:start + size]) for start in range(0, n, size)]
    lengths = split.lengths
    if config.bucket_batches > 1:
        pool = torch.arange(n, device=device) // (size * config.bucket_batches)
        key = pool * (int(lengths.max()) + 1) + lengths[order]
        order = order[torch.sort(key, stable=True).indices]
    steps = _batch_steps(lengths, order, size)
    batches = [Batch(order[start:start + size], int(steps[k])) for k, start in enumerate(range(0, n, size))]
    if config.bucket_batches > 1:
        batches = [batches[k] for k in torch.randperm(len(batches), generator=generator, device=device).tolist()]
    return batches


def eval_batches(split, batch_size: int, truncate: bool = False) -> list[Batch]:
    """Evaluation batches: in order, or sorted by length and truncated for end-padded sequences.

    The order never changes a metric (counts are summed); a loss that is a mean over valid steps
    within a batch (``embedded_reber``) is averaged over batches weighted by sequences, so its
    value depends slightly on which sequences share a batch."""
    n = len(split)
    device = split.x.device
    if not truncate:
        return [Batch(torch.arange(start, min(start + batch_size, n), device=device)) for start in range(0, n, batch_size)]
    order = torch.sort(split.lengths, stable=True).indices
    steps = _batch_steps(split.lengths, order, batch_size)
    return [Batch(order[start:start + batch_size], int(steps[k])) for k, start in enumerate(range(0, n, batch_size))]


def take(split, batch: Batch, augment: str = "none",
         generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(x, y, lengths)`` of ``batch``; with ``batch.steps`` the time axis of ``x`` (and of a
    per-step ``y``) is cut to that many steps; ``x`` augmented as ``augment`` says (training)."""
    x, y = split.x[batch.index], split.y[batch.index]
    lengths = None if split.lengths is None else split.lengths[batch.index]
    if batch.steps is not None and batch.steps < x.shape[1]:
        if y.dim() == 3:  # per-step targets (B, T, V), as next-symbol prediction has
            y = y[:, :batch.steps]
        x = x[:, :batch.steps]
    return augment_batch(x, augment, generator), y, lengths


def padded_step_fraction(split, batches: list[Batch]) -> float:
    """Share of the computed time steps (batch size × kept steps) that are padding."""
    if split.lengths is None or not batches:
        return 0.0
    width = split.x.shape[1]
    computed = sum(b.index.shape[0] * (b.steps if b.steps is not None else width) for b in batches)
    valid = int(split.lengths.sum())
    return 1.0 - valid / computed if computed else 0.0
