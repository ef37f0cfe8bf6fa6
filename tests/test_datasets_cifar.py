"""CIFAR-10 batch parsing (binary and python-pickle layouts) on tiny files the tests write."""

from __future__ import annotations

import hashlib
import os
import pickle

import numpy as np
import pytest

from nas.datasets.cifar import RECORD_BYTES, read_cifar_bin, read_cifar_pickle
from nas.exceptions import ChecksumError, CorruptFileError, TruncatedFileError

N = 4


@pytest.fixture
def batch():
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, size=(N, 3, 32, 32), dtype=np.uint8), np.array([0, 9, 3, 3], dtype=np.uint8)


def bin_bytes(images, labels) -> bytes:
    return np.concatenate([labels[:, None], images.reshape(len(labels), -1)], axis=1).tobytes()


def write_pickle(path, images, labels, *, protocol=2, extra=None):
    obj = {"batch_label": "testing batch 1 of 1", "labels": [int(v) for v in labels],
           "data": images.reshape(len(labels), -1), "filenames": [f"{i}.png" for i in range(len(labels))]}
    obj.update(extra or {})
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


# ------------------------------------------------------------------------------------ binary layout


def test_bin_round_trip(tmp_path, batch):
    images, labels = batch
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(bin_bytes(images, labels))
    got = read_cifar_bin(path, expected_records=N)
    np.testing.assert_array_equal(got.images, images)
    np.testing.assert_array_equal(got.labels, labels)
    assert (got.records, got.expected_records, got.checksum) == (N, N, "no known checksum")


def test_bin_channel_layout_is_r_then_g_then_b(tmp_path):
    record = bytes([7]) + bytes([10]) * 1024 + bytes([20]) * 1024 + bytes([30]) * 1024
    path = tmp_path / "b.bin"
    path.write_bytes(record)
    got = read_cifar_bin(path, expected_records=1)
    assert got.labels.tolist() == [7]
    assert [int(got.images[0, c].mean()) for c in range(3)] == [10, 20, 30]


def test_bin_truncated_raises_then_loads_partially(tmp_path, batch):
    images, labels = batch
    path = tmp_path / "test_batch.bin"
    path.write_bytes(bin_bytes(images, labels)[: 2 * RECORD_BYTES])
    with pytest.raises(TruncatedFileError, match="holds 2 of 4 records") as err:
        read_cifar_bin(path, expected_records=N)
    assert str(path) in str(err.value)
    got = read_cifar_bin(path, expected_records=N, allow_partial=True)
    assert (got.records, got.partial, got.checksum) == (2, True, "not checked (partial file)")
    np.testing.assert_array_equal(got.images, images[:2])


def test_bin_cut_mid_record_is_truncated(tmp_path, batch):
    images, labels = batch
    path = tmp_path / "b.bin"
    path.write_bytes(bin_bytes(images, labels)[: 3 * RECORD_BYTES + 10])
    with pytest.raises(TruncatedFileError, match="holds 3 of 4 records and 10 stray bytes"):
        read_cifar_bin(path, expected_records=N)
    assert read_cifar_bin(path, expected_records=N, allow_partial=True).records == 3


def test_bin_wrong_record_size_is_corrupt(tmp_path, batch):
    images, labels = batch
    # CIFAR-100 style records: two label bytes, so every record is one byte longer.
    rows = np.concatenate([labels[:, None], labels[:, None], images.reshape(N, -1)], axis=1)
    path = tmp_path / "b.bin"
    path.write_bytes(rows.tobytes())
    with pytest.raises(CorruptFileError, match=f"{N * (RECORD_BYTES + 1)} bytes, expected {N} records of 3073"):
        read_cifar_bin(path, expected_records=N)


def test_bin_bad_label_is_corrupt(tmp_path, batch):
    images, labels = batch
    labels = labels.copy()
    labels[2] = 200
    path = tmp_path / "b.bin"
    path.write_bytes(bin_bytes(images, labels))
    with pytest.raises(CorruptFileError, match="label 200 at record 2, expected 0..9"):
        read_cifar_bin(path, expected_records=N)


def test_bin_checksum(tmp_path, batch):
    path = tmp_path / "b.bin"
    path.write_bytes(bin_bytes(*batch))
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    assert read_cifar_bin(path, expected_records=N, md5=md5).checksum == "verified"
    with pytest.raises(ChecksumError, match=f"found {md5}"):
        read_cifar_bin(path, expected_records=N, md5="f" * 32)


def test_bin_sha256_is_checked_and_takes_precedence_over_md5(tmp_path, batch):
    path = tmp_path / "b.bin"
    path.write_bytes(bin_bytes(*batch))
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    got = read_cifar_bin(path, expected_records=N, sha256=sha256, md5="f" * 32)
    assert (got.checksum, got.sha256) == ("verified", sha256)
    with pytest.raises(ChecksumError, match=f"expected SHA-256 {'0' * 64}, found {sha256}"):
        read_cifar_bin(path, expected_records=N, sha256="0" * 64)
    # A truncated file cannot match; it is reported as partial, with the digest of what is there.
    path.write_bytes(path.read_bytes()[:RECORD_BYTES])
    part = read_cifar_bin(path, expected_records=N, sha256=sha256, allow_partial=True)
    assert (part.checksum, part.sha256) == ("not checked (partial file)", hashlib.sha256(path.read_bytes()).hexdigest())


# ------------------------------------------------------------------------------------ pickle layout


@pytest.mark.parametrize("protocol", [2, 4])
def test_pickle_round_trip(tmp_path, batch, protocol):
    images, labels = batch
    path = write_pickle(tmp_path / "data_batch_1", images, labels, protocol=protocol)
    got = read_cifar_pickle(path, expected_records=N)
    np.testing.assert_array_equal(got.images, images)
    np.testing.assert_array_equal(got.labels, labels)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    assert read_cifar_pickle(path, expected_records=N, md5=md5).checksum == "verified"


def test_pickle_with_bytes_keys_like_python2(tmp_path, batch):
    images, labels = batch
    obj = {b"labels": [int(v) for v in labels], b"data": images.reshape(N, -1)}
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    np.testing.assert_array_equal(read_cifar_pickle(path, expected_records=N).labels, labels)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickle_with_forbidden_global_is_refused(tmp_path, batch):
    images, labels = batch
    path = write_pickle(tmp_path / "data_batch_1", images, labels, extra={"x": _Evil()})
    with pytest.raises(CorruptFileError, match=r"global (posix|os|nt)\.system is not allowed"):
        read_cifar_pickle(path, expected_records=N)


def test_pickle_truncated_file_is_corrupt(tmp_path, batch):
    path = write_pickle(tmp_path / "data_batch_1", *batch)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CorruptFileError, match="not a readable CIFAR-10 python batch"):
        read_cifar_pickle(path, expected_records=N)


def test_pickle_fewer_records_is_truncated(tmp_path, batch):
    path = write_pickle(tmp_path / "test_batch", *batch)
    with pytest.raises(TruncatedFileError, match="holds 4 of 10 records"):
        read_cifar_pickle(path, expected_records=10)
    assert read_cifar_pickle(path, expected_records=10, allow_partial=True).records == N


def test_pickle_wrong_record_size_is_corrupt(tmp_path, batch):
    images, labels = batch
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"labels": labels.tolist(), "data": np.zeros((N, 3000), np.uint8)}, protocol=2))
    with pytest.raises(CorruptFileError, match=r"expected 'data' as uint8 \(N, 3072\), found uint8 \(4, 3000\)"):
        read_cifar_pickle(path, expected_records=N)


def test_pickle_missing_keys_is_corrupt(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"pixels": [1, 2]}, protocol=2))
    with pytest.raises(CorruptFileError, match="expected keys 'data' and 'labels'"):
        read_cifar_pickle(path)
