"""Multi-scale features (C2..C5) and the FCN segmentation model over a dilated backbone."""

import re

import keras

from keras_resnet.models.layers import ResizeToMatch
from keras_resnet.models.registry import create_model

_BLOCK_OUT = re.compile(r"^conv(\d+)_block(\d+)_out$")


def stage_blocks(model):
    """{stage number: number of blocks}, read from the `conv<s>_block<b>_out` names."""
    last = {}
    for layer in model.layers:
        match = _BLOCK_OUT.match(layer.name)
        if match:
            stage, block = int(match.group(1)), int(match.group(2))
            last[stage] = max(last.get(stage, 0), block)
    return dict(sorted(last.items()))


def stage_output_names(model):
    """Names of the layers that end each stage, keyed "C2", "C3", ...

    "Cn" is the output of stage `convn` (keras.applications numbering), the feature map
    at 1/2**n of the input for ImageNet models. For pre-activation (v2) models, the last
    stage ends at `post_relu`, the fully activated output.
    """
    last = stage_blocks(model)
    if not last:
        raise ValueError(
            f"Model {model.name!r} has no `conv<stage>_block<n>_out` layers; "
            "feature_pyramid needs a keras_resnet or keras.applications ResNet."
        )
    names = {f"C{s}": f"conv{s}_block{b}_out" for s, b in sorted(last.items())}
    if any(layer.name == "post_relu" for layer in model.layers):
        names[f"C{max(last)}"] = "post_relu"
    return names


def feature_pyramid(model):
    """A model from the ResNet's input to its stage outputs {"C2": ..., "C5": ...}.

    Example:
        >>> backbone = keras_resnet.ResNet50(include_top=False, input_shape=(224, 224, 3))
        >>> feats = keras_resnet.feature_pyramid(backbone)(images)  # C2 is 56x56x256
    """
    names = stage_output_names(model)
    outputs = {key: model.get_layer(layer).output for key, layer in names.items()}
    return keras.Model(model.input, outputs, name=f"{model.name}_features")


def ResNetFCN(
    backbone="resnet50",
    *,
    classes=21,
    output_stride=8,
    input_shape=(None, None, 3),
    input_tensor=None,
    head_dropout=0.1,
    classifier_activation=None,
    name=None,
    **backbone_kwargs,
):
    """Fully convolutional segmentation (Long et al. 2015) over a dilated ResNet.

    The head is torchvision's FCNHead: 3x3 conv to a quarter of the backbone's
    channels, BN (the backbone's kind and settings), ReLU, dropout, 1x1 conv to
    `classes`; the logits are bilinearly resized back to the input size, also for
    inputs whose size is known only at run time.

    Args:
        backbone: str. A registered model name. Defaults to "resnet50".
        classes: int. Number of segmentation classes. Defaults to 21 (Pascal VOC).
        output_stride: int. 8, 16 or 32: backbone resolution before upsampling.
            Defaults to 8.
        input_shape: tuple. Defaults to (None, None, 3): any size.
        input_tensor: optional Keras tensor to use as the input.
        head_dropout: float. Dropout before the classifier. Defaults to 0.1.
        classifier_activation: per-pixel activation, e.g. "softmax". Defaults to None
            (logits).
        name: str. Defaults to "<backbone>_fcn".
        **backbone_kwargs: more arguments for the backbone (bn settings, ...).

    Returns:
        A `keras.Model` mapping (batch, H, W, C) images to (batch, H, W, classes).
    """
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"`classes` must be an integer >= 1. Received: classes={classes!r}")
    base = create_model(
        backbone, include_top=False, pooling=None, input_shape=input_shape,
        input_tensor=input_tensor, output_stride=output_stride, **backbone_kwargs,
    )
    x = base.output
    channels = x.shape[-1]
    head = keras.layers.Conv2D(max(1, channels // 4), 3, padding="same", use_bias=False,
                               name="fcn_head_conv")(x)
    # The head's BN is the backbone's kind (fused or plain) with the backbone's settings.
    bn = [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)][-1]
    head = type(bn)(momentum=bn.momentum, epsilon=bn.epsilon, name="fcn_head_bn")(head)
    head = keras.layers.Activation("relu", name="fcn_head_relu")(head)
    head = keras.layers.Dropout(head_dropout, name="fcn_head_dropout")(head)
    head = keras.layers.Conv2D(classes, 1, name="fcn_classifier")(head)
    out = ResizeToMatch(name="fcn_upsample")([head, base.input])
    if classifier_activation is not None:
        out = keras.layers.Activation(classifier_activation, dtype="float32",
                                      name="fcn_activation")(out)
    return keras.Model(base.input, out, name=name or f"{base.name}_fcn")
