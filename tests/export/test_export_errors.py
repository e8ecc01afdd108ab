"""Bad export requests and damaged exports: unknown formats and modes, parity data of
the wrong shape, a corrupt .keras file or a folder as the model, an undecodable
calibration image, a destination under a file, and exports changed after the fact or
with an incomplete manifest, which `verify` refuses (see tests/bad_inputs.py). The
damaged exports are copies of the session's `tiny_export`."""

import os
import shutil

import numpy as np
from bad_inputs import check, parametrize
from factories import image_bytes, tiny_model, write_images

from keras_resnet import export
from keras_resnet.export.verify import VerificationError


def _export_call(**kwargs):
    def case(tmp_path, exported):
        export.export_model(kwargs.pop("model", None) or tiny_model(),
                            output_dir=str(tmp_path / "out"), **kwargs)
    return case


def _corrupt_keras_file(tmp_path, exported):
    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    export.export_model(str(path), output_dir=str(tmp_path / "out"))


def _tampered(change):
    def case(tmp_path, exported):
        copy = str(tmp_path / "copy")
        shutil.copytree(exported, copy)
        change(copy)
        export.verify(copy)
    return case


def _append_byte(folder):
    with open(os.path.join(folder, "model_float32.tflite"), "ab") as f:
        f.write(b"\0")


def _flip_byte(folder):
    path = os.path.join(folder, "model_float32.tflite")
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))


def _garble_manifest(folder):
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        f.write("{")


def _edit_manifest(change):
    """A `_tampered` change that edits manifest.json's JSON with `change(manifest)`."""
    def edit(folder):
        import json

        path = os.path.join(folder, "manifest.json")
        with open(path) as f:
            manifest = json.load(f)
        change(manifest)
        with open(path, "w") as f:
            json.dump(manifest, f)
    return edit


def _drop_signature(manifest):
    result = next(r for r in manifest["parity"]["results"].values() if "signature" in r)
    del result["signature"]


def _calibration_folder(tmp_path, exported):
    write_images(tmp_path / "images", 1)
    jpeg = image_bytes()
    (tmp_path / "images" / "b.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    export.load_images(str(tmp_path / "images"), size=(16, 16),
                       preprocessing=export.resolve_preprocessing("torch"))


def _model_folder(tmp_path, exported):
    export.load_model(str(tmp_path))


def _export_under_a_file(tmp_path, exported):
    (tmp_path / "file").write_text("x")
    export.export_model(tiny_model(), output_dir=str(tmp_path / "file" / "out"))


CASES = [
    ("export-unknown-format", _export_call(formats="coreml"), ValueError, "coreml"),
    ("export-unknown-tflite-mode", _export_call(formats="tflite", tflite_modes=("int4",)),
     ValueError, "int4"),
    ("export-unknown-model-name", _export_call(model="resnet21"), ValueError, "resnet21"),
    ("export-parity-data-shape", _export_call(parity_data=np.zeros((2, 8, 8, 3))), ValueError,
     "parity_data"),
    ("export-corrupt-keras-file", _corrupt_keras_file, ValueError, "Could not read"),
    ("export-tampered-size", _tampered(_append_byte), VerificationError, "size"),
    ("export-tampered-bytes", _tampered(_flip_byte), VerificationError, "sha256"),
    ("export-extra-file", _tampered(lambda d: open(os.path.join(d, "x.bin"), "w").close()),
     VerificationError, "not in the manifest"),
    ("export-missing-file", _tampered(lambda d: os.remove(os.path.join(
        d, "model_float32.tflite"))), VerificationError, "missing file"),
    ("export-no-manifest", _tampered(lambda d: os.remove(os.path.join(d, "manifest.json"))),
     FileNotFoundError, "No manifest.json"),
    ("export-garbled-manifest", _tampered(_garble_manifest), ValueError,
     r"manifest.json is not valid JSON .*Export again"),
    # issue 16, item 14: each of these was a KeyError, a PIL or an OS traceback
    ("export-manifest-without-a-size", _tampered(_edit_manifest(
        lambda m: m["files"]["model_float32.tflite"].pop("size"))), ValueError,
     r"manifest.json is incomplete: no files.model_float32.tflite.size. Export again"),
    ("export-manifest-without-parity-results", _tampered(_edit_manifest(
        lambda m: m["parity"].pop("results"))), ValueError,
     "is incomplete: no parity.results"),
    ("export-manifest-without-a-signature", _tampered(_edit_manifest(_drop_signature)),
     ValueError, "is incomplete: parity result 'savedmodel.*needs 'signature'"),
    ("export-corrupt-calibration-image", _calibration_folder, ValueError,
     r"representative_dir image '.*b.jpg' cannot be decoded .*Replace or remove it"),
    ("export-model-is-a-folder", _model_folder, ValueError, "is a folder, not a .keras file"),
    ("export-destination-under-a-file", _export_under_a_file, ValueError,
     "cannot be created: .*file' is a file, not a folder"),
]


@parametrize(CASES)
def test_bad_input(case, error, match, tmp_path, tiny_export):
    check(case, error, match, tmp_path, tiny_export[1])
