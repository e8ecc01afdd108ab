"""Input preprocessing: the normalizations that pretrained weights expect.

- "torch": scale to [0, 1], subtract ImageNet mean (0.485, 0.456, 0.406) and divide by
  std (0.229, 0.224, 0.225) per RGB channel. torchvision weights and our own training.
- "caffe": RGB -> BGR, subtract (103.939, 116.779, 123.68); no scaling.
  keras.applications.resnet50 weights (our "*_v1" variants).
- "tf": scale to [-1, 1]. keras.applications ResNet V2 weights.
"""

import numpy as np
from keras import ops

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
MODES = ("torch", "caffe", "tf")


def normalization(mode="torch"):
    """(mean, std) in the 0..255 pixel scale, per input channel in RGB order, such that
    `preprocess_input(x, mode) == (x[..., order] - mean) / std`; "caffe" also reverses
    the channel order (see `channel_order`)."""
    if mode == "torch":
        return tuple(255.0 * m for m in IMAGENET_MEAN), tuple(255.0 * s for s in IMAGENET_STD)
    if mode == "caffe":
        return CAFFE_MEAN_BGR, (1.0, 1.0, 1.0)
    if mode == "tf":
        return (127.5, 127.5, 127.5), (127.5, 127.5, 127.5)
    raise ValueError(f"Unknown preprocessing mode={mode!r}. Allowed values: {list(MODES)}.")


def channel_order(mode="torch"):
    """"BGR" for caffe mode, "RGB" otherwise."""
    normalization(mode)
    return "BGR" if mode == "caffe" else "RGB"


def preprocess_input(x, data_format=None, mode="torch"):
    """Preprocesses a batch of RGB images with values in [0, 255].

    Like `keras.applications.resnet50.preprocess_input`, which is `mode="caffe"`; our
    default is "torch" because our default ImageNet variants follow torchvision.

    Args:
        x: array or tensor, (..., H, W, C) RGB in [0, 255] (channels_last).
        data_format: only "channels_last" (or None) is supported.
        mode: "torch", "caffe" or "tf". Defaults to "torch".

    Returns:
        Array or tensor of floats, same shape. NumPy input gives NumPy output.
    """
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"Unsupported data_format={data_format!r}. Allowed values: [None, 'channels_last']."
        )
    mean, std = normalization(mode)
    if isinstance(x, np.ndarray):
        x = x.astype("float32", copy=True)
        if mode == "caffe":
            x = x[..., ::-1]
        return (x - np.asarray(mean, "float32")) / np.asarray(std, "float32")
    x = ops.cast(x, "float32")
    if mode == "caffe":
        x = ops.flip(x, axis=-1)
    return (x - ops.convert_to_tensor(mean, "float32")) / ops.convert_to_tensor(std, "float32")
