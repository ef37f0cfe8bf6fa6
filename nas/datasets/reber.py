"""Reber grammar datasets, generated and seeded (no download).

Two tasks (see ``docs/reber.md``):

* ``reber`` — :func:`reber_classification_dataset`: the paper's binary classification of valid
  vs invalid plain Reber strings. Invalid strings are mostly *hard negatives* over the Reber
  alphabet (one substitution, insertion, deletion or swap of adjacent symbols), plus a share of
  strings holding a foreign letter. Classes are balanced, every string is distinct (so no string
  is in two splits) and the invalid strings copy the length histogram of the valid ones, so length
  alone tells nothing.
* ``embedded_reber`` — :func:`embedded_reber_dataset`: next-symbol prediction on embedded Reber
  strings; targets are the multi-hot sets of legal next symbols.

Both are plain tables first (:func:`reber_classification_frame`, :func:`embedded_reber_frame`,
one row per string, with its split), then encoded as tensors (:func:`encode_strings`), or written
to CSV (:func:`write_reber_csv`).

Vocabulary: index 0 is padding, 1..7 are ``B T P S X V E`` in both tasks, then (classification
only) the foreign letters. One-hot encodings drop the padding column: column ``j`` is symbol
``vocab[j + 1]`` and padding is an all-zero row; the next-symbol targets use the same columns.
"""

from __future__ import annotations

from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from nas.datasets.base import Dataset, Split
from nas.datasets.reber_grammar import (
    ALPHABET,
    CORRUPTION_KINDS,
    EMBEDDED_LENGTH,
    FOREIGN_LETTERS,
    MIN_REBER_LENGTH,
    REBER_LENGTH,
    GrammarCapacityError,
    check_length_range,
    legal_sets,
    sample_distinct_reber,
    sample_negatives,
)
from nas.exceptions import ConfigError
from nas.provenance import atomic_path
from nas.validation import Interval, Options, check_value, check_values, invalid

__all__ = [
    "CLASSIFICATION_VOCAB",
    "EMBEDDED_VOCAB",
    "ENCODINGS",
    "PADDINGS",
    "HARD_NEGATIVE_KINDS",
    "REBER_DATASET_OPTIONS",
    "EMBEDDED_DATASET_OPTIONS",
    "reber_classification_frame",
    "embedded_reber_frame",
    "reber_classification_dataset",
    "embedded_reber_dataset",
    "encode_strings",
    "next_symbol_targets",
    "write_reber_csv",
]

PAD = "<pad>"
CLASSIFICATION_VOCAB: tuple[str, ...] = (PAD, *ALPHABET, *FOREIGN_LETTERS)
EMBEDDED_VOCAB: tuple[str, ...] = (PAD, *ALPHABET)
ENCODINGS = ("index", "onehot")
PADDINGS = ("end", "start")
HARD_NEGATIVE_KINDS: tuple[str, ...] = tuple(k for k in CORRUPTION_KINDS if k != "foreign")
SPLITS = ("train", "val", "test")
VALID_KIND = "none"  # negative_kind of a valid string


# --- the generators' options: one rule each ------------------------------------------------------
_SPLITS = {"seed": Interval(Integral, 0, None), "test_fraction": Interval(Real, 0, 1, closed="neither"),
           "val_fraction": Interval(Real, 0, 1, closed="left")}
_ENCODING = {"encoding": Options(ENCODINGS), "padding": Options(PADDINGS),
             "max_len": [Interval(Integral, 1, None), None]}
#: Options of the classification task's generator (errors name ``reber``); ``n`` even,
#: ``min_length <= max_length`` and ``max_len >= max_length`` are checked after the table.
REBER_DATASET_OPTIONS = {"n": Interval(Integral, 2, None), **_SPLITS, "min_length": REBER_LENGTH,
                         "max_length": REBER_LENGTH, "hard_negative_share": Interval(Real, 0, 1), **_ENCODING}
#: Options of the next-symbol task's generator (errors name ``embedded_reber``).
EMBEDDED_DATASET_OPTIONS = {"n": Interval(Integral, 1, None), **_SPLITS, "min_length": EMBEDDED_LENGTH,
                            "max_length": EMBEDDED_LENGTH, **_ENCODING}


def _split_sizes(n: int, test_fraction: float, val_fraction: float, what: str) -> tuple[int, int, int]:
    """(train, val, test) sizes: test is ``test_fraction`` of ``n``, val ``val_fraction`` of the rest."""
    test = int(round(n * test_fraction))
    val = int(round((n - test) * val_fraction))
    train = n - test - val
    if test < 1 or train < 1 or (val_fraction > 0 and val < 1):
        raise ConfigError(
            f"{what}: n is too small to split with test_fraction={test_fraction} and val_fraction={val_fraction} "
            f"(got train={train}, val={val}, test={test}); every split needs at least one example"
            + (" per class" if "class" in what else "")
        )
    return train, val, test


def _assign_splits(count: int, sizes: tuple[int, int, int]) -> np.ndarray:
    train, val, _ = sizes
    split = np.empty(count, dtype=object)
    split[:train], split[train:train + val], split[train + val:] = "train", "val", "test"
    return split


def _order_by_split(rng: np.random.Generator, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows grouped train, val, test, shuffled within each split, index reset."""
    parts = []
    for name in SPLITS:
        part = frame[frame["split"] == name]
        parts.append(part.iloc[rng.permutation(len(part))])
    return pd.concat(parts, ignore_index=True)


# --- tables ------------------------------------------------------------------------------------
def reber_classification_frame(n: int = 25000, *, seed: int = 0, test_fraction: float = 0.25,
                               val_fraction: float = 0.1, min_length: int = 11, max_length: int = 53,
                               hard_negative_share: float = 0.9) -> pd.DataFrame:
    """The valid/invalid Reber strings of the classification task, one row each.

    Parameters are those of :func:`reber_classification_dataset` that shape the strings.

    Returns
    -------
    pandas.DataFrame
        Columns ``string`` (str), ``label`` (int, 1 = valid), ``split`` (``train``/``val``/``test``)
        and ``negative_kind`` (one of :data:`~nas.datasets.reber_grammar.CORRUPTION_KINDS`, or
        ``"none"`` for a valid string); rows grouped by split, shuffled within it.

    Raises
    ------
    ConfigError
        On a bad argument; :class:`~nas.datasets.reber_grammar.GrammarCapacityError` (a
        ``ConfigError``) when the length range has too few distinct strings.
    """
    check_values("reber", dict(n=n, seed=seed, test_fraction=test_fraction, val_fraction=val_fraction,
                               min_length=min_length, max_length=max_length, hard_negative_share=hard_negative_share),
                 REBER_DATASET_OPTIONS)
    check_length_range("reber", min_length, max_length)
    if n % 2:
        raise invalid("reber", "n", "an even number, so the two classes are balanced", n)
    n, seed = int(n), int(seed)
    per_class = n // 2
    sizes = _split_sizes(per_class, test_fraction, val_fraction, "reber classification (per class)")

    rng = np.random.default_rng(seed)
    positives = sample_distinct_reber(rng, per_class, min_length=min_length, max_length=max_length)

    # Kinds: the hard share spread evenly over the four hard kinds (remainder on random kinds).
    n_hard = int(round(per_class * hard_negative_share))
    share, extra = divmod(n_hard, len(HARD_NEGATIVE_KINDS))
    counts = dict.fromkeys(HARD_NEGATIVE_KINDS, share)
    for k in rng.choice(len(HARD_NEGATIVE_KINDS), size=extra, replace=False):
        counts[HARD_NEGATIVE_KINDS[k]] += 1
    counts["foreign"] = per_class - n_hard
    kinds = np.array([k for k in CORRUPTION_KINDS for _ in range(counts[k])], dtype=object)
    kinds = kinds[rng.permutation(per_class)]
    # Negatives copy the positives' lengths one for one; an insertion cannot make a string of the
    # shortest length (its source would be too short), so such pairs trade kinds with another row.
    lengths = np.array([len(s) for s in positives])[rng.permutation(per_class)]
    _fix_short_insertions(kinds, lengths)
    negatives = sample_negatives(rng, lengths, kinds, exclude=set(positives))

    frame = pd.DataFrame({
        "string": positives + negatives,
        "label": np.r_[np.ones(per_class, dtype=np.int64), np.zeros(per_class, dtype=np.int64)],
        # positives and negatives are already in random order, so the first rows of each go to train
        "split": np.r_[_assign_splits(per_class, sizes), _assign_splits(per_class, sizes)],
        "negative_kind": np.r_[np.full(per_class, VALID_KIND, dtype=object), kinds],
    })
    return _order_by_split(rng, frame)


def _fix_short_insertions(kinds: np.ndarray, lengths: np.ndarray) -> None:
    """Swap kinds so no insertion targets the minimal length (in place, deterministic)."""
    bad = np.flatnonzero((kinds == "insertion") & (lengths <= MIN_REBER_LENGTH))
    donors = iter(np.flatnonzero((kinds != "insertion") & (lengths > MIN_REBER_LENGTH)))
    for i in bad:
        j = next(donors, None)
        if j is None:
            raise ConfigError(
                f"cannot place insertion negatives: every string has the minimal length {MIN_REBER_LENGTH}; "
                f"raise max_length or set hard_negative_share=0"
            )
        kinds[i], kinds[j] = kinds[j], kinds[i]


def embedded_reber_frame(n: int = 10000, *, seed: int = 0, test_fraction: float = 0.25,
                         val_fraction: float = 0.1, min_length: int = 9, max_length: int = 32) -> pd.DataFrame:
    """Distinct embedded Reber strings of the next-symbol task, one row each.

    Half the strings (the odd one on a random branch) use the ``T`` branch, half the ``P`` branch,
    so the final branch symbol is not guessable from frequency.

    Returns
    -------
    pandas.DataFrame
        Columns ``string`` and ``split``; rows grouped by split, shuffled within it.

    Raises
    ------
    ConfigError
        On a bad argument or a length range with too few distinct strings.
    """
    check_values("embedded_reber", dict(n=n, seed=seed, test_fraction=test_fraction, val_fraction=val_fraction,
                                        min_length=min_length, max_length=max_length), EMBEDDED_DATASET_OPTIONS)
    check_length_range("embedded_reber", min_length, max_length)
    n, seed, min_length, max_length = int(n), int(seed), int(min_length), int(max_length)
    sizes = _split_sizes(n, test_fraction, val_fraction, "embedded reber")

    rng = np.random.default_rng(seed)
    n_t = n // 2 + (int(rng.integers(2)) if n % 2 else 0)
    strings = []
    for branch, count in (("T", n_t), ("P", n - n_t)):
        try:
            inner = sample_distinct_reber(rng, count, min_length=min_length - 4, max_length=max_length - 4)
        except GrammarCapacityError as err:
            raise GrammarCapacityError(
                f"asked for {n} distinct embedded Reber strings of length {min_length}..{max_length} "
                f"({count} on the {branch} branch), but the grammar has fewer; raise max_length or lower n"
            ) from err
        strings += [f"B{branch}{s}{branch}E" for s in inner]
    strings = [strings[i] for i in rng.permutation(n)]
    frame = pd.DataFrame({"string": strings, "split": _assign_splits(n, sizes)})
    return _order_by_split(rng, frame)


# --- encoding ----------------------------------------------------------------------------------
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
    check_values("encode_strings", dict(encoding=encoding, padding=padding, max_len=max_len), _ENCODING)
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
    check_values("next_symbol_targets", dict(padding=padding, max_len=max_len), _ENCODING)
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


def _split_tensors(frame: pd.DataFrame, build) -> dict[str, Split]:
    return {name: build(frame[frame["split"] == name]) for name in SPLITS}


# --- datasets ----------------------------------------------------------------------------------
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
        too few distinct strings (:class:`~nas.datasets.reber_grammar.GrammarCapacityError`).

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


# --- CSV ---------------------------------------------------------------------------------------
def write_reber_csv(path, n: int = 1000, seed: int = 0, kind: str = "classification", **options) -> Path:
    """Write a generated Reber table to CSV through a temporary file and an atomic rename.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; parent folders are created. Never left half-written: on any error the old
        file (if any) is untouched.
    n, seed : int
        As in the dataset functions.
    kind : {"classification", "embedded"}
        Columns ``string,label,split,negative_kind`` (valid strings have ``negative_kind`` ``none``)
        or ``string,split``.
    **options
        Further keyword arguments of :func:`reber_classification_frame` /
        :func:`embedded_reber_frame` (``min_length``, ``test_fraction``, ...).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ConfigError
        On an unknown ``kind`` or a bad generator argument.
    """
    check_value("write_reber_csv", "kind", kind, Options(("classification", "embedded")))
    make = reber_classification_frame if kind == "classification" else embedded_reber_frame
    try:
        frame = make(n, seed=seed, **options)
    except TypeError as err:  # an unknown keyword in **options
        raise ConfigError(f"bad option for the {kind} Reber generator: {err}") from err
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)
