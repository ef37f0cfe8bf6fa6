"""Pruning many networks together (seeds × methods as one cohort), the weights a run prunes
(input, hidden, recurrent, output), the paper's step decay, presets, paired tests and reports."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from scipy import stats

from nas.datasets.reber import reber_classification_dataset
from nas.exceptions import PruningError
from nas.studies.pruning import Candidate, DenseMLP, make_prunable, prunable, prune_models
from nas.training.loop import build_seeded, train_model
from nas.training.optimization import PlateauTracker
from nas.training.stacking import train_models
from nas.training.stacking.loop import verify_stack
from nas.training.stacking.rnn import StackedRecurrent
from nas.training.tasks import get_task
from search_spaces import Genome


@pytest.fixture(scope="module")
def mnist(shared_data_dir):
    task = get_task("mnist")
    return task, task.load(data_dir=shared_data_dir)


@pytest.fixture(scope="module")
def reber():
    return reber_classification_dataset(300, seed=0, min_length=11, max_length=20)


def _tiny(task, **changes):
    options = dict(epochs=1, lr=1e-2, train_subset=600, val_subset=200, test_subset=300, seed=0)
    return task.default_config(**{**options, **changes})


def _gru_genome(width=2):
    return Genome("watts_strogatz", {"k": 4, "p": 0.5}, nodes=10, seed=0, family="rnn:gru", width=width)


def _records_close(a, b, test_examples):
    assert [r["weights"] for r in a] == [r["weights"] for r in b]
    for x, y in zip(a, b):
        # float differences between a stacked and a solo run may flip the odd prediction
        assert abs(x["test_accuracy"] - y["test_accuracy"]) <= 2 / test_examples
        assert abs(x["test_accuracy_before_retrain"] - y["test_accuracy_before_retrain"]) <= 2 / test_examples


def test_a_cohort_of_seeds_and_methods_prunes_each_as_if_alone(mnist):
    task, data = mnist
    config = _tiny(task)
    trained = [DenseMLP((784, 12, 10), generator=torch.Generator().manual_seed(s)) for s in (0, 1)]
    train_models(trained, task, config, data)
    together = [Candidate(m, s, copy.deepcopy(trained[s])) for m in ("mcb", "random") for s in (0, 1)]
    alone = [Candidate(c.method, c.seed, copy.deepcopy(c.model)) for c in together]
    steps = [0.5, 0.5]
    joint = prune_models(together, task, data, steps=steps, retrain=config)
    single = [prune_models([c], task, data, steps=steps, retrain=config)[0] for c in alone]
    for a, b, x, y in zip(joint, single, together, alone):
        _records_close(a, b, 300)
        for (_, wa, ma), (_, wb, mb) in zip(zip(*prunable(x.model)), zip(*prunable(y.model))):
            assert torch.equal(ma, mb) and torch.allclose(wa, wb, atol=1e-4)
    # the methods prune differently, the seeds start differently
    assert not torch.equal(prunable(together[0].model)[2][0], prunable(together[2].model)[2][0])
    assert joint[0][0]["test_accuracy_before_retrain"] != joint[1][0]["test_accuracy_before_retrain"]


def test_a_sparse_gru_is_pruned_in_its_recurrence_and_stacks_with_the_masks(reber):
    task = get_task("reber")
    genome = _gru_genome()
    config = _tiny(task, lr=2e-2, train_subset=None, val_subset=None, test_subset=None)
    models = [build_seeded(genome, task, reber, s) for s in (0, 1)]
    names, weights, masks = prunable(models[0], "recurrent")
    assert names and all(n.endswith("weight_hh") for n in names)
    assert all(m.shape == w.shape and bool((m == 1).all()) for w, m in zip(weights, masks))
    train_models(models, task, config, reber)
    together = [Candidate("mcb", s, copy.deepcopy(models[s])) for s in (0, 1)]
    alone = [Candidate("mcb", s, copy.deepcopy(models[s])) for s in (0, 1)]
    joint = prune_models(together, task, reber, steps=[0.5], retrain=config, weights="recurrent")
    single = [prune_models([c], task, reber, steps=[0.5], retrain=config, weights="recurrent")[0] for c in alone]
    for a, b in zip(joint, single):
        _records_close(a, b, len(reber.test))
    model = together[0].model
    _, weights, masks = prunable(model, "recurrent")
    assert joint[0][0]["weights"] == sum(int(m.sum()) for m in masks) == sum(m.numel() for m in masks) // 2
    assert all(bool((w[m == 0] == 0).all()) for w, m in zip(weights, masks))  # pruned recurrence stays zero
    # the stack honours the recurrent masks: its forward equals the module's
    probe = reber.train.subset(slice(0, 8))
    verify_stack(StackedRecurrent([model], torch.device("cpu")), [model], task, probe.x, probe.lengths, "cpu")
    for layer in model.layers:
        layer.hh_mask.zero_()
    with pytest.raises(Exception, match="differs from its module"):
        stack = StackedRecurrent([copy.deepcopy(models[0])], torch.device("cpu"))
        verify_stack(stack, [model], task, probe.x, probe.lengths, "cpu")


def test_the_parts_of_a_network_and_their_masks(mnist):
    task, data = mnist
    genome = Genome("erdos_renyi", {"p": 0.4}, nodes=10, seed=1, width=2, readout="last")
    model = build_seeded(genome, task, data, 0)
    x = data.test.x[:16]
    before = model(x)
    hidden = prunable(model, "hidden")
    assert all(n.startswith(("main.", "skips.")) for n in hidden[0])
    make_prunable(model, "all")
    assert torch.equal(model(x), before)  # masks of ones change nothing
    names, weights, masks = prunable(model)
    assert names[0] == "input_layer.weight" and names[-1] == "output_layer.weight"
    assert sum(m.numel() for m in masks[:1]) == 784 * model.layer_sizes[0]
    rnn = build_seeded(Genome("watts_strogatz", {"k": 4, "p": 0.5}, nodes=10, seed=0, family="rnn:lstm"),
                       get_task("reber"), reber_classification_dataset(50, seed=0), 0)
    names = prunable(rnn, "input,recurrent")[0]
    assert {n.rsplit(".", 1)[1] for n in names} == {"weight_ih", "weight_hh"}
    assert "layers.0.weight_ih" in names  # layer 0's dense input weights are prunable too
    with pytest.raises(PruningError, match="recurrent network has no weights 'hidden'"):
        prunable(rnn, "hidden")
    with pytest.raises(PruningError, match="feed-forward network has no weights 'recurrent'"):
        prunable(model, "recurrent")
    with pytest.raises(PruningError, match=r"feed-forward \(ff\) or recurrent"):
        prunable(torch.nn.Linear(3, 2))


def test_a_dense_mlp_trains_in_a_stack_as_it_does_alone(mnist):
    task, data = mnist
    config = _tiny(task)
    alone = [train_model(DenseMLP((784, 10, 10, 10), generator=torch.Generator().manual_seed(s)), data, task, config)
             for s in (0, 1, 2)]
    together = train_models([DenseMLP((784, 10, 10, 10), generator=torch.Generator().manual_seed(s)) for s in (0, 1, 2)],
                            task, config, data)
    for a, b in zip(alone, together):
        assert abs(a.test_accuracy - b.test_accuracy) <= 2 / 300
        for pa, pb in zip(a.model.parameters(), b.model.parameters()):
            assert torch.allclose(pa, pb, atol=1e-4)


def test_the_papers_step_decay_cuts_to_the_floor_then_stops(mnist):
    task, _ = mnist
    config = task.default_config(optimizer="sgd", lr=0.01, schedule="plateau", plateau_factor=0.1, plateau_patience=0,
                                 min_lr=1e-4)
    tracker = PlateauTracker(1, config)
    rates = []
    for epoch, metric in enumerate([0.90, 0.91, 0.905, 0.92, 0.915, 0.93, 0.925], 1):
        tracker.update(0, epoch, metric)
        rates.append(config.lr * tracker.lr_scale[0])
        if tracker.stopped[0]:
            break
    # cut after epochs 3 and 5; the plateau at 1e-4 after epoch 7 stops
    assert np.allclose(rates, [1e-2, 1e-2, 1e-3, 1e-3, 1e-4, 1e-4, 1e-4]) and tracker.stopped[0]
    with pytest.raises(Exception, match="min_lr"):
        task.default_config(min_lr=0)


def test_the_step_decay_stops_solo_and_stacked_runs_alike(mnist):
    task, data = mnist
    config = _tiny(task, epochs=12, optimizer="sgd", lr=0.05, schedule="plateau", plateau_factor=0.1, plateau_patience=0,
                   min_lr=5e-3)
    alone = train_model(DenseMLP((784, 8, 10), generator=torch.Generator().manual_seed(0)), data, task, config)
    together = train_models([DenseMLP((784, 8, 10), generator=torch.Generator().manual_seed(0))], task, config, data)[0]
    assert alone.stopped_early and alone.epochs < 12
    assert (alone.epochs, [h["lr"] for h in alone.history]) == (together.epochs, [h["lr"] for h in together.history])


def test_paired_tests_are_scipys_over_seeds():
    from nas.studies.pruning.experiment import paired_tests

    a = [0.97, 0.96, 0.975, 0.965]
    b = [0.95, 0.955, 0.96, 0.94]
    runs = {"mcb": [[{"test_accuracy": v, "compression": 0.5}] for v in a],
            "mcu": [[{"test_accuracy": v, "compression": 0.5}] for v in b]}
    row = paired_tests(runs, "mcb")["mcu"][0]
    assert row["n"] == 4 and row["difference_mean"] == pytest.approx(np.mean(np.subtract(b, a)))
    assert row["t_p"] == pytest.approx(stats.ttest_rel(b, a).pvalue)
    assert row["wilcoxon_p"] == pytest.approx(stats.wilcoxon(b, a).pvalue)
    same = {"mcb": runs["mcb"], "mcd": runs["mcb"]}
    assert paired_tests(same, "mcb")["mcd"][0]["t_p"] is None  # no difference at all: no test


def test_presets_are_valid_configs_and_the_cli_overrides_them(tmp_path, shared_data_dir, capsys):
    from nas.cli.main import main
    from nas.studies.pruning.experiment import PruneConfig
    from nas.studies.pruning.presets import PRESETS, preset

    for name in PRESETS:
        PruneConfig(**preset(name))
    paper = PruneConfig(**preset("stier2021-mnist"))
    base, retrain = paper.base_config(), paper.retrain_config()
    assert (base.optimizer, base.lr, base.momentum, base.batch_size, base.min_lr, base.epochs) == ("sgd", 0.01, 0.0, 64, 1e-4, 200)
    assert (base.plateau_compare, base.plateau_momentum) == ("previous", 0.5)
    assert (retrain.lr, retrain.epochs, retrain.schedule, retrain.min_lr, retrain.momentum, retrain.plateau_momentum) == \
        (0.01, 2, "none", None, 0.0, None)
    out = tmp_path / "p.json"
    code = main(["prune", "--preset", "stier2021-mnist", "--method", "mcb,mcu", "--seeds", "2", "--epochs", "1",
                 "--target", "0.43", "--retrain", "1", "--train", "train_subset=500", "--train", "val_subset=200",
                 "--train", "test_subset=200", "--data-dir", str(shared_data_dir), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(out.read_text())
    assert result["config"]["arch"] == "784-100-10" and result["config"]["seeds"] == 2
    assert [round(s["compression"], 3) for s in result["methods"]["mcu"]["steps"]] == [0.25, 0.438]
    assert result["comparisons"]["reference"] == "mcb" and "vs mcb" in captured.out
    assert main(["prune", "--preset", "nope", "--out", str(tmp_path / "q.json")]) == 1
    assert "unknown pruning preset 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("args, match", [
    (["--weights", "recurrent"], "feed-forward network has no weights 'recurrent'"),
    (["--train", "seed=3"], "--train may not set seed"),
    (["--retrain-option", "lr=-1"], "TrainConfig.lr"),
    (["--arch", "784-10"], "at least one hidden layer"),
])
def test_bad_pruning_input_is_one_line_before_training(tmp_path, capsys, args, match):
    from nas.cli.main import main

    out = tmp_path / "p.json"
    assert main(["prune", "--arch", "784-16-10", "--out", str(out), *args]) == 1
    err = capsys.readouterr().err.strip()
    assert match in err and len(err.splitlines()) == 1 and not out.exists()


def test_a_cnn_genome_is_refused_in_one_line(tmp_path, capsys):
    from nas.cli.main import main

    genome = tmp_path / "cnn.json"
    genome.write_text(json.dumps(Genome("erdos_renyi", {"p": 0.4}, nodes=8, seed=0, family="cnn").to_dict()))
    assert main(["prune", "--task", "cifar10", "--genome", str(genome), "--out", str(tmp_path / "p.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert "cnn genome cannot be pruned" in err and len(err.splitlines()) == 1


def test_variable_retraining_stops_before_its_cap(mnist):
    from nas.studies.pruning.experiment import PruneConfig

    task, data = mnist
    config = PruneConfig(arch="784-8-10", retrain=6, variable=0.5, train={"lr": 0.01, "train_subset": 500,
                                                                          "val_subset": 200, "test_subset": 200})
    model = DenseMLP((784, 8, 10), generator=torch.Generator().manual_seed(0))
    records = prune_models([Candidate("mcb", 0, model)], task, data, steps=[0.5], retrain=config.retrain_config())[0]
    assert records[0]["retrain_epochs"] == 2  # no epoch gains half the accuracy: stop after the second


def test_cut_momentum_is_torchs_sgd_until_a_cut(mnist):
    task, data = mnist
    plain = _tiny(task, optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=1e-3)
    switched = plain.replace(plateau_momentum=0.5)  # active, but no plateau schedule: never cut
    a = train_model(DenseMLP((784, 8, 10), generator=torch.Generator().manual_seed(0)), data, task, plain)
    b = train_model(DenseMLP((784, 8, 10), generator=torch.Generator().manual_seed(0)), data, task, switched)
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.allclose(pa, pb, atol=1e-6)


def test_the_papers_momentum_switch_and_previous_epoch_rule_agree_solo_and_stacked(mnist):
    task, data = mnist
    config = _tiny(task, epochs=8, optimizer="sgd", lr=0.1, momentum=0.0, schedule="plateau", plateau_factor=0.1,
                   plateau_patience=0, plateau_compare="previous", plateau_momentum=0.5, min_lr=1e-4)
    seeds = (0, 1, 2)
    alone = [train_model(DenseMLP((784, 8, 10), generator=torch.Generator().manual_seed(s)), data, task, config)
             for s in seeds]
    together = train_models([DenseMLP((784, 8, 10), generator=torch.Generator().manual_seed(s)) for s in seeds],
                            task, config, data)
    rates = [[h["lr"] for h in r.history] for r in alone]
    assert any(len(set(r)) > 1 for r in rates)  # some seed was cut, so the momentum switched
    for a, b in zip(alone, together):
        assert [h["lr"] for h in a.history] == [h["lr"] for h in b.history]
        for pa, pb in zip(a.model.parameters(), b.model.parameters()):
            assert torch.allclose(pa, pb, atol=1e-4)
    with pytest.raises(Exception, match="plateau_momentum"):
        task.default_config(plateau_momentum=0.5)  # the task's default optimizer is Adam


def test_the_previous_epoch_rule_cuts_where_the_best_rule_would_not(mnist):
    task, _ = mnist
    metrics = [0.90, 0.95, 0.92, 0.93, 0.94]
    for compare, expected in (("best", [1, 1, 0.1, 0.01, 0.001]), ("previous", [1, 1, 0.1, 0.1, 0.1])):
        config = task.default_config(schedule="plateau", plateau_patience=0, plateau_compare=compare)
        tracker = PlateauTracker(1, config)
        scales = []
        for epoch, metric in enumerate(metrics, 1):
            tracker.update(0, epoch, metric)
            scales.append(tracker.lr_scale[0])
        assert np.allclose(scales, expected) and tracker.best[0] == 0.95


def test_a_network_that_would_lose_a_layer_stops_alone(mnist, monkeypatch):
    import nas.studies.pruning.run as run
    from nas.studies.pruning.experiment import paired_tests, summarise

    task, data = mnist
    config = _tiny(task)
    real, calls, victim = run.prune_step, {}, []

    def second_step_of_seed_one_empties_a_layer(method, weights, masks, amount, **options):
        key = id(masks[0])
        calls[key] = calls.get(key, 0) + 1
        if key == victim[-1] and calls[key] == 2:
            raise PruningError("layers.0.weight would lose all its weights")
        return real(method, weights, masks, amount, **options)

    def networks():
        nets = [Candidate("mcb", s, DenseMLP((784, 8, 10), generator=torch.Generator().manual_seed(s))) for s in (0, 1)]
        calls.clear()  # ids are unique only among live objects: a later run may reuse an earlier run's
        victim.append(id(prunable(nets[1].model)[2][0]))
        return nets

    monkeypatch.setattr(run, "prune_step", second_step_of_seed_one_empties_a_layer)
    seen = []
    history = prune_models(networks(), task, data, steps=[0.5, 0.5], retrain=config, on_empty="stop",
                           on_step=lambda number, records: seen.append([r is None for r in records]))
    assert [len(h) for h in history] == [2, 1] and seen == [[False, False], [False, True]]
    assert [s["seeds"] for s in summarise({"mcb": history})["mcb"]] == [2, 1]
    assert [r["n"] for r in paired_tests({"mcb": history, "mcu": history}, "mcb")["mcu"]] == [2, 1]
    with pytest.raises(PruningError, match="mcb, seed 1, step 2: layers.0.weight would lose"):
        prune_models(networks(), task, data, steps=[0.5, 0.5], retrain=config)  # the default: the run stops
