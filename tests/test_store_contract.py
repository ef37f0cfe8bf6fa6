"""The result-store contract (:mod:`nas.stores`), written once and run against every backend: a prior
study's folder, a pruning run's steps, and the search's Optuna ledger on SQLite, the journal file
and PostgreSQL (``NAS_TEST_POSTGRES_URL``; see ``conftest.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from conftest import BACKENDS, postgres_url

import nas.stores.jsonl as jsonl
from nas.exceptions import (
    LedgerSettingsError,
    SettingsMismatchError,
    StoreError,
    StoreExistsError,
    StoreNotFoundError,
)
from nas.ledger import Ledger
from nas.ledger.store import LedgerStore
from nas.search.config import SearchConfig
from nas.stores import ResultStore, describe, differences
from nas.studies.priors.config import build_study_config
from nas.studies.priors.store import StudyStore
from nas.studies.pruning.experiment import PruneConfig
from nas.studies.pruning.store import PruneStore
from search_spaces.genome import Genome

HELPER = Path(__file__).resolve().parent / "helpers" / "store_append.py"


class Crash(Exception):
    """A failure injected part-way through an append."""


@dataclass
class Case:
    """One backend as the contract sees it: where its store goes, valid settings, settings that
    differ in one compared field, valid records and one it must refuse."""

    store_type: type[ResultStore]
    location: Any
    settings: Any
    other: Any  # ``settings`` with ``field`` changed
    field: str
    values: tuple  # (stored, asked) of ``field``
    record: Callable[[int], dict]
    bad_record: Any
    create_options: dict = field(default_factory=dict)
    open_options: dict = field(default_factory=dict)
    load_options: dict = field(default_factory=dict)  # JSON: also given to the helper process

    def create(self) -> ResultStore:
        return self.store_type.create(self.location, self.settings, **self.create_options)

    def open(self, settings, resume: bool) -> ResultStore:
        options = self.open_options if resume else {**self.create_options, **self.open_options}
        return self.store_type.open(self.location, settings, resume=resume, **options)

    def load(self) -> ResultStore:
        return self.store_type.load(self.location, **self.load_options)

    def records(self, start: int, stop: int) -> list[dict]:
        return [self.record(i) for i in range(start, stop)]

    def in_process(self, *records, kill: bool = False) -> subprocess.CompletedProcess:
        """Append ``records`` in a process of its own (killed after the first one with ``kill``)."""
        location = list(self.location) if isinstance(self.location, tuple) else str(self.location)
        target = f"{self.store_type.__module__}:{self.store_type.__name__}"
        argv = [sys.executable, str(HELPER), target, json.dumps(location), json.dumps(self.load_options),
                json.dumps(list(records))] + (["--kill-after-first"] if kill else [])
        return subprocess.run(argv, capture_output=True, text=True, timeout=300)


def _study_case(tmp_path) -> Case:
    config = build_study_config(task="mnist", priors=("erdos_renyi:p=0.3", "watts_strogatz:k=2,p=0"), per_prior=2,
                                seeds=2, nodes=(10, 20), width=4, train={"epochs": 1}, out=str(tmp_path / "study"),
                                progress=False)

    def record(i):
        if i % 4 == 3:
            return {"id": f"g{i}", "seed": i % 2, "error": "TrainingError: loss is NaN"}
        return {"id": f"g{i}", "seed": i % 2, "error": None, "test_accuracy": 0.5 + i / 100, "val_accuracy": 0.25,
                "epochs": 2, "nonzero_weights": 1000 + i, "wall_time_s": 1.5}

    return Case(StudyStore, tmp_path / "study", config, config.with_changes(seeds=3), "seeds", (2, 3), record,
                {"id": "g9", "seed": "abc", "error": None}, create_options={"genomes": [], "chance": 0.1})


def _pruning_case(tmp_path) -> Case:
    config = PruneConfig(task="mnist", arch="784-16-10", methods=("mcb", "random"), seeds=2)

    def record(i):
        if i == 0:
            return {"step": 0, "base": [{"seed": 0, "test_accuracy": 0.9, "epochs": 1, "device": "cpu"}],
                    "timings": {"base_training_s": 1.25}}
        return {"step": i, "runs": {"mcb": [{"test_accuracy": 0.9 - i / 100, "weights": 100 - i}, None],
                                    "random": [None, {"test_accuracy": 0.5, "weights": 100 - i}]},
                "timings": {"base_training_s": 1.25, "pruning_s": float(i)}}

    return Case(PruneStore, tmp_path / "prune.steps", config.to_dict(), PruneConfig(
        task="mnist", arch="784-16-10", methods=("mcb", "random"), seeds=3).to_dict(), "seeds", (2, 3), record,
        {"step": 1, "runs": {1, 2}})


def _trajectory(stored: dict) -> dict:
    return SearchConfig.from_stored(stored).trajectory()  # what `nas search` compares (nas.search.loop)


def _ledger_case(tmp_path, url: str, study: str) -> Case:
    config = SearchConfig(task="mnist", out=str(tmp_path / "run"), storage=url, ledger_name=study, population=6,
                          generations=3, survivors=3, seed=7, progress=False)

    def record(i):
        genome = Genome("erdos_renyi", {"p": 0.3}, nodes=8 + i, seed=i).to_dict()
        if i % 4 == 3:
            return {"genome": genome, "values": None, "attrs": {"generation": i, "fail_reason": "loss is NaN"}}
        return {"genome": genome, "values": [0.5 + i / 100],
                "attrs": {"generation": i, "reason": "warmup", "metrics": {"val_accuracy": 0.5, "epochs": 2},
                          "predicted": None, "features": [1.5, 2]}}

    options = {"directions": ["maximize"], "compared": _trajectory}
    return Case(LedgerStore, (url, study), config.to_dict(), config.with_changes(population=8).to_dict(),
                "population", (6, 8), record, {"genome": {"prior": "nosuch"}, "values": [0.1], "attrs": {}},
                create_options=options, open_options=options, load_options={"directions": ["maximize"]})


@pytest.fixture(params=["study", "pruning", *(f"ledger-{b}" for b in BACKENDS)])
def case(request, tmp_path, study_name) -> Case:
    """Every backend, with a fresh place for its store."""
    if request.param == "study":
        return _study_case(tmp_path)
    if request.param == "pruning":
        return _pruning_case(tmp_path)
    backend = request.param.removeprefix("ledger-")
    url = {"sqlite": lambda: f"sqlite:///{tmp_path / 'ledger.db'}", "journal": lambda: f"journal:{tmp_path / 'ledger.log'}",
           "postgresql": postgres_url}[backend]()
    return _ledger_case(tmp_path, url, study_name)


def _types(value):
    """The JSON types of ``value``, nested as it is."""
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value)


def crash_after_first(patch) -> None:
    """Make the next append fail once its first record has reached the storage (the JSON-lines
    writer after the first line, the ledger after the first trial); ``patch`` is a monkeypatch."""

    def write_then_fail(fh, lines):
        fh.write(lines[0].encode("utf-8"))
        raise Crash("the disk went away after the first record")

    real_add, added = Ledger.add, []

    def add_then_fail(self, trial):
        if added:
            raise Crash("the storage went away after the first record")
        real_add(self, trial)
        added.append(trial)

    patch.setattr(jsonl, "_write_lines", write_then_fail)
    patch.setattr(Ledger, "add", add_then_fail)


# --- the contract ---------------------------------------------------------------------------


def test_a_new_store_holds_its_settings_and_no_records(case):
    store = case.create()
    assert store.records() == []
    assert store.compared(store.settings()) == store.compared(case.settings)


def test_appended_records_read_back_in_order_with_their_json_types(case):
    store = case.create()
    store.append(case.records(0, 1))
    store.append(case.records(1, 4))
    store.append(case.records(4, 5))
    expected = case.records(0, 5)
    assert store.records() == expected
    assert _types(store.records()) == _types(expected)  # 2 stays an int, 2.0 a float, None None


def test_a_list_with_a_record_the_store_refuses_is_not_stored_at_all(case):
    store = case.create()
    store.append(case.records(0, 2))
    with pytest.raises(StoreError):
        store.append([case.record(2), case.bad_record, case.record(3)])
    assert store.records() == case.records(0, 2)


def test_a_failure_part_way_through_an_append_leaves_no_partial_record(case, monkeypatch):
    store = case.create()
    store.append(case.records(0, 2))
    with monkeypatch.context() as patch:
        crash_after_first(patch)
        with pytest.raises(Crash):
            store.append(case.records(2, 5))
        assert store.records() == case.records(0, 2)
    again = case.open(case.settings, resume=True)  # the store still opens
    assert again.records() == case.records(0, 2)
    again.append(case.records(5, 7))
    assert again.records() == case.records(0, 2) + case.records(5, 7)


def test_a_kill_part_way_through_an_append_leaves_no_partial_record(case):
    store = case.create()
    store.append(case.records(0, 2))
    killed = case.in_process(*case.records(2, 5), kill=True)
    assert killed.returncode == -9, killed.stderr  # SIGKILL: no cleanup ran
    assert case.load().records() == case.records(0, 2)
    again = case.open(case.settings, resume=True)
    again.append(case.records(5, 6))
    assert again.records() == case.records(0, 2) + case.records(5, 6)


def test_records_survive_a_process_restart(case):
    case.create().append(case.records(0, 2))
    done = case.in_process(*case.records(2, 4))  # another process appends and exits
    assert done.returncode == 0, done.stderr
    assert case.load().records() == case.records(0, 4)
    assert case.open(case.settings, resume=True).records() == case.records(0, 4)


def test_resume_reads_the_same_settings_and_records(case):
    case.create().append(case.records(0, 3))
    store = case.open(case.settings, resume=True)
    assert store.records() == case.records(0, 3)
    assert store.compared(store.settings()) == store.compared(case.settings)
    assert case.open(None, resume=True).records() == case.records(0, 3)  # no settings asked: the stored ones


def test_resume_with_other_settings_is_refused_naming_each_field(case):
    case.create().append(case.records(0, 2))
    with pytest.raises(SettingsMismatchError) as info:
        case.open(case.other, resume=True)
    assert info.value.differences == {case.field: case.values}
    stored, asked = case.values
    assert case.field in str(info.value) and repr(stored) in str(info.value) and repr(asked) in str(info.value)
    assert case.load().records() == case.records(0, 2)


def test_resume_where_there_is_no_store_is_refused_and_creates_nothing(case):
    for _ in range(2):  # the first refusal made nothing the second could open
        with pytest.raises(StoreNotFoundError):
            case.open(case.settings, resume=True)
    with pytest.raises(StoreNotFoundError):
        case.load()


def test_a_new_store_over_an_existing_one_is_refused(case):
    case.create().append(case.records(0, 2))
    with pytest.raises(StoreExistsError):
        case.create()
    with pytest.raises(StoreExistsError):
        case.open(case.settings, resume=False)
    assert case.load().records() == case.records(0, 2)


# --- the shared pieces ----------------------------------------------------------------------


def test_differences_name_every_field_with_both_values():
    found = differences({"seeds": 2, "task": "mnist", "old": 1}, {"task": "mnist", "seeds": 3, "new": True})
    assert found == {"seeds": (2, 3), "new": (None, True), "old": (1, None)}
    assert describe(found, "stored", "given") == "seeds: stored 2, given 3; new: stored None, given True; " \
                                                 "old: stored 1, given None"


def test_a_torn_last_line_of_an_older_writer_is_dropped_and_cut_before_the_next_append(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 3')
    assert jsonl.read_lines(path, torn_ok=True) == [{"a": 1}, {"a": 2}]
    jsonl.append_lines(path, jsonl.encode_lines([{"a": 4}]))
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n{"a": 4}\n'
    with pytest.raises(StoreError, match="record 0 cannot be stored as JSON"):
        jsonl.encode_lines([float("nan")])


def test_a_failed_write_is_a_store_error_and_leaves_the_file(tmp_path, monkeypatch):
    path = tmp_path / "r.jsonl"
    jsonl.append_lines(path, jsonl.encode_lines([{"a": 1}]))

    def full(fh, lines):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(jsonl, "_write_lines", full)
    with pytest.raises(StoreError, match="No space left on device"):
        jsonl.append_lines(path, jsonl.encode_lines([{"a": 2}]))
    assert path.read_text() == '{"a": 1}\n' and [p.name for p in tmp_path.iterdir()] == ["r.jsonl"]


# --- the ledger: records are the search's finished evaluations --------------------------------


def test_the_ledgers_records_are_its_finished_evaluations(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    case = _ledger_case(tmp_path, url, "search")
    store = case.create()
    ledger: Ledger = store.ledger
    genomes = [Genome("erdos_renyi", {"p": 0.3}, nodes=8 + i, seed=i) for i in range(4)]
    for i, g in enumerate(genomes):
        ledger.enqueue(g, generation=0, reason="warmup", predicted=None)
    done, failed, requeued, running = ledger.claim_many(4)
    ledger.complete(done, [0.75], {"metrics": {"val_accuracy": 0.75}})
    ledger.fail(failed, "loss is NaN")
    ledger.fail(requeued, "interrupted", requeue=True)  # not a result: its copy waits
    assert running is not None  # still training: not a result yet
    records = store.records()
    assert [r["genome"] for r in records] == [genomes[0].to_dict(), genomes[1].to_dict()]
    assert records[0]["values"] == [0.75] and records[1]["values"] is None
    assert records[0]["attrs"]["metrics"] == {"val_accuracy": 0.75} and records[0]["attrs"]["generation"] == 0
    assert records[1]["attrs"]["fail_reason"] == "loss is NaN"
    assert not {"worker", "heartbeat", "genome", "key", "requeued"} & set(records[0]["attrs"])


def test_a_resumed_search_may_change_only_what_its_trajectory_leaves_out(tmp_path):
    case = _ledger_case(tmp_path, f"journal:{tmp_path / 'ledger.log'}", "search")
    case.create()
    more = SearchConfig.from_stored(case.settings).with_changes(generations=5).to_dict()
    store = case.open(more, resume=True)
    assert store.settings()["generations"] == 5  # stored for the resumed search
    with pytest.raises(LedgerSettingsError, match=r"incompatible config \(population: ledger has 6, asked 8\)"):
        case.open(case.other, resume=True)
