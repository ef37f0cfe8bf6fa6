"""The Reber tasks' string tables: one row per string with its split, built seeded or written to CSV.

* :func:`reber_classification_frame` — valid and invalid plain Reber strings (``label``,
  ``negative_kind``), balanced, distinct, the negatives copying the positives' lengths.
* :func:`embedded_reber_frame` — distinct embedded Reber strings, half on each branch.
* :func:`write_reber_csv` — either table, written atomically.

The datasets (:mod:`nas.datasets.reber.datasets`) encode these tables as tensors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nas.datasets.reber.grammar import MIN_REBER_LENGTH, GrammarCapacityError
from nas.datasets.reber.negatives import (
    CORRUPTION_KINDS,
    HARD_NEGATIVE_KINDS,
    sample_negatives,
)
from nas.datasets.reber.options import EMBEDDED_DATASET_OPTIONS, REBER_DATASET_OPTIONS
from nas.datasets.reber.sampling import check_length_range, sample_distinct_reber
from nas.exceptions import ConfigError
from nas.provenance import atomic_path
from nas.validation import Options, check_value, check_values, invalid

__all__ = [
    "SPLITS",
    "VALID_KIND",
    "reber_classification_frame",
    "embedded_reber_frame",
    "write_reber_csv",
]

SPLITS = ("train", "val", "test")
VALID_KIND = "none"  # negative_kind of a valid string


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
        and ``negative_kind`` (one of :data:`~nas.datasets.reber.negatives.CORRUPTION_KINDS`, or
        ``"none"`` for a valid string); rows grouped by split, shuffled within it.

    Raises
    ------
    ConfigError
        On a bad argument; :class:`~nas.datasets.reber.grammar.GrammarCapacityError` (a
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
