"""Seeded Reber strings: counting the strings of each length, unranking them, and the generators.

Generation is exact and seeded: a string of a given length is drawn **uniformly** among the Reber
strings of that length by unranking an integer (the number of strings of each length is counted
once by dynamic programming), and lengths are drawn uniformly from the requested range. That keeps
long strings as likely as short ones — the classic 50/50 random walk puts 82 % of its mass on
strings of at most 10 symbols, so it cannot give thousands of *distinct* strings cheaply.

The grammar itself (automaton, acceptors) is :mod:`nas.datasets.reber.grammar`.

Examples
--------
>>> s = generate_reber(np.random.default_rng(0), min_length=11, max_length=20)
>>> s[0], s[-1], 11 <= len(s) <= 20
('B', 'E', True)
"""

from __future__ import annotations

from functools import lru_cache
from numbers import Integral

import numpy as np

from nas.datasets.reber.grammar import (
    FINAL_STATE,
    MIN_EMBEDDED_LENGTH,
    MIN_REBER_LENGTH,
    TRANSITIONS,
    GrammarCapacityError,
)
from nas.exceptions import ConfigError
from nas.validation import Interval, Satisfies, check_value, check_values, invalid

__all__ = [
    "MAX_SUPPORTED_LENGTH",
    "RANDOM_GENERATOR",
    "REBER_LENGTH",
    "EMBEDDED_LENGTH",
    "REBER_OPTIONS",
    "EMBEDDED_OPTIONS",
    "check_length_range",
    "count_reber_strings",
    "generate_reber",
    "generate_embedded_reber",
    "sample_reber",
    "sample_distinct_reber",
]


# --- counting and unranking --------------------------------------------------------------------
@lru_cache(maxsize=None)
def _completions(state: int, remaining: int) -> int:
    """Number of ways to emit exactly ``remaining`` inner symbols from ``state`` and end in F."""
    if state == FINAL_STATE:
        return 1 if remaining == 0 else 0
    if remaining == 0:
        return 0
    return sum(_completions(t, remaining - 1) for _, t in TRANSITIONS[state])


def count_reber_strings(length: int) -> int:
    """Number of distinct plain Reber strings with exactly ``length`` symbols (``B`` and ``E`` included).

    Examples
    --------
    >>> [count_reber_strings(n) for n in range(4, 10)]
    [0, 2, 3, 4, 7, 11]
    """
    global _FILLED
    if length < MIN_REBER_LENGTH:
        return 0
    # fill the cache bottom-up (once per new length) so long lengths do not recurse deeply
    for r in range(_FILLED + 1, length - 1):
        for s in range(1, FINAL_STATE):
            _completions(s, r)
    _FILLED = max(_FILLED, length - 2)
    return _completions(1, length - 2)


_FILLED = 0  # _completions is cached for every remaining count up to this one


def _max_supported_length() -> int:
    # ranks are int64 numpy values; keep one spare length for deletion sources (length + 1)
    length = MIN_REBER_LENGTH
    while count_reber_strings(length + 2) < 2**62:
        length += 1
    return length


MAX_SUPPORTED_LENGTH = _max_supported_length()
"""Longest plain Reber string the generators draw (string counts must fit in int64 ranks)."""

# Lookup tables for vectorised unranking: per state the two transitions and, per remaining count,
# the number of completions after taking transition 0.
_NEXT = np.zeros((FINAL_STATE + 1, 2), dtype=np.int64)
_SYM = np.zeros((FINAL_STATE + 1, 2), dtype=np.uint8)
for _s, _pair in TRANSITIONS.items():
    for _j, (_sym, _t) in enumerate(_pair):
        _NEXT[_s, _j], _SYM[_s, _j] = _t, ord(_sym)
_COUNTS = np.array(
    [[_completions(s, r) if s else 0 for r in range(MAX_SUPPORTED_LENGTH + 2)] for s in range(FINAL_STATE + 1)],
    dtype=np.int64,
)


def _unrank(length: int, ranks: np.ndarray) -> list[str]:
    """The Reber strings of ``length`` with the given ranks (0 .. count-1) in transition order."""
    ranks = np.asarray(ranks, dtype=np.int64).copy()
    n = len(ranks)
    out = np.empty((n, length), dtype=np.uint8)
    out[:, 0], out[:, -1] = ord("B"), ord("E")
    state = np.ones(n, dtype=np.int64)
    for pos in range(1, length - 1):
        remaining_after = length - 2 - pos  # inner symbols still to emit after this one
        first = _NEXT[state, 0]
        c0 = _COUNTS[first, remaining_after]
        take0 = ranks < c0
        ranks = np.where(take0, ranks, ranks - c0)
        out[:, pos] = np.where(take0, _SYM[state, 0], _SYM[state, 1])
        state = np.where(take0, first, _NEXT[state, 1])
    return [row.decode("ascii") for row in out.view(f"S{length}").ravel()]


# --- validation --------------------------------------------------------------------------------
#: The rule of every generator's ``rng`` argument.
RANDOM_GENERATOR = Satisfies(lambda v: isinstance(v, np.random.Generator),
                             "a numpy.random.Generator (np.random.default_rng(seed))")
#: The rule of a plain Reber string length (``B`` and ``E`` included).
REBER_LENGTH = Interval(Integral, MIN_REBER_LENGTH, MAX_SUPPORTED_LENGTH)
#: The rule of an embedded Reber string length (the inner string is 4 shorter).
EMBEDDED_LENGTH = Interval(Integral, MIN_EMBEDDED_LENGTH, MAX_SUPPORTED_LENGTH + 4)
#: The generators' options, one rule each: plain strings (errors name ``reber``) and embedded
#: strings (``embedded_reber``); ``min_length <= max_length`` is checked after the table.
REBER_OPTIONS = {"rng": RANDOM_GENERATOR, "size": Interval(Integral, 0, None), "min_length": REBER_LENGTH,
                 "max_length": REBER_LENGTH}
EMBEDDED_OPTIONS = {"rng": RANDOM_GENERATOR, "min_length": EMBEDDED_LENGTH, "max_length": EMBEDDED_LENGTH}


def check_length_range(owner: str, min_length, max_length) -> None:
    """The cross-field rule of every generator: ``min_length <= max_length``.

    Raises
    ------
    OptionError
        ``OWNER.max_length = ...; expected min_length <= max_length, ...``.
    """
    if min_length > max_length:
        raise invalid(owner, "max_length", f"min_length <= max_length, with min_length = {min_length}", max_length)


def _check(owner: str, table, **values) -> dict:
    values = check_values(owner, values, table)
    if "min_length" in values:
        check_length_range(owner, values["min_length"], values["max_length"])
    return values


# --- generators --------------------------------------------------------------------------------
def generate_reber(rng: np.random.Generator, min_length: int = 11, max_length: int = 53) -> str:
    """One plain Reber string: length uniform in ``[min_length, max_length]``, then uniform among that length's strings.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every random draw.
    min_length, max_length : int
        Closed range of the string length, ``B`` and ``E`` included; ``5 <= min_length <=
        max_length <= MAX_SUPPORTED_LENGTH``. The defaults are the paper's 11–53.

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        On a bad range or a ``rng`` that is not a ``numpy.random.Generator``.
    """
    return sample_reber(rng, 1, min_length=min_length, max_length=max_length)[0]


def generate_embedded_reber(rng: np.random.Generator, min_length: int = 9, max_length: int = 32) -> str:
    """One embedded Reber string ``B b <reber> b E`` with ``b`` uniform in {T, P}.

    ``min_length``/``max_length`` bound the whole string (the inner Reber string is 4 shorter);
    ``min_length >= 9``.

    Raises
    ------
    ConfigError
        On a bad range or ``rng``.
    """
    _check("embedded_reber", EMBEDDED_OPTIONS, rng=rng, min_length=min_length, max_length=max_length)
    branch = "TP"[int(rng.integers(2))]
    inner = generate_reber(rng, min_length - 4, max_length - 4)
    return f"B{branch}{inner}{branch}E"


def sample_reber(rng: np.random.Generator, size: int, *, min_length: int = 11, max_length: int = 53,
                 lengths=None) -> list[str]:
    """``size`` plain Reber strings drawn independently (repeats possible), as :func:`generate_reber`.

    Parameters
    ----------
    rng : numpy.random.Generator
    size : int
        Number of strings.
    min_length, max_length : int
        Length range when ``lengths`` is None.
    lengths : array of int, optional
        The exact length of each string instead of uniform draws (each ``>= 5``).

    Returns
    -------
    list of str
        In draw order.
    """
    check_value("reber", "rng", rng, RANDOM_GENERATOR)
    if lengths is None:
        values = _check("reber", REBER_OPTIONS, size=size, min_length=min_length, max_length=max_length)
        min_length, max_length = values["min_length"], values["max_length"]
        lengths = rng.integers(min_length, max_length + 1, size=size)
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) and (lengths.min() < MIN_REBER_LENGTH or lengths.max() > MAX_SUPPORTED_LENGTH + 1):
        raise ConfigError(f"string lengths must lie in [{MIN_REBER_LENGTH}, {MAX_SUPPORTED_LENGTH + 1}], "
                          f"got {lengths.min()}..{lengths.max()}")
    out: list[str | None] = [None] * len(lengths)
    for length in np.unique(lengths):
        where = np.flatnonzero(lengths == length)
        ranks = rng.integers(0, count_reber_strings(int(length)), size=len(where))
        for i, s in zip(where, _unrank(int(length), ranks)):
            out[i] = s
    return out  # type: ignore[return-value]


def _length_quotas(rng: np.random.Generator, total: int, lengths: list[int], capacity: list[int]) -> dict[int, int]:
    """Spread ``total`` over ``lengths`` as evenly as capacities allow (water-filling, random remainder)."""
    quota = dict.fromkeys(lengths, 0)
    cap = dict(zip(lengths, capacity))
    remaining = total
    while remaining:
        open_ = [L for L in lengths if quota[L] < cap[L]]
        share, extra = divmod(remaining, len(open_))
        lucky = set(rng.choice(open_, size=extra, replace=False).tolist()) if extra else set()
        remaining = 0
        for L in open_:
            want = share + (L in lucky)
            give = min(want, cap[L] - quota[L])
            quota[L] += give
            remaining += want - give
    return quota


def sample_distinct_reber(rng: np.random.Generator, size: int, *, min_length: int = 11,
                          max_length: int = 53) -> list[str]:
    """``size`` distinct plain Reber strings, lengths spread evenly over ``[min_length, max_length]``.

    Every length gets ``size / number of lengths`` strings (the remainder on random lengths); a
    length with fewer strings than its share gives all it has and the others take the excess.
    Within a length, strings are drawn uniformly without replacement.

    Returns
    -------
    list of str
        Shuffled.

    Raises
    ------
    GrammarCapacityError
        When fewer than ``size`` Reber strings have a length in the range.
    ConfigError
        On a bad range, ``size`` or ``rng``.
    """
    values = _check("reber", REBER_OPTIONS, rng=rng, size=size, min_length=min_length, max_length=max_length)
    size, min_length, max_length = values["size"], values["min_length"], values["max_length"]
    lengths = list(range(min_length, max_length + 1))
    capacity = [count_reber_strings(L) for L in lengths]
    if sum(capacity) < size:
        raise GrammarCapacityError(
            f"asked for {size} distinct Reber strings of length {min_length}..{max_length}, but the grammar has "
            f"only {sum(capacity)}; widen the length range (raise max_length) or ask for fewer strings"
        )
    quotas = _length_quotas(rng, int(size), lengths, capacity)
    out: list[str] = []
    for L in lengths:
        if quotas[L]:
            ranks = rng.choice(count_reber_strings(L), size=quotas[L], replace=False)
            out.extend(_unrank(L, ranks))
    return [out[i] for i in rng.permutation(len(out))]
