"""The table of export formats: what `export_model` writes and `verify` re-checks.

Each format module (`savedmodel`, `tflite`, `onnx_export`, `openvino_export`) has the
same small interface: `write` an artifact, `load(path, *, threads=None)` it for
prediction, `describe` it. `TABLE` maps a format name to its module, its runtime,
`artifacts` (a function that writes every artifact of the format for one export, a
`Job`, and yields each one's manifest entry and parity checks) and `loader` (what
`verify` runs again). To add a format, write its module and one row here;
`export_model`, `verify` and `scripts/export.py --format` follow.
"""

import dataclasses
import os
import shutil
import time
from typing import Callable

import numpy as np

from keras_resnet.export import onnx_export, openvino_export, parity, savedmodel, tflite

SAVEDMODEL_DIR = "savedmodel"
ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model_int8.onnx"


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
    _savedmodel: tuple = None
    _onnx: tuple = None
    _onnx_int8: tuple = None

    def savedmodel(self):
        """Writes the SavedModel (the TFLite converter's source too) once; returns
        (its folder, its signatures, seconds taken)."""
        if self._savedmodel is None:
            path = os.path.join(self.staging, SAVEDMODEL_DIR)
            start = time.perf_counter()
            signatures = savedmodel.write(
                self.model, path, input_name=self.input_name, output_name=self.output_name,
                preprocessing=self.preprocessing,
                uint8_input=self.uint8_input and "savedmodel" in self.formats)
            self._savedmodel = (path, signatures, time.perf_counter() - start)
        return self._savedmodel

    def onnx(self):
        """Writes the ONNX file (the OpenVINO converter's source too) once; returns (its
        path, `onnx_export.write`'s description, seconds taken)."""
        if self._onnx is None:
            path = os.path.join(self.staging, ONNX_FILE)
            start = time.perf_counter()
            info = onnx_export.write(self.model, path, input_name=self.input_name,
                                     output_name=self.output_name, opset=self.opset)
            self._onnx = (path, info, time.perf_counter() - start)
        return self._onnx

    def onnx_int8(self):
        """Writes the static QDQ int8 ONNX file (the int8 OpenVINO IR's source too)
        once; returns (its path, seconds taken)."""
        if self._onnx_int8 is None:
            source, _, _ = self.onnx()
            path = os.path.join(self.staging, ONNX_INT8_FILE)
            start = time.perf_counter()
            onnx_export.quantize_static(source, path, self.representative)
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


@dataclasses.dataclass
class Artifact:
    """One written artifact: its manifest key and entry, and its parity checks."""
    key: str
    entry: dict
    checks: list


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
            Check(key, tflite.load(path), tflite.PRECISION[mode], {"artifact": key})])


def _onnx_artifacts(job):
    path, info, seconds = job.onnx()
    entry = {"format": "onnx", "path": ONNX_FILE, "export_seconds": round(seconds, 3), **info}
    yield Artifact("onnx", entry, [
        Check("onnx", onnx_export.load(path), parity.FLOAT32, {"artifact": "onnx"})])


def _quantization(job):
    return {"quantization": "static QDQ", "weights": "int8 per channel",
            "activations": "uint8", "calibration_samples": int(len(job.representative))}


def _onnx_int8_artifacts(job):
    path, seconds = job.onnx_int8()
    entry = {"format": "onnx", "path": ONNX_INT8_FILE, **_quantization(job),
             "converted_from": ONNX_FILE, "export_seconds": round(seconds, 3),
             **onnx_export.describe(path)}
    yield Artifact("onnx_int8", entry, [
        Check("onnx_int8", onnx_export.load(path), parity.INT8_STATIC,
              {"artifact": "onnx_int8"})])


def _openvino_checks(path):
    """f32, then the host's default precision (a second check only where it differs)."""
    exact = openvino_export.load(path, inference_precision=openvino_export.F32)
    checks = [Check("openvino", exact, exact.precision,
                    {"artifact": "openvino", "inference_precision_hint": openvino_export.F32,
                     "runtime_precision": exact.precision})]
    default = openvino_export.load(path, inference_precision=None)
    checks.append(Check("openvino_host_default", default, default.precision,
                        {"artifact": "openvino", "inference_precision_hint": None,
                         "runtime_precision": default.precision}))
    return checks


def _openvino_artifacts(job):
    source, _, _ = job.onnx()
    start = time.perf_counter()
    path = os.path.join(job.staging, openvino_export.XML_FILE)
    info = openvino_export.write(source, path)
    entry = {"format": "openvino", "path": openvino_export.XML_FILE,
             "files": [openvino_export.XML_FILE, openvino_export.BIN_FILE],
             "converted_from": ONNX_FILE, "weights": "float32",
             "export_seconds": _seconds(start), **info,
             "host_default_precision": openvino_export.host_precision()}
    yield Artifact("openvino", entry, _openvino_checks(path))


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
    predict = openvino_export.load(path, inference_precision=None)
    entry["runtime_precisions"] = predict.runtime_precisions
    yield Artifact("openvino_int8", entry, [
        Check("openvino_int8", predict, parity.INT8_STATIC,
              {"artifact": "openvino_int8", "inference_precision_hint": None,
               "runtime_precision": predict.precision,
               "int8_kernels": bool({"i8", "u8"} & set(predict.runtime_precisions))})])


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
