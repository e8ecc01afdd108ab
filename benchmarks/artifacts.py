"""Exported artifacts to benchmark, written with keras_resnet.export's converters:
SavedModel, LiteRT (TFLite) float32/float16/dynamic_int8/int8, ONNX, ONNX int8 (QDQ
static quantization, see `quantization`), and OpenVINO IR converted from those two ONNX
files (timed at f32, at the host's default precision and as int8)."""

import os
import time

import numpy as np

from benchmarks import quantization

INPUT_NAME = "input"
OUTPUT_NAME = "output"
# Runtime key -> artifact file (relative to the model's artifact folder).
FILES = {
    "savedmodel": "savedmodel",
    "litert_float32": "float32.tflite",
    "litert_float16": "float16.tflite",
    "litert_dynamic_int8": "dynamic_int8.tflite",
    "litert_int8": "int8.tflite",
    "onnxruntime": "model.onnx",
    "onnxruntime_int8": "model_int8_qdq.onnx",
    "openvino_f32": "model.xml",
    "openvino": "model.xml",
    "openvino_int8": "model_int8.xml",
}


def size_mb(path):
    """Size of a file or folder in MB (10^6 bytes)."""
    if os.path.isfile(path):
        return os.path.getsize(path) / 1e6
    return sum(os.path.getsize(os.path.join(root, f))
               for root, _, files in os.walk(path) for f in files) / 1e6


def calibration_images(size, count, seed=0):
    """Smooth random images, standardized like "torch" preprocessing (mean 0, std ~1):
    calibration data with natural-image-like statistics for the random-weight models."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (count, 8, 8, 3)).astype(np.float32)
    repeat = -(-size // 8)
    images = np.kron(coarse, np.ones((1, repeat, repeat, 1), np.float32))[:, :size, :size]
    images += rng.normal(0, 8, images.shape).astype(np.float32)
    return ((images - 120.0) / 60.0).astype(np.float32)


def export_all(model, folder, runtimes, *, calibration):
    """Writes the artifacts `runtimes` need into `folder`.

    Args:
        model: keras.Model.
        folder: str. Created if missing.
        runtimes: iterable of str. Keys of `FILES`; others are ignored.
        calibration: float32 array (N, H, W, C). Int8 calibration samples.

    Returns:
        dict: runtime -> {"path", "size_mb", "convert_s"}.
    """
    from keras_resnet.export import onnx_export, openvino_export, savedmodel, tflite

    os.makedirs(folder, exist_ok=True)
    wanted = [r for r in FILES if r in set(runtimes)]
    saved = os.path.join(folder, FILES["savedmodel"])
    onnx_path = os.path.join(folder, FILES["onnxruntime"])
    done = {}

    def record(runtime, path, start):
        done[runtime] = {"path": path, "size_mb": size_mb(path),
                         "convert_s": time.perf_counter() - start}

    if any(r == "savedmodel" or r.startswith("litert") for r in wanted):
        start = time.perf_counter()
        savedmodel.write(model, saved, input_name=INPUT_NAME, output_name=OUTPUT_NAME)
        record("savedmodel", saved, start)
    for runtime in wanted:
        if not runtime.startswith("litert"):
            continue
        start = time.perf_counter()
        mode = runtime[len("litert_"):]
        flatbuffer = tflite.convert(saved, mode, representative_data=calibration)
        path = os.path.join(folder, FILES[runtime])
        with open(path, "wb") as handle:
            handle.write(flatbuffer)
        record(runtime, path, start)
    if any(r.startswith(("onnxruntime", "openvino")) for r in wanted):
        start = time.perf_counter()
        onnx_export.convert(model, onnx_path, input_name=INPUT_NAME, output_name=OUTPUT_NAME)
        record("onnxruntime", onnx_path, start)
    int8_onnx = os.path.join(folder, FILES["onnxruntime_int8"])
    if "onnxruntime_int8" in wanted or "openvino_int8" in wanted:
        start = time.perf_counter()
        quantization.quantize_onnx_static(onnx_path, int8_onnx, calibration)
        record("onnxruntime_int8", int8_onnx, start)
    if "openvino" in wanted or "openvino_f32" in wanted:
        start = time.perf_counter()
        path = os.path.join(folder, FILES["openvino"])
        openvino_export.write(onnx_path, path)
        record("openvino", path, start)
        done["openvino_f32"] = done["openvino"]
    if "openvino_int8" in wanted:
        start = time.perf_counter()
        path = os.path.join(folder, FILES["openvino_int8"])
        openvino_export.write(int8_onnx, path)
        record("openvino_int8", path, start)
    return {r: v for r, v in done.items() if r in wanted}
