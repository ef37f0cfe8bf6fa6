"""``nas priors report --evaluations``: the prior study's report from a study run elsewhere."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nas.cli.main import main
from nas.exceptions import StudyError
from nas.studies.priors.external import external_table
from search_spaces.genome import Genome


def _study(path, *, runs=1, sizes=(4, 6), gap=0.2, id_column=False):
    """A study from elsewhere: ``sizes`` genomes of erdos_renyi (better by ``gap``) and of
    barabasi_albert, ``runs`` rows (training runs) per genome."""
    rng = np.random.default_rng(0)
    rows = []
    for prior, params, n, base in (("erdos_renyi", {"p": 0.3}, sizes[0], 0.6 + gap), ("barabasi_albert", {"m": 2}, sizes[1], 0.6)):
        for i in range(n):
            genome = Genome(prior, params, nodes=10 + i, seed=i, family="rnn:gru", readout="last")
            for run in range(runs):
                rows.append({"graph": f"{prior}-{i}", "genome": genome.to_json(), "generator": prior,
                             "accuracy": base + 0.01 * i + 0.005 * rng.standard_normal(), "run": run})
    frame = pd.DataFrame(rows)
    if not id_column:
        frame = frame.drop(columns="graph")
    frame.to_csv(path, index=False)
    return path


def test_one_run_per_genome_reports_unpaired_priors_and_says_the_noise_cannot_be_computed(tmp_path, capsys):
    data = _study(tmp_path / "theirs.csv", runs=1, sizes=(4, 6))
    code = main(["priors", "report", "--evaluations", str(data), "--prior-column", "generator", "--target", "accuracy",
                 "--no-predictor"])
    assert code == 0, capsys.readouterr().err
    folder = tmp_path / "theirs_priors_report"
    report = (folder / "report.md").read_text()
    assert "evaluations from elsewhere" in report and "column `generator`" in report
    assert "| erdos_renyi | 4 |" in report and "| barabasi_albert | 6 |" in report  # sizes stated, not assumed equal
    assert "Cannot be computed: one run per genome" in report and "seed_agreement.png" not in report
    assert "Caution: 10 genomes" not in report and "## Verdict" in report
    stats = json.loads((folder / "statistics.json").read_text())
    pair = stats["cells"]["rnn:gru"]["pairs"][0]
    assert (pair["n_a"], pair["n_b"]) == (4, 6) and abs(pair["cliffs_delta"]) == 1.0  # the planted gap
    table = pd.read_csv(folder / "evaluations.csv")
    assert len(table) == 10 and table["failed"].isna().all()  # no --chance: nobody is called failed


def test_runs_of_one_genome_are_averaged_and_give_the_noise_ceiling(tmp_path):
    data = _study(tmp_path / "two.csv", runs=2, sizes=(5, 5), id_column=True)
    frame, facts = external_table(data, prior_column="generator", target="accuracy", id_column="graph", chance=0.5)
    assert len(frame) == 10 and (frame["runs"] == 2).all() and facts["seeds"] == 2
    raw = pd.read_csv(data)
    first = raw[raw["graph"] == "erdos_renyi-0"]["accuracy"]
    assert frame.set_index("id").loc["erdos_renyi-0", "test_accuracy"] == pytest.approx(first.mean())
    assert not frame["failed"].any()
    out = tmp_path / "report"
    assert main(["priors", "report", "--evaluations", str(data), "--prior-column", "generator", "--target", "accuracy",
                 "--id-column", "graph", "--out", str(out), "--no-predictor"]) == 0
    report = (out / "report.md").read_text()
    assert "Repeatability ICC(1)" in report and "seed_agreement.png" in report
    assert "Caution: 10 genomes" not in report


@pytest.mark.parametrize("extra, message", [
    (["--prior-column", "nope"], "--prior-column 'nope'"),
    (["--prior-column", "generator", "--cell-column", "cell"], "--cell-column 'cell'"),
    (["--prior-column", "generator", "--target", "loss"], "loss"),
    (["--prior-column", "generator", "--chance", "1.5"], "--chance"),
    ([], "--prior-column"),
    (["study_folder", "--prior-column", "generator"], "got both"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, extra, message):
    data = _study(tmp_path / "theirs.csv")
    before = sorted(p.name for p in tmp_path.iterdir())
    args = ["priors", "report", "--evaluations", str(data), "--target", "accuracy", *extra]
    if "study_folder" in extra:
        args = ["priors", "report", str(tmp_path / "study_folder"), "--evaluations", str(data), "--target", "accuracy",
                "--prior-column", "generator"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert message in err and err.strip().count("\n") == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_prior_with_fewer_than_three_genomes_is_refused(tmp_path):
    data = _study(tmp_path / "small.csv", sizes=(2, 5))
    with pytest.raises(StudyError, match="at least 3 genomes per prior.*'erdos_renyi'.*has 2"):
        external_table(data, prior_column="generator", target="accuracy")


def test_correlations_on_few_genomes_come_with_a_caution(tmp_path):
    data = _study(tmp_path / "few.csv", sizes=(3, 4))
    assert main(["priors", "report", "--evaluations", str(data), "--prior-column", "generator", "--target", "accuracy",
                 "--no-predictor"]) == 0
    report = (tmp_path / "few_priors_report" / "report.md").read_text()
    assert "Caution: 7 genomes" in report and "arise by chance at this n" in report
