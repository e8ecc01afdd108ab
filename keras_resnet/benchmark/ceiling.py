"""The machine's float32 GEMM ceiling, measured with three libraries in the same run."""

import time

import numpy as np


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


def onnxruntime_gflops(n=2048, repeats=3):
    """GFLOP/s of an n x n float32 MatMul in ONNX Runtime (CPU)."""
    import onnx
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


def gemm_ceiling(n=2048, repeats=3):
    """Best float32 GEMM rate of TensorFlow, NumPy and ONNX Runtime.

    Args:
        n: int. Matrix side. Defaults to 2048.
        repeats: int. Timed repetitions; the fastest counts. Defaults to 3.

    Returns:
        dict: GFLOP/s per library ("tensorflow", "numpy", "onnxruntime") and "best".
    """
    rates = {"tensorflow": tensorflow_gflops(n, repeats), "numpy": numpy_gflops(n, repeats),
             "onnxruntime": onnxruntime_gflops(n, repeats)}
    return {**rates, "best": max(rates.values()), "n": n}
