"""Automatic augmentation policies: TrivialAugment Wide, RandAugment and AutoAugment.

Each policy runs inside the tf.data pipeline on one float32 (H, W, 3) image in the
0..255 pixel scale, after the crop and flip and before normalization, with a stateless
seed per example (so `--deterministic` runs repeat exactly and map parallelism does not
change the result). The definitions follow the implementations the published recipes
used:

- "trivialaugment": torchvision's `TrivialAugmentWide` (`transforms/autoaugment.py`,
  used by torchvision's ResNet-50 IMAGENET1K_V2 recipe): one op drawn uniformly from 14,
  a magnitude drawn uniformly from 31 bins, negated with probability 1/2 for signed ops,
  nearest interpolation, fill 0.
- "randaugment": timm's `rand-m{M}-mstd{S}-inc1` (`timm/data/auto_augment.py`, used by
  "ResNet strikes back"): 2 ops drawn with replacement from the 15 "increasing" ops,
  each applied with probability 0.5, magnitude ~ Normal(M, S) clipped to [0, 10],
  bilinear interpolation, fill = the ImageNet mean.
- "autoaugment": timm's "original" ImageNet policy (Cubuk et al. 2018, 25 sub-policies
  of two (op, probability, magnitude) each).

Keras 3 has `keras.layers.RandAugment`, but its op set, magnitude scale (a `factor` in
[0, 1] with no magnitude noise) and stateful seeding do not match timm's policy, and
Keras has no TrivialAugment Wide or AutoAugment, so the ops are written here in
TensorFlow. `OPS_OF` and `MAGNITUDE_RANGES` state each policy's op set and argument
ranges; the tests check every applied op against them.
"""

import math

import numpy as np
import tensorflow as tf

POLICIES = ("none", "trivialaugment", "randaugment", "autoaugment")
IMAGENET_MEAN_PIXEL = (124.0, 116.0, 104.0)  # timm's fill: IMAGENET_DEFAULT_MEAN x 255
RAND_LEVEL_DENOM = 10.0  # timm: magnitude M is a level out of 10

# torchvision TrivialAugmentWide._augmentation_space(num_bins=31): (op, bins, signed).
TRIVIAL_BINS = 31
_TRIVIAL_SPACE = (
    ("Identity", None, False),
    ("ShearX", np.linspace(0.0, 0.99, TRIVIAL_BINS), True),
    ("ShearY", np.linspace(0.0, 0.99, TRIVIAL_BINS), True),
    ("TranslateX", np.linspace(0.0, 32.0, TRIVIAL_BINS), True),
    ("TranslateY", np.linspace(0.0, 32.0, TRIVIAL_BINS), True),
    ("Rotate", np.linspace(0.0, 135.0, TRIVIAL_BINS), True),
    ("Brightness", np.linspace(0.0, 0.99, TRIVIAL_BINS), True),
    ("Color", np.linspace(0.0, 0.99, TRIVIAL_BINS), True),
    ("Contrast", np.linspace(0.0, 0.99, TRIVIAL_BINS), True),
    ("Sharpness", np.linspace(0.0, 0.99, TRIVIAL_BINS), True),
    ("Posterize", 8 - np.round(np.arange(TRIVIAL_BINS) / ((TRIVIAL_BINS - 1) / 6)), False),
    ("Solarize", np.linspace(255.0, 0.0, TRIVIAL_BINS), False),
    ("AutoContrast", None, False),
    ("Equalize", None, False),
)
# timm _RAND_INCREASING_TRANSFORMS.
_RAND_INCREASING = ("AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing",
                    "SolarizeIncreasing", "SolarizeAdd", "ColorIncreasing",
                    "ContrastIncreasing", "BrightnessIncreasing", "SharpnessIncreasing",
                    "ShearX", "ShearY", "TranslateXRel", "TranslateYRel")
# timm auto_augment_policy_original: [(op, probability, magnitude level), x2] x 25.
_AUTO_ORIGINAL = (
    (("PosterizeOriginal", 0.4, 8), ("Rotate", 0.6, 9)),
    (("Solarize", 0.6, 5), ("AutoContrast", 0.6, 5)),
    (("Equalize", 0.8, 8), ("Equalize", 0.6, 3)),
    (("PosterizeOriginal", 0.6, 7), ("PosterizeOriginal", 0.6, 6)),
    (("Equalize", 0.4, 7), ("Solarize", 0.2, 4)),
    (("Equalize", 0.4, 4), ("Rotate", 0.8, 8)),
    (("Solarize", 0.6, 3), ("Equalize", 0.6, 7)),
    (("PosterizeOriginal", 0.8, 5), ("Equalize", 1.0, 2)),
    (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
    (("Equalize", 0.6, 8), ("PosterizeOriginal", 0.4, 6)),
    (("Rotate", 0.8, 8), ("Color", 0.4, 0)),
    (("Rotate", 0.4, 9), ("Equalize", 0.6, 2)),
    (("Equalize", 0.0, 7), ("Equalize", 0.8, 8)),
    (("Invert", 0.6, 4), ("Equalize", 1.0, 8)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
    (("Color", 0.8, 8), ("Solarize", 0.8, 7)),
    (("Sharpness", 0.4, 7), ("Invert", 0.6, 8)),
    (("ShearX", 0.6, 5), ("Equalize", 1.0, 9)),
    (("Color", 0.4, 0), ("Equalize", 0.6, 3)),
    (("Equalize", 0.4, 7), ("Solarize", 0.2, 4)),
    (("Solarize", 0.6, 5), ("AutoContrast", 0.6, 5)),
    (("Invert", 0.6, 4), ("Equalize", 1.0, 8)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Equalize", 0.8, 8), ("Equalize", 0.6, 3)),
)

OPS_OF = {
    "trivialaugment": tuple(name for name, _, _ in _TRIVIAL_SPACE),
    "randaugment": _RAND_INCREASING,
    "autoaugment": tuple(sorted({op for sub in _AUTO_ORIGINAL for op, _, _ in sub})),
}
# Range of the argument each op receives, per policy (signed ops span [-hi, hi]).
MAGNITUDE_RANGES = {
    "trivialaugment": {name: ((-float(b.max()) if signed else float(b.min())), float(b.max()))
                       for name, b, signed in _TRIVIAL_SPACE if b is not None},
    "randaugment": {"Rotate": (-30.0, 30.0), "ShearX": (-0.3, 0.3), "ShearY": (-0.3, 0.3),
                    "TranslateXRel": (-0.45, 0.45), "TranslateYRel": (-0.45, 0.45),
                    "PosterizeIncreasing": (0.0, 4.0), "SolarizeIncreasing": (0.0, 256.0),
                    "SolarizeAdd": (0.0, 110.0), "ColorIncreasing": (0.1, 1.9),
                    "ContrastIncreasing": (0.1, 1.9), "BrightnessIncreasing": (0.1, 1.9),
                    "SharpnessIncreasing": (0.1, 1.9)},
}


def check_policy(policy):
    if policy not in POLICIES:
        raise ValueError(f"Unknown auto_augment={policy!r}. Allowed values: {list(POLICIES)}.")
    return policy


# ------------------------------------------------------------------------------ ops
def _gray(image):
    """ITU-R 601-2 luma, as PIL's convert("L") and torchvision's rgb_to_grayscale."""
    return tf.reduce_sum(image * tf.constant([0.299, 0.587, 0.114]), -1, keepdims=True)


def _blend(image, other, factor):
    """PIL ImageEnhance: other + factor * (image - other), clipped to 0..255."""
    return tf.clip_by_value(other + factor * (image - other), 0.0, 255.0)


def _transform(image, matrix, interpolation, fill):
    """Applies the 3x3 inverse map `matrix` (output pixel -> input pixel) with `fill`
    outside the image; the fill is per channel, so the transform runs with a mask."""
    flat = tf.reshape(matrix, [9])[:8][None]
    shape = tf.shape(image)[:2]
    ones = tf.ones_like(image[..., :1])
    stacked = tf.concat([image, ones], -1)[None]
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=stacked, transforms=tf.cast(flat, tf.float32), output_shape=shape,
        interpolation=interpolation, fill_mode="CONSTANT", fill_value=0.0)[0]
    mask = out[..., -1:]
    return out[..., :-1] + (1.0 - mask) * tf.constant(fill, tf.float32)


def _affine(image, a, b, c, d, e, f, interpolation, fill):
    matrix = tf.stack([a, b, c, d, e, f, 0.0, 0.0, 1.0])
    return _transform(image, matrix, interpolation, fill)


def shear_x(image, m, interpolation="NEAREST", fill=(0.0, 0.0, 0.0)):
    """Shear with factor `m` about the top-left corner (torchvision: center=[0, 0])."""
    m = tf.cast(m, tf.float32)
    return _affine(image, 1.0, m, 0.0, 0.0, 1.0, 0.0, interpolation, fill)


def shear_y(image, m, interpolation="NEAREST", fill=(0.0, 0.0, 0.0)):
    m = tf.cast(m, tf.float32)
    return _affine(image, 1.0, 0.0, 0.0, m, 1.0, 0.0, interpolation, fill)


def translate_x(image, pixels, interpolation="NEAREST", fill=(0.0, 0.0, 0.0)):
    pixels = tf.cast(pixels, tf.float32)
    return _affine(image, 1.0, 0.0, -pixels, 0.0, 1.0, 0.0, interpolation, fill)


def translate_y(image, pixels, interpolation="NEAREST", fill=(0.0, 0.0, 0.0)):
    pixels = tf.cast(pixels, tf.float32)
    return _affine(image, 1.0, 0.0, 0.0, 0.0, 1.0, -pixels, interpolation, fill)


def rotate(image, degrees, interpolation="NEAREST", fill=(0.0, 0.0, 0.0)):
    """Rotation by `degrees` counter-clockwise about the image center (torchvision's
    and PIL's direction)."""
    # The transform maps output pixels to input pixels in (x right, y down)
    # coordinates, where the inverse of a counter-clockwise turn has this angle.
    angle = -tf.cast(degrees, tf.float32) * (math.pi / 180.0)
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    cy, cx = (shape[0] - 1.0) / 2.0, (shape[1] - 1.0) / 2.0
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Inverse map: input = R^-1 (output - center) + center.
    return _affine(image, cos, sin, cx - cos * cx - sin * cy,
                   -sin, cos, cy + sin * cx - cos * cy, interpolation, fill)


def brightness(image, factor):
    return _blend(image, tf.zeros_like(image), factor)


def color(image, factor):
    return _blend(image, _gray(image), factor)


def contrast(image, factor):
    mean = tf.reduce_mean(_gray(image))
    return _blend(image, tf.fill(tf.shape(image), mean), factor)


def sharpness(image, factor):
    """PIL's SMOOTH kernel blend; the 1-pixel border keeps the original pixels."""
    kernel = tf.constant([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, 3, 1])
    smooth = tf.nn.depthwise_conv2d(image[None], kernel, [1, 1, 1, 1], "VALID")[0]
    smooth = tf.round(smooth)
    smooth = tf.pad(smooth - image[1:-1, 1:-1], [[1, 1], [1, 1], [0, 0]]) + image
    return _blend(image, smooth, factor)


def posterize(image, bits):
    """Keeps the `bits` most significant bits of each 8-bit value."""
    shift = 8.0 - tf.cast(bits, tf.float32)
    step = tf.pow(2.0, shift)
    return tf.floor(tf.floor(image) / step) * step


def solarize(image, threshold):
    """Inverts the pixels at or above `threshold`."""
    return tf.where(image >= tf.cast(threshold, tf.float32), 255.0 - image, image)


def solarize_add(image, addition, threshold=128.0):
    added = tf.minimum(image + tf.cast(addition, tf.float32), 255.0)
    return tf.where(image < threshold, added, image)


def invert(image):
    return 255.0 - image


def auto_contrast(image):
    """Stretches each channel from its min..max to 0..255 (flat channels unchanged)."""
    low = tf.reduce_min(image, axis=[0, 1], keepdims=True)
    high = tf.reduce_max(image, axis=[0, 1], keepdims=True)
    scale = tf.where(high > low, 255.0 / tf.maximum(high - low, 1e-6), 1.0)
    offset = tf.where(high > low, low, 0.0)
    return tf.clip_by_value((image - offset) * scale, 0.0, 255.0)


def _equalize_channel(channel):
    """PIL ImageOps.equalize on one uint8-valued channel."""
    values = tf.cast(tf.clip_by_value(tf.floor(channel), 0, 255), tf.int32)
    histogram = tf.math.bincount(tf.reshape(values, [-1]), minlength=256, maxlength=256)
    nonzero = tf.boolean_mask(histogram, histogram > 0)
    step = (tf.reduce_sum(histogram) - nonzero[-1]) // 255

    def equalized():
        lut = (tf.cumsum(histogram, exclusive=True) + step // 2) // tf.maximum(step, 1)
        return tf.cast(tf.gather(tf.clip_by_value(lut, 0, 255), values), tf.float32)

    return tf.cond(step > 0, equalized, lambda: channel)


def equalize(image):
    return tf.stack([_equalize_channel(image[..., c]) for c in range(3)], -1)


# ----------------------------------------------------------------------- policies
def _uniform_int(seed, high):
    return tf.random.stateless_uniform([], seed, 0, high, dtype=tf.int32)


def _uniform(seed):
    return tf.random.stateless_uniform([], seed)


def _sign(seed):
    return tf.where(_uniform(seed) < 0.5, -1.0, 1.0)


def _trivial_op(name, image, magnitude):
    geometric = dict(interpolation="NEAREST", fill=(0.0, 0.0, 0.0))
    return {
        "Identity": lambda: image,
        "ShearX": lambda: shear_x(image, magnitude, **geometric),
        "ShearY": lambda: shear_y(image, magnitude, **geometric),
        "TranslateX": lambda: translate_x(image, magnitude, **geometric),
        "TranslateY": lambda: translate_y(image, magnitude, **geometric),
        "Rotate": lambda: rotate(image, magnitude, **geometric),
        "Brightness": lambda: brightness(image, 1.0 + magnitude),
        "Color": lambda: color(image, 1.0 + magnitude),
        "Contrast": lambda: contrast(image, 1.0 + magnitude),
        "Sharpness": lambda: sharpness(image, 1.0 + magnitude),
        "Posterize": lambda: posterize(image, magnitude),
        "Solarize": lambda: solarize(image, magnitude),
        "AutoContrast": lambda: auto_contrast(image),
        "Equalize": lambda: equalize(image),
    }[name]()


def trivial_augment_args(seed):
    """(op index, magnitude) that TrivialAugment Wide draws for `seed`."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    index = _uniform_int(seeds[0], len(_TRIVIAL_SPACE))
    bins = np.stack([np.zeros(TRIVIAL_BINS) if b is None else b
                     for _, b, _ in _TRIVIAL_SPACE]).astype("float32")
    signed = np.array([s for _, _, s in _TRIVIAL_SPACE], bool)
    magnitude = tf.gather(tf.gather(bins, index), _uniform_int(seeds[1], TRIVIAL_BINS))
    magnitude = tf.where(tf.gather(signed, index), magnitude * _sign(seeds[2]), magnitude)
    return index, magnitude


def trivial_augment(image, seed):
    """torchvision TrivialAugmentWide on a float32 (H, W, 3) image in 0..255."""
    index, magnitude = trivial_augment_args(seed)
    branches = [lambda name=name: _trivial_op(name, image, magnitude)
                for name, _, _ in _TRIVIAL_SPACE]
    return tf.switch_case(index, branches)


def _level_arg(name, level, seed):
    """timm's LEVEL_TO_ARG for `level` in [0, 10]; signs drawn from `seed`."""
    fraction = level / RAND_LEVEL_DENOM
    sign = _sign(seed)
    table = {
        "Rotate": lambda: fraction * 30.0 * sign,
        "ShearX": lambda: fraction * 0.3 * sign,
        "ShearY": lambda: fraction * 0.3 * sign,
        "TranslateXRel": lambda: fraction * 0.45 * sign,
        "TranslateYRel": lambda: fraction * 0.45 * sign,
        "PosterizeIncreasing": lambda: 4.0 - tf.floor(fraction * 4.0),
        "PosterizeOriginal": lambda: tf.floor(fraction * 4.0) + 4.0,
        "Solarize": lambda: tf.minimum(256.0, tf.floor(fraction * 256.0)),
        "SolarizeIncreasing": lambda: 256.0 - tf.minimum(256.0, tf.floor(fraction * 256.0)),
        "SolarizeAdd": lambda: tf.minimum(128.0, tf.floor(fraction * 110.0)),
        "Color": lambda: fraction * 1.8 + 0.1,
        "Contrast": lambda: fraction * 1.8 + 0.1,
        "Sharpness": lambda: fraction * 1.8 + 0.1,
    }
    for name_ in ("Color", "Contrast", "Brightness", "Sharpness"):
        table[name_ + "Increasing"] = lambda: tf.maximum(0.1, 1.0 + fraction * 0.9 * sign)
    return table[name]() if name in table else tf.constant(0.0)


def _timm_op(name, image, arg):
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    geometric = dict(interpolation="BILINEAR", fill=IMAGENET_MEAN_PIXEL)
    base = name.replace("Increasing", "").replace("Original", "")
    return {
        "AutoContrast": lambda: auto_contrast(image),
        "Equalize": lambda: equalize(image),
        "Invert": lambda: invert(image),
        "Rotate": lambda: rotate(image, arg, **geometric),
        "Posterize": lambda: posterize(image, arg),
        "Solarize": lambda: solarize(image, arg),
        "SolarizeAdd": lambda: solarize_add(image, arg),
        "Color": lambda: color(image, arg),
        "Contrast": lambda: contrast(image, arg),
        "Brightness": lambda: brightness(image, arg),
        "Sharpness": lambda: sharpness(image, arg),
        "ShearX": lambda: shear_x(image, arg, **geometric),
        "ShearY": lambda: shear_y(image, arg, **geometric),
        "TranslateXRel": lambda: translate_x(image, arg * shape[1], **geometric),
        "TranslateYRel": lambda: translate_y(image, arg * shape[0], **geometric),
    }[base]()


def rand_augment_args(seed, magnitude, magnitude_std, num_layers=2):
    """The ops (indices into OPS_OF["randaugment"]), whether each applies, and their
    arguments, as timm's RandAugment draws them for `seed`."""
    ops, applied, args = [], [], []
    for layer_seed in tf.unstack(tf.random.experimental.stateless_split(seed, num_layers)):
        seeds = tf.random.experimental.stateless_split(layer_seed, 4)
        index = _uniform_int(seeds[0], len(_RAND_INCREASING))
        level = tf.constant(float(magnitude))
        if magnitude_std > 0:
            level = level + magnitude_std * tf.random.stateless_normal([], seeds[1])
        level = tf.clip_by_value(level, 0.0, RAND_LEVEL_DENOM)
        arg = tf.switch_case(index, [lambda n=n, m=level, s=seeds[2]: _level_arg(n, m, s)
                                     for n in _RAND_INCREASING])
        ops.append(index)
        applied.append(_uniform(seeds[3]) < 0.5)
        args.append(arg)
    return ops, applied, args


def rand_augment(image, seed, magnitude=9, magnitude_std=0.5, num_layers=2):
    """timm's rand-m{magnitude}-mstd{magnitude_std}-inc1 on a float32 (H, W, 3) image."""
    for index, apply, arg in zip(*rand_augment_args(seed, magnitude, magnitude_std,
                                                    num_layers)):
        branches = [lambda n=n, x=image, a=arg: _timm_op(n, x, a) for n in _RAND_INCREASING]
        image = tf.cond(apply, lambda b=branches, i=index: tf.switch_case(i, b),
                        lambda x=image: x)
    return image


def auto_augment(image, seed):
    """timm's "original" AutoAugment ImageNet policy on a float32 (H, W, 3) image."""
    seeds = tf.random.experimental.stateless_split(seed, 5)
    index = _uniform_int(seeds[0], len(_AUTO_ORIGINAL))

    def sub_policy(steps):
        out = image
        for k, (name, probability, level) in enumerate(steps):
            arg = _level_arg(name, tf.constant(float(level)), seeds[1 + 2 * k])
            applied = _timm_op(name, out, arg)
            out = tf.where(_uniform(seeds[2 + 2 * k]) < probability, applied, out)
        return out

    return tf.switch_case(index, [lambda s=s: sub_policy(s) for s in _AUTO_ORIGINAL])


def apply_policy(image, policy, seed, *, magnitude=9, magnitude_std=0.5):
    """Applies `policy` (one of POLICIES) to a float32 (H, W, 3) image in 0..255."""
    if policy == "none":
        return image
    if policy == "trivialaugment":
        out = trivial_augment(image, seed)
    elif policy == "randaugment":
        out = rand_augment(image, seed, magnitude, magnitude_std)
    else:
        out = auto_augment(image, seed)
    out.set_shape(image.shape)
    return out
