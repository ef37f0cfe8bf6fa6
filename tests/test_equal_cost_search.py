"""Search at equal cost: the FLOPs target, the structure-effect section of the report, and the
cost-aware gate (rule ``cost``) — with the loop's deterministic stand-in trainer."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest
from test_runner import FakeTrainer, make_config, trajectory

from nas.cli.main import main
from nas.exceptions import OptionError
from nas.ledger import Ledger
from nas.report import RunOutputs
from nas.report.equal_cost import structure_effect
from nas.report.search import build_report
from nas.search.config import SearchConfig
from nas.search.config_files import write_config
from nas.search.gating import cost_order, gate
from nas.search.loop import open_search_ledger, run_search
from nas.training.equal_cost import width_for_flops_target
from nas.training.flops import task_flops_counter
from nas.training.tasks import get_task
from search_spaces.genome import Genome

MNIST_SHAPE = types.SimpleNamespace(input_shape=(1, 28, 28), num_classes=10)


class ShapedTrainer(FakeTrainer):
    """The stand-in trainer with what the cost target and the cost gate ask of a trainer: the task,
    the data's shape, FLOPs in the metrics and a predicted training cost (nodes x width)."""

    task = get_task("mnist")
    data = MNIST_SHAPE

    def train(self, genomes):
        out = super().train(genomes)
        count = task_flops_counter(self.task, self.data)
        for g, o in zip(genomes, out):
            if o.metrics is not None:
                o.metrics["flops"] = count(g)
        return out

    def training_cost(self, genomes):
        return [float(g.nodes * g.width) for g in genomes]


# --- the config --------------------------------------------------------------------------------


def test_both_cost_targets_are_one_line_error(tmp_path, capsys):
    with pytest.raises(OptionError, match=r"SearchConfig\.flops_target = 5000; expected None while weight_target = 20000 is set"):
        SearchConfig(weight_target=20_000, flops_target=5_000)
    out = tmp_path / "both"
    code = main(["search", "--task", "mnist", "--out", str(out), "--weight-target", "20000", "--flops-target", "5000"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("error: SearchConfig.flops_target = 5000")
    assert not out.exists()


@pytest.mark.parametrize("value", ["0", "-3"])
def test_a_bad_flops_target_is_one_line(tmp_path, capsys, value):
    out = tmp_path / "bad"
    assert main(["search", "--task", "mnist", "--out", str(out), "--flops-target", value]) == 1
    assert capsys.readouterr().err.strip() == f"error: SearchConfig.flops_target = {value}; expected an integer >= 1 or None"
    assert not out.exists()


def test_the_flops_target_and_the_cost_rule_are_trajectory_settings():
    assert SearchConfig(flops_target=9000).trajectory()["flops_target"] == 9000
    assert SearchConfig(flops_target=9000).to_dict()["flops_target"] == 9000
    assert "flops_target" not in SearchConfig().to_dict()  # unset: stored exactly as before the option existed
    assert SearchConfig().trajectory()["flops_target"] is None
    assert SearchConfig.from_stored({k: v for k, v in SearchConfig().to_dict().items() if k != "flops_target"}).flops_target is None
    with pytest.raises(OptionError, match=r"gate_rule = 'cheap'; expected one of \['top', 'ucb', 'cost'\]"):
        SearchConfig(gate_rule="cheap")


# --- the FLOPs target in a search --------------------------------------------------------------


def test_a_flops_target_search_sets_every_candidate_width_to_meet_it(tmp_path):
    target = 60_000
    config = make_config(tmp_path, flops_target=target, widths=(1, 64), final_top=0)
    run = run_search(config, trainer=ShapedTrainer(), outputs=RunOutputs(report=False))
    count = task_flops_counter(get_task("mnist"), MNIST_SHAPE)
    trials = [t for t in run.ledger.trials() if t.state.name == "COMPLETE"]
    assert len(trials) >= config.population
    for t in trials:
        genome = Genome.from_json(t.user_attrs["genome"])
        assert genome == width_for_flops_target(genome, target, count, (1, 64))
        assert t.user_attrs["flops"] == count(genome)
        assert abs(count(genome) - target) <= abs(count(genome.replace(width=genome.width + 1)) - target)
    assert len({Genome.from_json(t.user_attrs["genome"]).width for t in trials}) > 1  # widths follow the graphs
    header = (tmp_path / "run" / "evaluations.csv").read_text().splitlines()[0].split(",")
    assert "flops" in header


# --- the structure effect in the report --------------------------------------------------------


def _planted_run(tmp_path, accuracies, costs, **target):
    config = SearchConfig(task="mnist", out=str(tmp_path / "planted"), storage=f"journal:{tmp_path / 'planted.log'}",
                          progress=False, **target)
    run_dir = tmp_path / "planted"
    run_dir.mkdir()
    write_config(config, run_dir)
    ledger = open_search_ledger(config, resume=False)
    for i, (acc, cost) in enumerate(zip(accuracies, costs)):
        ledger.enqueue(Genome("erdos_renyi", {"p": 0.3}, nodes=6 + i, seed=i), generation=0, reason="no_gate")
        ledger.complete(ledger.claim(), [acc], {"val_accuracy": acc, "wall_time_s": 0.5, "nonzero_weights": 100,
                                                "flops": cost})
    return run_dir, config, ledger


def test_the_structure_effect_section_gives_best_median_spread_and_cost_deviation(tmp_path):
    accuracies = [0.80, 0.90, 0.85, 0.95, 0.70]
    costs = [9_500, 10_000, 10_200, 10_800, 9_900]
    run_dir, config, ledger = _planted_run(tmp_path, accuracies, costs, flops_target=10_000)
    report = build_report(run_dir, ledger=ledger).read_text()
    section = report.split("## Structure at equal cost")[1].split("\n## ")[0]
    assert "FLOPs per example come closest to 10,000 (`flops_target`)" in section
    assert "over the 5 trained candidates" in section
    assert "| best | 0.9500 |" in section and "| median | 0.8500 |" in section
    assert "| best − median | 0.1000 |" in section
    assert "| interquartile range (25th–75th percentile) | 0.1000 (0.8000–0.9000) |" in section
    assert "| FLOPs per example relative to the target (min, max) | -5.0 %, +8.0 % over 5 candidates |" in section


def test_the_structure_effect_follows_the_weight_target_and_is_absent_without_one(tmp_path):
    frame = pd.DataFrame({"val_accuracy": [0.5, 0.7], "nonzero_weights": [1_900, 2_100]})
    effect = structure_effect(frame, SearchConfig(weight_target=2_000), "val_accuracy")
    assert effect["column"] == "nonzero_weights" and effect["n"] == 2
    assert effect["deviation_min"] == pytest.approx(-0.05) and effect["deviation_max"] == pytest.approx(0.05)
    assert structure_effect(frame, SearchConfig(), "val_accuracy") is None
    run_dir, _, ledger = _planted_run(tmp_path, [0.8, 0.9], [1, 2])
    assert "Structure at equal cost" not in build_report(run_dir, ledger=ledger).read_text()


# --- the cost-aware gate -----------------------------------------------------------------------


def test_the_cost_gate_prefers_the_cheaper_of_equal_gains_and_the_larger_of_equal_costs():
    cfg = SearchConfig(gate_rule="cost", train_fraction=0.5, shadow_fraction=0.0, ucb_beta=1.0)
    rng = np.random.default_rng(0)
    zero = np.zeros(2)
    # equal predicted gain (0.1 over the k-th best), the second half as expensive
    assert gate(np.array([0.6, 0.6]), zero, cfg, 0.5, rng, costs=[2.0, 1.0]) == ([1], [])
    # equal cost, the second with the larger gain
    assert gate(np.array([0.55, 0.7]), zero, cfg, 0.5, rng, costs=[1.0, 1.0]) == ([1], [])
    # a twice larger gain at three times the cost loses to the cheap one
    assert gate(np.array([0.7, 0.6]), zero, cfg, 0.5, rng, costs=[3.0, 1.0]) == ([1], [])
    # the gain is optimistic: mean + beta * std
    assert gate(np.array([0.55, 0.52]), np.array([0.0, 0.2]), cfg, 0.5, rng, costs=[1.0, 1.0]) == ([1], [])


def test_cost_order_puts_candidates_without_a_gain_last_by_optimistic_value():
    # gains: 0.1 (cost 1), none, 0.3 (cost 6), none; the two without a gain ranked by mean, not cost
    assert cost_order([0.6, 0.3, 0.8, 0.4], [0] * 4, [1.0, 0.1, 6.0, 5.0], 0.5, beta=1.0) == [0, 2, 3, 1]
    # nothing measured yet: the gain is counted from the lowest optimistic value
    assert cost_order([0.6, 0.3, 0.8], [0] * 3, [1.0, 1.0, 1.0], None, beta=1.0) == [2, 0, 1]
    # no costs: equal costs; an unbuildable (inf, NaN) candidate comes last among those with a gain
    assert cost_order([0.6, 0.7], [0, 0], None, 0.5, beta=1.0) == [1, 0]
    assert cost_order([0.9, 0.7, 0.8], [0] * 3, [np.inf, 1.0, np.nan], 0.5, beta=1.0) == [1, 0, 2]


def test_the_cost_gate_trains_a_share_and_shadow_samples_the_rest():
    cfg = SearchConfig(gate_rule="cost", train_fraction=0.25, shadow_fraction=0.5)
    mean = np.linspace(0.5, 0.9, 8)
    selected, shadow = gate(mean, np.zeros(8), cfg, 0.6, np.random.default_rng(1), costs=np.arange(1.0, 9.0))
    assert len(selected) == 2 and len(shadow) == 3 and not set(selected) & set(shadow)


def test_a_cost_gated_search_resumes_after_a_kill_to_the_same_trajectory(tmp_path):
    config = dict(gate_rule="cost", train_fraction=0.5, widths=(1, 4), final_top=0)
    full = run_search(make_config(tmp_path, "full", **config), trainer=ShapedTrainer(), outputs=RunOutputs(report=False))

    class Killed(Exception):
        pass

    def kill_after_first(gen, stats):
        if gen == 1:
            raise Killed

    cfg = make_config(tmp_path, "killed", **config)
    with pytest.raises(Killed):
        run_search(cfg, trainer=ShapedTrainer(), on_generation=kill_after_first, outputs=RunOutputs(report=False))
    assert len(Ledger.open(cfg.storage_url, cfg.ledger, create=False).load_state()["generations"]) == 2
    resumed = run_search(cfg, resume=True, trainer=ShapedTrainer(), outputs=RunOutputs(report=False))
    assert trajectory(resumed.ledger) == trajectory(full.ledger)
    assert all(g["gated"] for g in full.generations[1:])
    # the gate weighed the costs: a plain "top" gate picks other candidates
    top = run_search(make_config(tmp_path, "top", **{**config, "gate_rule": "top"}), trainer=ShapedTrainer(),
                     outputs=RunOutputs(report=False))
    assert trajectory(top.ledger) != trajectory(full.ledger)
