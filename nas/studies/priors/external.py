"""A prior study run elsewhere: its evaluations as the report's genome table.

``nas priors report --evaluations FILE.csv --prior-column C [--cell-column C]`` reads a table of
training runs (one row per run: a ``genome`` JSON column — what ``nas arch import`` + ``nas arch
join`` write —, the prior, the metric, optionally the cell) and builds the same report as a study
of the product's own (:mod:`nas.studies.priors.report`). Rows of the same genome (by ``--id-column``,
else the genome's key) are its runs, in file order; a genome's label is the mean over its runs.
Nothing is assumed that the file does not say: priors of different sizes are reported with their
sizes, and with one run per genome the seed-noise section says it cannot be computed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

import predictors
from nas.exceptions import StudyError
from predictors.exceptions import EvaluationDataError
from search_spaces.genome import Genome

__all__ = ["MIN_GENOMES_PER_PRIOR", "external_table"]

#: Fewest genomes per prior and cell an external study must have (tests between priors need them).
MIN_GENOMES_PER_PRIOR = 3


def external_table(path, *, prior_column: str, cell_column: str | None = None, target: str = "test_accuracy",
                   id_column: str | None = None, chance: float | None = None,
                   fail_margin: float = 0.0) -> tuple[pd.DataFrame, dict]:
    """The genome table and facts of :func:`nas.studies.priors.report.genome_table` from ``path``.

    Parameters
    ----------
    path : str or Path
        CSV / TSV / Parquet with a ``genome`` column (:func:`predictors.read_evaluations`).
    prior_column : str
        The column naming each run's prior.
    cell_column : str, optional
        The column naming each run's cell (default: the genome's family).
    target : str
        The metric (a genome's label is its mean over runs); the report calls it test accuracy.
    id_column : str, optional
        The column identifying a genome (default: the genome's key).
    chance : float, optional
        Chance-level accuracy: genomes at most ``chance + fail_margin`` count as failed (without it
        ``failed`` is empty and the report says so).

    Returns
    -------
    (DataFrame, dict)
        Columns ``id, family, prior, nodes, edges, width, readout, runs, test_accuracy,
        test_accuracy_std, test_accuracy_seed<k>`` (the first ``k`` runs, ``k`` the fewest runs of
        any genome), ``failed, genome``; facts: ``source, prior_column, cell_column, target,
        runs, runs_min, runs_max, seeds`` (= ``k``), ``complete``, ``genomes_total``, ``chance``.

    Raises
    ------
    EvaluationDataError
        The file, a column or a genome cannot be read (see :func:`predictors.read_evaluations`).
    StudyError
        A named column is missing, a genome's rows name two priors or cells, or a cell has a prior
        with fewer than :data:`MIN_GENOMES_PER_PRIOR` genomes.
    """
    path = Path(path)
    df = predictors.read_evaluations(path, target=target)
    named = {"--prior-column": prior_column, "--cell-column": cell_column, "--id-column": id_column}
    missing = [f"{flag} {col!r}" for flag, col in named.items() if col is not None and col not in df.columns]
    if missing:
        raise StudyError(f"{path}: expected the columns of {', '.join(missing)}; the file has {list(df.columns)}")
    if chance is not None and not (0.0 <= chance < 1.0):
        raise StudyError(f"--chance must be in [0, 1), got {chance}")
    genomes = [Genome.from_json(text) for text in df["genome"]]
    runs = pd.DataFrame({
        "id": df[id_column].astype(str) if id_column else [g.key for g in genomes],
        "prior": df[prior_column].astype(str),
        "family": df[cell_column].astype(str) if cell_column else [g.family for g in genomes],
        "value": df[target].to_numpy(dtype=float),
        "genome": df["genome"],
    })
    for column, what in (("prior", "prior"), ("family", "cell"), ("genome", "genome")):
        mixed = runs.groupby("id", sort=False)[column].nunique()
        if (mixed > 1).any():
            raise StudyError(f"{path}: genome {mixed[mixed > 1].index[0]!r} has rows of more than one {what}; "
                             "expected every run of a genome to share it")
    per_genome = runs.groupby("id", sort=False)
    counts = per_genome.size()
    sizes = runs.drop_duplicates("id").groupby(["family", "prior"]).size()
    small = sizes[sizes < MIN_GENOMES_PER_PRIOR]
    if not small.empty:
        (cell, prior), n = small.index[0], int(small.iloc[0])
        raise StudyError(f"{path}: expected at least {MIN_GENOMES_PER_PRIOR} genomes per prior in every cell; "
                         f"prior {prior!r} of cell {cell!r} has {n}")
    k = int(counts.min())
    rows = []
    for gid, part in per_genome:
        genome = Genome.from_json(part["genome"].iloc[0])
        values = part["value"].to_numpy()
        row = {"id": gid, "family": part["family"].iloc[0], "prior": part["prior"].iloc[0], "nodes": genome.nodes,
               "edges": genome.graph().number_of_edges(), "width": genome.width, "readout": genome.readout,
               "runs": int(values.size), "test_accuracy": float(values.mean()),
               "test_accuracy_std": float(values.std(ddof=1)) if values.size > 1 else math.nan}
        row.update({f"test_accuracy_seed{s}": float(v) for s, v in enumerate(values[:k])})
        row["failed"] = None if chance is None else bool(row["test_accuracy"] <= chance + fail_margin)
        row["genome"] = genome.to_json()
        rows.append(row)
    frame = pd.DataFrame(rows)
    facts = {"source": str(path), "prior_column": prior_column, "cell_column": cell_column, "target": target,
             "runs": len(runs), "runs_min": k, "runs_max": int(counts.max()), "seeds": k, "complete": len(frame),
             "genomes_total": len(frame), "chance": chance, "fail_margin": fail_margin,
             "wall_time_s": math.nan, "external": True}
    if np.ptp(frame["test_accuracy"].to_numpy()) == 0:
        raise EvaluationDataError(f"{path}: every genome's mean {target} is the same; nothing to compare")
    return frame, facts
