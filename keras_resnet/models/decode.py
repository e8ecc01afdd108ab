"""ImageNet class names for 1000-way predictions, offline.

`decode_predictions` works like `keras.applications.imagenet_utils.decode_predictions`
but reads the class index shipped with the package (imagenet_class_index.json, the
standard {"0": ["n01440764", "tench"], ...} file: index -> [WordNet id, name], WordNet
ids in ascending order, the order torchvision and keras.applications weights use).
"""

import functools
import json
import numbers
import pathlib

import keras
import numpy as np

CLASS_INDEX_PATH = pathlib.Path(__file__).with_name("imagenet_class_index.json")
NUM_CLASSES = 1000


@functools.lru_cache(maxsize=None)
def imagenet_class_index():
    """Tuple of 1000 (wnid, name) pairs, index i being class i."""
    with open(CLASS_INDEX_PATH, encoding="utf8") as f:
        index = json.load(f)
    return tuple(tuple(index[str(i)]) for i in range(len(index)))


def decode_predictions(preds, top=5):
    """Decodes a batch of ImageNet predictions into (wnid, name, score) tuples.

    Args:
        preds: array or tensor of shape (samples, 1000): probabilities or logits.
        top: int. How many classes to return per sample, best first. Defaults to 5.

    Returns:
        A list with one list per sample of `top` tuples `(wnid, name, score)`.

    Example:
        >>> preds = model.predict(keras_resnet.preprocess_input(images))
        >>> keras_resnet.decode_predictions(preds, top=3)[0]
        [('n02123045', 'tabby', 0.61), ('n02123159', 'tiger_cat', 0.2), ...]
    """
    preds = np.asarray(keras.ops.convert_to_numpy(preds))
    if preds.ndim != 2 or preds.shape[1] != NUM_CLASSES:
        raise ValueError(
            "`decode_predictions` expects a batch of predictions (a 2D array of shape "
            f"(samples, {NUM_CLASSES})). Received: preds with shape {preds.shape}"
        )
    if (isinstance(top, bool) or not isinstance(top, numbers.Integral)
            or not 1 <= top <= NUM_CLASSES):
        raise ValueError(f"`top` must be an integer in [1, {NUM_CLASSES}]. Received: top={top!r}")
    classes = imagenet_class_index()
    results = []
    for row in preds:
        best = np.argsort(-row, kind="stable")[:top]
        results.append([(*classes[i], row[i]) for i in best])
    return results
