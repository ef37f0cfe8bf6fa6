"""``nas bench``: benchmarks over many searches; ``nas bench search`` compares strategies over seeds
at one compute budget."""

from __future__ import annotations

from functools import partial

import click

from nas.cli.options import (
    SEED_RANGE,
    CommaChoice,
    WholeHelpGroup,
    choice_option,
    data_dir_option,
    device_option,
    overwrite_option,
    progress_option,
    refuse_resume_and_overwrite,
    task_option,
    threads_option,
    train_option,
    train_overrides,
)
from nas.report import RunOutputs
from nas.search.strategies import list_strategies
from nas.studies.bench import prepare_bench, run_bench, write_bench_report
from nas.studies.bench.config import GATED
from nas.studies.bench.run import bench_config
from nas.training.device import set_threads


@click.group(name="bench", cls=WholeHelpGroup)
def cli():
    """Benchmarks over many searches (see docs/search.md)."""


def _strategies(ctx, param, value):
    return None if value is None else tuple(s.strip() for s in value.split(",") if s.strip())


@cli.command(name="search")
@task_option(help="Task (default: the config file's, else mnist).")
@click.option("--strategies", callback=_strategies, type=CommaChoice(list_strategies, suffixes=(GATED,)),
              help="Comma-separated arms to compare (default ga,random): a strategy's name runs it without predictor "
                   "gating, NAME+gate (e.g. ga+gate, the paper's predictor-gated search) with it. The baseline must be among them.")
@choice_option("--baseline", choices=lambda: [*list_strategies(), *(name + GATED for name in list_strategies())],
               help="The strategy every other is compared with (default random).")
@click.option("--seeds", type=int, help="Seeds per strategy (default 10; at least 2, and 3 to tell anything).")
@click.option("--first-seed", type=SEED_RANGE, help="Runs use seeds FIRST .. FIRST + SEEDS - 1 (default 0).")
@click.option("--compute-budget", type=int, metavar="N",
              help="Screening compute of every run, in trained example-epochs (training examples x epochs); "
                   "required for a new benchmark.")
@click.option("--out", type=click.Path(file_okay=False), required=True, metavar="DIRECTORY",
              help="The benchmark's folder: its settings, tables and plots, one run directory per strategy and seed.")
@click.option("--resume", is_flag=True, help="Continue the benchmark in --out: finished runs are skipped, an "
                                              "interrupted one continues from its last generation.")
@overwrite_option("Replace the benchmark in --out (all its runs).")
@click.option("--quick", is_flag=True, help="Every search starts from the task's --quick defaults.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML file of search options passed to every search (as nas search --config).")
@click.option("--population", type=int, help="Candidates proposed per generation.")
@click.option("--generations", type=int,
              help="Most generations per run (default: enough for the compute budget).")
@click.option("--survivors", type=int, help="Trained individuals kept as parents.")
@click.option("--weight-target", type=int, help="Equal-cost search: widths set so nonzero weights come closest to this.")
@click.option("--flops-target", type=int,
              help="Equal-cost search by compute: widths set so FLOPs per example come closest to this.")
@click.option("--epochs", type=int, help="Screening epochs per candidate.")
@train_option("A screening TrainConfig option of every search, e.g. --train lr=0.02; repeatable.")
@click.option("--final-top", type=int, help="Survivors fully trained after each search (0: none).")
@click.option("--final-seeds", type=int, help="Seeds each survivor is fully trained with.")
@click.option("--final-epochs", type=int, help="Epochs of the full training.")
@data_dir_option()
@device_option()
@threads_option("CPU threads for torch per run (default: 1 with --quick or --jobs > 1, else torch's choice).")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Runs at a time, each in its own process (with --threads unset: 1 torch thread each). "
                   "Results do not depend on it; wall times do.")
@progress_option(True, help="Progress bar with ETA on stderr.")
def search(task, strategies, baseline, seeds, first_seed, compute_budget, out, resume, overwrite, quick, config_file,
           population, generations, survivors, weight_target, flops_target, epochs, train_pairs, final_top, final_seeds,
           final_epochs, data_dir, device, threads, jobs, progress):
    """Run every strategy with every seed on one task at the same compute budget, then compare them.

    Every run is a normal search run directory OUT/STRATEGY-sSEED (resumable, `nas report`
    reads it). Writes OUT/report.md, anytime.png (best validation value so far and the
    incumbent's test accuracy against trained example-epochs, median and interquartile band over
    seeds), summary.csv, tests.csv (Mann-Whitney with Holm correction and Cliff's delta against
    the baseline), runs.csv and anytime.csv. The headline is the compute ratio: the compute the
    baseline needs to reach its final median best over the compute each strategy needs.
    Interrupted, the same command plus --resume continues.
    """
    refuse_resume_and_overwrite(resume, overwrite, "the benchmark in --out")
    search_given = {"population": population, "generations": generations, "survivors": survivors,
                    "weight_target": weight_target, "flops_target": flops_target, "final_top": final_top,
                    "final_seeds": final_seeds, "data_dir": data_dir, "device": device}
    train = train_overrides(train_pairs, {"epochs": ("--epochs", epochs)}, "the screening")
    if train:
        search_given["train"] = train
    if final_epochs is not None:
        search_given["final_train"] = {"epochs": final_epochs}
    config = bench_config(out, resume=resume, config_file=config_file, search=search_given, task=task,
                          strategies=strategies, baseline=baseline, seeds=seeds, first_seed=first_seed,
                          compute_budget=compute_budget, quick=True if quick else None)
    threads = 1 if threads is None and (config.quick or jobs > 1) else threads
    set_threads(threads)
    plan = prepare_bench(config, resume=resume, overwrite=overwrite)
    echo = lambda line: click.echo(line, err=True)  # noqa: E731
    try:
        run_bench(plan, outputs=partial(RunOutputs, report=False), progress=progress, echo=echo, jobs=jobs,
                  threads=threads)
    except KeyboardInterrupt:
        click.echo("interrupted: finished runs are kept; continue with the same command plus --resume", err=True)
        raise click.exceptions.Exit(130)
    summary = write_bench_report(config.out)
    click.echo(f"benchmark: {config.out} (report.md, anytime.png, summary.csv, tests.csv, runs.csv)")
    if summary is not None:
        for _, r in summary.ratios.iterrows():
            if r["strategy"] != summary.baseline:
                click.echo(f"  {r['strategy']}: compute ratio against {summary.baseline} "
                           f"{'not reached' if r['ratio'] == 0 else format(r['ratio'], '.2f')}: {r['verdict']}")
