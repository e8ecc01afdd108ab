"""Exported artifacts to benchmark, written by `keras_resnet.export.export_model` itself:
the same table of formats, file names, BatchNorm folding and parity checks as a user's
export, so the benchmark times what users deploy. SavedModel, LiteRT (TFLite)
float32/float16/dynamic_int8/int8, ONNX, ONNX static QDQ int8, and the OpenVINO IRs
converted from those two ONNX files (timed at f32, at the host's default precision and
as int8)."""

import math
import os

import numpy as np

# Runtime key -> (the manifest artifact it runs, its file as export_model names it,
# relative to the model's export folder). Written out rather than read from
# keras_resnet.export, which imports TensorFlow: the plan also runs under
# KERAS_BACKEND=jax/torch. `export_all` checks each against the manifest.
ARTIFACTS = {
    "savedmodel": ("savedmodel", "savedmodel"),
    "litert_float32": ("tflite_float32", "model_float32.tflite"),
    "litert_float16": ("tflite_float16", "model_float16.tflite"),
    "litert_dynamic_int8": ("tflite_dynamic_int8", "model_dynamic_int8.tflite"),
    "litert_int8": ("tflite_int8", "model_int8.tflite"),
    "onnxruntime": ("onnx", "model.onnx"),
    "onnxruntime_int8": ("onnx_int8", "model_int8.onnx"),
    "openvino_f32": ("openvino", "model.xml"),
    "openvino": ("openvino", "model.xml"),
    "openvino_int8": ("openvino_int8", "model_int8.xml"),
}
FILES = {runtime: path for runtime, (_, path) in ARTIFACTS.items()}
# The export format (a row of keras_resnet.export.formats.TABLE) of each artifact.
FORMAT = {"savedmodel": "savedmodel", "onnx": "onnx", "onnx_int8": "onnx_int8",
          "openvino": "openvino", "openvino_int8": "openvino_int8"}
PARITY_SAMPLES = 8
# The speed models have random weights, on which int8 and bf16 top-1 is noise: the
# export keeps its float32 and float16 checks and the int8 limits are lifted (the
# "agreement" task measures int8 on a trained model).
TOLERANCES = {"int8": {"min_top1_agreement": 0.0}, "int8_static": {"min_top1_agreement": 0.0},
              "bfloat16": {"max_rel": math.inf, "min_top1_agreement": 0.0}}


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
    """Exports `model` with `export_model` into `folder` (replacing an earlier export
    there) with the artifacts `runtimes` need.

    Args:
        model: keras.Model.
        folder: str. The export folder.
        runtimes: iterable of str. Keys of `FILES`; others are ignored.
        calibration: float32 array (N, H, W, C). Int8 calibration samples; the first
            `PARITY_SAMPLES` are also the parity batch.

    Returns:
        dict: runtime -> {"path", "size_mb", "convert_s"} (size and seconds as the
        manifest records them).
    """
    from keras_resnet.export import export_model

    wanted = [r for r in FILES if r in set(runtimes)]
    keys = {ARTIFACTS[r][0] for r in wanted}
    modes = tuple(key[len("tflite_"):] for key in dict.fromkeys(ARTIFACTS[r][0] for r in wanted)
                  if key.startswith("tflite_"))
    formats = sorted({FORMAT.get(key, "tflite") for key in keys})
    manifest = export_model(model, output_dir=folder, formats=formats,
                            tflite_modes=modes or ("float32",),
                            representative_data=calibration,
                            parity_data=calibration[:PARITY_SAMPLES], overwrite=True,
                            tolerances=TOLERANCES)
    written = {}
    for runtime in wanted:
        key, path = ARTIFACTS[runtime]
        entry = manifest["artifacts"][key]
        if entry["path"] != path:
            raise RuntimeError(f"export_model wrote {key} as {entry['path']!r}; "
                               f"benchmarks.artifacts.ARTIFACTS says {path!r}.")
        written[runtime] = {"path": os.path.join(folder, path), "size_mb": entry["size"] / 1e6,
                            "convert_s": entry["export_seconds"]}
    return written
