"""The real datasets in ``../shared/data``: MNIST originals and CIFAR-10 with a truncated test batch.

Copies of the MNIST files re-compressed or uncompressed (as users have them) verify; one changed byte does not.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from nas.datasets import dataset_status, load_dataset
from nas.datasets import registry
from nas.datasets.loading import split_indices
from nas.exceptions import ChecksumError, TruncatedFileError


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
    assert all(rows[f"data_batch_{i}.bin"] == "verified" for i in range(1, 6))
    assert not cifar["ready"] and cifar["usable_partial"]


# ------------------------------------------------------------------ MNIST as users have it


@pytest.fixture(scope="session")
def mnist_idx(shared_data_dir):
    """The four shared MNIST files decompressed once per session: {published name: raw IDX bytes}."""
    folder = shared_data_dir / "mnist"
    return {p.name: gzip.decompress(p.read_bytes()) for p in sorted(folder.glob("*-ubyte.gz"))}


def copy_mnist(root, mnist_idx, *, compress=None, change=None):
    """Write the MNIST files into ``root/mnist``: gzip at level ``compress(name)``, or plain when that is None."""
    folder = root / "mnist"
    folder.mkdir(parents=True)
    for name, data in mnist_idx.items():
        if change and name == change[0]:
            data = bytearray(data)
            data[change[1]] ^= 0xFF
            data = bytes(data)
        level = compress(name) if compress else None
        if level is None:
            (folder / name.removesuffix(".gz")).write_bytes(data)
        else:
            (folder / name).write_bytes(gzip.compress(data, compresslevel=level, mtime=0))
    return folder


def test_recompressed_mnist_loads_and_verifies(tmp_path, mnist_idx, mnist, shared_data_dir):
    # Level 9 (`gzip -9`) for the labels, level 1 for the images (fast); the originals are level 6.
    folder = copy_mnist(tmp_path, mnist_idx, compress=lambda name: 1 if "images" in name else 9)
    for name in mnist_idx:  # really other files than the published ones
        assert (folder / name).read_bytes() != (shared_data_dir / "mnist" / name).read_bytes()
    data = load_dataset("mnist", data_dir=tmp_path, download=False)
    assert {f["checksum"] for f in data.info["files"].values()} == {"verified"}
    assert torch.equal(data.test.x, mnist.test.x) and torch.equal(data.val.y, mnist.val.y)
    status = dataset_status("mnist", tmp_path)
    assert status["ready"] and {f["status"] for f in status["files"]} == {"verified"}


def test_uncompressed_mnist_loads_and_verifies(tmp_path, mnist_idx, mnist):
    copy_mnist(tmp_path, mnist_idx)
    data = load_dataset("mnist", data_dir=tmp_path, download=False)
    assert {f["checksum"] for f in data.info["files"].values()} == {"verified"}
    assert {Path(f["path"]).name for f in data.info["files"].values()} == {n.removesuffix(".gz") for n in mnist_idx}
    assert torch.equal(data.train.x, mnist.train.x) and torch.equal(data.test.y, mnist.test.y)


@pytest.mark.parametrize("level", [None, 6], ids=["plain", "gzip"])
def test_one_changed_byte_is_refused_naming_both_checksums(tmp_path, mnist_idx, level):
    name, offset = "t10k-images-idx3-ubyte.gz", 16 + 5 * 784 + 400  # a pixel of the sixth test image
    changed = bytearray(mnist_idx[name])
    changed[offset] ^= 0xFF  # still a well-formed file, other data
    copy_mnist(tmp_path, mnist_idx, compress=lambda n: level if n == name else None, change=(name, offset))
    expected = registry.DATASETS["mnist"].layouts[0].files[2].sha256
    found = hashlib.sha256(changed).hexdigest()
    with pytest.raises(ChecksumError) as err:
        load_dataset("mnist", data_dir=tmp_path, download=False)
    message = str(err.value)
    assert "t10k-images-idx3-ubyte" in message and f"expected SHA-256 {expected}, found {found}" in message
    row = dataset_status("mnist", tmp_path)["files"][2]
    assert row["status"] == "checksum mismatch" and found in row["detail"]
