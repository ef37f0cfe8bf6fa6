"""Prior studies (``nas priors evaluate``): settings, genome draws, store, resume, statistics, report."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from nas.cli.main import main
from nas.exceptions import ConfigError, StudyError, UnknownNameError
from nas.studies.priors import PRESETS, StudyConfig, build_study_config, draw_study_genomes, run_study
from nas.studies.priors import stats
from nas.studies.priors.config import parse_prior, rule_value
from nas.studies.priors.store import StudyStore
from nas.studies.priors.table import genome_table
from search_spaces.priors import get_prior, register_prior

# A planted difference: shallow, fully connected two-layer graphs against rings oriented into one
# deep chain (a single sink), both at 8 units per vertex, on 4,000 MNIST images for one epoch.
GOOD, BAD = "layered_random:layers=2,p=1,skip=0", "watts_strogatz:k=2,p=0"
TINY = {"epochs": 1, "lr": 3e-3, "train_subset": 2000, "val_subset": 500, "test_subset": 1000}


def tiny(tmp_path, **changes) -> StudyConfig:
    values = dict(task="mnist", priors=(GOOD, BAD), per_prior=4, seeds=2, nodes=(10, 20), width=8, train=TINY,
                  out=str(tmp_path / "study"), progress=False)
    values.update(changes)
    return build_study_config(**values)


# --- settings ------------------------------------------------------------------------------


def test_prior_rules_parse_numbers_and_size_rules():
    assert parse_prior("watts_strogatz:k=n//5,p=1") == ("watts_strogatz", {"k": "n//5", "p": 1.0})
    assert rule_value("n//5", 23) == 4 and rule_value("n//10", 9) == 1 and rule_value(0.5, 9) == 0.5


@pytest.mark.parametrize("text, error, match", [
    ("nosuch", UnknownNameError, "barabasi_albert"),
    ("watts_strogatz:q=1", ConfigError, "no parameter 'q'"),
    ("watts_strogatz:k", ConfigError, "KEY=VALUE"),
    ("watts_strogatz:k=n/5", ConfigError, "neither a number nor a rule"),
    ("watts_strogatz:k=n//0", ConfigError, "divides by zero"),
])
def test_bad_prior_specs_are_typed_errors(text, error, match):
    with pytest.raises(error, match=match):
        parse_prior(text)


@pytest.mark.parametrize("changes, match", [
    ({"per_prior": 1}, r"StudyConfig\.per_prior = 1; expected an integer in \[2, 100000\]"),
    ({"per_prior": 10**20}, r"StudyConfig\.per_prior = 100000000000000000000; expected an integer in"),
    ({"seeds": 1}, r"StudyConfig\.seeds = 1; expected an integer in \[2, 1000\]"),
    ({"nodes": (10, 10**9)}, r"StudyConfig\.nodes = \(10, 1000000000\); expected a pair \[low, high\] of integers in \[2, 5000\]"),
    ({"priors": ("erdos_renyi",)}, "at least two distinct priors"),
    ({"priors": ("erdos_renyi", "erdos_renyi:p=0.5")}, "at least two distinct priors"),
    ({"families": ("rnn:gru",)}, "trains families"),
    ({"match": "flops"}, r"StudyConfig\.match = 'flops'; expected one of \['none', 'edges', 'weights'\]"),
    ({"train": {"epochs": 0}}, r"TrainConfig\.epochs = 0; expected an integer >= 1"),
])
def test_bad_settings_fail_before_anything_runs(tmp_path, changes, match):
    with pytest.raises((ConfigError, UnknownNameError), match=match):
        tiny(tmp_path, **changes)
    assert not (tmp_path / "study").exists()


def test_the_paper_preset_is_the_papers_study():
    cfg = build_study_config(preset="stier2021-reber")
    assert cfg.families == ("rnn:tanh", "rnn:relu", "rnn:gru", "rnn:lstm")
    assert cfg.prior_rules() == {"barabasi_albert_original": {"m": "n//10"}, "watts_strogatz": {"k": "n//5", "p": 1.0}}
    assert (cfg.per_prior, cfg.nodes, cfg.width, cfg.readout, cfg.task) == (100, (10, 50), 1, "last", "reber_paper")
    assert dict(cfg.train) == {"epochs": 15, "batch_size": 128, "optimizer": "adam", "lr": 1e-3, "grad_clip": 5.0}
    # options override the preset
    assert build_study_config(preset="stier2021-reber", per_prior=5, task="reber").task == "reber"


def test_the_papers_reber_task_has_the_papers_negative_mix():
    from nas.training.tasks import get_task

    info = get_task("reber_paper").load(n=2000).info
    kinds = info["negative_kinds"]
    assert info["hard_negative_share"] == pytest.approx(0.44)
    assert kinds["foreign"] / sum(kinds.values()) == pytest.approx(0.56, abs=0.01)


# --- genome draws --------------------------------------------------------------------------


def test_every_prior_gets_the_same_sizes_and_rules_follow_the_size():
    cfg = build_study_config(preset="stier2021-reber", per_prior=6)
    genomes = draw_study_genomes(cfg)
    assert len(genomes) == 4 * 2 * 6
    for family in cfg.families:
        for i in range(6):
            pair = [g for g in genomes if g.family == family and g.index == i]
            assert len({g.genome.nodes for g in pair}) == 1
            n = pair[0].genome.nodes
            params = {g.prior: dict(g.genome.params) for g in pair}
            assert params["barabasi_albert_original"] == {"m": max(1, n // 10)}
            assert params["watts_strogatz"] == {"k": n // 5, "p": 1.0}
            assert all(g.genome.readout == "last" and g.genome.width == 1 and g.genome.family == family for g in pair)
    assert len({g.id for g in genomes}) == len(genomes)
    assert [g.to_dict() for g in draw_study_genomes(cfg)] == [g.to_dict() for g in genomes]  # same seed, same genomes
    other = draw_study_genomes(cfg.with_changes(seed=1))
    assert [g.genome.seed for g in other] != [g.genome.seed for g in genomes]


def test_edge_matching_brings_priors_to_the_index_target(tmp_path):
    cfg = tiny(tmp_path, priors=("erdos_renyi", "barabasi_albert", "watts_strogatz"), per_prior=6, nodes=(20, 30))
    free = draw_study_genomes(cfg)
    matched = draw_study_genomes(cfg.with_changes(match="edges"))

    def spread(genomes):
        edges = pd.DataFrame({"i": [g.index for g in genomes], "e": [g.genome.graph().number_of_edges() for g in genomes]})
        return float((edges.groupby("i")["e"].max() / edges.groupby("i")["e"].min()).mean())

    assert spread(matched) < spread(free)
    for g in matched:
        assert g.match_value == g.genome.graph().number_of_edges()
        assert abs(g.match_value - g.match_target) <= 0.15 * g.match_target


def test_weight_matching_sets_widths_to_the_target(tmp_path):
    from nas.training.equal_cost import ff_nonzero_weights

    count = lambda g: ff_nonzero_weights(g, 784, 10)  # noqa: E731
    genomes = draw_study_genomes(tiny(tmp_path, match="weights", per_prior=3), count)
    for g in genomes:
        assert g.match_value == count(g.genome)
        below, above = count(g.genome.replace(width=max(1, g.genome.width - 1))), count(g.genome.replace(width=g.genome.width + 1))
        assert abs(g.match_value - g.match_target) <= max(abs(below - g.match_target), abs(above - g.match_target))
    assert len({g.genome.width for g in genomes}) > 1


def test_rules_that_cannot_make_a_graph_name_the_prior(tmp_path):
    with pytest.raises(ConfigError, match="random_regular"):
        draw_study_genomes(tiny(tmp_path, priors=("random_regular:d=3", "erdos_renyi"), nodes=(11, 11)))


# --- statistics on planted data --------------------------------------------------------------


def test_holm_matches_the_definition():
    p = np.array([0.01, 0.04, 0.03, 0.2])
    # sorted 0.01, 0.03, 0.04, 0.2 -> 0.04, 0.09, max(0.09, 0.08), max(.., 0.2)
    np.testing.assert_allclose(stats.holm(p), [0.04, 0.09, 0.09, 0.2])


def test_cliffs_delta_counts_pairs():
    assert stats.cliffs_delta([3, 4], [1, 2]) == 1.0
    assert stats.cliffs_delta([1, 2], [3, 4]) == -1.0
    assert stats.cliffs_delta([1, 3], [2, 2]) == 0.0


def test_a_truly_better_prior_is_found_and_identical_priors_are_not():
    rng = np.random.default_rng(0)
    hits, false = 0, 0
    for _ in range(100):
        better = {"a": rng.normal(0.90, 0.03, 15), "b": rng.normal(0.85, 0.03, 15), "c": rng.normal(0.85, 0.03, 15)}
        same = {"a": rng.normal(0.85, 0.03, 15), "b": rng.normal(0.85, 0.03, 15), "c": rng.normal(0.85, 0.03, 15)}
        r = stats.compare_groups(better)
        pairs = r["pairs"].set_index(["a", "b"])
        hits += r["kruskal"]["p"] < 0.05 and pairs.loc[("a", "b"), "p_holm"] < 0.05 and pairs.loc[("a", "b"), "cliffs_delta"] > 0
        false += stats.compare_groups(same)["kruskal"]["p"] < 0.05
    assert hits >= 95  # power of a 1.7-SD difference with 15 per group
    assert false <= 12  # about 5 % false positives expected


def test_noise_ceiling_recovers_planted_repeatability():
    rng = np.random.default_rng(1)
    true = rng.normal(0.8, 0.04, 400)  # between-genome SD 0.04, seed SD 0.03
    runs = true[:, None] + rng.normal(0, 0.03, (400, 3))
    out = stats.noise_ceiling(runs, n_resamples=300)
    icc1, icc3 = 0.04**2 / (0.04**2 + 0.03**2), 0.04**2 / (0.04**2 + 0.03**2 / 3)
    assert out["icc1_low"] < icc1 < out["icc1_high"] and abs(out["icc1"] - icc1) < 0.06
    assert out["icc_mean_low"] < icc3 < out["icc_mean_high"]
    assert out["within_sd"] == pytest.approx(0.03, rel=0.1) and out["between_sd"] == pytest.approx(0.04, rel=0.15)
    # pure noise: nothing is structural
    assert stats.noise_ceiling(rng.normal(0.8, 0.03, (200, 2)), n_resamples=200)["icc1"] < 0.2


def test_correlations_find_the_planted_feature():
    rng = np.random.default_rng(2)
    x = rng.normal(size=80)
    table = stats.correlations(pd.DataFrame({"signal": x, "noise": rng.normal(size=80), "flat": np.ones(80)}),
                               x + rng.normal(0, 0.5, 80))
    assert list(table["feature"]) == ["signal", "noise"]  # constant features are left out
    top = table.iloc[0]
    assert top["pearson_low"] < top["pearson"] < top["pearson_high"] and top["spearman_low"] > 0.7
    assert table.iloc[1]["spearman_low"] < 0 < table.iloc[1]["spearman_high"]


# --- end to end on MNIST (tiny budgets) ----------------------------------------------------


def test_study_finds_the_planted_prior_and_writes_its_report(tmp_path, shared_data_dir):
    cfg = tiny(tmp_path, per_prior=5, data_dir=str(shared_data_dir))
    folder = run_study(cfg)
    from nas.studies.priors.report import write_report

    write_report(folder, predictor=False)
    frame, facts = genome_table(folder)
    records = StudyStore(folder).records()
    assert facts["complete"] == 10 and len(records) == 20
    assert all(r["cohort_size"] >= 1 for r in records)  # the runs say how many trained together
    good, bad = (frame.loc[frame["prior"] == p, "test_accuracy"] for p in ("layered_random", "watts_strogatz"))
    assert good.min() > bad.max()
    result = json.loads((folder / "statistics.json").read_text())["cells"]["ff"]
    assert result["kruskal"]["p"] < 0.05 and result["pairs"][0]["cliffs_delta"] == 1.0
    assert {"icc1", "icc_mean", "within_sd"} <= set(result["noise"])
    report = (folder / "report.md").read_text()
    assert "Kruskal–Wallis" in report and "ICC(1)" in report and "Spearman" in report
    # every run keeps its learning curve; the report reads adequacy and a verdict from them
    assert all(len(r["curve"]["val_accuracy"]) == len(r["curve"]["test_accuracy"]) == r["epochs"] for r in records)
    assert all(r["curve"]["test_accuracy"][-1] == r["test_accuracy"] for r in records)
    assert frame["val_curve"].map(lambda c: len(json.loads(c))).min() >= 1 and "last_gain" in frame
    verdict = result["adequacy"]["verdicts"][0]["verdict"]
    assert verdict == "layered_random better than watts_strogatz" and "### Budget adequacy" in report
    opening = report.split("## Verdict", 1)[1].split("\n## ", 1)[0]  # the report opens with the finding
    assert "**ff**: layered_random better than watts_strogatz: mean" in opening and "Cliff's δ = 1.00" in opening
    for name in ("accuracy_by_prior.png", "seed_agreement.png", "correlations.csv"):
        assert (folder / name).stat().st_size > 0
    # evaluations.csv is what `nas predictor` reads
    from predictors import read_evaluations

    data = read_evaluations(folder / "evaluations.csv")
    assert len(data) == 10 and "test_accuracy" in data.columns


@pytest.fixture
def twin_prior():
    """``erdos_renyi`` under a second name, removed from the registry afterwards."""
    from search_spaces.priors import PRIORS

    register_prior(dataclasses.replace(get_prior("erdos_renyi"), name="erdos_renyi_twin"))
    yield "erdos_renyi_twin"
    PRIORS.pop("erdos_renyi_twin", None)


def test_identical_priors_are_not_told_apart(tmp_path, shared_data_dir, twin_prior):
    cfg = tiny(tmp_path, priors=("erdos_renyi:p=0.3", "erdos_renyi_twin:p=0.3"), per_prior=6, data_dir=str(shared_data_dir))
    folder = run_study(cfg)
    frame, _ = genome_table(folder)
    result = stats.compare_groups({p: g["test_accuracy"].to_numpy() for p, g in frame.groupby("prior")})
    assert result["kruskal"]["p"] > 0.05


def test_a_killed_study_resumes_without_repeating_or_losing_runs(tmp_path, shared_data_dir):
    cfg = tiny(tmp_path, cohort_size=3, data_dir=str(shared_data_dir))
    folder = run_study(cfg)
    runs_file = folder / "runs.jsonl"
    lines = runs_file.read_text().splitlines()
    assert len(lines) == 16
    # a kill after 5 runs, in the middle of writing the 6th
    runs_file.write_text("\n".join(lines[:5]) + "\n" + lines[5][:20])
    assert len(StudyStore(folder).records()) == 5  # the torn line is not a run
    run_study(cfg, resume=True, requested=cfg)
    after = [json.loads(x) for x in runs_file.read_text().splitlines()]
    assert len(after) == 16 and len({(r["id"], r["seed"]) for r in after}) == 16
    assert [json.loads(x) for x in lines[:5]] == after[:5]
    before = {(r["id"], r["seed"]): r["test_accuracy"] for r in map(json.loads, lines)}
    resumed = {(r["id"], r["seed"]): r["test_accuracy"] for r in after}
    assert before == pytest.approx(resumed, abs=1e-6)  # same seeds, same runs


def test_resume_with_other_settings_is_refused_before_training(tmp_path, shared_data_dir):
    cfg = tiny(tmp_path, data_dir=str(shared_data_dir))
    folder = run_study(cfg)
    size = (folder / "runs.jsonl").stat().st_size
    with pytest.raises(StudyError, match="seeds: stored 2, given 3"):
        run_study(cfg, resume=True, requested=cfg.with_changes(seeds=3))
    with pytest.raises(StudyError, match="already holds a study"):
        run_study(cfg)
    with pytest.raises(StudyError, match="holds no study"):
        run_study(cfg.with_changes(out=str(tmp_path / "none")), resume=True)
    assert (folder / "runs.jsonl").stat().st_size == size


def test_cli_runs_a_quick_study_and_errors_are_one_line(tmp_path, shared_data_dir, capsys):
    out = tmp_path / "cli"
    args = ["priors", "evaluate", "--task", "mnist", "--priors", f"{GOOD},{BAD}", "--per-prior", "2", "--seeds", "2",
            "--nodes", "10", "14", "--width", "4", "--epochs", "1", "--train", "train_subset=1000", "--train",
            "val_subset=500", "--train", "test_subset=500", "--data-dir", str(shared_data_dir), "--out", str(out),
            "--no-progress", "--no-predictor"]
    assert main(args) == 0
    assert (out / "report.md").exists()
    assert main(["priors", "evaluate", "--out", str(out), "--resume", "--seeds", "3"]) == 1
    assert "seeds: stored 2, given 3" in capsys.readouterr().err
    for bad, match in [(["--priors", "nosuch,erdos_renyi"], "unknown prior 'nosuch'"),
                       (["--preset", "nope"], "unknown preset 'nope'; expected one of: stier2021-reber"),
                       (["--seeds", "1"], "StudyConfig.seeds = 1; expected an integer in [2, 1000]"),
                       (["--task", "mnist", "--family", "rnn:gru"], "trains families")]:
        target = tmp_path / "bad"
        assert main(["priors", "evaluate", "--out", str(target), *bad]) == 1
        err = capsys.readouterr().err.strip()
        assert match in err and len(err.splitlines()) == 1
        assert not target.exists()
    assert main(["priors", "report", str(tmp_path / "none")]) == 1
    assert "holds no study" in capsys.readouterr().err


def test_presets_are_listed_as_json(capsys):
    assert main(["priors", "presets"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == set(PRESETS)


def test_report_predictor_study_on_planted_labels(tmp_path):
    """A study whose accuracy is a function of structure (plus seed noise): the predictor study
    finds it, the noise ceiling is high, and the paper's single split sits beside the CV figures."""
    cfg = tiny(tmp_path, priors=("erdos_renyi", "barabasi_albert"), per_prior=15, nodes=(10, 40))
    genomes = draw_study_genomes(cfg)
    store = StudyStore.create(cfg.out, cfg, genomes, chance=0.1)
    rng = np.random.default_rng(0)
    runs = []
    for g in genomes:
        true = 0.5 + 0.4 * (g.genome.nodes - 10) / 30
        for seed in range(2):
            runs.append({"id": g.id, "seed": seed, "error": None, "test_accuracy": true + rng.normal(0, 0.01),
                         "val_accuracy": true, "wall_time_s": 1.0, "nonzero_weights": 100})
    store.append(runs)
    from nas.studies.priors.report import write_report

    write_report(cfg.out, repeats=2)
    cell = json.loads((tmp_path / "study" / "statistics.json").read_text())["cells"]["ff"]
    assert cell["noise"]["icc1"] > 0.9
    compare = cell["predictor"]["compare"]
    assert set(compare["pipelines"]) == {"product", "paper"} and compare["n_repeats"] == 2
    assert compare["pipelines"]["product"]["r2"] > 0.8 and compare["pipelines"]["paper"]["r2"] > 0.8
    assert set(cell["predictor"]["leave_one_prior_out"]) == {"erdos_renyi", "barabasi_albert"}
    # transfer in both directions, per model and feature set: the label is linear in the size, so
    # the linear model on every feature transfers, and size-normalised features cannot see it
    transfer = {(r["model"], r["features"], r["held_out"]): r["r2"] for r in cell["predictor"]["transfer"]}
    assert len(transfer) == 3 * 2 * 2
    assert min(transfer[("bayes_ridge", "extended", p)] for p in ("erdos_renyi", "barabasi_albert")) > 0.5
    assert max(transfer[("bayes_ridge", "normalised", p)] for p in ("erdos_renyi", "barabasi_albert")) < \
        min(transfer[("bayes_ridge", "extended", p)] for p in ("erdos_renyi", "barabasi_albert"))
    report = (tmp_path / "study" / "report.md").read_text()
    assert "**one** 90/10 split" in report and "corrected repeated k-fold t-test" in report
    assert (tmp_path / "study" / "learning_curve_ff.png").exists()


def test_runs_that_failed_for_other_reasons_are_retried_and_left_out(tmp_path, shared_data_dir):
    cfg = tiny(tmp_path, data_dir=str(shared_data_dir))
    folder = run_study(cfg)
    runs_file = folder / "runs.jsonl"
    lines = [json.loads(x) for x in runs_file.read_text().splitlines()]
    oom = {"id": lines[0]["id"], "seed": lines[0]["seed"], "error": "RuntimeError: out of memory"}
    nan = {"id": lines[1]["id"], "seed": lines[1]["seed"], "error": "TrainingError: loss became nan"}
    runs_file.write_text("".join(json.dumps(r) + "\n" for r in [oom, nan, *lines[2:]]))
    frame, facts = genome_table(folder)
    assert facts["other_errors"] == 1 and lines[0]["id"] not in set(frame["id"])
    diverged = frame.set_index("id").loc[lines[1]["id"]]
    assert diverged["diverged"] == 1 and diverged["failed"]  # a diverged run is the network's failure
    run_study(cfg, resume=True)  # retrains only the out-of-memory run
    after = [json.loads(x) for x in runs_file.read_text().splitlines()]
    assert len(after) == len(lines) + 1 and (after[-1]["id"], after[-1]["seed"]) == (oom["id"], oom["seed"])
    frame, _ = genome_table(folder)
    assert lines[0]["id"] in set(frame["id"])


def test_a_device_that_does_not_exist_stops_before_anything_is_written(tmp_path, shared_data_dir):
    from nas.exceptions import DeviceError

    with pytest.raises(DeviceError):
        run_study(tiny(tmp_path, device="nosuchdevice", data_dir=str(shared_data_dir)))
    assert not (tmp_path / "study").exists()


def _planted_store(tmp_path, runs_for):
    cfg = tiny(tmp_path, priors=("erdos_renyi", "barabasi_albert"), per_prior=3)
    genomes = draw_study_genomes(cfg)
    store = StudyStore.create(cfg.out, cfg, genomes, chance=0.1)
    store.append([r for g in genomes for r in runs_for(g)])
    return cfg, store


def test_a_study_whose_runs_all_diverged_reports_every_network_failed(tmp_path):
    from nas.studies.priors.report import write_report

    cfg, _ = _planted_store(tmp_path, lambda g: [{"id": g.id, "seed": s, "error": "TrainingError: nan"} for s in (0, 1)])
    write_report(cfg.out)
    cell = json.loads((tmp_path / "study" / "statistics.json").read_text())["cells"]["ff"]
    assert all(r["failed_share"] == 1.0 and r["mean"] == pytest.approx(0.1) for r in cell["priors"])
    report = (tmp_path / "study" / "report.md").read_text()
    assert "every genome has the same accuracy" in report and "repeatability is undefined" in report
    assert [v["verdict"] for v in cell["adequacy"]["verdicts"]] == [
        "budget too small to compare these priors (100% of a prior's genomes at chance)"]  # never "no difference"
    assert "budget too small to compare" in report.split("## Verdict", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("line, match", [
    ("[1, 2]", "expected a JSON object"),
    ('{"id": "x", "seed": "abc", "error": null}', "expected an integer seed"),
    ('{"seed": 0, "error": null}', "expected a genome id"),
    ('{"id": "x", "seed": 0, "error": null, "test_accuracy": "high"}', "'test_accuracy'"),
])
def test_damaged_run_lines_are_one_typed_error(tmp_path, line, match):
    cfg, store = _planted_store(tmp_path, lambda g: [])
    (tmp_path / "study" / "runs.jsonl").write_text(line + "\n")
    with pytest.raises(StudyError, match=match):
        store.records()


def test_resume_with_settings_keeps_this_machines_runtime(tmp_path, shared_data_dir):
    """A study started elsewhere (another device, data folder, cohort size) resumes here with its settings repeated."""
    cfg = tiny(tmp_path, data_dir=str(shared_data_dir))
    folder = run_study(cfg)
    stored = json.loads((folder / "study.json").read_text())
    stored["study"].update(device="nosuchdevice", data_dir="/nonexistent", batch=7)
    (folder / "study.json").write_text(json.dumps(stored))
    again = build_study_config(base=StudyStore(folder).settings(), out=str(folder), progress=False)
    assert (again.device, again.data_dir, again.cohort_size) == (None, None, 32)
    assert again.settings() == cfg.settings()


def test_options_the_study_sets_itself_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"\['device', 'seed'\] are set by the study itself"):
        tiny(tmp_path, train={**TINY, "seed": 5, "device": "cuda"})
    with pytest.raises(ConfigError, match="prior 'watts_strogatz' makes graphs of at least 3 nodes"):
        tiny(tmp_path, priors=("erdos_renyi", "watts_strogatz"), nodes=(2, 10))


def test_overwrite_replaces_a_study_and_only_a_study(tmp_path, shared_data_dir):
    cfg = tiny(tmp_path, per_prior=2, data_dir=str(shared_data_dir), train={**TINY, "train_subset": 500})
    folder = run_study(cfg)
    (folder / "note.txt").write_text("the old study's")
    with pytest.raises(StudyError, match="already holds a study"):
        run_study(cfg)
    again = run_study(cfg, overwrite=True)
    assert not (again / "note.txt").exists() and len(StudyStore(again).records()) == 8
    other = tmp_path / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("a user's file")
    with pytest.raises(StudyError, match="is not empty"):  # not a study: never removed
        run_study(cfg.with_changes(out=str(other)), overwrite=True)
    assert (other / "keep.txt").read_text() == "a user's file"


def test_cohorts_trained_in_two_processes_give_the_same_runs(tmp_path, shared_data_dir):
    one = run_study(tiny(tmp_path / "one", per_prior=3, cohort_size=2, data_dir=str(shared_data_dir)))
    two = run_study(tiny(tmp_path / "two", per_prior=3, cohort_size=2, jobs=2, data_dir=str(shared_data_dir)))

    def runs(folder):
        records = StudyStore(folder).records()
        return {(r["id"], r["seed"]): {k: v for k, v in r.items() if k != "wall_time_s"} for r in records}

    assert len(runs(one)) == 12 and runs(two) == runs(one)
    with pytest.raises(ConfigError, match="jobs"):
        tiny(tmp_path / "zero", jobs=0)
