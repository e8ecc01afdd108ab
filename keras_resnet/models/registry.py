"""Look-up of registered variants and building them by name (no weights)."""

from keras_resnet.models.resnet import build_resnet
from keras_resnet.models.variants import VARIANTS


def list_models():
    """Names of every registered variant, sorted."""
    return sorted(VARIANTS)


def get_variant(variant):
    """The `Variant` registered as `variant` (case-insensitive; '-' equals '_')."""
    key = str(variant).lower().replace("-", "_")
    if key not in VARIANTS:
        raise ValueError(f"Unknown model name {variant!r}. Registered models: {list_models()}.")
    return VARIANTS[key]


def variant_config(variant, **overrides):
    """Builder keyword arguments of a variant, with `overrides` merged on top."""
    variant = get_variant(variant)
    config = dict(variant.config)
    config.setdefault("classes", variant.default_classes)
    config["name"] = variant.name
    # None keeps the variant's default name and classes; for every other argument
    # None is a meaningful value (pooling=None, classifier_activation=None, ...).
    config.update({k: v for k, v in overrides.items()
                   if not (v is None and k in ("name", "classes"))})
    return config


def create_model(variant, **overrides):
    """Builds the registered `variant`; keyword arguments override its settings.

    Example:
        >>> model = create_model("resnet20", input_shape=(32, 32, 3), classes=10)
    """
    return build_resnet(**variant_config(variant, **overrides))
