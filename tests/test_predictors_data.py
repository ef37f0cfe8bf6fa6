"""Reading evaluation data and genome lists: validation with the values involved."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from predictors import read_evaluations, read_genomes
from predictors.data import genome_groups
from predictors.exceptions import EvaluationDataError
from search_spaces.genome import Genome

G = [Genome("watts_strogatz", {"k": 4, "p": 0.5}, nodes=12, seed=s, family=f) for s, f in [(1, "ff"), (2, "rnn:gru"), (3, "ff")]]


def _csv(tmp_path, **cols):
    df = pd.DataFrame({"genome": [g.to_json() for g in G], **cols})
    path = tmp_path / "evals.csv"
    df.to_csv(path, index=False)
    return path


def test_reads_and_validates(tmp_path):
    path = _csv(tmp_path, test_accuracy=[0.5, 0.6, 0.7], synflow=[1, 2, 3], note=["a", "b", "c"])
    df = read_evaluations(path, target="test_accuracy", extra_features=["synflow"], group_by="family")
    assert list(df["family"]) == ["ff", "rnn:gru", "ff"]
    assert df["synflow"].dtype == np.float64 and "note" in df.columns
    assert Genome.from_json(df.genome[1]) == G[1]
    assert list(genome_groups(df, "prior")) == ["watts_strogatz"] * 3


@pytest.mark.parametrize(
    "cols, kwargs, match",
    [
        ({"acc": [0.5, 0.5, 0.5]}, {"target": "acc"}, r"target column 'acc' is constant \(every value is 0.5\)"),
        ({"acc": [0.5, np.nan, 0.7]}, {"target": "acc"}, r"NaN/inf values \(row 1: nan\)"),
        ({"acc": [0.5, "x", 0.7]}, {"target": "acc"}, r"must be numeric; rows \[1\] hold \['x'\]"),
        ({"acc": [0.5, 0.6, 0.7]}, {"target": "test_accuracy"}, r"target column 'test_accuracy' not found; columns are \['genome', 'acc'\]"),
        ({"acc": [0.5, 0.6, 0.7]}, {"target": "acc", "extra_features": ["snip"]}, "extra feature column 'snip' not found"),
        ({"acc": [0.5, 0.6, 0.7]}, {"target": "acc", "min_rows": 5}, "expected at least 5 rows"),
        ({"acc": [0.5, 0.6, 0.7]}, {"group_by": "colour"}, "cannot group by 'colour'"),
    ],
)
def test_bad_data_raises(tmp_path, cols, kwargs, match):
    with pytest.raises(EvaluationDataError, match=match):
        read_evaluations(_csv(tmp_path, **cols), **kwargs)


def test_bad_files(tmp_path):
    with pytest.raises(EvaluationDataError, match="not found"):
        read_evaluations(tmp_path / "none.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(EvaluationDataError, match="empty"):
        read_evaluations(tmp_path / "empty.csv")
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(EvaluationDataError, match="expected a .csv, .tsv or .parquet file"):
        read_evaluations(tmp_path / "x.xlsx")
    pd.DataFrame({"g": [1, 2]}).to_csv(tmp_path / "nog.csv", index=False)
    with pytest.raises(EvaluationDataError, match="expected a column 'genome'"):
        read_evaluations(tmp_path / "nog.csv")
    pd.DataFrame({"genome": ['{"prior": "nope"}', "{}"]}).to_csv(tmp_path / "badg.csv", index=False)
    with pytest.raises(EvaluationDataError, match="row 0: invalid genome"):
        read_evaluations(tmp_path / "badg.csv")


def test_read_genomes(tmp_path):
    (tmp_path / "g.jsonl").write_text("\n".join(g.to_json() for g in G) + "\n\n")
    assert read_genomes(tmp_path / "g.jsonl") == G
    (tmp_path / "g.json").write_text(json.dumps([g.to_dict() for g in G]))
    assert read_genomes(tmp_path / "g.json") == G
    (tmp_path / "bad.jsonl").write_text(G[0].to_json() + "\n{oops\n")
    with pytest.raises(EvaluationDataError, match="line 2: invalid genome"):
        read_genomes(tmp_path / "bad.jsonl")
    (tmp_path / "none.jsonl").write_text("\n")
    with pytest.raises(EvaluationDataError, match="at least one genome"):
        read_genomes(tmp_path / "none.jsonl")
