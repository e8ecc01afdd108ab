"""keras.applications ResNet50/101/152 (v1) weight files -> our v1 models.

keras.applications' layer names are ours, but its convs carry a bias that the following
BatchNormalization cancels up to a shift: BN(conv(x) + b) with moving mean m equals
BN(conv(x)) with moving mean m - b. We fold every conv bias into its BN's moving mean,
so our bias-free convs reproduce keras.applications' outputs exactly (same epsilon,
1.001e-5, given).

Two file layouts are read:
- the legacy Keras HDF5 layout of the published files
  (`resnet50_weights_tf_dim_ordering_tf_kernels.h5`, `..._notop.h5`) and of
  `model.save("x.h5")`: one group per layer name, read by name;
- Keras 3 `model.save_weights("x.weights.h5")` of a `keras.applications.ResNet50`,
  whose groups are named by layer class and order ("conv2d_7"): loaded into a freshly
  built keras.applications model first, then copied by layer name.
"""

import os

import h5py
import keras

from keras_resnet.weights import common

KERAS_APPLICATIONS_BN_EPSILON = 1.001e-5
_CONSTRUCTORS = {(3, 4, 6, 3): "ResNet50", (3, 4, 23, 3): "ResNet101", (3, 8, 36, 3): "ResNet152"}


def _legacy_group(f):
    group = f["model_weights"] if "model_weights" in f else f
    return group if "layer_names" in group.attrs else None


def _text(value):
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def file_layout(path):
    """"legacy" (layer-name groups), "keras3_applications" (a Keras 3 `.weights.h5`
    whose first conv has a bias, i.e. saved from keras.applications), "keras3" (any
    other Keras 3 weights file) or None (not an HDF5 weights file)."""
    try:
        f = h5py.File(os.fspath(path), "r")
    except OSError:
        return None
    with f:
        if _legacy_group(f) is not None:
            return "legacy"
        if "layers" in f:
            return "keras3_applications" if "layers/conv2d/vars/1" in f else "keras3"
    return None


def read_legacy_h5(path):
    """{layer name: {variable name: array}} from a legacy Keras HDF5 weights file, in
    file order; layers without weights are left out."""
    layers = {}
    with h5py.File(os.fspath(path), "r") as f:
        group = _legacy_group(f)
        if group is None:
            raise ValueError(f"{os.fspath(path)!r} is not a legacy Keras HDF5 weights file.")
        for name in map(_text, group.attrs["layer_names"]):
            weight_names = [_text(w) for w in group[name].attrs.get("weight_names", [])]
            if weight_names:
                # "conv1_conv/kernel:0" (Keras 2) or "conv1_conv/kernel" (Keras 3).
                layers[name] = {w.split("/")[-1].split(":")[0]: group[name][w][()]
                                for w in weight_names}
    return layers


def _read_keras3(model, path, skip_head=False):
    depths = common.stage_depths(model)
    if depths not in _CONSTRUCTORS:
        raise ValueError(
            "keras.applications has ResNet50/101/152 only; this model's stage depths "
            f"are {depths}."
        )
    top = common.has_top(model)
    classes = model.get_layer("predictions").units if top else 1000
    constructor = getattr(keras.applications, _CONSTRUCTORS[depths])
    # Backbone only: the file's head may have any size; try keras.applications' two.
    tries = [(top, classes)] + ([(True, 1000), (False, 1000)] if skip_head else [])
    for attempt, (top, classes) in enumerate(tries):
        reference = constructor(weights=None, include_top=top, classes=classes)
        try:
            reference.load_weights(os.fspath(path))
            break
        except ValueError as err:
            if attempt + 1 < len(tries):
                continue
            error = err
    else:
        err = error
        raise ValueError(
            f"{os.fspath(path)!r} does not fit keras.applications.{_CONSTRUCTORS[depths]}"
            f"(include_top={top}, classes={classes}), the reference for this model: {err}"
        ) from err
    return {layer.name: {v.name.split("/")[-1].split(":")[0]: keras.ops.convert_to_numpy(v)
                         for v in layer.weights}
            for layer in reference.layers if layer.weights}


def _fold(model, layers, source, skip_head=False):
    if any(name.endswith(("_preact_bn", "post_bn")) for name in layers):
        raise ValueError(
            f"{source} holds keras.applications ResNetV2 weights, which are not "
            "supported (their blocks stride differently from ours)."
        )
    head = layers.get("predictions")
    skip_head = common.resolve_skip_head(model, skip_head, head and {
        "kernel": head.get("kernel"), "bias": head.get("bias")})
    assignments, used = [], set()
    for layer in common.weighted_layers(model):
        if skip_head and layer.name == "predictions":
            continue
        arrays = layers.get(layer.name)
        if arrays is None:
            raise ValueError(
                f"{source} has no weights for layer {layer.name!r}: the file is for a "
                "shallower or different network than the model."
            )
        used.add(layer.name)
        arrays = dict(arrays)
        if isinstance(layer, keras.layers.Conv2D) and not layer.use_bias:
            bias = arrays.pop("bias", None)
            bn_name = layer.name[: -len("_conv")] + "_bn"
            if bias is not None and bn_name not in layers:
                raise ValueError(
                    f"Layer {layer.name!r} has a bias in {source} but no following "
                    f"BatchNormalization {bn_name!r} to fold it into."
                )
        if isinstance(layer, keras.layers.BatchNormalization):
            conv = layers.get(layer.name[: -len("_bn")] + "_conv", {})
            if "bias" in conv and "moving_mean" in arrays:
                if conv["bias"].shape != arrays["moving_mean"].shape:
                    raise ValueError(
                        f"Shape mismatch at layer {layer.name!r}: its conv bias has shape "
                        f"{conv['bias'].shape}, its moving mean {arrays['moving_mean'].shape}."
                    )
                arrays["moving_mean"] = arrays["moving_mean"] - conv["bias"]
        assignments.append(common.prepare(layer, arrays, source=source))
    unused = [name for name in layers if name not in used
              and not (name == "predictions" and skip_head)]
    if unused:
        raise ValueError(
            f"{source} has weights for layer {unused[0]!r}, which the model lacks "
            f"({len(unused)} such layers): the file is for a deeper or different network."
        )
    common.assign(assignments)
    return model


def load_keras_applications_weights(model, path, *, skip_head=False):
    """Loads keras.applications ResNet50/101/152 weights into our v1 `model`.

    Args:
        model: keras.Model. Our v1 model of the same depth, e.g.
            `keras_resnet.ResNet50V1()` (the named constructors build it with
            keras.applications' BN epsilon, 1.001e-5, when given such a file; other
            epsilons load with a warning).
        path: str or os.PathLike. A legacy Keras `.h5` file such as
            `resnet50_weights_tf_dim_ordering_tf_kernels.h5` (or `_notop.h5`), or a
            Keras 3 `.weights.h5` saved from `keras.applications.ResNet50`.
        skip_head: bool or "auto". True: load the backbone only; `predictions`
            keeps its fresh initialization. "auto": also the classifier when its shape
            fits. Defaults to False.

    Returns:
        The model, with the weights loaded.

    Raises:
        ValueError: the model is v1.5 (keras.applications is v1) or the file does not
            fit it; the message names the first mismatching layer.
    """
    if common.strided_1x1(model) is False:
        raise ValueError(
            "keras.applications ResNets are v1 (stride on the first 1x1 conv) but this "
            "model strides on the 3x3 (v1.5). Build it with version='v1' (e.g. "
            "keras_resnet.ResNet50V1) to load keras.applications weights."
        )
    layout = file_layout(path)
    source = repr(os.fspath(path))
    if layout == "legacy":
        layers = read_legacy_h5(path)
    elif layout == "keras3_applications":
        layers = _read_keras3(model, path, skip_head)
    else:
        raise ValueError(
            f"{source} is not a keras.applications weights file (legacy Keras HDF5 with "
            "layer-name groups, or a Keras 3 .weights.h5 of keras.applications.ResNet*)."
        )
    _fold(model, layers, source, skip_head)
    common.check_bn_epsilon(model, KERAS_APPLICATIONS_BN_EPSILON,
                            source="The keras.applications file")
    return model
