"""`export_model`: a Keras model to SavedModel, TFLite, ONNX and OpenVINO artifacts, each
reloaded in its own runtime and compared with the Keras model, published atomically
with a manifest."""

import logging
import os

import numpy as np

from keras_resnet.export import formats as formats_lib
from keras_resnet.export import manifest as manifest_lib
from keras_resnet.export import onnx_export, parity, publish, savedmodel, source, tflite
from keras_resnet.faults import fault_point
from keras_resnet.models.fold import fold_batch_norm

logger = logging.getLogger(__name__)

FORMATS = formats_lib.FORMATS
check_formats = formats_lib.check_formats
PARITY_FILE = "parity_batch.npz"
MAX_PARITY_SAMPLES = 32
MAX_CALIBRATION_SAMPLES = 100
RANDOM_SAMPLES = 16
RANDOM_SEED = 0


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


def export_model(model, *, output_dir=None, model_name=None, formats="all",
                 tflite_modes=tflite.MODES, representative_data=None, parity_data=None,
                 class_names=None, preprocessing=None, overwrite=False, uint8_input=False,
                 int8_io="float", opset=None, tolerances=None, fold_bn=True,
                 onnx_layout="nhwc"):
    """Exports `model` to SavedModel, TFLite, ONNX and/or OpenVINO IR, checks parity,
    publishes.

    Every artifact is reloaded in its own runtime (TensorFlow, LiteRT, onnxruntime,
    OpenVINO at f32 and at the host's default precision)
    and run on the same batch as the Keras model; figures and tolerances are in
    `keras_resnet.export.parity`. The export is built beside `output_dir` and renamed
    into place only when every artifact passes, so a failure (or a kill) never leaves
    a partial export and never touches a previous one.

    Args:
        model: keras.Model or str. The model, or a path to a `.keras` file.
        output_dir: str or None. Export folder. Defaults to None
            (`saved_models/<model_name>`).
        model_name: str or None. Defaults to None (`model.name`).
        formats: str or list. "savedmodel", "tflite", "onnx", "onnx_int8" (static
            QDQ int8, calibrated on `representative_data`), "openvino", "openvino_int8"
            (that QDQ model as OpenVINO IR), "all", or a list.
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
        uint8_input: bool. Add raw-pixel artifacts that take uint8 RGB pixels (NHWC)
            and apply `preprocessing` in the graph: the SavedModel signature
            `serving_uint8`, `model_float32_uint8.tflite` and `model_int8_uint8.tflite`
            (uint8 input of scale 1, zero point 0), `model_uint8.onnx`,
            `model_int8_uint8.onnx`, `model_uint8.xml` and `model_int8_uint8.xml`
            (each where its format is exported). Defaults to False.
        int8_io: str. Input/output type of the full-integer TFLite model: "float",
            "int8" or "uint8". Defaults to "float".
        opset: int or None. ONNX opset (also of the ONNX file OpenVINO converts).
            Defaults to None (17).
        tolerances: dict or None. Overrides of `parity.DEFAULT_TOLERANCES`, e.g.
            {"int8": {"min_top1_agreement": 0.5}}. Defaults to None.
        fold_bn: bool. Export an inference copy with BatchNormalization folded into the
            convolutions (`keras_resnet.models.fold_batch_norm`): the TensorFlow graph
            then runs one fused convolution where Keras' BN would be separate multiplies
            and adds (ResNet-50 TF inference measured 1.04-1.16x in float32 and
            1.34-1.57x under mixed_bfloat16 on an AVX512_BF16 CPU); parity is still checked
            against the original model. Defaults to True.
        onnx_layout: str. "nhwc" or "nchw" (TensorRT, OpenCV DNN): input layout of the
            ONNX files and of the OpenVINO IRs converted from them; parity runs on the
            transposed batch. Defaults to "nhwc".

    Returns:
        dict: the manifest, plus "export_dir", "manifest_path" and "manifest_sha256"
        (keep it elsewhere to pin trust: `verify(..., manifest_sha256=...)`).

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
    onnx_layout = onnx_export.check_layout(onnx_layout)
    if {"onnx", "onnx_int8", "openvino", "openvino_int8"} & set(formats):
        onnx_export.check_opset(opset)  # the int8 and OpenVINO artifacts start from ONNX
    formats_lib.check_runtimes(formats)
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
    if (("int8" in modes or {"onnx_int8", "openvino_int8"} & set(formats))
            and representative is None):
        representative = parity_x
        warnings.append(f"int8 calibrated on the parity batch ({parity_source}).")

    reference = model.predict(parity_x, batch_size=MAX_PARITY_SAMPLES, verbose=0)
    batch = {"inputs": parity_x, "reference": np.asarray(reference, np.float32)}
    input_name = "input"
    output_name = model.output_names[0] if getattr(model, "output_names", None) else "output"
    artifacts, results, failures = {}, {}, []

    def check(artifact_check):
        suffix = artifact_check.suffix
        if suffix == "_uint8" and "inputs_uint8" not in batch:
            raw = savedmodel.pixels_from_inputs(parity_x, preprocessing)
            batch["inputs_uint8"] = raw
            batch["reference_uint8"] = np.asarray(model.predict(
                savedmodel.preprocess_uint8_numpy(raw, preprocessing),
                batch_size=MAX_PARITY_SAMPLES, verbose=0), np.float32)
        key = artifact_check.key
        inputs = formats_lib.to_layout(batch["inputs" + suffix], artifact_check.layout)
        figures = parity.compare(batch["reference" + suffix], artifact_check.predict(inputs))
        message = parity.check(key, figures, artifact_check.precision, tolerances)
        figures.update(artifact_check.how)
        figures["batch"] = {"inputs": "inputs" + suffix, "reference": "reference" + suffix,
                            "layout": artifact_check.layout}
        results[key] = figures
        fault_point("export_artifact")  # testing hook: a kill between artifacts
        logger.info("parity %s: max_abs=%.3g max_rel=%.3g top1=%.3f", key,
                    figures["max_abs"], figures["max_rel"], figures["top1_agreement"])
        if message:
            failures.append(message)

    with publish.staging_folder(output_dir, overwrite) as staging:
        exported = fold_batch_norm(model) if fold_bn else model
        job = formats_lib.Job(exported, staging, input_name, output_name,
                              preprocessing=preprocessing, uint8_input=uint8_input,
                              tflite_modes=modes, int8_io=int8_io, opset=opset,
                              representative=representative, formats=formats,
                              onnx_layout=onnx_layout)
        for name in formats:
            row = formats_lib.TABLE[name]
            for artifact in row.artifacts(job):
                artifacts[artifact.key] = {**artifact.entry, **artifact.summary(row.runtime)}
                for artifact_check in artifact.checks:
                    check(artifact_check)
        job.remove_sources()
        if failures:
            raise parity.ParityError("Export not published. " + " ".join(failures))

        np.savez_compressed(os.path.join(staging, PARITY_FILE), **batch)
        manifest = manifest_lib.build(
            staging, model=model, model_name=model_name, input_name=input_name,
            output_name=output_name, preprocessing=preprocessing, class_names=class_names,
            artifacts=artifacts, parity={"file": PARITY_FILE, "source": parity_source,
                                         "samples": int(len(parity_x)), "results": results},
            warnings=warnings)
        manifest_lib.write(manifest, staging)
    logger.info("Exported %s to %s", model_name, output_dir)
    manifest_path = os.path.join(output_dir, manifest_lib.MANIFEST)
    return {**manifest, "export_dir": output_dir, "manifest_path": manifest_path,
            "manifest_sha256": manifest_lib.sha256(manifest_path)}
