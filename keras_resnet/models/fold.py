"""`fold_batch_norm`: an inference-only copy of a model with each BatchNormalization
that directly follows a convolution folded into that convolution's kernel and bias.

At inference a BatchNormalization is the per-channel affine map
y = gamma (x - mean) / sqrt(var + eps) + beta. After a convolution x = W * z + b, it
folds into the convolution: W' = W s and b' = (b - mean) s + beta, with
s = gamma / sqrt(var + eps) over the output channels. The copy keeps the graph, layer
names and outputs (to float32 rounding); each folded BatchNormalization becomes a
`FoldedBatchNorm`, an identity that costs nothing once traced. A BatchNormalization whose
input is not a convolution used only by it (the pre-activation BNs of v2 blocks, which
follow an addition) stays as it is.

Only for inference and export: the folded copy cannot be trained as the original
(BN's batch statistics are gone).
"""

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="keras_resnet")
class FoldedBatchNorm(keras.layers.Layer):
    """Identity left where a BatchNormalization was folded into the convolution before
    it. Unlike keras.layers.Identity it takes the `mask` argument that Keras recorded
    for the BatchNormalization call it replaces."""

    def call(self, inputs, mask=None):
        del mask
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


def _tensor_sources(value):
    """Names of the layers whose output tensors appear in a serialized node."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            yield value["config"]["keras_history"][0]
            return
        for item in value.values():
            yield from _tensor_sources(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensor_sources(item)


def _producers(model):
    """{layer name: name of the layer producing its single input, or None} and
    {layer name: how many layer calls consume its output}, read from get_config."""
    producer, consumers = {}, {}
    for layer in model.get_config()["layers"]:
        sources = list(_tensor_sources(layer.get("inbound_nodes", [])))
        for source in sources:
            consumers[source] = consumers.get(source, 0) + 1
        producer[layer["name"]] = sources[0] if len(sources) == 1 else None
    for output in keras.tree.flatten(model.get_config().get("output_layers", [])):
        if isinstance(output, str):
            consumers[output] = consumers.get(output, 0) + 1
    return producer, consumers


def _input_layers(model):
    """[[input layer name, 0, 0], ...] in the order of `model.inputs`."""
    layers = model.get_config()["input_layers"]
    return [layers] if layers and isinstance(layers[0], str) else layers


def foldable_pairs(model):
    """{conv layer name: BN layer name} of the BatchNormalizations that fold."""
    producer, consumers = _producers(model)
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        source = producer.get(layer.name)
        if source is None or consumers.get(source) != 1:
            continue
        conv = model.get_layer(source)
        if (type(conv) is keras.layers.Conv2D and conv.data_format == "channels_last"
                and layer.axis in (-1, 3)):
            pairs[conv.name] = layer.name
    return pairs


def _folded_weights(conv, bn):
    """The kernel and bias of `conv` with `bn` folded in, computed in float64."""
    def value(variable, default):
        if variable is None:
            return default
        return np.asarray(keras.ops.convert_to_numpy(variable), np.float64)

    kernel = value(conv.kernel, None)  # (kh, kw, in / groups, out)
    channels = kernel.shape[-1]
    bias = value(conv.bias if conv.use_bias else None, np.zeros(channels))
    scale = value(bn.gamma, np.ones(channels)) / np.sqrt(
        value(bn.moving_variance, None) + bn.epsilon)
    shift = value(bn.beta, np.zeros(channels)) - value(bn.moving_mean, None) * scale
    return kernel * scale, bias * scale + shift


def fold_batch_norm(model):
    """An inference-only copy of `model` with BatchNormalization folded into the
    preceding convolutions.

    Args:
        model: keras.Model. A functional model (every keras_resnet model).

    Returns:
        A new keras.Model with the same inputs, outputs and layer names; `model` is left
        unchanged.

    Example:
        >>> fast = fold_batch_norm(keras_resnet.ResNet50(weights=...))
        >>> fast.predict(images)   # equal to the original's to float32 rounding
    """
    if not isinstance(model, keras.Model) or not hasattr(model, "get_config"):
        raise ValueError(f"fold_batch_norm needs a functional keras.Model. Received: {model!r}")
    pairs = foldable_pairs(model)
    folded_bns = {bn: conv for conv, bn in pairs.items()}

    def clone(layer):
        config = layer.get_config()
        if layer.name in pairs:
            config["use_bias"] = True
            config.pop("bias_regularizer", None)
            config["kernel_regularizer"] = None
            return layer.__class__.from_config(config)
        if layer.name in folded_bns:
            return FoldedBatchNorm(name=layer.name, dtype=layer.dtype_policy.name)
        return layer.__class__.from_config(config)

    # Fresh inputs of the same names, so that exported signatures keep them.
    names = [entry[0] for entry in _input_layers(model)]
    inputs = [keras.Input(batch_shape=x.shape, dtype=x.dtype, name=name)
              for x, name in zip(model.inputs, names)]
    inputs = keras.tree.pack_sequence_as(model.input, inputs)
    folded = keras.models.clone_model(model, input_tensors=inputs, clone_function=clone)
    for layer in model.layers:
        if not layer.weights:
            continue
        target = folded.get_layer(layer.name)
        if layer.name in pairs:
            kernel, bias = _folded_weights(layer, model.get_layer(pairs[layer.name]))
            target.set_weights([kernel.astype(layer.kernel.dtype),
                                bias.astype(layer.kernel.dtype)])
        elif layer.name not in folded_bns and layer.weights:
            target.set_weights(layer.get_weights())
    return folded
