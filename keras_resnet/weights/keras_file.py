"""Keras' own weight files (`.weights.h5`, `.keras`) of keras_resnet models, loaded
all-or-nothing and, for fine-tuning, without their classifier.

Keras' `model.load_weights` writes layer by layer and stops at the first mismatch,
leaving the model half-loaded; and it cannot skip a classifier of another size. So
the file is loaded into a scratch copy of the model first (its `predictions` sized as
the file's), then every layer is checked against the model and only then written.
"""

import os

import h5py
import keras

from keras_resnet.io import load_keras
from keras_resnet.weights import common


def _file_classes(path):
    """Units of the file's classifier (the one Dense layer of our models), or None."""
    try:
        with h5py.File(path, "r") as f:
            kernel = f.get("layers/dense/vars/0")
            return None if kernel is None else int(kernel.shape[-1])
    except OSError:
        return None


def _scratch(model, path):
    if path.lower().endswith(".keras"):
        return load_keras(path, compile=False)
    config = model.get_config()
    classes = _file_classes(path)
    for layer in config["layers"]:
        if layer["config"].get("name") == "predictions" and classes is not None:
            layer["config"]["units"] = classes
    scratch = model.__class__.from_config(config)
    scratch.load_weights(path)
    return scratch


def load_keras_weights(model, path, *, skip_head=False):
    """Loads a Keras `.weights.h5` or `.keras` file of a keras_resnet model into `model`.

    Args:
        model: keras.Model. The same architecture (layer names and shapes) as the file's.
        path: str or os.PathLike. The file.
        skip_head: bool or "auto". True: everything but `predictions`; "auto": also
            `predictions` when its shape fits. Defaults to False.

    Returns:
        The model, with the weights loaded.

    Raises:
        ValueError: the file does not fit the model (nothing is written then); the
            message lists the first mismatching layers.
    """
    path = os.fspath(path)
    source = repr(path)
    try:
        scratch = _scratch(model, path)
    except ValueError as err:
        raise ValueError(f"{source} does not fit the model {model.name!r}: {err}") from err
    by_name = {layer.name: layer for layer in scratch.layers}
    head = by_name.get("predictions")
    skip_head = common.resolve_skip_head(model, skip_head, head and _arrays(head))
    assignments, problems = [], []
    for layer in common.weighted_layers(model):
        if skip_head and layer.name == "predictions":
            continue
        if layer.name not in by_name:
            problems.append(f"{source} has no layer {layer.name!r}.")
            continue
        try:
            assignments.append(common.prepare(layer, _arrays(by_name[layer.name]),
                                              source=source))
        except ValueError as err:
            problems.append(str(err))
    common.raise_problems(problems, source)
    common.assign(assignments)
    return model


def _arrays(layer):
    return {v.name.split("/")[-1].split(":")[0]: keras.ops.convert_to_numpy(v)
            for v in layer.weights}
