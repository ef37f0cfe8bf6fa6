"""Budget adequacy of a prior study: a verdict per pair of priors that never reads "no difference"
from a cell that cannot learn."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from nas.studies.priors import stats
from nas.studies.priors.adequacy import (
    adequacy,
    adequacy_lines,
    detectable_delta,
    verdict_lines,
)
from nas.studies.priors.curves import last_gain


def _cell(a, b, failed_a=None, failed_b=None, gains=None):
    part = pd.DataFrame({"prior": ["A"] * len(a) + ["B"] * len(b), "test_accuracy": [*a, *b],
                         "failed": [*(failed_a or [False] * len(a)), *(failed_b or [False] * len(b))]})
    if gains is not None:
        part["last_gain"] = gains
    pairs = stats.compare_groups({"A": np.asarray(a), "B": np.asarray(b)})["pairs"].to_dict("records")
    return part, pairs


def test_a_clear_difference_names_the_better_prior():
    part, pairs = _cell([0.9, 0.91, 0.92, 0.93, 0.94], [0.6, 0.61, 0.62, 0.63, 0.64])
    verdict = adequacy(part, pairs, None)["verdicts"][0]
    assert verdict["verdict"] == "A better than B" and verdict["p_holm"] < 0.05


def test_a_cell_at_chance_is_budget_too_small_never_no_difference():
    rng = np.random.default_rng(0)
    a, b = list(0.5 + 0.001 * rng.random(8)), list(0.5 + 0.001 * rng.random(8))
    part, pairs = _cell(a, b, failed_a=[True] * 6 + [False] * 2, failed_b=[True] * 8)
    result = adequacy(part, pairs, None)
    assert result["at_chance"] == {"A": 0.75, "B": 1.0}
    assert result["verdicts"][0]["verdict"].startswith("budget too small to compare these priors")


def test_labels_without_structural_signal_are_budget_too_small():
    part, pairs = _cell([0.80, 0.82, 0.81, 0.79], [0.80, 0.81, 0.83, 0.78])
    result = adequacy(part, pairs, {"icc1": -0.2, "icc1_low": -0.5, "icc1_high": -0.01})
    assert "repeatability's interval lies at or below 0" in result["verdicts"][0]["verdict"]


def test_an_adequate_cell_without_a_difference_states_the_detectable_effect():
    rng = np.random.default_rng(1)
    a, b = list(0.8 + 0.05 * rng.random(30)), list(0.8 + 0.05 * rng.random(30))
    part, pairs = _cell(a, b, gains=[0.002] * 60)
    result = adequacy(part, pairs, {"icc1": 0.6, "icc1_low": 0.4, "icc1_high": 0.75})
    verdict = result["verdicts"][0]
    assert verdict["verdict"] == "no difference detected, although the budget supports a conclusion"
    assert verdict["detectable_delta"] == pytest.approx(detectable_delta(30, 30)) and 0.3 < verdict["detectable_delta"] < 0.6
    assert not result["still_learning"]
    text = "\n".join(adequacy_lines({"adequacy": result}))
    assert "Budget adequacy" in text and "80 % power" in text and "still learning" not in text
    rows = [line for line in text.splitlines() if line.startswith("|")]  # pipes in a cell are escaped
    assert len(rows) == 3 and len({len(re.split(r"(?<!\\)\|", line)) for line in rows}) == 1
    opening = "\n".join(verdict_lines({"ff": {"adequacy": result, "priors": []}}))
    assert "no difference detected between A and B at n = 30 vs 30" in opening and "would have been detected" in opening


def test_rising_curves_are_flagged_and_the_detectable_effect_shrinks_with_n():
    part, pairs = _cell([0.9, 0.91, 0.92], [0.6, 0.61, 0.62], gains=[0.05] * 6)
    result = adequacy(part, pairs, None)
    assert result["still_learning"] and "still learning" in "\n".join(adequacy_lines({"adequacy": result}))
    assert detectable_delta(10, 10) > detectable_delta(50, 50) > detectable_delta(200, 200)
    assert last_gain([0.5, 0.6, 0.65]) == pytest.approx(0.05) and math.isnan(last_gain([0.5]))
