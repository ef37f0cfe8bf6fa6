"""sparse-nas: how the search runs (datasets, tasks, training, search, ledger, command line)."""

__version__ = "0.1.0"
