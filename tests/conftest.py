"""Shared fixtures. Tests never depend on the working directory.

Which tests are slow, and the guard that keeps that true, is the plugin in ``tiers.py``
(registered here); the datasets the code under test loads are loaded once per session.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import urllib.request
import uuid
from pathlib import Path

import pytest
import tiers
import torch
from threadpoolctl import threadpool_limits

import nas.training.tasks
from nas.datasets import load_dataset, resolve_data_dir

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    config.pluginmanager.register(tiers, "tiers")


class SessionDatasets:
    """``load_dataset`` loading each dataset once per session: the shared files (MNIST, CIFAR-10) and
    the generated Reber sets, as the code under test asks for them through ``Task.load``.

    Every caller gets the same tensors (and its own copy of ``info``): a test or the code under
    test that changed them in place would change every later test's data, so each reuse and the
    end of the session check the tensors' bits against a fingerprint taken at the load. Loads of
    other folders (a test's own files) are not kept. A reuse of the shared files is reported to
    the tiers' guard as a use of the shared datasets, as the load itself was.
    """

    GENERATED = ("reber", "embedded_reber")

    def __init__(self, data_root: Path, guard):
        self.data_root = os.path.realpath(data_root)
        self.guard = guard
        self.kept: dict[tuple[str, str], tuple[object, list[int]]] = {}

    def _key(self, name: str, data_dir, options: dict) -> tuple[str, str] | None:
        if name not in self.GENERATED and os.path.realpath(resolve_data_dir(data_dir)) != self.data_root:
            return None
        try:
            return name, json.dumps(options, sort_keys=True)
        except TypeError:  # an option that is not plain data: load it afresh
            return None

    @staticmethod
    def fingerprint(data) -> list[int]:
        """Sums of the tensors' bit patterns: exact and independent of the summation order."""
        out = []
        for split in (data.train, data.val, data.test):
            for t in (split.x, split.y, split.lengths):
                if t is not None:
                    bits = t.view(torch.int32) if t.dtype == torch.float32 else t
                    out.append(int(bits.sum()))
        return out

    def check(self, key) -> None:
        data, expected = self.kept[key]
        if self.fingerprint(data) != expected:
            raise AssertionError(f"the session's {key[0]} dataset ({key[1]}) was changed in place by an earlier test "
                                 "or the code it ran; tests and product code must not write into loaded datasets")

    def __call__(self, name: str, *, data_dir=None, **options):
        key = self._key(name, data_dir, options)
        if key is None:
            return load_dataset(name, data_dir=data_dir, **options)
        if key in self.kept:
            self.check(key)
            if name not in self.GENERATED:
                self.guard.saw_shared_data(f"{name}, loaded earlier in the session")
        else:
            data = load_dataset(name, data_dir=data_dir, **options)
            self.kept[key] = data, self.fingerprint(data)
        data = self.kept[key][0]
        return dataclasses.replace(data, info=copy.deepcopy(data.info))


@pytest.fixture(scope="session", autouse=True)
def _session_datasets():
    """One load per session of each dataset the code under test loads (see :class:`SessionDatasets`)."""
    datasets = SessionDatasets(tiers.shared_data_root(), tiers.GUARD)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(nas.training.tasks, "load_dataset", datasets)
        yield datasets
    for key in datasets.kept:
        datasets.check(key)


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real datasets: ``NAS_DATA_DIR`` if set, else ``../shared/data`` beside the repository."""
    path = tiers.shared_data_root()
    if not (path / "mnist").is_dir():
        pytest.skip(f"shared data not found at {path}; set NAS_DATA_DIR")
    return path


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """One intra-op thread for torch and for BLAS/OpenMP pools: the test models are tiny, and on a
    busy 2-core machine two threads stall each other in every small parallel region (measured: up
    to 100x slower steps; HistGradientBoosting and GP fits likewise)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Tests never download: any attempt to open a URL fails loudly."""

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
    return f"{request.node.name[:40]}-{uuid.uuid4().hex[:12]}"


class FakeTerminal:
    """A stand-in stderr that says it is a terminal (tqdm shows its bars there only)."""

    def __init__(self):
        self.text: list[str] = []

    def write(self, s):
        self.text.append(s)

    def flush(self):
        pass

    def isatty(self):
        return True

    def __str__(self):
        return "".join(self.text)


@pytest.fixture
def terminal(monkeypatch):
    """A :class:`FakeTerminal`; ``terminal.attach()`` in the test body makes it ``sys.stderr`` (pytest's
    capture sets ``sys.stderr`` again after fixtures, so it cannot be done here)."""
    import sys

    fake = FakeTerminal()
    fake.attach = lambda: monkeypatch.setattr(sys, "stderr", fake)
    return fake
