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


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """One intra-op thread for torch and for BLAS/OpenMP pools: the test models are tiny, and on a
    busy 2-core machine two threads stall each other in every small parallel region (measured: up
    to 100x slower steps; HistGradientBoosting and GP fits likewise)."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Tests never download: any attempt to open a URL fails loudly."""
    import urllib.request

    def refuse(*args, **kwargs):
        raise RuntimeError("tests must not use the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


#: The storage backends every ledger contract runs against. PostgreSQL needs a server:
#: ``NAS_TEST_POSTGRES_URL`` (``.ci/run`` starts one and sets it, with ``NAS_REQUIRE_POSTGRES=1``
#: so that a missing server fails CI instead of skipping).
BACKENDS = ("sqlite", "journal", "postgresql")


def postgres_url() -> str:
    """The test server's URL, or skip (fail where ``NAS_REQUIRE_POSTGRES`` is set)."""
    url = os.environ.get("NAS_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("NAS_REQUIRE_POSTGRES"):
            pytest.fail("NAS_REQUIRE_POSTGRES is set but NAS_TEST_POSTGRES_URL is not: the PostgreSQL tests must run here")
        pytest.skip("no PostgreSQL server: set NAS_TEST_POSTGRES_URL=postgresql://USER:PASSWORD@HOST/DB to run these "
                    "(CI starts one)")
    return url


@pytest.fixture(params=BACKENDS)
def storage_url(request, tmp_path) -> str:
    """A fresh ledger URL on each backend (on PostgreSQL the tests use study names of their own)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    if request.param == "journal":
        return f"journal:{tmp_path / 'ledger.log'}"
    return postgres_url()


@pytest.fixture
def study_name(request) -> str:
    """A study name no other test (or earlier run against the same server) uses."""
    import uuid

    return f"{request.node.name[:40]}-{uuid.uuid4().hex[:12]}"
