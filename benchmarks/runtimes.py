"""The inference runtimes: a callable x -> NumPy output per runtime. Exported artifacts
are opened with the export modules' own loaders (`keras_resnet.export.*.load`), so the
benchmark times what a user of the export gets."""

from benchmarks import backend as backend_lib
from benchmarks import models as models_lib
from benchmarks import timing

TF_RUNTIMES = ("tf", "tf_xla")
# Keras' compiled predict step under another backend (`KERAS_BACKEND`): "jax" is
# jax.jit (XLA), "torch" is eager PyTorch. Each needs its backend to be the active one.
KERAS_RUNTIMES = ("jax", "torch")
# Runtimes of an exported artifact (`artifacts.FILES` names the file of each).
# OpenVINO: "openvino_f32" pins INFERENCE_PRECISION_HINT=f32, "openvino" takes the
# host's default (bf16 on CPUs with AMX or AVX512_BF16), "openvino_int8" runs the QDQ
# model's int8 kernels.
EXPORTED_RUNTIMES = ("savedmodel", "litert_float32", "litert_float16", "litert_dynamic_int8",
                     "litert_int8", "onnxruntime", "onnxruntime_int8", "openvino_f32",
                     "openvino", "openvino_int8")
INFERENCE_RUNTIMES = TF_RUNTIMES + EXPORTED_RUNTIMES + KERAS_RUNTIMES
# The precision each runtime computes in, whose ceiling its figures are a fraction of.
# LiteRT float16 stores float16 weights but computes in float32 on a CPU; "openvino"
# (the host default) says itself (`precision`).
INT8_RUNTIMES = ("litert_dynamic_int8", "litert_int8", "onnxruntime_int8", "openvino_int8")
PRECISION = {**{r: "float32" for r in INFERENCE_RUNTIMES if r != "openvino"},
             **{r: "int8" for r in INT8_RUNTIMES}}


def precision(runtime, predict=None):
    """The compute precision of `runtime` ("float32", "bfloat16", "int8"); for the
    host-default OpenVINO runtime, the one its compiled `predict` reports."""
    return PRECISION.get(runtime) or getattr(predict, "precision", None) or "float32"


def check_runtime(runtime, where=""):
    """Returns `runtime` if it is one of `INFERENCE_RUNTIMES`; else a ValueError naming it
    (and `where` it came from)."""
    if runtime not in INFERENCE_RUNTIMES:
        raise ValueError(f"Unknown runtime={runtime!r}{where}. "
                         f"Allowed values: {list(INFERENCE_RUNTIMES)}.")
    return runtime


def _tf_predictor(model_name, jit_compile):
    import tensorflow as tf

    model = models_lib.build(model_name)
    forward = tf.function(lambda x: model(x, training=False), jit_compile=jit_compile)
    return lambda x: forward(x).numpy()


def _keras_predictor(model_name, runtime):
    active = backend_lib.backend()
    if active != runtime:
        raise ValueError(f"runtime={runtime!r} needs KERAS_BACKEND={runtime}; the active "
                         f"Keras backend is {active!r}.")
    model = models_lib.build(model_name)
    # predict_on_batch returns NumPy, so each call waits for the device.
    return model.predict_on_batch


def _exported_predictor(runtime, artifact, threads):
    if runtime == "savedmodel":
        from keras_resnet.export import savedmodel

        # TensorFlow's thread count is per process: its default, as in the "tf" runtime.
        return savedmodel.load(artifact)
    if runtime.startswith("litert"):
        from keras_resnet.export import tflite

        return tflite.load(artifact, threads=threads)
    if runtime.startswith("openvino"):
        from keras_resnet.export import openvino_export

        precision = "f32" if runtime == "openvino_f32" else None
        return openvino_export.load(artifact, threads=threads, inference_precision=precision)
    from keras_resnet.export import onnx_export

    return onnx_export.load(artifact, threads=threads)


def predictor(model_name, runtime, artifact=None, threads=None):
    """A callable x -> NumPy output for `runtime` on `model_name` (or its `artifact`).

    Args:
        model_name: str. A key of `models.MODELS`.
        runtime: str. One of `INFERENCE_RUNTIMES`.
        artifact: str or None. The exported file/folder, for `EXPORTED_RUNTIMES`.
            Defaults to None.
        threads: int or None. LiteRT and ONNX Runtime threads. Defaults to None (all
            cores this process may use).
    """
    check_runtime(runtime)
    if runtime in TF_RUNTIMES:
        return _tf_predictor(model_name, jit_compile=runtime == "tf_xla")
    if runtime in KERAS_RUNTIMES:
        return _keras_predictor(model_name, runtime)
    if artifact is None:
        raise ValueError(f"runtime={runtime!r} needs an exported artifact; received none.")
    return _exported_predictor(runtime, artifact, threads or timing.cpu_count())
