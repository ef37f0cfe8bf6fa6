"""The constraint module (search_spaces/validation.py, bound to ConfigError in nas/validation.py) and
TrainOverrides: messages, None, bools, NaN and infinities, pairs, lists, unknown fields, cleaning."""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pytest

from nas.exceptions import ConfigError, OptionError
from nas.training.config import TrainConfig, TrainOption, TrainOptions, TrainOverrides
from nas.validation import check_fields, check_value, check_values, invalid
from search_spaces.exceptions import InvalidGenomeError, InvalidValueError
from search_spaces.validation import (
    Boolean,
    Interval,
    Items,
    Options,
    Pair,
    Satisfies,
    Text,
    Unchecked,
    describe,
)
from search_spaces.validation import check_values as generic_check_values

COUNT = Interval(Integral, 1, None)


def message(rule, value, owner="Demo", field="x") -> str:
    with pytest.raises(OptionError) as err:
        check_value(owner, field, value, rule)
    return str(err.value)


# --- the message ------------------------------------------------------------------------------------
def test_one_message_style_names_owner_field_value_and_what_is_expected():
    with pytest.raises(OptionError) as err:
        check_values("TrainConfig", {"epochs": 0}, {"epochs": COUNT})
    assert str(err.value) == "TrainConfig.epochs = 0; expected an integer >= 1"
    assert (err.value.owner, err.value.field, err.value.value, err.value.expected) == \
        ("TrainConfig", "epochs", 0, "an integer >= 1")
    assert isinstance(err.value, ConfigError) and isinstance(err.value, InvalidValueError)


def test_the_error_survives_pickling():
    error = pickle.loads(pickle.dumps(OptionError("epochs", 0, "an integer >= 1", owner="TrainConfig")))
    assert type(error) is OptionError and str(error) == "TrainConfig.epochs = 0; expected an integer >= 1"
    assert (error.owner, error.field, error.value) == ("TrainConfig", "epochs", 0)


def test_the_generic_checker_raises_the_error_type_it_is_given():
    with pytest.raises(InvalidValueError) as err:
        generic_check_values("Demo", {"n": "3"}, {"n": COUNT})
    assert type(err.value) is InvalidValueError and str(err.value) == "Demo.n = '3'; expected an integer >= 1"
    with pytest.raises(InvalidGenomeError, match=r"^Genome\.n = 0; expected an integer >= 1$"):
        generic_check_values("Genome", {"n": 0}, {"n": COUNT}, error=InvalidGenomeError)


@pytest.mark.parametrize("rule, text", [
    (Interval(Integral, 1, None), "an integer >= 1"),
    (Interval(Integral, 2, 10), "an integer in [2, 10]"),
    (Interval(Integral, None, 3), "an integer <= 3"),
    (Interval(Real, 0, None, closed="right"), "a finite number > 0"),
    (Interval(Real, 0, 1), "a number in [0, 1]"),
    (Interval(Real, 0, 1, closed="left"), "a number in [0, 1)"),
    (Interval(Real, 0, 1, closed="neither"), "a number in (0, 1)"),
    (Options(("adam", "sgd")), "one of ['adam', 'sgd']"),
    (Boolean(), "True or False"),
    (Text(), "a non-empty string"),
    (Pair(Interval(Integral, 2, 5000)), "a pair [low, high] of integers in [2, 5000] with low <= high"),
    (Items(Text(), nonempty=True), "a non-empty list of non-empty strings"),
    (Items(Options(("a", "b"))), "a list of items from ['a', 'b']"),
    ([Interval(Integral, 1, None), None], "an integer >= 1 or None"),
])
def test_descriptions(rule, text):
    assert describe(rule) == text


# --- numbers ----------------------------------------------------------------------------------------
def test_none_only_where_the_table_allows_it():
    assert check_value("Demo", "x", None, [COUNT, None]) is None
    assert message(COUNT, None) == "Demo.x = None; expected an integer >= 1"


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 2.0, "3", 1.5])
def test_bool_float_and_text_are_not_integers(value):
    assert not Interval(Integral, 0, None).accepts(value)


@pytest.mark.parametrize("value", [True, math.nan, math.inf, -math.inf, "0.1", None])
def test_bools_nan_and_infinities_are_not_finite_numbers(value):
    assert not Interval(Real, None, None).accepts(value)
    assert "expected a finite number" in message(Interval(Real, 0, None), value)


def test_bounds_open_and_closed():
    share = Interval(Real, 0, 1, closed="left")
    assert share.accepts(0) and share.accepts(0.999) and not share.accepts(1.0) and not share.accepts(-1e-12)
    positive = Interval(Real, 0, None, closed="right")
    assert not positive.accepts(0.0) and positive.accepts(1e-300)
    assert Interval(Integral, 1, 3).accepts(3) and not Interval(Integral, 1, 3, closed="left").accepts(3)


def test_numbers_are_stored_as_plain_python_numbers():
    value = check_value("Demo", "x", np.int64(7), COUNT)
    assert value == 7 and type(value) is int
    value = check_value("Demo", "x", np.float32(0.5), Interval(Real, 0, 1))
    assert value == 0.5 and type(value) is float
    assert type(check_value("Demo", "x", 1, Interval(Real, 0, None))) is int  # an int stays an int


# --- options, text, pairs, lists ----------------------------------------------------------------------
def test_options_compare_type_and_value():
    rule = Options((None, 1, "a"))
    assert rule.accepts(None) and rule.accepts(1) and rule.accepts("a")
    assert not rule.accepts(True) and not rule.accepts(1.0) and not rule.accepts(["a"])  # unhashable is fine
    assert message(Options(("adam",)), "lbfgs") == "Demo.x = 'lbfgs'; expected one of ['adam']"


def test_text_and_boolean():
    assert not Text().accepts("") and not Text().accepts(3) and Text().accepts("x")
    assert Boolean().accepts(False) and not Boolean().accepts(0) and not Boolean().accepts("true")


def test_pairs_are_ordered_ranges_stored_as_tuples():
    rule = Pair(Interval(Integral, 1, 256))
    assert check_value("Demo", "widths", [2, 16], rule) == (2, 16)
    for bad in ([8, 4], [0, 4], [1, 257], (1,), (1, 2, 3), "12", (1.0, 2), None):
        assert not rule.accepts(bad), bad
    assert message(rule, (8, 4), field="widths") == \
        "Demo.widths = (8, 4); expected a pair [low, high] of integers in [1, 256] with low <= high"


def test_items_are_lists_never_strings():
    rule = Items(Text(), nonempty=True)
    assert check_value("Demo", "priors", ["a", "b"], rule) == ("a", "b")
    assert not rule.accepts("ab") and not rule.accepts([]) and not rule.accepts(["a", ""])
    assert Items(Text()).accepts(())


def test_satisfies_and_unchecked():
    assert Satisfies(callable, "a function").accepts(len) and not Satisfies(callable, "a function").accepts(3)
    assert message(Satisfies(callable, "a function"), 3) == "Demo.x = 3; expected a function"
    assert Unchecked("checked by the prior").accepts(object())


# --- tables -------------------------------------------------------------------------------------------
def test_unknown_fields_are_refused_naming_the_known_ones():
    with pytest.raises(OptionError) as err:
        check_values("Demo", {"epoch": 3}, {"epochs": COUNT, "lr": Interval(Real, 0, None)})
    assert str(err.value) == "Demo.epoch = 3; expected one of the known fields ['epochs', 'lr']"


def test_fields_are_checked_in_the_tables_order_and_missing_ones_are_not_checked():
    table = {"a": COUNT, "b": COUNT}
    with pytest.raises(OptionError, match=r"^Demo\.a = 0"):
        check_values("Demo", {"b": 0, "a": 0}, table)
    assert check_values("Demo", {"b": 2}, table) == {"b": 2}


@dataclass(frozen=True)
class Demo:
    widths: tuple = (1, 2)
    name: str = "x"

    constraints: ClassVar[dict] = {"widths": Pair(COUNT), "name": Text()}

    def __post_init__(self):
        check_fields(self)


def test_check_fields_stores_cleaned_values_on_a_frozen_dataclass():
    assert Demo(widths=[3, np.int64(4)]).widths == (3, 4)
    with pytest.raises(OptionError, match=r"^Demo\.name = ''; expected a non-empty string$"):
        Demo(name="")


def test_cross_field_errors_use_the_same_style():
    assert str(invalid(Demo(), "widths", "at most 2 wide")) == "Demo.widths = (1, 2); expected at most 2 wide"
    assert str(invalid("SearchConfig", "survivors", "an integer <= population = 4", 50)) == \
        "SearchConfig.survivors = 50; expected an integer <= population = 4"


# --- training overrides --------------------------------------------------------------------------------
def test_train_overrides_are_checked_by_train_configs_own_rules():
    overrides = TrainOverrides({"lr": 0.01, "epochs": np.int64(2)})
    assert list(overrides) == [("epochs", 2), ("lr", 0.01)] and overrides.to_dict() == {"epochs": 2, "lr": 0.01}
    assert TrainOverrides([("epochs", 2), ("lr", 0.01)]) == overrides == TrainOverrides(overrides)
    assert TrainOverrides() == TrainOverrides(None) and len(TrainOverrides()) == 0
    with pytest.raises(OptionError, match=r"^TrainConfig\.epochs = 0; expected an integer >= 1$"):
        TrainOverrides({"epochs": 0})
    with pytest.raises(OptionError, match=r"^TrainConfig\.lr = nan; expected a finite number > 0$"):
        TrainOverrides({"lr": float("nan")})
    with pytest.raises(OptionError, match=r"^TrainConfig\.epoch = 3; expected one of the known fields \['augment'"):
        TrainOverrides({"epoch": 3})
    with pytest.raises(OptionError, match=r"^TrainOverrides\.pairs = 5; expected a table of TrainConfig options"):
        TrainOverrides(5)


def test_train_overrides_merge_and_apply_with_the_cross_field_rule():
    base = TrainOverrides({"epochs": 2, "lr": 0.1})
    assert base.merged({"lr": 0.2}).to_dict() == {"epochs": 2, "lr": 0.2}
    config = TrainOverrides({"optimizer": "sgd", "plateau_momentum": 0.5}).apply({"epochs": 3})
    assert isinstance(config, TrainConfig) and (config.epochs, config.plateau_momentum) == (3, 0.5)
    with pytest.raises(OptionError, match=r"^TrainConfig\.plateau_momentum = 0\.5; expected None with optimizer='adam'"):
        TrainOverrides({"plateau_momentum": 0.5}).apply(TrainConfig())


def test_fields_that_hold_training_options():
    assert TrainOptions().accepts({"epochs": 2}) and TrainOptions().accepts([("epochs", 2)])
    assert not TrainOptions().accepts(5) and not TrainOptions().accepts([("epochs",)])
    assert isinstance(TrainOptions().clean({"epochs": 2}), TrainOverrides)
    assert check_value("PruneConfig", "epochs", 4, TrainOption("epochs")) == 4
    with pytest.raises(OptionError, match=r"^TrainConfig\.epochs = 0; expected an integer >= 1$"):
        check_value("PruneConfig", "epochs", 0, [TrainOption("epochs"), None])
