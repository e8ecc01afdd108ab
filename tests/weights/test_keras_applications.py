"""keras.applications ResNet50 weights load into our v1 model and reproduce its outputs.

The published files (resnet50_weights_tf_dim_ordering_tf_kernels[_notop].h5) are legacy
Keras HDF5: root attribute `layer_names`, one group per layer with attribute
`weight_names` ("conv1_conv/kernel:0", ...). Keras 3 no longer writes that layout for
weights (its `.weights.h5` names groups by class and order, "conv2d_7"), so
`write_legacy_h5` writes it with h5py; the Keras 3 file is tested as well.
"""

import h5py
import keras
import numpy as np
import pytest
from factories import tiny_model

import keras_resnet
from keras_resnet.weights import load_keras_applications_weights

TOL = 1e-4
SIZE = 64


def write_legacy_h5(model, path):
    """The layout of the published keras.applications weight files."""
    layers = [layer for layer in model.layers if layer.weights]
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [layer.name.encode("utf8") for layer in layers]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for layer in layers:
            group = f.create_group(layer.name)
            names = [f"{layer.name}/{v.name}:0" for v in layer.weights]
            group.attrs["weight_names"] = [n.encode("utf8") for n in names]
            for name, value in zip(names, layer.get_weights()):
                group.create_dataset(name, data=value)
    return path


def randomize(model, seed=0):
    """Random conv biases and BN parameters/statistics, so that folding is exercised."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.1, n),
                               rng.normal(0, 0.5, n), rng.uniform(0.5, 1.5, n)])
        elif isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.5, bias.shape)])
        elif isinstance(layer, keras.layers.Dense):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.1, bias.shape)])
    return model


@pytest.fixture(scope="module")
def reference():
    model = keras.applications.ResNet50(weights=None, input_shape=(SIZE, SIZE, 3),
                                        classes=10, classifier_activation=None)
    return randomize(model)


def pixels(n=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, SIZE, SIZE, 3)).astype("float32")


def expected(reference, x, layer="predictions"):
    sub = keras.Model(reference.input, reference.get_layer(layer).output)
    return sub.predict(keras.applications.resnet50.preprocess_input(x.copy()), verbose=0)


def ours(model, x):
    return model.predict(keras_resnet.preprocess_input(x, mode="caffe"), verbose=0)


@pytest.mark.slow
def test_legacy_h5_matches_keras_applications(reference, tmp_path):
    path = write_legacy_h5(reference, tmp_path / "resnet50_weights_tf_dim_ordering_tf_kernels.h5")
    model = keras_resnet.ResNet50V1(weights=str(path), input_shape=(SIZE, SIZE, 3),
                                    classes=10, classifier_activation=None)
    # The named constructor builds with keras.applications' epsilon for such a file.
    assert model.get_layer("conv1_bn").epsilon == pytest.approx(1.001e-5)
    x = pixels()
    want = expected(reference, x)
    np.testing.assert_allclose(ours(model, x), want, atol=TOL, rtol=0)
    assert np.abs(want).max() > 0.1


@pytest.mark.slow
def test_keras3_weights_file_of_keras_applications_matches(reference, tmp_path):
    path = tmp_path / "resnet50.weights.h5"
    reference.save_weights(path)
    model = keras_resnet.ResNet50V1(weights=str(path), input_shape=(SIZE, SIZE, 3),
                                    classes=10, classifier_activation=None)
    x = pixels(seed=1)
    np.testing.assert_allclose(ours(model, x), expected(reference, x), atol=TOL, rtol=0)


@pytest.mark.slow
def test_notop_model_skips_predictions(reference, tmp_path):
    path = write_legacy_h5(reference, tmp_path / "full.h5")
    model = keras_resnet.ResNet50V1(weights=str(path), include_top=False, pooling="avg",
                                    input_shape=(SIZE, SIZE, 3))
    x = pixels(seed=2)
    np.testing.assert_allclose(ours(model, x), expected(reference, x, "avg_pool"),
                               atol=TOL, rtol=0)


def tiny(depths=(1, 1, 1, 1), **kw):
    kw.setdefault("version", "v1")
    kw.setdefault("bn_epsilon", 1.001e-5)
    return tiny_model(classes=5, size=SIZE, depths=depths, block="bottleneck",
                      stem="imagenet", name="resnet", **kw)


def test_deeper_model_names_first_missing_layer(tmp_path):
    path = write_legacy_h5(tiny(), tmp_path / "w.h5")
    with pytest.raises(ValueError, match="no weights for layer 'conv2_block2_1_conv'"):
        load_keras_applications_weights(tiny((2, 1, 1, 1)), path)


def test_deeper_file_names_first_extra_layer(tmp_path):
    path = write_legacy_h5(tiny((1, 2, 1, 1)), tmp_path / "w.h5")
    with pytest.raises(ValueError, match="layer 'conv3_block2_1_conv', which the model lacks"):
        load_keras_applications_weights(tiny(), path)


def test_wrong_classes_names_predictions_and_shapes(tmp_path):
    path = write_legacy_h5(tiny(), tmp_path / "w.h5")
    model = keras_resnet.build_resnet([1, 1, 1, 1], block="bottleneck", version="v1",
                                      bn_epsilon=1.001e-5, classes=3,
                                      input_shape=(SIZE, SIZE, 3))
    with pytest.raises(ValueError, match=r"'predictions'.*expects \(2048, 3\).*has \(2048, 5\)"):
        load_keras_applications_weights(model, path)


def test_v15_model_is_refused(tmp_path):
    path = write_legacy_h5(tiny(), tmp_path / "w.h5")
    with pytest.raises(ValueError, match="version='v1'"):
        load_keras_applications_weights(tiny(version="v1.5"), path)


def test_other_epsilon_warns(tmp_path):
    path = write_legacy_h5(tiny(), tmp_path / "w.h5")
    with pytest.warns(UserWarning, match="epsilon=1.001e-05"):
        load_keras_applications_weights(tiny(bn_epsilon=1e-3), path)


def test_our_own_weights_file_still_uses_keras_loader(tmp_path):
    source = tiny()
    path = tmp_path / "ours.weights.h5"
    source.save_weights(path)
    model = keras_resnet.ResNet([1, 1, 1, 1], weights=str(path), block="bottleneck",
                                version="v1", bn_epsilon=1.001e-5, classes=5,
                                input_shape=(SIZE, SIZE, 3))
    for a, b in zip(source.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
