"""``nas prune``: prune a trained network with one or more saliency methods over several seeds."""

from __future__ import annotations

import json
from pathlib import Path

import click

from nas.exceptions import ConfigError, PruningError


def _plot(summary: dict, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for method, steps in summary.items():
        x = [100 * s["compression"] for s in steps]
        mean = [s["test_accuracy_mean"] for s in steps]
        std = [s["test_accuracy_std"] for s in steps]
        ax.plot(x, mean, marker="o", label=method)
        ax.fill_between(x, [m - d for m, d in zip(mean, std)], [m + d for m, d in zip(mean, std)], alpha=0.2)
    ax.set_xlabel("compression (% of prunable weights removed)")
    ax.set_ylabel("test accuracy after retraining (mean ± std over seeds)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


@click.command("prune")
@click.option("--task", default="mnist", show_default=True, help="Task whose data the network is trained on.")
@click.option("--arch", help="A dense MLP given by its widths, e.g. 784-100-10.")
@click.option("--genome", "genome_path", type=click.Path(dir_okay=False), help="A genome JSON file (any family).")
@click.option("--method", "methods", default="mcb", show_default=True,
              help="One or more of mcb, mcu, mcd, random, obd (comma-separated).")
@click.option("--target", type=float, default=0.8, show_default=True, help="Compression to reach, in (0, 1).")
@click.option("--rate", type=float, help="Iterative: share of the remaining weights removed per step (default 0.25).")
@click.option("--count", type=int, help="Fixed: weights removed per step.")
@click.option("--single-shot", is_flag=True, help="One step to the target.")
@click.option("--retrain", type=int, default=2, show_default=True, help="Retraining epochs after each step (the cap with --variable).")
@click.option("--variable", type=float, help="Variable retraining: stop when the validation accuracy gains less than this.")
@click.option("--seeds", type=int, default=1, show_default=True, help="Independently initialised networks.")
@click.option("--epochs", type=int, help="Base training epochs (default: the task's budget).")
@click.option("--train", "train_pairs", multiple=True, metavar="KEY=VALUE", help="Any TrainConfig option, e.g. --train lr=0.01.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Dataset folder (else NAS_DATA_DIR, else the cache).")
@click.option("--device", help="Torch device (default: cuda if available, else cpu).")
@click.option("--out", required=True, type=click.Path(), help="Results JSON (rewritten after every step); a PNG beside it.")
@click.option("--force", is_flag=True, help="Overwrite an existing --out.")
@click.option("--threads", type=int, help="CPU threads for torch in this process.")
def cli(task, arch, genome_path, methods, target, rate, count, single_shot, retrain, variable, seeds, epochs, train_pairs,
        data_dir, device, out, force, threads):
    """Train a network (--arch or --genome) with --seeds seeds, prune it step by step with every
    --method, retrain after each step, and report test accuracy against compression."""
    from nas.cli.options import parse_key_values
    from nas.device import set_threads
    from nas.pruning.experiment import PruneConfig, run_pruning

    set_threads(threads)
    out_path = Path(out)
    if out_path.exists() and not force:
        raise PruningError(f"--out {out!r} exists; expected a new file (or pass --force to overwrite it)")
    if single_shot and (rate is not None or count is not None):
        raise ConfigError("--single-shot removes everything in one step; leave out --rate and --count")
    if rate is None and count is None and not single_shot:
        rate = 0.25
    genome = None
    if genome_path is not None:
        from nas.cli.arch import load_genome

        genome = load_genome(genome_path).to_dict()
    config = PruneConfig(task=task, arch=arch, genome=genome, methods=tuple(m.strip() for m in methods.split(",") if m.strip()),
                         target=target, rate=rate, count=count, retrain=retrain, variable=variable, seeds=seeds,
                         epochs=epochs, train=parse_key_values(train_pairs, "--train", "KEY=VALUE (a TrainConfig field)"), data_dir=data_dir, device=device)
    try:
        summary = run_pruning(config, out_path, echo=lambda line: click.echo(line, err=True))
    except KeyboardInterrupt:
        click.echo(f"interrupted: the finished steps are in {out}", err=True)
        raise SystemExit(130)
    click.echo(f"{'method':<8} {'compression':>12} {'weights':>10} {'test acc (mean ± std)':>24} {'before retrain':>16}")
    for method, steps in summary.items():
        for s in steps:
            click.echo(f"{method:<8} {100 * s['compression']:>11.1f}% {s['weights']:>10.0f} "
                       f"{s['test_accuracy_mean']:>15.4f} ± {s['test_accuracy_std']:.4f} {s['test_accuracy_before_retrain_mean']:>16.4f}")
    plot = _plot(summary, out_path.with_suffix(".png"))
    click.echo(json.dumps({"written": str(out_path), "plot": str(plot), "seeds": seeds}))
