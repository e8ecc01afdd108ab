"""`verify`: re-checks an export folder: every file's size and sha256 against the
manifest, no file missing or added, then parity of every artifact again on the stored
parity batch against the stored Keras outputs, with the recorded tolerances."""

import os

import numpy as np

from keras_resnet.export import manifest as manifest_lib
from keras_resnet.export import onnx_export, parity, savedmodel, tflite


class VerificationError(RuntimeError):
    """An export folder does not match its manifest, or fails parity."""


def _run(manifest, export_dir, result, x):
    artifact = manifest["artifacts"][result["artifact"]]
    path = os.path.join(export_dir, artifact["path"])
    if artifact["format"] == "savedmodel":
        return savedmodel.run(path, x, signature=result["signature"])
    if artifact["format"] == "tflite":
        return tflite.run(path, x)
    return onnx_export.run(path, x)


def check_files(export_dir, manifest):
    """Problems (list of str) between the files of `export_dir` and the manifest."""
    expected = manifest["files"]
    problems = []
    present = set()
    for root, _, names in os.walk(export_dir):
        for name in names:
            rel = os.path.relpath(os.path.join(root, name), export_dir).replace(os.sep, "/")
            if rel != manifest_lib.MANIFEST:
                present.add(rel)
    for rel in sorted(set(expected) - present):
        problems.append(f"missing file {rel}")
    for rel in sorted(present - set(expected)):
        problems.append(f"file not in the manifest: {rel}")
    for rel in sorted(set(expected) & present):
        path = os.path.join(export_dir, rel)
        size = os.path.getsize(path)
        if size != expected[rel]["size"]:
            problems.append(f"{rel}: size {size} != {expected[rel]['size']} in the manifest")
        elif manifest_lib.sha256(path) != expected[rel]["sha256"]:
            problems.append(f"{rel}: sha256 differs from the manifest")
    return problems


def verify(export_dir, *, check_parity=True):
    """Re-checks the export at `export_dir`.

    Args:
        export_dir: str. A folder written by `export_model`.
        check_parity: bool. Also rerun every artifact on the stored parity batch.
            Defaults to True.

    Returns:
        dict: "export_dir", "files_checked" and "parity" ({artifact: figures}).

    Raises:
        VerificationError: a file is missing, added or changed, or parity fails.
    """
    export_dir = os.path.abspath(export_dir)
    manifest = manifest_lib.read(export_dir)
    problems = check_files(export_dir, manifest)
    if problems:
        raise VerificationError(f"Export {export_dir} does not match its manifest: "
                                + "; ".join(problems) + ".")
    report = {"export_dir": export_dir, "files_checked": len(manifest["files"]), "parity": {}}
    if not check_parity:
        return report
    with np.load(os.path.join(export_dir, manifest["parity"]["file"])) as stored:
        batch = {key: stored[key] for key in stored.files}
    failures = []
    for key, recorded in manifest["parity"]["results"].items():
        x = batch[recorded["batch"]["inputs"]]
        figures = parity.compare(batch[recorded["batch"]["reference"]],
                                 _run(manifest, export_dir, recorded, x))
        precision = recorded["precision"]
        message = parity.check(key, figures, precision, {precision: recorded["tolerance"]})
        report["parity"][key] = figures
        if message:
            failures.append(message)
    if failures:
        raise VerificationError(f"Export {export_dir} fails parity: " + " ".join(failures))
    return report
