"""TFLite (LiteRT) export from the SavedModel, and inference with the LiteRT
interpreter (`ai_edge_litert`, not the deprecated `tf.lite.Interpreter`).

The converter reads the SavedModel's `serving_default` signature: Keras 3's
`TFLiteConverter.from_keras_model` path has known breakages.

Modes:
- "float32": plain conversion.
- "float16": weights stored in float16, computed in float32 (or fp16 on GPUs).
- "dynamic_int8": int8 weights, activations quantized on the fly; no calibration.
- "int8": full-integer; activations calibrated on a representative dataset; input
  and output int8, uint8, or float32 (quantize/dequantize inside) per `int8_io`.

Raw-pixel variants (`UINT8_MODES`, written with `uint8_input`): "float32" converts the
SavedModel's `serving_uint8` signature (uint8 in, cast and normalized in float); "int8"
converts `savedmodel.write_pixels`' graph with `uint8_input=True`: a uint8 input of
scale 1 and zero point 0, i.e. the pixels themselves, and the normalization quantized
with the rest as a 1x1 convolution, so no float tensor is left (the ops are a QUANTIZE
uint8 -> int8, then the convolutions; the output follows `int8_io`). These two because
the input is what differs: float16 and dynamic_int8 raw-pixel files would be the
float32 one with smaller weights, and a mobile app that wants small weights takes the
int8 one, which is also what integer-only accelerators (NNAPI, Edge TPU, Hexagon) run.
"""

import numpy as np
import tensorflow as tf

from keras_resnet.export.runtime import check_threads

MODES = ("float32", "float16", "dynamic_int8", "int8")
INT8_IO = ("float", "int8", "uint8")
PRECISION = {"float32": "float32", "float16": "float16", "dynamic_int8": "int8", "int8": "int8"}
UINT8_MODES = ("float32", "int8")


def check_modes(modes):
    """Validates `modes` (str or sequence); returns a tuple of unique modes."""
    if isinstance(modes, str):
        modes = [m.strip() for m in modes.split(",") if m.strip()]
    modes = tuple(dict.fromkeys(modes))
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f"Unknown TFLite mode(s) tflite_modes={list(modes)!r}. "
                         f"Allowed values: {list(MODES)}.")
    return modes


def convert(savedmodel_dir, mode, *, representative_data=None, int8_io="float",
            signature="serving_default", uint8_input=False):
    """Converts the SavedModel's `signature` to a TFLite flatbuffer.

    Args:
        savedmodel_dir: str. A SavedModel folder.
        mode: str. One of `MODES`.
        representative_data: float32 array (N, H, W, C) or None. Calibration samples,
            required by "int8". Defaults to None.
        int8_io: str. "float", "int8" or "uint8": input/output type of "int8".
            Defaults to "float".
        signature: str. Defaults to "serving_default".
        uint8_input: bool. "int8" only: a uint8 input whatever `int8_io` (which then
            sets the output type alone), for `savedmodel.write_pixels`' graph, whose
            `representative_data` are raw pixels 0..255. Defaults to False.

    Returns:
        bytes: the model.
    """
    check_modes([mode])
    if int8_io not in INT8_IO:
        raise ValueError(f"Unknown int8_io={int8_io!r}. Allowed values: {list(INT8_IO)}.")
    converter = tf.lite.TFLiteConverter.from_saved_model(savedmodel_dir,
                                                         signature_keys=[signature])
    if mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        if representative_data is None or len(representative_data) == 0:
            raise ValueError("TFLite mode 'int8' needs representative_data "
                             "(calibration samples); received none.")
        samples = np.asarray(representative_data, np.float32)

        def representative_dataset():
            for sample in samples:
                yield [sample[None]]

        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io != "float":
            converter.inference_input_type = getattr(tf, int8_io)
            converter.inference_output_type = getattr(tf, int8_io)
        if uint8_input:
            converter.inference_input_type = tf.uint8
    elif uint8_input:
        raise ValueError(f"uint8_input=True is for mode 'int8' (full integer); received "
                         f"mode={mode!r}, whose raw-pixel source is the 'serving_uint8' "
                         "signature.")
    return converter.convert()


def write(savedmodel_dir, path, mode, *, representative_data=None, int8_io="float",
          signature="serving_default", uint8_input=False):
    """Converts the SavedModel at `savedmodel_dir` (see `convert`) and writes the
    flatbuffer to `path` atomically; returns `path`."""
    from keras_resnet.io import atomic_write

    atomic_write(path, convert(savedmodel_dir, mode, representative_data=representative_data,
                               int8_io=int8_io, signature=signature,
                               uint8_input=uint8_input), mode="wb")
    return path


def _interpreter(path, num_threads=None):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=path, num_threads=num_threads)


def describe(path):
    """Input and output name, shape signature and dtype of the TFLite model at `path`."""
    interpreter = _interpreter(path)

    def info(detail):
        return {"name": detail["name"], "shape": [int(d) for d in detail["shape_signature"]],
                "dtype": np.dtype(detail["dtype"]).name,
                "quantization": [float(v) for v in detail["quantization"]]}

    return {"inputs": [info(d) for d in interpreter.get_input_details()],
            "outputs": [info(d) for d in interpreter.get_output_details()]}


def run(path, x, num_threads=None):
    """Runs the TFLite model at `path` on the float batch `x` with the LiteRT
    interpreter; integer inputs and outputs are (de)quantized with the model's own
    scale and zero point.

    Returns:
        float32 NumPy array.
    """
    return load(path, threads=num_threads)(x)


def load(path, *, threads=None):
    """Loads the TFLite model at `path` once into a LiteRT interpreter.

    Args:
        path: str. A .tflite file.
        threads: int or None. Interpreter threads. Defaults to None (LiteRT's choice).

    Returns:
        callable: `predict(x: np.ndarray) -> np.ndarray` taking a float batch (raw
        pixels for a uint8 input) and answering float32; quantized integer inputs and
        outputs are (de)quantized with the model's own scale and zero point, and an
        unquantized uint8 input (the float32 raw-pixel model's) is passed as it is.
        The interpreter is re-allocated only when the batch shape changes.
    """
    interpreter = _interpreter(path, check_threads(threads))
    (input_detail,) = interpreter.get_input_details()
    (output_detail,) = interpreter.get_output_details()
    input_dtype = np.dtype(input_detail["dtype"])
    allocated = [None]

    def predict(x):
        x = np.asarray(x, np.float32)
        if allocated[0] != x.shape:
            interpreter.resize_tensor_input(input_detail["index"], x.shape, strict=False)
            interpreter.allocate_tensors()
            allocated[0] = x.shape
        scale, zero_point = input_detail["quantization"]
        if input_dtype.kind in "iu":
            info = np.iinfo(input_dtype)
            x = np.clip(np.round(x / scale + zero_point if scale else x), info.min, info.max)
        interpreter.set_tensor(input_detail["index"], x.astype(input_dtype))
        interpreter.invoke()
        y = interpreter.get_tensor(output_detail["index"])
        if np.dtype(output_detail["dtype"]).kind in "iu":
            scale, zero_point = output_detail["quantization"]
            y = (y.astype(np.float32) - zero_point) * scale
        return np.array(y, np.float32)

    return predict
