"""OpenVINO IR export (`model.xml` + `model.bin`) with OpenVINO's own converter, run in
OpenVINO's runtime (CPU).

`openvino.convert_model` reads the ONNX file that `onnx_export` writes: on a ResNet-20
both that and the SavedModel give max_rel 3.8e-7 against Keras at f32, and the ONNX
path converts in 0.4 s instead of 2.9 s and keeps the input and output names. The
weights are stored in float32 (`save_model(..., compress_to_fp16=False)`; OpenVINO's
default would halve them to float16).

OpenVINO picks the compute precision at compile time: on CPUs with AVX512_BF16 or AMX
its default is bf16, elsewhere f32. Parity is checked both at
`INFERENCE_PRECISION_HINT=f32` and at the host default, and `load` reports which one
it got (`predict.precision`).

The int8 IR is the static QDQ ONNX model (`onnx_export.quantize_static`) converted the
same way: OpenVINO turns its Quantize/Dequantize pairs into int8 kernels
(`predict.runtime_precisions` then holds "i8"/"u8"). NNCF, OpenVINO's own quantizer,
is a heavy dependency and was not needed: the converted QDQ model agreed with Keras on
32/32 held-out digits images.

The raw-pixel IRs (`write_uint8`) are an IR with OpenVINO's own PrePostProcessor in
front: a uint8 NHWC input, convert_element_type(f32), reverse_channels for BGR
models, mean, scale, and a transpose where the IR itself is NCHW. It gave the same
max_abs against Keras (1.2e-7, f32) as converting a uint8 ONNX graph, and needs no
second conversion.
"""

import numpy as np

from keras_resnet.export.runtime import check_threads

XML_FILE = "model.xml"
BIN_FILE = "model.bin"
INT8_XML_FILE = "model_int8.xml"
INT8_BIN_FILE = "model_int8.bin"
UINT8_XML_FILE = "model_uint8.xml"
UINT8_BIN_FILE = "model_uint8.bin"
INT8_UINT8_XML_FILE = "model_int8_uint8.xml"
INT8_UINT8_BIN_FILE = "model_int8_uint8.bin"
F32 = "f32"
# OpenVINO's element type names -> the precisions of keras_resnet.export.parity.
PRECISIONS = {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}


def write(onnx_path, path):
    """Converts the ONNX file at `onnx_path` and writes the IR to `path` (model.xml;
    model.bin beside it).

    Returns:
        dict: `describe(path)`.
    """
    import openvino

    model = openvino.convert_model(onnx_path)
    openvino.save_model(model, path, compress_to_fp16=False)
    return describe(path)


def write_uint8(source, path, *, preprocessing, layout="NHWC"):
    """Writes a copy of the IR at `source` that takes raw uint8 RGB pixels (NHWC) and
    applies `preprocessing` ({"mean", "std", "channel_order"}) with OpenVINO's
    PrePostProcessor; `layout` is `source`'s input layout ("NHWC" or "NCHW").

    Returns:
        dict: `describe(path)`.
    """
    import openvino
    from openvino.preprocess import PrePostProcessor

    model = openvino.Core().read_model(source)
    steps = PrePostProcessor(model)
    steps.input().tensor().set_element_type(openvino.Type.u8).set_layout(
        openvino.Layout("NHWC"))
    steps.input().model().set_layout(openvino.Layout(layout))
    pre = steps.input().preprocess().convert_element_type(openvino.Type.f32)
    if preprocessing.get("channel_order", "RGB").upper() == "BGR":
        pre.reverse_channels()
    pre.mean([float(v) for v in preprocessing["mean"]]).scale(
        [float(v) for v in preprocessing["std"]])
    openvino.save_model(steps.build(), path, compress_to_fp16=False)
    return describe(path)


def describe(path):
    """Inputs and outputs of the IR at `path`: name, shape (-1 = dynamic), dtype."""
    import openvino

    model = openvino.Core().read_model(path)

    def info(port):
        shape = [d.get_length() if d.is_static else -1 for d in port.get_partial_shape()]
        return {"name": port.get_any_name(), "shape": shape,
                "dtype": port.get_element_type().to_dtype().name}

    return {"inputs": [info(p) for p in model.inputs], "outputs": [info(p) for p in model.outputs]}


def host_precision():
    """The compute precision OpenVINO's CPU plugin picks by default on this host, as a
    `keras_resnet.export.parity` precision name."""
    import openvino

    hint = openvino.Core().get_property("CPU", "INFERENCE_PRECISION_HINT")
    return PRECISIONS.get(hint.get_type_name(), hint.get_type_name())


def load(path, *, threads=None, inference_precision=F32):
    """Compiles the IR at `path` once on OpenVINO's CPU plugin.

    Args:
        path: str. A model.xml (model.bin beside it).
        threads: int or None. INFERENCE_NUM_THREADS. Defaults to None (OpenVINO's).
        inference_precision: str or None. INFERENCE_PRECISION_HINT, e.g. "f32" or
            "bf16"; None takes the host default. Defaults to "f32".

    Returns:
        callable: `predict(x: np.ndarray) -> np.ndarray` (float32 out; in, the IR's
        input type: float32, or uint8 for a raw-pixel IR), with
        `predict.precision`, the compute precision compiled ("float32", "bfloat16",
        ...), and `predict.runtime_precisions`, the element types its kernels run in
        (e.g. ["f32", "i8", "u8"]).
    """
    import openvino

    config = {}
    if check_threads(threads) is not None:
        config["INFERENCE_NUM_THREADS"] = threads
    if inference_precision is not None:
        if inference_precision not in PRECISIONS:
            raise ValueError(f"inference_precision={inference_precision!r}; allowed values: "
                             f"None (host default) or {list(PRECISIONS)}.")
        config["INFERENCE_PRECISION_HINT"] = inference_precision
    compiled = openvino.Core().compile_model(path, "CPU", config)
    request = compiled.create_infer_request()
    dtype = compiled.input().get_element_type().to_dtype()

    def predict(x):
        (output,) = request.infer([np.asarray(x, dtype)]).values()
        return np.array(output, np.float32)

    got = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    predict.precision = PRECISIONS.get(got, got)
    predict.runtime_precisions = sorted({
        str(op.get_rt_info()["runtimePrecision"].astype(str))
        for op in compiled.get_runtime_model().get_ordered_ops()
        if "runtimePrecision" in op.get_rt_info()})
    return predict
