"""manifest.json of an export folder: what was exported, from what, how well it
matches the Keras model, and the sha256 of every file beside it."""

import datetime
import hashlib
import importlib.metadata
import json
import os
import platform

from keras_resnet.io import atomic_write

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
REQUIRED = ("artifacts", "parity", "files")  # what verify reads
LIBRARIES = ("keras-resnet-family", "tensorflow", "keras", "numpy", "tf2onnx", "onnx",
             "onnxruntime", "ai-edge-litert", "openvino")


def sha256(path, chunk=1 << 20):
    """Hex sha256 of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def file_table(folder, exclude=(MANIFEST,)):
    """{relative posix path: {"size", "sha256"}} of every file under `folder`."""
    table = {}
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, folder).replace(os.sep, "/")
            if rel not in exclude:
                table[rel] = {"size": os.path.getsize(path), "sha256": sha256(path)}
    return table


def folder_table(folder):
    """Sorted relative posix paths of every folder under `folder` (empty ones too)."""
    return sorted(os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/")
                  for root, dirs, _ in os.walk(folder) for name in dirs)


def folder_size(table, prefix):
    """Total size of the files in `table` at or under `prefix`."""
    return sum(entry["size"] for rel, entry in table.items()
               if rel == prefix or rel.startswith(prefix.rstrip("/") + "/"))


def library_versions():
    """Installed versions of the libraries an export depends on."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def timestamp():
    """Current UTC time, ISO 8601."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def build(folder, *, model, model_name, input_name, output_name, preprocessing,
          class_names, artifacts, parity, warnings):
    """The manifest of the export staged in `folder`: the model, its preprocessing and
    classes, the artifacts (each given its size and, for single files, sha256), the
    parity figures, the sha256 and size of every file, library versions and the time.

    Args:
        folder: str. The finished export folder (every file already written).
        model: keras.Model. The exported model.
        model_name: str. Name recorded for it.
        input_name, output_name: str. Graph input and output names.
        preprocessing: dict or None. Resolved preprocessing.
        class_names: sequence of str or None.
        artifacts: dict. {key: entry with "path"}, updated in place.
        parity: dict. {"file", "source", "samples", "results"}.
        warnings: list of str.

    Returns:
        dict: the manifest (not yet written; see `write`).
    """
    files = file_table(folder)
    for entry in artifacts.values():
        entry["size"] = sum(folder_size(files, rel) for rel in entry.get("files", [entry["path"]]))
        if entry["path"] in files:
            entry["sha256"] = files[entry["path"]]["sha256"]
    return {
        "format_version": FORMAT_VERSION,
        "model": {
            "name": model_name,
            "keras_name": model.name,
            "config": model.get_config(),
            "params": int(model.count_params()),
            "input": {"name": input_name, "shape": [None, *model.inputs[0].shape[1:]],
                      "dtype": str(model.inputs[0].dtype)},
            "output": {"name": output_name, "shape": [None, *model.outputs[0].shape[1:]],
                       "dtype": "float32"},
        },
        "preprocessing": preprocessing,
        "class_names": list(class_names) if class_names is not None else None,
        "artifacts": artifacts,
        "parity": parity,
        "warnings": warnings,
        "files": files,
        "folders": folder_table(folder),
        "versions": library_versions(),
        "created": timestamp(),
    }


def write(manifest, folder):
    """Writes `manifest` as `folder`/manifest.json; returns the path."""
    path = os.path.join(folder, MANIFEST)
    atomic_write(path, json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n")
    return path


def read(folder):
    """Reads `folder`/manifest.json, with a clear error when it is missing or invalid."""
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No {MANIFEST} in export_dir={folder!r}: not an export "
                                "folder written by keras_resnet.export.")
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(f"Unreadable {path}: {error}") from error
    if not isinstance(manifest, dict):
        raise ValueError(f"{path} holds a JSON {type(manifest).__name__}, not an object: "
                         "not a manifest written by keras_resnet.export.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format_version={manifest.get('format_version')!r}; "
                         f"this version of keras_resnet reads {FORMAT_VERSION}.")
    missing = [key for key in REQUIRED if not isinstance(manifest.get(key), dict)]
    if missing:
        raise ValueError(f"{path} is incomplete: no {missing} (export again, or restore "
                         "the manifest from a copy).")
    return manifest
