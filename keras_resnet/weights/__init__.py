"""Loading weights into keras_resnet models: Keras weight files, torchvision state dicts,
keras.applications files and the 'imagenet' download path."""

import os


def load_weights(model, weights, *, variant=None):
    """Loads `weights` into `model` and returns the model.

    Args:
        model: keras.Model built by keras_resnet.
        weights: None (nothing to load), "imagenet", or a path: a Keras `.weights.h5`
            or `.keras` file.
        variant: str. Registry name of the model, used to find the right file and
            layout for pretrained weights.
    """
    if weights is None:
        return model
    if weights == "imagenet":
        raise ValueError(
            f"weights='imagenet' is not available for {variant!r} yet: pass a weights file path."
        )
    path = os.fspath(weights)
    if path.endswith(".weights.h5") or path.endswith(".keras"):
        model.load_weights(path)
        return model
    raise ValueError(
        f"Unsupported weights file {path!r}. Allowed: a Keras .weights.h5 or .keras file."
    )
