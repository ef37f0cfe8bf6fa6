"""The IDX format of MNIST and Fashion-MNIST (``*-idx3-ubyte.gz`` images, ``*-idx1-ubyte.gz`` labels).

An IDX file is a 4-byte magic number ``0x00 0x00 <type code> <ndim>``, ``ndim`` big-endian uint32
dimensions, then the data in C order; it may be gzip-compressed or not. The reader decompresses the
whole gzip stream once and wraps the bytes with :func:`numpy.frombuffer` (no per-record Python
work), then checks, in this order: the gzip stream, the magic number, the dimensions, the record
count (truncation) and last the SHA-256 of the decompressed IDX bytes (see
:mod:`nas.datasets.checksums`), so that an error names the most specific thing that is wrong and a
re-compressed or uncompressed copy of the right data is accepted.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nas.datasets.checksums import content_sha256, verify_content
from nas.exceptions import CorruptFileError, TruncatedFileError

__all__ = ["IDX_TYPES", "IdxFile", "idx_magic", "decompress", "parse_idx", "read_idx"]

# IDX type code -> (numpy dtype, name); multi-byte types are big-endian by definition.
IDX_TYPES: dict[int, tuple[np.dtype, str]] = {
    0x08: (np.dtype("u1"), "unsigned byte"),
    0x09: (np.dtype("i1"), "signed byte"),
    0x0B: (np.dtype(">i2"), "short"),
    0x0C: (np.dtype(">i4"), "int"),
    0x0D: (np.dtype(">f4"), "float"),
    0x0E: (np.dtype(">f8"), "double"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def idx_magic(type_code: int, ndim: int) -> int:
    """The magic number of an IDX file, e.g. ``idx_magic(0x08, 3) == 0x803`` for MNIST images."""
    return (type_code << 8) | ndim


@dataclass(frozen=True)
class IdxFile:
    """A parsed IDX file.

    Attributes
    ----------
    array : numpy.ndarray
        The records, shape ``(records, *dims)`` (read-only view on the decompressed bytes).
    records : int
        Complete records present.
    expected_records : int
        Records the header (or the caller) promises.
    checksum : str
        ``"verified"``, ``"no known checksum"`` or ``"not checked (partial file)"``.
    sha256 : str
        SHA-256 of the decompressed IDX bytes (of what is there, for a partial file too).
    """

    array: np.ndarray
    records: int
    expected_records: int
    checksum: str
    sha256: str

    @property
    def partial(self) -> bool:
        return self.records < self.expected_records


def decompress(raw: bytes, *, source: str) -> tuple[bytes, bool]:
    """Decompress a gzip file's bytes; plain (uncompressed) IDX bytes are returned unchanged.

    Parameters
    ----------
    raw : bytes
        The file's content.
    source : str
        File name used in error messages.

    Returns
    -------
    data : bytes
        Decompressed bytes (as much as could be recovered when the stream ends early).
    complete : bool
        False when the gzip stream ends before its end marker (a truncated download).

    Raises
    ------
    CorruptFileError
        Not a valid gzip stream (bad header, bad deflate data, CRC or length mismatch).
    """
    if not raw.startswith(_GZIP_MAGIC):
        if source.endswith(".gz"):
            raise CorruptFileError(
                f"{source}: not a gzip stream (expected magic bytes 1f 8b, found {raw[:2].hex(' ') or 'an empty file'})"
            )
        return raw, True
    parts = []
    rest = raw
    # A gzip file may hold several members back to back; each one is decompressed in turn.
    while rest:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            parts.append(inflater.decompress(rest))
        except zlib.error as err:
            raise CorruptFileError(f"{source}: corrupt gzip stream ({err})") from err
        if not inflater.eof:
            return b"".join(parts), False
        rest = inflater.unused_data
        if rest and not rest.startswith(_GZIP_MAGIC):
            if rest.strip(b"\x00"):  # zero padding after the stream is common and harmless
                raise CorruptFileError(f"{source}: {len(rest)} bytes of garbage after the gzip stream")
            break
    return b"".join(parts), True


def parse_idx(
    data: bytes,
    *,
    source: str,
    type_code: int = 0x08,
    ndim: int,
    dims: tuple[int, ...] | None = None,
    expected_records: int | None = None,
    allow_partial: bool = False,
    stream_complete: bool = True,
) -> tuple[np.ndarray, int, int]:
    """Parse decompressed IDX bytes into an array.

    Parameters
    ----------
    data : bytes
        Decompressed content.
    source : str
        File name used in error messages.
    type_code, ndim : int
        Expected data type code and number of dimensions (they make the magic number).
    dims : tuple of int, optional
        Expected per-record dimensions, e.g. ``(28, 28)``.
    expected_records : int, optional
        Expected record count (the header must promise exactly this many).
    allow_partial : bool
        Accept a file holding fewer complete records than promised; return those.
    stream_complete : bool
        Whether the compressed stream was complete (see :func:`decompress`).

    Returns
    -------
    array : numpy.ndarray
        Shape ``(records, *dims)``.
    records, promised : int
        Complete records present, and records promised by the header.

    Raises
    ------
    CorruptFileError
        Wrong magic number, wrong dimensions, a header shorter than promised, extra bytes.
    TruncatedFileError
        Fewer records than promised (unless ``allow_partial``).
    """
    expected_magic = idx_magic(type_code, ndim)
    dtype, type_name = IDX_TYPES[type_code]
    if len(data) < 4:
        raise TruncatedFileError(f"{source}: {len(data)} bytes, too short to hold an IDX magic number")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise CorruptFileError(
            f"{source}: wrong magic number: expected 0x{expected_magic:08x} ({type_name}, {ndim}-D), "
            f"found 0x{magic:08x}"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise TruncatedFileError(f"{source}: file ends inside its {header}-byte header ({len(data)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    promised, record_dims = shape[0], shape[1:]
    if dims is not None and record_dims != tuple(dims):
        raise CorruptFileError(f"{source}: expected records of shape {tuple(dims)}, the header says {record_dims}")
    if expected_records is not None and promised != expected_records:
        raise CorruptFileError(f"{source}: expected {expected_records} records, the header promises {promised}")
    record_bytes = dtype.itemsize * int(np.prod(record_dims, dtype=np.int64))
    body = len(data) - header
    if body > promised * record_bytes:
        raise CorruptFileError(
            f"{source}: {body - promised * record_bytes} bytes more than the {promised} records the header promises"
        )
    records = body // record_bytes if record_bytes else promised
    if records < promised or not stream_complete:
        what = f"holds {records} of {promised} records"
        if not stream_complete:
            what += " (the gzip stream ends early)"
        if not allow_partial:
            raise TruncatedFileError(f"{source}: truncated file: {what}; use it anyway with --allow-partial-data (allow_partial=True in Python)")
    array = np.frombuffer(data, dtype=dtype, count=records * (record_bytes // dtype.itemsize), offset=header)
    return array.reshape((records, *record_dims)), records, promised


def read_idx(
    path: str | os.PathLike,
    *,
    ndim: int,
    dims: tuple[int, ...] | None = None,
    expected_records: int | None = None,
    sha256: str | None = None,
    md5: str | None = None,
    allow_partial: bool = False,
    type_code: int = 0x08,
) -> IdxFile:
    """Read and verify one IDX file (gzip-compressed or not).

    Parameters
    ----------
    path : str or path-like
        The file.
    ndim : int
        Number of dimensions including the record axis (3 for images, 1 for labels).
    dims : tuple of int, optional
        Per-record dimensions, e.g. ``(28, 28)``.
    expected_records : int, optional
        The record count of the official file.
    sha256 : str, optional
        Known SHA-256 of the decompressed IDX bytes; checked when the file is complete.
    md5 : str, optional
        Known MD5 of the file as stored (e.g. the published ``.gz``); checked, on a complete file,
        only when ``sha256`` is not given.
    allow_partial : bool
        Accept a truncated file (its checksum cannot match, so it is not checked).
    type_code : int
        IDX data type code (0x08: unsigned byte).

    Returns
    -------
    IdxFile

    Raises
    ------
    CorruptFileError
        Bad gzip stream, wrong magic number, wrong dimensions or record count.
    TruncatedFileError
        Fewer records than promised, unless ``allow_partial``.
    ChecksumError
        A complete, well-formed file whose content differs from ``sha256`` (or, without it, whose
        stored bytes differ from ``md5``); the message names the expected and the found digest.

    Examples
    --------
    >>> import gzip, tempfile, numpy as np
    >>> p = Path(tempfile.mkdtemp()) / "labels-idx1-ubyte.gz"
    >>> _ = p.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])))
    >>> read_idx(p, ndim=1).array.tolist()
    [7, 2, 1]
    """
    path = Path(path)
    raw = path.read_bytes()
    data, complete = decompress(raw, source=str(path))
    array, records, promised = parse_idx(
        data, source=str(path), type_code=type_code, ndim=ndim, dims=dims, expected_records=expected_records,
        allow_partial=allow_partial, stream_complete=complete,
    )
    found = content_sha256(data)
    if records < promised or not complete:
        checksum = "not checked (partial file)"
    else:
        checksum = verify_content(str(path), found, sha256=sha256, stored=raw, md5=md5)
    return IdxFile(array=array, records=records, expected_records=promised, checksum=checksum, sha256=found)
