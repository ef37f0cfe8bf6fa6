"""The options of the two Reber dataset generators, declared once as data (one rule each).

Both the tables (:mod:`nas.datasets.reber.tables`) and the datasets
(:mod:`nas.datasets.reber.datasets`) check their arguments against these.
"""

from __future__ import annotations

from numbers import Integral, Real

from nas.datasets.reber.encoding import ENCODING_OPTIONS
from nas.datasets.reber.sampling import EMBEDDED_LENGTH, REBER_LENGTH
from nas.validation import Interval

__all__ = ["REBER_DATASET_OPTIONS", "EMBEDDED_DATASET_OPTIONS"]

_SPLITS = {"seed": Interval(Integral, 0, None), "test_fraction": Interval(Real, 0, 1, closed="neither"),
           "val_fraction": Interval(Real, 0, 1, closed="left")}
#: Options of the classification task's generator (errors name ``reber``); ``n`` even,
#: ``min_length <= max_length`` and ``max_len >= max_length`` are checked after the table.
REBER_DATASET_OPTIONS = {"n": Interval(Integral, 2, None), **_SPLITS, "min_length": REBER_LENGTH,
                         "max_length": REBER_LENGTH, "hard_negative_share": Interval(Real, 0, 1),
                         **ENCODING_OPTIONS}
#: Options of the next-symbol task's generator (errors name ``embedded_reber``).
EMBEDDED_DATASET_OPTIONS = {"n": Interval(Integral, 1, None), **_SPLITS, "min_length": EMBEDDED_LENGTH,
                            "max_length": EMBEDDED_LENGTH, **ENCODING_OPTIONS}
