"""Invalid strings: one random edit of a Reber string, and sets of distinct negatives.

Every edit keeps the leading ``B`` and final ``E``; all but the ``foreign`` kind use only inner
Reber symbols, so the classifier cannot tell a negative by its alphabet (hard negatives).
Sources are drawn with :func:`~nas.datasets.reber.sampling.sample_reber`.
"""

from __future__ import annotations

import numpy as np

from nas.datasets.reber.grammar import (
    INNER_SYMBOLS,
    MIN_REBER_LENGTH,
    GrammarCapacityError,
    GrammarError,
    is_reber,
)
from nas.datasets.reber.sampling import (
    MAX_SUPPORTED_LENGTH,
    RANDOM_GENERATOR,
    sample_reber,
)
from nas.exceptions import ConfigError
from nas.validation import check_value

__all__ = [
    "FOREIGN_LETTERS",
    "CORRUPTION_KINDS",
    "HARD_NEGATIVE_KINDS",
    "corrupt",
    "sample_negatives",
]

FOREIGN_LETTERS: tuple[str, ...] = ("A", "C", "D", "F", "G")
"""Letters outside the alphabet, used only by the ``foreign`` corruption (the paper's easy negatives)."""

CORRUPTION_KINDS: tuple[str, ...] = ("substitution", "insertion", "deletion", "swap", "foreign")
"""Kinds of invalid strings; the first four are hard negatives over the Reber alphabet."""

HARD_NEGATIVE_KINDS: tuple[str, ...] = tuple(k for k in CORRUPTION_KINDS if k != "foreign")
"""The corruption kinds whose strings use only the Reber alphabet."""


# --- corruptions -------------------------------------------------------------------------------
def _corrupt_once(rng: np.random.Generator, s: str, kind: str) -> str:
    """One random edit of ``s`` of the given kind, inside the ``B ... E`` frame (may still be valid)."""
    n = len(s)
    if kind == "substitution":
        i = int(rng.integers(1, n - 1))
        choices = [c for c in INNER_SYMBOLS if c != s[i]]
        return s[:i] + choices[int(rng.integers(len(choices)))] + s[i + 1:]
    if kind == "foreign":
        i = int(rng.integers(1, n - 1))
        return s[:i] + FOREIGN_LETTERS[int(rng.integers(len(FOREIGN_LETTERS)))] + s[i + 1:]
    if kind == "insertion":
        i = int(rng.integers(1, n))  # before s[i]: after B, at the latest just before E
        return s[:i] + INNER_SYMBOLS[int(rng.integers(len(INNER_SYMBOLS)))] + s[i:]
    if kind == "deletion":
        i = int(rng.integers(1, n - 1))
        return s[:i] + s[i + 1:]
    if kind == "swap":
        spots = [i for i in range(1, n - 2) if s[i] != s[i + 1]]
        if not spots:
            return s
        i = spots[int(rng.integers(len(spots)))]
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    raise ConfigError(f"unknown corruption kind {kind!r}; expected one of: {', '.join(CORRUPTION_KINDS)}")


# Length change of each kind: the source of a corrupted string of length L has length L - delta.
_LENGTH_DELTA = {"substitution": 0, "foreign": 0, "insertion": 1, "deletion": -1, "swap": 0}


def corrupt(rng: np.random.Generator, s: str, kind: str, *, max_tries: int = 100) -> str:
    """An invalid string made from the Reber string ``s`` by one edit of ``kind``.

    The edit never touches the leading ``B`` or final ``E`` and (except ``foreign``) uses only
    inner Reber symbols, so the result differs from a valid string in the middle:

    * ``substitution`` — one inner symbol replaced by another inner symbol;
    * ``insertion`` — one inner symbol inserted;
    * ``deletion`` — one inner symbol removed;
    * ``swap`` — two adjacent, different inner symbols exchanged (a swapped transition);
    * ``foreign`` — one inner symbol replaced by a letter of :data:`FOREIGN_LETTERS`.

    Each draw is re-checked with :func:`is_reber` and redrawn while still valid.

    Raises
    ------
    GrammarError
        When ``s`` is not a Reber string, or ``max_tries`` edits all left it valid.
    ConfigError
        On an unknown ``kind``.
    """
    check_value("reber", "rng", rng, RANDOM_GENERATOR)
    if kind not in CORRUPTION_KINDS:
        raise ConfigError(f"unknown corruption kind {kind!r}; expected one of: {', '.join(CORRUPTION_KINDS)}")
    if not is_reber(s):
        raise GrammarError(f"corrupt() needs a valid Reber string, got {s!r}")
    for _ in range(max_tries):
        out = _corrupt_once(rng, s, kind)
        if not is_reber(out):
            return out
    raise GrammarError(f"no invalid {kind} of {s!r} found in {max_tries} random edits")


def sample_negatives(rng: np.random.Generator, lengths, kinds, *, exclude=frozenset(),
                     max_idle_rounds: int = 30) -> list[str]:
    """Distinct invalid strings, the ``i``-th of length ``lengths[i]`` made by corruption ``kinds[i]``.

    Sources are fresh uniform Reber strings of the length each kind needs (one longer for a
    deletion, one shorter for an insertion), so the invalid strings can copy the length histogram
    of the valid ones exactly.

    Parameters
    ----------
    rng : numpy.random.Generator
    lengths : sequence of int
        Target length of each invalid string.
    kinds : sequence of str
        Corruption kind of each (see :func:`corrupt`); an insertion needs length >= 6.
    exclude : set of str
        Strings not to return (e.g. negatives made already).
    max_idle_rounds : int
        Give up after this many consecutive rounds that found no new string for a (kind, length).

    Returns
    -------
    list of str
        Aligned with ``lengths``/``kinds``.

    Raises
    ------
    GrammarCapacityError
        When some (kind, length) cannot give enough distinct invalid strings.
    """
    check_value("reber", "rng", rng, RANDOM_GENERATOR)
    lengths = [int(L) for L in lengths]
    kinds = list(kinds)
    if len(lengths) != len(kinds):
        raise ConfigError(f"lengths and kinds must have equal lengths, got {len(lengths)} and {len(kinds)}")
    buckets: dict[tuple[str, int], list[int]] = {}
    for i, (kind, L) in enumerate(zip(kinds, lengths)):
        if kind not in CORRUPTION_KINDS:
            raise ConfigError(f"unknown corruption kind {kind!r}; expected one of: {', '.join(CORRUPTION_KINDS)}")
        source_length = L - _LENGTH_DELTA[kind]
        if not MIN_REBER_LENGTH <= source_length <= MAX_SUPPORTED_LENGTH + 1:
            raise GrammarCapacityError(
                f"a {kind} negative of length {L} needs a Reber string of length {source_length}, "
                f"outside [{MIN_REBER_LENGTH}, {MAX_SUPPORTED_LENGTH + 1}]"
            )
        buckets.setdefault((kind, L), []).append(i)

    seen = set(exclude)
    out: list[str | None] = [None] * len(lengths)
    for (kind, L), slots in sorted(buckets.items(), key=lambda kv: (CORRUPTION_KINDS.index(kv[0][0]), kv[0][1])):
        source_length = L - _LENGTH_DELTA[kind]
        found: list[str] = []
        idle = 0
        while len(found) < len(slots):
            need = len(slots) - len(found)
            sources = sample_reber(rng, 2 * need + 8, lengths=np.full(2 * need + 8, source_length))
            before = len(found)
            for src in sources:
                cand = _corrupt_once(rng, src, kind)
                if cand not in seen and not is_reber(cand):
                    seen.add(cand)
                    found.append(cand)
                    if len(found) == len(slots):
                        break
            idle = 0 if len(found) > before else idle + 1
            if idle >= max_idle_rounds:
                raise GrammarCapacityError(
                    f"could only make {len(found)} of {len(slots)} distinct {kind} negatives of length {L}; "
                    f"widen the length range or ask for fewer strings"
                )
        for i, cand in zip(slots, found):
            out[i] = cand
    return out  # type: ignore[return-value]
