"""Provenance records and atomic writes."""

from __future__ import annotations

import os

import pytest

from nas.provenance import atomic_path, provenance, write_json_atomic, write_text_atomic


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    mask = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "a.txt", "x")
        assert path.read_text() == "x" and (path.stat().st_mode & 0o777) == 0o644
    finally:
        os.umask(mask)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_json_atomic(tmp_path / "c.json", {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert path.read_text().strip().startswith("{") and '"a": 1' in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]


def test_provenance_names_code_and_libraries():
    record = provenance()
    assert record["code_version"] and {"torch", "numpy", "optuna"} <= set(record["libraries"])
