"""Training compute in trained example-epochs: counted per trial and per generation, and a search's
``compute_budget`` that stops it between generations and resumes to the same trajectory."""

from __future__ import annotations

import pandas as pd
import pytest
from planted import COST, FINAL_COST, SPACE, PlantedTrainer
from test_runner import trajectory

from nas.ledger import Ledger
from nas.report import RunOutputs
from nas.search.config import SearchConfig
from nas.search.evaluator import Trainer, example_epochs
from nas.search.loop import run_search
from nas.search.statistics import budget_reached, screening_compute
from nas.training.candidates import Outcome
from nas.training.config import TrainConfig


def make_config(tmp_path, name="run", **changes) -> SearchConfig:
    base = dict(task="mnist", out=str(tmp_path / name), seed=3, generations=10, progress=False, **SPACE)
    base.update(changes)
    return SearchConfig(**base)


def test_example_epochs_are_examples_times_epochs_run_cut_by_max_steps():
    cfg = TrainConfig(epochs=4, batch_size=64)
    assert example_epochs(1000, cfg, {"epochs": 4, "steps": 64}) == 4000
    assert example_epochs(1000, cfg, {"epochs": 2, "steps": 32}) == 2000  # stopped early
    assert example_epochs(1000, cfg, {"epochs": 1, "steps": 5}) == 320  # max_steps ended the epoch
    assert example_epochs(1000, cfg, None) == 4000  # a failed training is charged its planned budget


def test_the_trainer_counts_every_outcome_failed_ones_at_their_planned_budget(monkeypatch):
    trainer = Trainer(SearchConfig(task="mnist", train={"epochs": 3, "train_subset": 200}))
    monkeypatch.setattr(Trainer, "train_examples", lambda self, config=None: 200)
    outcomes = trainer._counted([Outcome(metrics={"epochs": 2, "steps": 10}), Outcome(error="NaN")],
                                trainer.train_config)
    assert [o.metrics["example_epochs"] for o in outcomes] == [400, 600]
    assert outcomes[1].error == "NaN"
    assert trainer.screening_cost() == 600


def test_the_budget_stops_the_search_after_the_generation_that_reaches_it(tmp_path):
    # 6 candidates x 1,000 example-epochs a generation: 6,000 after generation 0, 12,000 after 1
    run = run_search(make_config(tmp_path, compute_budget=6_500, final_top=1, final_seeds=2),
                     trainer=PlantedTrainer(), outputs=RunOutputs(report=False))
    assert len(run.generations) == 2 and run.budget_reached
    assert [g["example_epochs"] for g in run.generations] == [6 * COST, 6 * COST]
    assert [g["cumulative_example_epochs"] for g in run.generations] == [6 * COST, 12 * COST]
    assert [r["example_epochs"] for r in run.final] == [FINAL_COST, FINAL_COST]  # the final phase ran as usual
    evaluations = pd.read_csv(tmp_path / "run" / "evaluations.csv")
    assert (evaluations["example_epochs"] == COST).all() and len(evaluations) == 12
    assert (pd.read_csv(tmp_path / "run" / "final.csv")["example_epochs"] == FINAL_COST).all()


def test_a_budget_met_exactly_stops_there_and_no_budget_runs_every_generation(tmp_path):
    exact = run_search(make_config(tmp_path, "exact", compute_budget=6_000, generations=4), trainer=PlantedTrainer())
    assert len(exact.generations) == 1 and exact.budget_reached
    free = run_search(make_config(tmp_path, "free", generations=3), trainer=PlantedTrainer())
    assert len(free.generations) == 3 and not free.budget_reached
    assert free.generations[-1]["cumulative_example_epochs"] == 18 * COST


def test_a_budget_stopped_search_resumed_after_a_kill_has_the_same_trajectory(tmp_path):
    full = run_search(make_config(tmp_path, "full", strategy="ga", compute_budget=15_000), trainer=PlantedTrainer())

    class Killed(Exception):
        pass

    def kill(gen, stats):
        if gen == 1:
            raise Killed

    cfg = make_config(tmp_path, "killed", strategy="ga", compute_budget=15_000)
    with pytest.raises(Killed):
        run_search(cfg, trainer=PlantedTrainer(), on_generation=kill)
    resumed = run_search(cfg, resume=True, trainer=PlantedTrainer())
    assert len(resumed.generations) == len(full.generations) == 3 and resumed.budget_reached
    assert trajectory(resumed.ledger) == trajectory(full.ledger)
    again = run_search(cfg, resume=True, trainer=PlantedTrainer())  # already spent: no generation starts
    assert len(again.generations) == 3 and again.budget_reached


def test_a_larger_budget_on_resume_continues_the_search(tmp_path):
    cfg = make_config(tmp_path, compute_budget=6_000)
    run_search(cfg, trainer=PlantedTrainer())
    more = run_search(cfg.with_changes(compute_budget=12_000), resume=True, trainer=PlantedTrainer())
    assert len(more.generations) == 2
    stored = Ledger.open(cfg.storage_url, cfg.ledger, create=False).load_state()["generations"]
    assert screening_compute(stored) == 12 * COST


def test_histories_stored_before_compute_was_counted_count_zero():
    assert screening_compute([{"generation": 0}, {"generation": 1, "example_epochs": 5}]) == 5
    assert not budget_reached(None, [{"cumulative_example_epochs": 10**9}])
    assert budget_reached(10, [{"cumulative_example_epochs": 10}])


@pytest.mark.parametrize("value", [0, -5, 1.5, "many"])
def test_a_bad_compute_budget_is_refused(value):
    with pytest.raises(Exception, match="SearchConfig.compute_budget"):
        SearchConfig(compute_budget=value)
