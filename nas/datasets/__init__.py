"""Datasets: MNIST, Fashion-MNIST, CIFAR-10 and the generated Reber grammars.

``load_dataset(name, ...)`` is the one entry point; see :mod:`nas.datasets.registry`.
"""

from nas.datasets.base import Dataset, Split
from nas.datasets.paths import default_cache_dir, resolve_data_dir
from nas.datasets.registry import (
    dataset_status,
    fetch_dataset,
    list_datasets,
    load_dataset,
)

__all__ = [
    "Dataset",
    "Split",
    "load_dataset",
    "list_datasets",
    "dataset_status",
    "fetch_dataset",
    "resolve_data_dir",
    "default_cache_dir",
]
