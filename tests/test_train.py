"""The one training loop: config validation, loss decreases, masks hold, early stopping, results."""

from __future__ import annotations

import json
import math

import pytest
import torch

from nas.datasets.base import Dataset, Split
from nas.exceptions import ConfigError, DeviceError, TrainingError
from nas.training import Callback, TrainConfig, TrainResult, build_seeded, train_genome, train_model
from search_spaces.genome import Genome

RESULT_KEYS = {
    "task", "metric", "test_accuracy", "val_accuracy", "test_loss", "val_loss", "epochs", "steps", "wall_time_s",
    "device", "parameters", "nonzero_weights", "test_examples", "test_expected", "partial_test", "stopped_early",
    "best_epoch", "history", "genome", "config", "error",
}


def toy_images(n_train=384, n_val=128, n_test=128, seed=0) -> Dataset:
    """A learnable 3-class problem shaped like tiny images (1, 4, 4)."""
    gen = torch.Generator().manual_seed(seed)

    def split(n):
        x = torch.randn(n, 1, 4, 4, generator=gen)
        flat = x.flatten(1)
        y = (flat[:, :4].sum(1) > 0).long() + (flat[:, 8] > 0.5).long()
        return Split(x, y)

    return Dataset("toy", split(n_train), split(n_val), split(n_test), 3, (1, 4, 4),
                   {"test_examples": n_test, "test_expected": 2 * n_test})


GENOME = Genome("erdos_renyi", {"p": 0.3}, nodes=16, seed=1)


@pytest.mark.parametrize("field, value", [
    ("epochs", 0), ("epochs", 1.5), ("batch_size", 0), ("optimizer", "lbfgs"), ("lr", 0.0), ("lr", float("nan")),
    ("schedule", "step"), ("precision", "fp16"), ("patience", 0), ("grad_clip", -1.0), ("max_steps", 0),
    ("seed", -1), ("train_subset", 0), ("momentum", 1.5), ("augment", "mixup"),
])
def test_config_rejects_bad_values_naming_field_and_value(field, value):
    with pytest.raises(ConfigError) as err:
        TrainConfig(**{field: value})
    assert field in str(err.value) and repr(value) in str(err.value)


def test_config_is_frozen_and_replace_validates():
    config = TrainConfig()
    with pytest.raises(Exception):
        config.epochs = 3  # type: ignore[misc]
    assert config.replace(epochs=3).epochs == 3
    with pytest.raises(ConfigError, match=r"TrainConfig\.epoch = 3; expected one of the known fields \['augment'"):
        config.replace(epoch=3)


def test_loss_decreases_on_a_small_mnist_slice(shared_data_dir):
    from nas.datasets import load_dataset

    data = load_dataset("mnist", data_dir=shared_data_dir).subset(512, 256, 256)
    genome = Genome("layered_random", {"layers": 2, "p": 0.3, "skip": 0.0}, nodes=64, seed=0)
    config = TrainConfig(epochs=3, batch_size=64, lr=3e-3, device="cpu")
    result = train_genome(genome, "mnist", config, data=data)
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert result.test_accuracy > 0.5  # 10 classes: chance is 0.1


def test_masked_weights_stay_zero_through_training():
    data = toy_images()
    config = TrainConfig(epochs=2, batch_size=32, optimizer="sgd", lr=0.05, weight_decay=1e-3, device="cpu")
    result = train_genome(GENOME, "mnist", config, data=data)
    checked = 0
    for _name, weight, mask in result.model.masked_parameters():
        assert torch.all(weight[mask == 0] == 0)
        checked += int((mask == 0).sum())
    assert checked > 0


def test_result_record_has_every_field_and_is_json():
    data = toy_images()
    result = train_genome(GENOME, "mnist", TrainConfig(epochs=2, batch_size=64, device="cpu"), data=data)
    record = result.to_dict()
    assert RESULT_KEYS <= set(record)
    assert "model" not in record
    json.dumps(record, allow_nan=False)
    assert record["epochs"] == 2 and record["steps"] == 2 * 6
    assert record["device"] == "cpu"
    assert record["genome"] == GENOME.to_dict()
    assert record["test_examples"] == 128 and record["test_expected"] == 256 and record["partial_test"]
    assert record["nonzero_weights"] <= record["parameters"]
    assert 0.0 <= record["test_accuracy"] <= 1.0 and record["wall_time_s"] > 0
    assert isinstance(result.model, torch.nn.Module)


def test_same_seed_same_result_other_seed_other_result():
    data = toy_images()
    config = TrainConfig(epochs=2, batch_size=32, device="cpu", seed=3)
    a = train_genome(GENOME, "mnist", config, data=data)
    b = train_genome(GENOME, "mnist", config, data=data)
    c = train_genome(GENOME, "mnist", config.replace(seed=4), data=data)
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    assert a.test_loss == b.test_loss
    assert a.test_loss != c.test_loss


def test_test_curve_scores_the_test_split_after_every_epoch_and_changes_nothing_else():
    """test_curve adds test loss and accuracy to every epoch's record; the last one is the result's
    test accuracy, and training itself (losses, validation, weights) is the same as without it."""
    data = toy_images()
    config = TrainConfig(epochs=3, batch_size=32, device="cpu", seed=1)
    plain = train_genome(GENOME, "mnist", config, data=data)
    curved = train_genome(GENOME, "mnist", config.replace(test_curve=True), data=data)
    assert len(curved.history) == 3 and all({"test_loss", "test_accuracy"} <= set(h) for h in curved.history)
    assert curved.history[-1]["test_accuracy"] == curved.test_accuracy
    assert [h["val_accuracy"] for h in curved.history] == [h["val_accuracy"] for h in plain.history]
    assert curved.test_loss == plain.test_loss and "test_accuracy" not in plain.history[0]


def test_training_leaves_global_rng_untouched():
    data = toy_images()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_genome(GENOME, "mnist", TrainConfig(epochs=1, device="cpu"), data=data)
    assert torch.equal(torch.rand(3), expected)


def test_max_steps_caps_the_budget():
    result = train_genome(GENOME, "mnist", TrainConfig(epochs=5, max_steps=7, batch_size=64, device="cpu"), data=toy_images())
    assert result.steps == 7 and result.epochs == 2


def test_early_stopping_stops_and_restores_best(monkeypatch):
    import nas.training.loop as train_module

    curve = iter([0.5, 0.7, 0.6, 0.65, 0.9, 0.95])
    real = train_module.evaluate

    def fake_evaluate(model, split, task, config, device, truncate=False):
        loss, metric = real(model, split, task, config, device, truncate)
        return (loss, next(curve)) if split is not None and len(split) == 128 and fake_evaluate.val else (loss, metric)

    fake_evaluate.val = True
    monkeypatch.setattr(train_module, "evaluate", fake_evaluate)
    data = toy_images()

    snapshots = {}

    class Keep(Callback):
        def on_epoch_end(self, epoch, record, model):
            snapshots[epoch] = {k: v.clone() for k, v in model.state_dict().items()}
            if epoch == 4:
                fake_evaluate.val = False  # the test evaluation is real

    result = train_genome(GENOME, "mnist", TrainConfig(epochs=6, patience=2, batch_size=64, device="cpu"),
                          data=data, callbacks=[Keep()])
    assert result.stopped_early and result.epochs == 4
    assert result.best_epoch == 2 and result.val_accuracy == 0.7
    for key, value in result.model.state_dict().items():
        assert torch.equal(value, snapshots[2][key])


def test_callback_can_stop_training():
    class StopAtTwo(Callback):
        def on_epoch_end(self, epoch, record, model):
            return epoch >= 2

    result = train_genome(GENOME, "mnist", TrainConfig(epochs=5, device="cpu"), data=toy_images(), callbacks=[StopAtTwo()])
    assert result.epochs == 2 and not result.stopped_early


def test_nan_loss_raises_training_error_with_epoch_and_step():
    data = toy_images()
    bad = Split(data.train.x.clone(), data.train.y)
    bad.x[5] = float("nan")
    data = Dataset("toy", bad, data.val, data.test, 3, (1, 4, 4), {})
    with pytest.raises(TrainingError, match=r"epoch 1 at step \d+"):
        train_genome(GENOME, "mnist", TrainConfig(epochs=2, batch_size=64, device="cpu"), data=data)


def test_family_that_does_not_fit_the_task():
    genome = GENOME.replace(family="rnn:gru")
    with pytest.raises(ConfigError, match="rnn:gru"):
        train_genome(genome, "mnist", TrainConfig(device="cpu"), data=toy_images())


def test_unknown_device_is_a_device_error():
    with pytest.raises(DeviceError, match="cuda:7|nonsense"):
        train_genome(GENOME, "mnist", TrainConfig(device="nonsense"), data=toy_images())


@pytest.mark.parametrize("schedule, optimizer", [("cosine", "adam"), ("plateau", "sgd"), ("none", "adamw")])
def test_schedules_and_optimizers_run(schedule, optimizer):
    config = TrainConfig(epochs=3, batch_size=64, schedule=schedule, optimizer=optimizer, plateau_patience=0,
                         grad_clip=1.0, device="cpu")
    result = train_genome(GENOME, "mnist", config, data=toy_images())
    lrs = [h["lr"] for h in result.history]
    if schedule == "cosine":
        assert lrs[-1] < lrs[0] and math.isclose(lrs[-1], 0.0, abs_tol=1e-12)
    assert all(math.isfinite(h["train_loss"]) for h in result.history)


def test_bf16_precision_runs_on_cpu():
    result = train_genome(GENOME, "mnist", TrainConfig(epochs=1, precision="bf16", device="cpu"), data=toy_images())
    assert math.isfinite(result.test_loss)


def test_train_model_accepts_a_prebuilt_model():
    from nas.training.tasks import get_task

    data = toy_images()
    model = build_seeded(GENOME, get_task("mnist"), data, seed=0)
    result = train_model(model, data, "mnist", TrainConfig(epochs=1, device="cpu"))
    assert isinstance(result, TrainResult) and result.genome is None and result.model is model


# --- augmentation ---------------------------------------------------------------------------------


def test_crop_flip_gives_shifted_and_mirrored_windows_of_the_padded_image():
    from nas.training.batches import CROP_PAD, augment_batch, make_augment_generator

    x = torch.randn(32, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    config = TrainConfig(augment="crop_flip", seed=3)
    out = augment_batch(x, "crop_flip", make_augment_generator(config, torch.device("cpu")))
    again = augment_batch(x, "crop_flip", make_augment_generator(config, torch.device("cpu")))
    assert out.shape == x.shape and torch.equal(out, again)  # same seed, same draws
    padded = torch.nn.functional.pad(x, (CROP_PAD,) * 4)
    windows = [(t, l) for t in range(2 * CROP_PAD + 1) for l in range(2 * CROP_PAD + 1)]
    mirrored = 0
    for b in range(len(x)):
        plain = [torch.equal(out[b], padded[b, :, t:t + 6, l:l + 6]) for t, l in windows]
        flipped = [torch.equal(out[b], padded[b, :, t:t + 6, l:l + 6].flip(-1)) for t, l in windows]
        assert any(plain) or any(flipped)
        mirrored += any(flipped) and not any(plain)
    assert 0 < mirrored < len(x)  # both kinds occur
    assert augment_batch(x, "none", None) is x


def test_augmentation_trains_changes_the_result_and_keeps_the_shuffle():
    data = toy_images()
    plain = train_genome(GENOME, "mnist", TrainConfig(epochs=2, batch_size=32, device="cpu"), data=data)
    augmented = train_genome(GENOME, "mnist", TrainConfig(epochs=2, batch_size=32, device="cpu", augment="crop_flip"), data=data)
    again = train_genome(GENOME, "mnist", TrainConfig(epochs=2, batch_size=32, device="cpu", augment="crop_flip"), data=data)
    assert augmented.test_loss != plain.test_loss and augmented.test_loss == again.test_loss
    assert augmented.config["augment"] == "crop_flip"


def test_crop_flip_on_non_image_examples_is_a_config_error():
    images = toy_images()
    flat = Dataset("flat", *(Split(split.x.flatten(1), split.y) for split in (images.train, images.val, images.test)), 3,
                   (16,), {})
    with pytest.raises(ConfigError, match=r"crop_flip.*image examples.*\(16,\)"):
        train_genome(GENOME, "mnist", TrainConfig(epochs=1, device="cpu", augment="crop_flip"), data=flat)
