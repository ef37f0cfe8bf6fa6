"""Task registry contract, run against every registered task on tiny data."""

from __future__ import annotations

import math

import pytest
import torch

from nas.datasets.base import Dataset, Split
from nas.exceptions import ConfigError, UnknownNameError
from nas.training.tasks import get_task, list_tasks, next_symbol_counts, next_symbol_loss
from nas.training import TrainConfig, train_genome
from search_spaces.genome import Genome


def _images(name, shape, n=24, classes=10):
    gen = torch.Generator().manual_seed(0)

    def split(k):
        return Split(torch.randn(k, *shape, generator=gen), torch.randint(0, classes, (k,), generator=gen))

    return Dataset(name, split(n), split(n // 2), split(n // 2), classes, shape, {})


def tiny_data(task):
    """Small data of the task's real layout (Reber data is generated, so it is the real thing)."""
    if task.dataset in ("reber", "embedded_reber"):
        return task.load(n=300)
    if task.dataset == "cifar10":
        return _images("cifar10", (3, 32, 32), n=16)
    return _images(task.dataset, (1, 28, 28))


def test_registry_lists_the_issue_tasks():
    assert {"mnist", "fashion_mnist", "cifar10", "reber", "embedded_reber"} <= set(list_tasks())


def test_unknown_task_lists_the_valid_ones():
    with pytest.raises(UnknownNameError) as err:
        get_task("imagenet")
    assert "imagenet" in str(err.value) and "mnist" in str(err.value)


@pytest.mark.parametrize("name", list_tasks())
def test_task_contract(name):
    task = get_task(name)
    assert task.default_family in task.families
    config = task.default_config()
    assert isinstance(config, TrainConfig) and config.epochs >= 1
    assert task.default_config(epochs=1).epochs == 1
    with pytest.raises(ConfigError):
        task.default_config(epochs=0)

    data = tiny_data(task)
    genome = Genome("erdos_renyi", {"p": 0.4}, nodes=10, seed=0, family=task.default_family)
    model = task.build(genome, data)
    x, y = data.train.x[:5], data.train.y[:5]
    lengths = None if data.train.lengths is None else data.train.lengths[:5]
    out = task.forward(model, x, lengths)
    expected = (5, *data.train.y.shape[1:-1], data.num_classes) if task.target == "next_symbol_set" else (5, data.num_classes)
    assert tuple(out.shape) == tuple(expected)
    loss = task.loss(out, y, lengths)
    assert loss.dim() == 0 and math.isfinite(float(loss.detach()))
    correct, total = task.metric_counts(out, y, lengths)
    assert 0 <= int(correct) <= int(total) == 5

    wrong = next(f for f in ("ff", "rnn:gru", "cnn") if f not in task.families)
    with pytest.raises(ConfigError, match=wrong):
        task.build(genome.replace(family=wrong), data)


@pytest.mark.parametrize("name", list_tasks())
def test_every_task_trains_end_to_end(name):
    task = get_task(name)
    data = tiny_data(task)
    genome = Genome("erdos_renyi", {"p": 0.4}, nodes=8, seed=1, family=task.default_family)
    config = task.default_config(epochs=1, device="cpu", train_subset=12, val_subset=4, test_subset=4)
    result = train_genome(genome, task, config, data=data)
    assert result.task == name and result.metric == task.metric_name and result.epochs == 1
    assert 0.0 <= result.test_accuracy <= 1.0 and math.isfinite(result.test_loss)


def test_next_symbol_metric_counts_strings_right_at_every_valid_step():
    # Two strings, 3 steps, 2 symbols; the second string has 2 valid steps.
    y = torch.tensor([[[1, 0], [0, 1], [1, 1]], [[0, 1], [1, 0], [0, 0]]], dtype=torch.float32)
    lengths = torch.tensor([3, 2])
    perfect = torch.where(y > 0.5, 5.0, -5.0)
    assert [int(v) for v in next_symbol_counts(perfect, y, lengths)] == [2, 2]
    wrong_padding_only = perfect.clone()
    wrong_padding_only[1, 2] = 5.0  # a step past the length is not scored
    assert int(next_symbol_counts(wrong_padding_only, y, lengths)[0]) == 2
    one_step_wrong = perfect.clone()
    one_step_wrong[0, 2, 1] = -5.0  # misses one legal symbol at the last step of string 0
    assert int(next_symbol_counts(one_step_wrong, y, lengths)[0]) == 1
    # The loss ignores padded steps too.
    assert float(next_symbol_loss(wrong_padding_only, y, lengths)) == pytest.approx(float(next_symbol_loss(perfect, y, lengths)))
