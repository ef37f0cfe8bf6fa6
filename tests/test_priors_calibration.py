"""Budget calibration: the cheapest rung of the ladder whose ranking and verdicts agree with the
reference — read from learning curves, so a short budget that flips a verdict is caught."""

from __future__ import annotations

import json
import re

import pytest

from nas.cli.main import main
from nas.exceptions import ConfigError
from nas.studies.priors.calibration import check_ladder, ladder_table, ladder_values
from nas.studies.priors.sampling import StudyGenome
from nas.studies.priors.store import StudyStore
from search_spaces.genome import Genome

#: A learns slowly but ends higher; B learns fast and plateaus lower: B leads until epoch 2.
SLOW = [0.50, 0.60, 0.85, 0.90]
FAST = [0.70, 0.75, 0.78, 0.80]


def _planted(n=8, seeds=2):
    genomes, records = [], []
    for prior, curve in (("A", SLOW), ("B", FAST)):
        for i in range(n):
            gid = f"{prior}{i}"
            genomes.append(StudyGenome(gid, "rnn:gru", prior, i, Genome("erdos_renyi", {"p": 0.3}, nodes=10, seed=i)))
            for seed in range(seeds):
                shifted = [v + 0.005 * i + 0.001 * seed for v in curve]  # a genome keeps its rank within a prior
                records.append({"id": gid, "seed": seed, "error": None, "test_accuracy": shifted[-1],
                                "curve": {"val_accuracy": shifted}})
    return genomes, records


def test_a_short_budget_that_flips_the_verdict_is_not_chosen():
    genomes, records = _planted()
    rungs = check_ladder([1, 2, 3], reference=4, sample=8)
    values = ladder_values(records, genomes, rungs, chance=0.5)
    result = ladder_table(values, rungs, tau=0.8)
    by_epochs = {r["epochs"]: r for r in result["rungs"]}
    assert not by_epochs[1]["cells"]["rnn:gru"]["verdicts_agree"] and by_epochs[1]["cells"]["rnn:gru"]["disagree"] == ["A vs B"]
    assert not by_epochs[2]["agrees"] and by_epochs[3]["agrees"]
    assert result["chosen_epochs"] == 3 and result["reference_epochs"] == 4


def test_a_ranking_that_changes_is_not_chosen_either():
    genomes, records = _planted()
    for r in records:  # within each prior the order of genomes reverses after epoch 1
        i = int(r["id"][1:])
        r["curve"]["val_accuracy"][0] -= 0.02 * i
    rungs = check_ladder([1, 3], reference=4, sample=8)
    result = ladder_table(ladder_values(records, genomes, rungs, chance=0.5), rungs, tau=0.8)
    assert [r["epochs"] for r in result["rungs"] if r["agrees"]] == [3, 4] and result["chosen_epochs"] == 3


def test_a_cell_at_chance_at_the_reference_has_no_ranking_to_keep():
    """A second cell whose networks never learn (values in seed noise around chance): its τ is
    noise, so it is shown but does not hold every rung back; its verdicts still count."""
    import numpy as np

    genomes, records = _planted()
    noise = np.random.default_rng(0)
    for prior in ("A", "B"):
        for i in range(8):
            gid = f"t{prior}{i}"
            genomes.append(StudyGenome(gid, "rnn:tanh", prior, i, Genome("erdos_renyi", {"p": 0.3}, nodes=10, seed=i)))
            for seed in range(2):
                curve = list(0.5 + noise.uniform(-0.01, 0.01, size=4))
                records.append({"id": gid, "seed": seed, "error": None, "test_accuracy": curve[-1],
                                "curve": {"val_accuracy": curve}})
    rungs = check_ladder([1, 2, 3], reference=4, sample=8)
    values = ladder_values(records, genomes, rungs, chance=0.5)
    strict = ladder_table(values, rungs, tau=0.8)
    assert strict["chosen_epochs"] == 4  # without a floor the noise ranking holds every rung back
    result = ladder_table(values, rungs, tau=0.8, floor=0.55)
    tanh = {r["epochs"]: r["cells"]["rnn:tanh"] for r in result["rungs"]}
    assert not tanh[3]["ranked"] and tanh[3]["at_chance"] == 1.0 and tanh[3]["verdicts_agree"]
    assert result["chosen_epochs"] == 3 and result["rungs"][2]["cells"]["rnn:gru"]["ranked"]
    from nas.studies.priors.calibration import ladder_lines

    assert any("100% at chance)" in line for line in ladder_lines(result))
    assert result["reference_tau_across_seeds"]["rnn:gru"] == 1.0  # the planted genomes keep their rank per seed
    assert not any("largely seed noise" in line for line in ladder_lines(result))  # tanh is not ranked


def test_a_reference_that_does_not_repeat_across_seeds_is_named():
    """Within each prior, seed 1 ranks the genomes the other way round from seed 0: τ across seeds
    falls below --tau, and the ladder says the reference's ranking is largely seed noise there."""
    from nas.studies.priors.calibration import ladder_lines

    genomes, records = _planted()
    for r in records:
        if r["seed"] == 1:
            i = int(r["id"][1:])
            r["curve"]["val_accuracy"] = [v - 0.01 * i for v in r["curve"]["val_accuracy"]]
    rungs = check_ladder([1, 3], reference=4, sample=8)
    result = ladder_table(ladder_values(records, genomes, rungs, chance=0.5), rungs, tau=0.8, floor=0.55)
    assert result["reference_tau_across_seeds"]["rnn:gru"] < 0.8
    assert any("In rnn:gru one half of the reference's seeds" in line for line in ladder_lines(result))


def test_diverged_runs_count_as_chance_and_short_curves_keep_their_last_value():
    genomes, records = _planted(n=3, seeds=1)
    records[0] = {"id": "A0", "seed": 0, "error": "TrainingError: loss became NaN at step 3"}
    records[1]["curve"]["val_accuracy"] = [0.55]  # stopped early after one epoch
    values = ladder_values(records, genomes, (1, 4), chance=0.5).set_index("id")
    assert values.loc["A0", "e4"] == 0.5 and values.loc["A1", "e4"] == pytest.approx(0.55)


@pytest.mark.parametrize("rungs, reference, sample, match", [
    ([1, 8], 4, 3, "reference budget \\(4 epochs\\) is below the rung 8"),
    ([0, 2], 4, 3, "epochs >= 1"),
    ([], 4, 3, "epochs >= 1"),
    ([1, 2], 4, 1, "at least 2 genomes per prior"),
])
def test_bad_ladders_are_one_typed_error(rungs, reference, sample, match):
    with pytest.raises(ConfigError, match=match):
        check_ladder(rungs, reference, sample)


def test_calibrate_then_evaluate_at_the_chosen_budget_shows_the_ladder(tmp_path, shared_data_dir, capsys):
    """The commands end to end on real MNIST training: calibrate trains a small resumable study to
    the reference (3 epochs), reads rungs 1 and 2 from its curves; evaluate --calibration trains at
    the chosen epochs and its report carries the ladder; bad ladders are one line before training."""
    common = ["--task", "mnist", "--priors", "layered_random:layers=2,p=1,skip=0,watts_strogatz:k=2,p=0",
              "--seeds", "2", "--nodes", "10", "14", "--width", "4", "--train", "train_subset=1000", "--train",
              "val_subset=300", "--train", "test_subset=300", "--train", "lr=0.003", "--data-dir", str(shared_data_dir),
              "--no-progress"]
    cal = tmp_path / "cal"
    assert main(["priors", "calibrate", *common, "--epochs", "3", "--ladder", "1,2", "--sample", "3", "--out", str(cal)]) == 0
    ladder = json.loads((cal / "calibration.json").read_text())
    assert [r["epochs"] for r in ladder["rungs"]] == [1, 2, 3] and ladder["chosen_epochs"] in (1, 2, 3)
    assert "Chosen budget" in (cal / "calibration.md").read_text()
    runs = [json.loads(line) for line in (cal / "runs.jsonl").read_text().splitlines()]
    assert len(runs) == 2 * 3 * 2 and all(len(r["curve"]["val_accuracy"]) == 3 for r in runs)
    out = tmp_path / "study"
    assert main(["priors", "evaluate", *common, "--per-prior", "3", "--calibration", str(cal), "--out", str(out),
                 "--no-predictor"]) == 0
    assert StudyStore(out).settings().train_options["epochs"] == ladder["chosen_epochs"]
    other_epochs = 2 if ladder["chosen_epochs"] != 2 else 1  # --epochs overrides the choice; the report says so
    assert main(["priors", "evaluate", *common, "--per-prior", "3", "--calibration", str(cal), "--epochs",
                 str(other_epochs), "--out", str(tmp_path / "override"), "--no-predictor"]) == 0
    assert StudyStore(tmp_path / "override").settings().train_options["epochs"] == other_epochs
    assert f"not the calibrated {ladder['chosen_epochs']}" in (tmp_path / "override" / "report.md").read_text()
    report = (out / "report.md").read_text()
    assert "## Budget calibration" in report and "## Agreement with the full-budget reference" in report
    # the reference verdicts: the subsample's own tests at the full budget, one per pair of priors
    (pair,) = ladder["reference_verdicts"]["ff"]
    assert {pair["a"], pair["b"]} == {"layered_random", "watts_strogatz"} and pair["n_a"] == pair["n_b"] == 3
    assert "Verdicts at the reference budget (3 epochs)" in (cal / "calibration.md").read_text()
    assert main(["priors", "report", str(cal), "--no-predictor"]) == 0  # the calibration's own report
    assert "## Budget calibration" in (cal / "report.md").read_text()
    assert "Agreement with the full-budget reference" not in (cal / "report.md").read_text()  # not with itself
    (row,) = json.loads((out / "statistics.json").read_text())["agreement"]
    assert row["cell"] == "ff" and row["study"]["n_a"] == 3 and row["reference"]["n_a"] == 3
    assert row["outcome"] in ("agree", "contradict", "study only", "reference only")
    assert "verdicts agree with the full-budget reference" in report.split("## Verdict", 1)[1].split("\n## ", 1)[0]
    capsys.readouterr()
    for extra, message in [(["--epochs", "2", "--ladder", "1,4"], "below the rung 4"),
                           (["--epochs", "2", "--sample", "1"], "at least 2 genomes"),
                           (["--epochs", "2", "--ladder", "one"], "comma-separated epochs")]:
        bad = tmp_path / "bad"
        assert main(["priors", "calibrate", *common, *extra, "--out", str(bad)]) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1 and not bad.exists()
    other = [part if part != "4" else "8" for part in common]  # another width: not what was calibrated
    assert main(["priors", "evaluate", *other, "--per-prior", "3", "--calibration", str(cal), "--out", str(tmp_path / "o")]) == 1
    assert "--calibration was made for width = 4" in capsys.readouterr().err


def test_a_damaged_calibration_file_is_one_typed_error(tmp_path):
    from nas.exceptions import StudyError
    from nas.studies.priors.calibration import read_ladder

    with pytest.raises(StudyError, match="holds no calibration.json"):
        read_ladder(tmp_path)
    (tmp_path / "calibration.json").write_text('{"rungs": [')
    with pytest.raises(StudyError, match="cannot read"):
        read_ladder(tmp_path)
    (tmp_path / "calibration.json").write_text('{"rungs": []}')
    with pytest.raises(StudyError, match="is no calibration"):
        read_ladder(tmp_path)


def _verdict(a, b, p, delta, n=(10, 10)):
    return {"a": a, "b": b, "n_a": n[0], "n_b": n[1], "p_holm": p, "cliffs_delta": delta, "detectable_delta": 0.6,
            "verdict": f"{a} better than {b}" if p < 0.05 else "no difference detected, although the budget supports a conclusion"}


def test_a_studys_verdicts_are_set_beside_the_references():
    """Agree, contradict, a difference only one side finds, a pair the reference lists the other way
    round (its δ is turned), and a cell without a reference."""
    from nas.studies.priors.agreement import agreement, agreement_lines

    cells = {"rnn:gru": {"adequacy": {"verdicts": [_verdict("A", "B", 0.001, 0.5, (50, 50)),
                                                   _verdict("A", "C", 0.001, 0.4, (50, 50)),
                                                   _verdict("B", "C", 0.3, 0.1, (50, 50))]}},
             "rnn:lstm": {"adequacy": {"verdicts": [_verdict("A", "B", 0.01, -0.3, (50, 50)),
                                                    _verdict("A", "C", 0.4, 0.0, (50, 50))]}},
             "rnn:tanh": {"adequacy": {"verdicts": [_verdict("A", "B", 0.5, 0.0)]}}}
    reference = {"rnn:gru": [_verdict("B", "A", 0.01, -0.6), _verdict("A", "C", 0.2, 0.3), _verdict("B", "C", 0.04, 0.5)],
                 "rnn:lstm": [_verdict("A", "B", 0.02, 0.4), _verdict("A", "C", 0.6, 0.05)]}
    rows = agreement(cells, reference)
    outcomes = {(r["cell"], r["a"], r["b"]): r["outcome"] for r in rows}
    assert outcomes == {("rnn:gru", "A", "B"): "agree", ("rnn:gru", "A", "C"): "study only",
                        ("rnn:gru", "B", "C"): "reference only", ("rnn:lstm", "A", "B"): "contradict",
                        ("rnn:lstm", "A", "C"): "agree", ("rnn:tanh", "A", "B"): "no reference"}
    turned = rows[0]["reference"]
    assert (turned["a"], turned["b"], turned["cliffs_delta"]) == ("A", "B", 0.6)
    text = "\n".join(agreement_lines(rows, 4, {"chosen_epochs": 4, "reference_epochs": 15}))
    assert "overrode" not in text
    assert "trained for 2 epochs, not the calibrated 4" in "\n".join(
        agreement_lines(rows, 2, {"chosen_epochs": 4, "reference_epochs": 15}))
    assert "**2 of 6 verdicts agree with the full-budget reference; 1 contradict.**" in text
    assert "at 4 epochs" in text and "(15 epochs)" in text and "opposite directions" in text
    rows = [line for line in text.splitlines() if line.startswith("|")]  # pipes in a cell are escaped
    assert len(rows) == 8 and {len(re.split(r"(?<!\\)\|", line)) for line in rows} == {8}
