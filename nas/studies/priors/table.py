"""A prior study's genome table (one row per genome with every seed finished) and the tests of one cell.

Shared by the study's report (:mod:`nas.studies.priors.report`) and by the calibration, whose
reference verdicts are the same tests on its subsample (:mod:`nas.studies.priors.agreement`).
Labels: a genome's accuracy is the mean test accuracy over its training seeds; a run that diverged
counts as chance-level accuracy. A genome *failed* when any run diverged or its accuracy is at most
chance + ``fail_margin``.
"""

from __future__ import annotations

import math

import pandas as pd

from nas.studies.priors import stats
from nas.studies.priors.adequacy import adequacy
from nas.studies.priors.curves import genome_curves
from nas.studies.priors.run import counts, diverged
from nas.studies.priors.store import RUN_FIELDS, StudyStore

__all__ = ["TARGET", "cell_tests", "genome_table"]

TARGET = "test_accuracy"


def genome_table(folder) -> tuple[pd.DataFrame, dict]:
    """One row per genome with all seeds finished, and facts about the study.

    Columns: ``id, family, prior, index, nodes, edges, width, readout, nonzero_weights,
    match_target, match_value, runs, diverged, test_accuracy`` (mean over seeds),
    ``test_accuracy_std``, ``val_accuracy``, ``test_accuracy_seed<k>``, ``failed``, ``genome``
    (JSON, the column ``nas predictor`` reads).
    """
    store = StudyStore(folder)
    config = store.settings()
    chance = store.chance()
    genomes = store.genomes()
    runs = pd.DataFrame(store.records())
    facts = {"config": config, "chance": chance, "genomes_total": len(genomes), "runs": len(runs),
             "provenance": store.provenance()}
    if runs.empty:
        return pd.DataFrame(), {**facts, "complete": 0, "wall_time_s": 0.0}
    runs = runs.reindex(columns=list(dict.fromkeys([*runs.columns, "error", *RUN_FIELDS])))  # all diverged: no metrics
    counted = runs.apply(counts, axis=1)
    done = set(zip(runs.loc[counted, "id"], runs.loc[counted, "seed"]))
    # runs that failed for other reasons and have not been retried successfully yet
    facts["other_errors"] = len({(i, s) for i, s in zip(runs.loc[~counted, "id"], runs.loc[~counted, "seed"])} - done)
    runs = runs[counted].drop_duplicates(["id", "seed"], keep="last")
    if runs.empty:
        return pd.DataFrame(), {**facts, "complete": 0, "wall_time_s": 0.0}
    runs["diverged"] = runs.apply(diverged, axis=1)
    runs["acc"] = runs[TARGET].astype(float).where(~runs["diverged"], chance)
    runs["val"] = runs["val_accuracy"].astype(float).where(~runs["diverged"], chance)
    wide = runs.pivot(index="id", columns="seed", values="acc")
    wide = wide.reindex(columns=range(config.seeds))
    complete = wide.dropna()
    rows = []
    info = {g.id: g for g in genomes}
    per_id = runs.groupby("id")
    for gid in [g.id for g in genomes if g.id in complete.index]:
        g, r = info[gid], per_id.get_group(gid)
        accs = complete.loc[gid].to_numpy(dtype=float)
        graph = g.genome.graph()
        row = {"id": gid, "family": g.family, "prior": g.prior, "index": g.index, "nodes": g.genome.nodes,
               "edges": graph.number_of_edges(), "width": g.genome.width, "readout": g.genome.readout,
               "nonzero_weights": _first(r["nonzero_weights"]) if "nonzero_weights" in r else None,
               "match_target": g.match_target, "match_value": g.match_value, "runs": len(accs),
               "diverged": int(r["diverged"].sum()), TARGET: float(accs.mean()),
               f"{TARGET}_std": float(accs.std(ddof=1)), "val_accuracy": float(r["val"].mean())}
        row.update({f"{TARGET}_seed{k}": float(a) for k, a in enumerate(accs)})
        row.update(genome_curves(r))
        row["failed"] = bool(row["diverged"] > 0 or row[TARGET] <= chance + config.fail_margin)
        row["genome"] = g.genome.to_json()
        rows.append(row)
    wall = float(runs["wall_time_s"].astype(float).fillna(0).sum()) if "wall_time_s" in runs else 0.0
    return pd.DataFrame(rows), {**facts, "complete": len(rows), "wall_time_s": wall}


def _first(series):
    values = [v for v in series if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return int(values[0]) if values else None



def cell_tests(part: pd.DataFrame, seeds: int, seed: int = 0) -> dict:
    """One cell's tests between priors (``kruskal``, ``pairs``: Holm-corrected Mann–Whitney with
    Cliff's δ), its seed noise (``noise``, or ``no_noise`` saying why not) and its budget adequacy
    with a verdict per pair of priors (``adequacy``)."""
    cell: dict = {}
    by_prior = {p: g[TARGET].to_numpy() for p, g in part.groupby("prior", sort=False)}
    if len(by_prior) >= 2 and all(v.size >= 2 for v in by_prior.values()):
        tests = stats.compare_groups(by_prior)
        cell["kruskal"], cell["pairs"] = tests["kruskal"], tests["pairs"].to_dict("records")
    if seeds < 2:
        cell["no_noise"] = "one run per genome: the seed noise and the noise ceiling cannot be computed"
    elif len(part) >= 3:
        cell["noise"] = stats.noise_ceiling(part[[f"{TARGET}_seed{k}" for k in range(seeds)]].to_numpy(), seed=seed)
    cell["adequacy"] = adequacy(part, cell.get("pairs"), cell.get("noise"))
    return cell
