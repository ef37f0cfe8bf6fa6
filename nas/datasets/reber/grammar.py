"""The Reber grammar as an automaton: acceptors and the legal next symbols after a prefix.

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

Strings are drawn in :mod:`nas.datasets.reber.sampling`, made invalid in
:mod:`nas.datasets.reber.negatives`.

Examples
--------
>>> is_reber("BTSSXXTVVE"), is_reber("BTSSXXTVE")
(True, False)
>>> sorted(next_symbols("BTSS"))
['S', 'X']
>>> sorted(next_symbols("BPBTXSE", embedded=True))
['P']
"""

from __future__ import annotations

from nas.exceptions import ConfigError, DataError

__all__ = [
    "ALPHABET",
    "INNER_SYMBOLS",
    "MIN_REBER_LENGTH",
    "MIN_EMBEDDED_LENGTH",
    "FINAL_STATE",
    "TRANSITIONS",
    "GrammarError",
    "GrammarCapacityError",
    "is_reber",
    "is_embedded_reber",
    "next_symbols",
    "legal_sets",
]

ALPHABET: tuple[str, ...] = ("B", "T", "P", "S", "X", "V", "E")
"""The Reber alphabet, in the order of the vocabulary indices 1..7 of every encoding here."""

INNER_SYMBOLS: tuple[str, ...] = ("T", "P", "S", "X", "V")
"""Symbols that occur between the leading ``B`` and the final ``E`` of a plain Reber string."""

MIN_REBER_LENGTH = 5  # BTXSE, BPVVE
MIN_EMBEDDED_LENGTH = MIN_REBER_LENGTH + 4


class GrammarError(DataError, ValueError):
    """A string that is not (a prefix of) a string of the grammar where one is required."""


class GrammarCapacityError(ConfigError):
    """The grammar cannot give as many distinct strings as asked within the length range."""


# --- the automaton -----------------------------------------------------------------------------
FINAL_STATE = 6
"""The inner walk's final state F: only ``E`` may follow."""

TRANSITIONS: dict[int, tuple[tuple[str, int], tuple[str, int]]] = {
    1: (("T", 2), ("P", 3)),
    2: (("S", 2), ("X", 4)),
    3: (("T", 3), ("V", 5)),
    4: (("X", 3), ("S", FINAL_STATE)),
    5: (("P", 4), ("V", FINAL_STATE)),
}
"""The inner states 1..5, each with its two moves ``(symbol, next state)``; their order fixes the
order in which :mod:`~nas.datasets.reber.sampling` ranks strings (move 0 before move 1)."""

_STEP: dict[int, dict[str, int]] = {s: dict(t) for s, t in TRANSITIONS.items()}

# Full-string walk over plain Reber: 0 expects B, 1..5 inner, F expects E, _DONE after E.
_START, _DONE = 0, 7
_TABLE: dict[int, dict[str, int]] = {_START: {"B": 1}, **_STEP, FINAL_STATE: {"E": _DONE}, _DONE: {}}
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
