"""The report of a prior study: ``report.md``, plots, ``evaluations.csv`` and the statistics as JSON.

Written from the study folder alone (:func:`write_report`), so ``nas priors report DIR`` rebuilds it
at any time, also from a study that is still running or was stopped (only genomes with every seed
finished enter the statistics; the report says how many).

Labels: a genome's accuracy is the mean test accuracy over its training seeds; a run that diverged
counts as chance-level accuracy (1 / classes). A genome *failed* when any run diverged or its
accuracy is at most chance + ``fail_margin``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.model_selection import train_test_split

import predictors
from nas.exceptions import StudyError
from nas.provenance import to_jsonable, write_json_atomic, write_text_atomic
from nas.studies.priors import stats
from nas.studies.priors.adequacy import adequacy_lines, verdict_lines
from nas.studies.priors.agreement import agreement, agreement_lines, agreement_summary
from nas.studies.priors.calibration import CALIBRATION_FILE, ladder_lines, read_ladder
from nas.studies.priors.external import external_table
from nas.studies.priors.table import TARGET, cell_tests, genome_table
from nas.studies.priors.transfer import transfer, transfer_lines
from predictors.metrics import compute_metric
from predictors.plots import plot_learning_curve
from search_spaces.features import graph_features
from search_spaces.genome import Genome

__all__ = ["study_statistics", "write_external_report", "write_report", "MIN_PREDICTOR_GENOMES"]

#: Fewer complete genomes in a cell than this: no predictor study for it.
MIN_PREDICTOR_GENOMES = 20
#: Fewer genomes in a cell than this: the correlations come with a caution.
SMALL_N = 10


def _prior_rows(frame: pd.DataFrame, seed: int) -> list[dict]:
    rows = []
    for prior, part in frame.groupby("prior", sort=False):
        acc = part[TARGET].to_numpy()
        low, high = stats.mean_interval(acc, seed=seed)
        rows.append({"prior": prior, "n": int(acc.size), "mean": float(acc.mean()), "low": low, "high": high,
                     "median": float(np.median(acc)), "best": float(acc.max()),
                     "failed_share": float(part["failed"].mean()) if part["failed"].notna().all() else math.nan,
                     "seed_sd": float(part[f"{TARGET}_std"].mean())})
    return rows


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame([graph_features(Genome.from_json(g)) for g in frame["genome"]], index=frame.index)


def _predictor_study(frame: pd.DataFrame, seed: int, repeats: int) -> dict:
    """Repeated 5-fold CV of the product's and the paper's predictors, leave-one-prior-out, learning curve, one split."""
    genomes, y = list(frame["genome"]), frame[TARGET].to_numpy()
    out: dict = {"n": len(y)}
    pipelines = {"product": predictors.make_predictor(random_state=seed),
                 "paper": predictors.make_paper_predictor(random_state=seed)}
    compared = predictors.compare_predictors(pipelines, genomes, y, n_splits=5, n_repeats=repeats, random_state=seed)
    out["compare"] = compared.to_dict()
    if frame["prior"].nunique() >= 2:
        lopo = predictors.evaluate(predictors.make_predictor(random_state=seed), genomes, y, groups=list(frame["prior"]),
                                   random_state=seed, n_bootstrap=0)
        out["leave_one_prior_out"] = {str(label): {"r2": float(r2), "kendall": float(t)} for label, r2, t in
                                      zip(lopo.fold_labels, lopo.fold_values["r2"], lopo.fold_values["kendall"])}
        out["transfer"] = transfer(genomes, y, list(frame["prior"]), seed)
    curve = predictors.learning_curve(predictors.make_predictor(random_state=seed), genomes, y,
                                      sizes=(10, 20, 40, 80, 160, 320), repeats=5, random_state=seed)
    out["learning_curve"] = curve.to_dict()
    out["_curve"] = curve
    train, test = train_test_split(np.arange(len(y)), test_size=0.1, random_state=seed)
    paper = predictors.make_paper_predictor(random_state=seed).fit([genomes[i] for i in train], y[train])
    pred = paper.predict([genomes[i] for i in test])
    out["paper_one_split"] = {"n_train": int(train.size), "n_test": int(test.size),
                              "r2": compute_metric("r2", y[test], pred), "kendall": compute_metric("kendall", y[test], pred)}
    return out


def study_statistics(frame: pd.DataFrame, facts: dict, *, predictor: bool = True, repeats: int = 10,
                     seed: int = 0) -> dict:
    """Every figure of the report, per family (cell), as a JSON-shaped dict (plus the correlation tables)."""
    seeds = _seeds(facts)
    match = facts["config"].match if "config" in facts else "none"
    out: dict = {"cells": {}}
    for family, part in frame.groupby("family", sort=False):
        cell: dict = {"genomes": len(part), "priors": _prior_rows(part, seed)}
        cell.update(cell_tests(part, seeds, seed))
        features = _features(part)
        cell["_correlations"] = stats.correlations(features, part[TARGET])
        cell["_correlations_by_prior"] = {p: stats.correlations(features.loc[g.index], g[TARGET])
                                          for p, g in part.groupby("prior", sort=False)}
        if match != "none":
            dev = (part["match_value"] - part["match_target"]).abs() / part["match_target"]
            cell["match"] = {"kind": match, "median_rel_dev": float(dev.median()), "max_rel_dev": float(dev.max())}
        if not predictor:
            cell["no_predictor"] = "left out (--no-predictor)"
        elif part[TARGET].nunique() < 2:
            cell["no_predictor"] = "every genome has the same accuracy: nothing to predict"
        elif len(part) < MIN_PREDICTOR_GENOMES:
            cell["no_predictor"] = f"{len(part)} complete genomes in this cell, {MIN_PREDICTOR_GENOMES} needed"
        else:
            cell["predictor"] = _predictor_study(part, seed, repeats)
        out["cells"][family] = cell
    return out


def _seeds(facts: dict) -> int:
    """Runs per genome in the table's ``*_seed<k>`` columns."""
    return int(facts["seeds"]) if "seeds" in facts else int(facts["config"].seeds)


# --- writing -------------------------------------------------------------------------------


def _f(value, spec=".4f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return format(value, spec)


def _p(value) -> str:
    return "—" if value is None or not math.isfinite(value) else (f"{value:.2e}" if value < 1e-3 else f"{value:.3f}")


def _interval(mean, low, high, spec=".4f") -> str:
    return f"{_f(mean, spec)} [{_f(low, spec)}, {_f(high, spec)}]"


def _plots(folder: Path, frame: pd.DataFrame, result: dict, facts: dict) -> list[tuple[str, str]]:
    families = list(result["cells"])
    fig = Figure(figsize=(4.2 * len(families), 4))
    FigureCanvasAgg(fig)
    for k, family in enumerate(families):
        ax = fig.add_subplot(1, len(families), k + 1)
        part = frame[frame["family"] == family]
        priors = list(dict.fromkeys(part["prior"]))
        data = [part.loc[part["prior"] == p, TARGET].to_numpy() for p in priors]
        ax.violinplot(data, showmedians=True)
        rng = np.random.default_rng(0)
        for i, d in enumerate(data, 1):
            ax.scatter(i + rng.uniform(-0.08, 0.08, d.size), d, s=8, alpha=0.6, color="black", edgecolors="none")
        ax.set_xticks(range(1, len(priors) + 1), [p.replace("_", "\n") for p in priors], fontsize=7)
        ax.set_title(f"{family} (n={len(part)})")
        ax.set_ylabel("test accuracy (mean over seeds)")
    fig.tight_layout()
    fig.savefig(folder / "accuracy_by_prior.png", dpi=110)
    plots = [("accuracy_by_prior.png", "Test accuracy by prior (one point per genome)")]
    if _seeds(facts) >= 2:
        plots.append(_seed_agreement(folder, frame, families))
    for family, cell in result["cells"].items():
        curve = cell.get("predictor", {}).get("_curve")
        if curve is not None:
            name = f"learning_curve_{family.replace(':', '_')}.png"
            plot_learning_curve(curve, folder / name)
            plots.append((name, f"{family}: predictor R² and Kendall τ against training architectures (held-out 20 %)"))
    return plots


def _seed_agreement(folder: Path, frame: pd.DataFrame, families: list[str]) -> tuple[str, str]:
    fig = Figure(figsize=(4.2 * len(families), 4))
    FigureCanvasAgg(fig)
    for k, family in enumerate(families):
        ax = fig.add_subplot(1, len(families), k + 1)
        part = frame[frame["family"] == family]
        a, b = part[f"{TARGET}_seed0"], part[f"{TARGET}_seed1"]
        ax.scatter(a, b, s=10, alpha=0.7, edgecolors="none")
        lo, hi = float(min(a.min(), b.min())), float(max(a.max(), b.max()))
        ax.plot([lo, hi], [lo, hi], color="black", lw=1)
        ax.set_xlabel("seed 0")
        ax.set_ylabel("seed 1")
        ax.set_title(f"{family}: same genome, two training seeds")
    fig.tight_layout()
    fig.savefig(folder / "seed_agreement.png", dpi=110)
    return ("seed_agreement.png", "The same genome trained with two seeds: the seed noise")


def _header(facts: dict) -> list[str]:
    """The report's opening lines: the study's settings, or where an external study came from."""
    if facts.get("external"):
        cell = f"column `{facts['cell_column']}`" if facts["cell_column"] else "the genomes' family"
        runs = (f"{facts['runs_min']}" if facts["runs_min"] == facts["runs_max"]
                else f"{facts['runs_min']}–{facts['runs_max']} (the noise section uses the first {facts['runs_min']})")
        chance = (f"failed = accuracy ≤ chance ({facts['chance']}) + {facts['fail_margin']}" if facts["chance"] is not None
                  else "no chance level given (--chance), so no genome is called failed")
        return ["# Prior study: evaluations from elsewhere", "",
                f"- Source: `{facts['source']}`; priors: column `{facts['prior_column']}`; cells: {cell}",
                f"- **{facts['complete']} genomes**, {facts['runs']} runs; runs per genome: {runs}",
                f"- Label: mean of `{facts['target']}` over a genome's runs (called test accuracy below); {chance}",
                ""]
    return _study_header(facts)


def _study_header(facts: dict) -> list[str]:
    config = facts["config"]
    rules = ", ".join(f"`{p}`" for p in config.priors)
    train = ", ".join(f"{k}={v}" for k, v in config.train) or "the task's budget"
    lines = [f"# Prior study: {config.task}", ""]
    return lines + [f"- Cells (families): {', '.join(config.families)}; priors: {rules}",
              f"- {config.per_prior} genomes per prior and cell, {config.seeds} training seeds each; nodes "
              f"{config.nodes[0]}–{config.nodes[1]} (the i-th genome of every prior has the same size); width "
              f"{config.width}; readout `{config.readout}`; matching: {config.match}",
              f"- Training: {train}" + (f" (preset `{config.preset}`)" if config.preset else ""),
              f"- Complete genomes (every seed finished): **{facts['complete']} of {facts['genomes_total']}**; "
              f"training runs recorded: {facts['runs']}; summed training time {facts['wall_time_s']:.0f} s"
              + (f"; {facts['other_errors']} runs failed for reasons other than divergence (left out, retried by "
                 "--resume)" if facts.get("other_errors") else ""),
              f"- Label: mean test accuracy over the seeds; a diverged run counts as chance ({facts['chance']:.3f}); "
              f"failed = any run diverged or accuracy ≤ chance + {config.fail_margin}",
              ""]


def _markdown(facts: dict, result: dict, plots) -> str:
    lines = _header(facts) + verdict_lines(result["cells"])
    if result.get("agreement"):
        lines[-1:] = [f"- *{agreement_summary(result['agreement'])} (section below).*", ""]
    for family, cell in result["cells"].items():
        lines += [f"## {family}", "", "### Accuracy by prior", "",
                  "| prior | n | mean [95 % BCa CI] | median | best | failed | mean seed SD |", "|---|---|---|---|---|---|---|"]
        for r in cell["priors"]:
            lines.append(f"| {r['prior']} | {r['n']} | {_interval(r['mean'], r['low'], r['high'])} | {_f(r['median'])} | "
                         f"{_f(r['best'])} | {_f(r['failed_share'], '.0%')} | {_f(r['seed_sd'])} |")
        if "kruskal" in cell:
            k = cell["kruskal"]
            lines += ["", f"Kruskal–Wallis across priors: H = {k['H']:.2f}, p = {_p(k['p'])} (n = {k['n']} genomes, "
                          f"{k['groups']} priors).", "",
                      "| a | b | n_a | n_b | U | p | p (Holm) | Cliff's δ |", "|---|---|---|---|---|---|---|---|"]
            for r in cell["pairs"]:
                lines.append(f"| {r['a']} | {r['b']} | {r['n_a']} | {r['n_b']} | {r['U']:.1f} | {_p(r['p'])} | "
                             f"{_p(r['p_holm'])} | {r['cliffs_delta']:+.3f} |")
            lines.append("\nδ > 0: genomes of *a* tend to be more accurate than those of *b*.")
        lines += adequacy_lines(cell)
        if "match" in cell:
            m = cell["match"]
            lines.append(f"\nMatched {m['kind']}: median relative deviation from the index's target "
                         f"{m['median_rel_dev']:.1%}, largest {m['max_rel_dev']:.1%}.")
        if "noise" in cell:
            n = cell["noise"]
            lines += ["", "### Seed noise and the noise ceiling", "",
                      f"- Same genome, different training seed: pooled SD {_f(n['within_sd'])}, mean |difference| "
                      f"between two seeds {_f(n['mean_abs_diff'])}; SD of the genomes' true accuracies {_f(n['between_sd'])} "
                      f"({n['genomes']} genomes × {n['seeds']} seeds).",
                      f"- Repeatability ICC(1) = {_interval(n['icc1'], n['icc1_low'], n['icc1_high'], '.3f')}: the highest R² "
                      "a structure-only predictor can reach on labels from **one** training run (the paper's design).",
                      f"- ICC(1,{n['seeds']}) = {_interval(n['icc_mean'], n['icc_mean_low'], n['icc_mean_high'], '.3f')}: "
                      f"the ceiling on this study's labels (mean of {n['seeds']} runs)."]
            if not math.isfinite(n["icc1"]):
                lines.append("- The genomes' mean accuracies do not vary: the repeatability is undefined and there is "
                             "nothing for a predictor to explain.")
            elif n["icc1"] <= 0:
                lines.append("- A repeatability at or below 0: the seed-to-seed spread is as large as the spread between "
                             "genomes, so these labels hold no measurable structural signal and no predictor can reach "
                             "an R² above 0 on them (the ceiling is 0).")
        if "no_noise" in cell:
            lines += ["", "### Seed noise and the noise ceiling", "", f"*Cannot be computed: {cell['no_noise']}.*"]
        corr = cell["_correlations"]
        if not corr.empty:
            lines += ["", "### Feature–accuracy correlations (top 10 by |Spearman ρ|, all genomes of the cell)", "",
                      "| feature | Pearson r [95 % CI] | Spearman ρ [95 % CI] | p (Spearman) |", "|---|---|---|---|"]
            for r in corr.head(10).to_dict("records"):
                lines.append(f"| {r['feature']} | {_interval(r['pearson'], r['pearson_low'], r['pearson_high'], '+.2f')} | "
                             f"{_interval(r['spearman'], r['spearman_low'], r['spearman_high'], '+.2f')} | {_p(r['spearman_p'])} |")
            lines.append("\nPer prior (top 3 each):")
            for prior, table in cell["_correlations_by_prior"].items():
                top = ", ".join(f"{r['feature']} {r['spearman']:+.2f}" for r in table.head(3).to_dict("records")) or "—"
                lines.append(f"- {prior}: {top}")
            lines.append("\nEvery feature: `correlations.csv`." + (
                f" *Caution: {cell['genomes']} genomes; among {len(corr)} features, correlations near ±1 arise "
                "by chance at this n — read the intervals, not the values.*" if cell["genomes"] < SMALL_N else ""))
        lines += _predictor_lines(cell.get("predictor"), cell.get("no_predictor", ""))
        lines.append("")
    if facts.get("calibration"):
        ladder = facts["calibration"]
        lines += ["## Budget calibration", "", *ladder_lines(ladder), ""]
        lines += agreement_lines(result.get("agreement", []),
                                 facts["config"].train_options.get("epochs", ladder["chosen_epochs"]), ladder)
    lines += ["## Plots", ""] + [f"![{title}]({name})\n\n*{title}*\n" for name, title in plots]
    lines += ["## Files", "", "- `evaluations.csv`: one row per complete genome (`nas predictor evaluate --data "
              "evaluations.csv --target test_accuracy`)"]
    if not facts.get("external"):
        lines.append("- `runs.jsonl`: every training run; `genomes.jsonl`: every genome; `study.json`: settings and versions")
    lines += ["- `statistics.json`: every figure above; `correlations.csv`: every feature's correlations", ""]
    return "\n".join(lines)


def _predictor_lines(study: dict | None, reason: str) -> list[str]:
    if study is None:
        return ["", f"*No predictor study: {reason}.*"]
    c = study["compare"]
    lines = ["", "### Predicting accuracy from structure", "",
             f"Repeated 5-fold cross-validation ({c['n_repeats']} repeats, the same splits for both), {study['n']} "
             "genomes; 95 % BCa intervals over architectures; the difference is tested with the corrected repeated k-fold t-test.", "",
             "| predictor | R² | Kendall τ | Spearman ρ |", "|---|---|---|---|"]
    for name, r in c["pipelines"].items():
        lines.append(f"| {name} ({r['description']}) | {_interval(r['r2'], r['r2_low'], r['r2_high'], '.3f')} | "
                     f"{_interval(r['kendall'], r['kendall_low'], r['kendall_high'], '.3f')} | "
                     f"{_interval(r['spearman'], r['spearman_low'], r['spearman_high'], '.3f')} |")
    for pair in c.get("pairs", []):
        lines.append(f"\n{pair['a']} − {pair['b']}: R² difference {pair['r2_diff']:+.3f}, {pair['test']} p = {_p(pair['p'])}.")
    one = study["paper_one_split"]
    lines.append(f"\nThe paper's protocol, **one** 90/10 split ({one['n_train']} / {one['n_test']} genomes), paper "
                 f"pipeline: R² {one['r2']:.3f}, τ {one['kendall']:.3f} — one split, shown only beside the CV figures.")
    if "leave_one_prior_out" in study:
        held = ", ".join(f"{p}: R² {v['r2']:.3f}, τ {v['kendall']:.3f}" for p, v in study["leave_one_prior_out"].items())
        lines.append(f"\nLeave one prior out (product predictor, trained on the other priors): {held}.")
    return lines + transfer_lines(study.get("transfer", []))


def _jsonable(result: dict) -> dict:
    out = {"cells": {}, **({"agreement": result["agreement"]} if "agreement" in result else {})}
    for family, cell in result["cells"].items():
        clean = {k: v for k, v in cell.items() if not k.startswith("_") and k != "predictor"}
        clean["correlations_top"] = cell["_correlations"].head(10).to_dict("records")
        if "predictor" in cell:
            clean["predictor"] = {k: v for k, v in cell["predictor"].items() if not k.startswith("_")}
        out["cells"][family] = clean
    return out


def write_report(folder, *, predictor: bool = True, repeats: int = 10, seed: int = 0) -> Path:
    """Write ``report.md``, the plots, ``evaluations.csv``, ``correlations.csv`` and ``statistics.json``.

    Raises
    ------
    StudyError
        No study in ``folder``, or no genome has finished every seed yet.
    """
    folder = Path(folder)
    frame, facts = genome_table(folder)
    if (folder / CALIBRATION_FILE).is_file():
        facts["calibration"] = read_ladder(folder)
    if frame.empty:
        raise StudyError(f"{str(folder)!r}: no genome has finished all {facts['config'].seeds} seeds yet; nothing to report")
    return _write(folder, frame, facts, predictor=predictor, repeats=repeats, seed=seed)


def write_external_report(path, out, *, prior_column: str, cell_column: str | None = None,
                          target: str = "test_accuracy", id_column: str | None = None, chance: float | None = None,
                          predictor: bool = True, repeats: int = 10, seed: int = 0) -> Path:
    """:func:`write_report` for a study run elsewhere (:func:`nas.studies.priors.external.external_table`),
    into the folder ``out`` (created; its report files are replaced).

    Raises
    ------
    EvaluationDataError, StudyError
        See :func:`~nas.studies.priors.external.external_table`; nothing is written then.
    """
    frame, facts = external_table(path, prior_column=prior_column, cell_column=cell_column, target=target,
                                  id_column=id_column, chance=chance)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    return _write(folder, frame, facts, predictor=predictor, repeats=repeats, seed=seed)


def _write(folder: Path, frame: pd.DataFrame, facts: dict, *, predictor: bool, repeats: int, seed: int) -> Path:
    result = study_statistics(frame, facts, predictor=predictor, repeats=repeats, seed=seed)
    ladder = facts.get("calibration") or {}
    if ladder.get("reference_verdicts") and not ladder.get("own_study"):
        result["agreement"] = agreement(result["cells"], ladder["reference_verdicts"])
    write_text_atomic(folder / "evaluations.csv", frame.to_csv(index=False))
    corr = pd.concat([cell["_correlations"].assign(family=f, prior="all") for f, cell in result["cells"].items()]
                     + [t.assign(family=f, prior=p) for f, cell in result["cells"].items()
                        for p, t in cell["_correlations_by_prior"].items()], ignore_index=True)
    write_text_atomic(folder / "correlations.csv", corr.to_csv(index=False))
    plots = _plots(folder, frame, result, facts)
    write_json_atomic(folder / "statistics.json", to_jsonable(_jsonable(result)))
    return write_text_atomic(folder / "report.md", _markdown(facts, result, plots))

