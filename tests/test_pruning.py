"""Pruning saliencies and steps (nas.studies.pruning): hand-made networks with known answers, and equality
with torch.nn.utils.prune for the magnitude methods."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from nas.exceptions import PruningError
from nas.studies.pruning import METHODS, hessian_diagonal, prune_step, saliencies


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(20, 12), nn.ReLU(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))


def _layers(model):
    return [m for m in model if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("amounts", [(0.25,), (0.25, 0.25, 0.5), (37, 0.3)])
def test_class_blinded_equals_torch_global_l1(amounts):
    ours, theirs = _mlp(), _mlp()
    masks = [torch.ones_like(layer.weight) for layer in _layers(ours)]
    params = [(layer, "weight") for layer in _layers(theirs)]
    for amount in amounts:
        masks = prune_step("mcb", [layer.weight for layer in _layers(ours)], masks, amount)
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=amount)
        for mask, layer in zip(masks, _layers(theirs)):
            assert torch.equal(mask, layer.weight_mask)


@pytest.mark.parametrize("amounts", [(0.25,), (0.2, 0.5)])
def test_class_uniform_equals_torch_per_layer_l1(amounts):
    ours, theirs = _mlp(1), _mlp(1)
    masks = [torch.ones_like(layer.weight) for layer in _layers(ours)]
    for amount in amounts:
        masks = prune_step("mcu", [layer.weight for layer in _layers(ours)], masks, amount)
        for layer in _layers(theirs):
            prune.l1_unstructured(layer, "weight", amount=amount)
        for mask, layer in zip(masks, _layers(theirs)):
            assert torch.equal(mask, layer.weight_mask)
            # every layer lost the same share of what it had
    sizes = [int(m.sum()) for m in masks]
    expected = [n for n in (layer.weight.numel() for layer in _layers(ours))]
    for amount in amounts:
        expected = [n - round(amount * n) for n in expected]
    assert sizes == expected


def test_class_distributed_normalises_each_layer():
    a = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    b = torch.tensor([[10.0, 20.0, 30.0, 40.0]])
    ones = [torch.ones(1, 4), torch.ones(1, 4)]
    with pytest.raises(PruningError, match="layer 0 would lose all its weights"):
        prune_step("mcb", [a, b], ones, 4)  # one magnitude threshold takes all of the small layer
    distributed = prune_step("mcd", [a, b], ones, 4)  # |w| / sigma: the same two of each
    assert distributed[0].tolist() == [[0, 0, 1, 1]] and distributed[1].tolist() == [[0, 0, 1, 1]]


def test_a_layer_that_would_become_empty_is_an_error():
    a = torch.tensor([[1.0, 2.0]])
    b = torch.tensor([[10.0, 20.0]])
    with pytest.raises(PruningError, match="layer 0 would lose all its weights"):
        prune_step("mcb", [a, b], [torch.ones(1, 2), torch.ones(1, 2)], 2)
    with pytest.raises(PruningError, match="input would lose"):
        prune_step("mcb", [a, b], [torch.ones(1, 2), torch.ones(1, 2)], 2, names=["input", "output"])


def test_pruned_weights_stay_pruned_and_only_unpruned_ones_are_counted():
    w = [torch.tensor([[9.0, 1.0, 2.0, 3.0]])]
    mask = [torch.tensor([[0.0, 1.0, 1.0, 1.0]])]  # the largest weight is already pruned
    new = prune_step("mcb", w, mask, 0.5)  # round(0.5 * 3) = 2 of the 3 remaining
    assert new[0].tolist() == [[0.0, 0.0, 0.0, 1.0]]
    assert mask[0].tolist() == [[0.0, 1.0, 1.0, 1.0]]  # the input is not changed


def test_random_is_seeded_and_removes_the_asked_share():
    w = [torch.randn(10, 10, generator=torch.Generator().manual_seed(0))]
    ones = [torch.ones(10, 10)]
    first = prune_step("random", w, ones, 0.3, rng=np.random.default_rng(5))
    again = prune_step("random", w, ones, 0.3, rng=np.random.default_rng(5))
    other = prune_step("random", w, ones, 0.3, rng=np.random.default_rng(6))
    assert torch.equal(first[0], again[0]) and not torch.equal(first[0], other[0])
    assert int(first[0].sum()) == 70


def test_obd_prunes_by_curvature_times_weight_squared():
    w = [torch.tensor([[1.0, 1.0, 0.5]])]
    h = [torch.tensor([[1.0, 100.0, 100.0]])]  # saliencies 0.5, 50, 12.5
    assert prune_step("obd", w, [torch.ones(1, 3)], 1, hessian=h)[0].tolist() == [[0.0, 1.0, 1.0]]
    assert prune_step("obd", w, [torch.ones(1, 3)], 2, hessian=h)[0].tolist() == [[0.0, 1.0, 0.0]]


def test_hessian_diagonal_of_a_quadratic_is_exact():
    a = torch.tensor([1.0, 4.0, 9.0])
    w = torch.tensor([0.3, -1.0, 2.0], requires_grad=True)
    loss = lambda: 0.5 * (a * w**2).sum() + w[0] * 0.0  # noqa: E731
    (exact,) = hessian_diagonal(loss, [w], exact=True)
    (estimate,) = hessian_diagonal(loss, [w], probes=3, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(exact, a) and torch.allclose(estimate, a)  # diagonal H: Hutchinson is exact


def test_hutchinson_estimate_approaches_the_exact_diagonal_of_a_network():
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    x, y = torch.randn(32, 4, generator=torch.Generator().manual_seed(1)), torch.tensor([0, 1] * 16)
    loss = lambda: nn.functional.cross_entropy(model(x), y)  # noqa: E731
    params = [model[0].weight, model[2].weight]
    exact = hessian_diagonal(loss, params, exact=True)
    estimate = hessian_diagonal(loss, params, probes=4000, generator=torch.Generator().manual_seed(2))
    for e, h in zip(exact, estimate):
        assert torch.allclose(e, h, atol=0.02 + 0.1 * e.abs().max().item())


def test_the_mask_interface_of_a_built_sparse_network():
    from search_spaces import Genome
    from search_spaces.builders import build_from_genome
    from search_spaces.builders.masked import masked_parameters

    model = build_from_genome(Genome("erdos_renyi", {"p": 0.4}, nodes=12, seed=3, width=4), num_classes=10, in_features=30)
    named = list(masked_parameters(model))
    weights, masks = [w for _, w, _ in named], [m for _, _, m in named]
    before = sum(int(m.sum()) for m in masks)
    new = prune_step("mcb", weights, masks, 0.25, names=[n for n, _, _ in named])
    assert sum(int(m.sum()) for m in new) == before - round(0.25 * before)
    assert all(bool(((n == 1) <= (m == 1)).all()) for n, m in zip(new, masks))  # only unpruned weights go


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "magnitude"}, "expected one of: mcb, mcu, mcd, random, obd"),
    ({"amount": 0.0}, r"share must be in \(0, 1\)"),
    ({"amount": 1.0}, r"share must be in \(0, 1\)"),
    ({"amount": 0}, "count must be at least 1"),
    ({"amount": 99}, "only 4 remain"),
    ({"method": "random"}, "needs a numpy Generator"),
    ({"method": "obd"}, "needs the Hessian diagonal"),
])
def test_bad_requests_are_typed_errors(kwargs, match):
    args = {"method": "mcb", "amount": 0.5, **kwargs}
    with pytest.raises(PruningError, match=match):
        prune_step(args["method"], [torch.ones(2, 2)], [torch.ones(2, 2)], args["amount"])


def test_every_method_has_a_saliency_of_the_weights_shape():
    w, m = [torch.randn(3, 4)], [torch.ones(3, 4)]
    for method in METHODS:
        s = saliencies(method, w, m, rng=np.random.default_rng(0), hessian=[torch.ones(3, 4)])
        assert s[0].shape == (3, 4) and bool(torch.isfinite(s[0]).all())


# --- schedules -----------------------------------------------------------------------------


def test_iterative_quarter_steps_give_the_papers_compression_levels():
    import itertools

    from nas.studies.pruning import plan_schedule

    total = 784 * 100 + 100 * 10
    steps = plan_schedule(total, target=0.9, rate=0.25)
    levels = [round(100 * p / total, 1) for p in itertools.accumulate(steps)]
    assert levels == [25.0, 43.8, 57.8, 68.4, 76.3, 82.2, 86.7, 90.0]  # the paper's 76.3, 82.2, 90.0 among them


def test_fixed_count_and_single_shot_schedules_end_at_the_target():
    from nas.studies.pruning import plan_schedule

    assert plan_schedule(1000, target=0.5, count=200) == [200, 200, 100]
    assert plan_schedule(1000, target=0.5, count=200, pruned=300) == [200]
    assert plan_schedule(1000, target=0.8) == [800]
    assert plan_schedule(1000, target=0.8, pruned=500) == [300]


@pytest.mark.parametrize("total, kwargs, match", [
    (1000, {"target": 0.0}, r"target compression must be in \(0, 1\)"),
    (1000, {"target": 1.0}, r"target compression must be in \(0, 1\)"),
    (1000, {"target": 0.5, "pruned": 600}, "already reached"),
    (1000, {"target": 0.9999}, "would remove every weight"),
    (100, {"target": 0.9, "rate": 0.01}, "unreachable"),  # round(0.01 * 100) = 1, then 0 at 49 left
    (1000, {"target": 0.5, "rate": 1.5}, r"rate must be a share in \(0, 1\)"),
    (1000, {"target": 0.5, "count": 0}, "count must be an integer >= 1"),
    (1000, {"target": 0.5, "rate": 0.2, "count": 5}, "not both"),
    (0, {"target": 0.5}, "at least 1 prunable weight"),
])
def test_bad_schedules_are_typed_errors(total, kwargs, match):
    from nas.studies.pruning import plan_schedule

    with pytest.raises(PruningError, match=match):
        plan_schedule(total, **kwargs)


# --- pruning a trained network (tiny MNIST budgets) -----------------------------------------


@pytest.fixture(scope="module")
def mnist(shared_data_dir):
    from nas.training.tasks import get_task

    task = get_task("mnist")
    return task, task.load(data_dir=shared_data_dir)


def test_prune_model_follows_the_schedule_and_retrains(mnist):
    from nas.studies.pruning import DenseMLP, plan_schedule, prune_model, prunable
    from nas.training.loop import train_model

    task, data = mnist
    config = task.default_config(epochs=2, lr=1e-2, train_subset=2000, val_subset=300, test_subset=500, seed=0)
    model = DenseMLP((784, 16, 10), generator=torch.Generator().manual_seed(0))
    train_model(model, data, task, config)
    total = 784 * 16 + 16 * 10
    records = prune_model(model, task, data, method="mcb", steps=plan_schedule(total, target=0.75, rate=0.5),
                          retrain=config)
    assert [r["step"] for r in records] == [1, 2]
    assert [round(r["compression"], 3) for r in records] == [0.5, 0.75]
    _, weights, masks = prunable(model)
    assert records[-1]["weights"] == sum(int(m.sum()) for m in masks) == total - round(0.5 * total) - round(0.5 * round(0.5 * total))
    assert all(bool((w[m == 0] == 0).all()) for w, m in zip(weights, masks))  # pruned weights are zero
    assert all(0 <= r["test_accuracy_before_retrain"] <= 1 and r["test_accuracy"] > 0.5 for r in records)


def test_obd_on_a_sparse_network_uses_a_positive_curvature(mnist):
    from nas.studies.pruning import prune_model, prunable
    from nas.studies.pruning.run import fisher_diagonal
    from search_spaces import Genome

    task, data = mnist
    config = task.default_config(epochs=1, train_subset=500, val_subset=200, test_subset=300, seed=0)
    model = task.build(Genome("erdos_renyi", {"p": 0.4}, nodes=10, seed=1, width=4), data,
                       generator=torch.Generator().manual_seed(0))
    _, weights, masks = prunable(model)
    batch = data.val.subset(slice(0, 16))
    fisher = fisher_diagonal(model, task, batch.x, batch.y, None, weights, torch.Generator().manual_seed(0))
    assert all(bool((f >= 0).all()) and bool((f[m == 0] == 0).all()) for f, m in zip(fisher, masks))
    before = sum(int(m.sum()) for m in masks)
    records = prune_model(model, task, data, method="obd", steps=[before // 4], retrain=config, hessian_batch=32)
    assert records[0]["weights"] == before - before // 4
    with pytest.raises(PruningError, match="curvature must be"):
        prune_model(model, task, data, method="obd", steps=[1], retrain=config, curvature="exact")


# --- nas prune ---------------------------------------------------------------------------------

TINY_PRUNE = ["--epochs", "1", "--retrain", "1", "--train", "lr=0.01", "--train", "train_subset=1000",
              "--train", "val_subset=300", "--train", "test_subset=500"]


def test_nas_prune_writes_steps_per_method_a_table_and_a_plot(tmp_path, shared_data_dir, capsys):
    import json

    from nas.cli.main import main

    out = tmp_path / "prune.json"
    code = main(["prune", "--arch", "784-16-10", "--method", "mcb,mcu", "--seeds", "2", "--rate", "0.5", "--target", "0.7",
                 "--data-dir", str(shared_data_dir), "--out", str(out), *TINY_PRUNE])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(out.read_text())
    assert result["complete"] and set(result["methods"]) == {"mcb", "mcu"}
    steps = result["methods"]["mcb"]["steps"]
    assert [round(s["compression"], 2) for s in steps] == [0.5, 0.75]
    for s in steps:
        assert {"compression", "test_accuracy_mean", "test_accuracy_std", "test_accuracy_before_retrain_mean",
                "weights"} <= set(s) and s["seeds"] == 2
    assert len(result["runs"]["mcu"]) == 2 and len(result["base"]) == 2
    assert (tmp_path / "prune.png").stat().st_size > 0 and "mcu" in captured.out
    assert main(["prune", "--arch", "784-16-10", "--out", str(out)]) == 1  # never overwritten
    assert "exists" in capsys.readouterr().err


def test_an_interrupted_pruning_run_keeps_the_steps_it_finished(tmp_path, shared_data_dir, monkeypatch):
    import json

    import nas.studies.pruning.run as run
    from nas.studies.pruning.experiment import PruneConfig, run_pruning

    real, calls = run.prune_step, []

    def failing_at_the_third_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise PruningError("layers.1.weight would lose all its weights")
        return real(*args, **kwargs)

    monkeypatch.setattr(run, "prune_step", failing_at_the_third_step)
    config = PruneConfig(task="mnist", arch="784-16-10", rate=0.5, target=0.9, retrain=1, epochs=1,
                         data_dir=str(shared_data_dir),
                         train={"lr": 0.01, "train_subset": 1000, "val_subset": 300, "test_subset": 500})
    out = tmp_path / "prune.json"
    with pytest.raises(PruningError, match="would lose all its weights"):
        run_pruning(config, out)
    partial = json.loads(out.read_text())
    assert not partial["complete"]
    assert [round(s["compression"], 2) for s in partial["methods"]["mcb"]["steps"]] == [0.5, 0.75]


# --- nas prune --resume ---------------------------------------------------------------------

RESUMABLE = ["prune", "--arch", "784-16-10", "--method", "mcb,random", "--seeds", "2", "--rate", "0.5",
             "--target", "0.9", *TINY_PRUNE]


def _result(path):
    """A run's output without what differs between any two runs (times, code version)."""
    import json

    out = json.loads(path.read_text())
    return {k: v for k, v in out.items() if k not in ("timings", "provenance")}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, shared_data_dir):
    """The result of the resumable run, never interrupted."""
    from nas.cli.main import main

    out = tmp_path_factory.mktemp("uninterrupted") / "prune.json"
    assert main([*RESUMABLE, "--data-dir", str(shared_data_dir), "--out", str(out)]) == 0
    result = _result(out)
    assert result["complete"] and len(result["methods"]["mcb"]["steps"]) >= 3
    return result


def _interrupted(argv) -> None:
    """Run ``nas`` expecting the Ctrl-C exit (130: click's SystemExit, past ``main``)."""
    from nas.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 130


def _kill_at_step_three(monkeypatch):
    """A kill (Ctrl-C) in the third step: steps 1 and 2 are finished (4 candidates per step)."""
    import nas.studies.pruning.run as run

    real, calls = run.prune_step, []

    def killed_at_the_third_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 9:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(run, "prune_step", killed_at_the_third_step)


def _kill_before_the_record_of_step_two(monkeypatch):
    """A kill after step 2's networks are stored, before its record is."""
    from nas.studies.pruning.store import PruneStore

    real = PruneStore.append

    def killed(self, records):
        if any(r.get("step") == 2 for r in records):
            raise KeyboardInterrupt
        return real(self, records)

    monkeypatch.setattr(PruneStore, "append", killed)


@pytest.mark.parametrize("kill, finished", [(_kill_at_step_three, 2), (_kill_before_the_record_of_step_two, 1)])
def test_a_killed_nas_prune_resumes_to_the_result_of_an_uninterrupted_run(tmp_path, shared_data_dir, capsys,
                                                                           monkeypatch, uninterrupted, kill, finished):
    from nas.cli.main import main

    out, args = tmp_path / "prune.json", [*RESUMABLE, "--data-dir", str(shared_data_dir)]
    with monkeypatch.context() as patch:
        kill(patch)
        _interrupted([*args, "--out", str(out)])
    assert "continue with the same command plus --resume" in capsys.readouterr().err
    partial = _result(out)
    assert not partial["complete"] and len(partial["methods"]["mcb"]["steps"]) == finished
    assert main([*args, "--out", str(out)]) == 1  # a plain rerun does not replace it
    assert "--resume to continue its run" in capsys.readouterr().err
    assert main([*args, "--out", str(out), "--resume"]) == 0
    assert f"resuming after step {finished}/" in capsys.readouterr().err
    assert _result(out) == uninterrupted
    assert (tmp_path / "prune.png").stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "prune.steps").iterdir()) == ["settings.json", "steps.jsonl"]
    assert main([*args, "--out", str(out), "--resume"]) == 0  # a finished run: the same result again
    assert _result(out) == uninterrupted


def test_nas_prune_resume_refuses_other_arguments_and_a_missing_run_in_one_line(tmp_path, shared_data_dir, capsys,
                                                                                monkeypatch):
    from nas.cli.main import main

    out, args = tmp_path / "prune.json", [*RESUMABLE, "--data-dir", str(shared_data_dir)]
    assert main([*args, "--out", str(out), "--resume"]) == 1
    err = capsys.readouterr().err.strip()
    assert "no earlier run to continue" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
    with monkeypatch.context() as patch:
        _kill_at_step_three(patch)
        _interrupted([*args, "--out", str(out)])
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    other = [a if a != "mcb,random" else "mcb" for a in args]
    assert main([*other, "--seeds", "3", "--out", str(out), "--resume"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--resume with different pruning settings" in err
    assert "methods: stored ['mcb', 'random'], given ['mcb']" in err and "seeds: stored 2, given 3" in err
    assert main([*args, "--out", str(out), "--resume", "--overwrite"]) == 1
    assert "expected one of them" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before  # nothing touched
    out.unlink()  # the steps are still there: a new run must not mix with them
    assert main([*args, "--out", str(out)]) == 1
    assert "holds the finished steps of an earlier run" in capsys.readouterr().err


def test_nas_prune_overwrite_starts_again_and_a_run_killed_in_base_training_leaves_nothing(
        tmp_path, shared_data_dir, capsys, monkeypatch, uninterrupted):
    import nas.studies.pruning.experiment as experiment
    from nas.cli.main import main

    out, args = tmp_path / "prune.json", [*RESUMABLE, "--data-dir", str(shared_data_dir)]
    with monkeypatch.context() as patch:
        _kill_at_step_three(patch)
        _interrupted([*args, "--out", str(out)])
    assert main([*args, "--out", str(out), "--overwrite"]) == 0
    assert _result(out) == uninterrupted
    fresh = tmp_path / "fresh"
    fresh.mkdir()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(experiment, "train_models", killed)
        _interrupted([*args, "--out", str(fresh / "p.json")])
    assert list(fresh.iterdir()) == []  # nothing finished, nothing kept
    capsys.readouterr()
    assert main([*args, "--out", str(fresh / "p.json"), "--resume"]) == 1
    assert "no earlier run to continue" in capsys.readouterr().err


def test_the_pruning_store_restores_the_last_stage_and_leaves_stopped_networks_out(tmp_path):
    from nas.exceptions import StoreError
    from nas.studies.pruning import Candidate, DenseMLP
    from nas.studies.pruning.store import PruneStore

    def candidates(init):
        return [Candidate(m, s, DenseMLP((6, 4, 3), generator=torch.Generator().manual_seed(init + s)))
                for m in ("mcb", "mcu") for s in (0, 1)]

    store = PruneStore.create(tmp_path / "p.steps", {"seeds": 2})
    trained = candidates(0)
    store.append_stage(0, {"step": 0, "base": [], "timings": {}}, [c.model for c in trained])
    with torch.no_grad():
        trained[1].model.input_layer.mask[0, 0] = 0  # step 1 prunes a weight of mcb, seed 1
    runs = {"mcb": [{"weights": 5}, {"weights": 4}], "mcu": [None, {"weights": 5}]}  # mcu seed 0 stopped
    store.append_stage(1, {"step": 1, "runs": runs, "timings": {}}, [c.model for c in trained])
    assert sorted(p.name for p in store.folder.iterdir()) == ["networks-0001.pt", "settings.json", "steps.jsonl"]
    fresh = candidates(7)
    done, active = store.restore(fresh)
    assert done == 1 and [(c.method, c.seed) for c in active] == [("mcb", 0), ("mcb", 1), ("mcu", 1)]
    for a, b in zip(fresh, trained):
        for (name, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values()):
            assert torch.equal(x, y), name
    with pytest.raises(StoreError, match="holds 4 networks for step 1; this run has 2"):
        store.restore(fresh[:2])
    store.drop_networks()
    with pytest.raises(StoreError, match="networks-0001.pt' is missing"):
        store.restore(fresh)


@pytest.mark.parametrize("args, match", [
    (["--method", "foo"], "'foo' is not one of mcb, mcu, mcd, random, obd"),
    (["--rate", "1.5"], "PruneConfig.rate = 1.5; expected a number in (0, 1) or None"),
    (["--target", "1"], "PruneConfig.target = 1.0; expected a number in (0, 1)"),
    (["--arch", "784-x-10"], "layer sizes like 784-100-10"),
    (["--task", "reber"], "builds a feed-forward MLP"),
    (["--single-shot", "--rate", "0.3"], "--single-shot"),
])
def test_nas_prune_bad_input_is_one_line_before_training(tmp_path, capsys, args, match):
    from nas.cli.main import main

    out = tmp_path / "p.json"
    assert main(["prune", "--arch", "784-16-10", "--out", str(out), *args]) in (1, 2)  # 2: click's usage errors
    err = capsys.readouterr().err.strip()
    assert match in err and len(err.splitlines()) == 1 and not out.exists()


def test_a_sparse_gru_is_pruned_per_layer_without_emptying_a_layer(tmp_path, shared_data_dir):
    import json

    from nas.studies.pruning.experiment import PruneConfig, run_pruning
    from search_spaces import Genome

    genome = Genome("watts_strogatz", {"k": 4, "p": 0.5}, nodes=12, seed=0, family="rnn:gru").to_dict()
    config = PruneConfig(task="reber", genome=genome, methods=("mcu",), rate=0.5, target=0.7, retrain=1, epochs=1,
                         data_dir=str(shared_data_dir),
                         train={"lr": 0.02, "train_subset": 500, "val_subset": 200, "test_subset": 300})
    run_pruning(config, tmp_path / "p.json")
    steps = json.loads((tmp_path / "p.json").read_text())["methods"]["mcu"]["steps"]
    assert len(steps) == 2 and steps[-1]["compression"] >= 0.7 and steps[-1]["weights"] > 0


def test_nas_prune_refuses_an_unwritable_out_before_training(tmp_path, capsys):
    from nas.cli.main import main

    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["prune", "--arch", "784-16-10", "--out", str(blocker / "p.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert "is not a writable folder; nothing was trained" in err and len(err.splitlines()) == 1


def test_the_pruning_plot_starts_at_the_unpruned_networks():
    from nas.cli.prune import pruning_curves

    summary = {"mcb": [{"compression": 0.25, "test_accuracy_mean": 0.9, "test_accuracy_std": 0.01},
                       {"compression": 0.5, "test_accuracy_mean": 0.85, "test_accuracy_std": 0.02}]}
    base = [{"seed": 0, "test_accuracy": 0.96}, {"seed": 1, "test_accuracy": 0.94}]
    x, mean, std = pruning_curves(summary, base)["mcb"]
    assert x == [0.0, 25.0, 50.0] and mean[0] == pytest.approx(0.95) and std[0] == pytest.approx(0.01414, abs=1e-4)
    assert pruning_curves(summary, [])["mcb"][0] == [25.0, 50.0]  # no base results: the steps alone


def test_a_run_past_its_target_says_why():
    from nas.cli.prune import overshoot_notes

    summary = {"mcb": [{"compression": 0.25}, {"compression": 0.822}], "random": [{"compression": 0.8004}]}
    notes = overshoot_notes(summary, 0.8)
    assert len(notes) == 1 and notes[0].startswith("note: mcb ended at 82.2 % compression, past the target of 80.0 %")


def test_pruning_trains_with_the_progress_display_on_a_terminal():
    from nas.studies.pruning.experiment import PruneConfig

    config = PruneConfig(arch="784-16-10")
    assert config.base_config().progress and config.retrain_config().progress  # shown on a terminal only
