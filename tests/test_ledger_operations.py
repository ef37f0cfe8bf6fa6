"""Operating searches: set-up errors are no trial's failure, retries are bounded, run directories
are self-contained, and a storage password is never shown or stored."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from optuna.trial import TrialState

from nas.cli.main import main
from nas.exceptions import DeviceError
from nas.ledger import Ledger, shown_url, stored_url
from nas.report import RunOutputs
from nas.search.config import SearchConfig
from nas.search.config_files import load_run_config
from nas.search.loop import open_search_ledger, run_search
from search_spaces.genome import Genome

TINY = {"epochs": 1, "train_subset": 200, "val_subset": 100, "test_subset": 100}


def _queue(tmp_path, **changes) -> tuple[SearchConfig, Ledger]:
    base = dict(task="mnist", out=str(tmp_path / "run"), storage=f"sqlite:///{tmp_path / 'ledger.db'}", ledger_name="s",
                population=4, survivors=2, generations=1, final_top=0, local_worker=False, progress=False,
                poll_interval=0.1, train=TINY)
    base.update(changes)
    config = SearchConfig(**base)
    ledger = open_search_ledger(config, resume=False)
    for i in range(3):
        ledger.enqueue(Genome("erdos_renyi", {"p": 0.3}, nodes=8, seed=i), generation=0, index=i)
    return config, ledger


# --- set-up errors -------------------------------------------------------------------------------

def test_a_worker_with_unusable_data_stops_before_claiming(tmp_path, capsys, monkeypatch):
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no route to the mirror")

    monkeypatch.setattr(urllib.request, "urlopen", offline)  # an offline machine
    empty = tmp_path / "empty"
    empty.mkdir()
    config, ledger = _queue(tmp_path, data_dir=str(empty))
    code = main(["worker", "--storage", config.storage_url, "--ledger", "s", "--idle-timeout", "1"])
    err = capsys.readouterr().err.strip()  # the download attempts are reported, then one error line
    assert code == 1 and err.splitlines()[-1].startswith("error: ") and "Traceback" not in err
    assert "mnist" in err.splitlines()[-1]
    assert [t.state for t in ledger.trials()] == [TrialState.WAITING] * 3  # nothing claimed, nothing failed


def test_a_device_that_does_not_exist_stops_a_worker_and_a_search_before_any_trial(tmp_path, capsys, shared_data_dir):
    config, ledger = _queue(tmp_path, device="bogus", data_dir=str(shared_data_dir))
    code = main(["worker", "--storage", config.storage_url, "--ledger", "s", "--idle-timeout", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "device 'bogus'" in err and len(err.splitlines()) == 1
    assert [t.state for t in ledger.trials()] == [TrialState.WAITING] * 3
    out = tmp_path / "search"
    code = main(["search", "--task", "mnist", "--quick", "--device", "bogus", "--out", str(out),
                 "--data-dir", str(shared_data_dir)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and "device 'bogus'" in err[-1] and not out.exists()


def test_a_setup_error_while_training_hands_the_claims_back(tmp_path, shared_data_dir):
    from nas.search.worker import run_worker

    config, ledger = _queue(tmp_path, data_dir=str(shared_data_dir))

    class Unplugged:
        family = "ff"

        def train(self, genomes):
            raise DeviceError("device 'cuda:0' does not exist on this machine")

    with pytest.raises(DeviceError):
        run_worker(ledger, trainer=Unplugged(), idle_timeout=1)
    trials = ledger.trials()
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert failed and all(t.user_attrs["requeued"] for t in failed)
    assert sum(t.state == TrialState.WAITING for t in trials) == 3  # every trial back in the queue
    assert all(t.user_attrs.get("requeues", 0) == 0 for t in trials if t.state == TrialState.WAITING)  # no death


def test_a_trial_whose_workers_keep_dying_is_failed_after_max_retries(tmp_path):
    _, ledger = _queue(tmp_path)
    key = ledger.trials()[0].user_attrs["key"]
    for attempt in range(4):
        claim = ledger.claim(numbers={t.number for t in ledger.trials([TrialState.WAITING])
                                      if t.user_attrs["key"] == key})
        assert claim is not None, attempt
        assert ledger.requeue_stale(None, max_retries=3) == 1  # its worker "died"
    runs = [t for t in ledger.trials() if t.user_attrs["key"] == key]
    assert [t.state for t in runs] == [TrialState.FAIL] * 4  # three requeues, then no more
    assert "died 4 times" in runs[-1].user_attrs["fail_reason"] and not runs[-1].user_attrs["requeued"]
    assert ledger.results_for(0)[key].number == runs[-1].number  # the search sees it failed and moves on


# --- run directories -----------------------------------------------------------------------------

def test_a_run_directory_works_from_any_folder_and_after_a_move(tmp_path, monkeypatch, capsys):
    from test_runner import FakeTrainer

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    config = SearchConfig(task="mnist", out="runs/r", population=4, survivors=2, generations=2, final_top=0,
                          progress=False, min_train_size=3, nodes=(6, 10))
    run_search(config, trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    stored = json.loads((work / "runs/r/config.json").read_text())["search"]
    assert stored["storage"] is None and stored["ledger_name"] == "r"  # the default ledger: RUN_DIR/ledger.db
    moved = tmp_path / "elsewhere" / "renamed"
    moved.parent.mkdir()
    shutil.move(str(work / "runs/r"), str(moved))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load_run_config(moved)
    assert loaded.storage_url == f"sqlite:///{moved.resolve() / 'ledger.db'}" and loaded.ledger == "r"
    assert main(["report", str(moved)]) == 0, capsys.readouterr().err
    assert (moved / "report.md").is_file() and not (elsewhere / "runs").exists()
    assert not (work / "runs" / "r").exists()  # nothing was written at the old place


def test_a_ledger_file_inside_the_run_directory_is_stored_relative_to_it(tmp_path, monkeypatch):
    from test_runner import FakeTrainer

    from nas.search.config_files import build_config

    monkeypatch.chdir(tmp_path)
    built = build_config(task="mnist", out="r", storage="journal:r/ledger.log", population=4, survivors=2,
                         generations=1, final_top=0, nodes=(6, 10), progress=False)
    assert built.storage == f"journal:{(tmp_path / 'r/ledger.log').resolve()}"  # relative to the current folder
    run_search(built, trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    assert json.loads((tmp_path / "r/config.json").read_text())["search"]["storage"] == "journal:ledger.log"
    shutil.copytree(tmp_path / "r", tmp_path / "copy")
    assert load_run_config(tmp_path / "copy").storage_url == f"journal:{(tmp_path / 'copy/ledger.log').resolve()}"


def test_resume_of_a_missing_run_creates_nothing(tmp_path, capsys):
    out = tmp_path / "missing"
    assert main(["search", "--task", "mnist", "--out", str(out), "--resume"]) == 1
    assert "not found" in capsys.readouterr().err and not out.exists()


# --- secrets -------------------------------------------------------------------------------------

def test_urls_are_shown_masked_and_stored_without_the_password():
    url = "postgresql://nas:s3cret-pw@db.example:5432/nas"
    assert shown_url(url) == "postgresql://nas:***@db.example:5432/nas"
    assert stored_url(url) == "postgresql://nas@db.example:5432/nas"
    assert shown_url("sqlite:///a/b.db") == "sqlite:///a/b.db" and stored_url("journal:x.log") == "journal:x.log"
    config = SearchConfig(storage=url)
    assert "s3cret-pw" not in json.dumps(config.to_dict()) and config.storage_url == url


def test_a_wrong_password_is_one_masked_line(capsys):
    from conftest import postgres_url
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url()).set(password="not-the-password-42").render_as_string(hide_password=False)
    assert main(["worker", "--storage", url, "--ledger", "x"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not-the-password-42" not in err and "***" in err


def test_no_output_of_a_search_holds_the_storage_password(tmp_path, shared_data_dir, study_name):
    from conftest import postgres_url
    from sqlalchemy.engine import make_url

    url = postgres_url()
    password = make_url(url).password
    assert password, "the test server's URL must carry a password"
    out = tmp_path / "run"
    args = [sys.executable, "-m", "nas", "search", "--task", "mnist", "--quick", "--generations", "1", "--population", "4",
            "--survivors", "2", "--final-top", "1", "--final-seeds", "1", "--final-epochs", "1", "--storage", url,
            "--ledger", study_name, "--out", str(out), "--data-dir", str(shared_data_dir), "--threads", "1"]
    run = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    outputs = {"stdout": run.stdout, "stderr": run.stderr}
    for path in out.rglob("*"):
        if path.is_file():
            outputs[str(path)] = path.read_bytes().decode("utf-8", "replace")
    ledger = Ledger.open(url, study_name, create=False)
    outputs["ledger attributes"] = json.dumps(ledger.study.user_attrs)
    outputs["trial attributes"] = json.dumps([t.user_attrs for t in ledger.trials()])
    leaks = [name for name, text in outputs.items() if password in text]
    assert not leaks
    # config.json holds the URL without its password: the report takes it from the environment
    env = {**os.environ, "NAS_STORAGE_PASSWORD": password}
    again = subprocess.run([sys.executable, "-m", "nas", "report", str(out)], capture_output=True, text=True, timeout=300,
                           env=env)
    assert again.returncode == 0 and password not in again.stdout + again.stderr, again.stderr[-2000:]
