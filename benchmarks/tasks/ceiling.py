"""The machine's ceilings, measured in the same run as the models: per precision
(float32, bfloat16, int8), a GEMM and a representative convolution (ResNet's 3x3 at
56x56x64, batch 32), each the best of the runtimes that can run it; on a GPU, float32
and float16 GEMMs through keras.ops.

Runtimes per precision (CPU):
- float32: TensorFlow (or keras.ops under JAX / PyTorch), NumPy (GEMM only), ONNX
  Runtime, OpenVINO at INFERENCE_PRECISION_HINT=f32.
- bfloat16: TensorFlow on bfloat16 tensors and OpenVINO's bf16 hint, only where the CPU
  has avx512_bf16 or amx_bf16 (elsewhere both emulate it, slower than float32, and
  OpenVINO silently runs f32): the result says why it was skipped.
- int8: a QDQ graph (QuantizeLinear/DequantizeLinear around a MatMul or Conv with int8
  weights, uint8 activations), which ONNX Runtime fuses into QLinearMatMul/QLinearConv
  and OpenVINO runs as int8 kernels: the form of the exported `model_int8.onnx`. The
  quantization of the float input is timed with it. TensorFlow has no CPU int8 kernel
  for either.

Rates are GFLOP/s, 2 x multiply-adds, the fastest of `repeats` calls after a warm-up.
"""

import os
import tempfile
import time

import numpy as np

from benchmarks import backend as backend_lib
from benchmarks import timing

PRECISIONS = ("float32", "bfloat16", "int8")
KINDS = ("gemm", "conv")
CONV = (32, 56, 64)  # batch, side, channels of the 3x3 convolution
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def _best_rate(fn, flops, repeats):
    fn()  # warm-up: thread pools, packing buffers, kernel selection
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return flops / best / 1e9


def gemm_flops(n):
    return 2.0 * n ** 3


def conv_flops(conv):
    batch, side, channels = conv
    return 2.0 * batch * side * side * channels * channels * 9


def cpu_flags():
    """The CPU's feature flags (empty where /proc/cpuinfo is not readable)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _operands(n, conv, rng):
    batch, side, channels = conv
    return {"gemm": (rng.standard_normal((n, n), np.float32),
                     rng.standard_normal((n, n), np.float32) * 0.05),
            "conv": (rng.standard_normal((batch, side, side, channels), np.float32),
                     rng.standard_normal((3, 3, channels, channels), np.float32) * 0.05)}


def numpy_gflops(n=2048, repeats=3):
    """GFLOP/s of an n x n float32 matmul in NumPy (its BLAS)."""
    a, b = _operands(n, (1, 1, 1), np.random.default_rng(0))["gemm"]
    return _best_rate(lambda: a @ b, gemm_flops(n), repeats)


def tensorflow_gflops(kind, n=2048, conv=CONV, repeats=3, dtype="float32"):
    """GFLOP/s of the GEMM or the NHWC 3x3 convolution in TensorFlow (default device)."""
    import tensorflow as tf

    x, w = (tf.cast(v, dtype) for v in _operands(n, conv, np.random.default_rng(0))[kind])
    if kind == "gemm":
        op, flops = (lambda: tf.matmul(x, w)), gemm_flops(n)
    else:
        op, flops = (lambda: tf.nn.conv2d(x, w, 1, "SAME")), conv_flops(conv)
    run = tf.function(lambda: tf.reduce_sum(tf.cast(op()[:1, :1], tf.float32)))
    return _best_rate(lambda: run().numpy(), flops, repeats)


def keras_gflops(n=2048, repeats=3, dtype="float32"):
    """GFLOP/s of an n x n matmul through keras.ops on the active backend's default
    device (the GPU where there is one)."""
    import keras

    a = keras.random.normal((n, n), seed=0, dtype=dtype)
    b = keras.random.normal((n, n), seed=1, dtype=dtype)
    # Reading one element back waits for the product.
    return _best_rate(lambda: keras.ops.convert_to_numpy(keras.ops.matmul(a, b)[0, 0]),
                      gemm_flops(n), repeats)


def onnx_graph(kind, n=2048, conv=CONV, int8=False):
    """The ONNX model of the GEMM or the NCHW 3x3 convolution with constant weights:
    float32, or (`int8`) QDQ with uint8 activations and int8 per-tensor weights."""
    from onnx import TensorProto, helper, numpy_helper

    x, w = _operands(n, conv, np.random.default_rng(0))[kind]
    if kind == "conv":
        x, w = x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1)  # NCHW, OIHW
    nodes, inits = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    source = "x"
    if int8:
        scale = float(np.abs(x).max() / 127)
        nodes += [helper.make_node("QuantizeLinear", ["x", const("xs", np.float32(scale)),
                                                      const("xz", np.uint8(128))], ["xq"]),
                  helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"])]
        w_scale = float(np.abs(w).max() / 127)
        const("wq", np.clip(np.round(w / w_scale), -127, 127).astype(np.int8))
        nodes.append(helper.make_node("DequantizeLinear", ["wq", const(
            "ws", np.float32(w_scale)), const("wz", np.int8(0))], ["w"]))
        source = "xd"
    else:
        const("w", w)
    op = (helper.make_node("MatMul", [source, "w"], ["y"]) if kind == "gemm" else
          helper.make_node("Conv", [source, "w"], ["y"], pads=[1, 1, 1, 1]))
    nodes.append(op)
    output = "y"
    if int8:  # a quantized output too, so that both runtimes pick integer kernels
        nodes += [helper.make_node("QuantizeLinear", ["y", const("ys", np.float32(0.05)),
                                                      const("yz", np.uint8(128))], ["yq"]),
                  helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["out"])]
        output = "out"
    shape = list(x.shape)
    out_shape = [n, n] if kind == "gemm" else shape
    graph = helper.make_graph(nodes, kind, [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, shape)], [helper.make_tensor_value_info(
            output, TensorProto.FLOAT, out_shape)], initializer=inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = min(proto.ir_version, 9)
    return proto, x


def onnxruntime_gflops(kind, n=2048, conv=CONV, repeats=3, int8=False):
    """GFLOP/s of `onnx_graph` in ONNX Runtime (CPU)."""
    import onnxruntime

    proto, x = onnx_graph(kind, n, conv, int8)
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    flops = gemm_flops(n) if kind == "gemm" else conv_flops(conv)
    return _best_rate(lambda: session.run(None, {"x": x}), flops, repeats)


def openvino_gflops(kind, n=2048, conv=CONV, repeats=3, precision="f32"):
    """GFLOP/s of `onnx_graph` in OpenVINO's CPU plugin at INFERENCE_PRECISION_HINT
    `precision` ("f32", "bf16"), or of its QDQ form (`precision="int8"`, host default
    hint). Returns None where the compiled precision is not the one asked for."""
    import onnx
    import openvino

    proto, x = onnx_graph(kind, n, conv, int8=precision == "int8")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"{kind}.onnx")
        onnx.save(proto, path)
        config = {} if precision == "int8" else {"INFERENCE_PRECISION_HINT": precision}
        compiled = openvino.Core().compile_model(path, "CPU", config)
    got = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    if precision != "int8" and got != precision:
        return None
    request = compiled.create_infer_request()
    flops = gemm_flops(n) if kind == "gemm" else conv_flops(conv)
    return _best_rate(lambda: request.infer([x]), flops, repeats)


def _measure(rates, name, fn, *args, **kwargs):
    """rates[name] = fn(*args, **kwargs), unless its library is missing or the runtime
    declines (returns None)."""
    try:
        value = fn(*args, **kwargs)
    except ImportError:  # the export extra is not installed
        return
    if value is not None:
        rates[name] = value


def precision_ceilings(n=2048, conv=CONV, repeats=3, flags=None):
    """Per precision and kind, the GFLOP/s of every runtime that can run it on this CPU.

    Returns:
        dict: {precision: {"gemm": {runtime: GFLOP/s}, "conv": {...}, "best": float}},
        or {precision: {"skipped": reason}} where the CPU lacks the instructions.
    """
    import keras

    flags = cpu_flags() if flags is None else set(flags)
    backend = keras.config.backend()
    out = {}
    for precision in PRECISIONS:
        if precision == "bfloat16" and not flags & set(BF16_FLAGS):
            out[precision] = {"skipped": f"the CPU has none of {list(BF16_FLAGS)}"}
            continue
        rates = {kind: {} for kind in KINDS}
        for kind in KINDS:
            shape = (kind, n, conv, repeats)
            if precision == "int8":
                _measure(rates[kind], "onnxruntime", onnxruntime_gflops, *shape, int8=True)
                _measure(rates[kind], "openvino", openvino_gflops, *shape, "int8")
                continue
            if backend == "tensorflow":
                _measure(rates[kind], "tensorflow", tensorflow_gflops, *shape, precision)
            elif kind == "gemm":
                _measure(rates[kind], backend, keras_gflops, n, repeats, precision)
            if precision == "float32":
                if kind == "gemm":
                    _measure(rates[kind], "numpy", numpy_gflops, n, repeats)
                _measure(rates[kind], "onnxruntime", onnxruntime_gflops, *shape)
            _measure(rates[kind], "openvino", openvino_gflops, *shape,
                     "f32" if precision == "float32" else "bf16")
        best = max((v for kind in KINDS for v in rates[kind].values()), default=None)
        out[precision] = {**rates, "best": best}
    return out


def gemm_ceiling(n=2048, repeats=3, gpu=False, conv=CONV):
    """The machine's ceilings.

    On a CPU: `precision_ceilings`, with "best" the float32 ceiling (the best of the
    GEMM and the convolution). With `gpu` (the backend sees one): float32 and float16
    GEMMs through keras.ops on the GPU ("best" and "best_half"), as the GPU, not the
    host, runs the models (float32 matmuls may use TF32 tensor cores, as the models'
    own do).

    Args:
        n: int. GEMM matrix side. Defaults to 2048.
        repeats: int. Timed repetitions; the fastest counts. Defaults to 3.
        gpu: bool. Measure the backend's GPU instead of the CPU libraries. Defaults to
            False.
        conv: (batch, side, channels) of the 3x3 convolution. Defaults to `CONV`.

    Returns:
        dict: "best" (float32), on a GPU "best_half" and the GPU rates, on a CPU
        "precisions"; "n" and "conv".
    """
    import keras

    backend = keras.config.backend()
    if gpu:
        rates = {f"{backend}_gpu_float32": keras_gflops(n, repeats),
                 f"{backend}_gpu_float16": keras_gflops(n, repeats, "float16")}
        return {**rates, "best": rates[f"{backend}_gpu_float32"],
                "best_half": rates[f"{backend}_gpu_float16"], "n": n}
    precisions = precision_ceilings(n, tuple(conv), repeats)
    return {"precisions": precisions, "best": precisions["float32"]["best"], "n": n,
            "conv": list(conv)}


def ceiling(n, conv=CONV):
    """The machine's ceilings as a task (see `gemm_ceiling`), on the GPU where the
    active Keras backend sees one."""
    return [{"kind": "ceiling", "model": "-", "runtime": "gemm",
             **gemm_ceiling(n, gpu=bool(backend_lib.accelerators()), conv=conv),
             "peak_rss_mb": timing.peak_rss_mb()}]
