"""ONNX export with tf2onnx, checked with `onnx.checker`, run with onnxruntime.

tf2onnx converts a `tf.function` over the Keras model (what Keras'
`model.export(format="onnx")` does internally); `tf2onnx.convert.from_keras` is broken
with Keras 3. The batch axis is renamed to "batch" so clients see it is dynamic.
"""

import numpy as np
import tensorflow as tf

from keras_resnet.export.runtime import check_threads
from keras_resnet.io import save_atomically

DEFAULT_OPSET = 17
BATCH_AXIS = "batch"


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


def write(model, path, *, input_name, output_name, opset=None):
    """Writes `model` as ONNX at `path`.

    Args:
        model: keras.Model. Single input, single output.
        path: str. The .onnx file to write.
        input_name: str. Name of the graph input.
        output_name: str. Name of the graph output.
        opset: int or None. ONNX opset. Defaults to None (`DEFAULT_OPSET`).

    Returns:
        dict: "opset", "inputs" and "outputs" (name, shape with "batch", dtype).
    """
    import onnx
    import tf2onnx

    opset = DEFAULT_OPSET if opset is None else int(opset)
    input_shape = (None,) + tuple(model.inputs[0].shape[1:])
    spec = tf.TensorSpec(input_shape, tf.as_dtype(model.inputs[0].dtype), name=input_name)

    @tf.function(autograph=False)
    def serve(x):
        return tf.cast(model(x, training=False), tf.float32)

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=[spec], opset=opset)
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
    return {"opset": opset, **describe(path)}


convert = write  # the name keras_resnet.benchmark calls


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


def quantize_static(source, destination, calibration, *, per_channel=True):
    """Writes a QDQ int8 copy of the ONNX model `source` at `destination`.

    Activations are uint8 (asymmetric), weights int8 per output channel, calibrated with
    min/max over `calibration` (onnxruntime.quantization.quantize_static). The file is
    written through a temporary name, so a failure leaves no partial `destination`.

    Args:
        source: str. Float32 ONNX file with a single input.
        destination: str. The .onnx file to write.
        calibration: float32 array (N, H, W, C). Calibration samples.
        per_channel: bool. Per-output-channel weight scales. Defaults to True.
    """
    import onnx
    from onnxruntime import quantization as ortq

    (input_name,) = [i.name for i in onnx.load(source).graph.input]
    samples = np.asarray(calibration, np.float32)

    class Reader(ortq.CalibrationDataReader):
        def __init__(self):
            self._items = iter(samples[i:i + 1] for i in range(len(samples)))

        def get_next(self):
            batch = next(self._items, None)
            return None if batch is None else {input_name: batch}

    if len(samples) == 0:
        raise ValueError("Static int8 quantization needs calibration samples; received none.")
    save_atomically(lambda tmp: ortq.quantize_static(
        source, tmp, Reader(), quant_format=ortq.QuantFormat.QDQ, per_channel=per_channel,
        activation_type=ortq.QuantType.QUInt8, weight_type=ortq.QuantType.QInt8,
        calibrate_method=ortq.CalibrationMethod.MinMax), destination)
    return destination


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
        callable: `predict(x: np.ndarray) -> np.ndarray` (float32 in and out).
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if check_threads(threads) is not None:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(path, sess_options=options,
                                           providers=["CPUExecutionProvider"])
    (input_meta,) = session.get_inputs()

    def predict(x):
        (output,) = session.run(None, {input_meta.name: np.asarray(x, np.float32)})
        return np.asarray(output, np.float32)

    return predict
