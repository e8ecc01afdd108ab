"""ONNX export with tf2onnx, checked with `onnx.checker`, run with onnxruntime.

tf2onnx converts a `tf.function` over the Keras model (what Keras'
`model.export(format="onnx")` does internally); `tf2onnx.convert.from_keras` is broken
with Keras 3. The batch axis is renamed to "batch" so clients see it is dynamic.

`layout="NCHW"` (tf2onnx's `inputs_as_nchw`) gives the input TensorRT and OpenCV DNN
expect, [batch, C, H, W], with a Transpose into the NHWC graph (TensorRT and ONNX
Runtime fold it into the first convolution). `preprocessing` gives the raw-pixel model:
uint8 RGB NHWC in, `savedmodel.preprocess_uint8` inside (its nodes named under
`PREPROCESS_SCOPE`, which `quantize_static` leaves in float).
"""

import numpy as np
import tensorflow as tf

from keras_resnet.export.runtime import check_threads
from keras_resnet.io import save_atomically

DEFAULT_OPSET = 17
BATCH_AXIS = "batch"
LAYOUTS = ("NHWC", "NCHW")
# Name scope of the raw-pixel model's preprocessing nodes (Cast, Sub, Mul).
PREPROCESS_SCOPE = "preprocess"
# onnxruntime's input type names -> NumPy dtypes `load` feeds.
_INPUT_DTYPES = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8}


def check_layout(layout):
    """Validates `layout` ("nhwc" or "nchw", any case); returns it upper-case."""
    if not isinstance(layout, str) or layout.upper() not in LAYOUTS:
        raise ValueError(f"Unknown onnx_layout={layout!r}. Allowed values: "
                         f"{[name.lower() for name in LAYOUTS]}.")
    return layout.upper()


def supported_opsets():
    """Opsets the installed tf2onnx can target (it documents 9 and up)."""
    from tf2onnx import constants

    return list(range(9, max(constants.OPSET_TO_IR_VERSION) + 1))


def check_opset(opset):
    """Validates `opset` (None or an int that tf2onnx supports); returns it."""
    allowed = supported_opsets()
    if opset is not None and (isinstance(opset, bool) or not isinstance(opset, int)
                              or opset not in allowed):
        raise ValueError(f"Unsupported ONNX opset={opset!r}. Allowed values: None "
                         f"(default {DEFAULT_OPSET}) or {allowed[0]}..{allowed[-1]}.")
    return opset


def write(model, path, *, input_name, output_name, opset=None, layout="NHWC",
          preprocessing=None):
    """Writes `model` as ONNX at `path`.

    Args:
        model: keras.Model. Single input, single output.
        path: str. The .onnx file to write.
        input_name: str. Name of the graph input.
        output_name: str. Name of the graph output.
        opset: int or None. ONNX opset. Defaults to None (`DEFAULT_OPSET`).
        layout: str. "NHWC" or "NCHW": the input's layout. Defaults to "NHWC".
        preprocessing: dict or None. {"mean", "std", "channel_order"}: the graph then
            takes raw uint8 RGB pixels and normalizes them itself. Defaults to None.

    Returns:
        dict: "opset", "layout", "inputs" and "outputs" (name, shape with "batch",
        dtype).
    """
    import onnx
    import tf2onnx

    from keras_resnet.export.savedmodel import preprocess_uint8

    opset = DEFAULT_OPSET if opset is None else int(opset)
    layout = check_layout(layout)
    input_shape = (None,) + tuple(model.inputs[0].shape[1:])
    model_dtype = tf.as_dtype(model.inputs[0].dtype)
    spec = tf.TensorSpec(input_shape, tf.uint8 if preprocessing else model_dtype,
                         name=input_name)

    @tf.function(autograph=False)
    def serve(x):
        if preprocessing:
            with tf.name_scope(PREPROCESS_SCOPE):
                x = tf.cast(preprocess_uint8(x, preprocessing), model_dtype)
        return tf.cast(model(x, training=False), tf.float32)

    proto, _ = tf2onnx.convert.from_function(
        serve, input_signature=[spec], opset=opset,
        inputs_as_nchw=[input_name] if layout == "NCHW" else None)
    graph = proto.graph
    (graph_output,) = graph.output
    old_name = graph_output.name
    # tf2onnx names the output after its TF tensor ("Identity:0"): rename it for users.
    for node in graph.node:
        node.output[:] = [output_name if o == old_name else o for o in node.output]
    graph_output.name = output_name
    for value in list(graph.input) + list(graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_value")
        dim.dim_param = BATCH_AXIS
    onnx.checker.check_model(proto, full_check=True)
    save_atomically(lambda tmp: onnx.save(proto, tmp), path)
    return {"opset": opset, "layout": layout, **describe(path)}


def describe(path):
    """Inputs and outputs of the ONNX file at `path`: name, shape, dtype."""
    import onnx

    proto = onnx.load(path)

    def info(value):
        dims = [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
        return {"name": value.name, "shape": dims, "dtype": np.dtype(dtype).name}

    return {"inputs": [info(v) for v in proto.graph.input],
            "outputs": [info(v) for v in proto.graph.output]}


def check(path):
    """Runs `onnx.checker` on the file at `path`."""
    import onnx

    onnx.checker.check_model(path, full_check=True)


# CPU flags of the int8 dot-product instructions onnxruntime's u8 x s8 kernels need to
# be exact: without them (AVX2, AVX-512 without VNNI) the pairwise u8 x s8 products are
# summed in saturating int16 (onnxruntime's quantization guide).
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def default_weight_type():
    """"int8" on CPUs with VNNI or AMX, else "uint8" (see `VNNI_FLAGS`). Measured on an
    AVX2 AMD EPYC: a digits-trained ResNet-20 with int8 weights agreed with Keras on
    90.6% of 297 held-out images in onnxruntime (7-bit `reduce_range` weights: 98.7%),
    with uint8 weights on 99.7%, as int8 weights do on a VNNI host."""
    try:
        with open("/proc/cpuinfo") as handle:
            flags = next((set(line.split(":", 1)[1].split()) for line in handle
                          if line.startswith("flags")), set())
    except OSError:
        flags = set()
    return "int8" if flags & set(VNNI_FLAGS) else "uint8"


def quantize_static(source, destination, calibration, *, per_channel=True, weight_type=None):
    """Writes a QDQ int8 copy of the ONNX model `source` at `destination`.

    Activations are uint8 (asymmetric), weights 8-bit per output channel, calibrated
    with min/max over `calibration` (onnxruntime.quantization.quantize_static). The file
    is written through a temporary name, so a failure leaves no partial `destination`.

    The raw-pixel model's preprocessing (the nodes under `PREPROCESS_SCOPE`) stays in
    float: the first convolution's input is then quantized as in the float-input model
    (same scale and zero point). Quantized as well, the pixel differences `x - mean` got
    a scale of 1.08 and 1 / std 8-bit weights: two more roundings, and on 297 held-out
    digits images the output differed from the float-input int8 model's by up to 0.055
    instead of 0.020 (top-1 297/297 either way).

    Args:
        source: str. Float32 ONNX file with a single input (float32, or uint8 for the
            raw-pixel model).
        destination: str. The .onnx file to write.
        calibration: array, the input's shape. Calibration samples, fed in the input's
            dtype (raw pixels 0..255 for a uint8 input).
        per_channel: bool. Per-output-channel weight scales. Defaults to True.
        weight_type: str or None. "int8" or "uint8" weights. Defaults to None
            (`default_weight_type()`: int8 where this CPU runs it exactly).

    Returns:
        str: the weights' type.
    """
    import onnx
    from onnxruntime import quantization as ortq

    graph = onnx.load(source).graph
    (graph_input,) = graph.input
    input_name = graph_input.name
    samples = np.asarray(calibration, onnx.helper.tensor_dtype_to_np_dtype(
        graph_input.type.tensor_type.elem_type))
    keep_float = [node.name for node in graph.node
                  if node.name.startswith(PREPROCESS_SCOPE + "/")]

    class Reader(ortq.CalibrationDataReader):
        def __init__(self):
            self._items = iter(samples[i:i + 1] for i in range(len(samples)))

        def get_next(self):
            batch = next(self._items, None)
            return None if batch is None else {input_name: batch}

    if len(samples) == 0:
        raise ValueError("Static int8 quantization needs calibration samples; received none.")
    weight_type = weight_type or default_weight_type()
    types = {"int8": ortq.QuantType.QInt8, "uint8": ortq.QuantType.QUInt8}
    if weight_type not in types:
        raise ValueError(f"Unknown weight_type={weight_type!r}. Allowed values: "
                         f"{list(types)} or None.")
    save_atomically(lambda tmp: ortq.quantize_static(
        source, tmp, Reader(), quant_format=ortq.QuantFormat.QDQ, per_channel=per_channel,
        activation_type=ortq.QuantType.QUInt8, weight_type=types[weight_type],
        calibrate_method=ortq.CalibrationMethod.MinMax, nodes_to_exclude=keep_float),
        destination)
    return weight_type


def run(path, x):
    """Runs the ONNX file at `path` on `x` with onnxruntime (CPU)."""
    return load(path)(x)


def load(path, *, threads=None):
    """Opens the ONNX file at `path` once in an onnxruntime CPU session.

    Args:
        path: str. A .onnx file.
        threads: int or None. onnxruntime intra-op threads. Defaults to None
            (onnxruntime's choice).

    Returns:
        callable: `predict(x: np.ndarray) -> np.ndarray`: float32 out; in, the
        model's input type (float32, or uint8 for the raw-pixel model).
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if check_threads(threads) is not None:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(path, sess_options=options,
                                           providers=["CPUExecutionProvider"])
    (input_meta,) = session.get_inputs()
    dtype = _INPUT_DTYPES.get(input_meta.type, np.float32)

    def predict(x):
        (output,) = session.run(None, {input_meta.name: np.asarray(x, dtype)})
        return np.asarray(output, np.float32)

    return predict
