"""``nas search``, ``nas worker``, ``nas report`` from the command line; one real, tiny MNIST search."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from nas.cli.main import main
from nas.exceptions import ConfigError, UnknownNameError
from nas.ledger import Ledger
from nas.search.config import SearchConfig
from nas.search.config_files import build_config
from nas.search.strategies import list_strategies
from nas.training.device import default_threads, threads_for


def test_unknown_strategy_is_one_line_error(tmp_path, capsys):
    code = main(["search", "--task", "mnist", "--strategy", "annealing", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "'annealing' is not one of" in err
    assert all(name in err for name in list_strategies())
    assert not (tmp_path / "r").exists()  # nothing half-written


def test_help_lists_every_registered_strategy_and_its_options(capsys):
    main(["search", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    start = text.index("--strategy")
    described = text[start:text.index("--storage", start)]
    assert all(name in described for name in list_strategies())
    assert "--aging-queue" in described and "--candidate-pool" in described


def test_strategy_options_come_from_the_command_line_and_the_toml_file(tmp_path):
    toml = tmp_path / "search.toml"
    toml.write_text('strategy = "bananas"\ncandidate_pool = 7\n')
    assert build_config(config_file=toml).candidate_pool == 7
    assert build_config(config_file=toml, candidate_pool=3).candidate_pool == 3  # the command line wins
    assert build_config(strategy="aging", aging_queue=9).aging_queue == 9


def test_unknown_task_is_one_line_error(tmp_path, capsys):
    code = main(["search", "--task", "imagenet", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "'imagenet' is not one of" in err and "mnist" in err
    assert not (tmp_path / "r").exists()  # nothing half-written


def test_unreachable_storage_is_one_line_error(tmp_path, capsys):
    code = main(["search", "--task", "mnist", "--storage", "postgresql://nobody@127.0.0.1:1/none",
                 "--out", str(tmp_path / "r"), "--quick"])
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert code == 1 and last.startswith("error: cannot open storage") and "postgresql" in last
    assert not (tmp_path / "r").exists()  # nothing half-written


@pytest.mark.parametrize("args, match", [
    (["--population", "1"], "SearchConfig.population = 1; expected an integer in [2, 10000]"),
    (["--population", "10000000000000000000000"], "SearchConfig.population = 10000000000000000000000; expected an integer in [2, 10000]"),
    (["--population", "4", "--survivors", "50"], "SearchConfig.survivors = 50; expected an integer <= population = 4"),
    (["--survivors", "0"], "survivors"),
    (["--generations", "0"], "generations"),
    (["--threads", "0"], "'--threads': 0 is not in the range x>=1"),
    (["--widths", "0", "4"], "SearchConfig.widths = (0, 4); expected a pair [low, high] of integers in [1, 256] with low <= high"),
    (["--widths", "8", "4"], "SearchConfig.widths = (8, 4); expected a pair [low, high] of integers in [1, 256] with low <= high"),
    (["--weight-target", "0"], "SearchConfig.weight_target = 0; expected an integer >= 1 or None"),
    (["--final-top", "-1"], "SearchConfig.final_top = -1; expected an integer in [0, 10000]"),
    (["--final-seeds", "0"], "SearchConfig.final_seeds = 0; expected an integer in [1, 1000]"),
    (["--final-epochs", "0"], "TrainConfig.epochs = 0; expected an integer >= 1"),
    (["--strategy", "aging", "--aging-queue", "0"], "SearchConfig.aging_queue = 0; expected an integer in [1, 10000] or None"),
    (["--strategy", "bananas", "--candidate-pool", "0"],
     "SearchConfig.candidate_pool = 0; expected an integer in [1, 1000] or None"),
])
def test_invalid_values(tmp_path, capsys, args, match):
    code = main(["search", "--task", "mnist", "--out", str(tmp_path / "r"), *args])
    err = capsys.readouterr().err
    assert code in (1, 2) and match in err and len(err.strip().splitlines()) == 1  # 2: click's usage errors
    assert not (tmp_path / "r").exists()


def test_an_out_that_cannot_be_a_directory_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(["search", "--task", "mnist", "--out", str(blocker / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot create the run directory" in err and len(err.strip().splitlines()) == 1
    assert blocker.read_text() == ""


def test_readout_and_final_tables_from_toml(tmp_path, capsys):
    toml = tmp_path / "s.toml"
    toml.write_text('readout = "all"\n')
    code = main(["search", "--task", "mnist", "--config", str(toml), "--out", str(tmp_path / "r")])
    assert code == 1 and "SearchConfig.readout = 'all'; expected one of ['last', 'sinks']" in capsys.readouterr().err
    toml.write_text('[search]\nreadout = "last"\nwidths = [1, 1]\n[final_train]\nepochs = 4\n')
    cfg = build_config(config_file=toml, task="mnist")
    assert cfg.readout == "last" and cfg.widths == (1, 1) and cfg.final_train_options == {"epochs": 4}
    assert cfg.train_options == {"epochs": 2, "train_subset": 12000, "val_subset": 5000}  # the screening budget


def test_a_run_stored_before_readouts_resumes_with_the_paper_construction(tmp_path):
    import json as _json

    run = tmp_path / "old"
    run.mkdir()
    stored = SearchConfig(task="mnist", out=str(run)).to_dict()
    for key in ("readout", "widths", "weight_target", "final_top", "final_seeds", "final_train"):
        stored.pop(key)
    stored["study"] = stored.pop("ledger_name")  # the ledger's name was called "study" then
    (run / "config.json").write_text(_json.dumps({"search": stored}))
    resumed = build_config(resume=True, out=str(run))
    assert (resumed.readout, resumed.widths, resumed.final_top) == ("last", (1, 1), 0)


def test_worker_needs_an_existing_ledger(tmp_path, capsys):
    code = main(["worker", "--storage", f"sqlite:///{tmp_path / 'x.db'}", "--ledger", "none"])
    assert code == 1 and "ledger not found" in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()  # a typo creates no database
    Ledger.open(f"sqlite:///{tmp_path / 'y.db'}", "other", directions=["maximize"])
    code = main(["worker", "--storage", f"sqlite:///{tmp_path / 'y.db'}", "--ledger", "none"])
    assert code == 1 and "ledger 'none' not found" in capsys.readouterr().err


def test_worker_threads_must_be_positive(tmp_path, capsys):
    code = main(["worker", "--storage", f"sqlite:///{tmp_path / 'x.db'}", "--ledger", "none", "--threads", "-1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "'--threads': -1 is not in the range x>=1" in err


def test_report_of_a_non_run_directory(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    assert "no config.json" in capsys.readouterr().err


def test_config_precedence_defaults_quick_toml_cli(tmp_path):
    toml = tmp_path / "search.toml"
    toml.write_text('[search]\npopulation = 5\nseed = 3\n\n[train]\nepochs = 4\n')
    cfg = build_config(config_file=toml, quick=True, task="reber", seed=9)
    assert cfg.population == 5 and cfg.seed == 9 and cfg.quick
    assert cfg.generations == 3  # from --quick for reber
    assert cfg.train_options["epochs"] == 4 and cfg.train_options["val_subset"] == 1000  # TOML over --quick, merged
    assert SearchConfig.from_dict(cfg.to_dict()) == cfg


def test_config_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("population = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        build_config(config_file=bad)
    bad.write_text("populaton = 4\n")
    with pytest.raises(ConfigError, match=r"unknown search option\(s\) \['populaton'\]"):
        build_config(config_file=bad)
    with pytest.raises(ConfigError, match="train_fraction"):
        SearchConfig(train_fraction=0)
    with pytest.raises(UnknownNameError):
        SearchConfig(strategy="grid")


def test_tiny_real_search_end_to_end(tmp_path, shared_data_dir, capsys):
    """A real gated GA search on an MNIST subset: files, resume refusal, report rebuild, predictor-readable
    export."""
    toml = tmp_path / "tiny.toml"
    toml.write_text(
        'strategy = "ga"\ngating = true\npopulation = 4\ngenerations = 2\nsurvivors = 2\nnodes = [6, 10]\n'
        'min_train_size = 3\npriors = ["erdos_renyi", "watts_strogatz"]\nshadow_fraction = 0.5\nwidths = [1, 4]\n'
        'final_top = 2\nfinal_seeds = 2\n'
        '[train]\nepochs = 1\ntrain_subset = 300\nval_subset = 100\ntest_subset = 100\nbatch_size = 64\n'
        '[final_train]\nepochs = 1\ntrain_subset = 600\nval_subset = 100\ntest_subset = 200\n'
    )
    out = tmp_path / "run"
    args = ["search", "--task", "mnist", "--config", str(toml), "--out", str(out), "--seed", "1",
            "--data-dir", str(shared_data_dir), "--device", "cpu"]
    assert main(args) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "gen   1" in err and "predictor tau" in err
    for name in ("config.json", "evaluations.csv", "report.md", "best/genome.json", "best/model.pt",
                 "best_so_far.png", "accuracy_by_prior.png", "ledger.db", "final.csv"):
        assert (out / name).is_file(), name
    # two survivors fully trained over two seeds; best/ holds the one chosen by final validation accuracy
    final = pd.read_csv(out / "final.csv")
    assert len(final) == 4 and sorted(set(final["seed"])) == [1, 2] and final["test_accuracy"].between(0, 1).all()
    best = json.loads((out / "best" / "model.json").read_text())
    assert best["final"]["seeds"] == [1, 2] and best["key"] in set(final["key"])
    assert best["genome"]["readout"] == "sinks" and 1 <= best["genome"]["width"] <= 4
    assert "Survivors fully trained" in (out / "report.md").read_text()
    config = json.loads((out / "config.json").read_text())
    assert config["search"]["population"] == 4 and "torch" in config["provenance"]["libraries"]

    from predictors import read_evaluations

    frame = read_evaluations(out / "evaluations.csv", target="val_accuracy")
    assert set(frame["reason"]) <= {"warmup", "gate", "shadow"} and len(frame) >= 4 + 2
    assert frame["test_accuracy"].between(0, 1).all()
    # zero-cost proxies of the initial networks are extra columns the predictor can use
    for proxy in ("synflow", "log_synflow", "snip", "grad_norm"):
        assert proxy in frame.columns and frame[proxy].notna().all(), proxy

    import torch

    state = torch.load(out / "best" / "model.pt", weights_only=True)
    assert state and all(isinstance(v, torch.Tensor) for v in state.values())

    # the same command again: the study exists, say so and offer --resume
    assert main(args) == 1
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 0  # nothing left to do: finishes at once, files intact
    (out / "report.md").unlink()
    assert main(["report", str(out)]) == 0
    assert "Per generation" in (out / "report.md").read_text()


def test_truncated_data_stops_the_search_before_anything_is_written(tmp_path, capsys, shared_data_dir):
    out = tmp_path / "r"
    code = main(["search", "--task", "cifar10", "--quick", "--out", str(out), "--data-dir", str(shared_data_dir)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err[-1].startswith("error: ") and "truncated" in err[-1] and "--allow-partial-data" in err[-1]
    assert not out.exists()


def test_allow_partial_data_is_an_explicit_recorded_choice():
    assert build_config(task="cifar10").allow_partial_data is False
    cfg = build_config(task="cifar10", allow_partial_data=True)
    assert cfg.allow_partial_data is True and SearchConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="allow_partial_data"):
        build_config(task="cifar10", allow_partial_data="yes")


def test_resume_reads_the_stored_config(tmp_path):
    from nas.search.config_files import write_config

    first = build_config(task="reber", quick=True, out=str(tmp_path / "r"), population=5, seed=4)
    write_config(first, tmp_path / "r")
    resumed = build_config(resume=True, out=str(tmp_path / "r"), generations=7)
    assert resumed.task == "reber" and resumed.population == 5 and resumed.seed == 4
    assert resumed.generations == 7 and resumed.train == first.train
    fresh = build_config(out=str(tmp_path / "r"))  # without --resume the stored file is not read
    assert fresh.task == "mnist"


def test_tiny_real_reber_search_trains_generations_together(tmp_path, capsys):
    """Recurrent generations go to the population trainer: one batch per generation, honest savings."""
    toml = tmp_path / "tiny.toml"
    toml.write_text(
        'strategy = "ga"\ngating = true\npopulation = 4\ngenerations = 2\nsurvivors = 2\nnodes = [6, 10]\n'
        'min_train_size = 3\npriors = ["barabasi_albert_original", "layered_random"]\nshadow_fraction = 0.0\n'
        'train_fraction = 0.5\n'
        'widths = [1, 2]\nfinal_top = 1\nfinal_seeds = 1\n'
        '[train]\nepochs = 1\ntrain_subset = 200\nval_subset = 64\ntest_subset = 64\nbatch_size = 32\n'
        '[final_train]\nepochs = 1\ntrain_subset = 200\nval_subset = 64\ntest_subset = 64\nbatch_size = 32\n'
    )
    out = tmp_path / "run"
    args = ["search", "--task", "reber", "--config", str(toml), "--out", str(out), "--seed", "2", "--device", "cpu"]
    assert main(args) == 0, capsys.readouterr().err

    from predictors import read_evaluations

    frame = read_evaluations(out / "evaluations.csv", target="val_accuracy")
    assert frame["genome"].str.contains('"rnn:gru"').all() and frame["test_accuracy"].between(0, 1).all()
    first = frame[frame["reason"] == "warmup"]
    assert len(first) == 4 and (first["cohort_size"] == 4).all()  # generation 0 trained as one cohort
    history = json.loads((out / "config.json").read_text())  # the run finished and recorded its config
    assert history["search"]["task"] == "reber"
    report = (out / "report.md").read_text()
    assert "training time saved by gating" in report
    assert "| 1 | 4 | 2 | 0 | 2 |" in report  # generation 1: the gate kept 2 of 4, the saving was estimated


def test_a_budget_search_sets_every_width_to_meet_the_budget(tmp_path, shared_data_dir, capsys):
    """--budget: every candidate's width is the one whose nonzero weights come closest to the target."""
    from nas.training.equal_cost import ff_nonzero_weights
    from predictors import read_evaluations
    from search_spaces.genome import Genome

    toml = tmp_path / "b.toml"
    toml.write_text(
        'population = 4\ngenerations = 2\nsurvivors = 2\nnodes = [6, 12]\nwidths = [1, 64]\nfinal_top = 0\n'
        'priors = ["erdos_renyi", "barabasi_albert"]\n'
        '[train]\nepochs = 1\ntrain_subset = 200\nval_subset = 100\ntest_subset = 100\nbatch_size = 64\n'
    )
    out = tmp_path / "run"
    args = ["search", "--task", "mnist", "--config", str(toml), "--out", str(out), "--budget", "60000",
            "--data-dir", str(shared_data_dir), "--device", "cpu", "--no-progress"]
    assert main(args) == 0, capsys.readouterr().err
    frame = read_evaluations(out / "evaluations.csv", target="val_accuracy")
    assert len(frame) >= 4
    for text, weights in zip(frame["genome"], frame["nonzero_weights"]):
        genome = Genome.from_json(text)
        assert weights == ff_nonzero_weights(genome, 784, 10)  # the trained network is the counted one
        gaps = {w: abs(ff_nonzero_weights(genome.replace(width=w), 784, 10) - 60000) for w in range(1, 65)}
        assert gaps[genome.width] == min(gaps.values())


def test_a_quick_cifar_search_stacks_cnns_and_reports_a_binomial_interval(tmp_path, shared_data_dir, capsys):
    # The --quick path on the shared (truncated) test batch, cut down to seconds: the population is
    # trained as one CNN stack, and the final figures carry their interval and test-image count.
    toml = tmp_path / "tiny.toml"
    toml.write_text("[train]\ntrain_subset = 256\nval_subset = 128\ntest_subset = 200\n"
                    "[final_train]\ntrain_subset = 256\nval_subset = 128\ntest_subset = 200\n")
    out = tmp_path / "c"
    code = main(["search", "--task", "cifar10", "--quick", "--allow-partial-data", "--config", str(toml),
                 "--population", "3", "--generations", "1", "--survivors", "2", "--final-top", "1",
                 "--final-seeds", "1", "--epochs", "1", "--final-epochs", "1", "--out", str(out),
                 "--data-dir", str(shared_data_dir), "--device", "cpu", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    evaluations = pd.read_csv(out / "evaluations.csv")
    assert len(evaluations) == 3 and set(evaluations["cohort_size"]) == {3}  # one stack of three CNNs
    text = (out / "report.md").read_text()
    assert "95 % binomial interval" in text and "on 200 of 10000 test images" in text
    assert "**Partial test set**: these figures rest on 200 of the 10000 test images" in text
    stored = json.loads((out / "config.json").read_text())["search"]
    assert stored["train"]["optimizer"] == "adam" and stored["final_train"]["optimizer"] == "adam"
    assert (out / "best_graph.png").stat().st_size > 0 and "](best_graph.png)" in text


@pytest.mark.parametrize("args, threads", [(["--quick"], 1), (["--quick", "--threads", "2"], 2), ([], 1),
                                           (["--task", "cifar10"], None), (["--task", "reber"], 1)])
def test_a_search_on_the_cpu_trains_small_networks_with_one_thread_unless_told(monkeypatch, tmp_path, args, threads):
    # one torch thread: the README's quick search took 62 s beside a busy process, two threads 1,068 s;
    # CNNs (cifar10) keep torch's choice
    import nas.cli.search as search_cli

    seen = []
    monkeypatch.setattr(search_cli, "set_threads", seen.append)

    def stop(config, **kwargs):
        raise ConfigError("stopped before training")

    monkeypatch.setattr(search_cli, "run_search", stop)
    assert main(["search", *args, "--device", "cpu", "--out", str(tmp_path / "r")]) == 1  # the CPU on any machine
    assert seen == [threads]


def test_default_threads_follow_the_work():
    assert default_threads("ff", "cpu") == 1 and default_threads({"rnn:gru", "rnn:lstm"}, "cpu") == 1
    assert default_threads("cnn", "cpu") is None and default_threads(("ff", "cnn"), "cpu") is None
    assert default_threads("ff", "cuda") is None and default_threads("ff", "cuda:1") is None
    assert threads_for(3, "ff", "cpu") == 3 and threads_for(None, "ff", "cpu") == 1  # given, else the default
