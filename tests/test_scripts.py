"""The benchmark scripts run end to end on tiny settings and keep their output contracts."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _load(name: str, monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))  # as when run as `python scripts/NAME.py`: they import each other
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_training_ends_with_the_ratio_line(shared_data_dir, tmp_path, capsys, monkeypatch):
    import json

    bench = _load("bench_training", monkeypatch)
    out = tmp_path / "figures.json"
    code = bench.main(["--n", "3", "--epochs", "1", "--train-subset", "256", "--nodes", "10", "20", "--target-epochs", "1",
                       "--compare-grouping", "--data-dir", str(shared_data_dir), "--json", str(out)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and re.fullmatch(r"ratio: \d+\.\d\d", lines[-1])
    figures = json.loads(out.read_text())
    assert figures["n"] == 3 and figures["max_accuracy_gap"] < 1e-3 and figures["grouping_gain"] > 0


def test_bench_grouping_prints_every_plan_and_fits_the_constants(capsys, monkeypatch):
    bench = _load("bench_grouping", monkeypatch)
    assert bench.main(["--n", "4", "--nodes", "8", "16", "--repeats", "1", "--batch-size", "16", "--fit", "--fit-samples", "4"]) == 0
    out = capsys.readouterr().out
    for plan in ("one stack", "per depth", "planned", "one by one"):
        assert re.search(rf"{plan}: +\d+ stack\(s\) +[\d.]+ ms/step measured +[\d.]+ ms/step estimated", out)
    assert "fitted STEP_COST['ff']['cpu']" in out


def test_bench_grouping_for_recurrent_stacks(capsys, monkeypatch):
    bench = _load("bench_grouping", monkeypatch)
    assert bench.main(["--task", "reber", "--n", "4", "--steps", "6", "--repeats", "1", "--batch-size", "8", "--fit",
                       "--fit-samples", "3"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"planned: +\d+ stack\(s\) +[\d.]+ ms/step measured", out)
    assert "fitted STEP_COST['rnn']['cpu']" in out


def test_bench_training_for_reber_reports_padding_and_the_ratio(tmp_path, capsys, monkeypatch):
    import json

    bench = _load("bench_training", monkeypatch)
    out = tmp_path / "figures.json"
    assert bench.main(["--task", "reber", "--n", "3", "--epochs", "1", "--train-subset", "128", "--batch-size", "16",
                       "--json", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"ratio: \d+\.\d\d", lines[-1])
    assert any(line.startswith("padded share of computed time steps") for line in lines)
    figures = json.loads(out.read_text())
    shares = figures["padded_step_fraction"]
    assert figures["task"] == "reber" and shares["length_buckets"] < shares["whole_sequences"]
    assert figures["max_accuracy_gap"] < 1e-3


def test_bench_training_compares_the_recurrent_schedules(tmp_path, capsys, monkeypatch):
    import json

    bench = _load("bench_training", monkeypatch)
    out = tmp_path / "figures.json"
    assert bench.main(["--task", "reber", "--n", "3", "--epochs", "1", "--train-subset", "64", "--batch-size", "16",
                       "--compare-schedules", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    figures = json.loads(out.read_text())
    for key in ("population_levels_s", "population_torch_steps_s", "one_at_a_time_stacked_s", "schedule_gain",
                "kernel_gain", "stack_of_one_gain", "ratio_vs_stacks_of_one"):
        assert figures[key] > 0
    assert "wavefront / level-by-level population throughput" in text
    assert "compiled / batched-torch wavefront steps, population throughput" in text


def test_bench_recurrent_sets_one_rnn_against_its_compute_floor(tmp_path, capsys, monkeypatch):
    import json

    bench = _load("bench_recurrent", monkeypatch)
    out = tmp_path / "floor.json"
    assert bench.main(["--nodes", "12", "--train-subset", "64", "--eval-subset", "16", "--matmul-size", "128",
                       "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["floor_s"] > 0 and figures["forward_macs_per_string"] > 0 and figures["train_strings"] == 64
    for name in ("module", "levels", "torch_steps", "wavefront"):
        assert figures[f"{name}_floor_ratio"] == pytest.approx(figures[f"{name}_s"] / figures["floor_s"])
    assert figures["speedup_compiled_vs_torch_steps"] > 0
    assert "x the compute floor" in capsys.readouterr().out


def test_bench_fused_step_times_the_eager_gru_step(capsys, monkeypatch):
    bench = _load("bench_fused_step", monkeypatch)
    assert bench.main(["--blocks", "3", "--width", "4", "--batch", "8", "--repeats", "2", "--eager-only"]) == 0
    assert re.search(r"3 blocks: eager +\d+ µs", capsys.readouterr().out)


@pytest.mark.parametrize("name, argv, message", [
    ("bench_recurrent", ["--nodes", "5"], "--nodes must be >= 10"),
    ("bench_recurrent", ["--train-subset", "0"], "--train-subset must be >= 1"),
    ("bench_recurrent", ["--json", "/nonexistent-folder/x.json"], "its folder does not exist"),
    ("bench_fused_step", ["--blocks", "4", "0"], "--blocks must all be >= 1"),
    ("bench_fused_step", ["--repeats", "0"], "--repeats must be >= 1"),
])
def test_the_recurrent_benchmarks_refuse_bad_input_in_one_line_before_any_work(name, argv, message, tmp_path, capsys,
                                                                               monkeypatch):
    script = _load(name, monkeypatch)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        script.main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err.strip().splitlines()[-1]
    assert list(tmp_path.iterdir()) == []


def test_measure_sampled_rejects_bad_input_in_one_line(tmp_path, capsys, monkeypatch):
    import pytest

    script = _load("measure_sampled", monkeypatch)
    with pytest.raises(SystemExit) as exit_:
        script.main(["--nodes", "1"])
    assert exit_.value.code == 2 and "--nodes must be >= 2" in capsys.readouterr().err
    assert script.main(["--task", "nope"]) == 1
    err = capsys.readouterr().err
    assert "unknown task 'nope'" in err and len(err.strip().splitlines()) == 1


def test_measure_sampled_trains_one_network_per_prior(shared_data_dir, capsys, monkeypatch):
    script = _load("measure_sampled", monkeypatch)
    monkeypatch.setattr("search_spaces.operators.default_priors", lambda: ["erdos_renyi", "layered_random"])
    assert script.main(["--nodes", "8", "--epochs", "1", "--seeds", "0", "--width", "2",
                        "--data-dir", str(shared_data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.count('"prior"') == 2 and "| erdos_renyi |" in out and "| layered_random |" in out


def test_the_pruning_reproduction_writes_its_tables(tmp_path, shared_data_dir, capsys, monkeypatch):
    script = _load("reproduce_pruning", monkeypatch)
    out = tmp_path / "paper.json"
    args = ["--preset", "stier2021-mnist", "--seeds", "3", "--epochs", "1", "--target", "0.2", "--train", "train_subset=400",
            "--train", "val_subset=200", "--train", "test_subset=200", "--data-dir", str(shared_data_dir), "--out", str(out)]
    assert script.main(args) == 0
    tables = (tmp_path / "paper.md").read_text()
    assert "| 25.0 % |" in tables and "mcu" in tables and "| n |" in tables
    assert script.main(args) == 1  # never overwritten
    assert "exists" in capsys.readouterr().err
    assert script.main(["--table", str(out)]) == 0 and "Each method against mcb" in capsys.readouterr().out


def test_bench_pruning_ends_with_the_ratio_line(shared_data_dir, capsys, monkeypatch):
    bench = _load("bench_pruning", monkeypatch)
    code = bench.main(["--arch", "784-8-10", "--n", "3", "--steps", "1", "--train-subset", "300",
                       "--data-dir", str(shared_data_dir)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and re.fullmatch(r"ratio: \d+\.\d\d", lines[-1])
    gap = float(lines[-2].rsplit(" ", 1)[1])
    assert gap <= 0.01  # the population prunes each candidate as if alone


def test_bench_training_for_cifar10_stacks_cnns_and_ends_with_the_ratio(shared_data_dir, tmp_path, capsys, monkeypatch):
    import json

    bench = _load("bench_training", monkeypatch)
    out = tmp_path / "figures.json"
    code = bench.main(["--task", "cifar10", "--n", "2", "--epochs", "1", "--train-subset", "128", "--val-subset", "256",
                       "--nodes", "6", "8", "--data-dir", str(shared_data_dir), "--json", str(out), "--threads", "1"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and re.fullmatch(r"ratio: \d+\.\d\d", lines[-1])
    figures = json.loads(out.read_text())
    assert figures["task"] == "cifar10" and figures["max_accuracy_gap"] < 1e-3 and figures["test_examples"] == 1000


def test_bench_cifar_reports_the_time_to_each_target(shared_data_dir, tmp_path, capsys, monkeypatch):
    import json

    bench = _load("bench_cifar", monkeypatch)
    out = tmp_path / "reference.json"
    code = bench.main(["--quick", "--train-subset", "256", "--epochs", "1", "--data-dir", str(shared_data_dir),
                       "--json", str(out), "--threads", "1"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and re.fullmatch(r"time to 30%: (\d+\.\d s \(epoch \d+, test .*\)|not reached in \d+ epochs .*)",
                                      lines[-1])
    figures = json.loads(out.read_text())
    assert figures["test_examples"] == 1000 and len(figures["curve"]) >= 1 and figures["config"]["schedule"] == "onecycle"
    flip = figures["flip_evaluation"]
    assert set(flip) == {"val", "test"} and all(0.0 <= a <= 1.0 for accs in flip.values() for a in accs.values())
    assert flip["test"]["plain"] == pytest.approx(figures["curve"][-1]["test_accuracy"])
    assert figures["capped_at_max_minutes"] is False


@pytest.mark.parametrize("bad", ["0", "-1", "nan"])
def test_bench_cifar_refuses_a_time_cap_that_is_not_positive(bad, monkeypatch, capsys):
    bench = _load("bench_cifar", monkeypatch)
    with pytest.raises(SystemExit) as exc:
        bench.main(["--quick", "--max-minutes", bad])
    assert exc.value.code == 2 and "--max-minutes" in capsys.readouterr().err


def test_bench_cifar_without_data_is_one_error_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    import urllib.error

    import nas.datasets.download as dl

    def no_network(url, out, *, progress=True, desc=None):
        raise urllib.error.URLError("simulated: no route to host")

    monkeypatch.setattr(dl, "_fetch_url", no_network)
    bench = _load("bench_cifar", monkeypatch)
    missing, out = tmp_path / "none", tmp_path / "reference.json"
    code = bench.main(["--quick", "--data-dir", str(missing), "--json", str(out), "--threads", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and re.fullmatch(r"\S+: error: could not download .*missing all files.*", err[-1])
    assert not out.exists() and not missing.exists()
