"""keras.applications-style entry points: named constructors with `weights`.

`keras_resnet.ResNet50(include_top=True, weights=None, input_tensor=None,
input_shape=None, pooling=None, classes=1000, classifier_activation="softmax",
name=None, **options)` takes the arguments of `keras.applications.ResNet50` in the same
order, with the same meanings and checks, plus any `build_resnet` option as a keyword
(e.g. `output_stride=16`, `zero_init_residual=True`). Differences: `weights`
defaults to None (random initialisation), since pretrained files are not downloaded
implicitly; it also takes a catalogue tag (`keras_resnet.list_weights(variant)`), an
`hf://` address or a PyTorch/safetensors state dict; and with a file or tag,
`include_top=False` or a `classes` other than the variant's loads the backbone only.
"""

import collections.abc
import os

from keras_resnet import weights as weights_lib
from keras_resnet.models import registry
from keras_resnet.models.resnet import build_resnet
from keras_resnet.models.variants import VARIANTS


def _check_weights(weights, options, *, imagenet_head=True):
    """keras.applications' checks of `weights` against the builder `options` given;
    `imagenet_head=False` lets weights="imagenet" take any `classes` (backbone only)."""
    include_top = options.get("include_top", True)
    classes = options.get("classes")
    classifier_activation = options.get("classifier_activation", "softmax")
    if not (weights is None or weights_lib.catalog.is_tag(weights) or
            isinstance(weights, collections.abc.Mapping) or
            (isinstance(weights, str) and weights.startswith(weights_lib.hub.HF_PREFIX)) or
            (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError(
            "The `weights` argument should be either `None` (random initialization), "
            "'imagenet' (pre-training on ImageNet), a tag of keras_resnet.list_weights("
            "variant) such as 'torchvision_v2', an 'hf://<owner>/<repo>' address, or the "
            "path to an existing weights file (.weights.h5, .keras, .pth, .safetensors, "
            f"keras.applications .h5). Received: weights={weights!r}"
        )
    if not imagenet_head:
        return
    if weights == "imagenet" and include_top and classes not in (None, 1000):
        raise ValueError(
            "If using `weights='imagenet'` with `include_top=True`, `classes` should be "
            f"1000. Received: classes={classes}"
        )
    if weights == "imagenet" and include_top and classifier_activation not in ("softmax", None):
        raise ValueError(
            "With `weights='imagenet'` and `include_top=True`, `classifier_activation` "
            f"must be None or 'softmax'. Received: classifier_activation={classifier_activation!r}"
        )


def create_model(variant, *, weights=None, backbone_only=None, **overrides):
    """Builds the registered `variant`, then loads `weights` into it.

    Args:
        variant: str. A name from `keras_resnet.list_models()`, e.g. "resnet50", "resnet56".
        weights: None, "imagenet", a tag of `keras_resnet.list_weights(variant)` (e.g.
            "torchvision_v2", "timm_a1"), an "hf://<owner>/<repo>" address, a path to
            a weights file, or a dict of arrays. Defaults to None.
        backbone_only: bool or None. True: load everything but `predictions`, which
            keeps its fresh initialization (fine-tuning on other classes). False: load
            the classifier too (its shape must match). None: True when
            `include_top=False` or `classes` is given and differs from the variant's
            default (e.g. 1000), else False. Defaults to None.
        **overrides: `build_resnet` arguments replacing the variant's settings.

    Returns:
        A `keras.Model`.

    Example:
        >>> model = keras_resnet.create_model("resnet56", classes=100)
        >>> model = keras_resnet.create_model("resnet18", weights="resnet18.pth", classes=5)
    """
    return _create(variant, weights, backbone_only, overrides, imagenet_head=False)


def _create(variant, weights, backbone_only, overrides, *, imagenet_head):
    variant = registry.get_variant(variant)
    _check_weights(weights, overrides, imagenet_head=imagenet_head)
    if backbone_only is None and imagenet_head:
        # keras.applications' constructors load a file's classifier when it fits.
        backbone_only = "auto"
    elif backbone_only is None:
        classes = overrides.get("classes")
        backbone_only = not overrides.get("include_top", True) or (
            classes is not None and classes != variant.default_classes)
    overrides = {**weights_lib.build_options(weights, variant=variant.name), **overrides}
    model = registry.create_model(variant.name, **overrides)
    return weights_lib.load_weights(model, weights, variant=variant.name,
                                    skip_head=backbone_only)


def ResNet(stage_depths, *, weights=None, **kwargs):
    """The generic builder with `weights`: see `keras_resnet.models.build_resnet`.

    Example:
        >>> model = keras_resnet.ResNet([2, 2, 2, 2], block="basic", classes=10)
    """
    _check_weights(weights, kwargs)
    if weights_lib.catalog.is_tag(weights):
        raise ValueError(
            f"weights={weights!r} needs a named variant (e.g. keras_resnet.ResNet50); the "
            "generic builder takes None, a weights file path or an hf:// address."
        )
    return weights_lib.load_weights(build_resnet(stage_depths, **kwargs), weights)


def _constructor(variant):
    def constructor(include_top=True, weights=None, input_tensor=None, input_shape=None,
                    pooling=None, classes=None, classifier_activation="softmax", name=None,
                    **options):
        backbone_only = options.pop("backbone_only", None)
        return _create(variant.name, weights, backbone_only, dict(
            include_top=include_top, input_tensor=input_tensor, input_shape=input_shape,
            pooling=pooling, classes=classes, classifier_activation=classifier_activation,
            name=name, **options), imagenet_head=True)

    constructor.__name__ = constructor.__qualname__ = variant.constructor
    constructor.__doc__ = (
        f"{variant.description}.\n\n"
        f"Arguments as `keras.applications.ResNet50` (classes defaults to "
        f"{variant.default_classes}, input size to {variant.default_size}x"
        f"{variant.default_size} with include_top); any `build_resnet` option may be "
        f"passed by keyword. Registry name: {variant.name!r}. Preprocessing: "
        f"`keras_resnet.preprocess_input(x, mode={variant.preprocessing!r})`.\n\n"
        f"Example:\n    >>> model = keras_resnet.{variant.constructor}(weights=None)\n"
    )
    return constructor


CONSTRUCTORS = {v.constructor: _constructor(v) for v in VARIANTS.values()}
globals().update(CONSTRUCTORS)
__all__ = ["ResNet", "create_model", *CONSTRUCTORS]
