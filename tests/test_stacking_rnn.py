"""Recurrent cohort training: stacked sparse RNNs equal solo runs for every cell; length buckets."""

from __future__ import annotations

import pytest
import torch

from nas.datasets.base import Split
from nas.datasets.reber import embedded_reber_dataset, reber_classification_dataset
from nas.exceptions import DataError, TrainingError
from nas.training import TrainConfig, build_seeded, get_task, train_genome
from nas.training.batches import epoch_batches, eval_batches, make_generator, padded_step_fraction, truncates
from nas.training.stacking import StackedRecurrent, plan_stacks, train_cohort
from search_spaces.genome import Genome
from test_stacking import assert_same_result

CELLS = ("tanh", "relu", "gru", "lstm")


def genomes(cell: str) -> list[Genome]:
    """Mixed depths (3-7 levels), skip pairs, dead ends, width-1 layers, vertex widths and readouts."""
    family = f"rnn:{cell}"
    return [
        Genome("erdos_renyi", {"p": 0.3}, nodes=10, seed=1, family=family, readout="last"),
        Genome("layered_random", {"layers": 3, "p": 0.5, "skip": 0.5}, nodes=9, seed=4, family=family, width=2),
        Genome("watts_strogatz", {"k": 4, "p": 0.5}, nodes=8, seed=5, family=family, width=3, readout="last"),
        Genome("barabasi_albert_original", {"m": 1}, nodes=10, seed=2, family=family),
        Genome("erdos_renyi", {"p": 0.4}, nodes=7, seed=3, family=family),
    ]


@pytest.fixture(scope="module")
def reber():
    return reber_classification_dataset(400, seed=0, min_length=11, max_length=24)


def test_the_genomes_cover_skips_dead_ends_width_one_and_depths():
    dags = [g.dag() for g in genomes("gru")]
    assert any(d.skip_pairs for d in dags) and any(d.dead_ends for d in dags)
    assert any(1 in d.layer_sizes for d in dags) and len({len(d.layer_sizes) for d in dags}) >= 3


@pytest.mark.parametrize("cell", CELLS)
def test_recurrent_stack_equals_solo_for_every_cell(cell, reber):
    config = TrainConfig(epochs=2, batch_size=32, lr=3e-3, grad_clip=5.0, device="cpu", seed=3)
    population = genomes(cell)
    solo = [train_genome(g, "reber", config, data=reber) for g in population]
    pop = train_cohort(population, "reber", config, data=reber)
    assert [r.genome for r in pop] == [g.to_dict() for g in population]
    for s, p in zip(solo, pop):
        assert_same_result(s, p)


def test_recurrent_stack_equals_solo_with_plateau_early_stopping_and_one_stack(reber):
    config = TrainConfig(epochs=4, batch_size=32, lr=1e-2, optimizer="sgd", schedule="plateau", plateau_patience=0,
                         patience=2, grad_clip=0.5, device="cpu", seed=7)
    population = genomes("gru")
    solo = [train_genome(g, "reber", config, data=reber) for g in population]
    pop = train_cohort(population, "reber", config, data=reber, grouping="none")
    for s, p in zip(solo, pop):
        assert_same_result(s, p)


def test_sequence_output_stack_equals_solo():
    data = embedded_reber_dataset(200, seed=0)
    config = TrainConfig(epochs=2, batch_size=32, lr=3e-3, device="cpu")
    population = genomes("lstm")[:3]
    solo = [train_genome(g, "embedded_reber", config, data=data) for g in population]
    pop = train_cohort(population, "embedded_reber", config, data=data)
    for s, p in zip(solo, pop):
        assert_same_result(s, p)


def test_stacked_forward_reads_each_sequence_at_its_own_last_step(reber):
    task = get_task("reber")
    models = [build_seeded(g, task, reber, 0) for g in genomes("gru")]
    stack = StackedRecurrent(models, torch.device("cpu"))
    x, lengths = reber.train.x[:16], reber.train.lengths[:16]
    assert lengths.min() < lengths.max()  # mixed lengths in the batch
    out = stack.forward(x, lengths)
    for i, model in enumerate(models):
        torch.testing.assert_close(out[i], model(x, lengths), atol=1e-5, rtol=1e-5)
    # Cutting the batch to its longest sequence changes nothing.
    cut = int(lengths.max())
    torch.testing.assert_close(stack.forward(x[:, :cut], lengths), out, atol=1e-6, rtol=1e-6)


def test_mixed_cells_share_no_stack(reber):
    config = TrainConfig(epochs=1, batch_size=64, device="cpu")
    mixed = [genomes("gru")[0], genomes("lstm")[1], genomes("tanh")[2]]
    pop = train_cohort(mixed, "reber", config, data=reber)
    solo = [train_genome(g, "reber", config, data=reber) for g in mixed]
    for s, p in zip(solo, pop):
        assert_same_result(s, p)


def test_chunks_of_one_equal_one_stack(reber):
    config = TrainConfig(epochs=1, batch_size=64, device="cpu")
    whole = train_cohort(genomes("gru"), "reber", config, data=reber)
    chunked = train_cohort(genomes("gru"), "reber", config, data=reber, chunk_size=1)
    for a, b in zip(whole, chunked):
        assert a.test_loss == pytest.approx(b.test_loss, abs=1e-5)


def test_planner_keeps_every_recurrent_candidate_once(reber):
    task = get_task("reber")
    models = [build_seeded(g, task, reber, 0) for g in genomes("gru") * 3]
    groups = plan_stacks(models, 128, "cpu")
    assert sorted(i for g in groups for i in g) == list(range(len(models)))


def test_a_diverging_recurrent_candidate_fails_alone(monkeypatch, reber):
    import nas.training.stacking as population

    real = population.build_seeded
    bad = genomes("gru")[1]

    def poisoned(genome, task, data, seed):
        model = real(genome, task, data, seed)
        if genome == bad:
            with torch.no_grad():
                model.output_layer.bias[0] = float("nan")
        return model

    monkeypatch.setattr(population, "build_seeded", poisoned)
    config = TrainConfig(epochs=1, batch_size=64, device="cpu")
    with pytest.raises(TrainingError, match="candidate 1 in epoch 1"):
        train_cohort(genomes("gru"), "reber", config, data=reber)
    results = train_cohort(genomes("gru"), "reber", config, data=reber, on_error="record")
    assert results[1].error and results[1].model is None
    assert all(r.error is None and 0.0 <= r.test_accuracy <= 1.0 for i, r in enumerate(results) if i != 1)


@pytest.mark.parametrize("lengths", [[0, 5], [5, 99]], ids=["empty", "too-long"])
def test_out_of_range_lengths_are_a_typed_error(lengths, reber):
    x = reber.train.x[:2]
    broken = reber.__class__(**{**reber.__dict__, "train": Split(x, reber.train.y[:2], torch.tensor(lengths))})
    with pytest.raises(DataError, match=r"lengths of the train split must lie in 1\.\.24"):
        train_cohort(genomes("gru")[:2], "reber", TrainConfig(epochs=1, device="cpu"), data=broken)
    with pytest.raises(DataError, match="lengths of the train split"):
        train_genome(genomes("gru")[0], "reber", TrainConfig(epochs=1, device="cpu"), data=broken)


def test_length_buckets_cover_every_example_once_and_cut_padding(reber):
    split = reber.train
    assert truncates(split, reber.info)
    plain = epoch_batches(split, TrainConfig(batch_size=16, bucket_batches=1), make_generator(0, "cpu"), "cpu", True)
    bucketed = epoch_batches(split, TrainConfig(batch_size=16, bucket_batches=8), make_generator(0, "cpu"), "cpu", True)
    for batches in (plain, bucketed):
        seen = torch.cat([b.index for b in batches]).sort().values
        assert torch.equal(seen, torch.arange(len(split)))
        assert all(b.steps == int(split.lengths[b.index].max()) for b in batches)
    untouched = [Split(split.x, split.y, split.lengths)]
    full = 1 - float(split.lengths.sum()) / (len(split) * split.x.shape[1])
    assert padded_step_fraction(untouched[0], bucketed) < padded_step_fraction(untouched[0], plain) < full
    again = epoch_batches(split, TrainConfig(batch_size=16, bucket_batches=8), make_generator(0, "cpu"), "cpu", True)
    assert all(torch.equal(a.index, b.index) for a, b in zip(bucketed, again))  # same seed, same batches
    evaluation = eval_batches(split, 50, truncate=True)
    assert sorted(torch.cat([b.index for b in evaluation]).tolist()) == list(range(len(split)))


def test_saved_time_is_the_marginal_planned_cost(reber):
    from nas.search.config import SearchConfig
    from nas.search.evaluator import Trainer
    from nas.training.stacking.planner import plan_cost

    trainer = Trainer(SearchConfig(task="reber", out="unused", seed=0, device="cpu"))
    trainer._data = reber
    population = genomes("gru")
    trained, skipped = population[:3], population[3:]
    saved = trainer.saved_time(trained, skipped, 10.0)
    models = [build_seeded(g, trainer.task, reber, 0) for g in population]
    base, full = plan_cost(models[:3], 128, "cpu"), plan_cost(models, 128, "cpu")
    assert saved == pytest.approx(10.0 * (full - base) / base)
    assert 0.0 < saved < 10.0 / 3 * 2  # joining stacks costs less than two runs of their own
    assert trainer.saved_time(trained, [], 10.0) == 0.0


@pytest.mark.parametrize("cell", CELLS)
def test_hand_written_backward_through_time_matches_autograd(cell):
    from nas.training.stacking.recurrence import recurrence
    from search_spaces.builders.recurrent import GATES

    gen = torch.Generator().manual_seed(0)
    T, N, B, W = 4, 3, 2, 3
    G = GATES[cell]
    gx = torch.randn(T, N, B, G * W, generator=gen, dtype=torch.float64, requires_grad=True)
    w = (0.5 * torch.randn(N, G * W, W, generator=gen, dtype=torch.float64)).requires_grad_()
    b = torch.randn(N, 1, G * W, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *args: recurrence(cell, *args), (gx, w, b))
    # And the forward is torch's own cell: one block against nn.GRU/LSTM/RNN's fused kernel.
    layer = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}.get(cell)
    module = layer(W, W, batch_first=False) if layer else torch.nn.RNN(W, W, nonlinearity=cell)
    module = module.double()
    x = torch.randn(T, B, W, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        own = module(x)[0]
        projected = (x @ module.weight_ih_l0.T + module.bias_ih_l0).unsqueeze(1)
        ours = recurrence(cell, projected, module.weight_hh_l0.unsqueeze(0), module.bias_hh_l0.view(1, 1, -1))[:, 0]
    torch.testing.assert_close(ours, own)


def test_a_cohort_too_big_for_memory_is_split_and_logged(monkeypatch, caplog, reber):
    import logging

    import nas.training.stacking as population

    config = TrainConfig(epochs=1, batch_size=64, device="cpu")
    whole = train_cohort(genomes("gru"), "reber", config, data=reber, grouping="none")
    monkeypatch.setattr(population, "choose_chunk_size", lambda per, device, reserved=0: 2)  # room for two
    with caplog.at_level(logging.INFO, logger="nas.training.stacking"):
        split = train_cohort(genomes("gru"), "reber", config, data=reber, grouping="none")
    assert "does not fit in memory" in caplog.text and "3 chunks" in caplog.text
    assert all(r.error is None for r in split)  # split, never dropped
    for a, b in zip(whole, split):
        assert a.test_loss == pytest.approx(b.test_loss, abs=1e-5)
