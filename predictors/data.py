"""Reading evaluation data (what the ledger exports) and genome lists, with validation.

Evaluation data: CSV or Parquet, one row per trained architecture, a column ``genome`` holding the
genome's JSON and one column per metric (``test_accuracy``, ``val_accuracy``, ...). Other columns
are kept and ignored unless named (as the target, an extra feature or a group).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from predictors.exceptions import CutShortWarning, EvaluationDataError
from predictors.features import GENOME_COLUMN
from search_spaces.exceptions import SearchSpaceError
from search_spaces.genome import Genome

__all__ = ["read_evaluations", "read_genomes", "read_genome_records", "genome_record", "genome_groups", "DERIVED_GROUPS"]

#: Group labels that can be derived from the genome when the data has no such column.
DERIVED_GROUPS = ("prior", "family", "nodes")


def _warn_if_cut_short(path: Path) -> None:
    """Warn when a text table does not end with a line end (see :class:`CutShortWarning`)."""
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb") as handle:
        handle.seek(size - 1)
        last = handle.read(1)
    if last not in (b"\n", b"\r"):
        warnings.warn(f"{path}: the last line has no line end; if the file was cut short, its last row holds a "
                      "damaged value (check it, or end the file with a newline)", CutShortWarning, stacklevel=3)


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        _warn_if_cut_short(path)
    try:
        if suffix in (".csv", ".txt"):
            return pd.read_csv(path)
        if suffix in (".tsv",):
            return pd.read_csv(path, sep="\t")
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except ImportError as err:
        raise EvaluationDataError(f"{path}: reading Parquet needs pyarrow or fastparquet ({err})") from None
    except pd.errors.EmptyDataError:
        raise EvaluationDataError(f"{path}: expected evaluation data, the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as err:
        raise EvaluationDataError(f"{path}: cannot parse the file ({type(err).__name__}: {err})") from None
    raise EvaluationDataError(f"{path}: expected a .csv, .tsv or .parquet file, got {suffix or 'no suffix'!r}")


def _numeric_column(df: pd.DataFrame, col: str, path, role: str) -> pd.Series:
    if col not in df.columns:
        raise EvaluationDataError(f"{path}: {role} column {col!r} not found; columns are {list(df.columns)}")
    values = pd.to_numeric(df[col], errors="coerce")
    bad_text = df[col].notna() & values.isna()
    if bad_text.any():
        rows = [int(i) for i in np.flatnonzero(bad_text.to_numpy())[:5]]
        raise EvaluationDataError(f"{path}: {role} column {col!r} must be numeric; rows {rows} hold {list(df[col].iloc[rows])}")
    arr = values.to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        shown = ", ".join(f"row {i}: {arr[i]}" for i in bad[:5])
        raise EvaluationDataError(f"{path}: {role} column {col!r} has {bad.size} NaN/inf values ({shown})")
    return values.astype(np.float64)


def genome_groups(df: pd.DataFrame, by: str) -> np.ndarray:
    """Group labels per row: the column ``by`` if present, else derived from the genome.

    Raises
    ------
    EvaluationDataError
        ``by`` is neither a column nor one of :data:`DERIVED_GROUPS`.
    """
    if by in df.columns:
        return df[by].astype(str).to_numpy()
    if by not in DERIVED_GROUPS:
        raise EvaluationDataError(f"cannot group by {by!r}: not a column ({list(df.columns)}) nor one of {list(DERIVED_GROUPS)}")
    return np.asarray([str(getattr(Genome.from_json(s), by)) for s in df[GENOME_COLUMN]])


def read_evaluations(
    path,
    *,
    target: str | None = None,
    extra_features: Sequence[str] = (),
    group_by: str | None = None,
    min_rows: int = 2,
) -> pd.DataFrame:
    """Read and validate an evaluations file.

    Parameters
    ----------
    path : str or Path
        CSV (``.csv``), TSV or Parquet (``.parquet``; needs pyarrow).
    target : str, optional
        The metric to predict: must exist, be numeric, finite and not constant.
    extra_features : sequence of str
        Columns used as extra features: must exist, be numeric and finite.
    group_by : str, optional
        A column, or ``prior`` / ``family`` / ``nodes`` derived from the genome.
    min_rows : int
        Fewest rows accepted (e.g. the number of CV folds).

    Returns
    -------
    DataFrame
        The data with the ``genome`` column as canonical genome JSON, numeric target and extra
        columns as float64, and (if ``group_by`` names a derived group) that column added.

    Raises
    ------
    EvaluationDataError
        Missing file, unknown format, too few rows, missing ``genome`` column or an unreadable
        genome (with its row), or a bad target / extra column (with the offending values).
    """
    path = Path(path)
    if not path.is_file():
        raise EvaluationDataError(f"evaluation data not found: {path}")
    df = _read_table(path)
    if len(df) < min_rows:
        raise EvaluationDataError(f"{path}: expected at least {min_rows} rows (architectures), got {len(df)}")
    if GENOME_COLUMN not in df.columns:
        raise EvaluationDataError(f"{path}: expected a column {GENOME_COLUMN!r} with genome JSON; columns are {list(df.columns)}")
    canonical = []
    for row, text in enumerate(df[GENOME_COLUMN]):
        try:
            canonical.append(Genome.from_json(text if isinstance(text, str) else json.dumps(text)).to_json())
        except SearchSpaceError as err:
            raise EvaluationDataError(f"{path}: row {row}: invalid genome: {err}") from None
    df = df.copy()
    df[GENOME_COLUMN] = canonical
    if target is not None:
        df[target] = _numeric_column(df, target, path, "target")
        if np.ptp(df[target].to_numpy()) == 0:
            raise EvaluationDataError(f"{path}: target column {target!r} is constant (every value is {float(df[target].iloc[0])!r}); nothing to predict")
    for col in extra_features:
        df[col] = _numeric_column(df, col, path, "extra feature")
    if group_by is not None and group_by not in df.columns:
        df[group_by] = genome_groups(df, group_by)
    return df


def genome_record(text: str) -> tuple[str | None, Genome]:
    """``(id, genome)`` of one JSON text: a genome, or any record the product writes that holds
    one under ``genome`` (a line of ``nas arch import --jsonl``, a search's ``best/genome.json``);
    the id is the record's ``id`` as text, None where there is none.

    Raises
    ------
    SearchSpaceError
        Invalid JSON or an invalid genome (the typed error of :class:`Genome`).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None, Genome.from_json(text)  # raises the typed error, with the text
    ident = None
    if isinstance(data, dict) and "genome" in data:
        ident = None if data.get("id") is None else str(data["id"])
        data = data["genome"]
    return ident, Genome.from_json(data) if isinstance(data, str) else Genome.from_dict(data)


def read_genomes(path) -> list[Genome]:
    """Genomes from a JSON-lines file (one genome JSON per line) or a JSON list.

    An item may also be a record ``{"id": ..., "genome": {...}, ...}`` (what ``nas arch import``
    writes with ``--jsonl``); its ``genome`` is read and the other fields are ignored
    (:func:`read_genome_records` keeps the ids).

    Raises
    ------
    EvaluationDataError
        Missing file, no genomes, or an invalid genome (with its line number).
    """
    return [genome for _, genome in read_genome_records(path)]


def read_genome_records(path) -> list[tuple[str | None, Genome]]:
    """``(id, genome)`` per item of a genome file (see :func:`read_genomes`): the id of a record
    ``{"id": ..., "genome": ...}`` as text, None for a bare genome.

    Raises
    ------
    EvaluationDataError
        As :func:`read_genomes`.
    """
    path = Path(path)
    if not path.is_file():
        raise EvaluationDataError(f"genome file not found: {path}")
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise EvaluationDataError(f"{path}: not UTF-8 text (expected genome JSON lines or a JSON list)") from None
    if path.suffix.lower() == ".json":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as err:
            raise EvaluationDataError(f"{path}: expected a JSON list of genomes ({err})") from None
        if not isinstance(items, list):
            raise EvaluationDataError(f"{path}: expected a JSON list of genomes, got {type(items).__name__}")
        lines = [(i, json.dumps(item)) for i, item in enumerate(items)]
        where = "item"
    else:
        lines = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip()]
        where = "line"
    records = []
    for i, line in lines:
        try:
            records.append(genome_record(line))
        except SearchSpaceError as err:
            raise EvaluationDataError(f"{path}: {where} {i}: invalid genome: {err}") from None
    if not records:
        raise EvaluationDataError(f"{path}: expected at least one genome, got none")
    return records
