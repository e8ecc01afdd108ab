"""`export_model`: a Keras model to SavedModel, TFLite and ONNX artifacts, each
reloaded in its own runtime and compared with the Keras model, published atomically
with a manifest."""

import logging
import os
import shutil
import time

import numpy as np

from keras_resnet.export import manifest as manifest_lib
from keras_resnet.export import onnx_export, parity, publish, savedmodel, source, tflite
from keras_resnet.faults import fault_point

logger = logging.getLogger(__name__)

FORMATS = ("savedmodel", "tflite", "onnx")
PARITY_FILE = "parity_batch.npz"
SAVEDMODEL_DIR = "savedmodel"
ONNX_FILE = "model.onnx"
MAX_PARITY_SAMPLES = 32
MAX_CALIBRATION_SAMPLES = 100
RANDOM_SAMPLES = 16
RANDOM_SEED = 0


def check_formats(formats):
    """"all", one format, a comma-separated string or a list -> tuple of formats."""
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    formats = list(dict.fromkeys(formats))
    if "all" in formats:
        return FORMATS
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"Unknown export format(s) formats={formats!r}. "
                         f"Allowed values: {list(FORMATS) + ['all']}.")
    return tuple(f for f in FORMATS if f in formats)


def tflite_file(mode):
    return f"model_{mode}.tflite"


def _check_model(model):
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"Export supports single-input, single-output models; model "
                         f"{model.name!r} has {len(model.inputs)} inputs and "
                         f"{len(model.outputs)} outputs.")
    shape = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise ValueError(f"Model {model.name!r} has input shape {(None,) + shape}; export "
                         "needs fixed height, width and channels (build it with input_shape).")
    return shape


def _as_batch(data, shape, name, limit):
    if data is None:
        return None
    data = np.asarray(data, np.float32)
    if data.ndim != len(shape) + 1 or tuple(data.shape[1:]) != shape:
        raise ValueError(f"{name} must be float32 shaped (N,) + {shape}; received shape "
                         f"{data.shape}.")
    if len(data) == 0:
        raise ValueError(f"{name} is empty.")
    return data[:limit]


def _to_uint8(x, preprocessing):
    """Raw RGB pixels whose preprocessing gives back (about) `x`."""
    mean = np.asarray(preprocessing["mean"], np.float32)
    std = np.asarray(preprocessing["std"], np.float32)
    raw = x * std + mean
    if preprocessing["channel_order"] == "BGR":
        raw = raw[..., ::-1]
    return np.clip(np.round(raw), 0, 255).astype(np.uint8)


def export_model(model, *, output_dir=None, model_name=None, formats="all",
                 tflite_modes=tflite.MODES, representative_data=None, parity_data=None,
                 class_names=None, preprocessing=None, overwrite=False, uint8_input=False,
                 int8_io="float", opset=None, tolerances=None):
    """Exports `model` to SavedModel, TFLite and/or ONNX, checks parity, publishes.

    Every artifact is reloaded in its own runtime (TensorFlow, LiteRT, onnxruntime)
    and run on the same batch as the Keras model; figures and tolerances are in
    `keras_resnet.export.parity`. The export is built beside `output_dir` and renamed
    into place only when every artifact passes, so a failure (or a kill) never leaves
    a partial export and never touches a previous one.

    Args:
        model: keras.Model or str. The model, or a path to a `.keras` file.
        output_dir: str or None. Export folder. Defaults to None
            (`saved_models/<model_name>`).
        model_name: str or None. Defaults to None (`model.name`).
        formats: str or list. "savedmodel", "tflite", "onnx", "all", or a list.
            Defaults to "all".
        tflite_modes: sequence of str. Among "float32", "float16", "dynamic_int8",
            "int8". Defaults to all four.
        representative_data: float32 array or None. Normalized model inputs for int8
            calibration (at most 100 used). Defaults to None.
        parity_data: float32 array or None. Normalized model inputs for parity (at most
            32 used). Defaults to None (`representative_data`, else deterministic
            N(0, 1) noise, which the manifest says).
        class_names: list of str or None. Recorded in the manifest. Defaults to None.
        preprocessing: None, mode name or dict {"mode", "mean", "std",
            "channel_order"}. Recorded; needed by `uint8_input`. Defaults to None.
        overwrite: bool. Replace an existing export. Defaults to False.
        uint8_input: bool. Add a SavedModel signature `serving_uint8` taking raw uint8
            RGB pixels and applying `preprocessing` in the graph. Defaults to False.
        int8_io: str. Input/output type of the full-integer TFLite model: "float",
            "int8" or "uint8". Defaults to "float".
        opset: int or None. ONNX opset. Defaults to None (17).
        tolerances: dict or None. Overrides of `parity.DEFAULT_TOLERANCES`, e.g.
            {"int8": {"min_top1_agreement": 0.5}}. Defaults to None.

    Returns:
        dict: the manifest, plus "export_dir" and "manifest_path".

    Raises:
        ValueError: bad arguments (nothing written).
        FileExistsError: `output_dir` exists and not `overwrite`.
        parity.ParityError: an artifact fails parity (nothing published).
    """
    model = source.load_model(model)
    input_shape = _check_model(model)
    formats = check_formats(formats)
    modes = tflite.check_modes(tflite_modes) if "tflite" in formats else ()
    if int8_io not in tflite.INT8_IO:
        raise ValueError(f"Unknown int8_io={int8_io!r}. Allowed values: {list(tflite.INT8_IO)}.")
    if "onnx" in formats:
        onnx_export.check_opset(opset)
    preprocessing = source.resolve_preprocessing(preprocessing)
    if uint8_input and preprocessing is None:
        raise ValueError("uint8_input=True needs preprocessing (a mode name or "
                         "{'mean', 'std', 'channel_order'}) to put in the graph.")
    tolerances = parity.resolve_tolerances(tolerances)
    model_name = model_name or model.name
    output_dir = os.path.abspath(output_dir or os.path.join("saved_models", model_name))
    publish.check_destination(output_dir, overwrite)  # fail before minutes of work

    representative = _as_batch(representative_data, input_shape, "representative_data",
                               MAX_CALIBRATION_SAMPLES)
    warnings = []
    if parity_data is not None:
        parity_x, parity_source = _as_batch(parity_data, input_shape, "parity_data",
                                            MAX_PARITY_SAMPLES), "parity_data"
    elif representative is not None:
        parity_x, parity_source = representative[:MAX_PARITY_SAMPLES], "representative_data"
    else:
        rng = np.random.default_rng(RANDOM_SEED)
        parity_x = rng.standard_normal((RANDOM_SAMPLES,) + input_shape).astype(np.float32)
        parity_source = f"random: N(0, 1), seed {RANDOM_SEED}"
        warnings.append("No data given: parity ran on random noise, which says little "
                        "about int8 accuracy on real images.")
    if "int8" in modes and representative is None:
        representative = parity_x
        warnings.append(f"int8 calibrated on the parity batch ({parity_source}).")

    reference = model.predict(parity_x, batch_size=MAX_PARITY_SAMPLES, verbose=0)
    batch = {"inputs": parity_x, "reference": np.asarray(reference, np.float32)}
    input_name = "input"
    output_name = model.output_names[0] if getattr(model, "output_names", None) else "output"
    artifacts, results, failures = {}, {}, []

    def record(key, runner_output, precision, **how):
        figures = parity.compare(batch["reference" + how.get("suffix", "")], runner_output)
        message = parity.check(key, figures, precision, tolerances)
        figures.update({k: v for k, v in how.items() if k != "suffix"})
        figures["batch"] = {"inputs": "inputs" + how.get("suffix", ""),
                            "reference": "reference" + how.get("suffix", "")}
        results[key] = figures
        fault_point("export_artifact")  # testing hook: a kill between artifacts
        logger.info("parity %s: max_abs=%.3g max_rel=%.3g top1=%.3f", key,
                    figures["max_abs"], figures["max_rel"], figures["top1_agreement"])
        if message:
            failures.append(message)

    with publish.staging_folder(output_dir, overwrite) as staging:
        saved_dir = os.path.join(staging, SAVEDMODEL_DIR)
        if "savedmodel" in formats or "tflite" in formats:
            start = time.perf_counter()
            signatures = savedmodel.write(model, saved_dir, input_name=input_name,
                                          output_name=output_name,
                                          preprocessing=preprocessing,
                                          uint8_input=uint8_input and "savedmodel" in formats)
            seconds = time.perf_counter() - start
            if "savedmodel" in formats:
                artifacts["savedmodel"] = {"format": "savedmodel", "path": SAVEDMODEL_DIR,
                                           "signatures": signatures,
                                           "export_seconds": round(seconds, 3)}
                record("savedmodel", savedmodel.run(saved_dir, parity_x), parity.FLOAT32,
                       artifact="savedmodel", signature=savedmodel.DEFAULT_SIGNATURE)
                if uint8_input:
                    raw = _to_uint8(parity_x, preprocessing)
                    batch["inputs_uint8"] = raw
                    batch["reference_uint8"] = np.asarray(model.predict(
                        savedmodel.preprocess_uint8_numpy(raw, preprocessing),
                        batch_size=MAX_PARITY_SAMPLES, verbose=0), np.float32)
                    record("savedmodel_uint8",
                           savedmodel.run(saved_dir, raw, signature=savedmodel.UINT8_SIGNATURE),
                           parity.FLOAT32, artifact="savedmodel",
                           signature=savedmodel.UINT8_SIGNATURE, suffix="_uint8")
        for mode in modes:
            start = time.perf_counter()
            flatbuffer = tflite.convert(saved_dir, mode, representative_data=representative,
                                        int8_io=int8_io)
            path = os.path.join(staging, tflite_file(mode))
            with open(path, "wb") as f:
                f.write(flatbuffer)
            key = f"tflite_{mode}"
            artifacts[key] = {"format": "tflite", "mode": mode, "path": tflite_file(mode),
                              "export_seconds": round(time.perf_counter() - start, 3),
                              **tflite.describe(path)}
            if mode == "int8":
                artifacts[key]["int8_io"] = int8_io
                artifacts[key]["calibration_samples"] = int(len(representative))
            record(key, tflite.run(path, parity_x), tflite.PRECISION[mode], artifact=key)
        if "savedmodel" not in formats and os.path.isdir(saved_dir):
            shutil.rmtree(saved_dir)  # only the converter's source
        if "onnx" in formats:
            start = time.perf_counter()
            path = os.path.join(staging, ONNX_FILE)
            info = onnx_export.convert(model, path, input_name=input_name,
                                       output_name=output_name, opset=opset)
            artifacts["onnx"] = {"format": "onnx", "path": ONNX_FILE,
                                 "export_seconds": round(time.perf_counter() - start, 3),
                                 **info}
            record("onnx", onnx_export.run(path, parity_x), parity.FLOAT32, artifact="onnx")
        if failures:
            raise parity.ParityError("Export not published. " + " ".join(failures))

        np.savez_compressed(os.path.join(staging, PARITY_FILE), **batch)
        files = manifest_lib.file_table(staging)
        for entry in artifacts.values():
            entry["size"] = manifest_lib.folder_size(files, entry["path"])
            if entry["path"] in files:
                entry["sha256"] = files[entry["path"]]["sha256"]
        manifest = {
            "format_version": manifest_lib.FORMAT_VERSION,
            "model": {
                "name": model_name,
                "keras_name": model.name,
                "config": model.get_config(),
                "params": int(model.count_params()),
                "input": {"name": input_name, "shape": [None, *input_shape],
                          "dtype": str(model.inputs[0].dtype)},
                "output": {"name": output_name,
                           "shape": [None, *tuple(model.outputs[0].shape[1:])],
                           "dtype": "float32"},
            },
            "preprocessing": preprocessing,
            "class_names": list(class_names) if class_names is not None else None,
            "artifacts": artifacts,
            "parity": {"file": PARITY_FILE, "source": parity_source,
                       "samples": int(len(parity_x)), "results": results},
            "warnings": warnings,
            "files": files,
            "versions": manifest_lib.library_versions(),
            "created": manifest_lib.timestamp(),
        }
        manifest_lib.write(manifest, staging)
    logger.info("Exported %s to %s", model_name, output_dir)
    return {**manifest, "export_dir": output_dir,
            "manifest_path": os.path.join(output_dir, manifest_lib.MANIFEST)}
