"""The models compared: ours from the registry, and keras.applications.ResNet50 as the
in-run baseline. Weights are random: speed does not depend on their values."""

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
}
KERAS_BN_SUFFIX = "_keras_bn"
BASELINE = "keras_applications_resnet50"


def check_model(name):
    if name not in MODELS:
        raise ValueError(f"Unknown benchmark model={name!r}. Allowed values: {list(MODELS)}.")
    return name


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
