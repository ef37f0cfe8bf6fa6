"""Random-wired CNNs trained as one stack equal their solo runs; out-of-memory shrinks and goes on."""

from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F

from nas.datasets.base import Dataset, Split
from nas.exceptions import TrainingError
from nas.training import TrainConfig, build_seeded, train_genome
from nas.training.optimization import make_optimizer, make_step_schedule, training_loss
from nas.training.stacking import StackedCNN, candidate_bytes, train_cohort
from nas.training.stacking import cnn as stacked_cnn
from nas.training.tasks import get_task
from search_spaces.genome import Genome
from test_stacking import assert_same_result

CIFAR = get_task("cifar10")
# On a CPU the default grouping trains each CNN as its own stack (stacks are slower there); the
# tests stack them, as a GPU would.
STACKED = "none"


def toy_images(n_train=192, n_val=64, n_test=64, seed=0, size=8) -> Dataset:
    gen = torch.Generator().manual_seed(seed)

    def split(n):
        x = torch.randn(n, 3, size, size, generator=gen)
        return Split(x, (x[:, 0].mean((1, 2)) > 0).long() + (x[:, 1, 0, 0] > 0.5).long())

    return Dataset("toy", split(n_train), split(n_val), split(n_test), 3, (3, size, size), {})


# Different priors, vertex counts, depths (so padded vertices and padded layers) and readouts.
GENOMES = [
    Genome("watts_strogatz", {"k": 4, "p": 0.5}, nodes=10, seed=1, family="cnn"),
    Genome("erdos_renyi", {"p": 0.3}, nodes=12, seed=2, family="cnn", readout="last"),
    Genome("layered_random", {"layers": 3, "p": 0.5, "skip": 0.5}, nodes=9, seed=4, family="cnn"),
]


def _assert_same(solo, pop, tol=1e-4, weights_tol=5e-4):
    # Adam divides by a gradient's running norm, so a rounding difference in a tiny gradient can
    # move a weight by ~1e-4 after a few steps; the function (losses, accuracies) agrees closer.
    # The checks also cover BatchNorm running statistics and batch counts (in the state dict).
    assert_same_result(solo, pop, tol=tol, weights_tol=weights_tol)


def test_the_genomes_differ_in_shape():
    data = toy_images()
    models = [build_seeded(g, CIFAR, data, 0) for g in GENOMES]
    assert len({m.layer_sizes for m in models}) == 3 and len({len(m.layer_sizes) for m in models}) >= 2
    assert len({stacked_cnn.stack_key(m) for m in models}) == 1


@pytest.mark.parametrize("config", [
    TrainConfig(epochs=2, batch_size=32, lr=1e-2, optimizer="sgd", weight_decay=5e-4, grad_clip=1.0, device="cpu"),
    TrainConfig(epochs=3, batch_size=32, lr=3e-3, patience=1, augment="crop_flip", label_smoothing=0.1,
                schedule="onecycle", eval_flip=True, device="cpu", seed=3),
], ids=["sgd-wd-clip", "adam-early-stopping-crop-flip-smoothing-onecycle-flip-eval"])
def test_a_cnn_stack_equals_its_solo_runs(config):
    data = toy_images()
    solo = [train_genome(g, "cifar10", config, data=data) for g in GENOMES]
    pop = train_cohort(GENOMES, "cifar10", config, data=data, grouping=STACKED)
    assert [r.genome for r in pop] == [g.to_dict() for g in GENOMES]
    for s, p in zip(solo, pop):
        _assert_same(s, p)
        assert p.notes == []


@pytest.mark.parametrize("stop", [{"patience": 1}, {"schedule": "plateau", "plateau_patience": 0, "min_lr": 1e-2}],
                         ids=["patience", "min-lr"])
def test_a_stopped_candidate_keeps_its_batchnorm_statistics(stop):
    # The candidates stop at different epochs, and a stopped candidate's running statistics must
    # not follow the others' training batches: with patience its best snapshot holds them, with a
    # min-lr stop (no snapshot) the loop freezes them. GENOMES[1] is left out: on this toy data a
    # BatchNorm channel of near-zero variance makes its training chaotic (its solo runs with one
    # and two torch threads already differ by 0.04 after 12 steps), the other two are stable.
    data = toy_images(seed=4)
    config = TrainConfig(epochs=6, batch_size=32, lr=1e-2, optimizer="sgd", device="cpu", seed=2, **stop)
    genomes = [GENOMES[0], GENOMES[2]]
    solo = [train_genome(g, "cifar10", config, data=data) for g in genomes]
    pop = train_cohort(genomes, "cifar10", config, data=data, grouping=STACKED)
    assert len({r.epochs for r in solo}) > 1, "the test needs candidates that stop at different epochs"
    for s, p in zip(solo, pop):
        _assert_same(s, p)


def test_the_stacked_forward_is_each_candidates_own_in_both_modes():
    data = toy_images()
    models = [build_seeded(g, CIFAR, data, 0) for g in GENOMES]
    stack = StackedCNN(models, torch.device("cpu"))
    x = data.train.x[:16]
    with torch.no_grad():
        for training in (True, False):
            stack.train(training)
            out = stack.forward(x)
            for i, m in enumerate(models):
                m.train(training)
                torch.testing.assert_close(out[i], m(x), atol=1e-5, rtol=1e-5)


def test_a_stack_refuses_models_of_different_channels():
    data = toy_images()
    wide = Genome("watts_strogatz", {"k": 4, "p": 0.5}, nodes=10, seed=1, family="cnn", width=2)
    models = [build_seeded(g, CIFAR, data, 0) for g in (GENOMES[0], wide)]
    with pytest.raises(ValueError, match="one shape"):
        StackedCNN(models, torch.device("cpu"))
    config = TrainConfig(epochs=1, batch_size=32, device="cpu")  # the trainer puts them in two stacks
    pop = train_cohort([GENOMES[0], wide], "cifar10", config, data=data, grouping=STACKED)
    for g, p in zip([GENOMES[0], wide], pop):
        _assert_same(train_genome(g, "cifar10", config, data=data), p)


def _out_of_memory_above(monkeypatch, candidates: int = 10**9, batch: int = 10**9):
    real = StackedCNN.forward

    def forward(self, x, lengths=None):
        if self.size > candidates or x.shape[0] > batch:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(self, x, lengths)

    monkeypatch.setattr(StackedCNN, "forward", forward)


def test_out_of_memory_splits_the_stack_and_results_stay_exact(monkeypatch, caplog):
    data = toy_images()
    config = TrainConfig(epochs=2, batch_size=32, lr=1e-2, optimizer="sgd", device="cpu")
    solo = [train_genome(g, "cifar10", config, data=data) for g in GENOMES]
    _out_of_memory_above(monkeypatch, candidates=1)
    with caplog.at_level(logging.WARNING, logger="nas.training.stacking"):
        pop = train_cohort(GENOMES, "cifar10", config, data=data, grouping=STACKED)
    for s, p in zip(solo, pop):
        # SGD without clipping for 2 epochs: a stack of 1 runs other convolution kernels than a
        # solo network; on an AVX-512 Xeon one weight of 432 ended 7.5e-4 apart (5e-4 elsewhere)
        _assert_same(s, p, weights_tol=1e-3)
        assert any("out of cpu memory in a stack of" in note for note in p.notes)
    assert "trained as stacks of 1 and 2" in caplog.text


def test_out_of_memory_alone_halves_the_batch_and_says_so(monkeypatch):
    data = toy_images()
    config = TrainConfig(epochs=1, batch_size=64, eval_batch_size=64, device="cpu")
    _out_of_memory_above(monkeypatch, candidates=1, batch=16)
    pop = train_cohort(GENOMES[:1], "cifar10", config, data=data, grouping=STACKED)
    assert pop[0].config["batch_size"] == 16 and pop[0].error is None
    assert [n.split(";")[-1].strip() for n in pop[0].notes] == ["trained at batch size 32", "trained at batch size 16"]
    assert pop[0].to_dict()["notes"] == pop[0].notes
    _assert_same(train_genome(GENOMES[0], "cifar10", config.replace(batch_size=16, eval_batch_size=16), data=data),
                 pop[0])


def test_out_of_memory_at_the_smallest_batch_is_a_training_error_or_a_record(monkeypatch):
    data = toy_images()
    config = TrainConfig(epochs=1, batch_size=16, device="cpu")
    _out_of_memory_above(monkeypatch, batch=0)
    with pytest.raises(TrainingError, match="out of cpu memory training candidate 0 alone at batch size 8"):
        train_cohort(GENOMES[:1], "cifar10", config, data=data, grouping=STACKED)
    recorded = train_cohort(GENOMES[:2], "cifar10", config, data=data, on_error="record", grouping=STACKED)
    assert all("expected it to fit" in r.error for r in recorded)


def test_memory_estimate_grows_with_vertices_batch_and_resolution():
    data = toy_images()
    small, large = (build_seeded(Genome("erdos_renyi", {"p": 0.3}, nodes=n, seed=1, family="cnn"), CIFAR, data, 0)
                    for n in (8, 24))
    config = TrainConfig(batch_size=32, eval_batch_size=32)
    assert 0 < candidate_bytes([small], config) < candidate_bytes([large], config)
    assert candidate_bytes([small], config) < candidate_bytes([small], config.replace(batch_size=128))
    assert candidate_bytes([small], config, image_size=16) < candidate_bytes([small], config, image_size=32)


def test_label_smoothing_is_the_training_loss_only():
    task = get_task("cifar10")
    out, y = torch.randn(8, 10), torch.randint(0, 10, (8,))
    smoothed = training_loss(task, TrainConfig(label_smoothing=0.2))
    assert float(smoothed(out, y)) == pytest.approx(float(F.cross_entropy(out, y, label_smoothing=0.2)))
    assert training_loss(task, TrainConfig()) is task.loss
    assert training_loss(get_task("embedded_reber"), TrainConfig(label_smoothing=0.2)) is get_task("embedded_reber").loss


def test_onecycle_rises_to_the_rate_then_falls():
    config = TrainConfig(lr=0.4, schedule="onecycle", warmup=0.25, optimizer="sgd")
    optimizer = make_optimizer([torch.zeros(1, requires_grad=True)], config)
    schedule = make_step_schedule(optimizer, config, 100)
    rates = []
    for _ in range(100):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    peak = max(range(100), key=rates.__getitem__)
    assert rates[0] == pytest.approx(0.4 / 25) and rates[peak] == pytest.approx(0.4, rel=1e-3)
    assert 20 <= peak <= 30 and rates[-1] < 0.01 * 0.4


def test_channels_last_trains_the_same_network():
    data = toy_images()
    config = TrainConfig(epochs=1, batch_size=32, lr=1e-2, optimizer="sgd", device="cpu")
    plain = train_genome(GENOMES[0], "cifar10", config, data=data)
    last = train_genome(GENOMES[0], "cifar10", config.replace(channels_last=True), data=data)
    assert last.test_loss == pytest.approx(plain.test_loss, abs=1e-4)
    pop = train_cohort(GENOMES[:2], "cifar10", config.replace(channels_last=True), data=data, grouping=STACKED)
    assert pop[0].test_loss == pytest.approx(plain.test_loss, abs=1e-4)


@pytest.mark.parametrize("bad, message", [
    ({"label_smoothing": 1.0}, "label_smoothing"), ({"label_smoothing": -0.1}, "label_smoothing"),
    ({"warmup": 1.0}, "warmup"), ({"warmup": 0.0}, "warmup"), ({"channels_last": "yes"}, "channels_last"),
    ({"compile": 1}, "compile"), ({"schedule": "triangle"}, "schedule"), ({"eval_flip": 1}, "eval_flip"),
])
def test_new_training_options_are_checked(bad, message):
    from nas.exceptions import ConfigError

    with pytest.raises(ConfigError, match=message):
        TrainConfig(**bad)


class _LinearStack(torch.nn.Module):
    """Two linear image classifiers (not mirror-symmetric) as a stack: logits (2, B, classes)."""

    def __init__(self):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.members = torch.nn.ModuleList(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 3))
                                           for _ in range(2))
        with torch.no_grad():
            for member in self.members:
                member[1].weight.copy_(0.1 * torch.randn(member[1].weight.shape, generator=gen))
                member[1].bias.zero_()
        self.size = 2

    def forward(self, x, lengths=None):
        return torch.stack([m(x) for m in self.members])


def test_flip_evaluation_scores_the_mean_of_the_image_and_mirror_logits():
    from nas.training.evaluation import evaluate
    from nas.training.stacking.loop import _evaluate_stacked

    data, stack, cpu = toy_images(), _LinearStack(), torch.device("cpu")
    x, y = data.test.x, data.test.y
    config = TrainConfig(eval_batch_size=24, device="cpu")  # batches of 24 + 24 + 16
    with torch.no_grad():
        for model in stack.members:
            plain_logits, mirror_logits = model(x), model(x.flip(-1))
            mean = (plain_logits + mirror_logits) / 2
            loss, accuracy = evaluate(model, data.test, CIFAR, config.replace(eval_flip=True), cpu)
            assert loss == pytest.approx(float(F.cross_entropy(mean, y)), abs=1e-5)
            assert accuracy == pytest.approx(float((mean.argmax(1) == y).float().mean()))
            plain_loss, _ = evaluate(model, data.test, CIFAR, config, cpu)
            assert plain_loss == pytest.approx(float(F.cross_entropy(plain_logits, y)), abs=1e-5)
            assert plain_loss != pytest.approx(loss, abs=1e-3)
        losses, accuracies = _evaluate_stacked(stack, data.test, CIFAR, config.replace(eval_flip=True), cpu, False)
        for model, stacked_loss, stacked_accuracy in zip(stack.members, losses, accuracies):
            loss, accuracy = evaluate(model, data.test, CIFAR, config.replace(eval_flip=True), cpu)
            assert stacked_loss == pytest.approx(loss, abs=1e-5) and stacked_accuracy == pytest.approx(accuracy)


def test_flip_evaluation_needs_images():
    from nas.exceptions import ConfigError
    from nas.training.batches import check_augment

    check_augment(TrainConfig(eval_flip=True), (3, 8, 8))
    with pytest.raises(ConfigError, match=r"eval_flip=True needs image examples .* shape \(784,\)"):
        check_augment(TrainConfig(eval_flip=True), (784,))
    flat = Dataset("flat", *(Split(torch.randn(n, 12), torch.randint(0, 2, (n,))) for n in (32, 16, 16)), 2, (12,), {})
    with pytest.raises(ConfigError, match="eval_flip"):
        train_genome(Genome("erdos_renyi", {"p": 0.5}, nodes=8, seed=0), "mnist", TrainConfig(epochs=1, eval_flip=True,
                                                                                           device="cpu"), data=flat)


def test_auto_precision_is_bf16_on_cuda_only():
    from nas.training.device import autocast

    config = TrainConfig(precision="auto")
    with autocast(torch.device("cpu"), config):
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.float32
    with autocast(torch.device("cpu"), config.replace(precision="bf16")):
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.bfloat16


def test_on_a_cpu_the_default_trains_each_cnn_as_its_own_stack(monkeypatch):
    sizes = []
    real = StackedCNN.__init__

    def recording(self, models, device, **options):
        sizes.append(len(models))
        real(self, models, device, **options)

    monkeypatch.setattr(StackedCNN, "__init__", recording)
    data = toy_images()
    config = TrainConfig(epochs=1, batch_size=64, device="cpu")
    train_cohort(GENOMES, "cifar10", config, data=data)
    assert sizes == [1, 1, 1]
    sizes.clear()
    train_cohort(GENOMES, "cifar10", config, data=data, grouping="none")
    assert sizes == [3]


def test_cnn_stacks_are_cut_where_padding_would_cost_too_much():
    data = toy_images()
    deep = Genome("layered_random", {"layers": 6, "p": 0.5, "skip": 0.0}, nodes=12, seed=1, family="cnn")
    wide = Genome("layered_random", {"layers": 2, "p": 0.5, "skip": 0.0}, nodes=12, seed=2, family="cnn")
    models = [build_seeded(g, CIFAR, data, 0) for g in (deep, deep, wide, wide)]
    assert [len(m.layer_sizes) for m in models] == [5, 5, 2, 2]
    assert stacked_cnn.plan_stacks(models) == [[0, 1], [2, 3]]  # alike candidates pad nothing
    assert stacked_cnn.plan_stacks(models, waste=100.0) == [[0, 1, 2, 3]]
    assert stacked_cnn.plan_stacks(models, waste=1.0) == [[0, 1], [2, 3]]
    assert stacked_cnn.plan_stacks(models[:1]) == [[0]]
