"""The one validation path of ``nas`` configs: declarative constraint tables, one checker, one error.

Every config of a command (``TrainConfig``, ``SearchConfig``, ``StudyConfig``, ``PruneConfig``)
and the Reber generators declare their fields' rules once, as a table (scikit-learn's
``_parameter_constraints`` pattern)::

    constraints: ClassVar[dict] = {
        "epochs": Interval(Integral, 1, None),
        "patience": [Interval(Integral, 1, None), None],   # None allowed
        "optimizer": Options(OPTIMIZERS),
    }

and check them with :func:`check_fields` (a dataclass) or :func:`check_values` (a mapping, e.g.
a generator's arguments). A value outside its rule raises :class:`~nas.exceptions.OptionError`, a
:class:`~nas.exceptions.ConfigError` whose message always reads ``OWNER.FIELD = VALUE; expected
WHAT`` — ``TrainConfig.epochs = 0; expected an integer >= 1``. Rules that relate several fields are
checked after the table and raise the same error through :func:`invalid`.

The constraint types and the checker are the generic ones of :mod:`search_spaces.validation`
(genomes use them too, and ``search_spaces`` cannot import ``nas``); this module binds them to
``nas``'s error type.
"""

from __future__ import annotations

from typing import Any, Mapping

from nas.exceptions import OptionError
from search_spaces import validation as _generic
from search_spaces.validation import (
    Boolean,
    Constraint,
    Interval,
    Items,
    Options,
    Pair,
    Rule,
    Satisfies,
    Text,
    Unchecked,
    describe,
)

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
    "invalid",
    "OptionError",
]


def check_value(owner: str, field: str, value, rule: Rule):
    """``value`` in its stored form if it follows ``rule``.

    Raises
    ------
    OptionError
        ``OWNER.FIELD = VALUE; expected WHAT``.
    """
    return _generic.check_value(owner, field, value, rule, error=OptionError)


def check_values(owner: str, values: Mapping[str, Any], table: Mapping[str, Rule]) -> dict[str, Any]:
    """Check a mapping of values against a constraint table (see
    :func:`search_spaces.validation.check_values`); unknown fields are refused, naming the known ones.

    Raises
    ------
    OptionError
        The first field that breaks its rule or that the table does not know.
    """
    return _generic.check_values(owner, values, table, error=OptionError)


def check_fields(config, table: Mapping[str, Rule] | None = None) -> None:
    """Check every field of the dataclass ``config`` against its class's ``constraints`` (or
    ``table``) and store the cleaned values (tuples for lists, ``int`` for NumPy integers).

    Raises
    ------
    OptionError
        Named after the config's class, for the first field that breaks its rule.
    """
    _generic.check_fields(config, table, error=OptionError)


def invalid(config, field: str, expected: str, value: Any = None) -> OptionError:
    """The error of a cross-field rule, in the tables' style: ``OWNER.FIELD = VALUE; expected WHAT``.

    Parameters
    ----------
    config : object or str
        The config (its class names the owner and ``value`` defaults to its field), or an owner name.
    field, expected : str
    value : optional
        The value received (default: ``getattr(config, field)``).

    Examples
    --------
    >>> str(invalid("SearchConfig", "survivors", "at most population = 4", 50))
    'SearchConfig.survivors = 50; expected at most population = 4'
    """
    if isinstance(config, str):
        return OptionError(field, value, expected, owner=config)
    return OptionError(field, getattr(config, field) if value is None else value, expected, owner=type(config).__name__)
