"""``nas export``: a search's best network as one ``torch.export`` file for plain PyTorch programs."""

from __future__ import annotations

import json
from pathlib import Path

import click
import torch

from nas.cli.options import check_output, data_dir_option, overwrite_option
from nas.exceptions import ConfigError
from nas.search.config_files import load_run_config
from nas.training.export import check_exportable, export_program
from nas.training.tasks import get_task
from search_spaces.genome import Genome

__all__ = ["cli"]


@click.command("export")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), metavar="FILE", help="File to write, e.g. best.pt2.")
@overwrite_option()
@data_dir_option()
def cli(run_dir, out, overwrite, data_dir):
    """Write RUN_DIR's best network (best/) as one file that plain PyTorch loads.

    torch.export.load(OUT).module() gives a module that takes images as torchvision's ToTensor makes them
    (pixels in [0, 1], shape (N, C, H, W)) and returns one logit per class; the input
    normalisation is inside. Feed-forward and CNN searches; docs/training.md has a five-line
    example.
    """
    check_output(out, overwrite)  # before any work
    best = Path(run_dir) / "best"
    config = load_run_config(run_dir)
    try:
        meta = json.loads((best / "model.json").read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"{str(best / 'model.json')!r} cannot be read ({err}); expected a finished search's "
                          "best/ (its genome and weights)") from None
    genome = Genome.from_dict(meta["genome"])
    task = get_task(config.task)
    task.check_family(genome.family)
    check_exportable(genome)  # before the data is loaded
    try:  # before the data: a run without weights is one line at once
        state = torch.load(best / "model.pt", map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as err:
        raise ConfigError(f"{str(best / 'model.pt')!r} cannot be read ({type(err).__name__}); expected the weights "
                          "a search writes") from None
    # the data gives the input shape and normalisation; its test file may be the shared truncated one
    data = task.load(data_dir=data_dir or config.data_dir, allow_partial=True)
    model = task.build(genome, data)
    model.load_state_dict(state)
    path = export_program(model, genome, task, data, out)
    click.echo(json.dumps({"written": str(path), "genome": genome.key, "task": task.name}))
