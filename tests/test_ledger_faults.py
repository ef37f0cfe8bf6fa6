"""Fault tests of the ledger with real `nas worker` processes, on every backend (SQLite, journal
file, PostgreSQL): many workers, a worker killed mid-trial, a search killed between generations,
a worker frozen past its heartbeat limit. Every wait is bounded."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from optuna.trial import TrialState

from nas.search.config import SearchConfig
from nas.ledger import Ledger
from nas.search.loop import open_search_ledger, run_search
from nas.report import RunOutputs
from search_spaces.genome import Genome

TRIAL_LINE = re.compile(r"^trial (\d+) \(")


def _config(tmp_path, storage_url, study_name, shared_data_dir, **changes) -> SearchConfig:
    base = dict(task="mnist", out=str(tmp_path / "run"), storage=storage_url, ledger_name=study_name, population=4,
                generations=1, survivors=2, final_top=0, local_worker=False, progress=False, poll_interval=0.2,
                heartbeat_interval=0.5, stale_after=5.0, data_dir=str(shared_data_dir),
                train={"epochs": 1, "train_subset": 256, "val_subset": 128, "test_subset": 128})
    base.update(changes)
    return SearchConfig(**base)


def _queue(config, n) -> Ledger:
    ledger = open_search_ledger(config, resume=False)
    for i in range(n):
        ledger.enqueue(Genome("erdos_renyi", {"p": 0.3}, nodes=8, seed=i, width=4), generation=0, index=i)
    return ledger


class Workers:
    """`nas worker` processes, killed at the end of the test whatever happens."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, config, *args) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "nas", "worker", "--storage", config.storage_url, "--ledger",
                                 config.ledger, "--threads", "1", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.procs.append(proc)
        return proc

    def finish(self, proc, timeout=240) -> tuple[str, str]:
        out, err = proc.communicate(timeout=timeout)
        return out, err

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)  # a frozen one cannot die otherwise
                proc.kill()
                proc.communicate(timeout=30)


@pytest.fixture
def workers():
    w = Workers()
    yield w
    w.close()


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _trained(stderr: str) -> list[int]:
    return [int(m.group(1)) for line in stderr.splitlines() if (m := TRIAL_LINE.match(line))]


def _running_of(ledger, pid):
    return [t for t in ledger.trials([TrialState.RUNNING]) if str(t.user_attrs.get("worker", "")).endswith(f":{pid}")]


def test_four_workers_complete_and_train_every_trial_exactly_once(storage_url, study_name, tmp_path, shared_data_dir,
                                                                  workers):
    # Staleness is not under test here: a generous limit keeps a heartbeat delayed by a busy 2-core
    # machine (four workers and a parallel test run contending for one SQLite file) from being
    # taken for a dead worker.
    config = _config(tmp_path, storage_url, study_name, shared_data_dir, stale_after=120.0)
    ledger = _queue(config, 0)
    procs = [workers.start(config, "--idle-timeout", "5") for _ in range(4)]
    _wait(lambda: len(ledger.live_workers(config.stale_after)) == 4, 120, "four workers to register")
    for i in range(40):  # enqueued while the workers poll, as a search does
        ledger.enqueue(Genome("erdos_renyi", {"p": 0.3}, nodes=8, seed=i, width=4), generation=0, index=i)
    outputs = [workers.finish(p) for p in procs]
    crashed = [err for p, (_, err) in zip(procs, outputs) if p.returncode != 0]
    assert not crashed, "\n".join(line for err in crashed for line in err.splitlines() if not TRIAL_LINE.match(line))
    trained = Counter(n for _, err in outputs for n in _trained(err))
    failed = [(t.number, t.user_attrs.get("fail_reason")) for t in ledger.trials() if t.state == TrialState.FAIL]
    assert not failed, (failed, [err[-1500:] for _, err in outputs])
    assert sorted(trained) == list(range(40)) and set(trained.values()) == {1}  # trained exactly once
    states = Counter(t.state for t in ledger.trials())
    assert states == {TrialState.COMPLETE: 40}  # completed exactly once, nothing requeued
    done = [int(re.search(r"worker done: (\d+)", out).group(1)) for out, _ in outputs]
    assert sum(done) == 40 and sum(1 for d in done if d > 0) >= 2  # the shares were divided among them


def test_a_killed_workers_trial_is_requeued_and_completed_once_by_another(storage_url, study_name, tmp_path,
                                                                          shared_data_dir, workers):
    slow = {"epochs": 3, "train_subset": 20000, "val_subset": 500, "test_subset": 500}
    config = _config(tmp_path, storage_url, study_name, shared_data_dir, train=slow)
    ledger = _queue(config, 1)
    victim = workers.start(config, "--share", "1", "--idle-timeout", "30")
    (trial,) = _wait(lambda: _running_of(ledger, victim.pid), 120, "the first worker to claim the trial")
    victim.kill()  # SIGKILL mid-trial
    victim.communicate(timeout=30)
    rescuer = workers.start(config, "--idle-timeout", "3")
    out, err = workers.finish(rescuer)
    assert rescuer.returncode == 0, err[-2000:]
    trials = {t.number: t for t in ledger.trials()}
    assert trials[trial.number].state == TrialState.FAIL and trials[trial.number].user_attrs["requeued"]
    assert "stopped or stopped reporting" in trials[trial.number].user_attrs["fail_reason"]
    complete = [t for t in trials.values() if t.state == TrialState.COMPLETE]
    assert len(complete) == 1 and complete[0].user_attrs["key"] == trial.user_attrs["key"]
    assert complete[0].user_attrs["requeues"] == 1 and _trained(err) == [complete[0].number]


def test_a_frozen_workers_late_result_is_not_recorded(storage_url, study_name, tmp_path, shared_data_dir, workers):
    slow = {"epochs": 3, "train_subset": 20000, "val_subset": 500, "test_subset": 500}
    config = _config(tmp_path, storage_url, study_name, shared_data_dir, train=slow)
    ledger = _queue(config, 1)
    frozen = workers.start(config, "--share", "1", "--idle-timeout", "8")
    (trial,) = _wait(lambda: _running_of(ledger, frozen.pid), 120, "the first worker to claim the trial")

    def registration():  # the heartbeat thread's last write of a round: beat the trials, then the worker
        key = next((k for k in ledger.storage.get_study_user_attrs(ledger.study_id) if k.endswith(f":{frozen.pid}")), None)
        return None if key is None else ledger.storage.get_study_user_attrs(ledger.study_id)[key]["beat"]

    # freeze right after a round, never inside a storage transaction: a process stopped while it
    # holds SQLite's write lock blocks every other one until it resumes
    last = _wait(registration, 30, "the first worker's registration")
    _wait(lambda: registration() != last, 30, "a heartbeat round of the first worker")
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        rescuer = workers.start(config, "--idle-timeout", "10")
        out, err = workers.finish(rescuer)
        assert rescuer.returncode == 0, err[-2000:]
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    late_out, late_err = workers.finish(frozen)
    assert "not recorded" in late_err, late_err[-2000:]
    trials = {t.number: t for t in ledger.trials()}
    assert trials[trial.number].state == TrialState.FAIL and trials[trial.number].values is None
    complete = [t for t in trials.values() if t.state == TrialState.COMPLETE]
    assert len(complete) == 1 and complete[0].number != trial.number  # the rescuer's copy, once


def test_a_search_killed_between_generations_resumes_to_the_same_population(storage_url, study_name, tmp_path):
    from test_runner import FakeTrainer, make_config, trajectory

    full = run_search(make_config(tmp_path, "full", storage=storage_url, ledger_name=f"{study_name}-full"),
                      trainer=FakeTrainer(), outputs=RunOutputs(report=False))

    class Killed(Exception):
        pass

    def kill_after_first(gen, stats):
        if gen == 1:
            raise Killed

    config = make_config(tmp_path, "killed", storage=storage_url, ledger_name=f"{study_name}-killed")
    with pytest.raises(Killed):
        run_search(config, trainer=FakeTrainer(), on_generation=kill_after_first, outputs=RunOutputs(report=False))
    resumed = run_search(config, resume=True, trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    assert trajectory(resumed.ledger) == trajectory(full.ledger)
    population = lambda run: sorted(json.dumps(g, sort_keys=True)  # noqa: E731
                                    for g in run.ledger.load_state()["strategy"]["population"])
    assert population(resumed) == population(full) and population(full)


def test_the_readmes_many_machines_commands_work_on_loopback(tmp_path, shared_data_dir, study_name):
    """README "Many machines", as written, against the test server (its URL for postgresql://nas@DB/nas)."""
    from conftest import REPO_ROOT, postgres_url
    from sqlalchemy.engine import make_url

    from nas.ledger import stored_url

    url = postgres_url()
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("### Many machines"):]
    section = section[:section.index("\n## ")]
    commands = [line.split("#")[0].strip() for line in section.splitlines() if line.startswith(("nas search", "nas worker"))]
    assert [c.split()[1] for c in commands] == ["search", "worker"]

    def argv(command):
        command = command.replace("postgresql://nas@DB/nas", stored_url(url)).replace("mnist-1", study_name)
        command = command.replace(f"runs/{study_name}", str(tmp_path / "run"))
        return [sys.executable, "-m", *command.split()[:], "--threads", "1"]

    env = {**os.environ, "NAS_STORAGE_PASSWORD": make_url(url).password, "NAS_DATA_DIR": str(shared_data_dir)}
    search = subprocess.Popen(argv(commands[0]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def study_started():
        try:
            return Ledger.open(url, study_name, create=False).config is not None
        except Exception:
            return False

    _wait(study_started, 300, "the search to create its study")  # as a user starts the workers after it
    # the idle timeout outlasts the other worker's first cohort on a busy machine (with 15 s one
    # worker once gave up while the other trained generation 0 alone)
    workers = [subprocess.Popen(argv(commands[1]) + ["--idle-timeout", "45"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    try:
        out, err = search.communicate(timeout=900)
        assert search.returncode == 0, err[-3000:]
        results = [w.communicate(timeout=300) for w in workers]
    finally:
        for proc in [search, *workers]:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=30)
    assert all(w.returncode == 0 for w in workers), [e[-2000:] for _, e in results]
    trained = Counter(n for _, e in results for n in _trained(e))
    assert trained and set(trained.values()) == {1} and all(v > 0 for v in [sum(1 for _ in _trained(e)) for _, e in results])
    assert (tmp_path / "run" / "best" / "model.json").is_file() and (tmp_path / "run" / "report.md").is_file()
