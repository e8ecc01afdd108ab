"""Helpers shared by the weight loaders: checked, all-or-nothing assignment into a model.

A loader walks the model's layers in order, turns each layer's part of the checkpoint
into `{variable name: array}` and checks it with `prepare` (so the first layer that
differs is the one named); only when every layer is prepared does `assign` write, so a
mismatch leaves the model untouched.
"""

import math
import warnings

import keras
import numpy as np

from keras_resnet.models.features import stage_blocks


def weighted_layers(model):
    """The model's layers that own variables, in model order."""
    return [layer for layer in model.layers if layer.weights]


def has_top(model):
    """True when the model ends in the 1000-way (or any) `predictions` classifier."""
    return any(layer.name == "predictions" for layer in model.layers)


def stage_depths(model):
    """Blocks per stage read from the layer names, e.g. (3, 4, 6, 3) for ResNet-50."""
    return tuple(stage_blocks(model).values())


def strided_1x1(model):
    """True for v1 bottlenecks (stride on the first 1x1 of conv3_block1), False for
    v1.5 (stride on the 3x3), None when the model has no such layer."""
    try:
        layer = model.get_layer("conv3_block1_1_conv")
    except ValueError:
        return None
    if tuple(layer.kernel_size) != (1, 1):
        return None  # basic block: the 3x3 carries the stride in every version
    return tuple(layer.strides) == (2, 2)


def check_bn_epsilon(model, expected, *, source):
    """Warns when the model's BatchNormalization epsilon differs from the checkpoint's."""
    found = sorted({layer.epsilon for layer in model.layers
                    if isinstance(layer, keras.layers.BatchNormalization)})
    wrong = [eps for eps in found if not math.isclose(eps, expected, rel_tol=1e-6)]
    if wrong:
        warnings.warn(
            f"{source} was trained with BatchNormalization epsilon={expected}, but the "
            f"model uses epsilon={wrong}; outputs will differ slightly from the original. "
            f"Build the model with bn_epsilon={expected} to reproduce them exactly.",
            stacklevel=3,
        )


ADVICE = ("Check that the model's depth, width, groups and `classes` match the checkpoint "
          "(include_top=False skips the classifier).")


def prepare(layer, arrays, *, source):
    """`layer`'s variable values from {variable name: array}, shapes checked.

    Args:
        layer: keras Layer with weights.
        arrays: dict. {variable name ("kernel", "gamma", ...): array}.
        source: str. What the arrays came from, for error messages.

    Returns:
        (layer, list of arrays in the order of `layer.weights`).

    Raises:
        ValueError: a variable is missing or shaped differently; the message names
            the layer and both shapes.
    """
    values = []
    for variable in layer.weights:
        name = variable.name.split("/")[-1].split(":")[0]
        if name not in arrays:
            raise ValueError(
                f"{source} has no {name!r} for layer {layer.name!r} (it has {sorted(arrays)})."
            )
        value = np.asarray(arrays[name])
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"Shape mismatch at layer {layer.name!r} ({name}): the model expects "
                f"{tuple(variable.shape)}, {source} has {tuple(value.shape)}. {ADVICE}"
            )
        values.append(value.astype(variable.dtype))
    return layer, values


def resolve_skip_head(model, skip_head, head_arrays):
    """Whether to leave `predictions` out: True, False, or for "auto" when the
    checkpoint's classifier {variable name: array} (None if it has none) does not fit
    the model's; always True for a model without `predictions`."""
    if not has_top(model):
        return True
    if skip_head != "auto":
        return bool(skip_head)
    if head_arrays is None:
        return True
    try:
        prepare(model.get_layer("predictions"), head_arrays, source="the checkpoint")
    except ValueError:
        return True
    return False


def raise_problems(problems, source, *, shown=5):
    """Raises one ValueError listing the first `shown` of the layers' `problems` (the
    messages of `prepare`), so a checkpoint of another architecture shows where it
    differs; does nothing when there are none."""
    if not problems:
        return
    more = f" (and {len(problems) - shown} more)" if len(problems) > shown else ""
    if len(problems) == 1:
        raise ValueError(problems[0])
    first = [p.replace(" " + ADVICE, "") for p in problems[:shown]]
    raise ValueError(
        f"{source} does not fit the model at {len(problems)} layers{more}; the first:\n- "
        + "\n- ".join(first) + f"\n{ADVICE}")


def assign(prepared):
    """Writes the output of `prepare` for every layer; call it only once all layers
    are prepared, so that a mismatch leaves the model untouched."""
    for layer, values in prepared:
        layer.set_weights(values)
