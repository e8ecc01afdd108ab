"""manifest.json of an export folder: what was exported, from what, how well it
matches the Keras model, and the sha256 of every file beside it."""

import datetime
import hashlib
import importlib.metadata
import json
import os
import platform

from keras_resnet.io import CorruptFileError, atomic_write, read_json

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
    """Reads `folder`/manifest.json, with a clear error when it is missing, not JSON or
    lacks what `verify` reads (see `incomplete`).

    Raises:
        FileNotFoundError: `folder` or its manifest.json does not exist.
        CorruptFileError (a ValueError): the manifest is unreadable, of another
            format_version or incomplete; the message names the file and what to do.
    """
    path = os.path.join(folder, MANIFEST)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"export_dir={folder!r} does not exist or is not a folder.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No {MANIFEST} in export_dir={folder!r}: not an export "
                                "folder written by keras_resnet.export.")
    remedy = "Export again, or restore the manifest from a copy."
    manifest = read_json(path, f"Not a manifest written by keras_resnet.export. {remedy}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CorruptFileError(f"{path} has format_version="
                               f"{manifest.get('format_version')!r}; this version of "
                               f"keras_resnet reads {FORMAT_VERSION}.")
    missing = incomplete(manifest)
    if missing:
        raise CorruptFileError(f"{path} is incomplete: no {', '.join(missing)}. {remedy}")
    return manifest


def incomplete(manifest):
    """The fields (as dotted paths) that `verify` reads and `manifest` lacks, or has of
    the wrong type: every file's size and sha256, the parity file and results, and each
    result's artifact (with its format and path), batch and precision."""
    missing = [key for key in REQUIRED if not isinstance(manifest.get(key), dict)]
    if missing:
        return missing
    for rel, entry in manifest["files"].items():
        entry = entry if isinstance(entry, dict) else {}
        if not isinstance(entry.get("size"), int) or isinstance(entry.get("size"), bool):
            missing.append(f"files.{rel}.size")
        if not isinstance(entry.get("sha256"), str):
            missing.append(f"files.{rel}.sha256")
    parity = manifest["parity"]
    if not isinstance(parity.get("file"), str):
        missing.append("parity.file")
    results = parity.get("results")
    if not isinstance(results, dict):
        return missing + ["parity.results"]
    for key, result in results.items():
        result = result if isinstance(result, dict) else {}
        artifact = manifest["artifacts"].get(result.get("artifact"))
        if not isinstance(artifact, dict):
            missing.append(f"artifacts entry for parity.results.{key}.artifact")
        else:
            missing += [f"artifacts.{result['artifact']}.{field}" for field in ("format", "path")
                        if not isinstance(artifact.get(field), str)]
        batch = result.get("batch") if isinstance(result.get("batch"), dict) else {}
        missing += [f"parity.results.{key}.batch.{field}" for field in ("inputs", "reference")
                    if not isinstance(batch.get(field), str)]
        if not isinstance(result.get("precision"), str):
            missing.append(f"parity.results.{key}.precision")
    return missing
