"""The real datasets in ``../shared/data``: MNIST originals and CIFAR-10 with a truncated test batch."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from nas.datasets import dataset_status, load_dataset
from nas.datasets.registry import split_indices
from nas.exceptions import TruncatedFileError


@pytest.fixture(scope="module")
def mnist(shared_data_dir):
    return load_dataset("mnist", data_dir=shared_data_dir, download=False)


def test_mnist_sizes_shapes_and_types(mnist):
    assert (len(mnist.train), len(mnist.val), len(mnist.test)) == (50_000, 10_000, 10_000)
    assert mnist.train.x.shape[1:] == (1, 28, 28) and mnist.train.x.dtype == torch.float32
    assert mnist.train.y.dtype == torch.int64 and sorted(mnist.test.y.unique().tolist()) == list(range(10))
    assert mnist.num_classes == 10 and mnist.input_shape == (1, 28, 28)


def test_mnist_checksums_verified(mnist):
    files = mnist.info["files"]
    assert len(files) == 4 and {f["checksum"] for f in files.values()} == {"verified"}
    assert (mnist.info["test_examples"], mnist.info["test_expected"], mnist.info["partial"]) == (10_000, 10_000, False)


def test_mnist_normalisation(mnist):
    # Standard MNIST statistics: the normalised training pixels have mean ~0 and std ~1.
    x = torch.cat([mnist.train.x, mnist.val.x])
    assert abs(x.mean().item()) < 1e-3 and abs(x.std().item() - 1) < 1e-3
    assert mnist.info["normalisation"]["mean"] == [0.1307]
    lo = (0 - 0.1307) / 0.3081
    assert mnist.test.x.min().item() == pytest.approx(lo, abs=1e-6)


def test_mnist_split_is_the_seeded_permutation_and_disjoint(mnist, shared_data_dir):
    train_idx, val_idx = split_indices(60_000, 10_000, 0)
    assert len(np.intersect1d(train_idx, val_idx)) == 0
    assert np.union1d(train_idx, val_idx).tolist() == list(range(60_000))
    raw = gzip.decompress((shared_data_dir / "mnist" / "train-labels-idx1-ubyte.gz").read_bytes())
    labels = np.frombuffer(raw, dtype=np.uint8, offset=8)
    np.testing.assert_array_equal(mnist.val.y.numpy(), labels[val_idx])
    np.testing.assert_array_equal(mnist.train.y.numpy(), labels[train_idx])


def test_mnist_split_reproducible_per_seed(mnist, shared_data_dir):
    # The loaded split is split_indices(seed) (test above); that function is a pure function of the seed.
    for a, b in zip(split_indices(60_000, 10_000, 0), split_indices(60_000, 10_000, 0)):
        np.testing.assert_array_equal(a, b)
    other = load_dataset("mnist", data_dir=shared_data_dir, download=False, split_seed=1)
    np.testing.assert_array_equal(split_indices(60_000, 10_000, 1)[1][:5],
                                  np.random.default_rng(1).permutation(60_000)[:5])
    assert not torch.equal(other.val.y, mnist.val.y)
    assert torch.equal(other.test.x, mnist.test.x)  # the test set never depends on the split


def test_cifar10_truncated_test_batch_raises_by_default(shared_data_dir):
    with pytest.raises(TruncatedFileError, match="test_batch.bin: truncated file: holds 1000 of 10000 records"):
        load_dataset("cifar10", data_dir=shared_data_dir, download=True)  # download must not replace it


def test_cifar10_with_allow_partial_says_1000_of_10000(shared_data_dir):
    data = load_dataset("cifar10", data_dir=shared_data_dir, download=False, allow_partial=True)
    assert (len(data.train), len(data.val), len(data.test)) == (45_000, 5_000, 1_000)
    assert data.train.x.shape[1:] == (3, 32, 32) and data.test.y.dtype == torch.int64
    assert (data.info["test_examples"], data.info["test_expected"], data.info["partial"]) == (1_000, 10_000, True)
    # Standard per-channel statistics: a random 10,000 training images are near mean 0, std 1.
    std, mean = torch.std_mean(data.train.x[:10_000], dim=(0, 2, 3))
    assert mean.abs().max().item() < 0.02 and (std - 1).abs().max().item() < 0.02
    assert data.info["normalisation"]["mean"] == [0.4914, 0.4822, 0.4465]
    # Each class has exactly 5000 training images (shared/data/README.md).
    assert torch.bincount(torch.cat([data.train.y, data.val.y])).tolist() == [5000] * 10


def test_status_of_shared_data(shared_data_dir):
    mnist = dataset_status("mnist", shared_data_dir)
    assert mnist["ready"] and {f["status"] for f in mnist["files"]} == {"verified"}
    cifar = dataset_status("cifar10", shared_data_dir)
    rows = {f["file"].rsplit("/", 1)[-1]: f["status"] for f in cifar["files"]}
    assert rows["test_batch.bin"] == "truncated (1000 of 10000 records)"
    assert rows["data_batch_1.bin"] == "no known checksum (record counts ok)"
    assert not cifar["ready"] and cifar["usable_partial"]
