"""The two test tiers: which tests are ``slow``, decided from what they do, and a guard that keeps it so.

A test is slow when it does any of three things:

1. **reads the shared datasets**: opens a file under the shared data folder (``NAS_DATA_DIR``, else
   ``../shared/data`` beside the repository);
2. **starts a process**: ``subprocess``, ``os.fork`` / ``exec*`` / ``spawn*`` / ``system``,
   ``multiprocessing`` (the CLI run as a child, a helper script, a pool), except the quick system
   queries in :data:`QUICK_COMMANDS` that provenance and CPU counting make;
3. **trains more than a few steps**: more than :data:`MAX_FAST_STEPS` optimizer steps in the test,
   all optimizers together (counted with torch's global optimizer step hook).

Collection marks a test ``slow`` (:func:`pytest_collection_modifyitems`) when

- it requests the ``shared_data_dir`` fixture, directly or through another fixture;
- its code, or a function or class of the test modules that its code names, refers to a process
  API (:data:`PROCESS_NAMES`: ``subprocess.run``, ``sys.executable``, ``os.fork``, ...);
- it is listed in :data:`DECLARED_SLOW`: slow work done inside product code, which collection
  cannot see (a command that loads MNIST before the error it tests; a long training budget).

(A ``@pytest.mark.slow`` written by hand is honoured too, but none is needed.)

The guard (:class:`Guard`) watches 1-3 while any test that is not slow runs: an audit hook sees
file opens and process starts, torch's step hook counts steps. The first breach stops the work
(:class:`SlowWorkInFastTest`) and the test fails, whatever the code under test did with the error,
with a message that names the rule and how to classify the test. In the other direction, a test
listed in :data:`DECLARED_SLOW` that did none of 1-3 gets a warning, so the table does not keep fast
tests out of the inner loop. So the classification cannot drift silently either way.

``python -m pytest -m "not slow"`` is the inner loop; without ``-m`` everything runs.
"""

from __future__ import annotations

import inspect
import multiprocessing.process
import os
import sys
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from torch.optim.optimizer import register_optimizer_step_post_hook

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent

#: Optimizer steps a fast test may take (all optimizers of the test together). The fast tests'
#: budgets are a few epochs of a few batches: measured, up to 100 steps and well under a second
#: each; the ones above train candidates alone and together for 108-391 steps.
MAX_FAST_STEPS = 100

#: Child processes a fast test may start: quick system queries (``git describe`` for provenance,
#: ``uname`` and ``lscpu`` for platform facts and physical core counts, ``ldconfig`` for
#: ``ctypes.util.find_library`` when a library is first imported), a few milliseconds each.
QUICK_COMMANDS = frozenset({"git", "uname", "lscpu", "ldconfig"})

#: Names whose use in a test's code means it starts processes ("spawn" and "system" are left out:
#: numpy's SeedSequence.spawn and platform.system are not processes).
PROCESS_NAMES = frozenset({
    "subprocess", "Popen", "multiprocessing", "ProcessPoolExecutor", "executable",
    "fork", "forkpty", "posix_spawn", "posix_spawnp", "execv", "execve", "execvp", "spawnv",
})

#: Tests whose slow work happens inside product code, where collection cannot see it:
#: ``"file::function"`` (all parameters of the function) -> what makes it slow. The guard fails an
#: unlisted test that does such work; a listed test that no longer does any gets a warning; a
#: listed name that no longer exists stops the collection.
DECLARED_SLOW = {
    "test_bench_search.py::test_jobs_and_gated_arms_give_the_tables_of_one_process":
        "runs benchmark searches in job processes (forked inside the product's runner)",
    "test_stacking.py::test_stacked_result_equals_solo_result":
        "trains candidates alone and together: 120-210 optimizer steps",
    "test_stacking_rnn.py::test_recurrent_stack_equals_solo_for_every_cell":
        "trains recurrent candidates alone and together: 108 optimizer steps",
    "test_stacking_rnn.py::test_recurrent_stack_equals_solo_with_plateau_early_stopping_and_one_stack":
        "trains recurrent candidates alone and together: 207 optimizer steps",
    "test_cli_search.py::test_unreachable_storage_is_one_line_error":
        "reads MNIST (NAS_DATA_DIR): the search loads its data before it opens the storage",
    "test_cli_search.py::test_an_out_that_cannot_be_a_directory_is_one_line":
        "reads MNIST (NAS_DATA_DIR): the search loads its data before it makes its folder",
    "test_ledger_operations.py::test_resume_of_a_missing_run_creates_nothing":
        "reads MNIST (NAS_DATA_DIR) before the resume finds no run",
    "test_runner.py::test_a_predictor_file_that_is_not_a_predictor_is_refused_before_anything_is_written":
        "reads MNIST (NAS_DATA_DIR) before the predictor file is read",
    "test_store_contract.py::test_a_kill_part_way_through_an_append_leaves_no_partial_record":
        "appends in a child process (Case.in_process, reached through the fixture) and kills it",
    "test_store_contract.py::test_records_survive_a_process_restart":
        "appends in a child process (Case.in_process, reached through the fixture)",
}

#: What the guard's message tells, per kind of slow work.
HOW_TO_CLASSIFY = {
    "data": "Request the `shared_data_dir` fixture (collection then marks the test slow); where product code "
            "finds the data on its own (NAS_DATA_DIR), add the test to DECLARED_SLOW in tests/tiers.py.",
    "process": "Start it from the test's code or a helper function or class beside it, where collection sees "
               "it (subprocess, multiprocessing, sys.executable, os.fork), or add the test to DECLARED_SLOW in "
               "tests/tiers.py.",
    "training": "Train less (fewer epochs, a smaller subset, TrainConfig.max_steps), or add the test to "
                "DECLARED_SLOW in tests/tiers.py.",
}


class SlowWorkInFastTest(Exception):
    """Raised where a test that is not marked slow reads the shared data, starts a process or trains long."""


#: The folder the test run started in: a relative NAS_DATA_DIR (the README's ``../shared/data``) names
#: a folder relative to it, also for a test that later changes the working directory.
START_DIR = Path.cwd()


def shared_data_root() -> Path:
    """The shared datasets' folder, as the ``shared_data_dir`` fixture finds it (absolute)."""
    return (START_DIR / (os.environ.get("NAS_DATA_DIR") or REPO_ROOT.parent / "shared" / "data")).resolve()


# -------------------------------------------------------------------------------- collection


def _folder(obj) -> Path | None:
    """The folder of the module that defines ``obj``."""
    file = getattr(sys.modules.get(getattr(obj, "__module__", None) or ""), "__file__", None)
    return None if file is None else Path(file).resolve().parent


def _code_objects(obj):
    """The code of a test function or class (its methods), with nested functions and lambdas."""
    if isinstance(obj, type):
        members = [getattr(m, "__func__", m) for m in vars(obj).values()]
        return [code for m in members if isinstance(m, types.FunctionType) for code in _code_objects(m)]
    stack, codes = [inspect.unwrap(obj).__code__], []
    while stack:
        code = stack.pop()
        codes.append(code)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return codes


def names_used(obj, seen: set | None = None) -> set[str]:
    """Global and attribute names the code of ``obj`` uses, following the functions and classes of
    the test modules beside it that it names (helpers, fakes), not library code."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return set()
    seen.add(id(obj))
    module = sys.modules.get(obj.__module__)
    module_globals, folder = (vars(module) if module else {}), _folder(obj)
    names: set[str] = set()
    for code in _code_objects(obj):
        names.update(code.co_names)
    for name in list(names):
        helper = module_globals.get(name)
        if isinstance(helper, (types.FunctionType, type)) and folder is not None and _folder(helper) == folder:
            names |= names_used(helper, seen)
    return names


def check_declared(modules: dict[str, types.ModuleType]) -> None:
    """Every DECLARED_SLOW entry names a test that exists: its file is in tests/ (or collected) and,
    when the file is collected, holds the function."""
    stale = []
    for key in DECLARED_SLOW:
        file, _, function = key.partition("::")
        if file not in modules and not (TESTS_DIR / file).is_file():
            stale.append(f"{key} (no file tests/{file})")
        elif file in modules and not hasattr(modules[file], function):
            stale.append(f"{key} (no function {function} in {file})")
    if stale:
        raise pytest.UsageError("DECLARED_SLOW in tests/tiers.py names tests that do not exist: " + "; ".join(stale))


def _key(item) -> str:
    """``file::function`` of a test, as DECLARED_SLOW names it."""
    function = getattr(item, "function", None)
    return f"{Path(item.path).name}::{function.__name__ if function else item.name}"


def slow_reasons(item) -> list[str]:
    """Why collection puts ``item`` in the slow tier (empty: fast)."""
    reasons = []
    if "shared_data_dir" in getattr(item, "fixturenames", ()):
        reasons.append("reads the shared datasets (shared_data_dir)")
    function = getattr(item, "function", None)
    if function is not None:
        used = names_used(function) & PROCESS_NAMES
        if used:
            reasons.append(f"starts processes ({', '.join(sorted(used))})")
        declared = DECLARED_SLOW.get(_key(item))
        if declared:
            reasons.append(declared)
    return reasons


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    check_declared({Path(item.path).name: item.module for item in items if getattr(item, "module", None)})
    for item in items:
        reasons = slow_reasons(item)
        if reasons:
            item.add_marker(pytest.mark.slow(reasons=reasons))


# ------------------------------------------------------------------------------------- guard


@dataclass
class Watch:
    """What one test did, as far as the tiers are concerned."""

    nodeid: str
    slow: bool
    declared: bool
    steps: int = 0
    did: set[str] = field(default_factory=set)  # "data", "process", "training"
    breach: str | None = None
    reported: bool = False
    passed: bool = False

    @property
    def idle(self) -> bool:
        """Nothing to learn: a slow test that is not in DECLARED_SLOW may do anything."""
        return self.slow and not self.declared


def _program(executable, argv) -> str:
    """The program a ``subprocess.Popen`` audit event starts."""
    if executable:
        return os.fsdecode(executable)
    words = argv.split() if isinstance(argv, (str, bytes)) else list(argv or ())
    return os.fsdecode(words[0]) if words else ""


#: Audit events that start a process outside ``subprocess`` (``pty.fork`` is os.forkpty).
_PROCESS_EVENTS = frozenset({"os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.system", "os.exec"})


class Guard:
    """Watches the running test; stops a fast one that does slow work."""

    def __init__(self, data_root: Path):
        self.data_root = os.path.realpath(data_root) + os.sep
        self.watch: Watch | None = None

    # Each observation records what the test did; in a fast test the first breach raises.
    def _saw(self, kind: str, what: str) -> None:
        watch = self.watch
        watch.did.add(kind)
        if watch.slow or watch.breach is not None:
            return
        watch.breach = (f"{watch.nodeid} is not marked slow but {what}: it belongs to the slow tier. "
                        f"{HOW_TO_CLASSIFY[kind]}")
        raise SlowWorkInFastTest(watch.breach)

    def audit(self, event: str, args) -> None:
        if self.watch is None or self.watch.idle:
            return
        if event == "open":
            path = args[0]
            if not isinstance(path, (str, bytes, os.PathLike)):  # a file descriptor
                return
            if os.path.realpath(os.fsdecode(path)).startswith(self.data_root):  # also through links
                self._saw("data", f"reads the shared datasets ({os.fsdecode(path)})")
        elif event == "subprocess.Popen":
            program = _program(*args[:2])
            if os.path.basename(program) not in QUICK_COMMANDS:
                self._saw("process", f"starts a process ({program})")
        elif event in _PROCESS_EVENTS:
            self._saw("process", f"starts a process ({event})")

    def saw_shared_data(self, what: str) -> None:
        """Report a use of the shared datasets that opens no file (a dataset loaded earlier, kept for the session)."""
        if self.watch is not None and not self.watch.idle:
            self._saw("data", f"reads the shared datasets ({what})")

    def process_started(self, process) -> None:
        if self.watch is not None and not self.watch.idle:
            self._saw("process", f"starts a process (multiprocessing: {type(process).__name__})")

    def optimizer_step(self, optimizer, args, kwargs) -> None:
        watch = self.watch
        if watch is None or watch.idle:
            return
        watch.steps += 1
        if watch.steps > MAX_FAST_STEPS:
            self._saw("training", f"takes more than {MAX_FAST_STEPS} optimizer steps")


GUARD = Guard(shared_data_root())
_WATCHED_EVENTS = _PROCESS_EVENTS | {"open", "subprocess.Popen"}
_installed = False


def _audit(event, args):
    if event in _WATCHED_EVENTS:  # the hook sees every audited event of the process: stay cheap
        GUARD.audit(event, args)


def _watched_start(start):
    def watched_start(process):
        GUARD.process_started(process)
        return start(process)

    return watched_start


def pytest_configure(config):
    """Install the guard's hooks, once per process (an audit hook cannot be removed: between tests,
    with no test to watch, they do nothing)."""
    global _installed
    if _installed:
        return
    _installed = True
    sys.addaudithook(_audit)
    register_optimizer_step_post_hook(GUARD.optimizer_step)
    # multiprocessing's spawn and forkserver contexts start children through no audited call
    process = multiprocessing.process.BaseProcess
    process.start = _watched_start(process.start)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    GUARD.watch = watch = Watch(item.nodeid, slow=item.get_closest_marker("slow") is not None,
                                declared=_key(item) in DECLARED_SLOW)
    try:
        return (yield)
    finally:
        GUARD.watch = None
        if watch.declared and watch.passed and not watch.did:
            warnings.warn(pytest.PytestWarning(
                f"{item.nodeid} is listed in DECLARED_SLOW (tests/tiers.py) but read no shared data, started no "
                f"process and took {watch.steps} optimizer steps (fast: up to {MAX_FAST_STEPS}): remove it there"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    watch = GUARD.watch
    if watch is not None and report.when == "call" and report.passed:
        watch.passed = True
    if watch is not None and watch.breach is not None and not watch.reported:
        # Whatever the code under test did with the error (the CLI prints it as one line and exits 1),
        # the test fails with the guard's message.
        watch.reported = True
        report.outcome = "failed"
        report.longrepr = watch.breach + ("" if report.longrepr is None else f"\n\n{report.longrepr}")
    return report
