"""Every registered variant: exact parameter counts and FLOPs against the literature."""

import functools

import numpy as np
import pytest

import keras_resnet
from keras_resnet.models import VARIANTS

# Trainable parameters with 1000 (ImageNet) or 10 (CIFAR) classes, as torchvision's
# models and the CIFAR paper's code (He et al. 2015, section 4.2) count them.
TRAINABLE = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "resnext101_32x8d": 88_791_336,
    "wide_resnet50_2": 68_883_240,
    "wide_resnet101_2": 126_886_696,
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    "resnet1202": 19_421_274,
}
BN_STATS = {"resnet18": 9_600, "resnet34": 17_024, "resnet50": 53_120,
            "resnet101": 105_344, "resnet152": 151_424}
OPTION_B = {"resnet20": 272_474, "resnet32": 466_906, "resnet44": 661_338,
            "resnet56": 855_770, "resnet110": 1_730_714}
# Published by other projects: torchvision (resnext101_64x4d), timm (seresnet50),
# the WRN authors' PyTorch code (WRN-28-10), keras.applications (headless counts).
OTHER = {"resnext101_64x4d": 83_455_272, "se_resnet50": 28_088_024, "wrn28_10": 36_479_194}


def trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def non_trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)


@functools.lru_cache(maxsize=None)
def small(name):
    """The variant at the smallest input it accepts: parameters do not depend on size."""
    return keras_resnet.create_model(name, input_shape=(32, 32, 3))


@pytest.mark.parametrize("name", sorted(TRAINABLE))
def test_trainable_params_match_reference(name):
    assert trainable(small(name)) == TRAINABLE[name]


@pytest.mark.parametrize("name", sorted(BN_STATS))
def test_bn_moving_stats_match_reference(name):
    assert non_trainable(small(name)) == BN_STATS[name]


# Option B adds the same two projection shortcuts at every depth (16->32 and 32->64, with
# their BN: 2,752 parameters), checked here against the built option-A model. ResNet-1202
# (published 19,424,026 with option B, its option-A count plus 2,752) is not built a
# second time: 13 s for what the smaller depths already show.
OPTION_B_SHORTCUTS = 2_752


@pytest.mark.parametrize("name", sorted(OPTION_B))
def test_cifar_option_b_params(name):
    model = keras_resnet.create_model(name, shortcut="B")
    assert trainable(model) == OPTION_B[name]
    assert trainable(model) - trainable(small(name)) == OPTION_B_SHORTCUTS


@pytest.mark.parametrize("name", sorted(OTHER))
def test_other_published_counts(name):
    assert trainable(small(name)) == OTHER[name]


@pytest.mark.parametrize("name,expected", [
    ("resnet50", 23_561_152), ("resnet101", 42_605_504), ("resnet152", 58_295_232),
])
def test_headless_count_params_match_keras_applications(name, expected):
    # keras.applications' count_params() includes BN moving statistics.
    model = keras_resnet.create_model(name, include_top=False, input_shape=(32, 32, 3))
    assert model.count_params() == expected


# Deeper than this many blocks, "builds and runs" takes the variant's row with two
# blocks per stage: the same block code, without building 400-600 blocks (plain1202
# and preact_resnet1001 took 19-22 s each). Their depths come from the same loops as
# resnet1202 and preact_resnet164; resnet1202 is built whole for its parameter count.
DEEP_BLOCKS = 100


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_builds_and_runs(name):
    variant = VARIANTS[name]
    depths = variant.config["stage_depths"]
    if sum(depths) > DEEP_BLOCKS and name not in TRAINABLE:
        model = keras_resnet.create_model(name, input_shape=(32, 32, 3),
                                          stage_depths=(2,) * len(depths))
    else:
        model = small(name)
    x = np.random.default_rng(0).uniform(size=(1, 32, 32, 3)).astype("float32")
    y = model(x, training=False)
    assert y.shape == (1, variant.default_classes)
    assert model.name == name
    assert getattr(keras_resnet, variant.constructor).__name__ == variant.constructor


# Paper Table 1 in multiply-adds; the paper's bottleneck models put the stride on the
# first 1x1 (our v1). torchvision lists 4.09 G for its v1.5 ResNet-50.
PAPER_GFLOPS = {"resnet18": 1.8, "resnet34": 3.6, "resnet50_v1": 3.8, "resnet101_v1": 7.6,
                "resnet152_v1": 11.3, "resnet50": 4.09}


@pytest.mark.parametrize("name", sorted(PAPER_GFLOPS))
def test_flops_within_5_percent_of_paper(name):
    model = keras_resnet.create_model(name)  # 224x224
    gflops = keras_resnet.count_flops(model) / 1e9
    assert gflops == pytest.approx(PAPER_GFLOPS[name], rel=0.05)


def test_cifar_flops_match_paper_scale():
    # Paper section 4.2: ResNet-110 has about 0.25 G multiply-adds on 32x32.
    gflops = keras_resnet.count_flops(keras_resnet.ResNet110()) / 1e9
    assert gflops == pytest.approx(0.25, rel=0.05)


def test_count_flops_needs_fixed_input():
    model = keras_resnet.ResNet18(include_top=False)
    with pytest.raises(ValueError, match="fixed input size"):
        keras_resnet.count_flops(model)


def test_list_models_and_unknown_name():
    assert "resnet50" in keras_resnet.list_models()
    with pytest.raises(ValueError, match="Registered models: .*resnet50"):
        keras_resnet.create_model("resnet51")
