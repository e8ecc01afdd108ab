"""The modern recipes give their published values, their components reach the run, and
the weight EMA is what is saved and what a resumed run continues from."""

import os

import keras
import numpy as np
import pytest
from factories import error_line, run_script, tfrecord_spec

from keras_resnet import training
from keras_resnet.training import callbacks as cb
from keras_resnet.training import ema as ema_lib
from keras_resnet.training import loop, recipes


def test_torchvision_v2_recipe_is_the_published_one():
    c = training.build_config("torchvision_v2")
    assert (c.model, c.epochs, c.learning_rate, c.base_batch_size, c.momentum) == (
        "resnet50", 600, 0.5, 1024, 0.9)
    assert (c.schedule, c.warmup_epochs, c.weight_decay, c.norm_weight_decay) == (
        "cosine", 5, 2e-5, 0.0)
    assert (c.auto_augment, c.random_erase, c.mixup_alpha, c.cutmix_alpha) == (
        "trivialaugment", 0.1, 0.2, 1.0)
    assert (c.label_smoothing, c.ema_decay, c.ema_every, c.ema_adjust) == (0.1, 0.99998, 32, True)
    assert (c.image_size, c.repeated_augmentation) == (176, 4)


@pytest.mark.parametrize("name,epochs,lr,wd,mixup,magnitude,drop_path,size", [
    ("rsb_a1", 600, 5e-3, 0.01, 0.2, 7, 0.05, 224),
    ("rsb_a2", 300, 5e-3, 0.02, 0.1, 7, 0.05, 224),
    ("rsb_a3", 100, 8e-3, 0.02, 0.1, 6, 0.0, 160),
])
def test_rsb_recipes_are_the_published_ones(name, epochs, lr, wd, mixup, magnitude,
                                            drop_path, size):
    c = training.build_config(name)
    assert (c.optimizer, c.loss, c.base_batch_size, c.warmup_epochs) == ("lamb", "bce", 2048, 5)
    assert (c.epochs, c.learning_rate, c.weight_decay, c.mixup_alpha, c.cutmix_alpha) == (
        epochs, lr, wd, mixup, 1.0)
    assert (c.auto_augment, c.randaugment_magnitude, c.randaugment_std) == (
        "randaugment", magnitude, 0.5)
    assert c.model_options.get("drop_path_rate", 0.0) == drop_path and c.image_size == size
    assert recipes.PUBLISHED_TOP1[name] == {"rsb_a1": 80.4, "rsb_a2": 79.8, "rsb_a3": 78.1}[name]


def test_nvidia_and_cifar_modern_recipes():
    c = training.build_config("nvidia_v1.5")
    assert (c.momentum, c.learning_rate, c.base_batch_size, c.weight_decay) == (
        0.875, 0.256, 256, 1 / 32768)
    assert (c.schedule, c.warmup_epochs, c.label_smoothing, c.epochs) == ("cosine", 5, 0.1, 90)
    c = training.build_config("cifar_modern", model="wrn28_10")
    assert (c.optimizer, c.auto_augment, c.epochs, c.model) == (
        "nesterov", "trivialaugment", 200, "wrn28_10")
    for name in ("torchvision_v2", "rsb_a1", "rsb_a2", "rsb_a3", "nvidia_v1.5", "cifar_modern"):
        loop.validate(training.build_config(name))


@pytest.mark.parametrize("setting,value,match", [
    ("optimizer", "adam", r"optimizer='adam'.*'lamb'"),
    ("mixup_alpha", float("nan"), r"mixup_alpha must be a number in \[0.0, inf\).*nan"),
    ("random_erase", 1.5, r"random_erase must be a number in \[0.0, 1.0\]"),
    ("ema_decay", 1.0, r"ema_decay must be a number in \[0.0, 1.0\)"),
    ("ema_every", 0, "ema_every must be an integer >= 1"),
    ("auto_augment", "rand", r"auto_augment='rand'.*'trivialaugment'"),
    ("norm_weight_decay", 0.1, "norm_weight_decay=0.1 is not supported"),
])
def test_bad_component_settings_name_the_setting(setting, value, match):
    with pytest.raises(ValueError, match=match):
        loop.validate(training.build_config("digits", **{setting: value}))


def test_ema_state_is_committed_with_the_backup_and_restored(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    ema = ema_lib.ModelEMA(0.5, every=1)
    ema.set_model(model)
    ema.update([np.ones((3, 2)), np.full(2, 3.0)])
    ema.step = 7
    backup = cb.ResumableBackup(str(tmp_path / "backup"), ema=ema)
    backup.set_model(model)
    backup.commit(0, {"loss": 1.0})
    assert sorted(os.listdir(tmp_path / "backup")) == [
        "epoch00001.ema.npz", "epoch00001.weights.h5", "training_metadata.json"]
    fresh = ema_lib.ModelEMA(0.5, every=1)
    resumed = cb.ResumableBackup(str(tmp_path / "backup"), ema=fresh)
    assert resumed.restore(model) == 1
    assert (fresh.step, fresh.updates) == (7, 1)
    for got, want in zip(fresh.average, ema.average):
        np.testing.assert_array_equal(got, want)


def test_train_script_saves_the_ema_weights_as_the_model(capsys, tmp_path):
    out = tmp_path / "run"
    status, stdout, stderr = run_script(
        capsys, "train", "--epochs=2", "--max_steps_per_epoch=3", "--ema_decay=0.5",
        "--ema_every=2", "--mixup_alpha=0.2", "--cutmix_alpha=1.0",
        "--auto_augment=trivialaugment", "--random_erase=0.1", "--optimizer=nesterov",
        f"--output_dir={out}", "--verbose=0")
    assert status == 0, stderr[-20:]
    assert "test accuracy:" in stdout
    final = keras.saving.load_model(str(out / "model.keras"))
    last = keras.saving.load_model(str(out / "last.keras"))
    moved = [not np.array_equal(a, b) for a, b in zip(final.get_weights(), last.get_weights())]
    assert any(moved)  # model.keras holds the average, last.keras the raw weights


@pytest.mark.parametrize("setting,value,match", [
    ("max_steps_per_epoch", -1, r"max_steps_per_epoch must be an integer >= 1 or unset"),
    ("max_steps_per_epoch", 0, r"max_steps_per_epoch must be an integer >= 1 or unset"),
    ("weight_decay", float("nan"), r"weight_decay must be a number in \[0.0, inf\).*nan"),
    ("learning_rate", float("inf"), r"learning_rate must be a number"),
    ("momentum", 1.5, r"momentum must be a number in \[0.0, 1.0\)"),
    ("epochs", 2.5, r"epochs must be an integer >= 1"),
    ("seed", -3, r"seed must be an integer >= 0"),
])
def test_numeric_settings_are_range_checked_before_anything_runs(setting, value, match):
    # issue 16, item 9: -1 trained forever, 0 meant "no cap", NaN decay trained undecayed.
    with pytest.raises(ValueError, match=match):
        loop.validate(training.build_config("digits", **{setting: value}))
    loop.validate(training.build_config("digits", max_steps_per_epoch=np.int64(3)))


def test_held_out_tfrecord_labels_must_fit_the_training_classes(tmp_path):
    # issue 16, item 12: a validation split with labels the training split lacks.
    import tensorflow as tf

    def shard(name, labels):
        png = tf.io.encode_png(tf.zeros((8, 8, 3), tf.uint8)).numpy()
        tfrecord_spec(tmp_path, [(png, label) for label in labels],
                      name=f"{name}-00000-of-00001")

    shard("train", [0, 1, 2] * 6)
    shard("validation", [0, 4])
    config = training.build_config("digits", dataset=f"tfrecord:{tmp_path}/train-*",
                                   batch_size=4)
    with pytest.raises(ValueError, match=r"span \[0, 4\], out of range \[0, 3\)"):
        loop.create_input_pipeline(config, tf.distribute.get_strategy(), "torch")


def test_train_export_refuses_an_existing_export_before_training(capsys, tmp_path):
    # issue 16, item 5: train.py --export replaced another export (overwrite=True).
    existing = tmp_path / "export"
    existing.mkdir()
    (existing / "manifest.json").write_text("{}")
    status, _, stderr = run_script(capsys, "train", "--export", f"--export_dir={existing}",
                                   f"--output_dir={tmp_path / 'run'}", "--verbose=0")
    assert status == 2, stderr
    line = error_line(stderr)
    assert "already exists" in line and "--overwrite_export" in line
    assert not (tmp_path / "run").exists()  # refused before anything was trained or written
    assert (existing / "manifest.json").read_text() == "{}"
