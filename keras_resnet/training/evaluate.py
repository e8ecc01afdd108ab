"""Top-1/top-5 evaluation as in the paper: center crop, 10-crop and fully convolutional
multi-scale testing (shorter side in {224, 256, 384, 480, 640}, scores averaged)."""

import numpy as np
import tensorflow as tf

from keras_resnet.data import augment

MODES = ("center", "ten_crop", "multi_scale")
PAPER_SCALES = (224, 256, 384, 480, 640)


def ten_crops(image, size):
    """The 4 corner and the center (size, size) crops of `image` and their mirrors."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    offsets = [(0, 0), (0, width - size), (height - size, 0), (height - size, width - size),
               ((height - size) // 2, (width - size) // 2)]
    crops = [image[top:top + size, left:left + size] for top, left in offsets]
    crops += [tf.image.flip_left_right(crop) for crop in crops]
    return tf.stack(crops)


def with_input_size(model, size):
    """A copy of `model` (same weights) whose input is (size, size, channels); None
    accepts any height and width. Training at one size and testing or exporting at
    another (torchvision's 176 / 224) go through it."""
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            shape = layer["config"]["batch_shape"]
            layer["config"]["batch_shape"] = [shape[0], size, size, shape[-1]]
    clone = model.__class__.from_config(config)
    clone.set_weights(model.get_weights())
    return clone


def fully_convolutional(model):
    """A copy of `model` that accepts any input height and width (same weights)."""
    return with_input_size(model, None)


def evaluate_model(model, source, *, normalization, mode="center", image_size=224,
                   scales=PAPER_SCALES, channels=3, max_examples=None, resize_side=None):
    """Top-1 and top-5 accuracy of `model` on a `keras_resnet.data.Source`.

    Args:
        model: `keras.Model` with softmax outputs.
        source: `keras_resnet.data.Source` (usually the "eval" split).
        normalization: `keras_resnet.data.Normalization` of the model.
        mode: str. "center" (shorter side to image_size/0.875, center crop), "ten_crop"
            (same resize, 4 corners + center and their mirrors, scores averaged) or
            "multi_scale" (shorter side resized to each of `scales`, the whole image
            through the fully convolutional model, scores averaged). Defaults to "center".
        image_size: int. Crop side. Defaults to 224.
        scales: sequence of int. Shorter sides of multi-scale testing.
            Defaults to (224, 256, 384, 480, 640).
        channels: int. Model input channels. Defaults to 3.
        max_examples: int or None. Evaluate only the first examples. Defaults to None.
        resize_side: int or None. Shorter side before the center and ten crops, e.g.
            232 for torchvision's V2 weights (`weights_row(...).resize`). None uses
            ceil(image_size / 0.875), 256 at 224. Defaults to None.

    Returns:
        dict {"top1": float, "top5": float, "examples": int}.
    """
    if mode not in MODES:
        raise ValueError(f"Unknown mode={mode!r}. Allowed values: {list(MODES)}.")
    net = fully_convolutional(model) if mode == "multi_scale" else model
    if resize_side is None:
        resize_side = int(np.ceil(image_size / augment.EVAL_CROP_FRACTION))
    elif isinstance(resize_side, bool) or not isinstance(resize_side, (int, np.integer)) \
            or resize_side < image_size:
        raise ValueError(f"resize_side must be an integer >= image_size={image_size}. "
                         f"Received: resize_side={resize_side!r}.")
    dataset = source.dataset
    if source.encoded:
        from keras_resnet.data.sources import decode_image, graph_only

        dataset = dataset.map(graph_only(
            lambda raw, y: (decode_image(raw, source.channels), y))).ignore_errors()
    if max_examples:
        dataset = dataset.take(max_examples)

    def views(image):
        image = tf.cast(image, tf.float32)
        if image.shape[-1] == 1 and channels == 3:
            image = tf.image.grayscale_to_rgb(image)
        if mode == "center":
            return [augment.center_crop(augment.resize_shorter_side(image, resize_side),
                                        image_size)[None]]
        if mode == "ten_crop":
            return [ten_crops(augment.resize_shorter_side(image, resize_side), image_size)]
        return [augment.resize_shorter_side(image, side)[None] for side in scales]

    total = top1 = top5 = 0
    for image, label in dataset:
        scores = [tf.reduce_mean(tf.cast(net(normalization(view), training=False), tf.float32),
                                 axis=0) for view in views(image)]
        probabilities = tf.reduce_mean(tf.stack(scores), axis=0).numpy()
        ranked = np.argsort(-probabilities)
        label = int(label)
        total += 1
        top1 += int(ranked[0] == label)
        top5 += int(label in ranked[:5])
    if total == 0:
        raise ValueError(f"dataset={source.name!r} ({source.split}) has no readable images.")
    return {"top1": top1 / total, "top5": top5 / total, "examples": total}


__all__ = ["evaluate_model", "ten_crops", "fully_convolutional", "with_input_size", "MODES",
           "PAPER_SCALES"]
