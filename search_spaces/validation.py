"""Declarative constraints: each config declares its fields' rules once, as data; one function checks them.

Modelled on scikit-learn's parameter constraints (``sklearn/utils/_param_validation.py``): a
*table* maps every field to a rule, or to a list of alternative rules where ``None`` stands for
"None is allowed"::

    constraints = {
        "epochs": Interval(Integral, 1, None),
        "max_steps": [Interval(Integral, 1, None), None],
        "optimizer": Options(("adam", "adamw", "sgd")),
    }

:func:`check_values` checks a mapping of values against such a table and raises one typed error,
:class:`~search_spaces.exceptions.InvalidValueError` (or the subclass it is given), whose message
always reads ``OWNER.FIELD = VALUE; expected WHAT``. Rules that relate several fields (a
survivor count at most the population, a length range's order) are not in the table: they are
checked after it, with the same error and message style.

This module is the generic part, in the lowest package so that genomes use it too;
:mod:`nas.validation` builds on it (the same rules, errors typed as ``ConfigError``).

Examples
--------
>>> from numbers import Integral
>>> check_values("Demo", {"n": 3}, {"n": Interval(Integral, 1, None)})
{'n': 3}
>>> check_values("Demo", {"n": 0}, {"n": Interval(Integral, 1, None)})
Traceback (most recent call last):
...
search_spaces.exceptions.InvalidValueError: Demo.n = 0; expected an integer >= 1
"""

from __future__ import annotations

import dataclasses
import math
from numbers import Integral, Real
from typing import Any, Callable, Mapping, Sequence

from search_spaces.exceptions import InvalidValueError

__all__ = [
    "Constraint",
    "Interval",
    "Options",
    "Boolean",
    "Text",
    "Pair",
    "Items",
    "Satisfies",
    "Unchecked",
    "Rule",
    "describe",
    "check_value",
    "check_values",
    "check_fields",
]

_CLOSED = ("both", "left", "right", "neither")


class Constraint:
    """A rule one value must follow: :meth:`accepts`, :meth:`describe` and :meth:`clean`."""

    def accepts(self, value) -> bool:
        """Whether ``value`` follows the rule."""
        raise NotImplementedError

    def describe(self, plural: bool = False) -> str:
        """What is expected, as it follows "expected" in a message (``plural``: for a list of them)."""
        raise NotImplementedError

    def clean(self, value):
        """The stored form of an accepted value (e.g. a NumPy integer as an ``int``)."""
        return value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r})"


#: A table entry: one constraint, or a list of alternatives where ``None`` allows None.
Rule = Constraint | Sequence[Constraint | None]


def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)  # numpy.bool_ is no Integral


def _is_real(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


class Interval(Constraint):
    """An integer (``kind=Integral``) or a finite real number (``kind=Real``) within bounds.

    Parameters
    ----------
    kind : {numbers.Integral, numbers.Real}
        Integers only (never a bool, never ``2.0``), or any finite number (NaN and infinities are
        refused, so are bools).
    left, right : number or None
        The bounds; None leaves that side open-ended.
    closed : {"both", "left", "right", "neither"}
        Which bounds belong to the interval (as scikit-learn's ``Interval``).

    Examples
    --------
    >>> Interval(Real, 0, 1, closed="left").describe()
    'a number in [0, 1)'
    >>> Interval(Integral, 1, None).accepts(True)
    False
    """

    def __init__(self, kind, left, right, *, closed: str = "both"):
        if kind not in (Integral, Real):
            raise TypeError(f"Interval kind must be numbers.Integral or numbers.Real, got {kind!r}")
        if closed not in _CLOSED:
            raise ValueError(f"Interval closed must be one of {list(_CLOSED)}, got {closed!r}")
        self.kind, self.left, self.right, self.closed = kind, left, right, closed

    def accepts(self, value) -> bool:
        if self.kind is Integral:
            if not _is_int(value):
                return False
        elif not _is_real(value) or not math.isfinite(value):
            return False
        if self.left is not None:
            if value < self.left or (value == self.left and self.closed in ("right", "neither")):
                return False
        if self.right is not None:
            if value > self.right or (value == self.right and self.closed in ("left", "neither")):
                return False
        return True

    def clean(self, value):
        if self.kind is Integral:
            return int(value)
        return value if type(value) in (int, float) else float(value)

    def describe(self, plural: bool = False) -> str:
        bounded = self.left is not None and self.right is not None
        if self.kind is Integral:
            noun = "integers" if plural else "an integer"
        else:  # a range bounded on both sides says "finite" already
            noun = ("numbers" if plural else "a number") if bounded else \
                ("finite numbers" if plural else "a finite number")
        left_in = self.closed in ("both", "left")
        right_in = self.closed in ("both", "right")
        if bounded:
            return f"{noun} in {'[' if left_in else '('}{self.left}, {self.right}{']' if right_in else ')'}"
        if self.left is not None:
            return f"{noun} {'>=' if left_in else '>'} {self.left}"
        if self.right is not None:
            return f"{noun} {'<=' if right_in else '<'} {self.right}"
        return noun


class Options(Constraint):
    """One of a fixed set of values (compared by type and value, so ``True`` is not ``1``).

    >>> Options(("adam", "sgd")).describe()
    "one of ['adam', 'sgd']"
    """

    def __init__(self, values):
        self.values = tuple(values)

    def accepts(self, value) -> bool:
        return any(value is v or (type(value) is type(v) and value == v) for v in self.values)

    def describe(self, plural: bool = False) -> str:
        return f"items from {list(self.values)}" if plural else f"one of {list(self.values)}"


class Boolean(Constraint):
    """``True`` or ``False`` (not 0, 1 or a string)."""

    def accepts(self, value) -> bool:
        return isinstance(value, bool)

    def describe(self, plural: bool = False) -> str:
        return "True or False"


class Text(Constraint):
    """A non-empty string."""

    def accepts(self, value) -> bool:
        return isinstance(value, str) and bool(value)

    def describe(self, plural: bool = False) -> str:
        return "non-empty strings" if plural else "a non-empty string"


class Pair(Constraint):
    """A range ``[low, high]``: two values of ``item`` with ``low <= high``, stored as a tuple.

    >>> Pair(Interval(Integral, 2, 10)).describe()
    'a pair [low, high] of integers in [2, 10] with low <= high'
    """

    def __init__(self, item: Constraint):
        self.item = item

    def accepts(self, value) -> bool:
        return (isinstance(value, (tuple, list)) and len(value) == 2 and all(self.item.accepts(v) for v in value)
                and value[0] <= value[1])

    def clean(self, value):
        return tuple(self.item.clean(v) for v in value)

    def describe(self, plural: bool = False) -> str:
        return f"{'pairs' if plural else 'a pair'} [low, high] of {self.item.describe(plural=True)} with low <= high"


class Items(Constraint):
    """A list (or tuple, never a string) whose every item follows ``item``; stored as a tuple.

    >>> Items(Text(), nonempty=True).describe()
    'a non-empty list of non-empty strings'
    """

    def __init__(self, item: Constraint, *, nonempty: bool = False):
        self.item, self.nonempty = item, nonempty

    def accepts(self, value) -> bool:
        return (isinstance(value, (tuple, list)) and (bool(value) or not self.nonempty)
                and all(self.item.accepts(v) for v in value))

    def clean(self, value):
        return tuple(self.item.clean(v) for v in value)

    def describe(self, plural: bool = False) -> str:
        what = "non-empty list" if self.nonempty else "list"
        return f"{'' if plural else 'a '}{what}{'s' if plural else ''} of {self.item.describe(plural=True)}"


class Satisfies(Constraint):
    """Whatever ``predicate`` accepts; ``description`` says what that is.

    >>> Satisfies(callable, "a function").accepts(len)
    True
    """

    def __init__(self, predicate: Callable[[Any], bool], description: str):
        self.predicate, self.description = predicate, description

    def accepts(self, value) -> bool:
        return bool(self.predicate(value))

    def describe(self, plural: bool = False) -> str:
        return self.description


class Unchecked(Constraint):
    """No rule here: the field is checked elsewhere, which ``description`` names (a table still
    lists every field, so a new field cannot be added without saying how it is checked)."""

    def __init__(self, description: str):
        self.description = description

    def accepts(self, value) -> bool:
        return True

    def describe(self, plural: bool = False) -> str:
        return self.description


def _alternatives(rule: Rule) -> list[Constraint | None]:
    return [rule] if isinstance(rule, Constraint) else list(rule)


def describe(rule: Rule) -> str:
    """What a table entry expects, e.g. ``"an integer >= 1 or None"``."""
    return " or ".join("None" if c is None else c.describe() for c in _alternatives(rule))


def check_value(owner: str, field: str, value, rule: Rule, *, error: type[InvalidValueError] = InvalidValueError):
    """``value`` in its stored form if it follows ``rule``.

    Raises
    ------
    InvalidValueError
        (or ``error``) ``OWNER.FIELD = VALUE; expected WHAT`` when no alternative accepts it. A
        constraint's :meth:`~Constraint.clean` may raise its own error of this kind (a table of
        options checked by another config's rules).
    """
    alternatives = _alternatives(rule)
    if value is None and None in alternatives:
        return None
    for constraint in alternatives:
        if constraint is not None and constraint.accepts(value):
            return constraint.clean(value)
    raise error(field, value, describe(rule), owner=owner)


def check_values(owner: str, values: Mapping[str, Any], table: Mapping[str, Rule], *,
                 error: type[InvalidValueError] = InvalidValueError) -> dict[str, Any]:
    """Check every value of ``values`` against its rule in ``table``; return them in stored form.

    Fields are checked in the table's order; a field of ``values`` that the table does not know
    is refused, naming the known ones.

    Parameters
    ----------
    owner : str
        What the fields belong to, as messages name it (``"TrainConfig"``).
    values : mapping
        Field -> value; fields of the table that are missing are not checked.
    table : mapping
        Field -> rule (a :class:`Constraint`, or a list of alternatives where None allows None).
    error : type
        The error raised, :class:`~search_spaces.exceptions.InvalidValueError` or a subclass.

    Returns
    -------
    dict
        Field -> cleaned value, in the order of ``values``.

    Raises
    ------
    InvalidValueError
        (or ``error``) for the first field that breaks its rule or is unknown.
    """
    unknown = [name for name in values if name not in table]
    if unknown:
        raise error(unknown[0], values[unknown[0]], f"one of the known fields {sorted(table)}", owner=owner)
    clean = {name: check_value(owner, name, values[name], rule, error=error)
             for name, rule in table.items() if name in values}
    return {name: clean[name] for name in values}


def check_fields(config, table: Mapping[str, Rule] | None = None, *,
                 error: type[InvalidValueError] = InvalidValueError) -> None:
    """Check every field of the dataclass instance ``config`` against ``table`` (default: the
    class's ``constraints``) and store the cleaned values (frozen dataclasses included).

    Raises
    ------
    InvalidValueError
        (or ``error``) named after the class, for the first field that breaks its rule.
    """
    table = type(config).constraints if table is None else table
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    for name, value in check_values(type(config).__name__, values, table, error=error).items():
        if value is not values[name]:
            object.__setattr__(config, name, value)
