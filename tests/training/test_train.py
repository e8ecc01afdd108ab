"""train_and_evaluate in-process: names, output dir, schedules, NaN, accuracy on digits."""

import json
import os

import numpy as np
import pytest

from keras_resnet import training
from keras_resnet.training import WarmupSchedule, build_config, train_and_evaluate


@pytest.mark.parametrize("setting,value,listed", [
    ("model", "resnet9000", "resnet20"),
    ("strategy", "warp", "mirrored"),
    ("schedule", "zigzag", "cosine"),
    ("weight_decay_mode", "both", "decoupled"),
    ("mixed_precision", "float8", "bfloat16"),
])
def test_unknown_names_list_the_choices(tmp_path, setting, value, listed):
    config = build_config("digits", output_dir=str(tmp_path), **{setting: value})
    with pytest.raises(ValueError, match=listed):
        train_and_evaluate(config)


def test_unknown_recipe_and_dataset_list_the_choices(tmp_path):
    with pytest.raises(ValueError, match="cifar_cosine"):
        build_config("paper")
    with pytest.raises(ValueError, match="tfrecord:GLOB"):
        train_and_evaluate(build_config("digits", dataset="ftp:x", output_dir=str(tmp_path)))
    with pytest.raises(ValueError, match="Unknown training settings"):
        build_config("digits", epoch=3)


def test_unwritable_output_dir_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="output_dir"):
        train_and_evaluate(build_config("digits", output_dir=str(blocker / "run")))


def test_recipes_hold_the_paper_settings():
    imagenet = training.get_recipe("imagenet")
    assert (imagenet["batch_size"], imagenet["learning_rate"], imagenet["epochs"]) == (256, 0.1, 90)
    assert imagenet["step_epochs"] == (30, 60) and imagenet["weight_decay"] == 1e-4
    cifar = training.get_recipe("cifar")
    assert cifar["step_iterations"] == (32_000, 48_000) and cifar["total_iterations"] == 64_000
    assert cifar["warmup_for_models"]["resnet110"] == 400
    # 64k iterations of 128 over CIFAR's 50k images: about 164 epochs.
    assert training.recipes.iterations_to_epochs(64_000, 50_000 / 128) == 164
    assert training.get_recipe("cifar_cosine")["weight_decay"] == 5e-4


def test_warmup_step_and_cosine_schedules():
    step = WarmupSchedule(0.1, 100, kind="step", boundaries=[50, 75], warmup_steps=10)
    values = [float(step(i)) for i in (0, 9, 10, 49, 50, 75, 99)]
    np.testing.assert_allclose(values, [0.01, 0.1, 0.1, 0.1, 0.01, 0.001, 0.001], rtol=1e-5)
    cosine = WarmupSchedule(0.2, 100, kind="cosine")
    np.testing.assert_allclose([float(cosine(i)) for i in (0, 50, 100)], [0.2, 0.1, 0.0],
                               atol=1e-6)
    constant = WarmupSchedule(0.1, 100, kind="constant", warmup_steps=400,
                              warmup_mode="constant", warmup_factor=0.1)
    np.testing.assert_allclose([float(constant(0)), float(constant(400))], [0.01, 0.1], rtol=1e-6)
    clone = WarmupSchedule.from_config(step.get_config())
    assert float(clone(60)) == pytest.approx(0.01)


@pytest.mark.slow
def test_digits_recipe_reaches_95_percent(tmp_path):
    """The default recipe, shortened from 15 to 6 epochs, still clears 95% test accuracy."""
    config = build_config("digits", epochs=6, output_dir=str(tmp_path), verbose=0)
    result = train_and_evaluate(config)
    assert result["test_accuracy"] >= 0.95, result["test_accuracy"]
    with open(tmp_path / "metrics.json") as f:
        metrics = json.load(f)
    assert [row["epoch"] for row in metrics["epochs"]] == list(range(1, 7))
    assert metrics["test_accuracy"] == pytest.approx(result["test_accuracy"])
    for name in ("metrics.csv", "curves.png", "model.keras", "last.keras", "best.keras"):
        assert os.path.getsize(tmp_path / name) > 0, name
    assert os.listdir(tmp_path / "logs")  # TensorBoard event files
    assert not os.path.exists(tmp_path / "backup")  # removed after a completed run


def test_label_smoothing_decoupled_decay_and_nan_stop(tmp_path):
    quick = dict(model="resnet20", image_size=16, max_steps_per_epoch=2, verbose=0,
                 batch_size=16)
    # Also trains at 16 and validates and tests at 24 (issue 15: --eval_image_size).
    result = train_and_evaluate(build_config(
        "digits", epochs=1, label_smoothing=0.1, weight_decay_mode="decoupled",
        eval_image_size=24, output_dir=str(tmp_path / "ok"), **quick))
    assert 0.0 <= result["test_accuracy"] <= 1.0 and result["epochs"] == 1
    assert result["model"].input_shape == (None, None, None, 3)
    written = json.loads((tmp_path / "ok" / "metrics.json").read_text())
    assert (written["image_size"], written["eval_image_size"]) == (16, 24)
    assert "val_loss" in written["epochs"][0]  # the held-out split ran at 24 during fit
    # A learning rate of 1e12 makes the loss overflow within a few steps.
    with pytest.raises(training.TrainingDiverged, match="NaN"):
        train_and_evaluate(build_config("digits", epochs=3, learning_rate=1e12,
                                        output_dir=str(tmp_path / "nan"), **quick))
    assert not os.path.exists(tmp_path / "nan" / "model.keras")
