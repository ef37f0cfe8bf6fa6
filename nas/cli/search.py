"""``nas search``: run or resume an architecture search (genetic, random, TPE, NSGA-II, aging
evolution, neural predictor, BANANAS)."""

from __future__ import annotations

import math

import click

from nas.cli.options import (
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
)
from nas.exceptions import ConfigError
from nas.report import RunOutputs
from nas.search.config import SCREENINGS
from nas.search.config_files import build_config
from nas.search.loop import run_search
from nas.search.strategies import list_strategies
from nas.training.device import set_threads, threads_for
from nas.training.tasks import get_task
from search_spaces.genome import READOUTS


@click.command(name="search")
@task_option(help="Task (default: the config file's, else mnist).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML file of search options.")
@click.option("--population", type=int, help="Candidates proposed per generation.")
@click.option("--generations", type=int, help="Generations to run.")
@click.option("--survivors", type=int, help="Trained individuals kept as parents (and k of the k-th best).")
@choice_option("--strategy", choices=list_strategies,
               help="random (default: no other strategy beat it at equal cost, docs/results.md), ga, tpe, nsga2, aging (regularized evolution), predictor (neural-predictor "
                   "ranking of random draws) or bananas (mutations ranked by UCB); see docs/search.md.")
@click.option("--aging-queue", type=int,
              help="--strategy aging: trained individuals kept in the queue, the oldest dropped first "
                   "(default: --population).")
@click.option("--candidate-pool", type=int,
              help="--strategy predictor / bananas: candidates the predictor ranks per proposal "
                   "(random draws, default 20; mutations of the best, default 10).")
@click.option("--storage", help="Ledger URL: sqlite:///PATH (default RUN_DIR/ledger.db), journal:PATH, postgresql://...")
@click.option("--ledger", "ledger_name", help="The ledger's name in --storage (default: the run directory's name).")
@old_spelling("--study", "study")
@click.option("--out", type=click.Path(file_okay=False), metavar="DIRECTORY", help="Run directory (default runs/search).")
@overwrite_option("Replace the run in --out (and its ledger, which must be in it).")
@seed_option(help="Seed of the search (and of every training run).")
@click.option("--second-objective", type=click.Choice(["nonzero_weights", "parameters", "flops"]),
              help="Minimised second objective: a Pareto front.")
@click.option("--gating/--no-gating", default=None, help="Predictor gating: the predictor picks which proposed candidates train (default off).")
@click.option("--predictor", "predictor_file", type=click.Path(dir_okay=False, exists=True),
              help="A saved predictor (nas predictor fit --out P.skops) that gates from generation 0.")
@click.option("--epochs", type=int, help="Screening epochs per candidate (overrides the screening budget).")
@train_option("A screening TrainConfig option, e.g. --train lr=0.02; repeatable.")
@choice_option("--readout", choices=READOUTS,
              help="Which vertices feed the output: every sink (default) or the last layer only (the paper's).")
@click.option("--widths", type=(int, int), metavar="LOW HIGH", help="Range of vertex widths (units per vertex), e.g. 1 16.")
@click.option("--weight-target", type=int,
              help="Equal-cost search: set every candidate's width so its nonzero weights come closest to this.")
@old_spelling("--budget", "budget", type=int)
@click.option("--flops-target", type=int,
              help="Equal-cost search by compute: set every candidate's width so its FLOPs per example "
                   "(multiply-accumulates of one forward pass) come closest to this. Not with --weight-target.")
@click.option("--compute-budget", type=int, metavar="N",
              help="Stop proposing generations once the candidates trained so far reach N example-epochs "
                   "(training examples x epochs); the generation that reaches it runs whole, then the final phase.")
@click.option("--final-top", type=int, help="Survivors fully trained after the search (default 3; 0: none).")
@click.option("--final-seeds", type=int, help="Seeds each survivor is fully trained with (default 3).")
@click.option("--final-epochs", type=int, help="Epochs of the full training (default: the task's budget).")
@click.option("--dense-baseline/--no-dense-baseline", default=None,
              help="After the final phase, train the best network's dense counterpart (same layer sizes, every "
                   "vertex joined to every later layer) over the final seeds, for the report (default: on).")
@data_dir_option()
@click.option("--allow-partial-data", is_flag=True, default=None,
              help="Use a truncated dataset file anyway; results record the test examples used.")
@device_option()
@click.option("--external-workers", is_flag=True, help="Do not train here; wait for `nas worker` processes.")
@click.option("--resume", is_flag=True, help="Continue the search from its last finished generation.")
@click.option("--quick", is_flag=True, help="Small budget per task: finishes in a few minutes on a 2-core CPU.")
@progress_option(help="Per-generation progress lines on stderr (default: on).")
@threads_option(
    help="CPU threads for torch in this process (default: 1 with --quick or on the CPU for ff and rnn "
         "networks, else torch's choice).")
@click.option("--time-limit", type=float, metavar="MINUTES",
              help="Stop before a generation (or a final seed's cohort) that would end past this many minutes; "
                   "continue later with --resume.")
@choice_option("--screening", choices=SCREENINGS,
               help="full (default: every chosen candidate at the screening budget) or halving "
                    "(successive halving: all briefly, the best 1/eta promoted to longer training).")
@click.option("--halving-eta", type=int, help="Successive halving: promote the best 1/ETA of a rung (default 3).")
@click.option("--halving-rungs", type=int, help="Successive halving: rungs, the last at the screening budget (default 3).")
def cli(task, config_file, population, generations, survivors, strategy, aging_queue, candidate_pool, storage,
        ledger_name, study, out, overwrite, seed, second_objective, gating, predictor_file, epochs, train_pairs, readout, widths, weight_target,
        budget, flops_target, compute_budget, final_top, final_seeds,
        final_epochs, dense_baseline, data_dir, allow_partial_data, device, external_workers, resume, quick, progress, threads,
        time_limit, screening, halving_eta, halving_rungs):
    """Search architectures for a task; results go to the run directory and the ledger.

    Candidates are screened at a short budget; the best --final-top are then fully trained
    over --final-seeds seeds and best/ holds the best of them.

    Progress shows, per generation, the candidates trained (and shadow-sampled), skipped by the
    predictor gate and failed, the best value so far and the predictor's Kendall tau. Ctrl-C
    requeues the current trials and keeps the state of the last finished generation; continue
    with the same command plus --resume.
    """
    if time_limit is not None and not (math.isfinite(time_limit) and time_limit > 0):
        raise ConfigError(f"--time-limit = {time_limit!r}; expected a finite number of minutes > 0")
    ledger_name = renamed(ledger_name, study, "--ledger", "--study")
    weight_target = renamed(weight_target, budget, "--weight-target", "--budget")
    options = dict(task=task, population=population, generations=generations, survivors=survivors,
                   strategy=strategy, aging_queue=aging_queue, candidate_pool=candidate_pool, storage=storage,
                   ledger_name=ledger_name, out=out, seed=seed,
                   second_objective=second_objective, gating=gating, data_dir=data_dir, device=device,
                   allow_partial_data=allow_partial_data, predictor_file=predictor_file, readout=readout,
                   widths=widths, weight_target=weight_target, flops_target=flops_target, final_top=final_top,
                   final_seeds=final_seeds, dense_baseline=dense_baseline, compute_budget=compute_budget)
    options.update(screening=screening, halving_eta=halving_eta, halving_rungs=halving_rungs)
    train = train_overrides(train_pairs, {"epochs": ("--epochs", epochs)}, "the screening")
    if train:
        options["train"] = train
    if final_epochs is not None:
        options["final_train"] = {"epochs": final_epochs}
    if external_workers:
        options["local_worker"] = False
    if progress is not None:
        options["progress"] = progress
    config = build_config(config_file=config_file, quick=quick, resume=resume, **options)
    # A per-process setting, not part of the search config. --quick trains tiny networks on a CPU:
    # one thread measured 65 s idle and 62 s beside one busy process; torch's two threads 49 s
    # idle but 1,068 s beside it (each small parallel region waits for a descheduled thread).
    family = config.family or get_task(config.task).default_family
    set_threads(1 if threads is None and quick else threads_for(threads, family, config.device))
    echo = (lambda line: click.echo(line, err=True)) if config.progress else None
    try:
        run = run_search(config, resume=resume, overwrite=overwrite, echo=echo, outputs=RunOutputs(),
                         time_limit=None if time_limit is None else 60.0 * time_limit)
    except KeyboardInterrupt:
        click.echo("interrupted: state of the last finished generation is saved; continue with --resume", err=True)
        raise SystemExit(130)
    click.echo(f"run directory: {run.run_dir} (report.md, evaluations.csv, best/)")
