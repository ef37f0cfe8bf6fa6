"""``nas bench search`` end to end through the CLI on a planted space (no training): a strategy
that must win is found, two identical strategies do not differ, a killed benchmark resumed
reaches the same tables, and every bad input is one line with nothing written."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time

import numpy as np
import pandas as pd
import pytest
from planted import SPACE, Oracle, PlantedTrainer, ShiftedRandom, register

from nas.cli.main import main
from nas.ledger import Ledger
from nas.search.config_files import load_run_config
from nas.search.pareto import normalised_hypervolume
from nas.studies.bench import run as bench_run

#: 6 candidates x 1,000 example-epochs a generation: 3 generations per run
BUDGET = 18_000


@pytest.fixture
def planted(monkeypatch, tmp_path):
    """The planted trainer in place of real training, the planted strategies registered, and a
    ``--config`` file of the planted space; returns the file's path."""
    register(monkeypatch, oracle=Oracle, shifted_random=ShiftedRandom)
    monkeypatch.setattr(bench_run, "Trainer", PlantedTrainer)
    monkeypatch.setattr(PlantedTrainer, "total_calls", 0, raising=False)
    path = tmp_path / "space.toml"
    lines = [f"{k} = {str(v).lower() if isinstance(v, bool) else list(v) if isinstance(v, tuple) else repr(v)}"
             for k, v in SPACE.items() if k not in ("population", "gating")]
    path.write_text("\n".join(lines).replace("'", '"') + "\n")
    return path


def bench(out, config, *extra):
    return main(["bench", "search", "--task", "mnist", "--config", str(config), "--population", "6", "--out", str(out),
                 "--compute-budget", str(BUDGET), "--no-progress", *extra])


def table(out) -> pd.DataFrame:
    return pd.read_csv(out / "tests.csv").set_index(["strategy", "measure"])


@pytest.mark.slow  # 10-15 searches, each committing its generations to an SQLite ledger: 30-70 s
def test_the_planted_winner_is_found_and_identical_strategies_do_not_differ(planted, tmp_path, capsys):
    out = tmp_path / "bench"
    assert bench(out, planted, "--strategies", "oracle,random,shifted_random", "--seeds", "5") == 0
    stdout = capsys.readouterr().out
    assert "oracle: compute ratio against random" in stdout
    for name in ("report.md", "anytime.png", "anytime.csv", "summary.csv", "tests.csv", "runs.csv", "bench.json"):
        assert (out / name).is_file(), name
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 15 and runs["reached_budget"].all()
    assert (runs["screening_compute"] == BUDGET).all()  # 3 whole generations, none past the budget
    tests = table(out)
    win = tests.loc[("oracle", "best_val")]
    assert win["p_holm"] < 0.05 and win["cliffs_delta"] == 1.0 and win["verdict"] == "higher than random"
    same = tests.loc[("shifted_random", "best_val")]
    assert same["p_holm"] >= 0.05 and same["verdict"] == "no difference detected"
    summary = pd.read_csv(out / "summary.csv").set_index("strategy")
    assert summary.loc["oracle", "ratio"] > 1 and summary.loc["oracle", "ci_low"] > 1
    assert summary.loc["shifted_random", "ci_low"] <= 1 <= summary.loc["shifted_random", "ci_high"]
    assert summary.loc["oracle", "auc_median"] > summary.loc["random", "auc_median"]
    report = (out / "report.md").read_text()
    assert "## Compute ratio" in report and "Holm" in report
    for s in ("oracle", "random", "shifted_random"):  # every run is a normal search run directory
        assert (out / f"{s}-s0" / "config.json").is_file() and (out / f"{s}-s0" / "evaluations.csv").is_file()


@pytest.mark.slow  # 10-15 searches, each committing its generations to an SQLite ledger: 30-70 s
def test_a_killed_benchmark_resumed_reaches_the_same_tables(planted, tmp_path, monkeypatch, capsys):
    args = ("--strategies", "oracle,random", "--seeds", "2")
    assert bench(tmp_path / "whole", planted, *args) == 0
    # the 5th training of the benchmark (run 2, generation 1) is killed
    monkeypatch.setattr(bench_run, "Trainer", lambda config: PlantedTrainer(config, interrupt_on_call=5))
    monkeypatch.setattr(PlantedTrainer, "total_calls", 0)
    killed = tmp_path / "killed"
    assert bench(killed, planted, *args) == 130
    assert "--resume" in capsys.readouterr().err
    assert len((killed / "runs.jsonl").read_text().splitlines()) == 1  # one run finished
    monkeypatch.setattr(bench_run, "Trainer", PlantedTrainer)
    assert main(["bench", "search", "--out", str(killed), "--resume", "--no-progress"]) == 0
    for name in ("tests.csv", "summary.csv"):
        whole, again = pd.read_csv(tmp_path / "whole" / name), pd.read_csv(killed / name)
        pd.testing.assert_frame_equal(whole, again)
    whole, again = pd.read_csv(tmp_path / "whole" / "runs.csv"), pd.read_csv(killed / "runs.csv")
    columns = ["strategy", "seed", "best_val", "incumbent_test", "auc", "evaluations", "screening_compute"]
    pd.testing.assert_frame_equal(whole[columns], again[columns])
    # resumed once more: nothing left to run, the same tables
    assert main(["bench", "search", "--out", str(killed), "--resume", "--no-progress"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "whole" / "tests.csv"), pd.read_csv(killed / "tests.csv"))


def test_jobs_and_gated_arms_give_the_tables_of_one_process(planted, tmp_path, monkeypatch):
    """Runs in two job processes (forked here, so they keep the planted trainer) record what one
    process records; ``random+gate`` runs random search with gating, ``random`` without."""
    monkeypatch.setattr(bench_run, "JOB_CONTEXT", "fork")
    args = ("--strategies", "random,random+gate", "--seeds", "2")
    assert bench(tmp_path / "one", planted, *args) == 0
    assert bench(tmp_path / "two", planted, *args, "--jobs", "2") == 0
    columns = ["strategy", "seed", "best_val", "incumbent_test", "auc", "evaluations", "screening_compute"]
    one = pd.read_csv(tmp_path / "one" / "runs.csv").sort_values(["strategy", "seed"]).reset_index(drop=True)
    two = pd.read_csv(tmp_path / "two" / "runs.csv").sort_values(["strategy", "seed"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(one[columns], two[columns])
    gated = json.loads((tmp_path / "one" / "random+gate-s0" / "config.json").read_text())["search"]
    plain = json.loads((tmp_path / "one" / "random-s0" / "config.json").read_text())["search"]
    assert gated["strategy"] == plain["strategy"] == "random" and gated["gating"] and not plain["gating"]
    gating = pd.read_csv(tmp_path / "one" / "gating.csv")  # what gating saved, paired by seed
    row = gating.iloc[0]
    assert (row["strategy"], row["gated"], row["pairs"]) == ("random", "random+gate", 2)
    assert row["skipped"] > 0 and row["proposed"] == row["trained"] + row["skipped"]
    assert row["verdict"].startswith("cannot tell")  # two pairs
    assert "## Gating" in (tmp_path / "one" / "report.md").read_text()


def test_a_two_objective_benchmark_compares_hypervolumes_at_one_reference(planted, tmp_path):
    """With a second objective (nonzero weights) every run gets the hypervolume of its (validation
    value, cost) front at the reference cost shared by all runs: the largest any run trained."""
    config = tmp_path / "pareto.toml"
    config.write_text(planted.read_text() + 'second_objective = "nonzero_weights"\n')
    out = tmp_path / "mo"
    assert bench(out, config, "--strategies", "oracle,random", "--seeds", "3") == 0
    runs = pd.read_csv(out / "runs.csv")
    costs = [t.values[1] for run in runs["run"] for t in _ledger(out / run).trials() if t.state.name == "COMPLETE"]
    reference = max(costs)
    for _, r in runs.iterrows():
        points = np.array([t.values for t in _ledger(out / r["run"]).trials() if t.state.name == "COMPLETE"])
        assert r["hypervolume"] == pytest.approx(normalised_hypervolume(points, (1.0, -1.0), (0.0, reference)))
    tests = table(out)
    assert ("oracle", "hypervolume") in tests.index
    assert "hypervolume" in (out / "report.md").read_text()


def _ledger(run_dir):
    config = load_run_config(run_dir)
    return Ledger.open(config.storage_url, config.ledger, create=False)


BAD = [
    (["--strategies", "ga+nosuch,random"], "'ga+nosuch' is not one of"),
    (["--strategies", "ga,nosuch"], "'nosuch' is not one of"),
    (["--strategies", "ga,random", "--seeds", "1"], "seeds"),
    (["--strategies", "ga,random", "--compute-budget", "999"], "below one candidate's screening cost"),
    (["--strategies", "ga,random", "--weight-target", "10"], "--weight-target 10: no candidate can meet it"),
    (["--strategies", "ga,random", "--weight-target", "10000000000"], "no candidate can meet it"),
    (["--strategies", "ga,random", "--flops-target", "5"], "--flops-target 5: no candidate can meet it"),
    (["--strategies", "ga,ga,random"], "distinct"),
    (["--strategies", "ga,oracle", "--baseline", "random"], "baseline"),
    (["--strategies", "ga,random", "--epochs", "0"], "epochs"),
    (["--strategies", "ga,random", "--config", "{tmp}/missing.toml"], "missing.toml"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_one_line_and_writes_nothing(planted, tmp_path, capsys, args, message):
    out = tmp_path / "new" / "bench"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code = main(["bench", "search", "--task", "mnist", "--config", str(planted), "--out", str(out),
                 "--compute-budget", str(BUDGET), "--no-progress", *args])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "new").exists()


def test_an_existing_benchmark_needs_resume_with_the_same_settings(planted, tmp_path, capsys):
    out = tmp_path / "bench"
    args = ("--strategies", "oracle,random", "--seeds", "2")
    assert bench(out, planted, *args) == 0
    capsys.readouterr()
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    cases = [
        ([], "already holds a benchmark; pass --resume"),  # existing output without --resume
        (["--resume", "--seeds", "3"], "--resume with other benchmark settings"),
        (["--resume", "--population", "4"], "search.population"),
        (["--resume", "--compute-budget", "30000"], "compute_budget"),
    ]
    for extra, message in cases:
        code = bench(out, planted, *args, *extra)
        err = capsys.readouterr().err.strip()
        assert code != 0 and len(err.splitlines()) == 1 and message in err, (extra, err)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before  # nothing written
    empty = tmp_path / "other"
    assert main(["bench", "search", "--out", str(empty), "--resume"]) != 0
    assert "holds no benchmark" in capsys.readouterr().err and not empty.exists()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("mine")
    assert bench(tmp_path / "junk", planted, *args) != 0
    assert "not empty" in capsys.readouterr().err and sorted(p.name for p in (tmp_path / "junk").iterdir()) == ["notes.txt"]


def test_bench_search_help_names_the_outputs_and_the_ratio(capsys):
    assert main(["bench", "search", "--help"]) == 0
    text = capsys.readouterr().out
    for word in ("--compute-budget", "--weight-target", "--flops-target", "--resume", "compute ratio", "anytime.png"):
        assert word in text


_STARTED: dict = {}  # the folder where each job marks that it runs (inherited by the forked jobs)


def _term_the_parent_then_wait(search, strategy, seed, resume, outputs, threads):
    """Seed 0's job sends SIGTERM to the benchmark process once its sibling runs (on a loaded
    machine a job process can take seconds to start); every job then runs until interrupted."""
    folder = _STARTED["folder"]
    (folder / str(seed)).touch()
    if seed == 0:
        deadline = time.monotonic() + 60
        while not (folder / "1").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getppid(), signal.SIGTERM)
    time.sleep(120)
    raise AssertionError("the job was not interrupted")


def test_sigterm_to_the_benchmark_stops_its_job_processes(monkeypatch, tmp_path):
    """``kill PID`` of a ``--jobs`` benchmark interrupts its runs as Ctrl-C would; no job process
    outlives it (they would keep writing run directories a --resume opens). Interrupted, the jobs
    end in seconds; uninterrupted, they would sleep 120 s: the bound below tells the two apart.
    SIGINT is ignored here, as in a benchmark started in the background (``nohup ... &``): the
    job processes, which inherit that, must still be interrupted."""
    monkeypatch.setitem(_STARTED, "folder", tmp_path)
    monkeypatch.setattr(bench_run, "JOB_CONTEXT", "fork")
    monkeypatch.setattr(bench_run, "_run_one", _term_the_parent_then_wait)
    previous = signal.getsignal(signal.SIGTERM)
    todo = [(("random", seed), None, False) for seed in range(3)]
    start = time.perf_counter()
    previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with pytest.raises(KeyboardInterrupt):
            bench_run._run_jobs(todo, None, 2, None, lambda line: None)
    finally:
        signal.signal(signal.SIGINT, previous_int)
    assert time.perf_counter() - start < 100 and not multiprocessing.active_children()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0", "1"]  # both ran; the third never started
    assert signal.getsignal(signal.SIGTERM) is previous
