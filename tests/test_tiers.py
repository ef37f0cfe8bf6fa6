"""The test tiers (tests/tiers.py): what makes a test slow, how collection sees it, how the guard
stops a fast test that does slow work; and the session's datasets (conftest.SessionDatasets)."""

from __future__ import annotations

import sys
from contextlib import contextmanager

import conftest
import pytest
import tiers
import torch
from tiers import MAX_FAST_STEPS, Guard, SlowWorkInFastTest, Watch

from nas.datasets import Dataset, Split


@contextmanager
def watching(guard: Guard, slow: bool = False, declared: bool = False):
    """``guard`` watching a test of its own for a while (the running test's watch is put back after)."""
    before = guard.watch
    guard.watch = watch = Watch("tests/test_x.py::test_x", slow=slow, declared=declared)
    try:
        yield watch
    finally:
        guard.watch = before


@pytest.fixture
def guard(tmp_path) -> Guard:
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    return Guard(tmp_path / "data")


def test_a_fast_test_may_not_open_the_shared_data_even_through_a_link(guard, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "data")
    for path in (tmp_path / "data" / "mnist" / "train.gz", link / "mnist" / "train.gz"):
        with watching(guard) as watch, pytest.raises(SlowWorkInFastTest, match=r"reads the shared .*shared_data_dir"):
            guard.audit("open", (str(path), "r", 0))
        assert watch.did == {"data"} and watch.breach.startswith("tests/test_x.py::test_x is not marked slow")
    with watching(guard) as watch:
        guard.audit("open", (str(tmp_path / "datafile"), "r", 0))  # a sibling whose name starts alike
        guard.audit("open", (3, "r", 0))  # a file descriptor
    assert watch.did == set() and watch.breach is None


def test_a_fast_test_may_start_no_process_but_the_quick_system_queries(guard):
    python = "/usr/bin/python3"
    for event, args in [("subprocess.Popen", (python, [python, "-m", "nas"], None, None)),
                        ("subprocess.Popen", (None, ["nas", "worker"], None, None)),
                        ("subprocess.Popen", (None, "bash scripts/gpu_cifar.sh", None, None)),
                        ("os.fork", ()), ("os.system", (b"ls",)), ("os.posix_spawn", ("/bin/ls", ["ls"], {}))]:
        with watching(guard), pytest.raises(SlowWorkInFastTest, match="starts a process"):
            guard.audit(event, args)
    with watching(guard), pytest.raises(SlowWorkInFastTest, match=r"multiprocessing: SpawnProcess"):
        guard.process_started(type("SpawnProcess", (), {})())
    with watching(guard) as watch:
        for name in ("git", "/usr/bin/uname", "lscpu"):
            guard.audit("subprocess.Popen", (None, [name, "-x"], None, None))
    assert watch.breach is None


def test_a_fast_test_may_take_up_to_the_step_limit(guard):
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.1)
    with watching(guard) as watch:
        for _ in range(MAX_FAST_STEPS):
            guard.optimizer_step(optimizer, (), {})
        with pytest.raises(SlowWorkInFastTest, match=f"more than {MAX_FAST_STEPS} optimizer steps"):
            guard.optimizer_step(optimizer, (), {})
    assert watch.steps == MAX_FAST_STEPS + 1


def test_a_slow_test_may_do_anything_and_a_declared_one_is_watched(guard, tmp_path):
    with watching(guard, slow=True, declared=True) as watch:
        guard.audit("open", (str(tmp_path / "data" / "mnist" / "x"), "r", 0))
        guard.audit("os.fork", ())
        for _ in range(MAX_FAST_STEPS + 1):
            guard.optimizer_step(None, (), {})
    assert watch.did == {"data", "process", "training"} and watch.breach is None
    with watching(guard, slow=True) as watch:  # slow and not declared: nothing to learn
        guard.audit("os.fork", ())
    assert watch.did == set()
    guard.audit("os.fork", ())  # between tests


def test_the_sessions_hooks_reach_the_guard():
    """The audit hook and torch's step hook are installed for this session and report to GUARD."""
    with watching(tiers.GUARD), pytest.raises(SlowWorkInFastTest, match="reads the shared datasets"):
        sys.audit("open", str(tiers.shared_data_root() / "mnist" / "t10k-labels-idx1-ubyte.gz"), "r", 0)
    with watching(tiers.GUARD), pytest.raises(SlowWorkInFastTest, match="starts a process"):
        sys.audit("subprocess.Popen", "/usr/bin/python3", ["/usr/bin/python3", "-c", "pass"], None, None)
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.1)
    weight.grad = torch.ones(1)
    with watching(tiers.GUARD) as watch, pytest.raises(SlowWorkInFastTest, match="optimizer steps"):
        for _ in range(MAX_FAST_STEPS + 1):
            optimizer.step()
    assert watch.steps == MAX_FAST_STEPS + 1


# ------------------------------------------------------------------------- collection and reports


@pytest.fixture
def inner(pytester, monkeypatch):
    """A pytest session of its own with the tiers plugin (the running test's watch is put back after)."""
    pytester.makeconftest('''
        import pytest
        import tiers

        def pytest_configure(config):
            config.pluginmanager.register(tiers, "tiers")

        @pytest.fixture
        def shared_data_dir(tmp_path):
            return tmp_path
    ''')
    monkeypatch.setattr(tiers, "DECLARED_SLOW", {"test_inner.py::test_declared": "trains long"})
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # installed plugins start processes of their own
    before = tiers.GUARD.watch
    yield pytester
    tiers.GUARD.watch = before


INNER = '''
    import subprocess
    import tiers

    def start_worker():
        return subprocess.run

    class Cluster:
        def start(self):
            return start_worker()

    def test_plain():
        pass

    def test_data(shared_data_dir):
        pass

    def test_worker():
        Cluster().start

    def test_declared():
        pass

    def test_reads_the_data_and_swallows_the_error():
        try:
            open(tiers.shared_data_root() / "mnist" / "train-images-idx3-ubyte.gz")
        except Exception:
            pass
'''


def test_collection_marks_tests_from_fixtures_process_names_and_the_declared_table(inner):
    inner.makepyfile(test_inner=INNER)
    items, _ = inner.inline_genitems("-p", "no:cacheprovider")
    reasons = {item.name: (item.get_closest_marker("slow").kwargs["reasons"] if item.get_closest_marker("slow") else [])
               for item in items}
    assert reasons["test_plain"] == [] and reasons["test_reads_the_data_and_swallows_the_error"] == []
    assert reasons["test_data"] == ["reads the shared datasets (shared_data_dir)"]
    assert reasons["test_worker"] == ["starts processes (subprocess)"]  # through a class and a helper
    assert reasons["test_declared"] == ["trains long"]


def test_a_fast_test_that_did_slow_work_fails_even_if_it_caught_the_error(inner):
    inner.makepyfile(test_inner=INNER)
    result = inner.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=1, warnings=1)
    result.stdout.fnmatch_lines([
        "*test_reads_the_data_and_swallows_the_error is not marked slow but reads the shared datasets*",
        "*test_inner.py::test_declared is listed in DECLARED_SLOW*but read no shared data, started no process*",
    ])
    assert inner.runpytest("-p", "no:cacheprovider", "-m", "not slow").parseoutcomes()["deselected"] == 3


def test_a_declared_test_that_does_not_exist_stops_the_collection(inner, monkeypatch):
    monkeypatch.setattr(tiers, "DECLARED_SLOW", {"test_inner.py::test_renamed": "x", "test_gone.py::test_y": "y"})
    inner.makepyfile(test_inner=INNER)
    result = inner.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*DECLARED_SLOW*test_inner.py::test_renamed (no function test_renamed in "
                                 "test_inner.py)*test_gone.py::test_y (no file tests/test_gone.py)*"])


# ------------------------------------------------------------------------------ session datasets


def _tiny(name="mnist") -> Dataset:
    split = Split(torch.arange(12, dtype=torch.float32).view(3, 4), torch.tensor([0, 1, 0]))
    return Dataset(name, split, split, split, num_classes=2, input_shape=(4,), info={"files": {"a": 1}})


def test_session_datasets_load_once_hand_out_copies_of_info_and_catch_writes(tmp_path, monkeypatch):
    loads = []
    monkeypatch.setattr(conftest, "load_dataset", lambda name, **kw: loads.append((name, kw)) or _tiny(name))
    datasets = conftest.SessionDatasets(tmp_path, Guard(tmp_path))
    a = datasets("mnist", data_dir=tmp_path, allow_partial=False)
    b = datasets("mnist", data_dir=tmp_path, allow_partial=False)
    assert len(loads) == 1 and a.train.x is b.train.x and a.info == b.info and a.info is not b.info
    datasets("mnist", data_dir=tmp_path, allow_partial=True)
    datasets("mnist", data_dir=tmp_path / "own", allow_partial=False)  # a test's own folder: never kept
    datasets("mnist", data_dir=tmp_path / "own", allow_partial=False)
    assert len(loads) == 4
    a.train.x[0, 0] = 0.5  # written in place
    with pytest.raises(AssertionError, match="changed in place"):
        datasets("mnist", data_dir=tmp_path, allow_partial=False)


def test_a_reused_shared_dataset_counts_as_reading_the_shared_data(tmp_path, monkeypatch):
    monkeypatch.setattr(conftest, "load_dataset", lambda name, **kw: _tiny(name))
    guard = Guard(tmp_path)
    datasets = conftest.SessionDatasets(tmp_path, guard)
    with watching(guard, slow=True):
        datasets("mnist", data_dir=tmp_path)
    with watching(guard), pytest.raises(SlowWorkInFastTest, match="mnist, loaded earlier in the session"):
        datasets("mnist", data_dir=tmp_path)
    with watching(guard) as watch:  # generated sets are not the shared data
        datasets("reber", n=200)
        datasets("reber", n=200)
    assert watch.breach is None
