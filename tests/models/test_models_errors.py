"""Bad builder arguments raise ValueError naming the argument, value and what is allowed:
the one home of the models package's error tests (the other packages' are in
tests/<package>/test_<package>_errors.py)."""

import numpy as np
import pytest

import keras_resnet
from keras_resnet.models import build_resnet

DEPTHS = [1, 1, 1]
CIFAR = dict(stem="cifar", block="basic", input_shape=(32, 32, 3), classes=10)


@pytest.mark.parametrize("kwargs,match", [
    (dict(block="triple"), r"block='triple'.*\['basic', 'bottleneck'\]"),
    (dict(version="v3"), r"version='v3'.*'v1', 'v1.5', 'v2'"),
    (dict(stem="mnist"), r"stem='mnist'.*'imagenet', 'cifar'"),
    (dict(shortcut="D"), r"shortcut='D'.*'A', 'B', 'C', 'none'"),
    (dict(pooling="mean", include_top=False), r"pooling='mean'.*None, 'avg', 'max'"),
    (dict(stage_widths=[16, 32]), r"stage_widths.*same length.*\[16, 32\].*\[1, 1, 1\]"),
    (dict(classes=0), r"classes.*integer in \[1, .*classes=0"),
    (dict(classes=2.5), r"classes.*classes=2.5"),
    (dict(input_shape=(3, 32, 3)), r"height 3 is smaller than the network's total stride 4"),
    (dict(input_shape=(32, 32)), r"input_shape.*\(height, width, channels\)"),
    (dict(replace_stride_with_dilation=[True]), r"replace_stride_with_dilation.*2 booleans"),
    (dict(output_stride=3), r"output_stride=3.*Allowed values: \[4, 2, 1\]"),
    (dict(se_ratio=1.5), r"se_ratio.*\[0, 1\).*1.5"),
    (dict(drop_path_rate=0.1, shortcut="none"), r"drop_path_rate.*shortcut='none'"),
    (dict(groups=4), r"groups=1 and width_per_group=64.*groups=4"),
    (dict(classifier_activation="sofmax"), r"classifier_activation='sofmax'"),
    (dict(bn_epsilon=0), r"bn_epsilon.*> 0"),
    (dict(bn_epsilon=float("nan")), r"bn_epsilon.*finite.*nan"),
    (dict(bn_momentum=float("nan")), r"bn_momentum.*\[0, 1\]"),
    (dict(dropout_rate=float("nan")), r"dropout_rate.*\[0, 1\).*nan"),
    (dict(classes=10**9), r"classes.*\[1, 1,000,000\].*classes=1000000000"),
    (dict(stage_widths=[16, 32, 10**7]), r"stage_widths.*\[1, 65,536\]"),
    (dict(input_shape=(32, 10**6, 3)), r"input_shape.*\[1, 16,384\]"),
    (dict(input_shape=(32.5, 32, 3)), r"input_shape.*None or integers"),
    (dict(classes=np.float64("nan")), r"classes.*classes=.*nan"),
    (dict(classes="ten"), r"classes.*integer.*classes='ten'"),
    (dict(fused_bn="yes"), r"fused_bn.*True or False.*fused_bn='yes'"),
    (dict(block="bottleneck", stage_widths=[4, 4, 4], width_per_group=4),
     r"width_per_group=4 have no channels"),
    (dict(stage_widths=[8, 8, 8], shortcut="A"), r"cannot reduce channels: input has 16"),
])
def test_bad_builder_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_resnet(DEPTHS, **{**CIFAR, **kwargs})


@pytest.mark.parametrize("depths", [[], "3,4", [3, 0], [3, -1], [2.5], [3, 10**6],
                                    np.array([], int)])
def test_bad_stage_depths(depths):
    with pytest.raises(ValueError, match="stage_depths"):
        build_resnet(depths, **CIFAR)


def test_imagenet_input_smaller_than_total_stride():
    with pytest.raises(ValueError, match=r"16 is smaller than the network's total stride 32"):
        keras_resnet.ResNet50(input_shape=(16, 64, 3))


def test_unknown_model_name_lists_choices():
    with pytest.raises(ValueError, match=r"Unknown model name 'resnet51'.*'resnet50'"):
        keras_resnet.create_model("resnet51")


def test_weights_argument_checks_like_keras_applications(tmp_path):
    with pytest.raises(ValueError, match=r"weights.*Received: weights='no/such/file.h5'"):
        keras_resnet.ResNet18(weights="no/such/file.h5")
    with pytest.raises(ValueError, match=r"classes.*1000.*Received: classes=10"):
        keras_resnet.ResNet18(weights="imagenet", classes=10)


def test_both_dilation_arguments_rejected():
    with pytest.raises(ValueError,
                       match="either `replace_stride_with_dilation` or `output_stride`"):
        keras_resnet.ResNet50(output_stride=16, replace_stride_with_dilation=[False, False, True])


def test_fcn_bad_classes():
    with pytest.raises(ValueError, match=r"classes.*Received: classes=0"):
        keras_resnet.ResNetFCN("resnet18", classes=0)


def test_numpy_numbers_are_accepted_where_python_ones_are():
    model = build_resnet(np.array([1, 1, 1]), stem="cifar", block="basic",
                         input_shape=(np.int64(32), np.int32(32), np.int64(3)),
                         classes=np.int64(3), stage_widths=np.array([8, 16, 32]),
                         dropout_rate=np.float32(0.1), bn_epsilon=np.float64(1e-5))
    assert model.output_shape == (None, 3)
    assert model.get_layer("predictions").units == 3
    assert type(model.get_layer("predictions").units) is int
    dilated = keras_resnet.ResNet18(include_top=False, input_shape=(64, 64, 3),
                                    replace_stride_with_dilation=np.array([False, False, True]))
    assert dilated.output_shape == (None, 4, 4, 512)
    assert keras_resnet.ResNet20(classes=np.int64(7)).output_shape == (None, 7)
