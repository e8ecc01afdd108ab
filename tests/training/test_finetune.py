"""Fine-tuning: --weights, --freeze and --linear_probe_epochs of scripts/train.py and
train_and_evaluate, their errors, and the transfer-learning result on digits."""

import os

import keras
import numpy as np
import pytest
from factories import error_line, run_script

import keras_resnet
from keras_resnet.training import ConfigError, build_config, train_and_evaluate, transfer_demo
from keras_resnet.weights.torchvision import load_torchvision_weights, read_state_dict


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A ResNet-18 .pth (1000 classes, BN statistics away from 0/1 so that any update
    shows) and a folder of digits 5-9 with 8 training images per class."""
    root = tmp_path_factory.mktemp("transfer")
    model = keras_resnet.create_model("resnet18", input_shape=(32, 32, 3), classes=1000)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape))
    pth = transfer_demo.save_torchvision_state_dict(model, str(root / "resnet18.pth"))
    folder = str(root / "digits59")
    transfer_demo.write_digit_folder(folder, transfer_demo.FINETUNE_CLASSES, per_class=8)
    return pth, folder


def test_state_dict_round_trips_through_the_torchvision_loader():
    model = keras_resnet.create_model("resnet18", input_shape=(32, 32, 3), classes=7)
    state = transfer_demo.torchvision_state_dict(model)
    assert state["layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1)
    assert state["fc.weight"].shape == (7, 512)
    other = keras_resnet.create_model("resnet18", input_shape=(32, 32, 3), classes=7)
    load_torchvision_weights(other, state)
    for a, b in zip(model.weights, other.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _backbone_equal(model_path, pth):
    """(every backbone kernel and BN statistic equals the file's, the head's units)."""
    model = keras.saving.load_model(model_path)
    state = read_state_dict(pth)
    ours = transfer_demo.torchvision_state_dict(model)
    backbone = [k for k in ours if not k.startswith("fc.") and "num_batches" not in k]
    assert len(backbone) == 100  # 20 convs + 20 BN x 4
    equal = all(np.array_equal(ours[k], state[k]) for k in backbone)
    return equal, model.get_layer("predictions").units


@pytest.mark.slow
@pytest.mark.parametrize("freeze,frozen", [("backbone", True), ("none", False)])
def test_freeze_backbone_keeps_the_checkpoint_exactly(capsys, tmp_path, pretrained, freeze,
                                                      frozen):
    pth, folder = pretrained
    out = str(tmp_path / "run")
    status, stdout, stderr = run_script(
        capsys, "train", f"--dataset=folder:{folder}", "--model=resnet18", f"--weights={pth}",
        f"--freeze={freeze}", "--epochs=1", "--batch_size=8", "--max_steps_per_epoch=3",
        "--image_size=32", "--augment=shift", "--learning_rate=0.1", "--verbose=2",
        f"--output_dir={out}")
    assert status == 0, stdout[-2000:] + "\n".join(stderr[-20:])
    assert stdout.strip().splitlines()[-1].startswith("test accuracy: ")
    equal, units = _backbone_equal(os.path.join(out, "model.keras"), pth)
    assert units == 5  # a new head for the folder's 5 classes, not the file's 1000
    assert equal is frozen


@pytest.mark.slow
def test_bad_weights_and_freeze_are_one_line_errors_with_status_2(capsys, tmp_path,
                                                                   pretrained):
    pth, folder = pretrained
    common = [f"--dataset=folder:{folder}", "--epochs=1", "--batch_size=8",
              f"--output_dir={tmp_path}/run"]
    status, _, stderr = run_script(capsys, "train", "--model=resnet34", f"--weights={pth}",
                                   *common)
    assert status == 2, stderr
    line = error_line(stderr)
    assert f"weights={pth!r}" in line and "model='resnet34'" in line
    assert "layer2.0.conv1" in line or "layer1.2" in line, line  # the first mismatch
    status, _, stderr = run_script(capsys, "train", "--model=resnet18", "--freeze=backbone",
                                   *common)
    assert status == 2
    assert "freeze='backbone' needs pretrained weights" in error_line(stderr)


@pytest.mark.parametrize("settings,message", [
    (dict(freeze="bn"), "freeze='bn' needs pretrained weights"),
    (dict(linear_probe_epochs=2), "linear_probe_epochs=2 needs pretrained weights"),
    (dict(weights="torchvision_v9"), "weights='torchvision_v9': unknown tag for model="),
    (dict(weights="/no/such.pth"), "weights='/no/such.pth': no such file"),
    (dict(weights="imagenet", linear_probe_epochs=3, epochs=3), r"\[0, epochs\) = \[0, 3\)"),
    (dict(freeze="all", weights="imagenet"), "Allowed values: \\['none', 'backbone', 'bn'\\]"),
])
def test_fine_tuning_settings_are_checked_before_anything_runs(tmp_path, settings, message):
    config = build_config("digits", output_dir=str(tmp_path / "run"), **settings)
    with pytest.raises(ConfigError, match=message):
        train_and_evaluate(config)
    assert not (tmp_path / "run").exists()


def test_the_finetune_recipe():
    recipe = keras_resnet.training.get_recipe("finetune")
    assert recipe["weights"] == "imagenet" and recipe["image_size"] == 224
    assert recipe["schedule"] == "cosine" and recipe["label_smoothing"] == 0.1
    assert recipe["weight_decay_mode"] == "decoupled"


@pytest.mark.slow
def test_pretrained_backbone_beats_training_from_scratch_on_digits(tmp_path):
    """The docs' transfer-learning setting, shortened: ResNet-18 pretrained on digits 0-4
    (3 epochs instead of 8), then digits 5-9 with 5 training images per class, 6 epochs
    of the same recipe on the same images: the pretrained backbone, frozen (a linear
    head on its features, BatchNormalization in inference mode), against the whole
    network trained from scratch.

    Why frozen: fully fine-tuned for 6 epochs at batch 5, the score swung with the seed
    and with the order of float32 sums (0.22, 0.23 and 0.34 over seeds 0-2 on a 2-core
    AVX2 EPYC, 2026-12-07; 0.32-0.51 earlier), because its BatchNormalization statistics
    are re-estimated from batches of 5. The frozen backbone scored 0.43 and 0.41 (seeds
    0 and 1) and training from scratch 0.19-0.20 (chance is 0.2): the margin that this
    test asserts is what the pretrained weights carry, not noise. docs/finetuning.md has
    the full fine-tuning comparison at 15 epochs."""
    demo = transfer_demo.make_demo(str(tmp_path), per_class=5, pretrain_epochs=3)
    # Pretraining learned its 5 classes (chance is 0.2): 0.77-0.97 over hosts and
    # versions of the code, on 2-core AMD EPYCs with AVX2 and with AVX-512.
    assert demo["pretrain_accuracy"] > 0.6
    accuracy = {}
    for name, weights, freeze in (("pretrained", demo["pth"], "backbone"),
                                  ("scratch", "none", "none")):
        config = build_config(**{**transfer_demo.finetune_settings(
            demo["finetune_dir"], weights, epochs=6, output_dir=str(tmp_path / name)),
            "freeze": freeze})
        accuracy[name] = train_and_evaluate(config)["test_accuracy"]
    print(accuracy)
    assert accuracy["scratch"] < 0.3, accuracy
    assert accuracy["pretrained"] > accuracy["scratch"] + 0.1, accuracy
