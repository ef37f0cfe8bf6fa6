"""One validation path (issue 22): each config declares one rule per field, each training option is
checked in one place whatever command carries it, and the per-task defaults come from one table
with the values they had before (hard-coded below from the code as it was)."""

from __future__ import annotations

import inspect
import json
from dataclasses import fields
from numbers import Integral, Real

import pytest

from nas.cli.main import main
from nas.datasets.reber import (
    EMBEDDED_DATASET_OPTIONS,
    REBER_DATASET_OPTIONS,
    embedded_reber_dataset,
    reber_classification_dataset,
)
from nas.defaults import TASK_DEFAULTS
from nas.exceptions import NASError
from nas.search.config import QUICK, SEARCH_DEFAULTS, SearchConfig
from nas.search.config_files import build_config, load_run_config
from nas.search.evaluator import Trainer
from nas.studies.priors.config import QUICK as PRIORS_QUICK
from nas.studies.priors.config import StudyConfig, build_study_config
from nas.studies.pruning.experiment import PruneConfig
from nas.studies.pruning.presets import preset
from nas.training.config import TrainConfig, TrainOverrides
from nas.training.tasks import Task, get_task, list_tasks
from nas.validation import Interval
from search_spaces.genome import Genome


# --- (b) every field has exactly one rule ----------------------------------------------------------
@pytest.mark.parametrize("config", [TrainConfig, SearchConfig, StudyConfig, PruneConfig, Genome])
def test_every_field_of_a_config_has_exactly_one_rule(config):
    names = [f.name for f in fields(config)]
    assert sorted(config.constraints) == sorted(names), (
        f"{config.__name__}: fields without a rule {sorted(set(names) - set(config.constraints))}, "
        f"rules without a field {sorted(set(config.constraints) - set(names))}")


@pytest.mark.parametrize("generator, table", [(reber_classification_dataset, REBER_DATASET_OPTIONS),
                                              (embedded_reber_dataset, EMBEDDED_DATASET_OPTIONS)])
def test_every_option_of_a_reber_generator_has_exactly_one_rule(generator, table):
    assert sorted(inspect.signature(generator).parameters) == sorted(table)


# --- (a) a rule changed once, obeyed by every command ----------------------------------------------
class DataRequested(NASError):
    """Raised instead of loading data: the command got past its settings."""


@pytest.fixture
def commands(tmp_path, monkeypatch):
    """Build the argv of the four commands that train, for one training option; data loading fails
    with DataRequested, so nothing is ever trained."""
    def no_data(self, *args, **kwargs):
        raise DataRequested("data requested")

    monkeypatch.setattr(Task, "load", no_data)
    genome = tmp_path / "genome.json"
    genome.write_text(Genome("erdos_renyi", {"p": 0.3}, nodes=8, seed=0).to_json())

    def build(option: str, value) -> dict[str, list[str]]:
        toml = tmp_path / "search.toml"
        toml.write_text(f"[train]\n{option} = {value}\n")
        train = {"epochs": ["--epochs", str(value)], "lr": ["--lr", str(value)]}[option]
        return {
            "train": ["train", "--task", "mnist", "--genome", str(genome), *train],
            "search": ["search", "--task", "mnist", "--out", str(tmp_path / "search"), "--no-progress",
                       # (final epochs within every rule tried: the rule also binds the default final budget)
                       *(["--epochs", str(value), "--final-epochs", "2"] if option == "epochs"
                         else ["--config", str(toml)])],
            "priors evaluate": ["priors", "evaluate", "--task", "mnist", "--out", str(tmp_path / "study"),
                                "--no-progress", "--train", f"{option}={value}"],
            "prune": ["prune", "--arch", "784-16-10", "--out", str(tmp_path / "prune.json"),
                      "--train", f"{option}={value}"],
        }
    return build


def last_error(argv, capsys) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1, (argv, err)
    return err[-1]


RULES = [
    ("epochs", Interval(Integral, 1, 5), 7, 5, "error: TrainConfig.epochs = 7; expected an integer in [1, 5]"),
    ("lr", Interval(Real, 0, 0.1, closed="right"), 0.5, 0.1, "error: TrainConfig.lr = 0.5; expected a number in (0, 0.1]"),
]


@pytest.mark.parametrize("option, rule, bad, good, expected", RULES, ids=[r[0] for r in RULES])
def test_one_rule_changed_is_obeyed_by_every_command(commands, capsys, monkeypatch, tmp_path, option, rule, bad, good,
                                                     expected):
    # before the change the value passes every command's settings (it stops at the data)
    for name, argv in commands(option, bad).items():
        assert last_error(argv, capsys) == "error: data requested", name
    monkeypatch.setitem(TrainConfig.constraints, option, rule)
    messages = {name: last_error(argv, capsys) for name, argv in commands(option, bad).items()}
    assert messages == dict.fromkeys(messages, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["genome.json", "search.toml"]  # nothing written
    for name, argv in commands(option, good).items():  # the new rule's own values still pass
        assert last_error(argv, capsys) == "error: data requested", name


def test_every_spelling_of_a_training_option_is_checked_by_the_same_rule(commands, capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(TrainConfig.constraints, "epochs", Interval(Integral, 1, 5))
    toml = tmp_path / "final.toml"
    toml.write_text("[final_train]\nepochs = 7\n")
    run, study, pruned = str(tmp_path / "r"), str(tmp_path / "s"), str(tmp_path / "p.json")
    spellings = [
        ["search", "--task", "mnist", "--final-epochs", "7", "--out", run],
        ["search", "--task", "mnist", "--config", str(toml), "--out", run],
        ["priors", "evaluate", "--task", "mnist", "--epochs", "7", "--out", study],
        ["prune", "--arch", "784-16-10", "--epochs", "7", "--out", pruned],
        ["prune", "--arch", "784-16-10", "--retrain-option", "epochs=7", "--out", pruned],
        ["prune", "--preset", "lenet-300-100", "--epochs", "7", "--out", pruned],
    ]
    for argv in spellings:
        assert last_error(argv, capsys) == "error: TrainConfig.epochs = 7; expected an integer in [1, 5]", argv
    with pytest.raises(NASError, match=r"^TrainConfig\.epochs = 7; expected an integer in \[1, 5\]$"):
        get_task("reber").default_config(epochs=7)


# --- training overrides: one typed object -------------------------------------------------------------
def test_the_configs_hold_validated_training_overrides():
    search = build_config(task="mnist", quick=True)
    study = build_study_config(task="mnist", quick=True)
    prune = PruneConfig(**preset("lenet-300-100"))
    for overrides in (search.train, search.final_train, study.train, prune.train, prune.retrain_options):
        assert isinstance(overrides, TrainOverrides)
    assert SearchConfig(train={"epochs": 1}).train == SearchConfig(train=[("epochs", 1)]).train


def test_configs_stored_before_the_overrides_object_still_load_and_are_written_the_same(tmp_path):
    # the "search" table of a config.json and the "study" table of a study.json written by the code
    # before TrainOverrides (a plain dict of options)
    search = {"task": "reber", "strategy": "ga", "population": 8, "generations": 3, "survivors": 3, "seed": 0,
              "out": str(tmp_path / "run"), "storage": None, "study": None,
              "priors": ["barabasi_albert_original", "layered_random"], "nodes": [12, 32], "widths": [1, 1],
              "readout": "sinks", "budget": None, "final_top": 0, "final_seeds": 3, "final_train": {}, "family": None,
              "metric": "val_accuracy", "second_objective": None, "gating": True, "train_fraction": 0.5,
              "gate_rule": "top", "ucb_beta": 1.0, "shadow_fraction": 0.2, "warmup_generations": 1,
              "min_train_size": 8, "predictor_model": "rf", "predictor_file": None, "predictor_group": "extended",
              "tournament_size": 3, "cx_prob": 0.5, "mut_prob": 0.9,
              "train": {"batch_size": 64, "epochs": 2, "lr": 0.02, "val_subset": 1000}, "data_dir": None,
              "allow_partial_data": False, "device": None, "local_worker": True, "poll_interval": 2.0,
              "heartbeat_interval": 10.0, "stale_after": 60.0, "max_retries": 3, "progress": True, "quick": True}
    study = {"task": "reber", "families": ["rnn:gru"], "priors": ["erdos_renyi", "watts_strogatz", "barabasi_albert"],
             "per_prior": 6, "seeds": 2, "nodes": [10, 30], "width": 1, "readout": "sinks", "match": "none",
             "match_tries": 32, "seed": 0, "train": {"batch_size": 64, "epochs": 1, "lr": 0.02, "train_subset": 4000,
                                                     "val_subset": 1000},
             "fail_margin": 0.05, "batch": 32, "out": str(tmp_path / "study"), "data_dir": None, "device": None,
             "allow_partial_data": False, "progress": True, "preset": None, "quick": True}
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"search": search}))
    loaded = load_run_config(run)
    assert loaded.train_options == {"batch_size": 64, "epochs": 2, "lr": 0.02, "val_subset": 1000}
    renamed = {{"study": "ledger_name", "budget": "weight_target"}.get(k, k): v for k, v in search.items()}
    written = json.loads(json.dumps(loaded.to_dict()))
    assert {k: v for k, v in written.items() if k in renamed} == renamed  # written back as it was, under today's names
    added = set(written) - set(renamed)  # options added since: at their defaults
    assert {k: written[k] for k in added} == {k: SearchConfig.__dataclass_fields__[k].default for k in added}
    assert build_config(resume=True, out=str(run)).trajectory() == loaded.trajectory()
    renamed_study = {("cohort_size" if k == "batch" else k): v for k, v in study.items()}
    written_study = json.loads(json.dumps(StudyConfig.from_dict(study).to_dict()))
    assert {k: v for k, v in written_study.items() if k in renamed_study} == renamed_study
    assert {k: written_study[k] for k in set(written_study) - set(renamed_study)} == {"jobs": 1}  # added since: its default
    # (name, value) pair lists, as a hand-written or older file may hold them, read the same
    pairs = {**search, "train": [[k, v] for k, v in search["train"].items()]}
    assert SearchConfig.from_dict(pairs) == loaded


# --- (3) one table of per-task defaults, values unchanged ------------------------------------------------
def test_the_per_task_tables_are_views_of_the_one_table():
    for task in list_tasks():
        assert get_task(task).train_defaults is TASK_DEFAULTS[task]["train"]
        assert SEARCH_DEFAULTS[task] is TASK_DEFAULTS[task]["search"] and QUICK[task] is TASK_DEFAULTS[task]["search_quick"]
    assert set(PRIORS_QUICK) == {"mnist", "fashion_mnist", "reber", "reber_paper"}
    assert all(PRIORS_QUICK[t] is TASK_DEFAULTS[t]["priors_quick"] for t in PRIORS_QUICK)


#: TrainConfig() before the change; the cases below list their differences from it.
TRAIN_BEFORE = {
    "epochs": 10, "max_steps": None, "batch_size": 128, "eval_batch_size": 2048, "optimizer": "adam", "lr": 0.001,
    "momentum": 0.9, "weight_decay": 0.0, "schedule": "none", "warmup": 0.25, "plateau_factor": 0.1,
    "plateau_patience": 2, "plateau_compare": "best", "plateau_momentum": None, "min_lr": None, "patience": None,
    "min_delta": 0.0, "grad_clip": None, "label_smoothing": 0.0, "precision": "fp32", "channels_last": False,
    "compile": False, "augment": "none", "eval_flip": False, "bucket_batches": 16, "device": None, "seed": 0,
    "progress": False, "train_subset": None, "val_subset": None, "test_subset": None,
    "test_curve": False,  # added since (2026-12-07) at its default: the configs are otherwise as they were
}
CIFAR_FAST = {"batch_size": 512, "channels_last": True, "eval_flip": True, "label_smoothing": 0.1, "lr": 0.2,
              "precision": "auto", "schedule": "onecycle"}
CIFAR_QUICK = {"augment": "none", "batch_size": 128, "channels_last": False, "eval_flip": False,
               "label_smoothing": 0.0, "lr": 0.003, "optimizer": "adam", "precision": "auto", "schedule": "cosine",
               "test_subset": 1000, "val_subset": 1000, "weight_decay": 0.0}
CIFAR_TASK = {"augment": "crop_flip", "grad_clip": 5.0, "optimizer": "sgd", "weight_decay": 0.0005}
REBER_QUICK = {"population": 8, "generations": 3, "survivors": 3, "nodes": [12, 32], "widths": [1, 1],
               "priors": ["barabasi_albert_original", "layered_random"], "final_top": 0, "final_seeds": 3,
               "min_train_size": 8, "quick": True, "train": {"batch_size": 64, "epochs": 1, "lr": 0.02, "val_subset": 1000},
               "final_train": {}}

TRAIN_CASES = {
    "mnist": {"schedule": "cosine"},
    "fashion_mnist": {"epochs": 15, "schedule": "cosine"},
    "cifar10": {**CIFAR_TASK, "epochs": 30, "lr": 0.05, "schedule": "cosine"},
    "reber": {"epochs": 15, "grad_clip": 5.0},
    "reber_paper": {"epochs": 15, "grad_clip": 5.0},
    "embedded_reber": {"batch_size": 64, "epochs": 60, "grad_clip": 5.0},
}

#: (task, --quick) -> (SearchConfig fields, screening TrainConfig, final TrainConfig), as differences
SEARCH_CASES = {
    ("mnist", False): (
        {"population": 16, "generations": 10, "survivors": 8, "nodes": [10, 50], "widths": [2, 16], "priors": None,
         "final_top": 3, "final_seeds": 3, "min_train_size": 8, "quick": False,
         "train": {"epochs": 2, "train_subset": 12000, "val_subset": 5000}, "final_train": {"epochs": 15}},
        {"epochs": 2, "schedule": "cosine", "train_subset": 12000, "val_subset": 5000},
        {"epochs": 15, "schedule": "cosine"}),
    ("mnist", True): (
        {"population": 12, "generations": 4, "survivors": 4, "nodes": [10, 40], "widths": [8, 16], "priors": None,
         "final_top": 2, "final_seeds": 2, "min_train_size": 8, "quick": True,
         "train": {"epochs": 2, "lr": 0.003, "train_subset": 8000, "val_subset": 2000}, "final_train": {"epochs": 3}},
        {"epochs": 2, "lr": 0.003, "schedule": "cosine", "train_subset": 8000, "val_subset": 2000},
        {"epochs": 3, "schedule": "cosine"}),
    ("fashion_mnist", True): (
        {"population": 8, "generations": 3, "survivors": 4, "nodes": [10, 40], "widths": [4, 16], "priors": None,
         "final_top": 2, "final_seeds": 2, "min_train_size": 8, "quick": True,
         "train": {"epochs": 2, "test_subset": 2000, "train_subset": 4000, "val_subset": 1000},
         "final_train": {"epochs": 2}},
        {"epochs": 2, "schedule": "cosine", "test_subset": 2000, "train_subset": 4000, "val_subset": 1000},
        {"epochs": 2, "schedule": "cosine"}),
    ("cifar10", False): (
        {"population": 16, "generations": 4, "survivors": 4, "nodes": [16, 32], "widths": [2, 4], "priors": None,
         "final_top": 3, "final_seeds": 3, "min_train_size": 8, "quick": False,
         "train": {**CIFAR_FAST, "epochs": 3, "train_subset": 20000, "val_subset": 5000},
         "final_train": {**CIFAR_FAST, "epochs": 40}},
        {**CIFAR_TASK, **CIFAR_FAST, "epochs": 3, "train_subset": 20000, "val_subset": 5000},
        {**CIFAR_TASK, **CIFAR_FAST, "epochs": 40}),
    ("cifar10", True): (
        {"population": 6, "generations": 2, "survivors": 3, "nodes": [8, 16], "widths": [1, 1], "priors": None,
         "final_top": 3, "final_seeds": 1, "min_train_size": 6, "quick": True,
         "train": {**CIFAR_QUICK, "epochs": 2, "train_subset": 4000},
         "final_train": {**CIFAR_QUICK, "epochs": 3, "train_subset": 16000}},
        {"epochs": 2, "grad_clip": 5.0, "lr": 0.003, "precision": "auto", "schedule": "cosine", "test_subset": 1000,
         "train_subset": 4000, "val_subset": 1000},
        {"epochs": 3, "grad_clip": 5.0, "lr": 0.003, "precision": "auto", "schedule": "cosine", "test_subset": 1000,
         "train_subset": 16000, "val_subset": 1000}),
    ("reber", True): (
        REBER_QUICK,
        {"batch_size": 64, "epochs": 1, "grad_clip": 5.0, "lr": 0.02, "val_subset": 1000},
        {"epochs": 15, "grad_clip": 5.0}),
    ("reber_paper", True): (
        REBER_QUICK,
        {"batch_size": 64, "epochs": 1, "grad_clip": 5.0, "lr": 0.02, "val_subset": 1000},
        {"epochs": 15, "grad_clip": 5.0}),
    ("embedded_reber", False): (
        {"population": 16, "generations": 10, "survivors": 8, "nodes": [10, 50], "widths": [1, 1], "priors": None,
         "final_top": 3, "final_seeds": 3, "min_train_size": 8, "quick": False,
         "train": {"epochs": 10, "train_subset": 4000}, "final_train": {}},
        {"batch_size": 64, "grad_clip": 5.0, "train_subset": 4000},
        {"batch_size": 64, "epochs": 60, "grad_clip": 5.0}),
}

IMAGE_STUDY = {"per_prior": 6, "seeds": 2, "nodes": [10, 30], "width": 8, "families": ["ff"], "quick": True,
               "train": {"epochs": 2, "lr": 0.01, "test_subset": 2000, "train_subset": 4000, "val_subset": 1000}}
IMAGE_STUDY_TRAIN = {"epochs": 2, "lr": 0.01, "schedule": "cosine", "seed": 1, "test_subset": 2000,
                     "train_subset": 4000, "val_subset": 1000}
#: `nas priors evaluate` options -> (StudyConfig fields, the TrainConfig of training seed 1), as differences
STUDY_CASES = {
    "--quick --task mnist": ({"task": "mnist", "quick": True}, IMAGE_STUDY, IMAGE_STUDY_TRAIN),
    "--quick --task fashion_mnist": ({"task": "fashion_mnist", "quick": True}, IMAGE_STUDY, IMAGE_STUDY_TRAIN),
    "--quick --task reber": (
        {"task": "reber", "quick": True},
        {"per_prior": 6, "seeds": 2, "nodes": [10, 30], "width": 1, "families": ["rnn:gru"], "quick": True,
         "train": {"batch_size": 64, "epochs": 1, "lr": 0.02, "train_subset": 4000, "val_subset": 1000}},
        {"batch_size": 64, "epochs": 1, "grad_clip": 5.0, "lr": 0.02, "seed": 1, "train_subset": 4000,
         "val_subset": 1000}),
    "--preset stier2021-reber": (
        {"preset": "stier2021-reber"},
        {"task": "reber_paper", "per_prior": 100, "seeds": 2, "nodes": [10, 50], "width": 1, "readout": "last",
         "families": ["rnn:tanh", "rnn:relu", "rnn:gru", "rnn:lstm"], "quick": False,
         "train": {"batch_size": 128, "epochs": 15, "grad_clip": 5.0, "lr": 0.001, "optimizer": "adam"}},
        {"epochs": 15, "grad_clip": 5.0, "seed": 1}),
}

PAPER_SGD = {"batch_size": 64, "lr": 0.01, "momentum": 0.0, "optimizer": "sgd", "plateau_compare": "previous",
             "plateau_patience": 0}
#: pruning preset -> (base TrainConfig, retraining TrainConfig), as differences
PRUNE_CASES = {
    "stier2021-mnist": ({**PAPER_SGD, "epochs": 200, "min_lr": 0.0001, "plateau_momentum": 0.5, "schedule": "plateau"},
                        {**PAPER_SGD, "epochs": 2}),
    "lenet-300-100": ({"epochs": 60, "lr": 0.1, "optimizer": "sgd", "schedule": "cosine", "weight_decay": 0.0005},
                      {"epochs": 4, "lr": 0.01, "optimizer": "sgd", "schedule": "cosine", "weight_decay": 0.0005}),
    "stier2021-reber-gru": ({"batch_size": 64, "grad_clip": 5.0, "lr": 0.01, "train_subset": 5000},
                            {"batch_size": 64, "epochs": 2, "grad_clip": 5.0, "lr": 0.01, "train_subset": 5000}),
}


def as_before(differences: dict) -> dict:
    return {**TRAIN_BEFORE, **differences}


@pytest.mark.parametrize("task", sorted(TRAIN_CASES))
def test_nas_train_builds_the_task_defaults_it_built_before(task):
    assert get_task(task).default_config().to_dict() == as_before(TRAIN_CASES[task])


@pytest.mark.parametrize("task, quick", sorted(SEARCH_CASES))
def test_nas_search_builds_the_configs_it_built_before(task, quick):
    fields_before, screening, final = SEARCH_CASES[(task, quick)]
    config = build_config(task=task, quick=quick, out="runs/x")
    stored = json.loads(json.dumps(config.to_dict()))
    assert {k: stored[k] for k in fields_before} == fields_before
    trainer = Trainer(config)
    shown = {"progress": False}  # the progress display (the search's own setting) changes no result
    assert {**trainer.train_config.to_dict(), **shown} == as_before(screening)
    assert {**trainer.final_config(0).to_dict(), **shown} == as_before(final)


@pytest.mark.parametrize("case", sorted(STUDY_CASES))
def test_nas_priors_evaluate_builds_the_configs_it_built_before(case):
    options, fields_before, seed_one = STUDY_CASES[case]
    config = build_study_config(**options)
    stored = json.loads(json.dumps(config.to_dict()))
    assert {k: stored[k] for k in fields_before} == fields_before
    # the TrainConfig the study trains seed 1 with (nas.studies.priors.run)
    train = get_task(config.task).default_config(**{**config.train_options, "seed": 1})
    assert train.to_dict() == as_before(seed_one)


@pytest.mark.parametrize("name", sorted(PRUNE_CASES))
def test_nas_prune_presets_build_the_configs_they_built_before(name):
    base, retrain = PRUNE_CASES[name]
    config = PruneConfig(**preset(name))
    shown = {"progress": False}  # the progress display changes no result
    assert {**config.base_config().to_dict(), **shown} == as_before(base)
    assert {**config.retrain_config().to_dict(), **shown} == as_before(retrain)
