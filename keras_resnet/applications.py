"""keras.applications-style entry points: named constructors with `weights`.

`keras_resnet.ResNet50(include_top=True, weights=None, input_tensor=None,
input_shape=None, pooling=None, classes=1000, classifier_activation="softmax",
name=None, **options)` takes the arguments of `keras.applications.ResNet50` in the same
order, with the same meanings and checks, plus any `build_resnet` option as a keyword
(e.g. `output_stride=16`, `zero_init_residual=True`). One difference: `weights`
defaults to None (random initialisation), since pretrained files are not downloaded
implicitly.
"""

import os

from keras_resnet import weights as weights_lib
from keras_resnet.models import registry
from keras_resnet.models.resnet import build_resnet
from keras_resnet.models.variants import VARIANTS


def _check_weights(weights, options):
    """keras.applications' checks of `weights` against the builder `options` given."""
    include_top = options.get("include_top", True)
    classes = options.get("classes")
    classifier_activation = options.get("classifier_activation", "softmax")
    if not (weights is None or weights == "imagenet" or
            (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError(
            "The `weights` argument should be either `None` (random initialization), "
            "'imagenet' (pre-training on ImageNet), or the path to an existing weights "
            f"file (.weights.h5, .keras, torchvision .pth, keras.applications .h5). "
            f"Received: weights={weights!r}"
        )
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


def create_model(variant, *, weights=None, **overrides):
    """Builds the registered `variant`, then loads `weights` into it.

    Args:
        variant: str. A name from `keras_resnet.list_models()`, e.g. "resnet50", "resnet56".
        weights: None, "imagenet", or a path to a weights file. Defaults to None.
        **overrides: `build_resnet` arguments replacing the variant's settings.

    Returns:
        A `keras.Model`.

    Example:
        >>> model = keras_resnet.create_model("resnet56", classes=100)
    """
    variant = registry.get_variant(variant)
    _check_weights(weights, overrides)
    overrides = {**weights_lib.build_options(weights, variant=variant.name), **overrides}
    model = registry.create_model(variant.name, **overrides)
    return weights_lib.load_weights(model, weights, variant=variant.name)


def ResNet(stage_depths, *, weights=None, **kwargs):
    """The generic builder with `weights`: see `keras_resnet.models.build_resnet`.

    Example:
        >>> model = keras_resnet.ResNet([2, 2, 2, 2], block="basic", classes=10)
    """
    _check_weights(weights, kwargs)
    if weights == "imagenet":
        raise ValueError(
            "weights='imagenet' needs a named variant (e.g. keras_resnet.ResNet50); the "
            "generic builder takes None or a weights file path."
        )
    return weights_lib.load_weights(build_resnet(stage_depths, **kwargs), weights)


def _constructor(variant):
    def constructor(include_top=True, weights=None, input_tensor=None, input_shape=None,
                    pooling=None, classes=None, classifier_activation="softmax", name=None,
                    **options):
        return create_model(
            variant.name, weights=weights, include_top=include_top,
            input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
            classes=classes, classifier_activation=classifier_activation, name=name,
            **options,
        )

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
