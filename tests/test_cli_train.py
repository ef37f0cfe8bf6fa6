"""``nas train``: one genome or a population to JSON; bad input is one line and exit 1."""

from __future__ import annotations

import json

import pytest
import torch

from nas.cli.main import main
from nas.datasets.base import Dataset, Split
from nas.training.tasks import Task
from search_spaces.genome import Genome

GENOMES = [Genome("erdos_renyi", {"p": 0.3}, nodes=n, seed=s) for n, s in [(12, 1), (16, 2), (14, 3)]]


@pytest.fixture(autouse=True)
def toy_task_data(monkeypatch):
    """Every task loads a tiny synthetic image set instead of files (the CLI's data path is tested
    with the real MNIST below)."""
    gen = torch.Generator().manual_seed(0)

    def split(n):
        x = torch.randn(n, 1, 4, 4, generator=gen)
        return Split(x, (x.flatten(1)[:, :4].sum(1) > 0).long())

    data = Dataset("toy", split(128), split(64), split(64), 2, (1, 4, 4), {"test_examples": 64, "test_expected": 64})
    monkeypatch.setattr(Task, "load", lambda self, data_dir=None, allow_partial=False, **opts: data)
    before = torch.get_num_threads()
    yield data
    torch.set_num_threads(before)


def test_train_one_genome_prints_and_writes_the_record(tmp_path, capsys):
    genome_path = tmp_path / "genome.json"
    genome_path.write_text(GENOMES[0].to_json())
    out = tmp_path / "sub" / "result.json"
    code = main(["train", "--task", "mnist", "--genome", str(genome_path), "--epochs", "2", "--device", "cpu",
                 "--threads", "1", "--no-progress", "--out", str(out)])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(out.read_text())
    assert printed == written
    for key in ("test_accuracy", "val_accuracy", "epochs", "wall_time_s", "device", "nonzero_weights"):
        assert key in written
    assert written["epochs"] == 2 and written["device"] == "cpu" and written["genome"] == GENOMES[0].to_dict()


def test_train_genomes_writes_one_record_per_line(tmp_path, capsys):
    pop = tmp_path / "genomes.jsonl"
    pop.write_text("".join(g.to_json() + "\n" for g in GENOMES))
    out = tmp_path / "results.jsonl"
    code = main(["train", "--task", "mnist", "--genomes", str(pop), "--epochs", "1", "--device", "cpu",
                 "--threads", "1", "--no-progress", "--out", str(out)])
    assert code == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and capsys.readouterr().out.splitlines() == lines
    assert [json.loads(line)["genome"] for line in lines] == [g.to_dict() for g in GENOMES]


@pytest.mark.parametrize("args, expected", [
    (["--epochs", "0"], "epochs"),
    (["--device", "cuda:9"], "cuda:9"),
    (["--device", "nonsense"], "nonsense"),
    (["--task", "reber"], "rnn:"),
])
def test_bad_input_is_one_line_and_exit_1(tmp_path, capsys, args, expected):
    genome_path = tmp_path / "genome.json"
    genome_path.write_text(GENOMES[0].to_json())
    out = tmp_path / "result.json"
    code = main(["train", "--genome", str(genome_path), "--no-progress", "--out", str(out), *args])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("error:") and expected in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_genome_and_genomes_are_exclusive_and_files_must_exist(tmp_path, capsys):
    assert main(["train", "--task", "mnist"]) == 1
    assert "exactly one" in capsys.readouterr().err
    assert main(["train", "--genome", str(tmp_path / "missing.json")]) == 1
    assert "missing.json" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert main(["train", "--population", str(empty)]) == 1
    assert "expected at least one genome" in capsys.readouterr().err


def test_every_genome_file_the_product_writes_is_trained(tmp_path, capsys):
    """Outputs chain: a search's best/genome.json (a wrapper) and nas arch import --jsonl records
    are accepted where a genome is read."""
    genome = GENOMES[0]
    wrapper = tmp_path / "best_genome.json"  # the layout of RUN_DIR/best/genome.json
    wrapper.write_text(json.dumps({"final": {"final_mean": 0.9}, "genome": genome.to_dict()}, indent=2))
    records = tmp_path / "imported.jsonl"  # the layout of nas arch import --jsonl
    records.write_text("".join(json.dumps({"id": f"g{i}", "genome": g.to_dict(), "source": "x.graphml"}) + "\n"
                               for i, g in enumerate(GENOMES[:2])))
    base = ["train", "--task", "mnist", "--max-steps", "2", "--no-progress"]
    assert main([*base, "--genome", str(wrapper)]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["genome"] == genome.to_dict()
    assert main([*base, "--genomes", str(records)]) == 0, capsys.readouterr().err
    trained = [json.loads(line)["genome"] for line in capsys.readouterr().out.splitlines()]
    assert trained == [g.to_dict() for g in GENOMES[:2]]
    assert main(["arch", "describe", str(wrapper)]) == 0
