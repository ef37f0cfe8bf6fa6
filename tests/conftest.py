"""Shared fixtures. Tests never depend on the working directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real datasets: ``NAS_DATA_DIR`` if set, else ``../shared/data`` beside the repository."""
    path = Path(os.environ.get("NAS_DATA_DIR") or REPO_ROOT.parent / "shared" / "data")
    if not (path / "mnist").is_dir():
        pytest.skip(f"shared data not found at {path}; set NAS_DATA_DIR")
    return path


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Tests never download: any attempt to open a URL fails loudly."""
    import urllib.request

    def refuse(*args, **kwargs):
        raise RuntimeError("tests must not use the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
