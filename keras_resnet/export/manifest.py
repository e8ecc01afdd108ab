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
LIBRARIES = ("keras-resnet", "tensorflow", "keras", "numpy", "tf2onnx", "onnx",
             "onnxruntime", "ai-edge-litert")


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
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format_version={manifest.get('format_version')!r}; "
                         f"this version of keras_resnet reads {FORMAT_VERSION}.")
    return manifest
