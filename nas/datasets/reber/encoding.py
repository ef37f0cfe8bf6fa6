"""Reber strings as tensors: the vocabularies, index or one-hot encoding, next-symbol targets.

Vocabulary: index 0 is padding, 1..7 are ``B T P S X V E`` in both tasks, then (classification
only) the foreign letters. One-hot encodings drop the padding column: column ``j`` is symbol
``vocab[j + 1]`` and padding is an all-zero row; the next-symbol targets use the same columns.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch

from nas.datasets.reber.grammar import ALPHABET, legal_sets
from nas.datasets.reber.negatives import FOREIGN_LETTERS
from nas.exceptions import ConfigError
from nas.validation import Interval, Options, check_values

__all__ = [
    "PAD",
    "CLASSIFICATION_VOCAB",
    "EMBEDDED_VOCAB",
    "ENCODINGS",
    "PADDINGS",
    "ENCODING_OPTIONS",
    "encode_strings",
    "next_symbol_targets",
]

PAD = "<pad>"
CLASSIFICATION_VOCAB: tuple[str, ...] = (PAD, *ALPHABET, *FOREIGN_LETTERS)
EMBEDDED_VOCAB: tuple[str, ...] = (PAD, *ALPHABET)
ENCODINGS = ("index", "onehot")
PADDINGS = ("end", "start")
#: The encoding options, one rule each (shared by both datasets' option tables).
ENCODING_OPTIONS = {"encoding": Options(ENCODINGS), "padding": Options(PADDINGS),
                    "max_len": [Interval(Integral, 1, None), None]}


def _lookup_table(vocab) -> np.ndarray:
    table = np.full(256, -1, dtype=np.int64)
    for index, symbol in enumerate(vocab):
        if index:
            table[ord(symbol)] = index
    return table


def _positions(lengths: np.ndarray, width: int, padding: str) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every symbol of the concatenated strings in a (N, width) padded matrix."""
    total = int(lengths.sum())
    rows = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    cols = np.arange(total) - starts
    if padding == "start":
        cols = cols + np.repeat(width - lengths, lengths)
    return rows, cols


def encode_strings(strings, vocab, *, encoding: str = "index", padding: str = "end",
                   max_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Symbol strings as a padded tensor.

    Parameters
    ----------
    strings : sequence of str
    vocab : sequence of str
        ``vocab[0]`` is padding; symbol ``vocab[i]`` gets index ``i``.
    encoding : {"index", "onehot"}
        ``"index"``: int64 ``(N, T)`` of indices, 0 = padding. ``"onehot"``: float32
        ``(N, T, len(vocab) - 1)``, column ``j`` = ``vocab[j + 1]``, padding an all-zero row.
    padding : {"end", "start"}
        Pad after the symbols (the paper) or before them (the last step is the last symbol).
    max_len : int, optional
        ``T``; default the longest string. Must be >= the longest string.

    Returns
    -------
    x : torch.Tensor
    lengths : torch.Tensor
        int64 ``(N,)``, the true lengths.

    Raises
    ------
    ConfigError
        On an unknown encoding/padding, a ``max_len`` shorter than a string, or a symbol outside
        ``vocab``.
    """
    check_values("encode_strings", dict(encoding=encoding, padding=padding, max_len=max_len), ENCODING_OPTIONS)
    strings = list(strings)
    lengths = np.fromiter((len(s) for s in strings), dtype=np.int64, count=len(strings))
    longest = int(lengths.max()) if len(lengths) else 0
    width = longest if max_len is None else int(max_len)
    if width < longest:
        raise ConfigError(f"max_len must be >= the longest string ({longest} symbols), got max_len={max_len}")
    joined = "".join(strings)
    try:
        raw = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError as err:
        raise ConfigError(f"strings must be ASCII symbols of the vocabulary {list(vocab[1:])}") from err
    codes = _lookup_table(vocab)[raw]
    if (codes < 0).any():
        bad = sorted({joined[i] for i in np.flatnonzero(codes < 0)})
        raise ConfigError(f"symbols {bad} are not in the vocabulary {list(vocab[1:])}")
    x = np.zeros((len(strings), width), dtype=np.int64)
    x[_positions(lengths, width, padding)] = codes
    x = torch.from_numpy(x)
    if encoding == "onehot":
        x = torch.nn.functional.one_hot(x, len(vocab))[..., 1:].to(torch.float32)
    return x, torch.from_numpy(lengths)


def next_symbol_targets(strings, *, padding: str = "end", max_len: int | None = None) -> torch.Tensor:
    """Multi-hot legal-next-symbol sets for the next-symbol task on embedded Reber strings.

    Step ``t`` of a string ``s`` (input symbol ``s[t]``, ``t < len(s) - 1``) targets the set of
    symbols that may follow ``s[:t + 1]``; column ``j`` is symbol ``EMBEDDED_VOCAB[j + 1]``.

    Returns
    -------
    torch.Tensor
        float32 ``(N, T, 7)`` with ``T = max_len`` or the longest ``len(s) - 1``; zeros at padding,
        aligned with :func:`encode_strings` of the strings minus their last symbol.

    Raises
    ------
    GrammarError
        When a string is not an embedded Reber string.
    """
    check_values("next_symbol_targets", dict(padding=padding, max_len=max_len), ENCODING_OPTIONS)
    bit = {symbol: 1 << j for j, symbol in enumerate(ALPHABET)}
    masks = []
    for s in strings:
        sets = legal_sets(s, embedded=True)[1:-1]  # after s[:1] .. s[:len-1]
        masks.extend(sum(bit[c] for c in legal) for legal in sets)
    lengths = np.fromiter((len(s) - 1 for s in strings), dtype=np.int64)
    longest = int(lengths.max()) if len(lengths) else 0
    width = longest if max_len is None else int(max_len)
    if width < longest:
        raise ConfigError(f"max_len must be >= the longest input ({longest} steps), got max_len={max_len}")
    grid = np.zeros((len(lengths), width), dtype=np.int64)
    grid[_positions(lengths, width, padding)] = masks
    y = (grid[..., None] >> np.arange(len(ALPHABET))) & 1
    return torch.from_numpy(y.astype(np.float32))
