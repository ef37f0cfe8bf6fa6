"""Downloading dataset files: never silent, always verified, never overwriting.

A file is streamed into a temporary file beside its destination (with a tqdm progress bar), its
MD5 is checked against the value published for the file the mirror serves, and only then is it
moved into place with a link that fails if the destination appeared meanwhile. A user's existing
file is never replaced. (Files already on disk are verified by the SHA-256 of their decompressed
content when they are read; see :mod:`nas.datasets.checksums`.)
"""

from __future__ import annotations

import errno
import logging
import os
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from http.client import HTTPException
from pathlib import Path
from typing import BinaryIO, Mapping, Sequence

from tqdm.auto import tqdm

from nas.datasets.checksums import file_digest
from nas.exceptions import (
    ChecksumError,
    CorruptFileError,
    DataError,
    DatasetNotFoundError,
)

__all__ = [
    "DownloadError",
    "DestinationExistsError",
    "md5sum",
    "download_file",
    "extract_tar_members",
    "publish_no_overwrite",
]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_TIMEOUT_S = 60
_DIGESTS = {"sha256": "SHA-256", "md5": "MD5"}


class DownloadError(DatasetNotFoundError):
    """A missing file could not be downloaded (no network, mirror down, folder not writable)."""


class DestinationExistsError(DataError, FileExistsError):
    """A download or extraction would have replaced a file that already exists."""


def md5sum(path: str | os.PathLike) -> str:
    """Hex MD5 digest of a file, read in 1 MiB chunks.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    str
        32 lowercase hex digits.
    """
    return file_digest(path, "md5")


def _fetch_url(url: str, out: BinaryIO, *, progress: bool = True, desc: str | None = None) -> None:
    """Stream ``url`` into the open binary file ``out`` (the one place that touches the network).

    Raises ``OSError`` / ``urllib.error.URLError`` / ``http.client.HTTPException`` on failure; the
    caller turns these into :class:`DownloadError`.
    """
    with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:  # noqa: S310 - fixed https/http mirrors
        total = response.headers.get("Content-Length")
        with tqdm(
            total=int(total) if total else None, unit="B", unit_scale=True, unit_divisor=1024,
            desc=desc or url.rsplit("/", 1)[-1], disable=not progress, file=sys.stderr, leave=False,
        ) as bar:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                bar.update(len(chunk))


def publish_no_overwrite(tmp: Path, dest: Path) -> Path:
    """Move the finished temporary file ``tmp`` to ``dest`` atomically, refusing to replace ``dest``.

    ``os.link`` fails when the destination exists, so there is no window in which another
    process's file could be overwritten; filesystems without hard links fall back to a checked
    ``os.replace``.

    Raises
    ------
    DestinationExistsError
        ``dest`` already exists (``tmp`` is removed).
    """
    tmp, dest = Path(tmp), Path(dest)
    try:
        try:
            os.link(tmp, dest)
        except FileExistsError:
            raise DestinationExistsError(f"refusing to overwrite existing file {dest}") from None
        except OSError as err:
            if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            if dest.exists():
                raise DestinationExistsError(f"refusing to overwrite existing file {dest}") from None
            os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _temp_beside(dest: Path) -> tuple[BinaryIO, Path]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    mask = os.umask(0)
    os.umask(mask)
    os.fchmod(fd, 0o666 & ~mask)  # mkstemp makes 0600; a dataset file gets the usual mode
    return os.fdopen(fd, "wb"), Path(tmp)


def download_file(
    urls: Sequence[str], dest: str | os.PathLike, *, md5: str | None = None, progress: bool = True
) -> Path:
    """Download ``dest`` from the first mirror that answers, verify it, then move it into place.

    Parameters
    ----------
    urls : sequence of str
        Mirrors, tried in order; a network failure moves on to the next one.
    dest : str or path-like
        Final path. Must not exist.
    md5 : str, optional
        Known MD5; a mismatch deletes the download and raises :class:`ChecksumError`.
    progress : bool
        Show a tqdm progress bar on stderr.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DestinationExistsError
        ``dest`` exists already (nothing is downloaded).
    DownloadError
        No mirror could be reached or the folder cannot be written.
    ChecksumError
        The downloaded bytes do not have the known MD5.
    """
    dest = Path(dest)
    if dest.exists():
        raise DestinationExistsError(f"refusing to overwrite existing file {dest}")
    if not urls:
        raise DownloadError(f"no download mirror is known for {dest.name}")
    created = [folder for folder in dest.parents if not folder.exists()]  # deepest first
    try:
        return _download(urls, dest, md5, progress)
    except BaseException:
        for folder in created:  # a failed download leaves no folders behind
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _download(urls: Sequence[str], dest: Path, md5: str | None, progress: bool) -> Path:
    failures = []
    for url in urls:
        try:
            out, tmp = _temp_beside(dest)
        except OSError as err:
            raise DownloadError(f"cannot write into {dest.parent} to download {dest.name}: {err}") from err
        try:
            log.info("downloading %s -> %s", url, dest)
            if progress:
                tqdm.write(f"downloading {url} -> {dest}", file=sys.stderr)
            with out:
                _fetch_url(url, out, progress=progress, desc=dest.name)
        except (OSError, urllib.error.URLError, HTTPException, ValueError) as err:
            tmp.unlink(missing_ok=True)
            failures.append(f"{url}: {getattr(err, 'reason', None) or err}")
            continue
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if md5 is not None:
            found = md5sum(tmp)
            if found != md5:
                tmp.unlink(missing_ok=True)
                raise ChecksumError(
                    f"downloaded {dest.name} from {url} has MD5 {found}, expected {md5}; the file was discarded"
                )
        return publish_no_overwrite(tmp, dest)
    raise DownloadError(f"could not download {dest.name} (tried {len(urls)} mirror(s): {'; '.join(failures)})")


def extract_tar_members(
    archive: str | os.PathLike,
    members: Mapping[str, str | os.PathLike],
    *,
    md5s: Mapping[str, str] | None = None,
    sha256s: Mapping[str, str] | None = None,
) -> list[Path]:
    """Extract the named regular files of a tar archive, each to its own destination.

    Only the listed members are read, never paths chosen by the archive; a destination that
    exists is left untouched (it is verified when it is loaded).

    Parameters
    ----------
    archive : str or path-like
        A ``.tar``/``.tar.gz`` file.
    members : mapping of str to path
        Member name inside the archive -> destination path.
    md5s : mapping of str to str, optional
        Known MD5 per member name.
    sha256s : mapping of str to str, optional
        Known SHA-256 per member name (checked too when a member has both).

    Returns
    -------
    list of pathlib.Path
        The destinations written now (skipped existing ones are not listed).

    Raises
    ------
    CorruptFileError
        The archive cannot be read, or a member is missing or not a regular file.
    ChecksumError
        A member's MD5 or SHA-256 differs from the known one (nothing is written for it).
    """
    known = {"md5": md5s or {}, "sha256": sha256s or {}}
    written = []
    try:
        with tarfile.open(archive, "r:*") as tar:
            for name, dest in members.items():
                dest = Path(dest)
                if dest.exists():
                    continue
                try:
                    info = tar.getmember(name)
                except KeyError:
                    raise CorruptFileError(f"archive {archive} has no member {name!r}") from None
                if not info.isfile():
                    raise CorruptFileError(f"archive member {name!r} of {archive} is not a regular file")
                out, tmp = _temp_beside(dest)
                try:
                    with out, tar.extractfile(info) as src:
                        for chunk in iter(lambda: src.read(_CHUNK), b""):
                            out.write(chunk)
                    for algorithm, digests in known.items():
                        if name in digests and (found := file_digest(tmp, algorithm)) != digests[name]:
                            raise ChecksumError(f"{name} in {archive}: checksum mismatch: expected "
                                                f"{_DIGESTS[algorithm]} {digests[name]}, found {found}")
                    written.append(publish_no_overwrite(tmp, dest))
                finally:
                    tmp.unlink(missing_ok=True)
    except (tarfile.TarError, EOFError, OSError) as err:
        if isinstance(err, DataError):
            raise
        raise CorruptFileError(f"cannot read archive {archive}: {err}") from err
    return written
