"""The dataset value every task trains on: tensors that can live wholly on the training device.

There is no per-batch Python loader: a :class:`Dataset` is three :class:`Split` objects of
tensors; the training loop moves them to the device once and shuffles indices there.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

__all__ = ["Split", "Dataset"]


@dataclass(frozen=True)
class Split:
    """Inputs ``x``, targets ``y`` and, for sequences, the true ``lengths`` (before padding)."""

    x: torch.Tensor
    y: torch.Tensor
    lengths: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device) -> "Split":
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Split(move(self.x), move(self.y), move(self.lengths))

    def subset(self, index) -> "Split":
        """Rows ``index`` (a slice, an index tensor or a boolean mask)."""
        return Split(self.x[index], self.y[index], None if self.lengths is None else self.lengths[index])


@dataclass(frozen=True)
class Dataset:
    """A task's data: train / validation / test splits plus what a model needs to know.

    Attributes
    ----------
    name : str
        Dataset name, e.g. ``"mnist"``.
    train, val, test : Split
        ``val`` is carved from the training files with a seeded split; ``test`` is the official
        test set (or a generated held-out set).
    num_classes : int
        Number of output classes (for next-symbol prediction: the alphabet size).
    input_shape : tuple of int
        Shape of one example's input, e.g. ``(784,)``, ``(3, 32, 32)`` or ``(T,)`` for symbol
        sequences.
    info : dict
        Provenance, all JSON-serialisable: ``data_dir``, ``files``, ``normalisation``,
        ``split_seed``, ``test_examples`` (how many test examples are used), ``test_expected``
        (how many the full test set has), ``partial`` (True when a truncated file was accepted
        with ``allow_partial``), and for sequences ``vocab``/``encoding``/``padding``.
    """

    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    input_shape: tuple[int, ...]
    info: dict[str, Any] = field(default_factory=dict)

    def to(self, device) -> "Dataset":
        return replace(self, train=self.train.to(device), val=self.val.to(device), test=self.test.to(device))

    def subset(self, train: int | None = None, val: int | None = None, test: int | None = None) -> "Dataset":
        """The first ``train``/``val``/``test`` examples of each split (for quick runs and tests)."""
        cut = lambda s, n: s if n is None else s.subset(slice(0, n))  # noqa: E731
        info = dict(self.info)
        if test is not None:
            info["test_examples"] = min(test, len(self.test))
        return replace(self, train=cut(self.train, train), val=cut(self.val, val), test=cut(self.test, test), info=info)
