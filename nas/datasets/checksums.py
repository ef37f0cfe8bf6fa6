"""How a dataset file is verified: by the SHA-256 of its decompressed content.

The bytes a reader parses (the raw IDX bytes of an MNIST file, the records of a CIFAR-10 binary
batch) are what must be right, not the way they happen to be compressed. Checking their SHA-256
accepts the same data re-compressed (``gzip -9``, a distribution's repacked file) or stored
uncompressed, and refuses any change to the data. Where no content checksum is known, the
published MD5 of the file as stored is checked instead; then a re-compressed copy cannot be told
apart from a changed one and is refused too.
"""

from __future__ import annotations

import hashlib
import os

from nas.exceptions import ChecksumError

__all__ = ["content_sha256", "file_digest", "verify_content"]

_CHUNK = 1 << 20


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file as stored, read in 1 MiB chunks.

    Parameters
    ----------
    path : str or path-like
    algorithm : {"sha256", "md5"}

    Returns
    -------
    str
        Lowercase hex digits.
    """
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def content_sha256(content) -> str:
    """Hex SHA-256 of bytes-like ``content`` (a file's decompressed content)."""
    return hashlib.sha256(content).hexdigest()


def verify_content(
    source: str,
    found_sha256: str,
    *,
    sha256: str | None = None,
    stored=None,
    md5: str | None = None,
) -> str:
    """Check a complete file against the checksums known for it.

    Parameters
    ----------
    source : str
        File name used in error messages.
    found_sha256 : str
        SHA-256 of the file's decompressed content (for an uncompressed file, of the file), as
        :func:`content_sha256` gives it.
    sha256 : str, optional
        Known SHA-256 of the content. When it is given, ``md5`` is not consulted.
    stored : bytes-like, optional
        The file's bytes as stored; needed for ``md5``.
    md5 : str, optional
        Known MD5 of the file as stored (e.g. the published ``.gz``), checked only without ``sha256``.

    Returns
    -------
    str
        ``"verified"``, or ``"no known checksum"`` when neither checksum applies.

    Raises
    ------
    ChecksumError
        The content (or the stored file) does not have the known checksum; the message names the
        file, the expected and the found digest.

    Examples
    --------
    >>> verify_content("f", content_sha256(b"abc"), sha256=content_sha256(b"abc"))
    'verified'
    >>> verify_content("f", content_sha256(b"abc"))
    'no known checksum'
    """
    if sha256 is not None:
        if found_sha256 != sha256:
            raise ChecksumError(
                f"{source}: checksum mismatch: expected SHA-256 {sha256}, found {found_sha256} "
                "(SHA-256 of the uncompressed data)"
            )
        return "verified"
    if md5 is not None and stored is not None:
        found = hashlib.md5(stored, usedforsecurity=False).hexdigest()
        if found != md5:
            raise ChecksumError(
                f"{source}: checksum mismatch: expected MD5 {md5}, found {found} (MD5 of the file as stored; "
                "no checksum of the decompressed content is known, so a re-compressed copy is refused too)"
            )
        return "verified"
    return "no known checksum"
