"""The Reber tasks as :class:`~nas.datasets.base.Dataset` objects (see ``docs/reber.md``).

* ``reber`` — :func:`reber_classification_dataset`: the paper's binary classification of valid
  vs invalid plain Reber strings. Invalid strings are mostly *hard negatives* over the Reber
  alphabet (one substitution, insertion, deletion or swap of adjacent symbols), plus a share of
  strings holding a foreign letter. Classes are balanced, every string is distinct (so no string
  is in two splits) and the invalid strings copy the length histogram of the valid ones, so length
  alone tells nothing.
* ``embedded_reber`` — :func:`embedded_reber_dataset`: next-symbol prediction on embedded Reber
  strings; targets are the multi-hot sets of legal next symbols.

Each is its table (:mod:`nas.datasets.reber.tables`) encoded per split
(:mod:`nas.datasets.reber.encoding`).
"""

from __future__ import annotations

import pandas as pd
import torch

from nas.datasets.base import Dataset, Split
from nas.datasets.reber.encoding import (
    CLASSIFICATION_VOCAB,
    EMBEDDED_VOCAB,
    encode_strings,
    next_symbol_targets,
)
from nas.datasets.reber.negatives import CORRUPTION_KINDS
from nas.datasets.reber.options import EMBEDDED_DATASET_OPTIONS, REBER_DATASET_OPTIONS
from nas.datasets.reber.tables import (
    SPLITS,
    embedded_reber_frame,
    reber_classification_frame,
)
from nas.exceptions import ConfigError
from nas.validation import check_values

__all__ = ["reber_classification_dataset", "embedded_reber_dataset"]


def _split_tensors(frame: pd.DataFrame, build) -> dict[str, Split]:
    return {name: build(frame[frame["split"] == name]) for name in SPLITS}


def reber_classification_dataset(n: int = 25000, *, seed: int = 0, test_fraction: float = 0.25,
                                 val_fraction: float = 0.1, min_length: int = 11, max_length: int = 53,
                                 hard_negative_share: float = 0.9, encoding: str = "index",
                                 padding: str = "end", max_len: int | None = None) -> Dataset:
    """The paper's task: classify plain Reber strings as valid (1) or invalid (0).

    Parameters
    ----------
    n : int
        Number of strings, even; half valid, half invalid, all distinct.
    seed : int
        Seed of every draw (strings, corruptions, splits, order).
    test_fraction : float
        Share of each class in the test split (paper: 0.25).
    val_fraction : float
        Share of each class's remaining strings carved out as validation (0 gives an empty split).
    min_length, max_length : int
        Length range of the valid strings (paper: 11–53); invalid strings copy their lengths.
    hard_negative_share : float
        Share of invalid strings that are hard negatives over the Reber alphabet, spread evenly over
        substitution, insertion, deletion and swap; the rest hold one foreign letter.
    encoding : {"index", "onehot"}
        ``x`` as int64 ``(N, T)`` indices (0 = padding) or float32 one-hot ``(N, T, V)``,
        ``V = len(vocab) - 1 = 12``.
    padding : {"end", "start"}
        Where the padding goes (paper: end).
    max_len : int, optional
        ``T``; default ``max_length``, the same for every seed.

    Returns
    -------
    Dataset
        ``name="reber"``, ``y`` int64 ``(N,)``, ``lengths`` int64 ``(N,)``, ``num_classes=2``,
        ``input_shape=(T,)`` or ``(T, V)``; ``info`` holds ``vocab``, ``encoding``, ``padding``,
        ``seed``, ``negative_kinds`` (counts over all splits), ``negative_kinds_by_split``,
        ``test_examples``, ``test_expected`` and ``partial=False``.

    Raises
    ------
    ConfigError
        On any bad argument (the message names it and what is allowed), or a length range with
        too few distinct strings (:class:`~nas.datasets.reber.grammar.GrammarCapacityError`).

    Examples
    --------
    >>> data = reber_classification_dataset(200, seed=1, min_length=11, max_length=20)
    >>> len(data.train), len(data.val), len(data.test), data.input_shape
    (134, 16, 50, (20,))
    """
    check_values("reber", dict(encoding=encoding, padding=padding, max_len=max_len), REBER_DATASET_OPTIONS)
    frame = reber_classification_frame(n, seed=seed, test_fraction=test_fraction, val_fraction=val_fraction,
                                       min_length=min_length, max_length=max_length,
                                       hard_negative_share=hard_negative_share)
    width = max_length if max_len is None else int(max_len)
    if width < max_length:
        raise ConfigError(f"max_len must be >= max_length={max_length} (the longest string), got max_len={max_len}")

    def build(part: pd.DataFrame) -> Split:
        x, lengths = encode_strings(part["string"], CLASSIFICATION_VOCAB, encoding=encoding, padding=padding,
                                    max_len=width)
        return Split(x, torch.tensor(part["label"].to_numpy(), dtype=torch.int64), lengths)

    splits = _split_tensors(frame, build)
    negatives = frame[frame["label"] == 0]
    info = {
        "generator": "reber_classification",
        "vocab": list(CLASSIFICATION_VOCAB),
        "encoding": encoding,
        "padding": padding,
        "seed": seed,
        "split_seed": seed,
        "min_length": min_length,
        "max_length": max_length,
        "max_len": width,
        "hard_negative_share": float(hard_negative_share),
        "negative_kinds": {k: int((negatives["negative_kind"] == k).sum()) for k in CORRUPTION_KINDS},
        "negative_kinds_by_split": {
            name: {k: int(((negatives["split"] == name) & (negatives["negative_kind"] == k)).sum())
                   for k in CORRUPTION_KINDS}
            for name in SPLITS
        },
        "test_examples": len(splits["test"]),
        "test_expected": len(splits["test"]),
        "partial": False,
    }
    input_shape = (width,) if encoding == "index" else (width, len(CLASSIFICATION_VOCAB) - 1)
    return Dataset("reber", splits["train"], splits["val"], splits["test"], num_classes=2,
                   input_shape=input_shape, info=info)


def embedded_reber_dataset(n: int = 10000, *, seed: int = 0, test_fraction: float = 0.25,
                           val_fraction: float = 0.1, encoding: str = "index", padding: str = "end",
                           max_len: int | None = None, min_length: int = 9, max_length: int = 32) -> Dataset:
    """Next-symbol prediction on embedded Reber strings.

    ``x`` is each string without its last symbol; at step ``t`` the target is the multi-hot set
    of symbols that may follow ``s[:t + 1]`` (train with a per-symbol sigmoid / binary
    cross-entropy over non-padded steps). The metric is described in ``docs/reber.md``.

    Parameters
    ----------
    n : int
        Number of distinct strings, half on each branch (``T``/``P``).
    seed, test_fraction, val_fraction, encoding, padding
        As in :func:`reber_classification_dataset` (fractions of all strings, not per class).
    max_len : int, optional
        ``T`` of ``x`` and ``y``; default ``max_length - 1``.
    min_length, max_length : int
        Length range of the whole embedded strings (``>= 9``); lengths are spread evenly.

    Returns
    -------
    Dataset
        ``name="embedded_reber"``; ``x`` int64 ``(N, T)`` (0 = padding, indices of
        :data:`EMBEDDED_VOCAB`) or float32 one-hot ``(N, T, 7)``; ``y`` float32 ``(N, T, 7)``,
        column ``j`` = symbol ``vocab[j + 1]`` (= index ``j + 1`` of ``x``), zeros at padding;
        ``lengths`` = number of input steps; ``num_classes=7``; ``info["target"] =
        "next_symbol_set"``.

    Raises
    ------
    ConfigError
        On any bad argument.
    """
    check_values("embedded_reber", dict(encoding=encoding, padding=padding, max_len=max_len), EMBEDDED_DATASET_OPTIONS)
    frame = embedded_reber_frame(n, seed=seed, test_fraction=test_fraction, val_fraction=val_fraction,
                                 min_length=min_length, max_length=max_length)
    width = max_length - 1 if max_len is None else int(max_len)
    if width < max_length - 1:
        raise ConfigError(f"max_len must be >= max_length - 1 = {max_length - 1} (the longest input), got {max_len}")

    def build(part: pd.DataFrame) -> Split:
        strings = list(part["string"])
        x, lengths = encode_strings([s[:-1] for s in strings], EMBEDDED_VOCAB, encoding=encoding,
                                    padding=padding, max_len=width)
        return Split(x, next_symbol_targets(strings, padding=padding, max_len=width), lengths)

    splits = _split_tensors(frame, build)
    num_symbols = len(EMBEDDED_VOCAB) - 1
    info = {
        "generator": "embedded_reber",
        "target": "next_symbol_set",
        "metric": "string_accuracy",
        "vocab": list(EMBEDDED_VOCAB),
        "target_symbols": list(EMBEDDED_VOCAB[1:]),
        "encoding": encoding,
        "padding": padding,
        "seed": seed,
        "split_seed": seed,
        "min_length": min_length,
        "max_length": max_length,
        "max_len": width,
        "test_examples": len(splits["test"]),
        "test_expected": len(splits["test"]),
        "partial": False,
    }
    input_shape = (width,) if encoding == "index" else (width, num_symbols)
    return Dataset("embedded_reber", splits["train"], splits["val"], splits["test"], num_classes=num_symbols,
                   input_shape=input_shape, info=info)
