"""Property-based tests over random valid `build_resnet` configurations: each builds,
has the expected output shape, and survives a get_config round trip and a `.keras`
save/load with safe_mode=True with identical outputs."""

import json
import math

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keras_resnet
from keras_resnet.models.resnet import STEM_STRIDE


@st.composite
def configs(draw):
    stages = draw(st.integers(2, 4))
    block = draw(st.sampled_from(["basic", "bottleneck"]))
    stem = draw(st.sampled_from(["cifar", "imagenet"]))
    base = draw(st.sampled_from([8, 16]))
    shortcut = draw(st.sampled_from(["A", "B", "C", "none"]))
    if shortcut == "A":
        # Zero-padding can widen but not narrow: the first stage must be at least as
        # wide as the stem (16 channels, ImageNet stem 64).
        expansion = 4 if block == "bottleneck" else 1
        base = max(base, (64 if stem == "imagenet" else 16) // expansion)
    config = dict(
        stage_depths=draw(st.lists(st.integers(1, 2), min_size=stages, max_size=stages)),
        block=block, stem=stem, stage_widths=[base * 2**i for i in range(stages)],
        version=draw(st.sampled_from(["v1", "v1.5", "v2"])),
        shortcut=shortcut,
        se_ratio=draw(st.sampled_from([0.0, 0.0625, 0.25])),
        zero_init_residual=draw(st.booleans()),
        include_top=draw(st.booleans()),
        classes=draw(st.integers(2, 7)),
    )
    if block == "bottleneck":
        config["groups"] = draw(st.sampled_from([1, 2, 4]))
        config["width_per_group"] = draw(st.sampled_from([16, 32, 64]))
    full = STEM_STRIDE[stem] * 2 ** (stages - 1)
    allowed = [full // 2**k for k in range(stages) if full // 2**k >= STEM_STRIDE[stem]]
    config["output_stride"] = draw(st.sampled_from([None] + allowed))
    size = draw(st.integers(max(32, full), 64))
    config["input_shape"] = (size, size, draw(st.integers(1, 3)))
    if not config["include_top"]:
        config["pooling"] = draw(st.sampled_from([None, "avg", "max"]))
    return config


def _outputs(model, x):
    """The model's inference outputs, called eagerly: `predict` would trace a function
    for each of the three models of an example (most of the test's time)."""
    return keras.ops.convert_to_numpy(model(x, training=False))


def _expected_shape(config):
    if config["include_top"]:
        return (None, config["classes"])
    channels = config["stage_widths"][-1] * (4 if config["block"] == "bottleneck" else 1)
    if config.get("pooling"):
        return (None, channels)
    stages = len(config["stage_depths"])
    stride = config["output_stride"] or STEM_STRIDE[config["stem"]] * 2 ** (stages - 1)
    side = config["input_shape"][0]
    for _ in range(int(math.log2(stride))):
        side = math.ceil(side / 2)  # every stride-2 op pads symmetrically: ceil(n / 2)
    return (None, side, side, channels)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs())
def test_random_valid_config_builds_round_trips_and_reloads(config, tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = keras_resnet.build_resnet(**config)
    assert tuple(model.output.shape) == _expected_shape(config), config
    x = np.random.default_rng(0).standard_normal(
        (2,) + config["input_shape"]).astype(np.float32)
    reference = _outputs(model, x)
    assert reference.shape[1:] == _expected_shape(config)[1:]
    assert np.isfinite(reference).all()

    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(_outputs(clone, x), reference, rtol=1e-5, atol=1e-5)

    path = str(tmp_path_factory.mktemp("property") / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    # Equal up to JSON types (the reloaded config has lists where the built one has tuples).
    assert json.loads(json.dumps(reloaded.get_config())) == json.loads(
        json.dumps(model.get_config()))
    np.testing.assert_array_equal(_outputs(reloaded, x), reference)
