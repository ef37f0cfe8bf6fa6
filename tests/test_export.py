"""nas export: a search's best network as a torch.export file that plain PyTorch loads and runs."""

from __future__ import annotations

import gzip
import json

import numpy as np
import torch

from nas.cli.main import main
from nas.search.config import SearchConfig
from nas.search.config_files import write_config
from nas.training.export import METADATA_FILE
from nas.training.loop import build_seeded
from nas.training.tasks import get_task
from search_spaces.genome import Genome


def _run_dir(tmp_path, genome, task_name, data=None):
    """A run directory as a finished search leaves it: config.json and best/ (genome and weights)."""
    run = tmp_path / "run"
    (run / "best").mkdir(parents=True)
    write_config(SearchConfig(task=task_name, out=str(run), progress=False), run)
    (run / "best" / "model.json").write_text(json.dumps({"key": genome.key, "trial": 0, "genome": genome.to_dict()}))
    if data is not None:
        model = build_seeded(genome, get_task(task_name), data, seed=3)
        torch.save(model.state_dict(), run / "best" / "model.pt")
        return run, model
    return run, None


def test_the_export_runs_in_plain_torch_on_raw_pixels(tmp_path, capsys, shared_data_dir):
    task = get_task("mnist")
    data = task.load(data_dir=shared_data_dir)
    genome = Genome("watts_strogatz", {"k": 4, "p": 0.3}, nodes=14, seed=2, width=4)
    run, model = _run_dir(tmp_path, genome, "mnist", data)
    out = tmp_path / "best.pt2"
    assert main(["export", str(run), "--out", str(out), "--data-dir", str(shared_data_dir)]) == 0
    # what a user's program does (docs/training.md): the raw test file, pixels / 255, torch.export.load
    images = np.frombuffer(gzip.open(shared_data_dir / "mnist" / "t10k-images-idx3-ubyte.gz").read()[16:], np.uint8)
    x = torch.tensor(images.reshape(-1, 1, 28, 28)[:64], dtype=torch.float32) / 255
    extra = {METADATA_FILE: ""}
    net = torch.export.load(str(out), extra_files=extra).module()
    with torch.no_grad():
        assert torch.allclose(net(x), model.eval()(data.test.x[:64]), atol=1e-5)  # the normalisation is inside
    meta = json.loads(extra[METADATA_FILE])
    assert meta["genome"] == genome.to_dict() and meta["task"] == "mnist"
    before = out.read_bytes()
    assert main(["export", str(run), "--out", str(out), "--data-dir", str(shared_data_dir)]) == 1
    assert "exists" in capsys.readouterr().err and out.read_bytes() == before  # not replaced without --overwrite


def test_a_recurrent_network_is_refused_before_anything_is_loaded(tmp_path, capsys):
    genome = Genome("erdos_renyi", {"p": 0.3}, nodes=10, seed=1, family="rnn:gru")
    run, _ = _run_dir(tmp_path, genome, "reber")
    assert main(["export", str(run), "--out", str(tmp_path / "x.pt2")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be exported" in err and not (tmp_path / "x.pt2").exists()
