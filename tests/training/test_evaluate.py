"""Center-crop, 10-crop and multi-scale evaluation at tiny sizes."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import keras_resnet
from keras_resnet import data
from keras_resnet.training.evaluate import evaluate_model, fully_convolutional, ten_crops

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_ten_crops_are_corners_center_and_mirrors():
    image = tf.reshape(tf.range(6 * 6 * 1, dtype=tf.float32), (6, 6, 1))
    crops = ten_crops(image, 4).numpy()
    assert crops.shape == (10, 4, 4, 1)
    assert crops[0, 0, 0, 0] == 0 and crops[3, -1, -1, 0] == 35 and crops[4, 0, 0, 0] == 7
    np.testing.assert_array_equal(crops[5], crops[0][:, ::-1])


def test_fully_convolutional_copy_keeps_outputs():
    model = keras_resnet.create_model("resnet20", input_shape=(16, 16, 3), classes=10)
    clone = fully_convolutional(model)
    x = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(clone(x), model(x), atol=1e-5)
    assert clone(np.zeros((1, 24, 20, 3), "float32")).shape == (1, 10)


@pytest.mark.parametrize("mode", ["center", "ten_crop", "multi_scale"])
def test_modes_score_a_tiny_model(mode):
    model = keras_resnet.create_model("resnet20", input_shape=(16, 16, 3), classes=10)
    source = data.load_source("digits", "eval")
    result = evaluate_model(model, source, normalization=data.Normalization.from_mode("torch"),
                            mode=mode, image_size=16, scales=(16, 24), max_examples=6)
    assert result["examples"] == 6
    assert 0.0 <= result["top1"] <= result["top5"] <= 1.0
    with pytest.raises(ValueError, match="ten_crop"):
        evaluate_model(model, source, normalization=None, mode="twelve_crop")


@pytest.mark.slow
def test_evaluate_script(tmp_path):
    model = keras_resnet.create_model("resnet20", input_shape=(16, 16, 3), classes=10)
    path = str(tmp_path / "m.keras")
    model.save(path)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "scripts/evaluate.py", f"--model_path={path}",
                          "--image_size=16", "--scales=16,20", "--max_examples=4"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    for mode in ("center", "ten_crop", "multi_scale"):
        assert f"{mode}: top-1 " in out.stdout and "(4 images)" in out.stdout
