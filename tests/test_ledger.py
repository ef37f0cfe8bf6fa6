"""The ledger: Optuna storages, enqueue / claim / complete / fail / requeue, search state."""

from __future__ import annotations

import pytest
from optuna.trial import TrialState

from nas.exceptions import LedgerError
from nas.ledger import Ledger, default_storage_url, genome_params, open_storage
from search_spaces.genome import Genome

G1 = Genome("watts_strogatz", {"k": 4, "p": 0.5}, nodes=12, seed=1)
G2 = Genome("erdos_renyi", {"p": 0.3}, nodes=10, seed=2)


@pytest.fixture(params=["sqlite", "journal"])
def url(request, tmp_path):
    return default_storage_url(tmp_path) if request.param == "sqlite" else f"journal:{tmp_path / 'ledger.log'}"


def test_default_url_is_sqlite_in_the_run_dir(tmp_path):
    assert default_storage_url(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'ledger.db'}"


@pytest.mark.parametrize("bad", ["nonsense", "sqlite:////no/such/folder/x.db", "journal:/no/such/folder/x.log",
                                 "postgresql://nobody@127.0.0.1:1/none", ""])
def test_unusable_urls_raise_one_line_ledger_error(bad):
    with pytest.raises(LedgerError) as info:
        open_storage(bad)
    assert "\n" not in str(info.value)


def test_enqueue_claim_complete(url):
    ledger = Ledger.open(url, "s", directions=["maximize"])
    n1 = ledger.enqueue(G1, generation=0, reason="warmup", predicted=None)
    n2 = ledger.enqueue(G2, generation=0, reason="gate", predicted=0.7)
    assert (n1, n2) == (0, 1)
    first = ledger.claim()
    assert first.number == 0 and first.genome == G1 and first.attrs["reason"] == "warmup"
    ledger.complete(first, [0.9], {"test_accuracy": 0.88, "wall_time_s": 1.5, "features": {"nodes": 12.0}})
    second = ledger.claim(numbers={1})
    assert second.genome == G2
    assert ledger.claim() is None  # nothing waiting any more: claims are exclusive
    ledger.fail(second, "TrainingError: NaN loss")
    done = ledger.results_for(0)
    assert set(done) == {G1.key, G2.key}
    t1, t2 = done[G1.key], done[G2.key]
    assert t1.state == TrialState.COMPLETE and t1.values == [0.9] and t1.user_attrs["test_accuracy"] == 0.88
    assert t1.params["prior"] == "watts_strogatz" and t1.params["watts_strogatz.k"] == 4
    assert t2.state == TrialState.FAIL and "NaN" in t2.user_attrs["fail_reason"]
    # reopening sees the same trials (the storage is the source of truth)
    again = Ledger.open(url, "s", create=False)
    assert len(again.trials()) == 2


def test_requeue_interrupted_trials(url):
    ledger = Ledger.open(url, "s", directions=["maximize"])
    ledger.enqueue(G1, generation=3, reason="gate")
    ledger.claim()
    assert ledger.requeue_stale() == 1
    trials = ledger.trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert trials[0].user_attrs["requeued"] is True
    assert trials[1].user_attrs["generation"] == 3 and trials[1].user_attrs["reason"] == "gate"
    assert ledger.results_for(3) == {}  # a requeued failure is not a result
    assert set(ledger.pending_for(3)) == {G1.key}


def test_state_round_trip(url):
    ledger = Ledger.open(url, "s", directions=["maximize", "minimize"])
    assert ledger.load_state() is None
    state = {"generation": 2, "rng": {"state": {"state": 2**100, "inc": 3}}, "values": [0.5, float("nan")]}
    ledger.save_state(state)
    loaded = Ledger.open(url, "s", create=False).load_state()
    assert loaded["generation"] == 2 and loaded["rng"]["state"]["state"] == 2**100
    assert loaded["values"] == [0.5, None]


def test_missing_study_and_direction_mismatch(url):
    with pytest.raises(LedgerError, match="not found"):
        Ledger.open(url, "nope", create=False)
    Ledger.open(url, "s", directions=["maximize"])
    with pytest.raises(LedgerError, match="directions"):
        Ledger.open(url, "s", directions=["maximize", "minimize"])


def test_genome_params_fit_optuna_distributions():
    params, dists = genome_params(G1)
    assert set(params) == set(dists) == {"prior", "nodes", "seed", "family", "width", "readout", "watts_strogatz.k",
                                         "watts_strogatz.p"}
    for name, value in params.items():
        assert dists[name]._contains(dists[name].to_internal_repr(value))


def test_completing_a_trial_another_process_finished_is_a_ledger_error(tmp_path):
    from nas.exceptions import LedgerError
    from nas.ledger import Ledger
    from search_spaces.genome import Genome

    ledger = Ledger.open(f"sqlite:///{tmp_path / 'l.db'}", "s", directions=["maximize"], create=True)
    ledger.enqueue(Genome("erdos_renyi", {"p": 0.3}, nodes=10, seed=0))
    claim = ledger.claim()
    ledger.requeue_stale()  # what a concurrent --resume does to RUNNING trials
    with pytest.raises(LedgerError, match="already finished by another process"):
        ledger.complete(claim, [0.5], {"val_accuracy": 0.5})


# --- heartbeats and stale trials ------------------------------------------------------------------


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_claim_records_its_worker_and_only_an_old_heartbeat_is_stale(url):
    import time

    from nas.ledger import worker_id

    ledger = Ledger.open(url, "s", directions=["maximize"])
    ledger.enqueue(G1, generation=0)
    before = time.time()
    ledger.claim()
    t = ledger.trials()[0]
    assert t.user_attrs["worker"] == worker_id() and t.user_attrs["heartbeat"] >= before
    assert ledger.requeue_stale(60.0) == 0  # alive: this process, fresh heartbeat
    assert ledger.requeue_stale(60.0, now=t.user_attrs["heartbeat"] + 61.0) == 1
    failed, copy = ledger.trials()
    assert failed.state == TrialState.FAIL and "stopped reporting" in failed.user_attrs["fail_reason"]
    assert copy.state == TrialState.WAITING and "worker" not in copy.user_attrs and "heartbeat" not in copy.user_attrs


def test_a_trial_of_a_dead_process_on_this_host_is_stale_at_once(url):
    import socket

    ledger = Ledger.open(url, "s", directions=["maximize"])
    ledger.enqueue(G1, generation=0)
    ledger.enqueue(G2, generation=0)
    gone, elsewhere = ledger.claim(), ledger.claim()
    ledger.storage.set_trial_user_attr(gone.trial_id, "worker", f"{socket.gethostname()}:{_dead_pid()}")
    ledger.storage.set_trial_user_attr(elsewhere.trial_id, "worker", "another-machine:1")
    assert [t.number for t in ledger.stale(3600.0)] == [gone.number]  # the other host's fresh heartbeat counts
    assert ledger.requeue_stale(3600.0) == 1
    assert set(ledger.pending_for(0)) == {G1.key, G2.key}  # G1 waiting again, G2 still running


def test_the_heartbeat_thread_renews_running_trials(url):
    import time

    ledger = Ledger.open(url, "s", directions=["maximize"])
    ledger.enqueue(G1, generation=0)
    claim = ledger.claim()
    first = ledger.trials()[0].user_attrs["heartbeat"]
    with ledger.heartbeat([claim], interval=0.02):
        deadline = time.monotonic() + 10.0
        while ledger.trials()[0].user_attrs["heartbeat"] == first and time.monotonic() < deadline:
            time.sleep(0.02)
    assert ledger.trials()[0].user_attrs["heartbeat"] > first
    ledger.complete(claim, [0.5], {})
    ledger.beat([claim])  # a finished trial is skipped, not an error


def test_a_trial_finished_between_check_and_requeue_is_left_alone(url, monkeypatch):
    ledger = Ledger.open(url, "s", directions=["maximize"])
    ledger.enqueue(G1, generation=0)
    claim = ledger.claim()
    seen = ledger.stale(None)
    ledger.complete(claim, [0.7], {})  # its worker finishes it after the check
    monkeypatch.setattr(ledger, "stale", lambda *a, **k: seen)
    assert ledger.requeue_stale(None) == 0
    assert [t.state for t in ledger.trials()] == [TrialState.COMPLETE]
