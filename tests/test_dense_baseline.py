"""The dense baseline: the best network's dense counterpart, trained for real and set beside it."""

from __future__ import annotations

import pytest
import torch

from nas.report.baseline import dense_section
from nas.search.baseline import DENSE_ATTR, build_dense, dense_dag
from nas.search.config import SearchConfig
from nas.search.evaluator import Trainer
from nas.training import build_seeded, get_task
from search_spaces.genome import Genome


def _genome(family="ff", **changes):
    base = dict(prior="layered_random", params={"layers": 3, "p": 0.5, "skip": 0.1}, nodes=20, seed=3, family=family)
    base.update(changes)
    return Genome(base.pop("prior"), base.pop("params"), **base)


@pytest.mark.parametrize("prior, params", [("layered_random", {"layers": 3, "p": 0.5, "skip": 0.1}),
                                           ("barabasi_albert", {"m": 2})])
def test_the_dense_dag_keeps_the_layer_sizes_and_joins_every_layer_to_every_later_one(prior, params):
    dag = Genome(prior, params, nodes=14, seed=3).dag()
    dense = dense_dag(dag)
    sizes = dag.layer_sizes
    assert dense.layer_sizes == sizes
    pairs = [(s, t) for s in range(len(sizes)) for t in range(s + 1, len(sizes))]
    assert dense.num_edges == sum(sizes[s] * sizes[t] for s, t in pairs)
    assert all(dense.mask(s, t).all() for s, t in pairs)
    # the sparse DAG, relabelled layer by layer, is a subgraph: each of its masks is inside the dense one's
    assert set(dag.skip_pairs) <= set(dense.skip_pairs)


class _Ledger:
    def __init__(self, records):
        self.records = records

    def get_attr(self, name):
        return self.records if name == DENSE_ATTR else None


def test_the_dense_counterpart_is_built_deterministically_with_every_weight(shared_data_dir):
    task = get_task("mnist")
    data = task.load()
    genome = _genome(width=2)
    model = build_dense(genome, task, data, seed=5)
    sparse = build_seeded(genome, task, data, seed=5)
    assert model.layer_sizes == sparse.layer_sizes and model.nonzero_weights() > sparse.nonzero_weights()
    assert all(bool(mask.all()) for _, _, mask in model.masked_parameters())  # every mask is all ones
    again = build_dense(genome, task, data, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    other = build_dense(genome, task, data, seed=6)
    assert not torch.equal(model.input_layer.weight, other.input_layer.weight)


def test_a_recurrent_genome_has_a_dense_recurrent_counterpart():
    task = get_task("reber")
    data = task.load()
    genome = _genome(family="rnn:gru")
    model = build_dense(genome, task, data, seed=0)
    depth = len(genome.dag().layer_sizes)
    assert len(model.skip_pairs) == depth * (depth - 1) // 2 - (depth - 1)
    assert all(layer.mask is None or bool(layer.mask.all()) for layer in (*model.layers, *model.skips.values()))
    x = data.train.x[:4]
    assert task.forward(model, x, data.train.lengths[:4] if data.train.lengths is not None else None).shape[0] == 4


@pytest.mark.slow
def test_the_trainer_trains_the_dense_counterpart_at_the_full_budget_on_real_mnist(shared_data_dir):
    config = SearchConfig(task="mnist", final_top=1, final_seeds=1, final_train={"epochs": 1, "train_subset": 2000},
                          progress=False)
    outcome = Trainer(config).train_dense(_genome(width=4), seed=0)
    assert outcome.error is None
    assert outcome.metrics["test_accuracy"] > 0.3  # it learns: chance is 0.1 (0.494 measured)
    assert outcome.metrics["example_epochs"] == 2000 and outcome.metrics["chance"] == 0.1


def test_the_section_tests_with_three_seeds_a_side_and_declines_with_fewer():
    best = [{"test_accuracy": a, "nonzero_weights": 300} for a in (0.90, 0.91, 0.92)]
    dense = [{"of": "k", "seed": s, "test_accuracy": a, "nonzero_weights": 1200, "layer_sizes": [3, 4], "width": 1}
             for s, a in zip((0, 1, 2), (0.95, 0.96, 0.97))]
    text = "\n".join(dense_section(_Ledger(dense), "k", best))
    assert "| best sparse | 0.9100 ± 0.0100 | 3 | 300 (25.0 % of the dense) |" in text and "| 1,200 |" in text
    assert "Welch's t" in text and "the dense network is more accurate" in text
    few = "\n".join(dense_section(_Ledger(dense[:2]), "k", best))
    assert "too few seeds for a test" in few and "Welch" not in few
    assert dense_section(_Ledger(dense), "another", best) == []  # the baseline of another survivor is not this one's


def test_no_difference_between_networks_near_chance_is_cannot_tell():
    best = [{"test_accuracy": a, "nonzero_weights": 300} for a in (0.50, 0.53, 0.51)]
    dense = [{"of": "k", "seed": s, "test_accuracy": a, "nonzero_weights": 1200, "layer_sizes": [3, 4], "width": 1,
              "chance": 0.5} for s, a in zip((0, 1, 2), (0.52, 0.50, 0.51))]
    text = "\n".join(dense_section(_Ledger(dense), "k", best))
    assert "cannot tell at this budget" in text and "no difference shown" not in text
    learned = [{**r, "test_accuracy": r["test_accuracy"] + 0.4} for r in dense]
    best_learned = [{**r, "test_accuracy": r["test_accuracy"] + 0.4} for r in best]
    assert "no difference shown at 3 and 3 seeds" in "\n".join(dense_section(_Ledger(learned), "k", best_learned))
