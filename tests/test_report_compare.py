"""``nas report``: survivors fully trained (final records) and strategies compared across runs.

Runs are hand-built ledgers: a config.json and a study whose trials are completed with chosen
metrics, so every expected number is known; no training runs.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nas.cli.main import main
from nas.exceptions import LedgerError
from nas.report.compare import compare_runs
from nas.report.run import best_final_accuracy, final_frame, open_run_ledger
from nas.report.search import build_report
from nas.search.config import SearchConfig
from nas.search.config_files import write_config
from nas.search.loop import open_search_ledger
from search_spaces.genome import Genome


def make_run(tmp_path, name, *, strategy="ga", seed=0, gating=True, screening=(0.80, 0.85, 0.90), test=True,
             final=None, **settings):
    """A run directory whose ledger holds COMPLETE trials with the given val (and test) accuracies."""
    config = SearchConfig(task="mnist", out=str(tmp_path / name), storage=f"journal:{tmp_path / (name + '.log')}",
                          strategy=strategy, seed=seed, gating=gating, progress=False, **settings)
    run_dir = tmp_path / name
    run_dir.mkdir()
    write_config(config, run_dir)
    ledger = open_search_ledger(config, resume=False)
    for i, acc in enumerate(screening):
        ledger.enqueue(Genome(prior="erdos_renyi", params={"p": 0.3}, nodes=6 + i, seed=i), generation=0, reason="no_gate")
        claim = ledger.claim()
        metrics = {"val_accuracy": acc, "wall_time_s": 0.5, "nonzero_weights": 100 + i}
        if test:
            metrics["test_accuracy"] = acc - 0.02
        ledger.complete(claim, [acc], metrics)
    if final is not None:
        ledger.set_attr("final", final)
    return run_dir


def records(genome_json, key, screening, accs, *, nonzero=500, screening_test=None, test=(1000, 10000)):
    # test: (test_examples, test_expected) — the shared CIFAR-10 test batch's 1,000 of 10,000 by
    # default; None leaves them out, as records stored before they were kept
    extra = {} if test is None else {"test_examples": test[0], "test_expected": test[1]}
    return [{"key": key, "genome": genome_json, "seed": s, "screening": screening,
             "screening_test_accuracy": screening_test, "test_accuracy": a, "val_accuracy": a + 0.001,
             "nonzero_weights": nonzero, "wall_time_s": 2.0, **extra} for s, a in enumerate(accs)]


GENOMES = [
    # old-style genome (no width, no readout) and newer ones with both
    (json.dumps({"prior": "erdos_renyi", "params": {"p": 0.3}, "nodes": 10, "seed": 1, "family": "ff", "edits": []}),
     "aaaa", 0.90, [0.950, 0.954, 0.952]),
    (json.dumps({"prior": "watts_strogatz", "params": {}, "nodes": 12, "seed": 2, "family": "ff", "edits": [],
                 "width": 4, "readout": "sinks"}), "bbbb", 0.88, [0.960, 0.962]),
    (json.dumps({"prior": "barabasi_albert", "params": {}, "nodes": 14, "seed": 3, "family": "ff", "edits": [],
                 "width": 2, "readout": "last"}), "cccc", 0.86, [0.940, 0.946, 0.943]),
    (json.dumps({"prior": "erdos_renyi", "params": {"p": 0.5}, "nodes": 8, "seed": 4, "family": "ff", "edits": []}),
     "dddd", 0.85, [0.930]),
]


def all_records():
    out = []
    for genome, key, screening, accs in GENOMES:
        out += records(genome, key, screening, accs, screening_test=screening - 0.01)
    return out


def test_final_frame_one_row_per_genome(tmp_path):
    run = make_run(tmp_path, "r", final=all_records())
    ledger, _ = open_run_ledger(run)
    frame = final_frame(ledger)
    assert list(frame.columns) == ["key", "genome", "prior", "nodes", "width", "readout", "nonzero_weights",
                                   "screening", "final_mean", "final_std", "n_seeds", "val_mean", "test_examples",
                                   "test_expected", "ci_low", "ci_high"]
    assert list(frame["key"]) == ["bbbb", "aaaa", "cccc", "dddd"]  # best mean first
    by_key = frame.set_index("key")
    for _, key, screening, accs in GENOMES:
        row = by_key.loc[key]
        assert row["final_mean"] == pytest.approx(np.mean(accs))
        assert row["n_seeds"] == len(accs) and row["screening"] == screening
        if len(accs) > 1:
            assert row["final_std"] == pytest.approx(np.std(accs, ddof=1))
        else:
            assert math.isnan(row["final_std"])
        ci = stats.binomtest(round(np.mean(accs) * 1000), 1000).proportion_ci(method="wilson")
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high))
        assert row["ci_low"] < row["final_mean"] < row["ci_high"] and row["test_examples"] == 1000
    assert (by_key.loc["aaaa", "width"], by_key.loc["aaaa", "readout"]) == (1, "last")  # old genome: defaults
    assert (by_key.loc["bbbb", "width"], by_key.loc["bbbb", "readout"]) == (4, "sinks")
    assert by_key.loc["cccc", "prior"] == "barabasi_albert" and by_key.loc["cccc", "nodes"] == 14
    assert best_final_accuracy(ledger) == pytest.approx(np.mean([0.960, 0.962]))


def test_no_final_records(tmp_path):
    run = make_run(tmp_path, "r")
    ledger, _ = open_run_ledger(run)
    assert final_frame(ledger).empty and best_final_accuracy(ledger) is None
    ledger.set_attr("final", [])
    assert best_final_accuracy(ledger) is None
    text = build_report(run).read_text()
    assert "Survivors fully trained" not in text and not (run / "final.csv").exists()


def test_malformed_final_record_is_a_ledger_error(tmp_path):
    run = make_run(tmp_path, "r", final=[{"key": "x", "seed": 0}])
    ledger, _ = open_run_ledger(run)
    with pytest.raises(LedgerError, match=r"final\[0\] lacks \['genome', 'screening', 'test_accuracy'\]"):
        final_frame(ledger)


def test_report_survivors_section_kendall_and_final_csv(tmp_path):
    run = make_run(tmp_path, "r", final=all_records())
    text = build_report(run).read_text()
    assert "## Survivors fully trained" in text
    best_row = next(line for line in text.splitlines() if "`bbbb`" in line and line.startswith("| ★"))
    assert "watts_strogatz | 12 | 4 | sinks | 500 | 0.8800 | 0.9610 ± 0.0014 | 0.9471–0.9713 | 1000 of 10000 | 2 |" in best_row
    assert "|  | `dddd` | erdos_renyi | 8 | 1 | last | 500 | 0.8500 | 0.9300 | 0.9125–0.9442 | 1000 of 10000 | 1 |" in text
    screening = [g[2] for g in GENOMES]
    means = [np.mean(g[3]) for g in GENOMES]
    tau = stats.kendalltau(screening, means)
    assert f"Kendall τ = {tau.statistic:+.2f} (p = {tau.pvalue:.3g})" in text and "over 4 genomes" in text
    assert "best fully trained (final test accuracy) | 0.9610 ± 0.0014 over 2 seed(s)" in text
    assert "95 % binomial interval 0.9471–0.9713 on 1000 of 10000 test images" in text
    assert "**Partial test set**: these figures rest on 1000 of the 10000 test images" in text

    final = pd.read_csv(run / "final.csv")
    assert len(final) == sum(len(g[3]) for g in GENOMES)
    assert list(final.columns[:6]) == ["key", "prior", "nodes", "width", "readout", "seed"]
    assert final.columns[-1] == "genome"
    assert final.loc[final["key"] == "aaaa", "test_accuracy"].tolist() == [0.950, 0.954, 0.952]
    assert set(final.loc[final["key"] == "aaaa", "readout"]) == {"last"}


def test_kendall_needs_three_genomes(tmp_path):
    genome, key, screening, accs = GENOMES[0]
    two = records(genome, key, screening, accs) + records(GENOMES[1][0], "bbbb", 0.88, [0.96])
    run = make_run(tmp_path, "r", final=two)
    text = build_report(run).read_text()
    assert "Kendall τ needs at least 3 genomes with both values; 2 have them." in text


def _values(p):
    return [0.80 + p, 0.85 + p, 0.90 + p]


def test_compare_aggregates_per_strategy_with_tests(tmp_path):
    # ga: best screening test accuracy 0.90 + d - 0.02 per seed; random likewise, lower
    ga_best = {0: 0.93, 1: 0.95, 2: 0.94}
    rnd_best = {0: 0.90, 1: 0.91, 2: 0.93}
    runs = [make_run(tmp_path, f"ga{s}", strategy="ga", seed=s, screening=(0.5, b + 0.02)) for s, b in ga_best.items()]
    runs += [make_run(tmp_path, f"rnd{s}", strategy="random", seed=s, screening=(b + 0.02, 0.4))
             for s, b in rnd_best.items()]
    runs.append(make_run(tmp_path, "nogate", strategy="ga", seed=5, gating=False, screening=(0.97,)))
    comparison = compare_runs(runs)
    groups = comparison.groups.set_index("strategy")
    assert list(groups.index) == ["ga", "random", "ga (no gate)"]
    ga, rnd = list(ga_best.values()), list(rnd_best.values())
    assert groups.loc["ga", "runs"] == 3 and groups.loc["ga", "seeds"] == "0 1 2"
    assert groups.loc["ga", "mean"] == pytest.approx(np.mean(ga))
    assert groups.loc["ga", "std"] == pytest.approx(np.std(ga, ddof=1))
    assert groups.loc["random", "mean"] == pytest.approx(np.mean(rnd))
    assert groups.loc["random", "std"] == pytest.approx(np.std(rnd, ddof=1))
    assert groups.loc["ga", "measure"] == "screening test accuracy"
    assert math.isnan(groups.loc["ga (no gate)", "std"])

    tests = comparison.tests.set_index(["a", "b"])
    pair = tests.loc[("ga", "random")]
    welch = stats.ttest_ind(ga, rnd, equal_var=False)
    mwu = stats.mannwhitneyu(ga, rnd, alternative="two-sided")
    assert pair["welch_t"] == pytest.approx(welch.statistic) and pair["welch_p"] == pytest.approx(welch.pvalue)
    assert pair["mannwhitney_u"] == mwu.statistic and pair["mannwhitney_p"] == pytest.approx(mwu.pvalue)
    assert pair["mannwhitney_min_p"] == pytest.approx(0.1)
    for other in ("ga", "random"):
        lone = tests.loc[(other, "ga (no gate)")]
        assert math.isnan(lone["welch_p"]) and math.isnan(lone["mannwhitney_p"]) and "no test possible" in lone["note"]

    # the report of the first ga run, comparing the others (one named twice counts once)
    assert main(["report", str(runs[0]), *sum((["--compare", str(r)] for r in runs[1:] + runs[:1]), [])]) == 0
    text = (runs[0] / "report.md").read_text()
    assert "## Strategies compared across runs" in text
    assert f"| ga | 3 | 0, 1, 2 | screening test accuracy | {np.mean(ga):.4f} ± {np.std(ga, ddof=1):.4f} |" in text
    assert "| ga (no gate) | 1 | 5 | screening test accuracy | 0.9500 |" in text
    assert (f"| ga | random | 3 vs 3 | {welch.statistic:+.2f} | {welch.pvalue:.3g} | {mwu.statistic:.1f} | "
            f"{mwu.pvalue:.3g} | 0.1 |") in text
    assert "| ga | ga (no gate) | 3 vs 1 | no test possible: fewer than 2 runs in a group |" in text
    assert "With n = 1 or 3 runs per group these tests have little power when n is small" in text
    saved = pd.read_csv(runs[0] / "compare.csv")
    assert list(saved["strategy"]) == ["ga", "random", "ga (no gate)"] and list(saved["runs"]) == [3, 3, 1]
    assert saved.loc[0, "mean"] == pytest.approx(np.mean(ga)) and saved.loc[1, "std"] == pytest.approx(np.std(rnd, ddof=1))
    assert len(pd.read_csv(runs[0] / "compare_tests.csv")) == 3


def test_compare_prefers_final_accuracy_and_falls_back_per_run(tmp_path):
    genome, key, _, _ = GENOMES[0]
    finals = {0: [0.95, 0.96], 1: [0.97, 0.97]}
    runs = [make_run(tmp_path, f"f{s}", seed=s, final=records(genome, key, 0.9, accs) + records(genome, "other", 0.8, [0.5]))
            for s, accs in finals.items()]
    runs.append(make_run(tmp_path, "plain", seed=2, test=False, screening=(0.7, 0.75)))  # no test column: val
    comparison = compare_runs(runs)
    per_run = comparison.runs.set_index("seed")
    assert per_run.loc[0, "value"] == pytest.approx(0.955) and per_run.loc[0, "measure"] == "final test accuracy"
    assert per_run.loc[2, "value"] == pytest.approx(0.75) and per_run.loc[2, "measure"] == "screening val_accuracy"
    group = comparison.groups.iloc[0]
    assert group["measure"] == "final test accuracy / screening val_accuracy"
    assert group["mean"] == pytest.approx(np.mean([0.955, 0.97, 0.75]))
    assert comparison.tests.empty  # one strategy: no pair
    build_report(runs[0], compare=runs[1:])
    text = (runs[0] / "report.md").read_text()
    assert "**Caution:** the runs do not share one measure" in text


def test_compare_warns_when_the_budgets_differ(tmp_path):
    same = [make_run(tmp_path, f"a{s}", seed=s) for s in range(2)]
    build_report(same[0], compare=same[1:])
    assert "different budgets" not in (same[0] / "report.md").read_text()
    longer = make_run(tmp_path, "longer", seed=3, train={"epochs": 7})
    build_report(same[0], compare=[same[1], longer])
    text = (same[0] / "report.md").read_text()
    assert "**Caution:** the runs had different budgets" in text and "`longer`: screening epochs=7" in text


def test_compare_with_a_non_run_directory_writes_nothing(tmp_path, capsys):
    run = make_run(tmp_path, "r")
    assert main(["report", str(run), "--compare", str(tmp_path / "missing")]) == 1
    assert "no config.json" in capsys.readouterr().err
    assert not (run / "report.md").exists() and not (run / "compare.csv").exists()


def test_records_without_test_counts_have_no_interval_and_a_full_test_set_is_not_partial(tmp_path):
    final = records(GENOMES[0][0], "aaaa", 0.9, [0.95, 0.96], test=None)
    final += records(GENOMES[1][0], "bbbb", 0.8, [0.97], test=(10000, 10000))
    run = make_run(tmp_path, "r", final=final)
    by_key = final_frame(open_run_ledger(run)[0]).set_index("key")
    assert math.isnan(by_key.loc["aaaa", "ci_low"]) and math.isnan(by_key.loc["aaaa", "ci_high"])
    assert by_key.loc["bbbb", "ci_high"] - by_key.loc["bbbb", "ci_low"] < 0.01  # 10,000 images: a narrow interval
    text = build_report(run).read_text()
    assert "Partial test set" not in text and "| 0.9700 | 0.9665–0.9732 | 10000 | 1 |" in text


def test_trainer_notes_reach_the_report(tmp_path):
    final = records(GENOMES[0][0], "aaaa", 0.9, [0.95])
    final[0]["trial"] = 0
    final[0]["notes"] = "out of cuda memory training candidate 0 at batch size 512; trained at batch size 256"
    run = make_run(tmp_path, "r", final=final)
    ledger, _ = open_run_ledger(run)
    ledger.enqueue(Genome(prior="erdos_renyi", params={"p": 0.3}, nodes=9, seed=9), generation=0, reason="no_gate")
    ledger.complete(ledger.claim(), [0.5], {"val_accuracy": 0.5, "notes": "out of cuda memory in a stack of 8"})
    text = build_report(run).read_text()
    assert "## Trainer notes" in text and "- trial 3: out of cuda memory in a stack of 8" in text
    assert "- trial 0 (final, seed 0): out of cuda memory training candidate 0 at batch size 512" in text


def test_survivors_are_distinct_graphs_and_near_copies_only_fill_up(tmp_path):
    from nas.search.final import final_candidates

    config = SearchConfig(task="mnist", out=str(tmp_path / "r"), storage=f"journal:{tmp_path / 'r.log'}", progress=False)
    (tmp_path / "r").mkdir()
    ledger = open_search_ledger(config, resume=False)
    base = Genome(prior="erdos_renyi", params={"p": 0.3}, nodes=10, seed=1, width=4)
    trials = [(base, 0.95), (base.replace(width=6), 0.94),  # the same draw at another width: a near-copy
              (Genome(prior="watts_strogatz", params={"k": 4, "p": 0.2}, nodes=12, seed=2), 0.90),
              (Genome(prior="erdos_renyi", params={"p": 0.3}, nodes=10, seed=3), 0.85)]
    for genome, value in trials:
        ledger.enqueue(genome, generation=0, reason="no_gate")
        ledger.complete(ledger.claim(), [value], {"val_accuracy": value})
    keys = [Genome.from_json(t.user_attrs["genome"]).key for t in final_candidates(ledger, 3)]
    assert keys == [trials[0][0].key, trials[2][0].key, trials[3][0].key]  # the near-copy passed over
    keys = [Genome.from_json(t.user_attrs["genome"]).key for t in final_candidates(ledger, 4)]
    assert keys[-1] == trials[1][0].key  # too few distinct graphs: the near-copy fills the last place


def test_best_so_far_by_compute_and_by_wall_time():
    from nas.report.search import _best_so_far_curve

    frame = pd.DataFrame({"trial": [2, 0, 1], "val_accuracy": [0.9, 0.5, 0.7],
                          "example_epochs": [300.0, 100.0, 200.0], "wall_time_s": [60.0, 30.0, 30.0]})
    x, y = _best_so_far_curve(frame, "val_accuracy", compute=True)
    assert list(x) == [100.0, 300.0, 600.0] and list(y) == [0.5, 0.7, 0.9]
    x, _ = _best_so_far_curve(frame, "val_accuracy")
    assert list(x) == [0.5, 1.0, 2.0]  # minutes
