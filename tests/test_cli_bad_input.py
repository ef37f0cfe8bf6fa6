"""Every command, walked with bad input: a non-zero exit, one clear line on stderr (click's own
usage errors keep their short form), no traceback, and nothing written where the command was
told to write."""

from __future__ import annotations

import click
import pytest

from nas.cli.main import cli as root
from nas.cli.main import main
from search_spaces.genome import Genome

#: (arguments, text the error must contain). {tmp}: a fresh folder; {file}: a regular file in it;
#: {genome}: a valid genome file; {binary}: a file of binary junk; {evals}: an evaluations CSV.
BAD = [
    # data
    (["data", "info", "--data-dir", "{tmp}/nowhere"], "does not exist"),
    (["data", "info", "--data-dir", "{file}"], "is not a folder"),
    (["data", "fetch", "nosuch", "--data-dir", "{tmp}"], "unknown dataset"),
    (["data", "info", "mnist", "--data-dir", "{tmp}"], "not usable: mnist"),
    (["data", "reber", "--n", "0", "--out", "{tmp}/r.csv"], "n"),
    (["data", "reber", "--n", "1000", "--out", "{file}/r.csv"], "{file}"),
    (["data", "reber", "--n", "10", "--seed", "-1", "--out", "{tmp}/r.csv"], "seed"),
    # arch
    (["arch", "sample", "--prior", "nosuch", "--nodes", "10"], "unknown prior"),
    (["arch", "sample", "--prior", "erdos_renyi", "--nodes", "1"], "nodes"),
    (["arch", "sample", "--prior", "erdos_renyi", "--nodes", "10", "--param", "p=notanumber"], "p"),
    (["arch", "sample", "--prior", "erdos_renyi", "--nodes", "99999999"], "nodes"),
    (["arch", "describe", "{tmp}/missing.json"], "cannot read genome file"),
    (["arch", "describe", "{binary}"], "not UTF-8"),
    (["arch", "describe", "{file}"], "genome"),
    (["arch", "export", "{genome}", "--format", "png", "--out", "{file}/g.png"], "{file}"),
    (["arch", "export", "{genome}", "--format", "png", "--out", "{tmp}/g.json"], "the suffix of 'json'"),
    (["priors", "evaluate", "--task", "mnist", "--epochs", "2", "--train", "epochs=0", "--out", "{tmp}/s"],
     "both set the training's epochs"),
    (["prune", "--arch", "784-100-10", "--epochs", "2", "--train", "epochs=3", "--out", "{tmp}/p.json"],
     "both set the base training's epochs"),
    (["prune", "--arch", "784-100-10", "--retrain", "2", "--retrain-option", "epochs=5", "--out", "{tmp}/p.json"],
     "both set the retraining epochs"),
    (["arch", "import", "{tmp}/missing.graphml", "--family", "ff", "--jsonl", "{tmp}/g.jsonl"], "missing.graphml"),
    (["arch", "join", "{tmp}/missing.jsonl", "{tmp}/m.csv", "--out", "{tmp}/e.csv"], "missing.jsonl"),
    (["arch", "distance", "{genome}", "{tmp}/missing.json"], "cannot read genome file"),
    # train
    (["train", "--task", "mnist"], "exactly one of --genome"),
    (["train", "--task", "nosuch", "--genome", "{genome}"], "'nosuch' is not one of"),
    (["train", "--task", "mnist", "--genome", "{genome}", "--epochs", "0"], "epochs"),
    (["train", "--task", "mnist", "--genome", "{genome}", "--lr", "nan"], "lr"),
    (["train", "--task", "mnist", "--genome", "{genome}", "--device", "bogus"], "device 'bogus'"),
    (["train", "--task", "mnist", "--genome", "{genome}", "--out", "{tmp}"], "is a folder"),
    (["train", "--task", "mnist", "--genome", "{genome}", "--out", "{file}"], "exists"),
    (["train", "--task", "mnist", "--genome", "{genome}", "--out", "{file}/r.json"], "is a file, not a folder"),
    (["train", "--task", "mnist", "--genome", "{genome}", "--train-subset", "10000000", "--data-dir", "{data}"],
     "train_subset = 10000000"),
    (["train", "--task", "mnist", "--genomes", "{binary}"], "not UTF-8"),
    # predictor
    (["predictor", "evaluate", "--data", "{tmp}/missing.csv", "--target", "val_accuracy"], "missing.csv"),
    (["predictor", "evaluate", "--data", "{binary}", "--target", "val_accuracy"], ""),
    (["predictor", "evaluate", "--data", "{evals}", "--target", "nosuch"], "nosuch"),
    (["predictor", "fit", "--data", "{evals}", "--target", "val_accuracy", "--model", "rf", "--param",
      "n_estimators=notjson", "--out", "{tmp}/p.skops"], "n_estimators"),
    (["predictor", "fit", "--data", "{evals}", "--target", "val_accuracy", "--out", "{file}"], "exists"),
    (["predictor", "evaluate", "--data", "{evals}", "--target", "val_accuracy", "--model", "xgb"],
     "'xgb' is not one of"),
    (["predictor", "fit", "--data", "{evals}", "--target", "val_accuracy", "--out", "{file}/p.skops"], "{file}"),
    (["predictor", "predict", "{binary}", "--genomes", "{genome}"], ""),
    # search, worker, report
    (["search", "--task", "mnist", "--population", "10000000000000000000000", "--out", "{tmp}/s"], "population"),
    (["search", "--task", "mnist", "--population", "4", "--survivors", "50", "--out", "{tmp}/s"], "survivors"),
    (["search", "--task", "mnist", "--out", "{file}"], "{file}"),
    (["search", "--task", "mnist", "--out", "{tmp}/missing", "--resume"], "not found"),
    (["search", "--task", "mnist", "--device", "bogus", "--quick", "--out", "{tmp}/s", "--data-dir", "{data}"],
     "device 'bogus'"),
    (["search", "--task", "mnist", "--config", "{binary}", "--out", "{tmp}/s"], "not valid TOML"),
    (["search", "--task", "mnist", "--storage", "nonsense", "--out", "{tmp}/s"], "not understood"),
    (["search", "--task", "mnist", "--time-limit", "nan", "--out", "{tmp}/s"], "time-limit"),
    (["search", "--task", "mnist", "--time-limit", "-1", "--out", "{tmp}/s"], "time-limit"),
    (["worker", "--storage", "sqlite:///{tmp}/typo.db", "--ledger", "s"], "ledger not found"),
    (["worker", "--storage", "sqlite:///{tmp}/typo.db", "--ledger", "s", "--idle-timeout", "nan"], "idle-timeout"),
    (["worker", "--storage", "sqlite:///{tmp}/typo.db", "--ledger", "s", "--share", "0"], "share"),
    (["worker", "--storage", "sqlite:///{tmp}/typo.db", "--ledger", "s", "--share", "1", "--batch", "1"], "old spelling"),
    (["worker"], "name the search"),
    (["worker", "{tmp}"], "no config.json"),
    (["report", "{tmp}"], "no config.json"),
    (["report", "{binary_run}"], "cannot read the stored config"),
    # prune
    (["prune", "--arch", "784-16-10", "--method", "foo", "--out", "{tmp}/p.json"], "'foo' is not one of"),
    (["prune", "--arch", "784-16-10", "--rate", "1.5", "--out", "{tmp}/p.json"], "rate"),
    (["prune", "--arch", "784-16-10", "--out", "{file}"], "exists"),
    (["prune", "--arch", "784-16-10", "--out", "{file}/p.json"], "not a writable folder"),
    (["prune", "--preset", "nope", "--out", "{tmp}/p.json"], "unknown pruning preset"),
    (["prune", "--genome", "{binary}", "--out", "{tmp}/p.json"], "not UTF-8"),
    # priors
    (["priors", "evaluate", "--task", "mnist", "--priors", "nosuch,erdos_renyi", "--out", "{tmp}/st"], "nosuch"),
    (["priors", "evaluate", "--task", "mnist", "--priors", "erdos_renyi,watts_strogatz", "--per-prior", "0",
      "--out", "{tmp}/st"], "per_prior"),
    (["priors", "report", "{tmp}/missing"], "missing"),
    # damaged inputs: an empty file, JSON that is no genome, a CSV torn inside a quoted field
    (["arch", "describe", "{empty}"], "expected valid JSON"),
    (["arch", "describe", "{notgenome}"], "expected only the keys"),
    (["arch", "distance", "{genome}", "{notgenome}"], "expected only the keys"),
    (["arch", "export", "{notgenome}", "--out", "{tmp}/g.graphml"], "expected only the keys"),
    (["train", "--genome", "{notgenome}"], "expected only the keys"),
    (["train", "--genomes", "{empty}"], "expected a JSON list of genomes"),
    (["prune", "--genome", "{notgenome}", "--out", "{tmp}/p.json"], "expected only the keys"),
    (["predictor", "evaluate", "--data", "{torn}", "--target", "val_accuracy"], "row 11: invalid genome"),
    (["predictor", "fit", "--data", "{torn}", "--target", "val_accuracy", "--out", "{tmp}/p.skops"],
     "row 11: invalid genome"),
    (["predictor", "evaluate", "--data", "{empty}", "--target", "val_accuracy"], ""),
    (["priors", "report", "--evaluations", "{evals}"], "--prior-column"),
    (["predictor", "evaluate", "--data", "{evals}", "--target", "val_accuracy", "--plots", "{file}/plots"], "{file}"),
    (["priors", "report", "--evaluations", "{evals}", "--prior-column", "nosuch", "--target", "val_accuracy"],
     "nosuch"),
    (["priors", "report", "{tmp}", "--evaluations", "{evals}", "--prior-column", "prior"], "got both"),
    (["worker", "{file}"], "{file}"),
    (["export", "{tmp}", "--out", "{tmp}/best.pt2"], "no config.json"),
    (["export", "{tmp}", "--out", "{file}"], "exists"),
    (["export", "{tmp}", "--out", "{file}/best.pt2"], "is a file, not a folder"),
    (["search", "--task", "mnist", "--out", "{tmp}/zs", "--storage", "sqlite:///{empty}", "--resume"], "is empty (0 bytes)"),
    (["worker", "--storage", "sqlite:///{empty}", "--ledger", "x"], "is empty (0 bytes)"),
]

#: Arguments that bring each command past its own required options, so a bad shared option is
#: what it refuses.
BASE = {
    "train": ["--genome", "{genome}", "--no-progress", "--out", "{tmp}/r.json"],
    "search": ["--out", "{tmp}/s"],
    "worker": ["--storage", "sqlite:///{tmp}/w.db", "--ledger", "w"],
    "prune": ["--arch", "784-16-10", "--out", "{tmp}/p.json"],
    "priors evaluate": ["--out", "{tmp}/st"],
    "priors calibrate": ["--out", "{tmp}/st"],
    "priors report": ["{tmp}/missing"],
    "bench search": ["--out", "{tmp}/b", "--compute-budget", "100000"],
    "predictor evaluate": ["--data", "{evals}", "--target", "val_accuracy", "--no-plots"],
    "predictor fit": ["--data", "{evals}", "--target", "val_accuracy", "--out", "{tmp}/p.skops"],
    "predictor predict": ["{tmp}/missing.skops", "--genomes", "{genome}"],
    "arch sample": ["--prior", "erdos_renyi", "--nodes", "8"],
    "arch import": ["{tmp}/missing.graphml"],
    "arch export": ["{genome}", "--out", "{tmp}/g.graphml"],
    "arch join": ["{tmp}/missing.jsonl", "{tmp}/m.csv", "--out", "{tmp}/e.csv"],
    "data reber": ["--out", "{tmp}/r.csv"],
    "data fetch": ["mnist", "--data-dir", "{tmp}/nowhere"],
}

#: Values outside an option's closed set or range, the same on every command that has the option.
SHARED_BAD = [
    ("--threads", "0", "is not in the range"),
    ("--threads", "-2", "is not in the range"),
    ("--threads", "many", "is not a valid integer"),
    ("--task", "imagenet", "'imagenet' is not one of"),
    ("--seed", "zero", "is not a valid integer"),
    ("--seed", "-1", "is not in the range 0<=x<=4294967295"),
    ("--seed", "4294967296", "is not in the range 0<=x<=4294967295"),
    ("--first-seed", "-1", "is not in the range"),
    ("--bootstrap", "-1", "is not in the range x>=0"),
    ("--bootstrap", "3", "--bootstrap must be 0 (no intervals) or at least 10"),
    ("--data-dir", "{file}", "{file}"),
    ("--seeds", "two", "is not a valid integer"),
    ("--strategy", "annealing", "'annealing' is not one of"),
    ("--strategies", "ga,annealing", "'annealing' is not one of"),
    ("--baseline", "annealing", "'annealing' is not one of"),
    ("--method", "mcb,magnitude", "'magnitude' is not one of"),
    ("--optimizer", "lion", "'lion' is not one of"),
    ("--schedule", "step", "'step' is not one of"),
    ("--precision", "fp8", "'fp8' is not one of"),
    ("--augment", "mixup", "'mixup' is not one of"),
    ("--model", "xgb", "'xgb' is not one of"),
    ("--scoring", "accuracy", "'accuracy' is not one of"),
    ("--features", "all", "'all' is not one of"),
    ("--family", "rnn:xlstm", "'rnn:xlstm' is not one of"),
    ("--readout", "mean", "'mean' is not one of"),
    ("--screening", "hyperband", "'hyperband' is not one of"),
    ("--format", "dot", "'dot' is not one of"),
    ("--match", "flops", "'flops' is not one of"),
    ("--epochs", "ten", "is not a valid integer"),
    ("--jobs", "0", "is not in the range"),
    ("--width", "0", "width"),
]


def _shared_cases() -> list[tuple[list[str], str]]:
    """Every command that has one of the shared options, given each bad value of it (after the
    arguments that reach its body); plus a malformed --train KEY=VALUE on every training command
    and an existing --out on every command that writes a file."""
    ctx = click.Context(root)
    commands = {}

    def walk(command, path):
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), [*path, name])
        else:
            commands[" ".join(path)] = {f for p in command.params if isinstance(p, click.Option) for f in p.opts}

    walk(root, [])
    cases = []
    for name, flags in sorted(commands.items()):
        base = BASE.get(name, [])
        for flag, value, expected in SHARED_BAD:
            if flag in flags:
                cases.append(([*name.split(), *base, flag, value], expected))
        if "--train" in flags:
            cases.append(([*name.split(), *base, "--train", "lr"], "expects KEY=VALUE"))
            cases.append(([*name.split(), *base, "--train", "=3"], "expects KEY=VALUE"))
    for name in ("train", "prune", "predictor fit", "arch export", "arch join", "data reber"):
        out = BASE[name].index("--out") + 1
        cases.append(([*name.split(), *BASE[name][:out], "{file}", *BASE[name][out + 1:]], "exists"))
    for name in ("prune", "priors evaluate", "priors calibrate", "bench search"):
        cases.append(([*name.split(), *BASE[name], "--resume", "--overwrite"], "expected one of them"))
    for name in ("train", "prune", "predictor fit", "arch export", "arch join", "data reber"):  # a folder as the file
        out = BASE[name].index("--out") + 1
        cases.append(([*name.split(), *BASE[name][:out], "{tmp}", *BASE[name][out + 1:]], "{tmp}"))
    for name in ("search", "priors evaluate", "priors calibrate", "bench search"):  # a file as the folder
        out = BASE[name].index("--out") + 1
        cases.append(([*name.split(), *BASE[name][:out], "{file}", *BASE[name][out + 1:]], "{file}"))
    for name, flag, value, expected in RANGES:
        cases.append(([*name.split(), *BASE[name], flag, value], expected))
    for name, flags in sorted(commands.items()):
        cases.append(([*name.split(), "--no-such-option"], "No such option"))  # a typo in an option name
        if "--threads" in flags:
            cases.append(([*name.split(), *BASE.get(name, []), "--threads", "1.5"], "is not a valid integer"))
    for name in sorted(BASE):  # nothing but the command: what is missing is named
        if name not in ("arch sample", "data fetch", "data reber", "predictor fit", "predictor evaluate"):
            continue
        cases.append((name.split(), "Missing"))
    return cases


#: Values each command checks against its own range, before any work.
RANGES = [
    ("predictor evaluate", "--folds", "1", "folds >= 2"),
    ("predictor evaluate", "--repeats", "0", "repeats >= 1"),
    ("predictor evaluate", "--k", "0", "k must be in"),
    ("predictor fit", "--tune", "-1", "--tune must be >= 0"),
    ("prune", "--target", "1.5", "PruneConfig.target = 1.5"),
    ("prune", "--seeds", "0", "PruneConfig.seeds = 0"),
    ("prune", "--retrain", "-1", "PruneConfig.retrain = -1"),
    ("prune", "--rate", "0", "rate"),
    ("priors evaluate", "--per-prior", "1", "StudyConfig.per_prior = 1"),
    ("priors evaluate", "--seeds", "1", "StudyConfig.seeds = 1"),
    ("priors evaluate", "--cohort-size", "0", "StudyConfig.cohort_size = 0"),
    ("priors evaluate", "--fail-margin", "-1", "StudyConfig.fail_margin = -1.0"),
    ("priors calibrate", "--ladder", "0,1", "expected epochs >= 1"),
    ("priors calibrate", "--ladder", "one,two", "expected comma-separated epochs"),
    ("priors calibrate", "--tau", "2", "--tau must be in (0, 1]"),
    ("priors calibrate", "--sample", "1", "at least 2 genomes"),
    ("priors calibrate", "--per-prior", "5", "the calibration subsample is --sample"),
    ("priors report", "--repeats", "0", "--repeats must be an integer >= 1"),
    ("bench search", "--seeds", "1", "BenchConfig.seeds = 1"),
    ("train", "--lr", "-1", "TrainConfig.lr = -1.0"),
    ("train", "--batch-size", "0", "TrainConfig.batch_size = 0"),
    ("train", "--max-steps", "0", "TrainConfig.max_steps = 0"),
    ("train", "--patience", "0", "TrainConfig.patience = 0"),
    ("train", "--train-subset", "0", "TrainConfig.train_subset = 0"),
    ("train", "--train", "momentum=-1", "momentum"),
    ("train", "--train", "bogus=1", "bogus"),
    ("search", "--compute-budget", "0", "SearchConfig.compute_budget = 0"),
    ("search", "--halving-eta", "1", "SearchConfig.halving_eta = 1"),
    ("search", "--train", "bogus=1", "bogus"),
    ("prune", "--train", "bogus=1", "bogus"),
    ("prune", "--retrain-option", "bogus=1", "bogus"),
    ("priors evaluate", "--train", "bogus=1", "bogus"),
    ("bench search", "--train", "bogus=1", "bogus"),
    ("worker", "--max-trials", "0", "--max-trials must be an integer"),
    ("data reber", "--n", "-1", "is not in the range"),
    ("arch sample", "--weight-target", "0", "--weight-target must be a positive integer"),
]


BAD += _shared_cases()


#: The cases that read the shared datasets before they fail, so they run in the slow tier: those
#: given the data folder ({data}), and searches that get as far as loading their data (before they
#: open the storage or look for the run to resume).
ON_SHARED_DATA = [case for case in BAD if any("{data}" in arg for arg in case[0])
                  or case[0][0] == "search" and {"--storage", "--resume"} & set(case[0])]


@pytest.fixture
def places(tmp_path):
    folder = tmp_path / "w"
    folder.mkdir()
    regular = folder / "file"
    regular.write_text("x")
    genome = folder / "genome.json"
    genome.write_text(Genome("erdos_renyi", {"p": 0.3}, nodes=8, seed=0).to_json())
    binary = folder / "binary"
    binary.write_bytes(bytes(range(256)) * 4)
    run = folder / "binary_run"
    run.mkdir()
    (run / "config.json").write_bytes(bytes(range(256)))
    empty = folder / "empty.json"
    empty.write_text("")
    notgenome = folder / "notgenome.json"
    notgenome.write_text('{"a": 1}')
    evals = folder / "evals.csv"
    import pandas as pd

    pd.DataFrame({"genome": [Genome("erdos_renyi", {"p": 0.3}, nodes=8 + i, seed=i).to_json() for i in range(12)],
                  "val_accuracy": [0.5 + i / 100 for i in range(12)]}).to_csv(evals, index=False)
    torn = folder / "torn.csv"
    text = evals.read_text()
    torn.write_text(text[: text.rindex('"nodes"')])  # cut inside the last row's quoted genome
    return {"tmp": str(folder), "file": str(regular), "genome": str(genome), "binary": str(binary),
            "binary_run": str(run), "evals": str(evals), "empty": str(empty), "notgenome": str(notgenome),
            "torn": str(torn)}


def _ids(cases):
    return [" ".join(a)[:60] for a, _ in cases]


@pytest.mark.parametrize("args, expected", [c for c in BAD if c not in ON_SHARED_DATA],
                         ids=_ids([c for c in BAD if c not in ON_SHARED_DATA]))
def test_bad_input_is_one_line_and_writes_nothing(places, capsys, args, expected):
    folder = places["tmp"]
    before = sorted(p.name for p in __import__("pathlib").Path(folder).rglob("*"))
    argv = [a.format(**places) for a in args]
    code = main(argv)
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code not in (0, None), (argv, captured.out[-500:])
    assert "Traceback" not in captured.err + captured.out
    last = err.splitlines()[-1] if err else ""
    assert last.startswith(("error:", "Error:", "Usage:")) or "Error:" in last, err[-800:]
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("downloading ", "warning:", "Usage:", "Try "))]
    assert len(lines) <= 1, err[-800:]  # one line (click's usage errors add their usage and hint lines)
    assert expected.format(**places) in err, err[-800:]
    after = sorted(p.name for p in __import__("pathlib").Path(folder).rglob("*"))
    assert after == before  # nothing created, nothing half-written


@pytest.mark.parametrize("args, expected", ON_SHARED_DATA, ids=_ids(ON_SHARED_DATA))
def test_bad_input_on_the_shared_data_is_one_line_and_writes_nothing(places, shared_data_dir, capsys, args, expected):
    test_bad_input_is_one_line_and_writes_nothing({**places, "data": str(shared_data_dir)}, capsys, args, expected)


@pytest.mark.parametrize("args", [["report", "{run}"], ["priors", "report", "{run}"]])
def test_a_read_only_run_is_one_line_before_any_work(places, capsys, monkeypatch, args):
    """Report commands on a folder they may not write: one line (tests run as root, where every folder
    is writable, so the permission check is what is stubbed)."""
    import os

    import nas.cli.options as options
    import nas.cli.priors  # noqa: F401  (imported before the stub: matplotlib checks its folders)
    import nas.cli.report  # noqa: F401

    run = places["binary_run"]
    access = os.access
    monkeypatch.setattr(options.os, "access", lambda path, mode: access(path, mode) and not mode & os.W_OK)
    code = main([a.format(run=run) for a in args])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "is not writable" in err
