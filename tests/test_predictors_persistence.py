"""Save/load: identical predictions after the round trip; tampered or foreign files refused."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from predictors import load_predictor, make_predictor, predict_with_uncertainty, read_predictor_metadata, save_predictor
from predictors.exceptions import PredictorFileError
from predictors.synthetic import synthetic_evaluations


@pytest.fixture(scope="module")
def data():
    df = synthetic_evaluations(30, seed=4)
    return df, df["test_accuracy"].to_numpy()


@pytest.mark.parametrize(
    "model, params", [("rf", {"n_estimators": 10}), ("gp", {"n_restarts_optimizer": 0}), ("ensemble", {"n_estimators": 5}), ("svr", {})]
)
def test_round_trip_gives_identical_predictions(tmp_path, data, model, params):
    df, y = data
    pipe = make_predictor(model, group="paper", random_state=0, **params).fit(df, y)
    path = save_predictor(pipe, tmp_path / "p.skops", {"n_architectures": len(df), "target": "test_accuracy"})
    loaded = load_predictor(path)
    genomes = df.genome.tolist()
    np.testing.assert_array_equal(loaded.predict(genomes), pipe.predict(genomes))
    a, b = predict_with_uncertainty(pipe, genomes), predict_with_uncertainty(loaded, genomes)
    np.testing.assert_array_equal(a.std, b.std)
    meta = read_predictor_metadata(path)
    assert meta["feature_group"] == "paper" and len(meta["feature_names"]) == 23
    assert meta["training_summary"] == {"n_architectures": 30, "target": "test_accuracy"}
    assert "scikit-learn" in meta["library_versions"]


def _rewrite(src, dst, edit_schema):
    """Copy a skops archive, passing its schema through ``edit_schema`` (a tampering)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "schema.json":
                data = json.dumps(edit_schema(json.loads(data))).encode()
            zout.writestr(item, data)
    return dst


@pytest.fixture()
def saved(tmp_path, data):
    df, y = data
    pipe = make_predictor("rf", group="size", random_state=0, n_estimators=5).fit(df, y)
    return save_predictor(pipe, tmp_path / "ok.skops")


def test_tampered_feature_names_refused(saved, tmp_path):
    def edit(schema):
        node = schema["content"]["metadata_json"]
        meta = json.loads(json.loads(node["content"]))
        meta["feature_names"] = ["nodes", "edges", "diameter"]
        node["content"] = json.dumps(json.dumps(meta))
        return schema

    bad = _rewrite(saved, tmp_path / "bad.skops", edit)
    with pytest.raises(PredictorFileError, match=r"differ from the recorded ones"):
        load_predictor(bad)


def test_untrusted_type_refused(saved, tmp_path):
    def edit(schema):
        node = schema["content"]["pipeline"]
        node["__module__"], node["__class__"] = "os", "system"
        return schema

    bad = _rewrite(saved, tmp_path / "evil.skops", edit)
    with pytest.raises(PredictorFileError, match=r"refusing to load untrusted types \['os.system'\]"):
        load_predictor(bad)


def test_corrupt_and_foreign_files_refused(saved, tmp_path):
    raw = saved.read_bytes()
    (tmp_path / "cut.skops").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(PredictorFileError, match="cannot read it"):
        load_predictor(tmp_path / "cut.skops")
    (tmp_path / "text.skops").write_text("not a zip")
    with pytest.raises(PredictorFileError):
        load_predictor(tmp_path / "text.skops")
    with pytest.raises(PredictorFileError, match="not found"):
        load_predictor(tmp_path / "missing.skops")
    import skops.io as sio

    sio.dump({"a": 1}, tmp_path / "other.skops")
    with pytest.raises(PredictorFileError, match="expected a sparse-nas predictor"):
        load_predictor(tmp_path / "other.skops")


def test_file_from_another_feature_set_refused(saved, monkeypatch):
    import search_spaces.features as F

    monkeypatch.setitem(F.FEATURE_GROUPS, "size", ("nodes", "edges"))
    with pytest.raises(PredictorFileError, match="made for another feature set"):
        load_predictor(saved)


def test_file_from_another_feature_version_refused(saved, tmp_path, monkeypatch):
    import search_spaces.features as F

    assert read_predictor_metadata(saved)["feature_version"] == F.FEATURE_VERSION
    monkeypatch.setattr(F, "FEATURE_VERSION", F.FEATURE_VERSION + 1)  # same names, other values
    with pytest.raises(PredictorFileError, match=rf"feature version {F.FEATURE_VERSION - 1}, .* computes version {F.FEATURE_VERSION}"):
        load_predictor(saved)
    monkeypatch.undo()

    def schema_1(schema):  # a file written before the sample variances: no feature version
        node = schema["content"]["metadata_json"]
        meta = json.loads(json.loads(node["content"]))
        meta["schema_version"] = 1
        del meta["feature_version"]
        node["content"] = json.dumps(json.dumps(meta))
        return schema

    old = _rewrite(saved, tmp_path / "old.skops", schema_1)
    with pytest.raises(PredictorFileError, match=r"expected schema version 2, got 1 \(.*ddof=0; refit it\)"):
        load_predictor(old)


def test_expected_features_checked(saved):
    with pytest.raises(PredictorFileError, match="expected features"):
        load_predictor(saved, expected_features=["nodes"])


def test_unfitted_or_foreign_pipeline_not_saved(tmp_path):
    with pytest.raises(PredictorFileError, match="expected a fitted predictor"):
        save_predictor(make_predictor("rf"), tmp_path / "x.skops")
    from predictors import make_regressor

    with pytest.raises(PredictorFileError, match="first step is GraphFeatures"):
        save_predictor(make_regressor("rf"), tmp_path / "x.skops")
    assert not (tmp_path / "x.skops").exists()
