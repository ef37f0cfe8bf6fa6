"""``nas prune``: prune a trained network with one or more saliency methods over several seeds."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nas.cli.arch import load_genome
from nas.cli.options import (
    choice_option,
    data_dir_option,
    device_option,
    overwrite_option,
    parse_key_values,
    refuse_resume_and_overwrite,
    task_option,
    threads_option,
    train_option,
)
from nas.exceptions import ConfigError, PruningError
from nas.studies.pruning.experiment import PruneConfig, check_out, run_pruning
from nas.studies.pruning.presets import PRESETS
from nas.studies.pruning.presets import preset as named
from nas.studies.pruning.saliency import METHODS
from nas.studies.pruning.schedule import TOLERANCE
from nas.training.device import set_threads, threads_for


def overshoot_notes(summary: dict, target: float) -> list[str]:
    """One line per method whose last step went past ``target`` by more than rounding, saying why."""
    notes = []
    for method, steps in summary.items():
        if steps and steps[-1]["compression"] > target + TOLERANCE:
            notes.append(f"note: {method} ended at {100 * steps[-1]['compression']:.1f} % compression, past the target "
                         f"of {100 * target:.1f} %: each step removes its share (or count) of the weights, rounded per "
                         "layer, and the run stops at the first step that reaches the target; --single-shot or a "
                         "--count that divides the target lands on it")
    return notes


def pruning_curves(summary: dict, base: list[dict]) -> dict[str, tuple[list, list, list]]:
    """Per method: compression in % (0: the unpruned networks of ``base``), mean and std of the
    test accuracy over seeds."""
    start = [b["test_accuracy"] for b in base if b.get("test_accuracy") is not None]
    first = ([0.0], [float(np.mean(start))], [float(np.std(start, ddof=1)) if len(start) > 1 else 0.0]) if start \
        else ([], [], [])
    return {method: (first[0] + [100 * s["compression"] for s in steps],
                     first[1] + [s["test_accuracy_mean"] for s in steps],
                     first[2] + [s["test_accuracy_std"] or 0.0 for s in steps])
            for method, steps in summary.items()}


def _plot(summary: dict, base: list[dict], path: Path) -> Path:
    """Test accuracy against compression per method, starting from the unpruned network (0 %)."""
    fig = Figure(figsize=(6.4, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for method, (x, mean, std) in pruning_curves(summary, base).items():
        ax.plot(x, mean, marker="o", label=method)
        ax.fill_between(x, [m - d for m, d in zip(mean, std)], [m + d for m, d in zip(mean, std)], alpha=0.2)
    ax.set_xlabel("compression (% of prunable weights removed; 0: unpruned)")
    ax.set_ylabel("test accuracy after retraining\n(mean ± std over seeds)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


@click.command("prune")
@click.option("--preset", help=f"A named set-up ({', '.join(PRESETS)}); options given as well override it.")
@task_option(help="Task whose data the network is trained on (default: the preset's, else mnist).")
@click.option("--arch", help="A dense MLP given by its widths, e.g. 784-100-10.")
@click.option("--genome", "genome_path", type=click.Path(dir_okay=False), help="A genome JSON file (ff or rnn).")
@choice_option("--method", "methods", choices=METHODS, comma=True, help="Saliency methods, comma-separated (default mcb).")
@click.option("--weights", help="Parts pruned: all (default), or some of input,hidden,output (MLPs) / "
                                "input,recurrent,output (RNNs).")
@click.option("--target", type=float, help="Compression to reach, in (0, 1) (default 0.8).")
@click.option("--rate", type=float, help="Iterative: share of the remaining weights removed per step (default 0.25).")
@click.option("--count", type=int, help="Fixed: weights removed per step.")
@click.option("--single-shot", is_flag=True, help="One step to the target.")
@click.option("--retrain", type=int, help="Retraining epochs after each step (the cap with --variable; default 2).")
@click.option("--variable", type=float, help="Variable retraining: stop when the validation accuracy gains less than this.")
@click.option("--seeds", type=int, help="Independently initialised networks (default 1).")
@click.option("--on-empty", type=click.Choice(["error", "stop"]),
              help="A network whose next step would empty a layer: stop the run (error, default) or only that network.")
@click.option("--epochs", type=int, help="Base training epochs (default: the task's budget).")
@train_option("A TrainConfig option of the base training (and retraining), e.g. --train lr=0.01; repeatable.")
@click.option("--retrain-option", "retrain_pairs", multiple=True, metavar="KEY=VALUE",
              help="A TrainConfig option for retraining only, e.g. --retrain-option lr=0.001.")
@data_dir_option()
@device_option()
@click.option("--out", required=True, type=click.Path(), metavar="FILE",
              help="Results JSON (rewritten after every step); a PNG beside it; the finished steps in OUT.steps/.")
@overwrite_option("Replace an existing --out (its plot and steps).")
@click.option("--resume", is_flag=True,
              help="Continue the interrupted run of --out (give the same arguments): its finished steps are kept.")
@threads_option("CPU threads for torch (default: 1 on the CPU, else torch's choice).")
def cli(preset, task, arch, genome_path, methods, weights, target, rate, count, single_shot, retrain, variable, seeds,
        on_empty, epochs, train_pairs, retrain_pairs, data_dir, device, out, overwrite, resume, threads):
    """Train a network (--arch or --genome) with --seeds seeds, prune it step by step with every
    --method, retrain after each step, and report test accuracy against compression.

    Every finished step is stored in OUT.steps/, so a killed run continues with the same command
    plus --resume and ends as an uninterrupted run would."""
    out_path = Path(out)
    refuse_resume_and_overwrite(resume, overwrite, "the run of --out")
    if out_path.exists() and not overwrite and not resume:
        raise PruningError(f"--out {out!r} exists; expected a new file (or pass --overwrite to replace it, or --resume "
                           "to continue its run)")
    if single_shot and (rate is not None or count is not None):
        raise ConfigError("--single-shot removes everything in one step; leave out --rate and --count")
    fields = named(preset) if preset is not None else {}
    genome = None
    if genome_path is not None:
        genome = load_genome(genome_path).to_dict()
    if arch is not None or genome is not None:  # the network given replaces the preset's
        fields.pop("arch", None)
    what = "KEY=VALUE (a TrainConfig field)"
    given = {"task": task, "arch": arch, "genome": genome, "weights": weights, "target": target, "retrain": retrain,
             "variable": variable, "seeds": seeds, "on_empty": on_empty, "epochs": epochs, "data_dir": data_dir,
             "device": device,
             "methods": None if methods is None else tuple(m.strip() for m in methods.split(",") if m.strip())}
    fields.update({k: v for k, v in given.items() if v is not None})
    if single_shot or rate is not None or count is not None:
        fields.update(rate=rate, count=count)
    fields["train"] = {**fields.get("train", {}), **parse_key_values(train_pairs, "--train", what)}
    fields["retrain_options"] = {**fields.get("retrain_options", {}),
                                 **parse_key_values(retrain_pairs, "--retrain-option", what)}
    if retrain is not None and fields["retrain_options"].get("epochs", retrain) != retrain:
        raise ConfigError(f"--retrain {retrain} and --retrain-option epochs={fields['retrain_options']['epochs']} both "
                          "set the retraining epochs; expected one of them")
    config = PruneConfig(**fields)
    family = config.genome.get("family", "ff") if config.genome else "ff"
    set_threads(threads_for(threads, family, config.device))
    check_out(out_path)
    plot_path = out_path.with_suffix(".png")
    if plot_path.exists() and not overwrite and not resume:  # a resumed run's plot is redrawn from the same results
        raise PruningError(f"the plot {str(plot_path)!r} exists; expected a new file (or pass --overwrite to replace it)")
    try:
        summary = run_pruning(config, out_path, echo=lambda line: click.echo(line, err=True), resume=resume,
                              overwrite=overwrite)
    except KeyboardInterrupt:
        click.echo(f"interrupted: the finished steps are in {out}; continue with the same command plus --resume",
                   err=True)
        raise SystemExit(130)
    reference = config.methods[0]
    written = json.loads(out_path.read_text())
    tests = written["comparisons"]["methods"]
    click.echo(f"{'method':<8} {'compression':>12} {'weights':>10} {'test acc (mean ± std)':>24} {'before retrain':>16} "
               f"{'vs ' + reference + ' (pp)':>14} {'paired t p':>11}")
    for method, steps in summary.items():
        for s, t in zip(steps, tests.get(method, [None] * len(steps))):
            versus = "" if t is None else f"{100 * t['difference_mean']:>+14.2f}"
            p = "" if t is None or t["t_p"] is None else f"{t['t_p']:>11.2g}"
            click.echo(f"{method:<8} {100 * s['compression']:>11.1f}% {s['weights']:>10.0f} "
                       f"{s['test_accuracy_mean']:>15.4f} ± {s['test_accuracy_std']:.4f} "
                       f"{s['test_accuracy_before_retrain_mean']:>16.4f} {versus:>14} {p:>11}")
    for line in overshoot_notes(summary, config.target):
        click.echo(line, err=True)
    plot = _plot(summary, written.get("base", []), plot_path)
    click.echo(json.dumps({"written": str(out_path), "plot": str(plot), "seeds": config.seeds}))
