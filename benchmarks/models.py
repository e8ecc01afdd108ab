"""The models compared: ours from the registry, keras.applications.ResNet50 as the
in-run baseline, and keras-hub's ResNet-50 (the `peers` extra) as the like-for-like
peer. Weights are random: speed does not depend on their values. torchvision's
ResNet-50, a peer outside Keras, is measured by `tasks.peers` and only named here."""

import importlib.util

MODELS = {
    # key: (builder, input side)
    "resnet50": ("keras_resnet", 224),
    # v1 (stride in the 1x1 conv) has keras.applications' exact architecture and FLOPs,
    # so it isolates the cost of our explicit padding layers.
    "resnet50_v1": ("keras_resnet", 224),
    "resnet18": ("keras_resnet", 224),
    "resnet20": ("keras_resnet", 32),
    "keras_applications_resnet50": ("keras.applications", 224),
    # Ours with plain keras.layers.BatchNormalization instead of FusedBatchNormalization
    # (fused_bn=False): isolates what the fused training kernel gives.
    "resnet50_keras_bn": ("keras_resnet", 224),
    "resnet20_keras_bn": ("keras_resnet", 32),
    # keras-hub's ResNetImageClassifier with ResNet-50's config: v1.5 with explicit
    # padding, as ours, so the same parameters and multiply-adds.
    "keras_hub_resnet50": ("keras_hub", 224),
}
KERAS_BN_SUFFIX = "_keras_bn"
BASELINE = "keras_applications_resnet50"
KERAS_HUB = "keras_hub_resnet50"
# Our ResNet-50s: only these are compared with keras.applications' ResNet-50.
RESNET50S = ("resnet50", "resnet50_v1")
# torchvision's ResNet-50 in native PyTorch (`tasks.peers`): the architecture our
# ResNet-50 ports torchvision's weights into, so the same multiply-adds.
TORCHVISION = "torchvision_resnet50"


def check_model(name):
    if name not in MODELS:
        raise ValueError(f"Unknown benchmark model={name!r}. Allowed values: {list(MODELS)}.")
    return name


def available(name):
    """Whether the package that builds model `name` is installed (keras-hub is optional:
    `pip install keras-resnet-family[peers]`)."""
    return MODELS[check_model(name)][0] != "keras_hub" or bool(
        importlib.util.find_spec("keras_hub"))


def _keras_hub_resnet50():
    try:
        import keras_hub
    except ImportError as error:
        raise ImportError(f"Benchmark model {KERAS_HUB!r} needs keras-hub ({error}). "
                          "Install it with: pip install 'keras-resnet-family[peers]'.") from None
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[7],
        stackwise_num_filters=[64, 128, 256, 512], stackwise_num_blocks=[3, 4, 6, 3],
        stackwise_num_strides=[1, 2, 2, 2], block_type="bottleneck_block",
        use_pre_activation=False, image_shape=(224, 224, 3))
    return keras_hub.models.ResNetImageClassifier(backbone=backbone, num_classes=1000,
                                                  activation="softmax")


def input_size(name):
    return MODELS[check_model(name)][1]


def build(name, dtype_policy=None):
    """A freshly built model named `name` (one of `MODELS`), random weights.

    Args:
        name: str. One of `MODELS`.
        dtype_policy: str or None. e.g. "mixed_float16" for GPU training. Defaults to None
            (float32).
    """
    import keras

    check_model(name)
    keras.utils.set_random_seed(0)
    previous = keras.config.dtype_policy()
    if dtype_policy:
        keras.config.set_dtype_policy(dtype_policy)
    try:
        if name == BASELINE:
            return keras.applications.ResNet50(weights=None)
        if name == KERAS_HUB:
            return _keras_hub_resnet50()
        import keras_resnet

        if name.endswith(KERAS_BN_SUFFIX):
            return keras_resnet.create_model(name[:-len(KERAS_BN_SUFFIX)], fused_bn=False)
        return keras_resnet.create_model(name)
    finally:
        keras.config.set_dtype_policy(previous)


def macs_per_image(model):
    """Multiply-adds of one forward pass (keras_resnet.count_flops)."""
    import keras_resnet

    return int(keras_resnet.count_flops(model))


def known_macs():
    """Multiply-adds per image of the benchmark models (analytic, keras_resnet.count_flops)."""
    return {"resnet50": 4_089_184_256, "keras_hub_resnet50": 4_089_184_256,
            TORCHVISION: 4_089_184_256,
            "resnet50_v1": 3_857_973_248,
            "keras_applications_resnet50": 3_857_973_248, "resnet18": 1_814_073_344,
            "resnet20": 40_551_040}
