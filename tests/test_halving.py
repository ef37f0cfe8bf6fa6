"""Multi-fidelity screening (``screening = "halving"``): rungs, promotion, compute, resume, and the
learning curve as predictor features — with a stand-in trainer whose accuracy grows with the
share of the budget it trains for."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from nas.cli.main import main
from nas.exceptions import OptionError
from nas.ledger import Ledger
from nas.report import RunOutputs
from nas.search.config import SearchConfig
from nas.search.evaluator import Trainer
from nas.report.run import best_screening
from nas.search.final import best_trial, final_candidates
from nas.search.loop import run_search
from nas.search.rungs import compute_of, fidelity, promoted, rung_sizes, rung_steps, screened_fully
from predictors.inputs import curve_features
from search_spaces.genome import Genome
from test_runner import FakeTrainer, make_config, trajectory


class RungTrainer(FakeTrainer):
    """FakeTrainer whose accuracy at ``fidelity`` f is its full accuracy × (0.5 + 0.5 f), with a
    learning curve of ``ceil(3 f)`` epochs; records every (key, fidelity) it trains."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.runs: list[tuple[str, float]] = []

    def train(self, genomes, fidelity=None):
        share = 1.0 if fidelity is None else fidelity
        out = super().train(genomes)
        for g, o in zip(genomes, out):
            self.runs.append((g.key, share))
            if o.metrics is not None:
                acc = o.metrics["val_accuracy"] * (0.5 + 0.5 * share)
                epochs = max(1, round(3 * share))
                o.metrics = {**o.metrics, "val_accuracy": acc, "test_accuracy": acc - 0.01, "epochs": epochs,
                             "val_curve": [acc * (e + 1) / epochs for e in range(epochs)],
                             "example_epochs": round(900 * share)}
        return out


def halving_config(tmp_path, name="run", **changes):
    base = dict(screening="halving", halving_eta=3, halving_rungs=3, population=9, survivors=3, gating=False,
                final_top=0)
    base.update(changes)
    return make_config(tmp_path, name, **base)


def rung_trials(ledger, gen, rung):
    return [t for t in ledger.trials() if t.user_attrs.get("generation") == gen and t.user_attrs.get("rung") == rung
            and t.state.name == "COMPLETE"]


# --- the rungs, as pure functions ---------------------------------------------------------------


def test_rung_plan():
    assert [fidelity(r, rungs=3, eta=3) for r in range(3)] == [1 / 9, 1 / 3, 1.0]
    assert rung_sizes(9, rungs=3, eta=3) == [9, 3, 1]
    assert rung_sizes(4, rungs=3, eta=3) == [4, 1, 1]
    assert rung_sizes(8, rungs=2, eta=2) == [8, 4]
    assert rung_steps(188, 1 / 9) == 21 and rung_steps(3, 1 / 9) == 1 and rung_steps(90, 1 / 3) == 30
    assert promoted([(0, 0.5), (1, 0.9), (2, None), (3, 0.9), (4, float("nan"))], 2) == [1, 3]
    assert screened_fully({}) and screened_fully({"fidelity": 1.0}) and not screened_fully({"fidelity": 1 / 3})
    assert compute_of([{}, {"fidelity": 0.5}]) == 1.5


def test_the_trainer_cuts_the_screening_budget_to_a_rung():
    trainer = Trainer(SearchConfig(task="mnist", train={"epochs": 2, "batch_size": 100, "train_subset": 1000}))
    trainer._data = SimpleNamespace(train=range(5000))  # only its length is read
    assert trainer.screening_steps() == 20
    assert trainer.rung_config(1 / 9).max_steps == 3
    assert trainer.rung_config(1 / 3).max_steps == 7
    assert trainer.rung_config(1.0) is trainer.train_config


# --- the search -----------------------------------------------------------------------------------


def test_halving_trains_the_planned_rungs_and_promotes_the_best(tmp_path):
    trainer = RungTrainer()
    run = run_search(halving_config(tmp_path), trainer=trainer, outputs=RunOutputs(report=False))
    for gen, stats in enumerate(run.generations):
        assert stats["rung_sizes"] == [9, 3, 1] and stats["trained"] == 9 and stats["failed"] == 0
        assert stats["stopped_early"] == 8
        rungs = [rung_trials(run.ledger, gen, r) for r in range(3)]
        assert [len(r) for r in rungs] == [9, 3, 1]
        assert {t.user_attrs["fidelity"] for t in rungs[0]} == {1 / 9}
        best3 = sorted(rungs[0], key=lambda t: -t.values[0])[:3]
        assert {t.user_attrs["key"] for t in rungs[1]} == {t.user_attrs["key"] for t in best3}
        assert rungs[2][0].user_attrs["key"] == max(rungs[1], key=lambda t: t.values[0]).user_attrs["key"]
        # the top rung is trained at the screening budget itself (no fidelity passed to the trainer)
        assert (rungs[2][0].user_attrs["key"], 1.0) in trainer.runs
    # only top-rung values count: best so far, the predictor's training set, best/
    top = [t for t in run.ledger.trials() if t.user_attrs.get("rung") == 2]
    assert run.generations[-1]["best_so_far"] == max(t.values[0] for t in top)
    state = run.ledger.load_state()
    assert sorted(state["predictor_training"]) == sorted(t.number for t in top)
    assert best_trial(run.ledger).user_attrs["rung"] == 2
    assert all(t.user_attrs["rung"] == 2 for t in final_candidates(run.ledger, 5))


def test_lower_rungs_are_told_none_to_the_strategy(tmp_path):
    run = run_search(halving_config(tmp_path), trainer=RungTrainer(), outputs=RunOutputs(report=False))
    population = run.ledger.load_state()["strategy"]["population"]
    top = {t.user_attrs["key"]: tuple(t.values) for t in run.ledger.trials() if t.user_attrs.get("rung") == 2}
    assert population and all(top[Genome.from_dict(p["genome"]).key] == tuple(p["values"]) for p in population)


def test_halving_costs_less_than_full_screening_of_the_same_candidates(tmp_path):
    halving = run_search(halving_config(tmp_path, "halving"), trainer=RungTrainer(), outputs=RunOutputs(report=False))
    for stats in halving.generations:
        assert stats["screening_trainings"] == pytest.approx(9 / 9 + 3 / 3 + 1)  # 3 full trainings, not 9
    first = {t.user_attrs["key"] for t in rung_trials(halving.ledger, 0, 0)}
    full = run_search(halving_config(tmp_path, "full", screening="full"), trainer=RungTrainer(), outputs=RunOutputs(report=False))
    assert first == {t.user_attrs["key"] for t in full.ledger.trials() if t.user_attrs["generation"] == 0}
    trials_full = [t.user_attrs for t in full.ledger.trials() if t.user_attrs["generation"] == 0]
    assert compute_of(trials_full) == 9 and "screening_trainings" not in full.generations[0]
    assert halving.generations[0]["screening_trainings"] < compute_of(trials_full)
    # the compute a --compute-budget counts is every rung's training, in example-epochs
    assert [g["example_epochs"] for g in halving.generations] == [9 * 100 + 3 * 300 + 900] * len(halving.generations)
    assert halving.generations[-1]["cumulative_example_epochs"] == 2700 * len(halving.generations)
    assert full.generations[0]["example_epochs"] == 9 * 900


def test_same_seed_same_result(tmp_path):
    a = run_search(halving_config(tmp_path, "a"), trainer=RungTrainer(), outputs=RunOutputs(report=False))
    b = run_search(halving_config(tmp_path, "b"), trainer=RungTrainer(), outputs=RunOutputs(report=False))
    rows = lambda run: [(t.user_attrs["generation"], t.user_attrs["rung"], t.user_attrs["key"], t.values)  # noqa: E731
                        for t in run.ledger.trials()]
    assert rows(a) == rows(b)
    c = run_search(halving_config(tmp_path, "c", seed=8), trainer=RungTrainer(), outputs=RunOutputs(report=False))
    assert rows(c) != rows(a)


@pytest.mark.parametrize("strategy", ["ga", "tpe"])
def test_resume_after_a_kill_between_generations_reproduces_the_run(tmp_path, strategy):
    full = run_search(halving_config(tmp_path, "full", strategy=strategy), trainer=RungTrainer(), outputs=RunOutputs(report=False))

    class Killed(Exception):
        pass

    def kill(gen, stats):
        if gen == 1:
            raise Killed

    cfg = halving_config(tmp_path, "killed", strategy=strategy)
    with pytest.raises(Killed):
        run_search(cfg, trainer=RungTrainer(), on_generation=kill, outputs=RunOutputs(report=False))
    resumed = run_search(cfg, resume=True, trainer=RungTrainer(), outputs=RunOutputs(report=False))
    assert trajectory(resumed.ledger) == trajectory(full.ledger)
    assert [g["rung_sizes"] for g in resumed.generations] == [g["rung_sizes"] for g in full.generations]


def test_ctrl_c_inside_a_rung_resumes_to_the_same_run(tmp_path):
    full = run_search(halving_config(tmp_path, "full"), trainer=RungTrainer(), outputs=RunOutputs(report=False))
    cfg = halving_config(tmp_path, "ctrlc")
    with pytest.raises(KeyboardInterrupt):  # the second call: generation 0's rung 1
        run_search(cfg, trainer=RungTrainer(interrupt_on_call=2), outputs=RunOutputs(report=False))
    trainer = RungTrainer()
    resumed = run_search(cfg, resume=True, trainer=trainer, outputs=RunOutputs(report=False))
    assert trajectory(resumed.ledger) == trajectory(full.ledger)
    assert sum(share == 1 / 9 for _, share in trainer.runs) == 2 * 9  # rung 0 of generation 0 was not retrained


def test_gated_halving_screens_what_the_gate_chose(tmp_path):
    run = run_search(halving_config(tmp_path, gating=True, population=12, min_train_size=2, train_fraction=0.5,
                                    shadow_fraction=0.0), trainer=RungTrainer(), outputs=RunOutputs(report=False))
    gated = run.generations[-1]
    assert gated["gated"] and gated["rung_sizes"] == [6, 2, 1]


def test_failures_are_not_promoted(tmp_path):
    run = run_search(halving_config(tmp_path), trainer=RungTrainer(fail_nodes=range(6, 10)), outputs=RunOutputs(report=False))
    failed = [t for t in run.ledger.trials() if t.state.name == "FAIL"]
    assert failed and all(t.user_attrs["rung"] == 0 for t in failed)
    assert sum(g["failed"] for g in run.generations) == len(failed)


# --- learning curves ------------------------------------------------------------------------------


def test_the_learning_curve_is_recorded_with_its_features(tmp_path):
    run = run_search(halving_config(tmp_path, generations=1), trainer=RungTrainer(), outputs=RunOutputs(report=False))
    for t in run.ledger.trials():
        curve = t.user_attrs["val_curve"]
        assert isinstance(curve, list) and curve[-1] == pytest.approx(t.values[0])
        assert t.user_attrs["curve_last"] == pytest.approx(curve[-1])
        assert t.user_attrs["curve_epochs"] == len(curve)
    frame = pd.read_csv(tmp_path / "run" / "evaluations.csv")
    assert {"curve_last", "curve_slope", "curve_epochs", "rung", "fidelity"} <= set(frame.columns)


def test_no_curve_no_curve_columns(tmp_path):
    run_search(make_config(tmp_path, generations=1, final_top=0), trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    frame = pd.read_csv(tmp_path / "run" / "evaluations.csv")
    assert not {"curve_last", "curve_slope", "val_curve", "rung", "fidelity"} & set(frame.columns)


def test_curve_features():
    assert curve_features([0.4]) == {"curve_last": 0.4, "curve_slope": 0.0, "curve_epochs": 1.0}
    assert curve_features([0.1, 0.5, 0.6, 0.7])["curve_slope"] == pytest.approx(0.1)
    with pytest.raises(Exception, match="finite"):
        curve_features([0.1, float("nan")])


# --- the config and the CLI -----------------------------------------------------------------------


def test_full_screening_is_stored_as_before():
    assert not {"screening", "halving_eta", "halving_rungs"} & set(SearchConfig().to_dict())
    d = SearchConfig(screening="halving", halving_eta=2).to_dict()
    assert d["screening"] == "halving" and d["halving_eta"] == 2 and "halving_rungs" not in d
    assert SearchConfig.from_dict(d).halving_eta == 2
    assert SearchConfig(screening="halving").trajectory() != SearchConfig().trajectory()


@pytest.mark.parametrize("option, value, expected", [
    ("--screening", "quarter", "Invalid value for '--screening': 'quarter' is not one of"),
    ("--halving-eta", "1", "SearchConfig.halving_eta = 1; expected an integer in [2, 100]"),
    ("--halving-rungs", "0", "SearchConfig.halving_rungs = 0; expected an integer in [2, 10]"),
])
def test_bad_halving_options_are_one_line(tmp_path, capsys, option, value, expected):
    out = tmp_path / "bad"
    code = main(["search", "--task", "mnist", "--out", str(out), "--screening", "halving", option, value])
    assert code == (2 if option == "--screening" else 1)  # 2: a value outside click's choices
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {expected}")
    assert not out.exists()
    with pytest.raises(OptionError):
        SearchConfig(**{option[2:].replace("-", "_"): value if option == "--screening" else int(value)})


def test_resume_with_other_halving_settings_is_refused(tmp_path):
    cfg = halving_config(tmp_path, generations=1)
    run_search(cfg, trainer=RungTrainer(), outputs=RunOutputs(report=False))
    with pytest.raises(Exception, match="halving_eta"):
        run_search(cfg.with_changes(halving_eta=2), resume=True, trainer=RungTrainer(), outputs=RunOutputs(report=False))
    Ledger.open(cfg.storage_url, cfg.ledger, create=False)  # still there, untouched


def test_a_lower_rung_never_counts_as_the_best_even_when_it_scores_higher(tmp_path):
    class ShortIsBetter(RungTrainer):
        """Lower rungs score *higher* here: they must still not be taken for fully screened ones."""

        def train(self, genomes, fidelity=None):
            out = super().train(genomes, fidelity)
            for o in out:
                if o.metrics is not None and fidelity is not None:
                    o.metrics = {**o.metrics, "val_accuracy": o.metrics["val_accuracy"] + 1.0,
                                 "test_accuracy": o.metrics["test_accuracy"] + 1.0}
            return out

    run = run_search(halving_config(tmp_path), trainer=ShortIsBetter(), outputs=RunOutputs(report=False))
    top = [t for t in run.ledger.trials() if t.user_attrs.get("rung") == 2]
    assert best_trial(run.ledger).number == max(top, key=lambda t: (t.values[0], -t.number)).number
    assert best_screening(run.ledger)[0] == pytest.approx(max(t.user_attrs["test_accuracy"] for t in top))
    assert run.generations[-1]["best_so_far"] == max(t.values[0] for t in top)
