"""GraphFeatures: inputs it accepts, determinism, extra columns, typed errors, no torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from predictors import GraphFeatures
from predictors.exceptions import EvaluationDataError
from search_spaces.features import FEATURE_GROUPS, feature_vector
from search_spaces.genome import Genome

GENOMES = [
    Genome("watts_strogatz", {"k": 4, "p": 0.5}, nodes=14, seed=1),
    Genome("barabasi_albert", {"m": 2}, nodes=12, seed=2),
    Genome("erdos_renyi", {"p": 0.3}, nodes=10, seed=3),
]


@pytest.mark.parametrize("group", sorted(FEATURE_GROUPS))
def test_groups_give_their_features_in_order(group):
    feats = GraphFeatures(group=group).fit(GENOMES)
    assert list(feats.get_feature_names_out()) == list(FEATURE_GROUPS[group])
    X = feats.transform(GENOMES)
    assert X.shape == (3, len(FEATURE_GROUPS[group]))
    expected = feature_vector(GENOMES[1].dag(), FEATURE_GROUPS[group])
    np.testing.assert_array_equal(X[1], expected)


def test_genomes_json_dags_and_dataframe_agree():
    feats = GraphFeatures(group="paper")
    a = feats.fit_transform(GENOMES)
    b = feats.fit_transform([g.to_json() for g in GENOMES])
    c = feats.fit_transform([g.dag() for g in GENOMES])
    d = feats.fit_transform(pd.DataFrame({"genome": [g.to_json() for g in GENOMES]}))
    for other in (b, c, d):
        np.testing.assert_array_equal(a, other)
    # deterministic: same again, and a repeated genome gives the same row
    np.testing.assert_array_equal(a, GraphFeatures(group="paper").fit_transform(GENOMES))
    rep = feats.fit_transform([GENOMES[0], GENOMES[0]])
    np.testing.assert_array_equal(rep[0], rep[1])


def test_extra_columns_are_appended():
    df = pd.DataFrame({"genome": [g.to_json() for g in GENOMES], "synflow": [1.0, 2.0, 3.0], "other": ["a", "b", "c"]})
    feats = GraphFeatures(group="size", extra_columns=("synflow",)).fit(df)
    assert list(feats.get_feature_names_out()) == [*FEATURE_GROUPS["size"], "synflow"]
    np.testing.assert_array_equal(feats.transform(df)[:, -1], [1.0, 2.0, 3.0])


def test_clone_and_params():
    feats = GraphFeatures(group="paper", extra_columns=("x",))
    assert clone(feats).get_params() == {"group": "paper", "extra_columns": ("x",)}


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: GraphFeatures(group="nope").fit(GENOMES), "unknown feature group 'nope'"),
        (lambda: GraphFeatures(extra_columns=("synflow",)).fit(GENOMES), "need a DataFrame"),
        (lambda: GraphFeatures(extra_columns=("zz",)).fit(pd.DataFrame({"genome": []})), r"extra columns \['zz'\] not found"),
        (lambda: GraphFeatures().fit_transform(["{not json"]), "row 0: cannot read the genome"),
        (lambda: GraphFeatures().fit_transform([42]), "row 0: expected a Genome"),
        (lambda: GraphFeatures().fit_transform(pd.DataFrame({"g": [1]})), "expected a column 'genome'"),
        (lambda: GraphFeatures().fit_transform([]), "at least one architecture"),
        (lambda: GraphFeatures().fit_transform(GENOMES[0]), "single Genome"),
    ],
)
def test_bad_inputs_raise_typed_errors(make, match):
    with pytest.raises(EvaluationDataError, match=match):
        make()


def test_non_finite_extra_column_is_refused():
    df = pd.DataFrame({"genome": [g.to_json() for g in GENOMES], "snip": [1.0, np.nan, 2.0]})
    with pytest.raises(EvaluationDataError, match=r"NaN/inf values \(row 1 snip=nan\)"):
        GraphFeatures(group="size", extra_columns=("snip",)).fit_transform(df)


def test_transform_before_fit_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        GraphFeatures().transform(GENOMES)


def test_predictors_never_imports_torch():
    code = "import predictors, predictors.synthetic, sys; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
