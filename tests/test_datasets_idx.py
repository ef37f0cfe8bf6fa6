"""IDX (MNIST / Fashion-MNIST) parsing and every way an IDX file can be broken, on tiny files."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest

from nas.datasets.idx import decompress, idx_magic, read_idx
from nas.exceptions import ChecksumError, CorruptFileError, TruncatedFileError


def idx_bytes(array: np.ndarray, *, type_code: int = 0x08, promised: int | None = None) -> bytes:
    """An IDX file's bytes for ``array`` (uint8); ``promised`` overrides the header's record count."""
    dims = list(array.shape)
    if promised is not None:
        dims[0] = promised
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in dims)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)


@pytest.fixture
def labels():
    return np.array([3, 1, 4, 1, 5], dtype=np.uint8)


def write(tmp_path, name, data, *, compress=True):
    path = tmp_path / name
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def test_magic_numbers_match_the_mnist_spec():
    assert idx_magic(0x08, 3) == 0x00000803
    assert idx_magic(0x08, 1) == 0x00000801


def test_reads_images_and_labels_gzip_and_plain(tmp_path, images, labels):
    p_img = write(tmp_path, "x-idx3-ubyte.gz", idx_bytes(images))
    p_lab = write(tmp_path, "y-idx1-ubyte", idx_bytes(labels), compress=False)
    img = read_idx(p_img, ndim=3, dims=(28, 28), expected_records=5)
    lab = read_idx(p_lab, ndim=1, expected_records=5)
    np.testing.assert_array_equal(img.array, images)
    np.testing.assert_array_equal(lab.array, labels)
    assert (img.records, img.expected_records, img.partial) == (5, 5, False)
    assert img.checksum == "no known checksum"


def test_known_checksum_verified_and_mismatch(tmp_path, labels):
    path = write(tmp_path, "y-idx1-ubyte.gz", idx_bytes(labels))
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    assert read_idx(path, ndim=1, md5=md5).checksum == "verified"
    with pytest.raises(ChecksumError, match=f"expected MD5 {'0' * 32}, found {md5}") as err:
        read_idx(path, ndim=1, md5="0" * 32)
    assert str(path) in str(err.value)


def test_content_sha256_accepts_any_compression_and_refuses_other_data(tmp_path, labels):
    data = idx_bytes(labels)
    sha256 = hashlib.sha256(data).hexdigest()
    copies = [write(tmp_path, "a-idx1-ubyte.gz", data),
              tmp_path / "b-idx1-ubyte.gz", write(tmp_path, "c-idx1-ubyte", data, compress=False)]
    copies[1].write_bytes(gzip.compress(data, compresslevel=9, mtime=1234))
    for path in copies:
        # md5 is ignored where sha256 is known: it is the MD5 of some other .gz of the same data.
        got = read_idx(path, ndim=1, sha256=sha256, md5="0" * 32)
        assert (got.checksum, got.sha256) == ("verified", sha256)
    other = bytearray(data)
    other[-1] ^= 1
    path = write(tmp_path, "d-idx1-ubyte.gz", bytes(other))
    found = hashlib.sha256(bytes(other)).hexdigest()
    expected = f"d-idx1-ubyte.gz: checksum mismatch: expected SHA-256 {sha256}, found {found} "
    with pytest.raises(ChecksumError, match=expected):
        read_idx(path, ndim=1, sha256=sha256)


def test_wrong_magic_number_names_expected_and_found(tmp_path, labels):
    path = write(tmp_path, "y-idx1-ubyte.gz", idx_bytes(labels))
    with pytest.raises(CorruptFileError, match=r"expected 0x00000803 .* found 0x00000801"):
        read_idx(path, ndim=3, dims=(28, 28))


def test_wrong_type_code_is_a_wrong_magic(tmp_path, labels):
    path = write(tmp_path, "y-idx1-ubyte.gz", idx_bytes(labels, type_code=0x0C))
    with pytest.raises(CorruptFileError, match="wrong magic number"):
        read_idx(path, ndim=1)


def test_truncated_records_raise_then_load_with_allow_partial(tmp_path, images):
    data = idx_bytes(images)
    cut = data[: 16 + 3 * 784 + 100]  # 3 whole records and part of a fourth
    path = write(tmp_path, "x-idx3-ubyte.gz", cut)
    with pytest.raises(TruncatedFileError, match="holds 3 of 5 records"):
        read_idx(path, ndim=3, dims=(28, 28), expected_records=5, md5="0" * 32)
    got = read_idx(path, ndim=3, dims=(28, 28), expected_records=5, md5="0" * 32, allow_partial=True)
    assert (got.records, got.expected_records, got.partial) == (3, 5, True)
    assert got.checksum == "not checked (partial file)"
    np.testing.assert_array_equal(got.array, images[:3])


def test_truncated_gzip_stream_is_a_truncated_file(tmp_path, images):
    full = gzip.compress(idx_bytes(images), mtime=0)
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(TruncatedFileError, match="gzip stream ends early"):
        read_idx(path, ndim=3, dims=(28, 28))
    got = read_idx(path, ndim=3, dims=(28, 28), allow_partial=True)
    assert got.records < 5
    np.testing.assert_array_equal(got.array, images[: got.records])


def test_bad_gzip_stream_is_corrupt(tmp_path, labels):
    full = bytearray(gzip.compress(idx_bytes(labels), mtime=0))
    full[-8] ^= 0xFF  # CRC32 of the trailer
    path = tmp_path / "y-idx1-ubyte.gz"
    path.write_bytes(bytes(full))
    with pytest.raises(CorruptFileError, match="corrupt gzip stream"):
        read_idx(path, ndim=1)


def test_not_gzip_at_all_is_corrupt(tmp_path, labels):
    path = write(tmp_path, "y-idx1-ubyte.gz", idx_bytes(labels), compress=False)
    with pytest.raises(CorruptFileError, match="not a gzip stream .* found 00 00"):
        read_idx(path, ndim=1)


def test_wrong_record_size_is_corrupt(tmp_path):
    small = np.zeros((2, 27, 27), dtype=np.uint8)
    path = write(tmp_path, "x-idx3-ubyte.gz", idx_bytes(small))
    with pytest.raises(CorruptFileError, match=r"expected records of shape \(28, 28\).*\(27, 27\)"):
        read_idx(path, ndim=3, dims=(28, 28))


def test_wrong_record_count_in_header_is_corrupt(tmp_path, labels):
    path = write(tmp_path, "y-idx1-ubyte.gz", idx_bytes(labels))
    with pytest.raises(CorruptFileError, match="expected 60000 records, the header promises 5"):
        read_idx(path, ndim=1, expected_records=60000)


def test_extra_bytes_are_corrupt(tmp_path, labels):
    path = write(tmp_path, "y-idx1-ubyte.gz", idx_bytes(labels) + b"\x07\x07")
    with pytest.raises(CorruptFileError, match="2 bytes more than the 5 records"):
        read_idx(path, ndim=1)


def test_file_ending_inside_header(tmp_path, labels):
    path = write(tmp_path, "y-idx1-ubyte.gz", idx_bytes(labels)[:6])
    with pytest.raises(TruncatedFileError, match="inside its 8-byte header"):
        read_idx(path, ndim=1)


def test_multi_member_gzip_is_read_whole(labels):
    data = idx_bytes(labels)
    raw = gzip.compress(data[:5], mtime=0) + gzip.compress(data[5:], mtime=0)
    assert decompress(raw, source="x.gz") == (data, True)


def test_garbage_after_stream_is_corrupt(labels):
    raw = gzip.compress(idx_bytes(labels), mtime=0) + b"junk"
    with pytest.raises(CorruptFileError, match="garbage after the gzip stream"):
        decompress(raw, source="x.gz")
