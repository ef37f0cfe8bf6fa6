"""Datasets: MNIST, Fashion-MNIST, CIFAR-10 and the generated Reber grammars.

``load_dataset(name, ...)`` is the one entry point (:mod:`nas.datasets.loading`); the datasets
and their files are described in :mod:`nas.datasets.registry`, ``dataset_status`` and
``fetch_dataset`` are in :mod:`nas.datasets.fetch`.
"""

from nas.datasets.base import Dataset, Split
from nas.datasets.fetch import dataset_status, fetch_dataset
from nas.datasets.loading import load_dataset
from nas.datasets.paths import default_cache_dir, resolve_data_dir
from nas.datasets.registry import list_datasets

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
