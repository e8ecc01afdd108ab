import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.models.preprocessing import normalization

X = np.random.default_rng(0).uniform(0, 255, size=(2, 4, 4, 3)).astype("float32")


def test_torch_mode_matches_torchvision_normalize():
    mean = np.array([0.485, 0.456, 0.406], "float32")
    std = np.array([0.229, 0.224, 0.225], "float32")
    expected = (X / 255.0 - mean) / std
    np.testing.assert_allclose(keras_resnet.preprocess_input(X), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["caffe", "tf"])
def test_modes_match_keras_applications(mode):
    from keras.src.applications.imagenet_utils import preprocess_input as reference
    expected = reference(X.copy(), mode=mode)
    np.testing.assert_allclose(keras_resnet.preprocess_input(X, mode=mode), expected,
                               rtol=1e-5, atol=1e-5)
    tensor = keras.ops.convert_to_numpy(
        keras_resnet.preprocess_input(keras.ops.convert_to_tensor(X), mode=mode))
    np.testing.assert_allclose(tensor, expected, rtol=1e-5, atol=1e-5)


def test_input_not_modified_in_place():
    x = X.copy()
    keras_resnet.preprocess_input(x, mode="caffe")
    np.testing.assert_array_equal(x, X)


def test_unknown_mode():
    with pytest.raises(ValueError, match=r"mode='bgr'.*'torch', 'caffe', 'tf'"):
        normalization("bgr")
