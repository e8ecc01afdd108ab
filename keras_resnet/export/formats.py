"""The table of export formats: what `export_model` writes and `verify` re-checks.

Each format module (`savedmodel`, `tflite`, `onnx_export`, `openvino_export`) has the
same small interface: `write` an artifact, `load(path, *, threads=None)` it for
prediction, `describe` it. `TABLE` maps a format name to its module, its runtime,
`artifacts` (a function that writes every artifact of the format for one export, a
`Job`, and yields each one's manifest entry and parity checks) and `loader` (what
`verify` runs again). To add a format, write its module and one row here;
`export_model`, `verify` and `scripts/export.py --format` follow.

With `uint8_input`, each format also yields raw-pixel artifacts (key suffix `_uint8`):
uint8 RGB NHWC in, the model's preprocessing in the graph, each checked against Keras
on the preprocessed pixels (the parity batch's `_uint8` variant). `onnx_layout="NCHW"`
applies to the ONNX files and the OpenVINO IRs converted from them (not to the
raw-pixel ones, which take camera frames as they come); their checks run on the
transposed batch. The raw-pixel int8 ONNX file is quantized from the raw-pixel float
one, calibrated on the representative data as raw pixels.
"""

import dataclasses
import os
import shutil
import time
from typing import Callable

import numpy as np

from keras_resnet.export import onnx_export, openvino_export, parity, savedmodel, tflite

SAVEDMODEL_DIR = "savedmodel"
PIXELS_SAVEDMODEL_DIR = "savedmodel_pixels"  # the raw-pixel int8 TFLite's source only
ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model_int8.onnx"
ONNX_UINT8_FILE = "model_uint8.onnx"
ONNX_INT8_UINT8_FILE = "model_int8_uint8.onnx"
NHWC, NCHW = onnx_export.LAYOUTS
RAW_PIXELS = "in the graph (uint8 RGB pixels in)"
BY_CALLER = "by the caller (see preprocessing)"


def tflite_file(mode):
    """File name of the TFLite artifact of `mode`."""
    return f"model_{mode}.tflite"


@dataclasses.dataclass
class Job:
    """One export's settings and shared state, handed to each format's `artifacts`.

    Attributes:
        model: keras.Model. The model being exported.
        staging: str. The staging folder the artifacts go to.
        input_name, output_name: str. Names of the graph input and output.
        preprocessing: dict or None. Resolved preprocessing.
        uint8_input: bool. Add raw-pixel variants where the format has them.
        tflite_modes: tuple of str. TFLite modes to write.
        int8_io: str. I/O type of the full-integer TFLite model.
        opset: int or None. ONNX opset.
        representative: float32 array or None. Calibration samples.
        formats: tuple of str. The formats of this export.
        onnx_layout: str. "NHWC" or "NCHW": input layout of the ONNX files and of the
            OpenVINO IRs converted from them.
    """
    model: object
    staging: str
    input_name: str
    output_name: str
    preprocessing: dict = None
    uint8_input: bool = False
    tflite_modes: tuple = ()
    int8_io: str = "float"
    opset: int = None
    representative: np.ndarray = None
    formats: tuple = ()
    onnx_layout: str = NHWC
    _savedmodel: tuple = None
    _pixels_savedmodel: str = None
    weight_type: str = None
    _onnx: tuple = None
    _onnx_int8: tuple = None
    _onnx_uint8: tuple = None

    def savedmodel(self):
        """Writes the SavedModel (the TFLite converter's source too) once; returns
        (its folder, its signatures, seconds taken)."""
        if self._savedmodel is None:
            path = os.path.join(self.staging, SAVEDMODEL_DIR)
            start = time.perf_counter()
            signatures = savedmodel.write(
                self.model, path, input_name=self.input_name, output_name=self.output_name,
                preprocessing=self.preprocessing, uint8_input=self.uint8_input)
            self._savedmodel = (path, signatures, time.perf_counter() - start)
        return self._savedmodel

    def pixels(self):
        """The calibration samples as raw pixels (float32 0..255)."""
        return savedmodel.pixels_from_inputs(self.representative,
                                             self.preprocessing).astype(np.float32)

    def pixels_savedmodel(self):
        """Writes `savedmodel.write_pixels`' graph once (the raw-pixel int8 TFLite's
        source); returns its folder."""
        if self._pixels_savedmodel is None:
            path = os.path.join(self.staging, PIXELS_SAVEDMODEL_DIR)
            savedmodel.write_pixels(self.model, path, preprocessing=self.preprocessing,
                                    output_name=self.output_name)
            self._pixels_savedmodel = path
        return self._pixels_savedmodel

    def _onnx_once(self, attribute, file, **write_args):
        """Writes the ONNX file `file` with `onnx_export.write(**write_args)` unless
        `attribute` already holds it; returns (its path, the description, seconds)."""
        if getattr(self, attribute) is None:
            path = os.path.join(self.staging, file)
            start = time.perf_counter()
            info = onnx_export.write(self.model, path, output_name=self.output_name,
                                     opset=self.opset, **write_args)
            setattr(self, attribute, (path, info, time.perf_counter() - start))
        return getattr(self, attribute)

    def onnx(self):
        """Writes the ONNX file (the OpenVINO converter's source too) once; returns (its
        path, `onnx_export.write`'s description, seconds taken)."""
        return self._onnx_once("_onnx", ONNX_FILE, input_name=self.input_name,
                               layout=self.onnx_layout)

    def onnx_uint8(self):
        """Writes the raw-pixel ONNX file (the raw-pixel int8 ONNX file's source too)
        once; returns (its path, `onnx_export.write`'s description, seconds taken)."""
        return self._onnx_once("_onnx_uint8", ONNX_UINT8_FILE,
                               input_name=savedmodel.UINT8_INPUT_NAME,
                               preprocessing=self.preprocessing)

    def onnx_int8(self):
        """Writes the static QDQ int8 ONNX file (the int8 OpenVINO IR's source too)
        once; returns (its path, seconds taken); `weight_type` records its weights'."""
        if self._onnx_int8 is None:
            source, _, _ = self.onnx()
            path = os.path.join(self.staging, ONNX_INT8_FILE)
            start = time.perf_counter()
            self.weight_type = onnx_export.quantize_static(
                source, path, to_layout(self.representative, self.onnx_layout))
            self._onnx_int8 = (path, time.perf_counter() - start)
        return self._onnx_int8

    def remove_sources(self):
        """Deletes what was written only as a converter's source (a SavedModel or ONNX
        file of a format not asked for)."""
        if self._savedmodel and "savedmodel" not in self.formats:
            shutil.rmtree(self._savedmodel[0])
        if self._onnx and "onnx" not in self.formats:
            os.remove(self._onnx[0])
        if self._onnx_int8 and "onnx_int8" not in self.formats:
            os.remove(self._onnx_int8[0])
        if self._onnx_uint8 and "onnx" not in self.formats:
            os.remove(self._onnx_uint8[0])
        if self._pixels_savedmodel:
            shutil.rmtree(self._pixels_savedmodel)


def to_layout(x, layout):
    """An NHWC batch in `layout` ("NHWC" or "NCHW")."""
    return np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2))) if layout == NCHW else x


@dataclasses.dataclass
class Check:
    """One parity check of an artifact: the result key in the manifest, how to run
    it, its precision, and what `verify` needs to run it again (`how`, recorded with
    the figures)."""
    key: str
    predict: Callable
    precision: str
    how: dict
    suffix: str = ""  # parity batch variant: "" (normalized floats) or "_uint8"
    layout: str = NHWC  # the batch is transposed for an NCHW input


@dataclasses.dataclass
class Artifact:
    """One written artifact: its manifest key and entry, its parity checks, and what
    the manifest says of its input and precision (`summary`)."""
    key: str
    entry: dict
    checks: list
    precision: str = parity.FLOAT32  # of the weights: float32, float16 or int8
    input_dtype: str = "float32"
    layout: str = NHWC
    raw_pixels: bool = False

    def summary(self, runtime):
        """Precision, input (dtype, layout, where preprocessing runs), the runtime it
        was checked in, and each check's compute precision."""
        return {"precision": self.precision,
                "input": {"dtype": self.input_dtype, "layout": self.layout,
                          "preprocessing": RAW_PIXELS if self.raw_pixels else BY_CALLER},
                "checked_in": runtime,
                "checks": {check.key: check.precision for check in self.checks}}


def _seconds(start):
    return round(time.perf_counter() - start, 3)


def _savedmodel_artifacts(job):
    path, signatures, seconds = job.savedmodel()
    checks = [Check("savedmodel", savedmodel.load(path), parity.FLOAT32,
                    {"artifact": "savedmodel", "signature": savedmodel.DEFAULT_SIGNATURE})]
    if job.uint8_input:
        checks.append(Check("savedmodel_uint8",
                            savedmodel.load_signature(path, savedmodel.UINT8_SIGNATURE),
                            parity.FLOAT32, {"artifact": "savedmodel",
                                             "signature": savedmodel.UINT8_SIGNATURE},
                            suffix="_uint8"))
    entry = {"format": "savedmodel", "path": SAVEDMODEL_DIR, "signatures": signatures,
             "export_seconds": round(seconds, 3)}
    if job.uint8_input:
        entry["raw_pixels_signature"] = savedmodel.UINT8_SIGNATURE
    yield Artifact("savedmodel", entry, checks)


def _tflite_artifacts(job):
    source, _, _ = job.savedmodel()
    for mode in job.tflite_modes:
        start = time.perf_counter()
        path = os.path.join(job.staging, tflite_file(mode))
        tflite.write(source, path, mode, representative_data=job.representative,
                     int8_io=job.int8_io)
        key = f"tflite_{mode}"
        entry = {"format": "tflite", "mode": mode, "path": tflite_file(mode),
                 "export_seconds": _seconds(start), **tflite.describe(path)}
        if mode == "int8":
            entry["int8_io"] = job.int8_io
            entry["calibration_samples"] = int(len(job.representative))
        yield Artifact(key, entry, [
            Check(key, tflite.load(path), tflite.PRECISION[mode], {"artifact": key})],
            precision=_weights(tflite.PRECISION[mode]),
            input_dtype=job.int8_io if mode == "int8" and job.int8_io != "float" else "float32")
        if job.uint8_input and mode in tflite.UINT8_MODES:
            yield _tflite_uint8_artifact(job, mode)


def _weights(precision):
    return parity.INT8 if precision.startswith(parity.INT8) else precision


def _tflite_uint8_artifact(job, mode):
    """The raw-pixel TFLite model of `mode` (see `tflite.UINT8_MODES`)."""
    start = time.perf_counter()
    name = tflite_file(f"{mode}_uint8")
    path = os.path.join(job.staging, name)
    if mode == "int8":
        tflite.write(job.pixels_savedmodel(), path, mode, representative_data=job.pixels(),
                     int8_io=job.int8_io, uint8_input=True)
    else:
        tflite.write(job.savedmodel()[0], path, mode, signature=savedmodel.UINT8_SIGNATURE)
    key = f"tflite_{mode}_uint8"
    entry = {"format": "tflite", "mode": mode, "path": name,
             "export_seconds": _seconds(start), **tflite.describe(path)}
    if mode == "int8":
        entry["int8_io"] = job.int8_io  # the output's type; the input is uint8 pixels
        entry["calibration_samples"] = int(len(job.representative))
    return Artifact(key, entry, [Check(key, tflite.load(path), tflite.PRECISION[mode],
                                       {"artifact": key}, suffix="_uint8")],
                    precision=_weights(tflite.PRECISION[mode]), input_dtype="uint8",
                    raw_pixels=True)


def _onnx_artifacts(job):
    path, info, seconds = job.onnx()
    entry = {"format": "onnx", "path": ONNX_FILE, "export_seconds": round(seconds, 3), **info}
    yield Artifact("onnx", entry, [
        Check("onnx", onnx_export.load(path), parity.FLOAT32, {"artifact": "onnx"},
              layout=job.onnx_layout)], layout=job.onnx_layout)
    if job.uint8_input:
        path, info, seconds = job.onnx_uint8()
        entry = {"format": "onnx", "path": ONNX_UINT8_FILE, "export_seconds": round(seconds, 3),
                 **info}
        yield Artifact("onnx_uint8", entry, [
            Check("onnx_uint8", onnx_export.load(path), parity.FLOAT32,
                  {"artifact": "onnx_uint8"}, suffix="_uint8")],
            input_dtype="uint8", raw_pixels=True)


def _quantization(job):
    # uint8 weights where the exporting CPU has no VNNI (onnx_export.default_weight_type).
    return {"quantization": "static QDQ", "weights": f"{job.weight_type} per channel",
            "activations": "uint8", "calibration_samples": int(len(job.representative))}


def _onnx_int8_artifacts(job):
    path, seconds = job.onnx_int8()
    entry = {"format": "onnx", "path": ONNX_INT8_FILE, **_quantization(job),
             "converted_from": ONNX_FILE, "export_seconds": round(seconds, 3),
             "layout": job.onnx_layout, **onnx_export.describe(path)}
    yield Artifact("onnx_int8", entry, [
        Check("onnx_int8", onnx_export.load(path), parity.INT8_STATIC,
              {"artifact": "onnx_int8"}, layout=job.onnx_layout)],
        precision=parity.INT8, layout=job.onnx_layout)
    if job.uint8_input:
        yield _onnx_int8_uint8_artifact(job)


def _onnx_int8_uint8_artifact(job):
    """The raw-pixel int8 ONNX model: the raw-pixel one quantized as `onnx_int8` (its
    preprocessing left in float, see `onnx_export.quantize_static`), calibrated on the
    representative data as raw pixels."""
    source, _, _ = job.onnx_uint8()
    start = time.perf_counter()
    path = os.path.join(job.staging, ONNX_INT8_UINT8_FILE)
    job.weight_type = onnx_export.quantize_static(source, path, job.pixels())
    entry = {"format": "onnx", "path": ONNX_INT8_UINT8_FILE, **_quantization(job),
             "converted_from": ONNX_UINT8_FILE, "export_seconds": _seconds(start),
             "layout": NHWC, **onnx_export.describe(path)}
    return Artifact("onnx_int8_uint8", entry, [
        Check("onnx_int8_uint8", onnx_export.load(path), parity.INT8_STATIC,
              {"artifact": "onnx_int8_uint8"}, suffix="_uint8")],
        precision=parity.INT8, input_dtype="uint8", raw_pixels=True)


def _openvino_checks(path, key, suffix="", layout=NHWC):
    """f32, then the host's default precision (a second check only where it differs)."""
    checks = []
    for name, hint in ((key, openvino_export.F32), (f"{key}_host_default", None)):
        predict = openvino_export.load(path, inference_precision=hint)
        checks.append(Check(name, predict, predict.precision,
                            {"artifact": key, "inference_precision_hint": hint,
                             "runtime_precision": predict.precision},
                            suffix=suffix, layout=layout))
    return checks


def _openvino_uint8(job, source, files, entry):
    """Writes the raw-pixel copy of the IR at `source` (OpenVINO's PrePostProcessor in
    front) as `files`; returns (its path, its manifest entry: `entry` completed)."""
    start = time.perf_counter()
    path = os.path.join(job.staging, files[0])
    info = openvino_export.write_uint8(source, path, preprocessing=job.preprocessing,
                                       layout=job.onnx_layout)
    entry = {**entry, "path": files[0], "files": list(files),
             "converted_from": os.path.basename(source), "export_seconds": _seconds(start),
             **info}
    return path, entry


def _openvino_artifacts(job):
    source, _, _ = job.onnx()
    start = time.perf_counter()
    path = os.path.join(job.staging, openvino_export.XML_FILE)
    info = openvino_export.write(source, path)
    entry = {"format": "openvino", "path": openvino_export.XML_FILE,
             "files": [openvino_export.XML_FILE, openvino_export.BIN_FILE],
             "converted_from": ONNX_FILE, "weights": "float32", "layout": job.onnx_layout,
             "export_seconds": _seconds(start), **info,
             "host_default_precision": openvino_export.host_precision()}
    yield Artifact("openvino", entry, _openvino_checks(path, "openvino", layout=job.onnx_layout),
                   layout=job.onnx_layout)
    if job.uint8_input:
        raw, entry = _openvino_uint8(
            job, path, (openvino_export.UINT8_XML_FILE, openvino_export.UINT8_BIN_FILE),
            {"format": "openvino", "weights": "float32", "layout": NHWC,
             "host_default_precision": entry["host_default_precision"]})
        yield Artifact("openvino_uint8", entry,
                       _openvino_checks(raw, "openvino_uint8", suffix="_uint8"),
                       input_dtype="uint8", raw_pixels=True)


def _savedmodel_loader(path, entry, result):
    return savedmodel.load_signature(path, result["signature"])


def _openvino_int8_artifacts(job):
    source, _ = job.onnx_int8()
    start = time.perf_counter()
    path = os.path.join(job.staging, openvino_export.INT8_XML_FILE)
    info = openvino_export.write(source, path)
    entry = {"format": "openvino", "path": openvino_export.INT8_XML_FILE,
             "files": [openvino_export.INT8_XML_FILE, openvino_export.INT8_BIN_FILE],
             "converted_from": ONNX_INT8_FILE, **_quantization(job),
             "export_seconds": _seconds(start), **info}
    entry["layout"] = job.onnx_layout
    check, entry["runtime_precisions"] = _openvino_int8_check(path, "openvino_int8",
                                                              layout=job.onnx_layout)
    yield Artifact("openvino_int8", entry, [check], precision=parity.INT8,
                   layout=job.onnx_layout)
    if job.uint8_input:
        raw, entry = _openvino_uint8(
            job, path, (openvino_export.INT8_UINT8_XML_FILE, openvino_export.INT8_UINT8_BIN_FILE),
            {"format": "openvino", "layout": NHWC, **_quantization(job)})
        check, entry["runtime_precisions"] = _openvino_int8_check(
            raw, "openvino_int8_uint8", suffix="_uint8")
        yield Artifact("openvino_int8_uint8", entry, [check], precision=parity.INT8,
                       input_dtype="uint8", raw_pixels=True)


def _openvino_int8_check(path, key, suffix="", layout=NHWC):
    """The int8 IR at `path` at the host default, and the element types it runs in."""
    predict = openvino_export.load(path, inference_precision=None)
    return Check(key, predict, parity.INT8_STATIC,
                 {"artifact": key, "inference_precision_hint": None,
                  "runtime_precision": predict.precision,
                  "int8_kernels": bool({"i8", "u8"} & set(predict.runtime_precisions))},
                 suffix=suffix, layout=layout), predict.runtime_precisions


def _openvino_loader(path, entry, result):
    return openvino_export.load(path, inference_precision=result["inference_precision_hint"])


def _plain_loader(module):
    return lambda path, entry, result: module.load(path)


@dataclasses.dataclass(frozen=True)
class Format:
    """A row of `TABLE`.

    Attributes:
        module: the format module (write / load / describe).
        runtime: str. Where its parity is checked.
        artifacts: callable. `Job` -> iterator of `Artifact`, each written into the
            staging folder when it is yielded (its parity runs before the next one).
        loader: callable. (path, manifest entry, parity result) -> `predict(x)`, for
            `verify`.
    """
    module: object
    runtime: str
    artifacts: Callable
    loader: Callable


TABLE = {
    "savedmodel": Format(savedmodel, "tensorflow", _savedmodel_artifacts, _savedmodel_loader),
    "tflite": Format(tflite, "ai_edge_litert", _tflite_artifacts, _plain_loader(tflite)),
    "onnx": Format(onnx_export, "onnxruntime", _onnx_artifacts, _plain_loader(onnx_export)),
    "onnx_int8": Format(onnx_export, "onnxruntime", _onnx_int8_artifacts,
                        _plain_loader(onnx_export)),
    "openvino": Format(openvino_export, "openvino", _openvino_artifacts, _openvino_loader),
    "openvino_int8": Format(openvino_export, "openvino", _openvino_int8_artifacts,
                            _openvino_loader),
}
FORMATS = tuple(TABLE)


def check_formats(formats):
    """"all", one format, a comma-separated string or a list -> tuple of formats, in
    `TABLE` order."""
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


def check_runtimes(formats):
    """Raises ImportError, naming the package, when a format's library is missing
    (before any work is done)."""
    import importlib.util

    needs = {"tflite": ("ai_edge_litert",), "onnx": ("onnxruntime",),
             "onnx_int8": ("onnxruntime",), "openvino": ("openvino",),
             "openvino_int8": ("onnxruntime", "openvino")}  # ORT quantizes
    for name in formats:
        for package in needs.get(name, ()):
            if importlib.util.find_spec(package) is None:
                raise ImportError(f"formats={name!r} needs the package {package!r}: "
                                  "pip install 'keras-resnet[export]'.")


def load_for_verify(export_dir, entry, result):
    """`predict(x)` for the parity `result` of the manifest artifact `entry`."""
    if entry.get("format") not in TABLE:
        raise ValueError(f"Manifest artifact format={entry.get('format')!r} is unknown "
                         f"to this keras_resnet; it reads {list(FORMATS)}.")
    return TABLE[entry["format"]].loader(os.path.join(export_dir, entry["path"]), entry,
                                         result)
