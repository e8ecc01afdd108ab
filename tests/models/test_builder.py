"""Builder behaviour: shapes, shortcuts, stride placement, zero-init, serialization."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.models import ZeroPadShortcut

RNG = np.random.default_rng(0)


def images(n=2, size=32, channels=3):
    return RNG.uniform(size=(n, size, size, channels)).astype("float32")


def layer_types(model):
    return {type(layer).__name__ for layer in model.layers}


# --- heads and shapes ------------------------------------------------------------


@pytest.mark.parametrize("include_top,pooling,expected", [
    (True, None, (2, 7)),
    (False, None, (2, 1, 1, 512)),
    (False, "avg", (2, 512)),
    (False, "max", (2, 512)),
])
def test_heads(include_top, pooling, expected):
    model = keras_resnet.ResNet18(include_top=include_top, pooling=pooling, classes=7,
                                  input_shape=(32, 32, 3))
    assert model(images()).shape == expected
    names = {layer.name for layer in model.layers}
    assert ("predictions" in names) == include_top
    assert ("max_pool" in names) == (pooling == "max" and not include_top)


def test_default_input_shapes_follow_keras_applications():
    assert keras_resnet.ResNet18().input_shape == (None, 224, 224, 3)
    assert keras_resnet.ResNet18(include_top=False).input_shape == (None, None, None, 3)
    assert keras_resnet.ResNet20().input_shape == (None, 32, 32, 3)


@pytest.mark.parametrize("size,expected", [(32, 1), (64, 2), (100, 4), (224, 7)])
def test_other_input_sizes(size, expected):
    model = keras_resnet.ResNet18(include_top=False, input_shape=(None, None, 3))
    assert model(images(1, size)).shape == (1, expected, expected, 512)


def test_one_channel_input():
    model = keras_resnet.ResNet20(input_shape=(32, 32, 1))
    assert model(images(2, 32, 1)).shape == (2, 10)
    assert model.get_layer("conv1_conv").kernel.shape == (3, 3, 1, 16)


def test_input_tensor_is_used():
    inp = keras.Input((48, 48, 3))
    model = keras_resnet.ResNet18(include_top=False, input_tensor=inp)
    assert model.inputs[0] is inp
    assert model.output_shape == (None, 2, 2, 512)


def test_keras_applications_layer_names():
    model = keras_resnet.ResNet50(input_shape=(64, 64, 3))
    for name in ["conv1_pad", "conv1_conv", "conv1_bn", "conv1_relu", "pool1_pad",
                 "pool1_pool", "conv2_block1_0_conv", "conv2_block1_1_conv",
                 "conv2_block3_out", "conv4_block6_out", "conv5_block3_out", "avg_pool",
                 "predictions"]:
        model.get_layer(name)


@pytest.mark.parametrize("output_stride,expected", [(32, 2), (16, 4), (8, 8)])
def test_dilation_output_stride(output_stride, expected):
    model = keras_resnet.ResNet50(include_top=False, input_shape=(64, 64, 3),
                                  output_stride=output_stride)
    assert model(images(1, 64)).shape == (1, expected, expected, 2048)
    if output_stride == 8:
        assert model.get_layer("conv4_block2_2_conv").dilation_rate == (2, 2)
        assert model.get_layer("conv5_block2_2_conv").dilation_rate == (4, 4)
        # torchvision: a dilated stage's first block keeps the previous dilation.
        assert model.get_layer("conv5_block1_2_conv").dilation_rate == (2, 2)


def test_replace_stride_with_dilation_like_torchvision():
    model = keras_resnet.ResNet18(include_top=False, input_shape=(64, 64, 3),
                                  replace_stride_with_dilation=[False, False, True])
    assert model(images(1, 64)).shape == (1, 4, 4, 512)


def test_feature_pyramid_shapes():
    backbone = keras_resnet.ResNet50(include_top=False, input_shape=(64, 64, 3))
    feats = keras_resnet.feature_pyramid(backbone)(images(1, 64))
    assert {k: tuple(v.shape) for k, v in feats.items()} == {
        "C2": (1, 16, 16, 256), "C3": (1, 8, 8, 512), "C4": (1, 4, 4, 1024),
        "C5": (1, 2, 2, 2048)}


def test_feature_pyramid_v2_ends_at_post_relu():
    from keras_resnet.models import stage_output_names
    model = keras_resnet.ResNet50V2(include_top=False, input_shape=(64, 64, 3))
    assert stage_output_names(model)["C5"] == "post_relu"


@pytest.mark.parametrize("size", [(64, 64), (50, 70)])
def test_segmentation_output_equals_input_size(size):
    model = keras_resnet.ResNetFCN("resnet18", classes=5, output_stride=8)
    x = RNG.uniform(size=(1, *size, 3)).astype("float32")
    assert model(x).shape == (1, *size, 5)


# --- shortcuts, blocks, stride placement --------------------------------------------


def test_option_a_shortcuts_have_no_parameters():
    model = keras_resnet.ResNet20()
    pads = [layer for layer in model.layers if isinstance(layer, ZeroPadShortcut)]
    assert len(pads) == 2  # one per stage transition
    assert all(layer.count_params() == 0 for layer in pads)
    assert not any(layer.name.endswith("_0_conv") for layer in model.layers)


def test_option_a_pads_channels_and_subsamples():
    layer = ZeroPadShortcut(8, 2)
    x = np.arange(2 * 4 * 4 * 4, dtype="float32").reshape(2, 4, 4, 4)
    y = keras.ops.convert_to_numpy(layer(x))
    assert y.shape == (2, 2, 2, 8)
    np.testing.assert_array_equal(y[..., 2:6], x[:, ::2, ::2, :])
    assert not y[..., :2].any() and not y[..., 6:].any()


def test_option_c_projects_every_block():
    model = keras_resnet.ResNet20(shortcut="C")
    projections = [layer for layer in model.layers if layer.name.endswith("_0_conv")]
    assert len(projections) == 9


def test_plain_networks_have_no_add_layers():
    for model in (keras_resnet.Plain20(), keras_resnet.create_model("resnet20", shortcut="none")):
        assert "Add" not in layer_types(model)
    assert "Add" in layer_types(keras_resnet.ResNet20())


def test_plain_twin_has_same_parameters_as_option_a_resnet():
    def count(model):
        return sum(int(np.prod(w.shape)) for w in model.trainable_weights)

    assert count(keras_resnet.Plain56()) == count(keras_resnet.ResNet56())


@pytest.mark.parametrize("version,stride_1x1,stride_3x3", [("v1", 2, 1), ("v1.5", 1, 2),
                                                            ("v2", 1, 2)])
def test_stride_placement(version, stride_1x1, stride_3x3):
    model = keras_resnet.ResNet50(version=version, input_shape=(64, 64, 3), classes=3)
    assert model.get_layer("conv3_block1_1_conv").strides == (stride_1x1,) * 2
    assert model.get_layer("conv3_block1_2_conv").strides == (stride_3x3,) * 2


def test_preactivation_structure():
    model = keras_resnet.ResNet50V2(input_shape=(64, 64, 3), classes=3)
    names = {layer.name for layer in model.layers}
    assert {"conv2_block1_preact_bn", "post_bn", "post_relu"} <= names
    assert "conv2_block1_3_bn" not in names  # the branch ends with a bare conv


def test_resnext_groups_and_widths():
    model = keras_resnet.ResNeXt50_32x4d(input_shape=(32, 32, 3), classes=3)
    conv = model.get_layer("conv2_block1_2_conv")
    assert conv.groups == 32 and conv.filters == 128


def test_se_blocks_present():
    model = keras_resnet.SEResNet50(input_shape=(32, 32, 3), classes=3)
    assert model.get_layer("conv2_block1_se_reduce").filters == 16  # 256 / 16


def test_zero_init_makes_identity_blocks_identity():
    model = keras_resnet.ResNet18(input_shape=(32, 32, 3), classes=3, zero_init_residual=True)
    block_in = model.get_layer("conv2_block1_1_conv").input  # identity block (64 -> 64)
    block = keras.Model(block_in, model.get_layer("conv2_block1_out").output)
    x = RNG.normal(size=(2, 8, 8, 64)).astype("float32")
    for training in (False, True):
        y = keras.ops.convert_to_numpy(block(x, training=training))
        np.testing.assert_allclose(y, np.maximum(x, 0), atol=1e-6)
    assert not model.get_layer("conv2_block1_2_bn").gamma.numpy().any()


def test_zero_init_v2_zeroes_last_conv():
    model = keras_resnet.ResNet50V2(input_shape=(32, 32, 3), classes=3, zero_init_residual=True)
    assert not model.get_layer("conv2_block1_3_conv").kernel.numpy().any()


def test_bn_defaults_are_pytorch_equivalents():
    bn = keras_resnet.ResNet18(input_shape=(32, 32, 3)).get_layer("conv1_bn")
    assert bn.momentum == 0.9 and bn.epsilon == 1e-5 and not bn.synchronized
    bn = keras_resnet.ResNet18(input_shape=(32, 32, 3), bn_momentum=0.99, bn_epsilon=1e-3,
                               sync_bn=True).get_layer("conv1_bn")
    assert bn.momentum == 0.99 and bn.epsilon == 1e-3 and bn.synchronized


def test_he_normal_fan_out_init_scale():
    conv = keras_resnet.ResNet50(input_shape=(32, 32, 3)).get_layer("conv4_block1_2_conv")
    kernel = conv.kernel.numpy()
    fan_out = kernel.shape[0] * kernel.shape[1] * kernel.shape[3]
    assert kernel.std() == pytest.approx(np.sqrt(2.0 / fan_out), rel=0.02)


def test_kernel_regularizer_on_conv_and_dense_only():
    model = keras_resnet.ResNet20(kernel_regularizer=keras.regularizers.L2(5e-5))
    n_kernels = sum(isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
                    for layer in model.layers)
    assert len(model.losses) == n_kernels


def test_stochastic_depth_drops_whole_samples_only_in_training():
    model = keras_resnet.ResNet20(drop_path_rate=0.5)
    rates = [layer.rate for layer in model.layers if type(layer).__name__ == "StochasticDepth"]
    # Linear in block index from 0 (the first block, which gets no layer) to 0.5.
    assert rates == pytest.approx([0.5 * i / 8 for i in range(1, 9)])
    x = images(4)
    np.testing.assert_allclose(model(x, training=False), model(x, training=False))
    layer = model.get_layer("conv4_block3_drop_path")
    ones = np.ones((64, 2, 2, 1), "float32")
    out = keras.ops.convert_to_numpy(layer(ones, training=True))
    assert set(np.unique(out)) <= {0.0, 2.0} and 0 < out.mean() < 2


def test_mixed_precision_keeps_logits_float32():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = keras_resnet.ResNet20()
    finally:
        keras.config.set_dtype_policy("float32")
    assert model.get_layer("conv1_conv").compute_dtype == "float16"
    assert model(images()).dtype == "float32"


# --- serialization -------------------------------------------------------------------


@pytest.mark.parametrize("name,kwargs", [
    ("resnet20", {}),
    ("resnet50v2", dict(input_shape=(32, 32, 3), classes=4, drop_path_rate=0.1)),
    ("se_resnet50", dict(input_shape=(32, 32, 3), classes=4, output_stride=16,
                         include_top=False, pooling="avg")),
])
def test_keras_file_round_trip_safe_mode(tmp_path, name, kwargs):
    model = keras_resnet.create_model(name, **kwargs)
    x = images()
    # Non-trivial BN statistics, so that loading them is actually checked.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(RNG.normal(size=layer.moving_mean.shape) * 0.1)
            layer.moving_variance.assign(RNG.uniform(0.5, 1.5, size=layer.moving_variance.shape))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(model(x), loaded(x))
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(model(x), clone(x))
    assert clone.get_config() == model.get_config()


def test_fcn_round_trip(tmp_path):
    model = keras_resnet.ResNetFCN("resnet18", classes=3, output_stride=16)
    path = tmp_path / "fcn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = images(1, 48)
    np.testing.assert_array_equal(model(x), loaded(x))


def test_builds_under_torch_backend():
    pytest.importorskip("torch")
    code = textwrap.dedent("""
        import keras, numpy as np, keras_resnet
        assert keras.backend.backend() == "torch", keras.backend.backend()
        m = keras_resnet.ResNet20()
        y = keras.ops.convert_to_numpy(m(np.zeros((2, 32, 32, 3), "float32")))
        assert y.shape == (2, 10)
        # Training mode: FusedBatchNormalization falls back to Keras' own code.
        m(np.ones((2, 32, 32, 3), "float32"), training=True)
        bn = m.get_layer("conv1_bn")
        assert type(bn).__name__ == "FusedBatchNormalization"
        assert float(keras.ops.max(keras.ops.abs(bn.moving_mean))) > 0
        n = sum(int(np.prod(w.shape)) for w in m.trainable_weights)
        assert n == 269722, n
        f = keras_resnet.ResNetFCN("resnet18", classes=3, input_shape=(40, 40, 3))
        assert tuple(f(np.zeros((1, 40, 40, 3), "float32")).shape) == (1, 40, 40, 3)
        print("ok")
    """)
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")
