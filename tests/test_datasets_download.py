"""Downloads are verified, never silent and never overwrite; the network is simulated."""

from __future__ import annotations

import hashlib
import io
import tarfile
import urllib.error

import pytest

from nas.datasets import download as dl
from nas.datasets.download import (
    DestinationExistsError,
    DownloadError,
    download_file,
    extract_tar_members,
    md5sum,
)
from nas.exceptions import ChecksumError, CorruptFileError, DatasetNotFoundError

PAYLOAD = b"sparse-nas test payload\n" * 100
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()


@pytest.fixture
def served(monkeypatch):
    """Replace the one network function with a fake server; returns the list of URLs asked for."""
    asked: list[str] = []
    files: dict[str, bytes] = {}

    def fake_fetch(url, out, *, progress=True, desc=None):
        asked.append(url)
        name = url.rsplit("/", 1)[-1]
        if url.startswith("https://down.example/") or name not in files:
            raise urllib.error.URLError("simulated: no route to host")
        out.write(files[name])

    monkeypatch.setattr(dl, "_fetch_url", fake_fetch)
    return asked, files


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_download_verifies_checksum_and_moves_into_place(tmp_path, served, capsys):
    asked, files = served
    files["f.bin"] = PAYLOAD
    dest = tmp_path / "sub" / "f.bin"
    assert download_file(["https://mirror.example/f.bin"], dest, md5=PAYLOAD_MD5) == dest
    assert dest.read_bytes() == PAYLOAD
    assert md5sum(dest) == PAYLOAD_MD5
    assert leftovers(dest.parent) == []
    assert "downloading https://mirror.example/f.bin" in capsys.readouterr().err  # never silent


def test_download_with_progress_off_prints_nothing(tmp_path, served, capsys):
    served[1]["f.bin"] = PAYLOAD
    download_file(["https://mirror.example/f.bin"], tmp_path / "f.bin", md5=PAYLOAD_MD5, progress=False)
    assert capsys.readouterr() == ("", "")


def test_checksum_mismatch_discards_the_download(tmp_path, served):
    served[1]["f.bin"] = PAYLOAD[:-1]
    dest = tmp_path / "f.bin"
    with pytest.raises(ChecksumError, match=f"expected {PAYLOAD_MD5}"):
        download_file(["https://mirror.example/f.bin"], dest, md5=PAYLOAD_MD5, progress=False)
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_existing_file_is_never_replaced(tmp_path, served):
    asked, files = served
    files["f.bin"] = PAYLOAD
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"the user's own file")
    with pytest.raises(DestinationExistsError, match="refusing to overwrite"):
        download_file(["https://mirror.example/f.bin"], dest, md5=PAYLOAD_MD5, progress=False)
    assert dest.read_bytes() == b"the user's own file"
    assert asked == []  # nothing was even downloaded


def test_file_appearing_during_download_is_not_replaced(tmp_path, monkeypatch):
    dest = tmp_path / "f.bin"

    def racing_fetch(url, out, *, progress=True, desc=None):
        dest.write_bytes(b"written by someone else meanwhile")
        out.write(PAYLOAD)

    monkeypatch.setattr(dl, "_fetch_url", racing_fetch)
    with pytest.raises(DestinationExistsError):
        download_file(["https://mirror.example/f.bin"], dest, md5=PAYLOAD_MD5, progress=False)
    assert dest.read_bytes() == b"written by someone else meanwhile"
    assert leftovers(tmp_path) == []


def test_falls_back_to_the_next_mirror(tmp_path, served):
    asked, files = served
    files["f.bin"] = PAYLOAD
    download_file(["https://down.example/f.bin", "https://mirror.example/f.bin"], tmp_path / "f.bin",
                  md5=PAYLOAD_MD5, progress=False)
    assert asked == ["https://down.example/f.bin", "https://mirror.example/f.bin"]


def test_no_network_is_a_download_error_naming_every_mirror(tmp_path, served):
    with pytest.raises(DownloadError, match="tried 2 mirror.*a.example/f.bin.*b.example/f.bin") as err:
        download_file(["https://a.example/f.bin", "https://b.example/f.bin"], tmp_path / "f.bin", progress=False)
    assert isinstance(err.value, DatasetNotFoundError)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "f.bin").exists() and leftovers(tmp_path) == []


def test_a_failed_download_removes_the_folders_it_made_and_only_those(tmp_path, served):
    (tmp_path / "kept").mkdir()
    with pytest.raises(DownloadError):
        download_file(["https://a.example/f.bin"], tmp_path / "kept" / "new" / "deeper" / "f.bin", progress=False)
    assert (tmp_path / "kept").is_dir() and list((tmp_path / "kept").iterdir()) == []


def make_tar(path, members: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_extract_selected_members_with_checksums(tmp_path):
    archive = make_tar(tmp_path / "a.tar.gz", {"d/one": b"1" * 10, "d/two": b"2" * 20, "../evil": b"x"})
    out = tmp_path / "out"
    written = extract_tar_members(archive, {"d/one": out / "one", "d/two": out / "two"},
                                  md5s={"d/one": hashlib.md5(b"1" * 10).hexdigest()})
    assert sorted(p.name for p in written) == ["one", "two"]
    assert (out / "two").read_bytes() == b"2" * 20
    assert not (tmp_path / "evil").exists()


def test_extract_never_overwrites_and_checks_md5(tmp_path):
    archive = make_tar(tmp_path / "a.tar.gz", {"d/one": b"1" * 10})
    (tmp_path / "one").write_bytes(b"mine")
    assert extract_tar_members(archive, {"d/one": tmp_path / "one"}) == []
    assert (tmp_path / "one").read_bytes() == b"mine"
    with pytest.raises(ChecksumError, match="d/one"):
        extract_tar_members(archive, {"d/one": tmp_path / "other"}, md5s={"d/one": "0" * 32})
    assert not (tmp_path / "other").exists()


def test_extract_checks_sha256(tmp_path):
    archive = make_tar(tmp_path / "a.tar.gz", {"d/one": b"1" * 10})
    good = hashlib.sha256(b"1" * 10).hexdigest()
    assert extract_tar_members(archive, {"d/one": tmp_path / "one"}, sha256s={"d/one": good}) == [tmp_path / "one"]
    expected = f"d/one in .*: checksum mismatch: expected SHA-256 {'0' * 64}, found {good}$"
    with pytest.raises(ChecksumError, match=expected):
        extract_tar_members(archive, {"d/one": tmp_path / "other"}, sha256s={"d/one": "0" * 64})
    assert not (tmp_path / "other").exists()


def test_extract_missing_member_or_bad_archive_is_corrupt(tmp_path):
    archive = make_tar(tmp_path / "a.tar.gz", {"d/one": b"1"})
    with pytest.raises(CorruptFileError, match="no member 'd/two'"):
        extract_tar_members(archive, {"d/two": tmp_path / "two"})
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(archive.read_bytes()[:30])
    with pytest.raises(CorruptFileError, match="cannot read archive"):
        extract_tar_members(bad, {"d/one": tmp_path / "one"})
