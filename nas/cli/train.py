"""``nas train``: train one genome, or a cohort of genomes together, and print the result JSON.

Examples::

    nas train --task mnist --genome genome.json --epochs 5 --out result.json
    nas train --task mnist --genomes genomes.jsonl --out results.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from nas.cli.arch import load_genome
from nas.cli.options import (
    check_output,
    choice_option,
    data_dir_option,
    device_option,
    old_spelling,
    overwrite_option,
    progress_option,
    renamed,
    seed_option,
    task_option,
    threads_option,
    train_option,
    train_overrides,
    warn_if_large,
)
from nas.exceptions import ConfigError
from nas.provenance import write_text_atomic
from nas.training import train_genome
from nas.training.candidates import stacks_alone
from nas.training.config import AUGMENTATIONS, OPTIMIZERS, PRECISIONS, SCHEDULES
from nas.training.device import resolve_device, set_threads, threads_for
from nas.training.stacking import train_cohort
from nas.training.tasks import get_task
from predictors.data import read_genome_records

__all__ = ["cli"]


def _read_genomes(path: Path) -> list:
    """The genomes of a JSONL file (a genome, or a record holding one under ``genome`` such as
    ``nas arch import --jsonl`` writes, per line) or of a JSON list."""
    genomes = [genome for _, genome in read_genome_records(path)]
    warn_if_large(genomes)
    return genomes


@click.command("train")
@task_option(name="task_name", default="mnist", show_default=True, help="Task to train on.")
@click.option("--genome", "genome_path", type=click.Path(path_type=Path), help="Genome JSON file to train.")
@click.option("--genomes", "genomes_path", type=click.Path(path_type=Path),
              help="JSONL file, one genome per line, trained together (a cohort).")
@old_spelling("--population", "population_path", type=click.Path(path_type=Path))
@click.option("--epochs", type=int, help="Epochs (default: the task's budget).")
@click.option("--max-steps", type=int, help="Stop after this many optimizer steps.")
@click.option("--batch-size", type=int, help="Training batch size.")
@click.option("--lr", type=float, help="Learning rate.")
@choice_option("--optimizer", choices=OPTIMIZERS, help="Optimizer.")
@choice_option("--schedule", choices=SCHEDULES, help="Learning-rate schedule.")
@click.option("--patience", type=int, help="Early stopping patience in epochs (default off).")
@choice_option("--precision", choices=PRECISIONS, help="Arithmetic precision (auto: bf16 where the device has it).")
@choice_option("--augment", choices=AUGMENTATIONS,
               help="Data augmentation (crop_flip: random 4-pixel-padded crops and mirroring; images only).")
@train_option()
@device_option()
@seed_option(help="Seed of initialisation and shuffling.")
@click.option("--train-subset", type=int, help="Use only the first N training examples.")
@click.option("--val-subset", type=int, help="Use only the first N validation examples.")
@click.option("--test-subset", type=int, help="Use only the first N test examples.")
@data_dir_option()
@click.option("--allow-partial-data", "allow_partial", is_flag=True, help="Accept a truncated test file (the result says so).")
@threads_option("CPU threads for torch (default: 1 on the CPU for ff and rnn networks, else torch's choice).")
@progress_option(help="Progress bar on stderr (default: when stderr is a terminal).")
@click.option("--out", "out_path", type=click.Path(path_type=Path), metavar="FILE",
              help="Write the result JSON (JSONL for --genomes).")
@overwrite_option()
def cli(task_name, genome_path, genomes_path, population_path, epochs, max_steps, batch_size, lr, optimizer, schedule, patience,
        precision, augment, train_pairs, device, seed, train_subset, val_subset, test_subset, data_dir, allow_partial, threads,
        progress, out_path, overwrite):
    """Train one genome (--genome) or a cohort of genomes together (--genomes) and print the result JSON."""
    genomes_path = renamed(genomes_path, population_path, "--genomes", "--population")
    if (genome_path is None) == (genomes_path is None):
        raise ConfigError("give exactly one of --genome GENOME.json and --genomes GENOMES.jsonl")
    if out_path is not None:
        check_output(out_path, overwrite)  # before training: a result must not be lost at the end
    task = get_task(task_name)
    flags = {
        "epochs": epochs, "max_steps": max_steps, "batch_size": batch_size, "lr": lr, "optimizer": optimizer,
        "schedule": schedule, "patience": patience, "precision": precision, "augment": augment, "device": device, "seed": seed,
        "train_subset": train_subset, "val_subset": val_subset, "test_subset": test_subset,
    }
    overrides = train_overrides(train_pairs, {k: ("--" + k.replace("_", "-"), v) for k, v in flags.items()})
    overrides["progress"] = sys.stderr.isatty() if progress is None else progress
    config = task.default_config(**overrides)
    resolve_device(config.device)  # a bad device fails before any data is read
    genomes = [load_genome(str(genome_path))] if genome_path is not None else _read_genomes(genomes_path)
    for g in genomes:
        task.check_family(g.family)
    set_threads(threads_for(threads, {g.family for g in genomes}, config.device))
    data = task.load(data_dir=data_dir, allow_partial=allow_partial)
    if genome_path is not None and not stacks_alone(genomes[0].family, config.device):
        records = [train_genome(genomes[0], task, config, data=data).to_dict()]
    else:
        records = [r.to_dict() for r in train_cohort(genomes, task, config, data=data)]

    if genome_path is not None:
        text = json.dumps(records[0], indent=2, sort_keys=True) + "\n"
    else:
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    if out_path is not None:
        write_text_atomic(out_path, text)
    click.echo(text, nl=False)
