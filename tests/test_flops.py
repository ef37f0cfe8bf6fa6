"""FLOPs per example (nas.training.flops): hand-counted small networks of every family, the MLP's
count against its nonzero weights, and the width that meets a FLOPs target."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nas.datasets.base import Dataset, Split
from nas.exceptions import ConfigError
from nas.search.config import SearchConfig
from nas.search.evaluator import Trainer
from nas.training.equal_cost import ff_nonzero_weights, width_for_flops_target
from nas.training.flops import mean_sequence_length, model_flops, task_flops_counter
from nas.training.tasks import get_task
from search_spaces.builders import build_model
from search_spaces.dag import LayeredDAG
from search_spaces.genome import Genome
from search_spaces.operators import random_genome

CHAIN = LayeredDAG.from_edges(3, [(0, 1), (1, 2)])
SKIP = LayeredDAG.from_edges(3, [(0, 1), (1, 2), (0, 2)])


def test_mlp_counts_each_weight_and_bias_once():
    # input 4 -> 1 unit: 4 + 1; two masked 1x1 layers: 2 x (1 + 1); readout last: 1 x 2 + 2 = 13
    model = build_model(CHAIN, "ff", num_classes=2, in_features=4, readout="last")
    assert model_flops(model) == 4 + 1 + 2 * (1 + 1) + 2 + 2 == model.nonzero_weights()


@pytest.mark.parametrize("seed", range(4))
def test_mlp_flops_equal_its_nonzero_weights_and_the_dag_count(seed):
    genome = random_genome(np.random.default_rng(seed), nodes=(6, 20), widths=(1, 4), readout=("last", "sinks")[seed % 2])
    model = build_model(genome.dag(), "ff", num_classes=10, in_features=12, width=genome.width, readout=genome.readout)
    assert model_flops(model) == model.nonzero_weights() == ff_nonzero_weights(genome, 12, 10)


@pytest.mark.parametrize("cell, gates", [("tanh", 1), ("gru", 3), ("lstm", 4)])
def test_rnn_counts_recurrent_weights_per_time_step_and_the_output_once(cell, gates):
    model = build_model(CHAIN, f"rnn:{cell}", num_classes=2, vocab_size=5, embedding_dim=4, readout="last")
    first = gates * (4 + 1 + 2)      # dense input 4 -> 1, recurrence 1 -> 1, two biases, per gate block
    later = gates * (1 + 1 + 2)      # masked input 1 -> 1 (one edge), recurrence, biases
    output = 1 * 2 + 2               # the classifier, at the last valid step only
    assert model_flops(model, mean_length=5) == 5 * (first + 2 * later) + output
    assert model_flops(model, mean_length=2.5) == round(2.5 * (first + 2 * later) + output)


def test_rnn_skips_count_per_step_and_sequence_output_per_step():
    model = build_model(SKIP, "rnn:tanh", num_classes=3, vocab_size=5, embedding_dim=2, readout="last",
                        sequence_output=True)
    per_step = (2 + 1 + 2) + (1 + 1 + 2) * 2 + (1 + 1 + 2)  # layer 0, layers 1-2, the skip layer 0 -> 2
    assert model_flops(model, mean_length=4) == 4 * per_step + 4 * (1 * 3 + 3)


def test_cnn_counts_convolutions_per_output_pixel():
    model = build_model(SKIP, "cnn", num_classes=10, in_channels=3, channels=(4,), separable=False, readout="last")
    stem = 3 * 4 * 9 * 8 * 8                 # 3x3 conv 3 -> 4 at 8x8
    vertices = 3 * (4 * 4 * 9) * 4 * 4       # three vertex convs at 4x4 (layer 0 strides 2)
    edges = 3 * 4 * 4 * 4                    # one weighted sum per edge, channel and pixel
    assert model_flops(model, image_shape=(3, 8, 8)) == stem + vertices + edges + 4 * 10 + 10
    assert model.training  # the count leaves the model as it was


def test_missing_shape_information_is_a_typed_error():
    rnn = build_model(CHAIN, "rnn:gru", num_classes=2, vocab_size=5)
    cnn = build_model(CHAIN, "cnn", num_classes=10, in_channels=3, channels=(4,))
    with pytest.raises(ConfigError, match="mean sequence length"):
        model_flops(rnn)
    with pytest.raises(ConfigError, match="image shape"):
        model_flops(cnn)


def _sequences() -> Dataset:
    x = torch.zeros(4, 6, dtype=torch.int64)
    split = Split(x, torch.zeros(4, dtype=torch.int64), torch.tensor([3, 4, 5, 6]))
    return Dataset("reber", split, split, split, 2, (6,), {"vocab": "TPSXV"})


def _images(n=32, shape=(1, 6, 6)) -> Dataset:
    g = torch.Generator().manual_seed(0)
    split = Split(torch.randn(n, *shape, generator=g), torch.randint(0, 3, (n,), generator=g))
    return Dataset("mnist", split, split, split, 3, shape, {})


def test_task_counter_uses_the_mean_true_length_of_the_training_split():
    data = _sequences()
    assert mean_sequence_length(data) == 4.5
    genome = Genome("erdos_renyi", {"p": 0.4}, nodes=8, seed=1, family="rnn:gru", width=2)
    model = get_task("reber").build(genome, data)
    assert task_flops_counter(get_task("reber"), data)(genome) == model_flops(model, mean_length=4.5)


def test_width_for_flops_target_picks_the_closest_width():
    data = _images()
    count = task_flops_counter(get_task("mnist"), data)
    g = Genome("watts_strogatz", {"k": 4, "p": 0.3}, nodes=20, seed=3)
    for target in (2_000, 9_000, 40_000):
        fitted = width_for_flops_target(g, target, count, widths=(1, 32))
        errors = [abs(count(g.replace(width=w)) - target) for w in range(1, 33)]
        assert abs(count(fitted) - target) == min(errors)
    assert width_for_flops_target(g, 1, count, widths=(2, 8)).width == 2
    assert width_for_flops_target(g, 10**12, count, widths=(2, 8)).width == 8
    rnn_count = task_flops_counter(get_task("reber"), _sequences())
    r = Genome("erdos_renyi", {"p": 0.4}, nodes=8, seed=1, family="rnn:gru")
    fitted = width_for_flops_target(r, 50_000, rnn_count, widths=(1, 16))
    assert abs(rnn_count(fitted) - 50_000) == min(abs(rnn_count(r.replace(width=w)) - 50_000) for w in range(1, 17))


def _trainer(data, **changes) -> Trainer:
    config = SearchConfig(task="mnist", progress=False, train={"epochs": 1, "batch_size": 16}, final_top=0, **changes)
    trainer = Trainer(config)
    trainer._data = data  # a tiny synthetic dataset instead of MNIST
    return trainer


def test_the_trainer_records_flops_with_every_trained_candidate():
    trainer = _trainer(_images())
    genome = Genome("erdos_renyi", {"p": 0.5}, nodes=6, seed=2, width=2)
    [outcome] = trainer.train([genome])
    assert outcome.error is None
    assert outcome.metrics["flops"] == ff_nonzero_weights(genome, 36, 3) == outcome.metrics["nonzero_weights"]


def test_training_cost_grows_with_depth_and_width():
    trainer = _trainer(_images())
    shallow = Genome("layered_random", {"layers": 2, "p": 0.5, "skip": 0.0}, nodes=16, seed=1, width=2)
    deep = Genome("layered_random", {"layers": 8, "p": 0.5, "skip": 0.0}, nodes=16, seed=1, width=2)
    assert ff_nonzero_weights(deep, 36, 3) < ff_nonzero_weights(shallow, 36, 3)
    costs = trainer.training_cost([shallow, shallow.replace(width=8), deep])
    assert all(c > 0 for c in costs) and costs[1] > costs[0]
    assert costs[2] > costs[0]  # fewer FLOPs but more layers: the per-layer overhead dominates on a CPU


def test_cnn_training_cost_is_forward_and_backward_macs_of_the_budget():
    data = _images(n=20, shape=(3, 8, 8))
    config = SearchConfig(task="cifar10", progress=False, train={"epochs": 2, "batch_size": 8}, final_top=0)
    trainer = Trainer(config)
    trainer._data = data
    genome = Genome("erdos_renyi", {"p": 0.5}, nodes=5, seed=1, family="cnn")
    model = get_task("cifar10").build(genome, data)
    assert trainer.training_cost([genome]) == [3.0 * model_flops(model, image_shape=(3, 8, 8)) * 20 * 2]
