"""Train/eval resolution split (--image_size, --eval_image_size, --eval_resize_size) and
the warmup start factor of the modern recipes (issue 15)."""

import types

import numpy as np
import pytest
import tensorflow as tf

from keras_resnet import data, training
from keras_resnet.training import evaluate as evaluate_lib
from keras_resnet.training import loop

NORM = data.Normalization.from_mode("torch")


def test_eval_pipeline_crops_eval_size_from_the_resized_image():
    # A 40x60 ramp along the width: the shorter side goes to 30 (45 wide), then the
    # central 24x24 window, for every augment mode.
    ramp = np.tile(np.linspace(0, 255, 60, dtype=np.float32)[None, :, None], (40, 1, 3))
    source = data.Source("ramp", "eval", tf.data.Dataset.from_tensor_slices(
        (ramp[None].astype(np.uint8), [0])), num_examples=1, num_classes=2)
    want = data.augment.center_crop(data.augment.resize_shorter_side(
        tf.constant(ramp.astype(np.uint8), tf.float32), 30), 24)
    for mode in ("imagenet", "shift"):
        images, _ = next(iter(data.make_dataset(
            source, training=False, batch_size=1, image_size=24, resize_size=30,
            augment=mode, normalization=NORM)))
        assert images.shape == (1, 24, 24, 3)
        np.testing.assert_allclose(images[0], NORM(want), atol=1e-4)
    with pytest.raises(ValueError, match=r"resize_size must be an integer >= image_size=24"):
        data.make_dataset(source, training=False, batch_size=1, image_size=24,
                          resize_size=20, augment="imagenet", normalization=NORM)


def test_recipes_train_and_test_at_the_published_sizes():
    c = training.build_config("torchvision_v2")
    assert (c.image_size, c.eval_resize_size, c.eval_image_size) == (176, 232, 224)
    for name, size in (("rsb_a1", 224), ("rsb_a2", 224), ("rsb_a3", 160)):
        c = training.build_config(name)
        # timm: test_input_size 224, crop_pct 0.95, resize floor(224 / 0.95).
        assert (c.image_size, c.eval_resize_size, c.eval_image_size) == (size, 235, 224)
    c = training.build_config("imagenet")  # unset: today's view, at the training size
    assert (c.eval_image_size, c.eval_resize_size, loop.eval_image_size(c)) == (None, None, 224)


@pytest.mark.parametrize("name,factor,peak", [
    ("torchvision_v2", 0.01, 0.5),  # --lr-warmup-decay 0.01
    ("rsb_a1", 0.02, 5e-3),  # timm --warmup-lr 1e-4 at lr 5e-3
    ("rsb_a3", 0.0125, 8e-3),  # at lr 8e-3
    ("nvidia_v1.5", 0.0, 0.256),  # this project's ramp: lr / warmup steps
])
def test_warmup_starts_at_the_sources_fraction_of_the_rate(name, factor, peak):
    config = training.build_config(name)
    assert config.warmup_start_factor == pytest.approx(factor)
    data_stub = types.SimpleNamespace(epochs=config.epochs, steps_per_epoch=100,
                                      global_batch=256, passes=1.0)
    schedule, lr = loop.create_learning_rate_fn(config, data_stub)
    assert lr == pytest.approx(peak * 256 / config.base_batch_size)
    first = float(schedule(0))
    expected = lr * factor if factor else lr / (5 * 100)
    assert first == pytest.approx(expected, rel=1e-5)
    assert float(schedule(5 * 100)) == pytest.approx(lr, rel=1e-5)  # warmup reaches the peak
    clone = training.WarmupSchedule.from_config(schedule.get_config())
    assert float(clone(0)) == pytest.approx(first)


@pytest.mark.parametrize("overrides,match", [
    ({"eval_image_size": 0}, r"eval_image_size must be an integer >= 1 or unset.*=0\."),
    ({"eval_resize_size": 2.5}, r"eval_resize_size must be an integer >= 1 or unset.*2\.5"),
    ({"eval_resize_size": 16}, r"eval_resize_size must be >= the eval crop 32 "
                               r"\(eval_image_size=None, image_size=32\).*=16\."),
    ({"eval_image_size": 40, "eval_resize_size": 36},
     r"eval_resize_size must be >= the eval crop 40.*=36\."),
    ({"warmup_start_factor": 1.0}, r"warmup_start_factor must be a number in \[0.0, 1.0\)"),
])
def test_bad_eval_sizes_and_warmup_start_are_refused(overrides, match):
    with pytest.raises(ValueError, match=match):
        loop.validate(training.build_config("digits", **overrides))


def test_split_sizes_build_a_model_taking_both_and_export_a_fixed_copy(monkeypatch):
    config = training.build_config("digits", model="resnet20", image_size=16,
                                   eval_image_size=24, batch_size=32)
    pipelines = loop.create_input_pipeline(config, tf.distribute.get_strategy(), "torch")
    assert next(iter(pipelines.train_data))[0].shape[1:] == (16, 16, 3)
    eval_images = next(iter(pipelines.eval_data))[0][:4]
    assert eval_images.shape[1:] == (24, 24, 3)
    model = loop._build_model(config, 10)
    assert model.input_shape == (None, None, None, 3)
    # The export's copy: a fixed eval-size input, the same weights and outputs.
    fixed = evaluate_lib.with_input_size(model, 24)
    assert fixed.input_shape == (None, 24, 24, 3)
    np.testing.assert_allclose(fixed(eval_images, training=False),
                               model(eval_images, training=False), atol=1e-5)
    # --export hands the exporters that copy and calibration/parity images at 24.
    import keras_resnet.export

    seen = {}
    monkeypatch.setattr(keras_resnet.export, "export_model",
                        lambda model, **kwargs: seen.update(model=model, **kwargs))
    loop.export(model, config, pipelines.train_source, pipelines.eval_source,
                pipelines.normalization)
    assert seen["model"].input_shape == (None, 24, 24, 3)
    assert seen["representative_data"].shape[1:] == seen["parity_data"].shape[1:] == (
        24, 24, 3)
    # Built at the smaller side first, so the builder still checks it against the
    # network's stride (32 for ResNet-50).
    with pytest.raises(ValueError, match=r"Input height 16 is smaller than the network's "
                                         r"total stride 32"):
        loop._build_model(training.build_config("imagenet", eval_image_size=16), 10)
