"""Center-crop, 10-crop and multi-scale evaluation at tiny sizes."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from factories import run_script

import keras_resnet
from keras_resnet import data
from keras_resnet.training.evaluate import evaluate_model, fully_convolutional, ten_crops


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
def test_evaluate_script(capsys, tmp_path):
    model = keras_resnet.create_model("resnet20", input_shape=(16, 16, 3), classes=10)
    path = str(tmp_path / "m.keras")
    model.save(path)
    status, stdout, stderr = run_script(capsys, "evaluate", f"--model_path={path}",
                                        "--image_size=16", "--scales=16,20",
                                        "--max_examples=4")
    assert status == 0, stderr[-20:]
    for mode in ("center", "ten_crop", "multi_scale"):
        assert f"{mode}: top-1 " in stdout and "(4 images)" in stdout


def test_resize_side_sets_the_shorter_side_before_the_crop():
    # A 40x80 image, white in columns 35..45 only. With the shorter side resized to 32,
    # a quarter of the centre 32x32 crop is white; resized to 128, all of it.
    image = np.zeros((40, 80, 3), np.uint8)
    image[:, 35:45] = 255
    source = data.Source(name="toy", split="eval", num_examples=1, num_classes=2,
                         dataset=tf.data.Dataset.from_tensor_slices((image[None], [1])))
    # Class 1 wins when the crop's mean normalized pixel is above 0 (more than half white).
    inputs = keras.Input((32, 32, 3))
    dense = keras.layers.Dense(2, activation="softmax")
    model = keras.Model(inputs, dense(keras.layers.GlobalAveragePooling2D()(inputs)))
    dense.set_weights([np.tile([[-1.0, 1.0]], (3, 1)), np.zeros(2)])
    norm = data.Normalization.from_mode("tf")
    narrow = evaluate_model(model, source, normalization=norm, image_size=32, resize_side=32)
    wide = evaluate_model(model, source, normalization=norm, image_size=32, resize_side=128)
    assert (narrow["top1"], wide["top1"]) == (0.0, 1.0)
    with pytest.raises(ValueError, match="resize_side must be an integer >= image_size=32"):
        evaluate_model(model, source, normalization=norm, image_size=32, resize_side=16)
