"""The Reber grammar as an automaton: acceptors, legal next symbols, seeded generators, corruptions.

The standard (plain) Reber grammar of Reber (1967), in the form used by Fahlman (1991) and
Hochreiter & Schmidhuber (1997). Every string starts with ``B`` and ends with ``E``; in between,
a walk through five states::

    state 1 --T--> 2    state 1 --P--> 3
    state 2 --S--> 2    state 2 --X--> 4
    state 3 --T--> 3    state 3 --V--> 5
    state 4 --X--> 3    state 4 --S--> F
    state 5 --P--> 4    state 5 --V--> F

so ``BTXSE``, ``BPVVE`` and ``BTSSXXTVVE`` are Reber strings. The *embedded* Reber grammar wraps a
Reber string as ``B T <reber> T E`` or ``B P <reber> P E``: the symbol before the final ``E`` is
decided by the second symbol, a long-range dependency.

Generation is exact and seeded: a string of a given length is drawn **uniformly** among the Reber
strings of that length by unranking an integer (the number of strings of each length is counted
once by dynamic programming), and lengths are drawn uniformly from the requested range. That keeps
long strings as likely as short ones — the classic 50/50 random walk puts 82 % of its mass on
strings of at most 10 symbols, so it cannot give thousands of *distinct* strings cheaply.

Examples
--------
>>> is_reber("BTSSXXTVVE"), is_reber("BTSSXXTVE")
(True, False)
>>> sorted(next_symbols("BTSS"))
['S', 'X']
>>> sorted(next_symbols("BPBTXSE", embedded=True))
['P']
>>> s = generate_reber(np.random.default_rng(0), min_length=11, max_length=20)
>>> is_reber(s) and 11 <= len(s) <= 20
True
"""

from __future__ import annotations

from functools import lru_cache
from numbers import Integral

import numpy as np

from nas.exceptions import ConfigError, DataError
from nas.validation import Interval, Satisfies, check_value, check_values, invalid

__all__ = [
    "ALPHABET",
    "INNER_SYMBOLS",
    "FOREIGN_LETTERS",
    "CORRUPTION_KINDS",
    "MIN_REBER_LENGTH",
    "MIN_EMBEDDED_LENGTH",
    "MAX_SUPPORTED_LENGTH",
    "REBER_LENGTH",
    "EMBEDDED_LENGTH",
    "REBER_OPTIONS",
    "EMBEDDED_OPTIONS",
    "check_length_range",
    "GrammarError",
    "GrammarCapacityError",
    "is_reber",
    "is_embedded_reber",
    "next_symbols",
    "legal_sets",
    "count_reber_strings",
    "generate_reber",
    "generate_embedded_reber",
    "sample_reber",
    "sample_distinct_reber",
    "corrupt",
    "sample_negatives",
]

ALPHABET: tuple[str, ...] = ("B", "T", "P", "S", "X", "V", "E")
"""The Reber alphabet, in the order of the vocabulary indices 1..7 of every encoding here."""

INNER_SYMBOLS: tuple[str, ...] = ("T", "P", "S", "X", "V")
"""Symbols that occur between the leading ``B`` and the final ``E`` of a plain Reber string."""

FOREIGN_LETTERS: tuple[str, ...] = ("A", "C", "D", "F", "G")
"""Letters outside the alphabet, used only by the ``foreign`` corruption (the paper's easy negatives)."""

CORRUPTION_KINDS: tuple[str, ...] = ("substitution", "insertion", "deletion", "swap", "foreign")
"""Kinds of invalid strings; the first four are hard negatives over the Reber alphabet."""

MIN_REBER_LENGTH = 5  # BTXSE, BPVVE
MIN_EMBEDDED_LENGTH = MIN_REBER_LENGTH + 4


class GrammarError(DataError, ValueError):
    """A string that is not (a prefix of) a string of the grammar where one is required."""


class GrammarCapacityError(ConfigError):
    """The grammar cannot give as many distinct strings as asked within the length range."""


# --- the automaton -----------------------------------------------------------------------------
# Inner states 1..5 and F (=6). Each inner state has exactly two outgoing transitions; their order
# fixes the unranking order (transition 0 before transition 1).
_F = 6
_TRANSITIONS: dict[int, tuple[tuple[str, int], tuple[str, int]]] = {
    1: (("T", 2), ("P", 3)),
    2: (("S", 2), ("X", 4)),
    3: (("T", 3), ("V", 5)),
    4: (("X", 3), ("S", _F)),
    5: (("P", 4), ("V", _F)),
}
_STEP: dict[int, dict[str, int]] = {s: dict(t) for s, t in _TRANSITIONS.items()}

# Full-string walk over plain Reber: 0 expects B, 1..5 inner, F expects E, _DONE after E.
_START, _DONE = 0, 7
_TABLE: dict[int, dict[str, int]] = {_START: {"B": 1}, **_STEP, _F: {"E": _DONE}, _DONE: {}}
_LEGAL: dict[int, frozenset[str]] = {state: frozenset(moves) for state, moves in _TABLE.items()}


def _legal(state: int) -> frozenset[str]:
    return _LEGAL[state]


def _advance(state: int, symbol: str) -> int | None:
    """Next plain-Reber state, or None when ``symbol`` is illegal in ``state``."""
    return _TABLE[state].get(symbol)


def _embedded_walk(s: str):
    """Yield the legal next-symbol set before each symbol of ``s`` and after the last one.

    Stops early (after yielding the set the offending symbol violated) at the first illegal symbol;
    the caller tells by the number of sets yielded. The embedded state is (phase, inner state,
    branch): phase 0 expects B, 1 expects the branch symbol, 2 runs the inner Reber walk, 3 expects
    the branch symbol again, 4 expects the final E, 5 is done.
    """
    phase, inner, branch = 0, _START, ""
    for symbol in s:
        legal = _embedded_legal(phase, inner, branch)
        yield legal
        if symbol not in legal:
            return
        if phase == 0:
            phase = 1
        elif phase == 1:
            phase, branch = 2, symbol
        elif phase == 2:
            inner = _advance(inner, symbol)
            if inner == _DONE:
                phase = 3
        elif phase == 3:
            phase = 4
        else:
            phase = 5
    yield _embedded_legal(phase, inner, branch)


def _embedded_legal(phase: int, inner: int, branch: str) -> frozenset[str]:
    if phase == 0:
        return frozenset("B")
    if phase == 1:
        return frozenset("TP")
    if phase == 2:
        return _legal(inner)
    if phase == 3:
        return frozenset(branch)
    if phase == 4:
        return frozenset("E")
    return frozenset()


def _plain_walk(s: str):
    """Like :func:`_embedded_walk` for the plain grammar."""
    state = _START
    for symbol in s:
        legal = _legal(state)
        yield legal
        if symbol not in legal:
            return
        state = _advance(state, symbol)
    yield _legal(state)


def legal_sets(s: str, *, embedded: bool = False) -> list[frozenset[str]]:
    """Legal next-symbol sets after each prefix ``s[:t]``, ``t = 0 .. len(s)``.

    Parameters
    ----------
    s : str
        A string of the grammar, or a prefix of one.
    embedded : bool
        Embedded Reber instead of plain Reber.

    Returns
    -------
    list of frozenset of str
        ``len(s) + 1`` sets; the last is empty when ``s`` is a complete string.

    Raises
    ------
    GrammarError
        When ``s`` is not a prefix of any string of the grammar.
    """
    _check_str(s)
    sets = list((_embedded_walk if embedded else _plain_walk)(s))
    if len(sets) != len(s) + 1:
        bad = len(sets) - 1
        grammar = "embedded Reber" if embedded else "Reber"
        raise GrammarError(
            f"{s!r} is not a prefix of a {grammar} string: symbol {s[bad]!r} at position {bad} "
            f"is illegal there; expected one of {sorted(sets[-1]) or 'nothing (the string had ended)'}"
        )
    return sets


def _check_str(s) -> None:
    if not isinstance(s, str):
        raise ConfigError(f"expected a str of grammar symbols, got {type(s).__name__}: {s!r}")


def is_reber(s: str) -> bool:
    """Whether ``s`` is a complete string of the plain Reber grammar.

    Examples
    --------
    >>> is_reber("BPVVE"), is_reber("BPVE"), is_reber("BTXSEE")
    (True, False, False)
    """
    _check_str(s)
    state: int | None = _START
    for symbol in s:  # the hot path of negative sampling: a bare table walk
        state = _TABLE[state].get(symbol)
        if state is None:
            return False
    return state == _DONE


def is_embedded_reber(s: str) -> bool:
    """Whether ``s`` is a complete string of the embedded Reber grammar (``B T <reber> T E`` or ``B P <reber> P E``).

    Examples
    --------
    >>> is_embedded_reber("BTBTXSETE"), is_embedded_reber("BTBTXSEPE")
    (True, False)
    """
    _check_str(s)
    sets = list(_embedded_walk(s))
    return len(sets) == len(s) + 1 and not sets[-1]


def next_symbols(prefix: str, *, embedded: bool = False) -> frozenset[str]:
    """The set of symbols that may legally follow ``prefix``.

    Parameters
    ----------
    prefix : str
        A prefix of a (plain or embedded) Reber string; ``""`` gives ``{"B"}``, a complete string
        gives the empty set.
    embedded : bool
        Use the embedded grammar: after the inner string's ``E`` only the second symbol of
        ``prefix`` may follow.

    Returns
    -------
    frozenset of str

    Raises
    ------
    GrammarError
        When ``prefix`` is not a prefix of any string of the grammar.

    Examples
    --------
    >>> sorted(next_symbols("B")), sorted(next_symbols("BTX")), sorted(next_symbols("BTXSE"))
    (['P', 'T'], ['S', 'X'], [])
    """
    return legal_sets(prefix, embedded=embedded)[-1]


# --- counting and unranking --------------------------------------------------------------------
@lru_cache(maxsize=None)
def _completions(state: int, remaining: int) -> int:
    """Number of ways to emit exactly ``remaining`` inner symbols from ``state`` and end in F."""
    if state == _F:
        return 1 if remaining == 0 else 0
    if remaining == 0:
        return 0
    return sum(_completions(t, remaining - 1) for _, t in _TRANSITIONS[state])


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
        for s in range(1, _F):
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
_NEXT = np.zeros((_F + 1, 2), dtype=np.int64)
_SYM = np.zeros((_F + 1, 2), dtype=np.uint8)
for _s, _pair in _TRANSITIONS.items():
    for _j, (_sym, _t) in enumerate(_pair):
        _NEXT[_s, _j], _SYM[_s, _j] = _t, ord(_sym)
_COUNTS = np.array(
    [[_completions(s, r) if s else 0 for r in range(MAX_SUPPORTED_LENGTH + 2)] for s in range(_F + 1)],
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
_RNG = Satisfies(lambda v: isinstance(v, np.random.Generator), "a numpy.random.Generator (np.random.default_rng(seed))")
#: The rule of a plain Reber string length (``B`` and ``E`` included).
REBER_LENGTH = Interval(Integral, MIN_REBER_LENGTH, MAX_SUPPORTED_LENGTH)
#: The rule of an embedded Reber string length (the inner string is 4 shorter).
EMBEDDED_LENGTH = Interval(Integral, MIN_EMBEDDED_LENGTH, MAX_SUPPORTED_LENGTH + 4)
#: The generators' options, one rule each: plain strings (errors name ``reber``) and embedded
#: strings (``embedded_reber``); ``min_length <= max_length`` is checked after the table.
REBER_OPTIONS = {"rng": _RNG, "size": Interval(Integral, 0, None), "min_length": REBER_LENGTH,
                 "max_length": REBER_LENGTH}
EMBEDDED_OPTIONS = {"rng": _RNG, "min_length": EMBEDDED_LENGTH, "max_length": EMBEDDED_LENGTH}


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
    check_value("reber", "rng", rng, _RNG)
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
    check_value("reber", "rng", rng, _RNG)
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
    check_value("reber", "rng", rng, _RNG)
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
