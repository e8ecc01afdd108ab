"""fold_batch_norm: an inference copy with BN folded into the convolutions before it."""

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.models.fold import FoldedBatchNorm, fold_batch_norm, foldable_pairs


def _random_statistics(model, seed=0):
    rng = np.random.RandomState(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                               rng.normal(0, 0.3, mean.shape), rng.uniform(0.5, 2.0, var.shape)])
    return model


X = np.random.RandomState(1).normal(size=(2, 32, 32, 3)).astype("float32")


@pytest.mark.parametrize("name,folded", [
    ("resnet18", 20), ("resnet20", 19), ("resnext50_32x4d", 53), ("se_resnet50", 53),
    ("resnet50_v1", 53), ("resnet50v2", 33),  # v2: the pre-activation BNs follow an add
])
def test_folded_copy_gives_the_same_outputs(name, folded):
    model = _random_statistics(keras_resnet.create_model(
        name, input_shape=(32, 32, 3), classes=7, classifier_activation=None))
    before = [w.copy() for w in model.get_weights()]
    fast = fold_batch_norm(model)
    assert len(foldable_pairs(model)) == folded
    want = np.asarray(model(X, training=False))
    # Equal to 1e-5 of the logits' scale: the folded kernels round differently in float32.
    np.testing.assert_allclose(fast(X, training=False), want, rtol=1e-5,
                               atol=1e-5 * np.abs(want).max())
    assert [layer.name for layer in fast.layers] == [layer.name for layer in model.layers]
    assert sum(isinstance(layer, FoldedBatchNorm) for layer in fast.layers) == folded
    assert fast.get_layer("conv1_conv").use_bias
    for old, new in zip(before, model.get_weights()):  # the original is untouched
        np.testing.assert_array_equal(old, new)


def test_folded_copy_keeps_the_input_name_and_saves(tmp_path):
    model = _random_statistics(keras_resnet.ResNet18(input_shape=(32, 32, 3), classes=3))
    fast = fold_batch_norm(model)
    assert fast.layers[0].name == model.layers[0].name
    path = str(tmp_path / "folded.keras")
    fast.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded(X), model(X), rtol=1e-5, atol=1e-6)


def test_fold_refuses_what_is_not_a_model():
    with pytest.raises(ValueError, match="functional keras.Model"):
        fold_batch_norm("resnet50")
