"""Image augmentation and evaluation crops on uint8/float (H, W, C) tensors.

Modes (a recipe picks one):
- "imagenet": train = random-resized crop (scale 0.08..1, aspect 3/4..4/3) to `size` +
  horizontal flip; eval = resize the shorter side to size/0.875 + center crop `size`.
- "cifar": train = resize to `size`, pad 4 pixels with zeros, random `size` crop,
  horizontal flip; eval = resize to `size`.
- "shift": "cifar" without the flip (digits and text are not mirror-symmetric).
- "none": resize to `size` for both.

`eval_transform(..., resize_side=R)` replaces any mode's evaluation view with "resize the
shorter side to R + center crop `size`", the test-time view of torchvision's references
(`--val-resize-size 232 --val-crop-size 224`) and timm (resize floor(size / crop_pct)).
"""

import math

import tensorflow as tf

MODES = ("imagenet", "cifar", "shift", "none")
EVAL_CROP_FRACTION = 0.875


def check_mode(mode):
    if mode not in MODES:
        raise ValueError(f"Unknown augment={mode!r}. Allowed values: {list(MODES)}.")
    return mode


def resize(image, size):
    """Resizes to (size, size) with bilinear filtering (antialiased when shrinking)."""
    return tf.image.resize(image, (size, size), antialias=True)


def resize_shorter_side(image, side):
    """Resizes so that the shorter side equals `side`, keeping the aspect ratio."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(side, tf.float32) / tf.reduce_min(shape)
    new = tf.cast(tf.round(shape * scale), tf.int32)
    return tf.image.resize(image, new, antialias=True)


def center_crop(image, size):
    """The central (size, size) window; the image must be at least that large."""
    shape = tf.shape(image)
    top = (shape[0] - size) // 2
    left = (shape[1] - size) // 2
    return image[top:top + size, left:left + size]


def random_resized_crop(image, size, seed, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """Inception-style crop: a random box of `scale` area and `ratio` aspect, resized."""
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]), seed=seed,
        min_object_covered=0.0, aspect_ratio_range=ratio, area_range=scale,
        max_attempts=10, use_image_if_no_bounding_boxes=True)
    crop = tf.slice(image, begin, crop_size)
    # tf.slice with a tensor size loses the static channel count, which the model's
    # input check needs.
    crop.set_shape([None, None, image.shape[-1]])
    return resize(crop, size)


def pad_and_crop(image, size, seed, pad=4):
    """Zero-pads `pad` pixels on each side, then takes a random (size, size) crop."""
    image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    return tf.image.stateless_random_crop(image, (size, size, tf.shape(image)[-1]), seed=seed)


def train_transform(image, mode, size, seed):
    """Training augmentation: float32 (size, size, C) in the 0..255 pixel scale.

    Args:
        image: uint8 or float tensor (H, W, C).
        mode: str. One of `MODES`.
        size: int. Output side.
        seed: int32 tensor of shape (2,). Stateless seed of this example.
    """
    image = tf.cast(image, tf.float32)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    if mode == "imagenet":
        image = random_resized_crop(image, size, seeds[0])
    else:
        image = resize(image, size)
        if mode in ("cifar", "shift"):
            image = pad_and_crop(image, size, seeds[0])
    if mode in ("imagenet", "cifar"):
        image = tf.image.stateless_random_flip_left_right(image, seeds[1])
    return image


def eval_transform(image, mode, size, resize_side=None):
    """Evaluation view: float32 (size, size, C) in the 0..255 pixel scale.

    Args:
        image: uint8 or float tensor (H, W, C).
        mode: str. One of `MODES`.
        size: int. Output side (the center crop).
        resize_side: int or None. Shorter side the image is resized to before the
            center crop, in every mode. None: the mode's own view (see the module docstring).
            Defaults to None.
    """
    image = tf.cast(image, tf.float32)
    if resize_side is not None:
        return center_crop(resize_shorter_side(image, resize_side), size)
    if mode == "imagenet":
        side = tf.cast(tf.math.ceil(size / EVAL_CROP_FRACTION), tf.int32)
        return center_crop(resize_shorter_side(image, side), size)
    return resize(image, size)


def random_erase(image, probability, seed, scale=(0.02, 0.33), ratio=(0.3, 3.3),
                 attempts=10):
    """torchvision's RandomErasing(p=probability, value=0) on a normalized (H, W, C) image.

    With `probability`, a box of area scale x H x W and aspect ratio in `ratio`
    (log-uniform) is set to 0, the mean after normalization. As torchvision, up to
    `attempts` boxes are drawn and the first that fits is used; none fitting leaves the
    image unchanged.
    """
    if probability <= 0:
        return image
    seeds = tf.random.experimental.stateless_split(seed, 5)
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    area = tf.cast(height * width, tf.float32)
    target = area * tf.random.stateless_uniform([attempts], seeds[0], scale[0], scale[1])
    log_ratio = tf.random.stateless_uniform([attempts], seeds[1], math.log(ratio[0]),
                                            math.log(ratio[1]))
    aspect = tf.exp(log_ratio)
    box_h = tf.cast(tf.round(tf.sqrt(target * aspect)), tf.int32)
    box_w = tf.cast(tf.round(tf.sqrt(target / aspect)), tf.int32)
    fits = (box_h < height) & (box_w < width)
    first = tf.argmax(tf.cast(fits, tf.int32), output_type=tf.int32)
    box_h, box_w = box_h[first], box_w[first]
    top = tf.random.stateless_uniform([], seeds[2], 0, tf.maximum(height - box_h + 1, 1),
                                      dtype=tf.int32)
    left = tf.random.stateless_uniform([], seeds[3], 0, tf.maximum(width - box_w + 1, 1),
                                       dtype=tf.int32)
    rows = tf.range(height)[:, None]
    cols = tf.range(width)[None, :]
    inside = (rows >= top) & (rows < top + box_h) & (cols >= left) & (cols < left + box_w)
    erase = (tf.random.stateless_uniform([], seeds[4]) < probability) & tf.reduce_any(fits)
    mask = tf.cast(inside & erase, image.dtype)[..., None]
    return image * (1.0 - mask)
