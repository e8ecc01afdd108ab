"""Analytic FLOP count of a Keras model, in multiply-adds as in He et al. (2015).

Counts the multiply-adds of Conv2D (grouped and dilated included) and Dense layers,
which are over 99% of a ResNet's arithmetic; batch norm, activations, pooling and adds
are left out, as in the paper's Table 1.
"""

import math

import keras


def _spatial(shape):
    return math.prod(d for d in shape[1:-1])


def _layer_macs(layer):
    if isinstance(layer, keras.layers.Conv2D):
        kernel = layer.kernel.shape  # (kh, kw, in / groups, out)
        out_shape = layer.output.shape
        if any(d is None for d in out_shape[1:]):
            raise ValueError(
                f"count_flops needs a model with a fixed input size; layer {layer.name!r} "
                f"has output shape {tuple(out_shape)}. Build the model with e.g. "
                "input_shape=(224, 224, 3)."
            )
        return _spatial(out_shape) * math.prod(kernel)
    if isinstance(layer, keras.layers.Dense):
        return math.prod(layer.kernel.shape)
    if isinstance(layer, keras.Model):
        return count_flops(layer)
    return 0


def count_flops(model):
    """Multiply-adds of one forward pass on one image (the paper's "FLOPs").

    Args:
        model: keras.Model. A built functional model with a fixed input size.

    Returns:
        int. Multiply-adds per image; ResNet-50 v1 at 224x224 gives about 3.9e9.

    Example:
        >>> count_flops(keras_resnet.ResNet18()) / 1e9  # about 1.8
    """
    return sum(_layer_macs(layer) for layer in model.layers)
