"""Every command, walked with bad input: a non-zero exit, one clear line on stderr (click's own
usage errors keep their short form), no traceback, and nothing written where the command was
told to write."""

from __future__ import annotations

import json

import pytest

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
     "both set the epochs"),
    (["prune", "--arch", "784-100-10", "--epochs", "2", "--train", "epochs=3", "--out", "{tmp}/p.json"],
     "both set the base training's epochs"),
    (["prune", "--arch", "784-100-10", "--retrain", "2", "--retrain-option", "epochs=5", "--out", "{tmp}/p.json"],
     "both set the retraining epochs"),
    (["arch", "import", "{tmp}/missing.graphml", "--family", "ff", "--jsonl", "{tmp}/g.jsonl"], "missing.graphml"),
    (["arch", "join", "{tmp}/missing.jsonl", "{tmp}/m.csv", "--out", "{tmp}/e.csv"], "missing.jsonl"),
    (["arch", "distance", "{genome}", "{tmp}/missing.json"], "cannot read genome file"),
    # train
    (["train", "--task", "mnist"], "exactly one of --genome"),
    (["train", "--task", "nosuch", "--genome", "{genome}"], "unknown task"),
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
    (["prune", "--arch", "784-16-10", "--method", "foo", "--out", "{tmp}/p.json"], "unknown pruning method"),
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
]


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
    evals = folder / "evals.csv"
    import pandas as pd

    pd.DataFrame({"genome": [Genome("erdos_renyi", {"p": 0.3}, nodes=8 + i, seed=i).to_json() for i in range(12)],
                  "val_accuracy": [0.5 + i / 100 for i in range(12)]}).to_csv(evals, index=False)
    return {"tmp": str(folder), "file": str(regular), "genome": str(genome), "binary": str(binary),
            "binary_run": str(run), "evals": str(evals)}


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
