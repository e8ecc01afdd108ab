"""SavedModel export: a `serving_default` signature with a named input and output and
a dynamic batch dimension, plus an optional `serving_uint8` signature that takes raw
uint8 pixels and applies the model's preprocessing inside the graph.

`write_pixels` writes the source the raw-pixel full-integer TFLite model is converted
from (see `keras_resnet.export.tflite`); it is not an artifact."""

import numpy as np
import tensorflow as tf

from keras_resnet.export.runtime import check_threads

DEFAULT_SIGNATURE = "serving_default"
UINT8_SIGNATURE = "serving_uint8"
UINT8_INPUT_NAME = "images"


def preprocess_uint8(images, preprocessing):
    """Raw RGB pixels (uint8) -> the model's input: cast, optional RGB->BGR flip,
    (x - mean) / std, with mean and std in the 0..255 pixel scale."""
    x = tf.cast(images, tf.float32)
    if preprocessing.get("channel_order", "RGB").upper() == "BGR":
        x = tf.reverse(x, axis=[-1])
    mean = tf.constant(preprocessing["mean"], tf.float32)
    std = tf.constant(preprocessing["std"], tf.float32)
    return (x - mean) / std


def preprocess_uint8_numpy(images, preprocessing):
    """NumPy twin of `preprocess_uint8`, the reference for parity."""
    x = np.asarray(images, np.float32)
    if preprocessing.get("channel_order", "RGB").upper() == "BGR":
        x = x[..., ::-1]
    return ((x - np.asarray(preprocessing["mean"], np.float32))
            / np.asarray(preprocessing["std"], np.float32)).astype(np.float32)


def normalize_as_conv(pixels, preprocessing):
    """Float pixels 0..255 -> the model's input, as `preprocess_uint8` computes it but
    in one 1x1 convolution: its weights hold the channel order (RGB->BGR) and 1 / std,
    its bias -mean / std.

    This is how `write_pixels` normalizes, for the full-integer TFLite converter: a
    convolution takes its input at any scale (per-channel int8 weights, int32 bias),
    so the model stays integer from the uint8 pixels on. `x - mean` as a SUB made the
    converter give the pixels a scale of its own (1.485, zero point -45) next to the
    FakeQuant's (1, -128) and bridge the two in float: a DEQUANTIZE / QUANTIZE pair.
    Each output channel has one nonzero weight, which quantizes exactly (127).
    """
    std = np.asarray(preprocessing["std"], np.float32)
    mean = np.asarray(preprocessing["mean"], np.float32)
    channels = len(std)
    bgr = preprocessing.get("channel_order", "RGB").upper() == "BGR"
    kernel = np.zeros((1, 1, channels, channels), np.float32)
    for out in range(channels):
        kernel[0, 0, channels - 1 - out if bgr else out, out] = 1.0 / std[out]
    return tf.nn.bias_add(tf.nn.conv2d(pixels, kernel, strides=1, padding="VALID"),
                          -mean / std)


def pixels_from_inputs(x, preprocessing):
    """Raw RGB pixels (uint8) whose preprocessing gives back (about) the normalized
    model inputs `x`: the inverse of `preprocess_uint8_numpy`, rounded and clipped."""
    raw = (np.asarray(x, np.float32) * np.asarray(preprocessing["std"], np.float32)
           + np.asarray(preprocessing["mean"], np.float32))
    if preprocessing.get("channel_order", "RGB").upper() == "BGR":
        raw = raw[..., ::-1]
    return np.clip(np.round(raw), 0, 255).astype(np.uint8)


def _module(model):
    # A plain tf.Module rather than keras.export.ExportArchive: in Keras 3.15 the
    # archive tracks every variable twice, doubling the size of variables/.
    module = tf.Module()
    module.model_variables = [variable.value for variable in model.variables]
    return module


def write_pixels(model, path, *, preprocessing, output_name):
    """Writes a SavedModel whose `serving_default` takes raw RGB pixels as float32
    0..255 (input `images`) and applies `preprocessing` in the graph.

    A FakeQuant(0, 255) on the input pins its quantization when TFLite converts it to
    full integer with a uint8 input: scale 1, zero point 0, so the uint8 input is the
    camera's pixels themselves. Calibrated on the pixels alone, the range would be the
    data's (e.g. 10..240, scale 0.9), and every app would have to rescale its frames.
    The normalization is one 1x1 convolution (`normalize_as_conv`), which keeps the
    converted model integer from the input on.
    """
    input_shape = (None,) + tuple(model.inputs[0].shape[1:])
    input_dtype = tf.as_dtype(model.inputs[0].dtype)
    module = _module(model)

    @tf.function(autograph=False, input_signature=[
        tf.TensorSpec(input_shape, tf.float32, name=UINT8_INPUT_NAME)])
    def serve(images):
        pinned = tf.quantization.fake_quant_with_min_max_args(images, 0.0, 255.0, num_bits=8)
        x = tf.cast(normalize_as_conv(pinned, preprocessing), input_dtype)
        return {output_name: tf.cast(model(x, training=False), tf.float32)}

    module.serve = serve
    tf.saved_model.save(module, path, signatures={DEFAULT_SIGNATURE: serve})
    return path


def write(model, path, *, input_name, output_name, preprocessing=None, uint8_input=False):
    """Writes `model` as a SavedModel at `path`.

    Args:
        model: keras.Model. Single input, single output.
        path: str. A folder that must not exist yet.
        input_name: str. Name of the `serving_default` input.
        output_name: str. Name of the output of every signature.
        preprocessing: dict or None. {"mean", "std", "channel_order"}; required when
            `uint8_input`. Defaults to None.
        uint8_input: bool. Also add the `serving_uint8` signature. Defaults to False.

    Returns:
        dict: the signatures written, {name: {"inputs": {...}, "outputs": {...}}}.
    """
    input_shape = (None,) + tuple(model.inputs[0].shape[1:])
    input_dtype = tf.as_dtype(model.inputs[0].dtype)
    module = _module(model)

    @tf.function(input_signature=[tf.TensorSpec(input_shape, input_dtype, name=input_name)],
                 autograph=False)
    def serve(x):
        # Cast so mixed-precision models still answer in float32.
        return {output_name: tf.cast(model(x, training=False), tf.float32)}

    module.serve = serve
    functions = {DEFAULT_SIGNATURE: serve}
    signatures = {DEFAULT_SIGNATURE: {"inputs": {input_name: input_dtype.name},
                                      "outputs": {output_name: "float32"}}}
    if uint8_input:
        @tf.function(autograph=False, input_signature=[
            tf.TensorSpec(input_shape, tf.uint8, name=UINT8_INPUT_NAME)])
        def serve_uint8(images):
            x = tf.cast(preprocess_uint8(images, preprocessing), input_dtype)
            return {output_name: tf.cast(model(x, training=False), tf.float32)}

        module.serve_uint8 = serve_uint8
        functions[UINT8_SIGNATURE] = serve_uint8
        signatures[UINT8_SIGNATURE] = {"inputs": {UINT8_INPUT_NAME: "uint8"},
                                       "outputs": {output_name: "float32"}}
    tf.saved_model.save(module, path, signatures=functions)
    return signatures


def run(path, x, *, signature=DEFAULT_SIGNATURE):
    """Loads the SavedModel at `path` in TensorFlow and runs `signature` on `x`.

    Returns:
        NumPy array: the (single) output.
    """
    return load_signature(path, signature)(x)


def _set_threads(threads):
    """Sets TensorFlow's intra-op thread count, which is per process and fixed once
    the runtime has started: a different count afterwards is an error, not ignored."""
    if check_threads(threads) is None:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError as error:
        current = tf.config.threading.get_intra_op_parallelism_threads()
        if current != threads:
            raise RuntimeError(
                f"threads={threads} cannot apply: TensorFlow's runtime already started "
                f"with intra-op threads={current or 'default'}; load in a fresh "
                "process.") from error


def load_signature(path, signature, *, threads=None):
    """Loads the SavedModel at `path` once; returns `predict(x)` running `signature`
    (see `load`)."""
    _set_threads(threads)
    loaded = tf.saved_model.load(path)
    if signature not in loaded.signatures:
        raise ValueError(f"signature={signature!r} is not in the SavedModel at {path!r}; "
                         f"it has {sorted(loaded.signatures)}.")
    function = loaded.signatures[signature]
    (input_name,) = function.structured_input_signature[1]

    def predict(x):
        # `loaded` stays referenced here: the signature's variables live in it.
        outputs = loaded.signatures[signature](**{input_name: tf.constant(x)})
        (output,) = outputs.values()
        return output.numpy()

    return predict


def load(path, *, threads=None):
    """Loads the SavedModel at `path` once for repeated prediction.

    Args:
        path: str. A SavedModel folder.
        threads: int or None. TensorFlow intra-op threads (per process, so only
            before TensorFlow's runtime starts). Defaults to None (TensorFlow's choice).

    Returns:
        callable: `predict(x: np.ndarray) -> np.ndarray` on `serving_default`.
    """
    return load_signature(path, DEFAULT_SIGNATURE, threads=threads)


def describe(path):
    """Signatures of the SavedModel at `path`: {name: {"inputs": {name: dtype},
    "outputs": {name: dtype}}}, as `write` returns them."""
    loaded = tf.saved_model.load(path)
    described = {}
    for name, function in sorted(loaded.signatures.items()):
        inputs = function.structured_input_signature[1]
        described[name] = {
            "inputs": {key: spec.dtype.name for key, spec in inputs.items()},
            "outputs": {key: spec.dtype.name
                        for key, spec in function.structured_outputs.items()}}
    return described
