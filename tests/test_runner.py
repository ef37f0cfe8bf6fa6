"""The search loop: gating, ledger, resume, failures, workers — with a deterministic stand-in trainer.

Training itself is tested by its owners; here a stand-in returns metrics computed from the graph,
so the loop's logic runs in milliseconds. One real, tiny MNIST search is in test_cli_search.py.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from nas.exceptions import LedgerError
from nas.ledger import Ledger
from nas.report import RunOutputs
from nas.report.search import build_report
from nas.search.baseline import DENSE_ATTR, dense_dag
from nas.search.config import SearchConfig
from nas.search.gating import gate
from nas.search.loop import run_search
from nas.search.pareto import normalised_hypervolume
from nas.search.strategies import list_strategies
from nas.search.worker import run_worker
from nas.training.candidates import Outcome
from search_spaces.genome import Genome


class FakeTrainer:
    """Deterministic 'training': accuracy from the graph's density and size; fails on request."""

    family = "ff"

    def __init__(self, fail_nodes=(), interrupt_on_call=None):
        self.fail_nodes = set(fail_nodes)
        self.interrupt_on_call = interrupt_on_call
        self.calls = 0
        self.trained: list[str] = []

    def train(self, genomes):
        self.calls += 1
        if self.interrupt_on_call == self.calls:
            raise KeyboardInterrupt
        out = []
        for g in genomes:
            self.trained.append(g.key)
            if g.nodes in self.fail_nodes:
                out.append(Outcome(error="TrainingError: loss became NaN at step 3"))
                continue
            dag = g.dag()
            acc = min(1.0, dag.num_edges / (dag.num_nodes * 2.5)) * 0.8 + g.nodes / 200
            out.append(Outcome(metrics={"val_accuracy": acc, "test_accuracy": acc - 0.01, "wall_time_s": 0.5,
                                        "nonzero_weights": 10 * dag.num_edges, "parameters": 20 * dag.num_edges,
                                        "device": "cpu"}))
        return out

    def train_final(self, genomes, seed):
        """'Full training': the screening accuracy plus a small seed- and genome-dependent shift."""
        self.final_calls = getattr(self, "final_calls", 0) + 1
        if getattr(self, "interrupt_on_final", None) == self.final_calls:
            raise KeyboardInterrupt
        out = self.train(genomes)
        for g, o in zip(genomes, out):
            if o.metrics is not None:
                shift = ((int(g.key, 16) + seed) % 7) / 100.0
                o.metrics = {**o.metrics, "val_accuracy": o.metrics["val_accuracy"] + shift,
                             "test_accuracy": o.metrics["test_accuracy"] + shift}
        return out

    def train_dense(self, genome, seed):
        """'The dense counterpart': a fixed accuracy per seed, weights of the fully joined layers."""
        self.dense_calls = getattr(self, "dense_calls", 0) + 1
        dag = dense_dag(genome.dag())
        acc = 0.7 + (seed % 3) / 100
        return Outcome(metrics={"val_accuracy": acc, "test_accuracy": acc - 0.01, "nonzero_weights": 10 * dag.num_edges})


def make_config(tmp_path, name="run", **changes) -> SearchConfig:
    base = dict(task="mnist", strategy="ga", gating=True, out=str(tmp_path / name), storage=f"journal:{tmp_path / (name + '.log')}", population=6, generations=3, survivors=3, seed=7,
                nodes=(6, 14), priors=("erdos_renyi", "watts_strogatz", "barabasi_albert"), min_train_size=4,
                warmup_generations=1, shadow_fraction=0.3, progress=False, poll_interval=0.05)
    base.update(changes)
    return SearchConfig(**base)


def trajectory(ledger: Ledger):
    """(generation, genome key, reason, values) of every finished, non-requeued trial, in order."""
    rows = []
    for t in ledger.trials():
        if t.state.name in ("COMPLETE", "FAIL") and not t.user_attrs.get("requeued"):
            rows.append((t.user_attrs["generation"], t.user_attrs["key"], t.user_attrs["reason"], t.values))
    return sorted(rows, key=lambda r: (r[0], r[1]))


def test_gating_on_trains_a_share_plus_shadow(tmp_path):
    run = run_search(make_config(tmp_path), trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    gens = run.generations
    assert [g["generation"] for g in gens] == [0, 1, 2]
    assert gens[0]["trained"] == 6 and gens[0]["skipped"] == 0 and not gens[0]["gated"]
    for g in gens[1:]:
        assert g["gated"] and g["shadow"] == 1 and g["trained"] == 3 + 1 and g["skipped"] == 2
        assert g["saved_time_s"] == pytest.approx(2 * 0.5)
        assert g["false_negatives"] in (0, 1)
    reasons = [r[2] for r in trajectory(run.ledger)]
    assert reasons.count("warmup") == 6 and reasons.count("shadow") == 2 and reasons.count("gate") == 6
    gated = [t for t in run.ledger.trials() if t.user_attrs["reason"] in ("gate", "shadow")]
    assert all(isinstance(t.user_attrs["predicted"], float) for t in gated)
    assert (tmp_path / "run" / "evaluations.csv").is_file() and (tmp_path / "run" / "best" / "genome.json").is_file()


def test_gating_off_trains_everything(tmp_path):
    run = run_search(make_config(tmp_path, gating=False), trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    assert all(g["trained"] == 6 and g["skipped"] == 0 and g["shadow"] == 0 for g in run.generations)
    assert {r[2] for r in trajectory(run.ledger)} == {"no_gate"}


def test_ucb_rule_trains_at_least_one():
    import numpy as np

    cfg = SearchConfig(gate_rule="ucb", ucb_beta=1.0, shadow_fraction=0.0)
    mean, std = np.array([0.1, 0.5, 0.2]), np.array([0.0, 0.0, 0.35])
    assert gate(mean, std, cfg, kth_best=0.5, rng=np.random.default_rng(0)) == ([1, 2], [])
    assert gate(mean, std, cfg, kth_best=0.9, rng=np.random.default_rng(0)) == ([1], [])


@pytest.mark.parametrize("strategy", list_strategies())
def test_resume_after_kill_between_generations_reproduces_the_run(tmp_path, strategy):
    full = run_search(make_config(tmp_path, "full", strategy=strategy), trainer=FakeTrainer(), outputs=RunOutputs(report=False))

    class Killed(Exception):
        pass

    def kill_after_first(gen, stats):
        if gen == 1:
            raise Killed

    cfg = make_config(tmp_path, "killed", strategy=strategy)
    with pytest.raises(Killed):
        run_search(cfg, trainer=FakeTrainer(), on_generation=kill_after_first, outputs=RunOutputs(report=False))
    assert len(Ledger.open(cfg.storage_url, cfg.ledger, create=False).load_state()["generations"]) == 2
    resumed = run_search(cfg, resume=True, trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    assert trajectory(resumed.ledger) == trajectory(full.ledger)
    assert [g["skipped_candidates"] for g in resumed.generations] == [g["skipped_candidates"] for g in full.generations]
    assert {r[2] for r in trajectory(full.ledger)} >= {"warmup", "gate"}  # the loop's gate applied to every strategy


def test_ctrl_c_during_training_requeues_and_resume_reproduces(tmp_path):
    full = run_search(make_config(tmp_path, "full"), trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    cfg = make_config(tmp_path, "ctrlc")
    with pytest.raises(KeyboardInterrupt):
        run_search(cfg, trainer=FakeTrainer(interrupt_on_call=2), outputs=RunOutputs(report=False))
    ledger = Ledger.open(cfg.storage_url, cfg.ledger, create=False)
    assert ledger.load_state()["generation"] == 1
    requeued = [t for t in ledger.trials() if t.user_attrs.get("requeued")]
    assert requeued and all("interrupted" in t.user_attrs["fail_reason"] for t in requeued)
    resumed = run_search(cfg, resume=True, trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    assert trajectory(resumed.ledger) == trajectory(full.ledger)


def test_failed_training_is_recorded_and_the_search_goes_on(tmp_path):
    run = run_search(make_config(tmp_path, gating=False), trainer=FakeTrainer(fail_nodes=range(6, 10)), outputs=RunOutputs(report=False))
    failed = [t for t in run.ledger.trials() if t.state.name == "FAIL"]
    assert failed and all("NaN" in t.user_attrs["fail_reason"] for t in failed)
    assert sum(g["failed"] for g in run.generations) == len(failed)
    assert len(run.generations) == 3


def test_existing_ledger_needs_resume_and_a_compatible_config(tmp_path):
    cfg = make_config(tmp_path, generations=1)
    run_search(cfg, trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    with pytest.raises(LedgerError, match="--resume"):
        run_search(cfg, trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    with pytest.raises(LedgerError, match="incompatible config .*population: ledger has 6, asked 8"):
        run_search(cfg.with_changes(population=8), resume=True, trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    more = run_search(cfg.with_changes(generations=2), resume=True, trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    assert len(more.generations) == 2


def test_resume_of_a_missing_ledger_is_an_error(tmp_path):
    with pytest.raises(LedgerError, match="not found"):
        run_search(make_config(tmp_path), resume=True, trainer=FakeTrainer(), outputs=RunOutputs(report=False))


def test_external_worker_trains_the_queue(tmp_path):
    cfg = make_config(tmp_path, "ext", local_worker=False, generations=2,
                      storage=f"journal:{tmp_path / 'shared.log'}", ledger_name="shared")
    reference = run_search(make_config(tmp_path, "local", generations=2), trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    worker_trainer = FakeTrainer()

    def work():
        ledger = None
        while ledger is None:  # the search creates the ledger; the worker waits for it
            try:
                ledger = Ledger.open(cfg.storage_url, cfg.ledger, create=False)
                if ledger.config is None:
                    ledger = None
            except LedgerError:
                pass
        run_worker(ledger, idle_timeout=1.0, trainer=worker_trainer)

    thread = threading.Thread(target=work)
    thread.start()
    run = run_search(cfg, trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    thread.join(timeout=30)
    assert worker_trainer.trained  # the worker, not the search, trained them
    assert trajectory(run.ledger) == trajectory(reference.ledger)


def test_pareto_search_two_objectives(tmp_path):
    run = run_search(make_config(tmp_path, second_objective="nonzero_weights", strategy="ga"), trainer=FakeTrainer(),
                     outputs=RunOutputs(report=False))
    assert run.ledger.study.directions[1].name == "MINIMIZE"
    assert all(len(t.values) == 2 for t in run.ledger.trials() if t.state.name == "COMPLETE")
    report = build_report(tmp_path / "run", ledger=run.ledger).read_text()
    assert "## Pareto front" in report and (tmp_path / "run" / "pareto.png").is_file()
    points = np.array([t.values for t in run.ledger.trials() if t.state.name == "COMPLETE"])
    expected = normalised_hypervolume(points, (1.0, -1.0), (0.0, points[:, 1].max()))
    assert 0 < expected < 1 and f"Hypervolume **{expected:.4f}**" in report


def test_cnn_family_trains_a_generation_together(tmp_path):
    trainer = FakeTrainer()
    trainer.family = "cnn"
    run = run_search(make_config(tmp_path, generations=1, gating=False, final_top=0), trainer=trainer, outputs=RunOutputs(report=False))
    # one call for the whole generation (stacked CNNs), plus one retraining of the best for
    # best/model.pt (the stand-in returns no model, so the search must make the weights itself)
    assert run.generations[0]["trained"] == 6 and trainer.calls == 2


def test_recurrent_family_trains_a_generation_together(tmp_path):
    trainer = FakeTrainer()
    trainer.family = "rnn:gru"
    run = run_search(make_config(tmp_path, generations=1, gating=False, final_top=0), trainer=trainer, outputs=RunOutputs(report=False))
    # one call for the whole generation, plus the retraining of the best for best/model.pt
    assert run.generations[0]["trained"] == 6 and trainer.calls == 2


def test_a_saved_predictor_gates_from_generation_zero_and_is_refit_as_a_clone(tmp_path):
    import numpy as np

    from predictors import make_predictor, save_predictor
    from search_spaces.operators import random_genome

    rng = np.random.default_rng(0)
    genomes = [random_genome(rng, priors=["erdos_renyi", "watts_strogatz"], nodes=(6, 14)) for _ in range(12)]
    scores = [o.metrics["val_accuracy"] for o in FakeTrainer().train(genomes)]
    path = tmp_path / "p.skops"
    save_predictor(make_predictor("rf", group="paper", random_state=0, n_estimators=17).fit(genomes, scores), path)

    run = run_search(make_config(tmp_path, predictor_file=str(path)), trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    reasons = {(g, r) for g, _, r, _ in trajectory(run.ledger)}
    assert (0, "gate") in reasons and (0, "warmup") not in reasons  # no warm-up with a given predictor
    assert run.generations[0]["skipped"] > 0

    without = run_search(make_config(tmp_path, "plain"), trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    assert {r for g, _, r, _ in trajectory(without.ledger) if g == 0} == {"warmup"}


def test_a_predictor_file_that_is_not_a_predictor_is_refused_before_anything_is_written(tmp_path):
    from predictors.exceptions import PredictorFileError

    bogus = tmp_path / "p.skops"
    bogus.write_bytes(b"not a zip")
    cfg = make_config(tmp_path, predictor_file=str(bogus))
    with pytest.raises(PredictorFileError):
        run_search(cfg)
    assert not (tmp_path / "run").exists()


class MachineLost(Exception):
    pass


class DyingTrainer(FakeTrainer):
    """A worker whose machine disappears mid-training: no result, no requeue, heartbeats stop."""

    def train(self, genomes):
        raise MachineLost


def _wait_for_ledger(cfg) -> Ledger:
    while True:
        try:
            ledger = Ledger.open(cfg.storage_url, cfg.ledger, create=False)
            if ledger.config is not None:
                return ledger
        except LedgerError:
            pass


def test_a_dead_worker_does_not_stall_the_search(tmp_path):
    cfg = make_config(tmp_path, "ext", local_worker=False, generations=2, heartbeat_interval=0.05, stale_after=0.5,
                      storage=f"journal:{tmp_path / 'shared.log'}", ledger_name="shared")
    reference = run_search(make_config(tmp_path, "local", generations=2), trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    survivor = FakeTrainer()

    def workers():
        ledger = _wait_for_ledger(cfg)
        with pytest.raises(MachineLost):  # claims one trial and dies holding it
            run_worker(ledger, trainer=DyingTrainer(), idle_timeout=30.0, share=1)
        run_worker(ledger, idle_timeout=2.0, trainer=survivor)

    thread = threading.Thread(target=workers)
    thread.start()
    run = run_search(cfg, trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    thread.join(timeout=60)
    lost = [t for t in run.ledger.trials() if t.user_attrs.get("requeued")]
    # the dying worker hands its trial back on the way out (a killed one's is requeued as stale:
    # tests/test_ledger_faults.py)
    assert len(lost) == 1 and "MachineLost in the worker; requeued" in lost[0].user_attrs["fail_reason"]
    assert survivor.trained and trajectory(run.ledger) == trajectory(reference.ledger)


def test_a_worker_taken_for_dead_does_not_record_its_trial_twice(tmp_path):
    from nas.search.strategies import Objectives
    from nas.search.worker import train_claims

    ledger = Ledger.open(f"journal:{tmp_path / 'l.log'}", "s", directions=["maximize"])
    ledger.enqueue(Genome("erdos_renyi", {"p": 0.3}, nodes=10, seed=0), generation=0)
    claim = ledger.claim()
    assert ledger.requeue_stale(None) == 1  # another process gave up on it
    outcomes = train_claims(ledger, FakeTrainer(), [claim], Objectives("val_accuracy"), heartbeat_interval=0.05)
    assert "not recorded" in outcomes[claim.number].error
    assert [t.state.name for t in ledger.trials()] == ["FAIL", "WAITING"]


@pytest.mark.parametrize("changes, field", [({"stale_after": 5.0, "heartbeat_interval": 10.0}, "stale_after"),
                                            ({"heartbeat_interval": 0}, "heartbeat_interval"),
                                            ({"stale_after": float("inf")}, "stale_after")])
def test_heartbeat_settings_are_checked(changes, field):
    from nas.exceptions import ConfigError

    with pytest.raises(ConfigError, match=field):
        SearchConfig(**changes)


def test_final_phase_trains_the_top_k_over_seeds_and_resumes_after_a_kill(tmp_path):
    from nas.search.final import BEST_ATTR, FINAL_ATTR, final_candidates

    config = make_config(tmp_path, final_top=3, final_seeds=2)
    trainer = FakeTrainer()
    trainer.interrupt_on_final = 2  # killed while training the second seed
    with pytest.raises(KeyboardInterrupt):
        run_search(config, trainer=trainer, outputs=RunOutputs(report=False))
    ledger = Ledger.open(config.storage_url, config.ledger, create=False)
    first = ledger.get_attr(FINAL_ATTR)
    assert len(first) == 3 and {r["seed"] for r in first} == {7}  # the first seed's batch was saved
    resumed = FakeTrainer()
    run = run_search(config, resume=True, trainer=resumed, outputs=RunOutputs())
    records = run.final
    assert records[:3] == first and len(records) == 6
    assert sorted((r["key"], r["seed"]) for r in records) == sorted(
        (k, s) for k in {r["key"] for r in records} for s in (7, 8))
    top = final_candidates(ledger, 3)
    assert {t.user_attrs["key"] for t in top} == {r["key"] for r in records}
    for r in records:
        assert r["screening"] == next(t.values[0] for t in top if t.user_attrs["key"] == r["key"])
    # the best survivor: highest mean final validation accuracy
    means = {k: np.mean([r["val_accuracy"] for r in records if r["key"] == k]) for k in {r["key"] for r in records}}
    assert ledger.get_attr(BEST_ATTR) == max(means, key=means.get)
    assert json.loads((tmp_path / "run" / "best" / "genome.json").read_text())["final"]["key"] == max(means, key=means.get)
    report = (tmp_path / "run" / "report.md").read_text()
    assert "Survivors fully trained" in report
    best_line = next(line for line in report.splitlines() if line.startswith("Best architecture"))
    chosen = json.loads((tmp_path / "run" / "best" / "genome.json").read_text())["genome"]
    assert "fully trained survivor" in best_line and Genome.from_dict(chosen).to_json() in best_line  # best/'s genome
    # the dense baseline: the best survivor's dense counterpart, once per final seed, beside it in the report
    dense = ledger.get_attr(DENSE_ATTR)
    assert [(r["of"], r["seed"]) for r in dense] == [(max(means, key=means.get), 7), (max(means, key=means.get), 8)]
    assert "## Dense baseline" in report and "too few seeds for a test" in report
    # resuming again trains nothing more
    again = FakeTrainer()
    run_search(config, resume=True, trainer=again, outputs=RunOutputs(report=False))
    assert len(ledger.get_attr(FINAL_ATTR)) == 6 and again.calls == 1  # only best/'s weights (the stand-in keeps none)
    assert getattr(again, "dense_calls", 0) == 0 and ledger.get_attr(DENSE_ATTR) == dense


def test_a_dense_baseline_killed_midway_resumes_and_can_be_turned_off(tmp_path):
    config = make_config(tmp_path, final_top=2, final_seeds=3)
    trainer = FakeTrainer()
    original = trainer.train_dense

    def dies_on_the_second(genome, seed):
        if getattr(trainer, "dense_calls", 0) == 1:
            raise KeyboardInterrupt
        return original(genome, seed)

    trainer.train_dense = dies_on_the_second
    with pytest.raises(KeyboardInterrupt):
        run_search(config, trainer=trainer, outputs=RunOutputs(report=False))
    ledger = Ledger.open(config.storage_url, config.ledger, create=False)
    assert [r["seed"] for r in ledger.get_attr(DENSE_ATTR)] == [7]
    resumed = FakeTrainer()
    run_search(config, resume=True, trainer=resumed, outputs=RunOutputs())
    assert [r["seed"] for r in ledger.get_attr(DENSE_ATTR)] == [7, 8, 9] and resumed.dense_calls == 2
    report = (tmp_path / "run" / "report.md").read_text()
    assert "Welch's t" in report  # 3 seeds on each side
    off = make_config(tmp_path, "off", final_top=2, final_seeds=1, dense_baseline=False)
    plain = FakeTrainer()
    run_search(off, trainer=plain, outputs=RunOutputs())
    assert getattr(plain, "dense_calls", 0) == 0 and "Dense baseline" not in (tmp_path / "off" / "report.md").read_text()


class _Clock:
    """A fake monotonic clock that training advances: every train call takes ``step`` seconds."""

    def __init__(self, step: float):
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        return self.now


class _TimedTrainer(FakeTrainer):
    def __init__(self, clock: _Clock):
        super().__init__()
        self.clock = clock

    def train(self, genomes):
        self.clock.now += self.clock.step
        return super().train(genomes)

    def train_dense(self, genome, seed):
        self.clock.now += self.clock.step
        return super().train_dense(genome, seed)


def test_a_time_limited_run_stops_between_generations_and_resumes_to_the_same_result(tmp_path, monkeypatch):
    from nas.search.final import TimeSlice

    full = run_search(make_config(tmp_path, "full", final_top=2, final_seeds=2), trainer=FakeTrainer(),
                      outputs=RunOutputs(report=False))
    clock = _Clock(step=100.0)
    monkeypatch.setattr(TimeSlice, "clock", staticmethod(clock))
    cfg = make_config(tmp_path, "sliced", final_top=2, final_seeds=2)
    lines = []
    # 250 s: generation 0 (100 s) and 1 (to 200 s) fit; generation 2 would end at 300 s
    first = run_search(cfg, trainer=_TimedTrainer(clock), outputs=RunOutputs(report=False), time_limit=250, echo=lines.append)
    assert first.stopped and len(first.generations) == 2 and first.final == []
    assert "time limit of 250 s reached after 2 of 3 generations; continue with the same command plus --resume" in lines[-1]
    # the next slice: the last generation, then one final seed's batch (a 100 s unit) fits, the second does not
    second = run_search(cfg, resume=True, trainer=_TimedTrainer(clock), outputs=RunOutputs(report=False), time_limit=250)
    assert second.stopped and len(second.generations) == 3 and len(second.final) == 2
    # the third: the second seed's batch and best/'s retraining (200 s); the dense baseline waits
    third = run_search(cfg, resume=True, trainer=_TimedTrainer(clock), outputs=RunOutputs(report=False), time_limit=250)
    assert third.stopped and len(third.final) == 4 and not third.ledger.get_attr(DENSE_ATTR)
    fourth = run_search(cfg, resume=True, trainer=_TimedTrainer(clock), outputs=RunOutputs(report=False), time_limit=400)
    assert not fourth.stopped
    assert trajectory(fourth.ledger) == trajectory(full.ledger)
    strip = lambda records: [{k: v for k, v in r.items() if k != "wall_time_s"} for r in records]  # noqa: E731
    assert strip(fourth.final) == strip(full.final)
    assert strip(fourth.ledger.get_attr(DENSE_ATTR)) == strip(full.ledger.get_attr(DENSE_ATTR))


def test_a_unit_longer_than_the_limit_still_runs_once_per_slice(tmp_path, monkeypatch):
    from nas.search.final import TimeSlice

    clock = _Clock(step=1000.0)
    monkeypatch.setattr(TimeSlice, "clock", staticmethod(clock))
    cfg = make_config(tmp_path, "long", final_top=0)
    run = run_search(cfg, trainer=_TimedTrainer(clock), outputs=RunOutputs(report=False), time_limit=10)
    assert run.stopped and len(run.generations) == 1


def test_a_copied_run_directory_is_refused_and_overwrite_replaces_a_run(tmp_path):
    import shutil

    cfg = make_config(tmp_path, generations=1, storage=None)  # the ledger in the run directory
    run_search(cfg, trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    copy = tmp_path / "copy"
    shutil.copytree(cfg.out, copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()}
    moved = cfg.with_changes(out=str(copy), ledger_name=None)  # the ledger name follows the folder: "copy"
    with pytest.raises(LedgerError, match="already holds a search run .*--resume.*--overwrite"):
        run_search(moved, trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    assert {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()} == before  # nothing touched
    with pytest.raises(Exception, match="expected one of them"):
        run_search(moved, resume=True, overwrite=True, trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    again = run_search(moved, overwrite=True, trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    assert len(again.generations) == 1
    assert Ledger.open(again.config.storage_url, "copy", create=False).config is not None
    with pytest.raises(LedgerError):  # the copied ledger went with the replaced run
        Ledger.open(again.config.storage_url, "run", create=False)
    external = cfg.with_changes(storage=f"sqlite:///{tmp_path / 'elsewhere.db'}")
    with pytest.raises(Exception, match="--overwrite replaces a run whose ledger is in its run directory"):
        run_search(external, overwrite=True, trainer=FakeTrainer(), outputs=RunOutputs(report=False))
