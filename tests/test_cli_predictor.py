"""``nas predictor``: evaluate (table, JSON, plots), fit, predict, and one-line errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from nas.cli.main import main
from predictors.synthetic import synthetic_evaluations


@pytest.fixture(scope="module")
def evals(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evals")
    df = synthetic_evaluations(36, seed=7)
    df["constant"] = 0.5
    df.to_csv(folder / "evals.csv", index=False)
    (folder / "g.jsonl").write_text("\n".join(df.genome[:4]) + "\n")
    return folder


FAST = ["--folds", "3", "--repeats", "1", "--bootstrap", "20", "--sizes", "10,20"]


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_evaluate_prints_table_and_writes_plots(evals, capsys):
    code, out, err = run(["predictor", "evaluate", "--data", str(evals / "evals.csv"), "--target", "test_accuracy", "--model", "knn", *FAST], capsys)
    assert code == 0, err
    assert "R²" in out and "Kendall τ" in out and "95% CI" in out and "36 architectures" in out
    plots = evals / "evals_predictor_knn"
    for name in ("predicted_vs_actual.png", "learning_curve.png", "feature_importance.png", "evaluation.json", "config.json"):
        assert (plots / name).stat().st_size > 0
    assert json.loads((plots / "config.json").read_text())["config"]["model"] == "knn"


def test_evaluate_json_grouped(evals, tmp_path, capsys):
    args = ["predictor", "evaluate", "--data", str(evals / "evals.csv"), "--target", "test_accuracy", "--model", "bayes_ridge",
            "--group-by", "prior", "--json", "--plots", str(tmp_path / "p"), *FAST]
    code, out, err = run(args, capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["grouped"] and sorted(result["fold_labels"]) == ["barabasi_albert", "erdos_renyi", "watts_strogatz"]
    r2 = result["metrics"]["r2"]
    assert {"mean", "ci_low", "ci_high"} <= set(r2) and result["n_architectures"] == 36
    assert set(result["plots"]) == {"predicted_vs_actual", "learning_curve", "feature_importance"}


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--target", "constant"], "is constant"),
        (["--target", "nope"], "target column 'nope' not found"),
        (["--target", "test_accuracy", "--folds", "50"], "expected at least 50 rows"),
    ],
)
def test_evaluate_errors_are_one_line(evals, capsys, extra, message):
    code, out, err = run(["predictor", "evaluate", "--data", str(evals / "evals.csv"), "--no-plots", *extra], capsys)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_fit_predict_round_trip(evals, tmp_path, capsys):
    out_file = tmp_path / "p.skops"
    code, out, err = run(["predictor", "fit", "--data", str(evals / "evals.csv"), "--target", "test_accuracy", "--model", "rf",
                          "--param", "n_estimators=20", "--out", str(out_file)], capsys)
    assert code == 0, err
    assert "36 architectures" in out and out_file.exists()
    code, out, err = run(["predictor", "predict", str(out_file), "--genomes", str(evals / "g.jsonl")], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "id,key,prediction,std,genome" and len(lines) == 5
    code, out, err = run(["predictor", "predict", str(out_file), "--genomes", str(evals / "g.jsonl"), "--json"], capsys)
    rows = json.loads(out)
    assert len(rows) == 4 and all(r["std"] is not None and 0 <= r["prediction"] <= 1.5 for r in rows)
    assert [r["id"] for r in rows] == [r["key"] for r in rows]  # bare genomes: the key stands for the id


def test_predict_keeps_the_ids_of_imported_records_and_writes_out(evals, tmp_path, capsys):
    out_file = tmp_path / "p.skops"
    assert run(["predictor", "fit", "--data", str(evals / "evals.csv"), "--target", "test_accuracy", "--model", "rf",
                "--param", "n_estimators=10", "--out", str(out_file)], capsys)[0] == 0
    genomes = [line for line in (evals / "g.jsonl").read_text().splitlines() if line.strip()]
    records = tmp_path / "imported.jsonl"  # the layout nas arch import --jsonl writes
    records.write_text("".join(json.dumps({"id": f"graph-{i}", "genome": json.loads(g), "source": "x"}) + "\n"
                               for i, g in enumerate(genomes)))
    dest = tmp_path / "pred.csv"
    code, out, err = run(["predictor", "predict", str(out_file), "--genomes", str(records), "--out", str(dest)], capsys)
    assert code == 0, err
    table = pd.read_csv(dest)
    assert list(table["id"]) == [f"graph-{i}" for i in range(len(genomes))] and out == ""
    before = dest.read_bytes()
    code, _, err = run(["predictor", "predict", str(out_file), "--genomes", str(records), "--out", str(dest)], capsys)
    assert code == 1 and "exists" in err and dest.read_bytes() == before  # not replaced without --overwrite
    code, _, err = run(["predictor", "predict", str(out_file), "--genomes", str(records), "--out", str(dest),
                        "--json", "--overwrite"], capsys)
    assert code == 0 and [r["id"] for r in json.loads(dest.read_text())][0] == "graph-0"


def test_fit_with_tuning(evals, tmp_path, capsys):
    code, out, err = run(["predictor", "fit", "--data", str(evals / "evals.csv"), "--target", "test_accuracy", "--model", "knn",
                          "--tune", "3", "--folds", "3", "--out", str(tmp_path / "t.skops")], capsys)
    assert code == 0, err
    assert "tuned 3 trials" in out
    from predictors import read_predictor_metadata

    assert read_predictor_metadata(tmp_path / "t.skops")["training_summary"]["tuning_trials"] == 3


def test_predict_refuses_a_damaged_file(evals, tmp_path, capsys):
    (tmp_path / "bad.skops").write_bytes(b"PK\x03\x04 not really")
    code, out, err = run(["predictor", "predict", str(tmp_path / "bad.skops"), "--genomes", str(evals / "g.jsonl")], capsys)
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1


def test_models_lists_registry(capsys):
    code, out, _ = run(["predictor", "models"], capsys)
    assert code == 0 and "gp" in out and "uncertainty=native" in out


def test_predict_with_extra_feature_columns(evals, tmp_path, capsys):
    out_file = tmp_path / "x.skops"
    code, _, err = run(["predictor", "fit", "--data", str(evals / "evals.csv"), "--target", "test_accuracy", "--model", "bayes_ridge",
                        "--features", "size", "--extra-features", "epoch1_accuracy", "--out", str(out_file)], capsys)
    assert code == 0, err
    code, out, err = run(["predictor", "predict", str(out_file), "--genomes", str(evals / "evals.csv")], capsys)
    assert code == 0, err
    assert len(out.strip().splitlines()) == 37
    code, out, err = run(["predictor", "predict", str(out_file), "--genomes", str(evals / "g.jsonl")], capsys)
    assert code == 1 and "needs the columns ['epoch1_accuracy']" in err


def test_evaluate_compares_with_the_paper_and_nests_tuning(evals, capsys):
    args = ["predictor", "evaluate", "--data", str(evals / "evals.csv"), "--target", "test_accuracy", "--model", "knn",
            "--compare-paper", "--nested-tune", "2", "--no-plots", "--json", *FAST]
    code, out, err = run(args, capsys)
    assert code == 0, err
    result = json.loads(out)
    assert set(result["compare_paper"]["pipelines"]) == {"knn", "paper"}
    assert result["compare_paper"]["pairs"][0]["test"].startswith("corrected repeated k-fold t-test")
    assert len(result["nested_tuning"]["best_params"]) == 3  # one tuning per outer fold


def test_evaluate_grouped_kfold_needs_groups(evals, capsys):
    base = ["predictor", "evaluate", "--data", str(evals / "evals.csv"), "--target", "test_accuracy", "--model", "knn",
            "--no-plots", "--json", *FAST]
    code, _, err = run([*base, "--cv", "group_kfold"], capsys)
    assert code == 1 and "needs --group-by" in err and len(err.strip().splitlines()) == 1
    code, out, err = run([*base, "--cv", "group_kfold", "--group-by", "nodes"], capsys)
    assert code == 0, err
    assert json.loads(out)["cv"] == "group_kfold"


def test_a_table_cut_short_is_used_with_a_one_line_warning(evals, tmp_path, capsys):
    text = (evals / "evals.csv").read_text()
    cut = tmp_path / "cut.csv"
    cut.write_text(text.rstrip("\n")[:-2])  # the last row's last value loses its last digits and line end
    code, out, err = run(["predictor", "evaluate", "--data", str(cut), "--target", "test_accuracy", "--no-plots",
                          *FAST], capsys)
    assert code == 0
    lines = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(lines) == 1 and "cut short" in lines[0] and str(cut) in lines[0]
    code, out, err = run(["predictor", "evaluate", "--data", str(evals / "evals.csv"), "--target", "test_accuracy",
                          "--no-plots", *FAST], capsys)
    assert code == 0 and "warning:" not in err  # a whole file: no warning


def test_evaluate_shows_its_folds_on_a_terminal_only(evals, terminal):
    args = ["predictor", "evaluate", "--data", str(evals / "evals.csv"), "--target", "test_accuracy", "--no-plots", *FAST]
    terminal.attach()
    assert main(args) == 0
    assert "cross-validation" in str(terminal) and "/3 [" in str(terminal)
    terminal.text.clear()
    assert main([*args, "--no-progress"]) == 0
    assert "cross-validation" not in str(terminal)
