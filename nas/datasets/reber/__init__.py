"""Reber grammar data, generated and seeded (no download); see ``docs/reber.md``.

One module per job, their public names re-exported here:

* :mod:`~nas.datasets.reber.grammar` — the grammar as an automaton: acceptors and legal next symbols;
* :mod:`~nas.datasets.reber.sampling` — counting Reber strings, and drawing them uniformly, seeded;
* :mod:`~nas.datasets.reber.negatives` — invalid strings made by one random edit;
* :mod:`~nas.datasets.reber.tables` — the tasks' string tables with their splits, and their CSV files;
* :mod:`~nas.datasets.reber.encoding` — strings as index or one-hot tensors, next-symbol targets;
* :mod:`~nas.datasets.reber.options` — the dataset generators' options, one rule each;
* :mod:`~nas.datasets.reber.datasets` — the ``reber`` and ``embedded_reber`` datasets.
"""

from nas.datasets.reber.datasets import (
    embedded_reber_dataset,
    reber_classification_dataset,
)
from nas.datasets.reber.encoding import (
    CLASSIFICATION_VOCAB,
    EMBEDDED_VOCAB,
    ENCODINGS,
    PADDINGS,
    encode_strings,
    next_symbol_targets,
)
from nas.datasets.reber.grammar import (
    ALPHABET,
    INNER_SYMBOLS,
    MIN_EMBEDDED_LENGTH,
    MIN_REBER_LENGTH,
    GrammarCapacityError,
    GrammarError,
    is_embedded_reber,
    is_reber,
    legal_sets,
    next_symbols,
)
from nas.datasets.reber.negatives import (
    CORRUPTION_KINDS,
    FOREIGN_LETTERS,
    HARD_NEGATIVE_KINDS,
    corrupt,
    sample_negatives,
)
from nas.datasets.reber.options import EMBEDDED_DATASET_OPTIONS, REBER_DATASET_OPTIONS
from nas.datasets.reber.sampling import (
    EMBEDDED_LENGTH,
    EMBEDDED_OPTIONS,
    MAX_SUPPORTED_LENGTH,
    REBER_LENGTH,
    REBER_OPTIONS,
    check_length_range,
    count_reber_strings,
    generate_embedded_reber,
    generate_reber,
    sample_distinct_reber,
    sample_reber,
)
from nas.datasets.reber.tables import (
    embedded_reber_frame,
    reber_classification_frame,
    write_reber_csv,
)

__all__ = [
    # grammar
    "ALPHABET",
    "INNER_SYMBOLS",
    "MIN_REBER_LENGTH",
    "MIN_EMBEDDED_LENGTH",
    "GrammarError",
    "GrammarCapacityError",
    "is_reber",
    "is_embedded_reber",
    "next_symbols",
    "legal_sets",
    # sampling
    "MAX_SUPPORTED_LENGTH",
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
    # negatives
    "FOREIGN_LETTERS",
    "CORRUPTION_KINDS",
    "HARD_NEGATIVE_KINDS",
    "corrupt",
    "sample_negatives",
    # tables
    "reber_classification_frame",
    "embedded_reber_frame",
    "write_reber_csv",
    # encoding
    "CLASSIFICATION_VOCAB",
    "EMBEDDED_VOCAB",
    "ENCODINGS",
    "PADDINGS",
    "encode_strings",
    "next_symbol_targets",
    # options
    "REBER_DATASET_OPTIONS",
    "EMBEDDED_DATASET_OPTIONS",
    # datasets
    "reber_classification_dataset",
    "embedded_reber_dataset",
]
