"""The machine's GEMM ceiling, measured with several libraries in the same run: float32
on the CPU, or float32 and float16 on the GPU when the active Keras backend sees one."""

import time

import numpy as np

from benchmarks import backend as backend_lib
from benchmarks import timing


def _best_rate(fn, n, repeats):
    fn()  # warm-up: thread pools, packing buffers, kernel selection
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return 2.0 * n ** 3 / best / 1e9


def numpy_gflops(n=2048, repeats=3):
    """GFLOP/s of an n x n float32 matmul in NumPy (its BLAS)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), np.float32)
    b = rng.standard_normal((n, n), np.float32)
    return _best_rate(lambda: a @ b, n, repeats)


def tensorflow_gflops(n=2048, repeats=3):
    """GFLOP/s of an n x n float32 matmul in TensorFlow (on its default device)."""
    import tensorflow as tf

    a = tf.random.normal((n, n), seed=0)
    b = tf.random.normal((n, n), seed=1)
    matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)[0, :1]))
    return _best_rate(lambda: matmul().numpy(), n, repeats)


def keras_gflops(n=2048, repeats=3, dtype="float32"):
    """GFLOP/s of an n x n matmul through keras.ops on the active backend's default
    device (the GPU where there is one)."""
    import keras

    a = keras.random.normal((n, n), seed=0, dtype=dtype)
    b = keras.random.normal((n, n), seed=1, dtype=dtype)
    # Reading one element back waits for the product.
    return _best_rate(lambda: keras.ops.convert_to_numpy(keras.ops.matmul(a, b)[0, 0]),
                      n, repeats)


def onnxruntime_gflops(n=2048, repeats=3):
    """GFLOP/s of an n x n float32 MatMul in ONNX Runtime (CPU)."""
    import onnxruntime
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "matmul",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = min(proto.ir_version, 9)
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {"a": rng.standard_normal((n, n), np.float32),
             "b": rng.standard_normal((n, n), np.float32)}
    return _best_rate(lambda: session.run(None, feeds), n, repeats)


def gemm_ceiling(n=2048, repeats=3, gpu=False):
    """The machine's GEMM ceiling.

    On a CPU: the best float32 rate of the active Keras backend's library (TensorFlow,
    or keras.ops under JAX / PyTorch), NumPy and ONNX Runtime. With `gpu` (the backend
    sees one): float32 and float16 through keras.ops on the GPU ("best" and "best_half"), as
    the GPU, not the host, runs the models (float32 matmuls may use TF32 tensor cores,
    as the models' own do).

    Args:
        n: int. Matrix side. Defaults to 2048.
        repeats: int. Timed repetitions; the fastest counts. Defaults to 3.
        gpu: bool. Measure the backend's GPU instead of the CPU libraries. Defaults to
            False.

    Returns:
        dict: GFLOP/s per library, "best" (float32) and, on a GPU, "best_half", and "n".
    """
    import keras

    backend = keras.config.backend()
    if gpu:
        rates = {f"{backend}_gpu_float32": keras_gflops(n, repeats),
                 f"{backend}_gpu_float16": keras_gflops(n, repeats, "float16")}
        return {**rates, "best": rates[f"{backend}_gpu_float32"],
                "best_half": rates[f"{backend}_gpu_float16"], "n": n}
    first = tensorflow_gflops if backend == "tensorflow" else keras_gflops
    rates = {backend: first(n, repeats), "numpy": numpy_gflops(n, repeats)}
    try:
        rates["onnxruntime"] = onnxruntime_gflops(n, repeats)
    except ImportError:  # the export extra is not installed
        pass
    return {**rates, "best": max(rates.values()), "n": n}


def ceiling(n):
    """The machine's GEMM ceiling as a task (see `gemm_ceiling`), on the GPU where the
    active Keras backend sees one."""
    return [{"kind": "ceiling", "model": "-", "runtime": "gemm",
             **gemm_ceiling(n, gpu=bool(backend_lib.accelerators())),
             "peak_rss_mb": timing.peak_rss_mb()}]
