"""``nas predictor``: fit, evaluate and apply structure-to-performance predictors.

Examples
--------
::

    nas predictor evaluate --data evals.csv --target test_accuracy --model rf --group-by prior
    nas predictor fit --data evals.csv --target test_accuracy --model gp --tune 30 --out gp.skops
    nas predictor predict gp.skops --genomes candidates.jsonl
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click
import numpy  # noqa: F401  (threadpoolctl limits only libraries already loaded)
import optuna
import scipy.linalg  # noqa: F401
import sklearn.ensemble  # noqa: F401  (loads scikit-learn's OpenMP runtime)
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

import predictors
from nas.cli.options import (
    WholeHelpGroup,
    check_output,
    check_output_folder,
    choice_option,
    overwrite_option,
    parse_key_values,
    progress_option,
    seed_option,
    threads_option,
)
from nas.exceptions import ConfigError
from nas.provenance import provenance, write_json_atomic, write_text_atomic
from predictors import get_model_spec, list_models
from predictors import plots as P
from predictors.data import genome_groups
from predictors.tuning import TUNING_SCORES
from search_spaces.features import FEATURE_GROUPS
from search_spaces.genome import Genome

_GROUPS = tuple(FEATURE_GROUPS)


def _split_list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


@dataclass(frozen=True)
class EvaluateConfig:
    """Settings of ``nas predictor evaluate`` (validated on construction)."""

    data: str
    target: str
    model: str = "rf"
    group: str = "extended"
    extra_features: tuple[str, ...] = ()
    group_by: str | None = None
    folds: int = 5
    repeats: int = 10
    k: int | None = None
    maximize: bool = True
    bootstrap: int = 1000
    seed: int = 0
    sizes: tuple[int, ...] = (25, 50, 100, 200, 400)
    plots: str | None = None
    cv: str | None = None
    compare_paper: bool = False
    nested_trials: int = 0

    def __post_init__(self):
        get_model_spec(self.model)  # UnknownModelError lists the valid names
        if self.cv is not None and self.cv not in CV_SCHEMES:
            raise ConfigError(f"--cv must be one of {list(CV_SCHEMES)}, got {self.cv!r}")
        if self.cv in ("group_kfold", "logo") and self.group_by is None:
            raise ConfigError(f"--cv {self.cv} needs --group-by COLUMN (the groups kept together)")
        if self.nested_trials < 0:
            raise ConfigError(f"--nested-tune must be >= 0 trials, got {self.nested_trials}")
        if self.group not in _GROUPS:
            raise ConfigError(f"group must be one of {list(_GROUPS)}, got {self.group!r}")
        if self.folds < 2 or self.repeats < 1:
            raise ConfigError(f"expected folds >= 2 and repeats >= 1, got folds={self.folds}, repeats={self.repeats}")
        if self.bootstrap != 0 and not 10 <= self.bootstrap:
            raise ConfigError(f"--bootstrap must be 0 (no intervals) or at least 10 resamples, got {self.bootstrap}")
        if any(s < 2 for s in self.sizes):
            raise ConfigError(f"learning-curve sizes must be >= 2, got {list(self.sizes)}")


CV_SCHEMES = ("kfold", "group_kfold", "logo")


@dataclass(frozen=True)
class FitConfig:
    """Settings of ``nas predictor fit`` (validated on construction)."""

    data: str
    target: str
    out: str
    model: str = "rf"
    group: str = "extended"
    extra_features: tuple[str, ...] = ()
    tune_trials: int = 0
    scoring: str = "r2"
    folds: int = 5
    seed: int = 0
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        get_model_spec(self.model)
        if self.group not in _GROUPS:
            raise ConfigError(f"group must be one of {list(_GROUPS)}, got {self.group!r}")
        if self.tune_trials < 0:
            raise ConfigError(f"--tune must be >= 0 trials, got {self.tune_trials}")
        if self.scoring not in TUNING_SCORES:
            raise ConfigError(f"scoring must be one of {list(TUNING_SCORES)}, got {self.scoring!r}")
        if self.tune_trials and self.params:
            raise ConfigError("give either --param values or --tune, not both")


class _QuietConvergence:
    """Collect scikit-learn ConvergenceWarnings during a command and report them in one line."""

    def __enter__(self):
        self._ctx = warnings.catch_warnings(record=True)
        self.caught = self._ctx.__enter__()
        warnings.simplefilter("always", ConvergenceWarning)
        self._category = ConvergenceWarning
        return self

    def __exit__(self, *exc):
        n = sum(issubclass(w.category, self._category) for w in self.caught)
        others = [w for w in self.caught if not issubclass(w.category, self._category)]
        self._ctx.__exit__(*exc)
        for w in others:  # everything else is shown as usual
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if n and exc[0] is None:
            click.echo(f"note: {n} optimiser convergence warnings (e.g. a GP hyperparameter at its bound)", err=True)
        return False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@click.group(cls=WholeHelpGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--threads", "group_threads", default=None, type=click.IntRange(1, None), hidden=True)
@click.pass_context
def cli(ctx, group_threads):
    """Fit, evaluate and apply structure-to-performance predictors.

    Evaluation data: CSV or Parquet, one row per trained architecture, a column `genome` with
    the genome's JSON and one column per metric (see docs/predictors.md).
    """
    # ``nas predictor --threads N CMD`` (the old place of the option) still works; each command's
    # own --threads wins
    ctx.obj = {"threads": group_threads}


def _limit_threads(threads: int | None) -> None:
    """Limit BLAS/OpenMP to ``threads`` (default: the group's old option, else 1) for the rest of
    the command. Measured on 2 cores, a 160-row GP fit took 0.12 s CPU with one BLAS thread and
    3 s with the default pool on a busy machine."""
    ctx = click.get_current_context()
    group = (ctx.find_object(dict) or {}).get("threads")
    ctx.with_resource(threadpool_limits(limits=threads or group or 1))


_threads = threads_option("BLAS/OpenMP threads (default 1: the matrices here are small; extra threads mostly contend).")


_data = click.option("--data", "data", required=True, type=click.Path(dir_okay=False), help="Evaluations file (CSV or Parquet).")
_target = click.option("--target", required=True, help="Metric column to predict, e.g. test_accuracy.")
_model = choice_option("--model", choices=list_models(), default="rf", show_default=True,
                       help="Registered regressor (see `nas predictor models`).")
_group = click.option("--features", "group", default="extended", show_default=True, type=click.Choice(_GROUPS), help="Structural feature group.")
_extra = click.option("--extra-features", default="", help="Comma-separated numeric columns used as extra features (e.g. synflow,snip).")
_seed = seed_option(default=0, show_default=True, help="Seed of splits, bootstrap, models and tuning.")


@cli.command("models")
def models_cmd():
    """List the registered regressors and whether they give an uncertainty."""
    for name in list_models():
        spec = get_model_spec(name)
        click.echo(f"{name:<12} uncertainty={spec.uncertainty:<6} {spec.doc}")


@cli.command("evaluate")
@_data
@_target
@_model
@_group
@_extra
@click.option("--group-by", default=None, help="Leave-one-group-out CV by this column (or prior/family/nodes from the genome).")
@click.option("--cv", type=click.Choice(CV_SCHEMES), default=None,
              help="kfold, group_kfold (repeated K-fold keeping each --group-by group on one side) or logo "
                   "(leave one group out; the default with --group-by).")
@click.option("--compare-paper", is_flag=True,
              help="Also score the paper's pipeline (23 features, MinMax, random forest) on the same splits, with a paired test.")
@click.option("--nested-tune", "nested_trials", default=0, show_default=True, type=int,
              help="Also evaluate Optuna tuning with this many trials by nested CV (tuned inside each outer training fold).")
@click.option("--folds", default=5, show_default=True, type=int)
@click.option("--repeats", default=10, show_default=True, type=int)
@click.option("--k", "k", default=None, type=int, help="k of precision@k and top-k regret [default: 10% of rows].")
@click.option("--minimize", is_flag=True, help="The target is better when smaller (a loss).")
@click.option("--bootstrap", default=1000, show_default=True, type=click.IntRange(min=0),
              help="Bootstrap resamples for the 95% intervals (at least 10; 0: no intervals).")
@click.option("--sizes", default="25,50,100,200,400", show_default=True, help="Learning-curve training sizes.")
@click.option("--plots", default=None, type=click.Path(file_okay=False), help="Folder for the PNG plots [default: beside the data].")
@click.option("--no-plots", is_flag=True, help="Skip the learning curve, importances and plots.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of the table.")
@_seed
@_threads
@progress_option(True, help="A bar over the cross-validation folds on stderr (on a terminal).")
def evaluate_cmd(data, target, model, group, extra_features, group_by, cv, compare_paper, nested_trials, folds, repeats, k,
                 minimize, bootstrap, sizes, plots, no_plots, as_json, seed, threads, progress):
    """Cross-validate a predictor: a table of R², Kendall τ, Spearman ρ, MAE, precision@k, regret."""
    _limit_threads(threads)
    try:
        size_list = tuple(int(s) for s in _split_list(sizes))
    except ValueError:
        raise ConfigError(f"--sizes expects comma-separated integers, got {sizes!r}") from None
    cfg = EvaluateConfig(
        data=data, target=target, model=model, group=group, extra_features=_split_list(extra_features), group_by=group_by,
        folds=folds, repeats=repeats, k=k, maximize=not minimize, bootstrap=bootstrap, seed=seed, sizes=size_list, plots=plots,
        cv=cv, compare_paper=compare_paper, nested_trials=nested_trials,
    )
    path = Path(cfg.data)
    if not no_plots and cfg.plots:
        check_output_folder(cfg.plots, "--plots")  # before minutes of cross-validation
    df = predictors.read_evaluations(path, target=cfg.target, extra_features=cfg.extra_features, group_by=cfg.group_by, min_rows=cfg.folds)
    pipe = predictors.make_predictor(cfg.model, group=cfg.group, random_state=cfg.seed, extra_columns=cfg.extra_features)
    groups = genome_groups(df, cfg.group_by) if cfg.group_by else None
    y = df[cfg.target].to_numpy()
    description = (
        f"model {cfg.model}, {cfg.group} features"
        f"{' + ' + ','.join(cfg.extra_features) if cfg.extra_features else ''}, target {cfg.target}, data {path.name}"
    )
    curve = importance = None
    with _QuietConvergence():
        report = predictors.evaluate(
            pipe, df, y, folds=cfg.folds, repeats=cfg.repeats, random_state=cfg.seed, groups=groups, k=cfg.k,
            maximize=cfg.maximize, n_bootstrap=cfg.bootstrap, description=description, cv=cfg.cv,
            progress=progress and not as_json,
        )
        comparison = nested = None
        if cfg.compare_paper:
            comparison = predictors.compare_predictors(
                {cfg.model: pipe, "paper": predictors.make_paper_predictor(cfg.seed)}, df, y, n_splits=cfg.folds,
                n_repeats=cfg.repeats, random_state=cfg.seed, groups=groups, cv=cfg.cv, n_bootstrap=cfg.bootstrap)
        if cfg.nested_trials:
            nested = predictors.nested_evaluate(
                cfg.model, df, y, n_trials=cfg.nested_trials, outer_folds=cfg.folds, random_state=cfg.seed, group=cfg.group,
                extra_columns=cfg.extra_features, groups=groups, cv=cfg.cv, n_bootstrap=cfg.bootstrap)
        if not no_plots:
            curve = predictors.learning_curve(pipe, df, y, sizes=cfg.sizes, repeats=min(cfg.repeats, 5), random_state=cfg.seed)
            importance = predictors.permutation_importance(pipe, df, y, folds=cfg.folds, random_state=cfg.seed)
    result = report.to_dict()
    if comparison is not None:
        result["compare_paper"] = comparison.to_dict()
    if nested is not None:
        result["nested_tuning"] = nested.to_dict()
    if not no_plots:
        out = Path(cfg.plots) if cfg.plots else path.parent / f"{path.stem}_predictor_{cfg.model}"
        files = {
            "predicted_vs_actual": str(P.plot_predicted_vs_actual(report, out / "predicted_vs_actual.png", cfg.target)),
            "learning_curve": str(P.plot_learning_curve(curve, out / "learning_curve.png")),
            "feature_importance": str(P.plot_feature_importance(importance, out / "feature_importance.png")),
        }
        result["learning_curve"] = curve.to_dict()
        result["feature_importance"] = importance.to_dict(orient="records")
        result["plots"] = files
        write_json_atomic(out / "evaluation.json", result)
        write_json_atomic(out / "config.json", {"command": "nas predictor evaluate", "config": asdict(cfg), "data_sha256": _sha256(path), **provenance()})
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    click.echo(report.to_table())
    if comparison is not None:
        click.echo(comparison.to_table())
    if nested is not None:
        click.echo(f"tuned by nested CV ({cfg.nested_trials} trials per outer fold):")
        click.echo(nested.report.to_table())
        click.echo(f"optimism of tuning (inner best {nested.scoring} minus outer): {nested.optimism:+.3f}")
    if not no_plots:
        sizes_txt = ", ".join(f"{s}: {m:.3f}" for s, m in zip(curve.sizes, curve.mean("r2")))
        click.echo(f"learning curve (R² by training size): {sizes_txt}")
        top = ", ".join(f"{r.feature} {r.importance_mean:.3f}" for r in importance.head(5).itertuples())
        click.echo(f"top features (permutation, drop in R²): {top}")
        click.echo(f"plots and evaluation.json written to {out}")


@cli.command("fit")
@_data
@_target
@_model
@_group
@_extra
@click.option("--param", "params", multiple=True, help="Model hyperparameter NAME=VALUE (JSON value); repeatable.")
@click.option("--tune", "tune_trials", default=0, show_default=True, type=int, help="Optuna trials to tune the model (0: defaults).")
@choice_option("--scoring", choices=TUNING_SCORES, default="r2", show_default=True, help="CV score tuned.")
@click.option("--folds", default=5, show_default=True, type=int, help="CV folds for tuning.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="Destination predictor file (.skops).")
@overwrite_option()
@_seed
@_threads
def fit_cmd(data, target, model, group, extra_features, params, tune_trials, scoring, folds, out, overwrite, seed, threads):
    """Fit (optionally tune) a predictor on all the data and save it as a skops file."""
    _limit_threads(threads)
    check_output(out, overwrite)

    cfg = FitConfig(
        data=data, target=target, out=out, model=model, group=group, extra_features=_split_list(extra_features),
        tune_trials=tune_trials, scoring=scoring, folds=folds, seed=seed, params=parse_key_values(params, "--param"),
    )
    path = Path(cfg.data)
    df = predictors.read_evaluations(path, target=cfg.target, extra_features=cfg.extra_features, min_rows=max(cfg.folds, 2))
    y = df[cfg.target].to_numpy()
    summary = {
        "data": str(path), "data_sha256": _sha256(path), "target": cfg.target, "n_architectures": int(len(df)),
        "target_mean": float(y.mean()), "target_std": float(y.std()), "target_min": float(y.min()), "target_max": float(y.max()),
        "model": cfg.model, "feature_group": cfg.group, "extra_columns": list(cfg.extra_features), "seed": cfg.seed,
        "priors": df["genome"].map(lambda s: json.loads(s)["prior"]).value_counts().to_dict(),
    }
    if cfg.tune_trials:
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # entry point: the trial log would flood the terminal
        with _QuietConvergence():
            pipe, study = predictors.tune(
                cfg.model, df, y, n_trials=cfg.tune_trials, random_state=cfg.seed, folds=cfg.folds, scoring=cfg.scoring,
                group=cfg.group, extra_columns=cfg.extra_features,
            )
        summary.update(tuned_params=study.user_attrs["tuned_params"], tuning_score=float(study.best_value), tuning_scoring=cfg.scoring, tuning_trials=len(study.trials))
        note = f", tuned {len(study.trials)} trials: CV {cfg.scoring} {study.best_value:.3f}"
    else:
        try:
            pipe = predictors.make_predictor(cfg.model, group=cfg.group, random_state=cfg.seed,
                                             extra_columns=cfg.extra_features, **cfg.params)
            with _QuietConvergence():
                pipe.fit(df, y)
        except (TypeError, ValueError) as err:  # e.g. sklearn's InvalidParameterError for --param n_estimators=abc
            if not cfg.params:
                raise
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ConfigError(f"--param {cfg.params}: {first}") from None
        summary["params"] = cfg.params
        note = ""
    dest = predictors.save_predictor(pipe, cfg.out, summary)
    n_feat = len(pipe.steps[0][1].get_feature_names_out())
    click.echo(f"saved {dest} ({cfg.model}, {n_feat} features, {len(df)} architectures{note})")


@cli.command("predict")
@click.argument("predictor_file", type=click.Path(dir_okay=False))
@click.option("--genomes", required=True, type=click.Path(dir_okay=False), help="Genomes: JSON lines, a JSON list, or a CSV/Parquet table with a genome column (and any extra feature columns).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of CSV.")
@click.option("--out", type=click.Path(dir_okay=False), metavar="FILE", help="Write the predictions here (CSV, or JSON with --json) "
                                                            "instead of printing them.")
@overwrite_option()
@_threads
def predict_cmd(predictor_file, genomes, as_json, out, overwrite, threads):
    """Predict the target for genomes with a saved predictor (mean and std per genome).

    Each row keeps the genome's id: a table's id column, or the id of each {"id", "genome"}
    record (what nas arch import --jsonl writes); else the genome's key."""
    _limit_threads(threads)
    if out is not None:
        check_output(out, overwrite)  # before any work
    pipe = predictors.load_predictor(predictor_file)
    extra = list(pipe.steps[0][1].extra_columns)
    if Path(genomes).suffix.lower() in (".csv", ".tsv", ".parquet", ".pq"):
        # a table carries the extra feature columns (proxies, early metrics) a predictor may need
        table = predictors.read_evaluations(genomes, extra_features=extra, min_rows=1)
        items = [Genome.from_json(s) for s in table["genome"]]
        ids = [str(v) for v in table["id"]] if "id" in table.columns else [None] * len(items)
        inputs = table
    else:
        if extra:
            raise ConfigError(f"this predictor also needs the columns {extra}; give --genomes as a CSV/Parquet table holding them")
        ids, items = map(list, zip(*predictors.read_genome_records(genomes)))
        inputs = items
    result = predictors.predict_with_uncertainty(pipe, inputs)
    rows = [
        {"id": g.key if i is None else i, "key": g.key, "prediction": float(m),
         "std": float(s) if result.has_uncertainty else None, "genome": g.to_json()}
        for i, g, m, s in zip(ids, items, result.mean, result.std)
    ]
    if as_json:
        text = json.dumps(rows, indent=2) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["id", "key", "prediction", "std", "genome"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    if out is None:
        click.echo(text, nl=False)
        return
    write_text_atomic(out, text)
    click.echo(f"predictions of {len(rows)} genomes written to {out}", err=True)
