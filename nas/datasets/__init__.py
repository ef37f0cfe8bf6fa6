"""Datasets: MNIST, Fashion-MNIST, CIFAR-10 and the generated Reber grammars."""

from nas.datasets.base import Dataset, Split

__all__ = ["Dataset", "Split"]
