"""Cohort training: stacked candidates equal solo runs; padding is inert; memory and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nas.datasets.base import Dataset, Split
from nas.exceptions import ConfigError, TrainingError
from nas.training import TrainConfig, build_seeded, train_genome
from nas.training.stacking import (
    StackedFeedForward,
    choose_chunk_size,
    plan_stacks,
    step_cost,
    train_cohort,
)
from nas.training.tasks import get_task
from search_spaces.genome import Genome
from search_spaces.operators import random_genome


def toy_images(n_train=320, n_val=96, n_test=96, seed=0) -> Dataset:
    gen = torch.Generator().manual_seed(seed)

    def split(n):
        x = torch.randn(n, 1, 4, 4, generator=gen)
        flat = x.flatten(1)
        return Split(x, (flat[:, :4].sum(1) > 0).long() + (flat[:, 8] > 0.5).long())

    return Dataset("toy", split(n_train), split(n_val), split(n_test), 3, (1, 4, 4), {})


# Mixed depths, layer sizes, vertex widths, readouts and skip pairs, all stacked together
# (padded and carried).
GENOMES = [
    Genome("erdos_renyi", {"p": 0.3}, nodes=12, seed=1),
    Genome("erdos_renyi", {"p": 0.3}, nodes=20, seed=2, readout="last"),
    Genome("erdos_renyi", {"p": 0.3}, nodes=15, seed=3, width=3),
    Genome("layered_random", {"layers": 3, "p": 0.5, "skip": 0.5}, nodes=18, seed=4, width=2, readout="last"),
    Genome("watts_strogatz", {"k": 4, "p": 0.5}, nodes=14, seed=5),
]


def assert_same_result(solo, pop, tol=1e-4, weights_tol=None):
    """A population result equals the solo one: budget, stopping, metrics, counts and every weight
    (within ``weights_tol``, default ``tol``). Also used by the CNN population tests."""
    weights_tol = tol if weights_tol is None else weights_tol
    assert pop.epochs == solo.epochs and pop.steps == solo.steps
    assert pop.stopped_early == solo.stopped_early and pop.best_epoch == solo.best_epoch
    assert pop.val_accuracy == pytest.approx(solo.val_accuracy, abs=1e-6)
    assert pop.test_accuracy == pytest.approx(solo.test_accuracy, abs=1e-6)
    assert pop.test_loss == pytest.approx(solo.test_loss, abs=tol)
    assert pop.nonzero_weights == solo.nonzero_weights and pop.parameters == solo.parameters
    a, b = solo.model.state_dict(), pop.model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=weights_tol, rtol=weights_tol)


@pytest.mark.parametrize("config", [
    TrainConfig(epochs=3, batch_size=32, lr=3e-3, device="cpu"),
    TrainConfig(epochs=4, batch_size=32, lr=1e-2, optimizer="sgd", schedule="plateau", plateau_patience=0,
                patience=2, grad_clip=0.5, weight_decay=1e-3, device="cpu", seed=7),
    TrainConfig(epochs=2, batch_size=32, lr=3e-3, device="cpu", augment="crop_flip", seed=5),
], ids=["adam", "sgd-plateau-early-stopping-clip", "adam-crop-flip"])
@pytest.mark.parametrize("grouping", ["cost", "none"])  # "none": every candidate padded and carried in one stack
def test_stacked_result_equals_solo_result(config, grouping):
    data = toy_images()
    solo = [train_genome(g, "mnist", config, data=data) for g in GENOMES]
    pop = train_cohort(GENOMES, "mnist", config, data=data, grouping=grouping)
    assert [r.genome for r in pop] == [g.to_dict() for g in GENOMES]
    for s, p in zip(solo, pop):
        assert_same_result(s, p)


def test_chunking_does_not_change_results():
    data = toy_images()
    config = TrainConfig(epochs=2, batch_size=64, device="cpu")
    whole = train_cohort(GENOMES, "mnist", config, data=data)
    chunked = train_cohort(GENOMES, "mnist", config, data=data, chunk_size=1)
    for a, b in zip(whole, chunked):
        assert a.test_loss == pytest.approx(b.test_loss, abs=1e-5)


def test_padding_carrying_and_union_skips_do_not_change_a_candidates_function():
    data = toy_images()
    task = get_task("mnist")
    rng = np.random.default_rng(0)
    genomes = GENOMES + [random_genome(rng, nodes=(8, 30), family="ff") for _ in range(12)]
    genomes += [g.replace(readout="last") for g in genomes[-6:]]
    models = [build_seeded(g, task, data, seed=0) for g in genomes]
    assert len({len(m.layer_sizes) for m in models}) >= 3  # mixed depths: shallow ones are carried
    stack = StackedFeedForward(models, torch.device("cpu"))
    assert any(tuple(stack.widths[: len(m.layer_sizes)]) != tuple(m.layer_sizes) for m in models)
    out = stack.forward(data.test.x.flatten(1))
    for i, model in enumerate(models):
        torch.testing.assert_close(out[i], model(data.test.x), atol=1e-5, rtol=1e-5)


def test_masked_and_padded_entries_stay_zero():
    data = toy_images()
    results = train_cohort(GENOMES, "mnist", TrainConfig(epochs=2, batch_size=32, weight_decay=1e-2, device="cpu"),
                               data=data)
    for r in results:
        for _name, weight, mask in r.model.masked_parameters():
            assert torch.all(weight[mask == 0] == 0)


def test_non_ff_families_fall_back_and_bad_families_are_rejected():
    with pytest.raises(ConfigError, match="rnn:gru"):
        train_cohort([GENOMES[0].replace(family="rnn:gru")], "mnist", TrainConfig(device="cpu"), data=toy_images())
    with pytest.raises(ConfigError, match="empty"):
        train_cohort([], "mnist", TrainConfig(device="cpu"), data=toy_images())


def test_chunk_size_from_memory_and_the_error_when_nothing_fits():
    device = torch.device("cpu")
    assert choose_chunk_size(1024, device) >= 1
    with pytest.raises(TrainingError, match="cannot fit even one candidate"):
        choose_chunk_size(10**18, device)


def test_diverging_candidate_raises_or_is_recorded(monkeypatch):
    import nas.training.stacking as population

    real = population.build_seeded

    def poisoned(genome, task, data, seed):
        model = real(genome, task, data, seed)
        if genome == GENOMES[1]:
            with torch.no_grad():
                model.output_layer.bias[0] = float("inf")  # its loss is non-finite from the first step
        return model

    monkeypatch.setattr(population, "build_seeded", poisoned)
    data = toy_images()
    config = TrainConfig(epochs=2, batch_size=64, device="cpu")
    with pytest.raises(TrainingError, match="candidate 1 in epoch 1 at step 0"):
        train_cohort(GENOMES, "mnist", config, data=data)
    results = train_cohort(GENOMES, "mnist", config, data=data, on_error="record")
    assert results[1].error and "candidate 1" in results[1].error
    assert results[1].model is None and results[1].to_dict()["test_accuracy"] is None
    healthy = [r for i, r in enumerate(results) if i != 1]
    assert all(r.error is None and 0.0 <= r.test_accuracy <= 1.0 for r in healthy)


def _mnist_models(genomes):
    data = Dataset("shape", Split(torch.zeros(1, 1, 28, 28), torch.zeros(1, dtype=torch.long)), None, None, 10, (1, 28, 28), {})
    return [build_seeded(g, get_task("mnist"), data, seed=0) for g in genomes]


def test_a_deep_outlier_gets_its_own_stack_on_cpu_and_the_plan_is_never_dearer():
    shallow = [Genome("layered_random", {"layers": 2, "p": 0.5, "skip": 0.0}, nodes=60, seed=s) for s in range(4)]
    deep = Genome("erdos_renyi", {"p": 0.95}, nodes=40, seed=0)  # nearly complete: a path of ~40 levels
    models = _mnist_models(shallow + [deep])
    assert len(models[-1].layer_sizes) > 30
    assert plan_stacks(models, 128, "cpu") == [[0, 1, 2, 3], [4]]  # on a CPU padding FLOPs dominate
    for device in ("cpu", "cuda"):  # the plan is arithmetic on the cost constants; no GPU needed
        groups = plan_stacks(models, 128, device)
        assert sorted(i for g in groups for i in g) == list(range(5))
        assert sum(step_cost([models[i] for i in g], 128, device) for g in groups) <= step_cost(models, 128, device)


def test_equal_depths_share_one_stack():
    models = _mnist_models([Genome("layered_random", {"layers": 3, "p": 0.5, "skip": 0.2}, nodes=30, seed=s) for s in range(6)])
    assert len({len(m.layer_sizes) for m in models}) == 1
    groups = plan_stacks(models, 128, "cpu")
    assert len(groups) == 1 and sorted(groups[0]) == list(range(6))  # one group holding all six


def test_unknown_grouping_is_refused():
    with pytest.raises(ConfigError, match="grouping"):
        train_cohort(GENOMES, "mnist", TrainConfig(device="cpu"), data=toy_images(), grouping="depth")


def test_a_cohort_shows_its_steps_on_a_terminal_and_nothing_in_a_log(terminal, monkeypatch):
    data = toy_images()
    config = TrainConfig(epochs=1, batch_size=32, device="cpu", progress=True)
    terminal.attach()
    shown = train_cohort(GENOMES, "mnist", config, data=data)
    assert f"training {len(GENOMES)} together" in str(terminal) and "/10 [" in str(terminal)
    terminal.text.clear()
    monkeypatch.setattr(terminal, "isatty", lambda: False)  # a log, not a terminal
    quiet = train_cohort(GENOMES, "mnist", config, data=data)
    assert "step" not in str(terminal)  # no bar lines in a log
    assert [r.val_accuracy for r in shown] == [r.val_accuracy for r in quiet]  # the display changes nothing
