"""One identity for an architecture (``architecture_key``) and one decoding of stored genome JSON.

The key says which network a genome builds: family, oriented DAG, width and readout. The search
deduplicates by it, so a width-only or readout-only change is a new architecture; a search stored
under the old key (family and DAG only) resumes with it. Every reader of genome JSON decodes the
same text to the same genome; a genome without ``width`` / ``readout`` is the paper's construction.
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState
from test_runner import FakeTrainer, make_config, trajectory

from nas.cli.arch import load_genome
from nas.exceptions import ConfigError
from nas.ledger import Ledger, LedgerStore
from nas.report import RunOutputs, evaluations_frame
from nas.search.loop import run_search
from nas.search.strategies import (
    GeneticSearch,
    Objectives,
    SearchSpace,
    Strategy,
    base,
    make_strategy,
)
from nas.studies.priors.sampling import StudyGenome
from predictors.data import read_evaluations, read_genomes
from predictors.features import GraphFeatures
from search_spaces.exceptions import InvalidValueError
from search_spaces.genome import Genome, architecture_key, genome_from_any
from search_spaces.graph_files import read_genomes_jsonl

ONE = Objectives("val_accuracy")
PATH = Genome("explicit", {}, nodes=4, edits=(("add", 0, 1), ("add", 1, 2), ("add", 2, 3)), width=4, readout="sinks")


def score(genome: Genome) -> tuple[float]:
    dag = genome.dag()
    return (dag.num_edges / (dag.num_nodes * (dag.num_nodes - 1) / 2) + genome.nodes / 100,)


def same_graph_other_widths(genomes) -> int:
    """How many (family, DAG) pairs among ``genomes`` occur at more than one width."""
    widths = defaultdict(set)
    for g in genomes:
        widths[(g.family, g.dag().wl_hash())].add(g.width)
    return sum(len(w) > 1 for w in widths.values())


# --- the key ---------------------------------------------------------------------------------------


def test_identical_builds_share_a_key_across_priors_and_seeds():
    drawn = Genome("erdos_renyi", {"p": 0.4}, nodes=9, seed=3, width=8, readout="last")
    carried = Genome("explicit", {}, nodes=9, edits=tuple(("add", u, v) for u, v in drawn.graph().edges()),
                     width=8, readout="last")
    assert drawn.key != carried.key and drawn.dag() == carried.dag()
    assert architecture_key(drawn) == architecture_key(carried)
    assert architecture_key(PATH) == architecture_key(PATH.replace(seed=7))  # explicit: the seed changes nothing
    assert architecture_key(PATH) == architecture_key(Genome.from_json(PATH.to_json()))


@pytest.mark.parametrize("change", [{"width": 8}, {"readout": "last"}, {"family": "rnn:gru"}, {"family": "cnn"}])
def test_every_build_option_changes_the_key(change):
    other = PATH.replace(**change)
    assert other.dag() == PATH.dag()
    assert architecture_key(other) != architecture_key(PATH)


def test_the_key_reads_as_what_it_keys():
    assert architecture_key(PATH) == f"ff|width=4|readout=sinks|{PATH.dag().wl_hash()}"
    # version 1, the key before width and readout were keyed: family and DAG only
    assert architecture_key(PATH, version=1) == f"ff|{PATH.dag().wl_hash()}"
    assert architecture_key(PATH.replace(width=8, readout="last"), version=1) == architecture_key(PATH, version=1)
    with pytest.raises(InvalidValueError, match=r"architecture_key\.version = 3; expected one of \[1, 2\]"):
        architecture_key(PATH, version=3)


# --- dedup -----------------------------------------------------------------------------------------


class Scripted(Strategy):
    """A strategy that proposes a fixed list, so the base class's dedup is seen alone."""

    name = "scripted"

    def __init__(self, proposals):
        super().__init__(SearchSpace(), np.random.default_rng(0), ONE)
        self.proposals = list(proposals)

    def _propose(self, n):
        out, self.proposals = self.proposals[:n], self.proposals[n:]
        return out

    def _tell(self, genomes, values):
        pass


def test_ask_keeps_width_and_readout_changes_and_drops_the_same_build():
    proposals = [PATH.replace(seed=5), PATH.replace(width=8), PATH.replace(readout="last")]
    strategy = Scripted(proposals)
    strategy.mark_seen([PATH])
    assert strategy.ask(3) == proposals[1:]
    assert strategy.state_dict()["key_version"] == 2


def test_a_state_saved_without_a_key_version_keeps_the_old_key():
    old = Scripted([])
    old.load_state_dict({"name": "scripted", "seen": [architecture_key(PATH, version=1)], "generation": 2})
    assert old.key_version == 1
    old.proposals = [PATH.replace(width=8), PATH.replace(readout="last")]
    assert old.ask(2) == []  # as the search stored under it would have: one architecture per graph
    assert old.state_dict()["key_version"] == 1  # written explicitly from now on
    with pytest.raises(ConfigError, match=r"key_version must be one of \[1, 2\], got 7"):
        old.load_state_dict({"name": "scripted", "seen": [], "generation": 0, "key_version": 7})


def test_the_ga_proposes_the_same_graph_at_two_widths():
    space = SearchSpace(priors=("erdos_renyi", "watts_strogatz", "barabasi_albert"), nodes=(6, 14), widths=(2, 16))
    strategy = GeneticSearch(space, np.random.default_rng(0), ONE, survivors=3, cx_prob=0.0, mut_prob=1.0)
    asked = []
    for _ in range(3):
        genomes = strategy.ask(6)
        asked += genomes
        strategy.tell(genomes, [score(g) for g in genomes])
    assert len({architecture_key(g) for g in asked}) == len(asked) == 18
    assert same_graph_other_widths(asked) >= 1


@pytest.mark.parametrize("name", ["random", "tpe"])
def test_a_sampler_may_draw_the_same_dag_at_another_width(name):
    space = SearchSpace(priors=("erdos_renyi",), nodes=(4, 4), widths=(2, 16))
    genomes = make_strategy(name, space, np.random.default_rng(0), ONE).ask(20)
    assert len(genomes) == 20 and same_graph_other_widths(genomes) >= 1


# --- one decoding ----------------------------------------------------------------------------------

#: What a result stored before schema 2 holds: no width, no readout (built as width 1, ``last``).
OLD = {"prior": "watts_strogatz", "params": {"k": 4, "p": 0.5}, "nodes": 12, "seed": 1, "family": "ff", "edits": []}
PAPER = Genome("watts_strogatz", {"k": 4, "p": 0.5}, nodes=12, seed=1, width=1, readout="last")


def _ledger(tmp_path, text, state):
    """A ledger holding one trial whose stored genome JSON is ``text`` (a new ledger per call)."""
    ledger = Ledger.open(f"journal:{tmp_path / f'ledger{len(list(tmp_path.iterdir()))}.log'}", "old", directions=["maximize"])
    values = [0.5] if state == TrialState.COMPLETE else None
    trial = optuna.trial.create_trial(state=state, values=values, user_attrs={"genome": text, "generation": 0})
    ledger.storage.create_new_trial(ledger.study_id, template_trial=trial)
    return ledger


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


READERS = {
    "Genome.from_json": lambda text, tmp: Genome.from_json(text),
    "Genome.from_dict": lambda text, tmp: Genome.from_dict(json.loads(text)),
    "genome_from_any": lambda text, tmp: genome_from_any(text),
    "ledger claim": lambda text, tmp: _ledger(tmp, text, TrialState.WAITING).claim().genome,
    "ledger store": lambda text, tmp: Genome.from_dict(LedgerStore(_ledger(tmp, text, TrialState.COMPLETE)).records()[0]["genome"]),
    "nas arch load_genome": lambda text, tmp: load_genome(str(_write(tmp, "g.json", text))),
    "prior study store": lambda text, tmp: StudyGenome.from_dict(
        {"id": "a", "family": "ff", "prior": "watts_strogatz", "index": 0, "genome": json.loads(text)}).genome,
    "genome JSONL": lambda text, tmp: read_genomes_jsonl(_write(tmp, "g.jsonl", json.dumps({"id": "a", "genome": json.loads(text)})))[0][1],
    "predictor genome file": lambda text, tmp: read_genomes(_write(tmp, "g.jsonl", text))[0],
    "evaluations.csv": lambda text, tmp: Genome.from_json(read_evaluations(
        _write(tmp, "e.csv", pd.DataFrame({"genome": [text, text], "val_accuracy": [0.5, 0.6]}).to_csv(index=False)))["genome"][0]),
    "GA state": lambda text, tmp: _ga_state_genome(json.loads(text)),
}


def _ga_state_genome(data):
    strategy = GeneticSearch(SearchSpace(), np.random.default_rng(0), ONE)
    strategy.load_state_dict({"name": "ga", "seen": [], "generation": 1, "population": [{"genome": data, "values": [0.5]}],
                              "hall_of_fame": []})
    return strategy.population[0].genome


@pytest.mark.parametrize("reader", list(READERS))
def test_every_reader_decodes_a_genome_without_readout_as_the_papers(reader, tmp_path):
    assert READERS[reader](json.dumps(OLD), tmp_path) == PAPER
    sinks = PAPER.replace(width=8, readout="sinks")
    assert READERS[reader](sinks.to_json(), tmp_path) == sinks  # what every writer writes: both fields


def test_features_and_the_report_read_an_old_genome_as_the_papers(tmp_path):
    text = json.dumps(OLD)
    features = GraphFeatures(group="extended").fit([PAPER])
    assert np.array_equal(features.transform([text]), features.transform([PAPER]))
    assert not np.array_equal(features.transform([text]), features.transform([PAPER.replace(readout="sinks")]))
    row = evaluations_frame(_ledger(tmp_path, text, TrialState.COMPLETE)).iloc[0]
    assert (row["width"], row["readout"]) == (1, "last")


# --- a search stored under the old key ---------------------------------------------------------------


def _as_before_the_key_changed(monkeypatch):
    """Make the search write what it wrote before width and readout were keyed: version-1 keys, a
    strategy state without ``key_version``, and each trial's key under the attribute ``wl_hash``."""
    monkeypatch.setattr(base, "ARCHITECTURE_KEY_VERSION", 1)
    state_dict, enqueue = Strategy.state_dict, Ledger.enqueue

    def old_state_dict(self):
        state = state_dict(self)
        del state["key_version"]
        return state

    def old_enqueue(self, genome, **attrs):
        attrs["wl_hash"] = attrs.pop("architecture")
        return enqueue(self, genome, **attrs)

    monkeypatch.setattr(Strategy, "state_dict", old_state_dict)
    monkeypatch.setattr(Ledger, "enqueue", old_enqueue)


def test_a_search_stored_under_the_old_key_resumes_as_it_would_have_and_reports(tmp_path, monkeypatch):
    # the GA with a width range: under the old key its rewidth children were rejected, so the keys give
    # different trajectories (checked below); every strategy keeps the key through Strategy's state
    changes = dict(strategy="ga", widths=(2, 16), generations=4, final_top=0)

    class Killed(Exception):
        pass

    def kill_after_second(gen, stats):
        if gen == 1:
            raise Killed

    with monkeypatch.context() as old_code:
        _as_before_the_key_changed(old_code)
        old_full = run_search(make_config(tmp_path, "old_full", **changes), trainer=FakeTrainer(), outputs=RunOutputs(report=False))
        cfg = make_config(tmp_path, "old", **changes)
        with pytest.raises(Killed):
            run_search(cfg, trainer=FakeTrainer(), on_generation=kill_after_second, outputs=RunOutputs(report=False))
    stored = Ledger.open(cfg.storage_url, cfg.ledger, create=False).load_state()["strategy"]
    assert "key_version" not in stored and all(k.count("|") == 1 for k in stored["seen"])

    resumed = run_search(cfg, resume=True, trainer=FakeTrainer(), outputs=RunOutputs())
    assert trajectory(resumed.ledger) == trajectory(old_full.ledger)
    assert resumed.ledger.load_state()["strategy"]["key_version"] == 1
    frame = evaluations_frame(resumed.ledger)  # old trials' wl_hash and new trials' architecture: one column
    assert "wl_hash" not in frame.columns and frame["architecture"].notna().all()
    assert all(k.count("|") == 1 for k in frame["architecture"])
    assert (tmp_path / "old" / "report.md").is_file()

    new = run_search(make_config(tmp_path, "new", **changes), trainer=FakeTrainer(), outputs=RunOutputs(report=False))
    assert new.ledger.load_state()["strategy"]["key_version"] == 2
    assert all(t.user_attrs["architecture"] == architecture_key(Genome.from_json(t.user_attrs["genome"]))
               for t in new.ledger.trials())
    assert trajectory(new.ledger) != trajectory(old_full.ledger)  # rewidth children are no longer rejected
