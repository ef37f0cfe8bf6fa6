"""``nas priors``: controlled studies of network-theory priors (evaluate, report, presets)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from nas.cli.options import (
    WholeHelpGroup,
    check_output_folder,
    choice_option,
    data_dir_option,
    device_option,
    old_spelling,
    overwrite_option,
    progress_option,
    refuse_resume_and_overwrite,
    renamed,
    seed_option,
    task_option,
    threads_option,
    train_option,
    train_overrides,
)
from nas.exceptions import ConfigError
from nas.provenance import write_json_atomic
from nas.studies.priors.calibration import (
    CALIBRATION_FILE,
    DEFAULT_TAU,
    check_calibration,
    check_ladder,
    check_sample,
    read_ladder,
    write_calibration,
)
from nas.studies.priors.config import PRESETS, build_study_config
from nas.studies.priors.report import write_external_report, write_report
from nas.studies.priors.run import run_study
from nas.studies.priors.store import StudyStore
from nas.training.device import set_threads, threads_for
from nas.training.tasks import get_task
from search_spaces.genome import FAMILIES, READOUTS


def _split(text: str | None) -> tuple[str, ...] | None:
    """``"a,b:k=1,c"`` -> priors; a comma inside a prior's rules belongs to that prior."""
    if text is None:
        return None
    out: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if out and "=" in part and ":" not in part and ":" in out[-1]:
            out[-1] += "," + part  # "watts_strogatz:k=n//5,p=1": p=1 is a rule of the same prior
        else:
            out.append(part)
    return tuple(out)


@click.group("priors", cls=WholeHelpGroup)
def cli():
    """Controlled studies of priors: sample K genomes per prior, train each with S seeds, test the differences."""


@cli.command("presets")
def presets_cmd():
    """List the named studies (--preset) and their settings as JSON."""
    click.echo(json.dumps({k: {**v, "train": dict(v["train"])} for k, v in PRESETS.items()}, indent=2))


def _study_options(command):
    """The options of a study's settings and of where it runs (shared by evaluate and calibrate)."""
    for option in reversed(_STUDY_OPTIONS):
        command = option(command)
    return command


_STUDY_OPTIONS = [
    task_option(help="Task (default: the preset's, else mnist)."),
    click.option("--priors", help="Comma-separated priors, each optionally with rules: watts_strogatz:k=n//5,p=1."),
    click.option("--per-prior", type=int, help="Genomes per prior and family (K >= 2)."),
    click.option("--seeds", type=int, help="Training seeds per genome (S >= 2)."),
    choice_option("--family", choices=FAMILIES, comma=True,
                  help="Model family or comma-separated families (cells), e.g. ff, rnn:gru, rnn:gru,rnn:lstm."),
    click.option("--nodes", type=(int, int), metavar="LOW HIGH", help="Graph sizes (the same sizes for every prior)."),
    click.option("--width", type=int, help="Units per vertex (default 16 for ff, else 1)."),
    choice_option("--readout", choices=READOUTS, help="What the output reads (last: the paper's)."),
    click.option("--match", type=click.Choice(["none", "edges", "weights"]), help="Compare priors at equal edges or nonzero weights."),
    seed_option(help="Seed of the genome draws (training seeds are 0 .. S-1)."),
    click.option("--epochs", type=int, help="Training epochs (overrides the budget)."),
    train_option(),
    click.option("--fail-margin", type=float, help="Failed: accuracy at most chance + this (default 0.05)."),
    click.option("--cohort-size", type=int,
                 help="Genomes trained together per call (default 32; at most these are lost on a kill)."),
    old_spelling("--batch", "batch", type=int),
    click.option("--jobs", type=click.IntRange(1, 64),
                 help="Cohorts trained at once, each in its own process (default 1; 2 uses both cores of a 2-core CPU)."),
    click.option("--preset", help="A named study (nas priors presets), e.g. stier2021-reber; options override it."),
    click.option("--quick", is_flag=True, help="Small per-task budget: minutes on a 2-core CPU."),
    click.option("--out", required=True, type=click.Path(), metavar="DIRECTORY",
                 help="Study folder (new, or the study to --resume)."),
    click.option("--resume", is_flag=True, help="Continue the study in --out; given settings must equal the stored ones."),
    overwrite_option("Replace the study in --out."),
    data_dir_option(),
    click.option("--allow-partial-data", is_flag=True, default=None, help="Use a truncated dataset file anyway."),
    device_option(),
    progress_option(help="Progress bar on stderr (default: on)."),
    threads_option("CPU threads for torch (default: 1 on the CPU for ff and rnn networks, else torch's choice)."),
]


@cli.command("evaluate")
@_study_options
@click.option("--calibration", type=click.Path(file_okay=False),
              help="A finished nas priors calibrate folder: train for the epochs it chose and show its ladder in the report.")
@click.option("--no-predictor", is_flag=True, help="Leave the predictor study out of the report.")
def evaluate_cmd(task, priors, per_prior, seeds, family, nodes, width, readout, match, seed, epochs, train_pairs,
                 fail_margin, cohort_size, batch, jobs, preset, quick, out, resume, overwrite, data_dir, allow_partial_data,
                 device, progress, threads, calibration, no_predictor):
    """Sample K genomes per prior, train each with S seeds (cohorts trained together), and write the study report.

    Every finished run is appended to OUT/runs.jsonl at once, so a killed study continues with
    the same command plus --resume and loses at most the cohort in flight. OUT/report.md
    compares the priors (Kruskal-Wallis, Holm-corrected Mann-Whitney, Cliff's delta), says per cell
    whether the budget can tell them apart, reports the seed noise and its ceiling on R², feature
    correlations and a cross-validated predictor. With --calibration CAL the study trains for the
    epochs CAL chose (or --epochs, if given) and its report shows CAL's ladder and sets its
    verdicts beside those of CAL's full-budget reference.
    """
    ladder = None
    if calibration is not None:  # --epochs beside it overrides the chosen budget; the report says so
        ladder = read_ladder(calibration)
        epochs = ladder["chosen_epochs"] if epochs is None else epochs
    config, requested = _study_config(locals())
    if ladder is not None:
        check_calibration(config, StudyStore(calibration).settings())
    folder = _run(config, resume, requested, out, overwrite, threads)
    if ladder is not None:
        write_json_atomic(Path(folder) / CALIBRATION_FILE, {**ladder, "own_study": False})  # a copy: the source
    path = write_report(folder, predictor=not no_predictor)
    click.echo(f"study folder: {folder} (report: {path})")


@cli.command("calibrate")
@_study_options
@click.option("--ladder", "ladder_text", default="1,2,4,8", show_default=True, metavar="E1,E2,...",
              help="Budgets to try, in epochs; each is read from the learning curves of runs trained to the "
                   "reference (the study's budget), so one training serves every rung.")
@click.option("--sample", type=int, default=4, show_default=True,
              help="Genomes per prior and cell in the calibration subsample (at least 2).")
@click.option("--tau", type=float, default=DEFAULT_TAU, show_default=True,
              help="Kendall tau against the reference a rung's genome ranking must reach in every cell.")
def calibrate_cmd(task, priors, per_prior, seeds, family, nodes, width, readout, match, seed, epochs, train_pairs,
                  fail_margin, cohort_size, batch, jobs, preset, quick, out, resume, overwrite, data_dir, allow_partial_data,
                  device, progress, threads, ladder_text, sample, tau):
    """Find the cheapest budget whose prior verdicts and genome ranking agree with the study's full one.

    Trains SAMPLE genomes per prior and cell with the study's seeds at its budget (the reference)
    as a normal, resumable study in OUT, reads every rung of --ladder from the runs' learning
    curves, and writes OUT/calibration.json and calibration.md. Then run the study with
    nas priors evaluate ... --calibration OUT.
    """
    if per_prior is not None:
        raise ConfigError("--per-prior is the study's size; the calibration subsample is --sample")
    if not 0 < tau <= 1:
        raise ConfigError(f"--tau must be in (0, 1], got {tau}")
    try:
        rungs_asked = [int(part) for part in ladder_text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--ladder: expected comma-separated epochs like 1,2,4,8, got {ladder_text!r}") from None
    check_sample(sample)
    per_prior = sample
    config, requested = _study_config(locals())
    reference = get_task(config.task).default_config(**config.train_options).epochs
    rungs = check_ladder(rungs_asked, reference, sample)  # before any training
    folder = _run(config, resume, requested, out, overwrite, threads)
    result = write_calibration(folder, rungs, tau)
    click.echo(f"calibration: {folder}/calibration.md; chosen budget {result['chosen_epochs']} epochs of "
               f"{result['reference_epochs']}; run the study with nas priors evaluate ... --calibration {folder}")


def _study_config(given: dict):
    """The study config (and the settings asked for explicitly, for --resume) from a command's options."""
    cohort_size = renamed(given["cohort_size"], given["batch"], "--cohort-size", "--batch")
    settings = dict(task=given["task"], priors=_split(given["priors"]), per_prior=given["per_prior"],
                    seeds=given["seeds"], families=_split(given["family"]), nodes=given["nodes"], width=given["width"],
                    readout=given["readout"], match=given["match"], seed=given["seed"],
                    train=train_overrides(given["train_pairs"], {"epochs": ("--epochs", given["epochs"])}) or None, fail_margin=given["fail_margin"])
    runtime = dict(out=given["out"], data_dir=given["data_dir"], device=given["device"],
                   allow_partial_data=given["allow_partial_data"], cohort_size=cohort_size, jobs=given["jobs"],
                   progress=given["progress"])
    preset, quick, resume, out = given["preset"], given["quick"], given["resume"], given["out"]
    asked = preset is not None or quick or any(v is not None for v in settings.values())
    # On --resume the stored settings are used; settings given here must equal them.
    base = None
    if resume and asked:
        base = StudyStore(out).settings() if StudyStore(out).exists else None
    requested = build_study_config(preset=preset, quick=quick, base=base, **settings, **runtime) \
        if asked or not resume else None
    return requested or build_study_config(**runtime), requested


def _run(config, resume: bool, requested, out, overwrite: bool, threads: int | None) -> Path:
    refuse_resume_and_overwrite(resume, overwrite, "the study in --out")
    set_threads(threads_for(threads, config.families, config.device))
    try:
        return run_study(config, resume=resume, requested=requested if resume else None, overwrite=overwrite)
    except KeyboardInterrupt:
        click.echo(f"interrupted: finished runs are in {out}/runs.jsonl; continue with the same command plus --resume",
                   err=True)
        raise SystemExit(130)


@cli.command("report")
@click.argument("folder", type=click.Path(file_okay=False), required=False)
@click.option("--evaluations", "evaluations", type=click.Path(dir_okay=False),
              help="Instead of FOLDER: a study run elsewhere, one row per training run with a genome column "
                   "(nas arch import + nas arch join write one).")
@click.option("--prior-column", help="--evaluations: the column naming each run's prior.")
@click.option("--cell-column", help="--evaluations: the column naming each run's cell (default: the genome's family).")
@click.option("--target", default="test_accuracy", show_default=True, help="--evaluations: the metric compared.")
@click.option("--id-column", help="--evaluations: the column identifying a genome (default: the genome's key); "
                                  "rows of one genome are its runs.")
@click.option("--chance", type=float, help="--evaluations: chance-level accuracy; genomes at chance count as failed.")
@click.option("--out", type=click.Path(file_okay=False), metavar="DIRECTORY",
              help="--evaluations: the report's folder (default: FILE's stem + _priors_report beside it).")
@click.option("--no-predictor", is_flag=True, help="Leave the predictor study out.")
@click.option("--repeats", type=int, default=10, show_default=True, help="Repeats of the 5-fold cross-validation.")
@threads_option()
def report_cmd(folder, evaluations, prior_column, cell_column, target, id_column, chance, out, no_predictor, repeats,
               threads):
    """Rebuild FOLDER/report.md from a study's finished runs (also while it runs or after it stopped),
    or build the same report from a study run elsewhere (--evaluations FILE --prior-column C)."""
    if repeats < 1:
        raise ConfigError(f"--repeats must be an integer >= 1, got {repeats}")
    set_threads(threads)
    external = {"--prior-column": prior_column, "--cell-column": cell_column, "--id-column": id_column,
                "--chance": chance, "--out": out}
    if evaluations is None:
        if folder is None:
            raise ConfigError("expected a study FOLDER or --evaluations FILE --prior-column C, got neither")
        given = [flag for flag, value in external.items() if value is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} belong to --evaluations; a study FOLDER's report reads its own settings")
        if Path(folder).is_dir():
            check_output_folder(folder, "FOLDER")  # a read-only study: one line before the work
        click.echo(f"report: {write_report(folder, predictor=not no_predictor, repeats=repeats)}")
        return
    if folder is not None:
        raise ConfigError(f"expected a study FOLDER or --evaluations FILE, got both ({folder!r} and {evaluations!r})")
    if prior_column is None:
        raise ConfigError("--evaluations needs --prior-column (the column naming each run's prior)")
    source = Path(evaluations)
    out = Path(out) if out else source.with_name(f"{source.stem}_priors_report")
    check_output_folder(out, "--out")
    if out.exists() and any(out.iterdir()) and not (out / "statistics.json").is_file():
        raise ConfigError(f"--out {str(out)!r} holds other files; expected a new or empty folder, or an earlier report's")
    path = write_external_report(source, out, prior_column=prior_column, cell_column=cell_column, target=target,
                                 id_column=id_column, chance=chance, predictor=not no_predictor, repeats=repeats)
    click.echo(f"report: {path}")
