"""CIFAR-10 batches in the official binary layout and in the python-pickle layout.

Binary layout (``cifar-10-batches-bin/*.bin``): records of 1 label byte + 3072 pixel bytes
(1024 R, 1024 G, 1024 B, row-major). Read with :func:`numpy.fromfile`; the record count follows
from the file size, so a truncated file is recognised without reading it.

Pickle layout (``cifar-10-batches-py/``): Python 2 pickles of a dict with ``data`` (uint8,
10000 x 3072) and ``labels``. They are read with :class:`RestrictedUnpickler`, which resolves only
the few globals a pickled numpy array needs; any other global (``os.system``, ...) is refused, so a
tampered file cannot run code.

A complete batch is verified by the SHA-256 of its bytes (a binary batch is raw records, so that is
the SHA-256 of its content; see :mod:`nas.datasets.checksums`), or by a known MD5 where no SHA-256 is
known (torchvision's values for the python batches).
"""

from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nas.datasets.checksums import content_sha256, file_digest, verify_content
from nas.exceptions import CorruptFileError, TruncatedFileError

__all__ = [
    "CLASSES",
    "IMAGE_SHAPE",
    "RECORD_BYTES",
    "RECORDS_PER_BATCH",
    "CifarBatch",
    "RestrictedUnpickler",
    "read_cifar_bin",
    "read_cifar_pickle",
]

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_SHAPE = (3, 32, 32)
PIXELS = 3 * 32 * 32
RECORD_BYTES = 1 + PIXELS
RECORDS_PER_BATCH = 10_000


@dataclass(frozen=True)
class CifarBatch:
    """One CIFAR-10 batch file.

    Attributes
    ----------
    images : numpy.ndarray
        uint8, shape ``(records, 3, 32, 32)``.
    labels : numpy.ndarray
        uint8 in ``0..9``, shape ``(records,)``.
    records, expected_records : int
        Records present and records of the official file.
    checksum : str
        ``"verified"``, ``"no known checksum"`` or ``"not checked (partial file)"``.
    sha256 : str
        SHA-256 of the file's bytes (of what is there, for a partial file too).
    """

    images: np.ndarray
    labels: np.ndarray
    records: int
    expected_records: int
    checksum: str
    sha256: str

    @property
    def partial(self) -> bool:
        return self.records < self.expected_records


def _check_labels(labels: np.ndarray, source: str) -> None:
    bad = np.flatnonzero(labels >= len(CLASSES))
    if bad.size:
        raise CorruptFileError(
            f"{source}: label {int(labels[bad[0]])} at record {int(bad[0])}, expected 0..{len(CLASSES) - 1} "
            f"({bad.size} bad labels; wrong record size or not a CIFAR-10 file?)"
        )


def binary_record_count(path: str | os.PathLike, expected_records: int = RECORDS_PER_BATCH) -> tuple[int, int]:
    """Complete records in a binary batch, checked against its size (no data read).

    Returns
    -------
    records, expected_records : int

    Raises
    ------
    CorruptFileError
        More bytes than ``expected_records`` records (wrong record size or not a CIFAR-10 batch).
    """
    size = Path(path).stat().st_size
    if size > expected_records * RECORD_BYTES:
        raise CorruptFileError(
            f"{path}: {size} bytes, expected {expected_records} records of {RECORD_BYTES} bytes "
            f"= {expected_records * RECORD_BYTES} bytes (wrong record size or not a CIFAR-10 batch?)"
        )
    return size // RECORD_BYTES, expected_records


def read_cifar_bin(
    path: str | os.PathLike,
    *,
    expected_records: int = RECORDS_PER_BATCH,
    sha256: str | None = None,
    md5: str | None = None,
    allow_partial: bool = False,
) -> CifarBatch:
    """Read one binary-layout batch (``data_batch_N.bin`` / ``test_batch.bin``).

    Parameters
    ----------
    path : str or path-like
    expected_records : int
        Records in the official file (10,000).
    sha256 : str, optional
        Known SHA-256 of the file; checked when the file is complete.
    md5 : str, optional
        Known MD5 (none is published for the ``.bin`` files); checked only without ``sha256``.
    allow_partial : bool
        Accept a truncated file and return its complete records.

    Returns
    -------
    CifarBatch

    Raises
    ------
    TruncatedFileError
        Fewer records than expected (unless ``allow_partial``).
    CorruptFileError
        Too many bytes for the expected records, or a label outside ``0..9``.
    ChecksumError
        A complete file whose SHA-256 differs from ``sha256`` (or, without it, whose MD5 differs
        from ``md5``); the message names the expected and the found digest.
    """
    path = Path(path)
    records, expected = binary_record_count(path, expected_records)
    size = path.stat().st_size
    if records < expected or size % RECORD_BYTES:
        what = f"holds {records} of {expected} records"
        if size % RECORD_BYTES:
            what += f" and {size % RECORD_BYTES} stray bytes of an incomplete record"
        if not allow_partial:
            raise TruncatedFileError(f"{path}: truncated file: {what}; use it anyway with --allow-partial-data (allow_partial=True in Python)")
    raw = np.fromfile(path, dtype=np.uint8, count=records * RECORD_BYTES).reshape(records, RECORD_BYTES)
    labels = raw[:, 0].copy()
    _check_labels(labels, str(path))
    images = raw[:, 1:].reshape(records, *IMAGE_SHAPE)
    # A complete file is exactly the records read, so their bytes are the file's bytes.
    found = content_sha256(raw) if records == expected else file_digest(path)
    if records < expected:
        checksum = "not checked (partial file)"
    else:
        checksum = verify_content(str(path), found, sha256=sha256, stored=raw, md5=md5)
    return CifarBatch(images=images, labels=labels, records=records, expected_records=expected, checksum=checksum,
                      sha256=found)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that only rebuilds numpy arrays and plain builtins (dict, list, str, bytes, int).

    The CIFAR-10 python batches need exactly: ``numpy.core.multiarray._reconstruct`` (or its
    numpy 2 home ``numpy._core.multiarray``), ``numpy.ndarray``, ``numpy.dtype`` and, for
    protocol-2 pickles written by Python 3, ``_codecs.encode`` (which turns a str into bytes).
    """

    ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    })

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR-10 batch")
        return super().find_class(module, name)


def read_cifar_pickle(
    path: str | os.PathLike,
    *,
    expected_records: int = RECORDS_PER_BATCH,
    sha256: str | None = None,
    md5: str | None = None,
    allow_partial: bool = False,
) -> CifarBatch:
    """Read one python-layout batch (``data_batch_N`` / ``test_batch``) with a restricted unpickler.

    Parameters
    ----------
    path : str or path-like
    expected_records : int
        Records in the official file (10,000).
    sha256 : str, optional
        Known SHA-256 of the file; checked on complete batches.
    md5 : str, optional
        Known MD5 (torchvision's values for the official batches); checked on complete batches
        only without ``sha256``.
    allow_partial : bool
        Accept a batch holding fewer records than expected. A pickle cut short cannot be read at
        all, so a truncated *file* is always a :class:`CorruptFileError`.

    Returns
    -------
    CifarBatch

    Raises
    ------
    CorruptFileError
        Unreadable pickle, a forbidden global, missing keys, wrong shapes or labels.
    TruncatedFileError
        A well-formed batch with fewer records than expected (unless ``allow_partial``).
    ChecksumError
        A complete batch whose SHA-256 differs from ``sha256`` (or, without it, whose MD5 differs
        from ``md5``); the message names the expected and the found digest.
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        # latin1 is how numpy arrays pickled by Python 2 must be decoded.
        obj = RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as err:
        raise CorruptFileError(f"{path}: not a readable CIFAR-10 python batch ({type(err).__name__}: {err})") from err
    if not isinstance(obj, dict):
        raise CorruptFileError(f"{path}: expected a pickled dict, found {type(obj).__name__}")
    obj = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}
    if "data" not in obj or "labels" not in obj:
        raise CorruptFileError(f"{path}: expected keys 'data' and 'labels', found {sorted(map(str, obj))}")
    data, labels = obj["data"], np.asarray(obj["labels"])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise CorruptFileError(f"{path}: expected 'data' as uint8 (N, {PIXELS}), found {found}")
    records = data.shape[0]
    if labels.shape != (records,) or not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
        raise CorruptFileError(
            f"{path}: expected {records} integer labels to match 'data', found shape {labels.shape} {labels.dtype}"
        )
    if records > expected_records:
        raise CorruptFileError(f"{path}: expected {expected_records} records, found {records}")
    labels = labels.astype(np.uint8) if records == 0 or labels.max() < 256 else labels
    _check_labels(labels, str(path))
    if records < expected_records and not allow_partial:
        raise TruncatedFileError(
            f"{path}: truncated batch: holds {records} of {expected_records} records; "
            "use it anyway with --allow-partial-data (allow_partial=True in Python)"
        )
    found = content_sha256(raw)
    if records < expected_records:
        checksum = "not checked (partial file)"
    else:
        checksum = verify_content(str(path), found, sha256=sha256, stored=raw, md5=md5)
    images = data.reshape(records, *IMAGE_SHAPE)
    return CifarBatch(images=images, labels=labels, records=records, expected_records=expected_records,
                      checksum=checksum, sha256=found)
