"""Loading weights into keras_resnet models: Keras weight files, torchvision state dicts,
keras.applications files and the 'imagenet' download path.

`load_weights` picks the loader from the file:
- `.pth` / `.pt`: a torchvision state dict (`load_torchvision_weights`), v1.5 models;
- `.h5` in the legacy layer-name layout (the published keras.applications files), or a
  Keras 3 `.weights.h5` saved from `keras.applications.ResNet*`: keras.applications
  weights (`load_keras_applications_weights`), v1 models;
- any other `.weights.h5` or `.keras`: Keras' own `model.load_weights`.
"""

import os

from keras_resnet.weights import imagenet
from keras_resnet.weights.common import has_top
from keras_resnet.weights.keras_applications import (
    KERAS_APPLICATIONS_BN_EPSILON,
    file_layout,
    load_keras_applications_weights,
)
from keras_resnet.weights.torchvision import load_torchvision_weights

TORCH_SUFFIXES = (".pth", ".pt")
H5_SUFFIXES = (".h5", ".hdf5")


def weights_format(path):
    """"torchvision", "keras_applications" or "keras" for a weights file path.

    Raises:
        ValueError: the file type is not supported.
    """
    path = os.fspath(path)
    lower = path.lower()
    if lower.endswith(TORCH_SUFFIXES):
        return "torchvision"
    if lower.endswith(".keras"):
        return "keras"
    if lower.endswith(H5_SUFFIXES):
        layout = file_layout(path)
        if layout in ("legacy", "keras3_applications"):
            return "keras_applications"
        if layout == "keras3":
            return "keras"
        raise ValueError(f"{path!r} is not a readable Keras HDF5 weights file.")
    raise ValueError(
        f"Unsupported weights file {path!r}. Allowed: a torchvision state dict "
        "(.pth, .pt), a keras.applications .h5 file, or a Keras .weights.h5 / .keras file."
    )


def build_options(weights, *, variant=None):
    """Builder settings that `weights` need, for the named constructors to apply
    unless the caller overrides them: keras.applications files were trained with
    BatchNormalization epsilon 1.001e-5 (ours defaults to PyTorch's 1e-5).

    Returns:
        dict of `build_resnet` keyword arguments (possibly empty).
    """
    if weights is None:
        return {}
    if isinstance(weights, str) and weights == "imagenet":
        keras_apps = variant in imagenet.KERAS_APPLICATIONS_FILES
    else:
        try:
            keras_apps = weights_format(weights) == "keras_applications"
        except (ValueError, OSError, TypeError):
            return {}  # load_weights reports the problem
    return {"bn_epsilon": KERAS_APPLICATIONS_BN_EPSILON} if keras_apps else {}


def load_weights(model, weights, *, variant=None):
    """Loads `weights` into `model` and returns the model.

    Args:
        model: keras.Model built by keras_resnet.
        weights: None (nothing to load), "imagenet" (the official file of `variant`,
            downloaded into ~/.keras/models or read from there), or a path: a
            torchvision `.pth`/`.pt` state dict, a keras.applications `.h5`, or a Keras
            `.weights.h5` / `.keras` file.
        variant: str. Registry name of the model; needed for "imagenet".

    Raises:
        ValueError: unsupported file, or weights that do not fit the model (the
            message names the first mismatching layer).
        OSError: "imagenet" weights are neither cached nor downloadable; the message
            says which file to place where.
    """
    if weights is None:
        return model
    if isinstance(weights, str) and weights == "imagenet":
        if variant is None:
            raise ValueError(
                "weights='imagenet' needs a named variant (e.g. keras_resnet.ResNet50); "
                "pass a weights file path instead."
            )
        path, fmt = imagenet.fetch(variant, include_top=has_top(model))
    else:
        path = os.fspath(weights)
        fmt = weights_format(path)
    if fmt == "torchvision":
        return load_torchvision_weights(model, path)
    if fmt == "keras_applications":
        return load_keras_applications_weights(model, path)
    model.load_weights(path)
    return model


def preprocessing_for(weights, variant):
    """The `preprocess_input` mode that `weights` were trained with (minimal version,
    until the weights catalogue lands): "torch" for torchvision / timm / safetensors
    files, tags and hf:// repos, "caffe" for keras.applications files, and the
    variant's own default for None and Keras files.

    Args:
        weights: None, "imagenet", a tag, a path or "hf://REPO".
        variant: str. Registry name of the model.

    Returns:
        str. A keras_resnet.preprocess_input mode.
    """
    from keras_resnet.models import registry

    default = registry.get_variant(variant).preprocessing
    if weights is None:
        return default
    weights = os.fspath(weights)
    if weights == "imagenet":
        return "caffe" if variant in imagenet.KERAS_APPLICATIONS_FILES else "torch"
    if weights.startswith("hf://") or weights.lower().endswith(".safetensors"):
        return "torch"
    try:
        fmt = weights_format(weights)
    except (ValueError, OSError):
        return "torch"  # a catalogue tag: every non-Keras source normalizes as torch
    return {"torchvision": "torch", "keras_applications": "caffe"}.get(fmt, default)


__all__ = [
    "build_options",
    "preprocessing_for",
    "load_keras_applications_weights",
    "load_torchvision_weights",
    "load_weights",
    "weights_format",
]
