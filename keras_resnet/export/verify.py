"""`verify`: re-checks an export folder: every file's size and sha256 against the
manifest, no file, folder or link missing or added, then parity of every artifact
again on the stored parity batch against the stored Keras outputs, with the recorded
tolerances."""

import os

import numpy as np

from keras_resnet.export import formats, parity
from keras_resnet.export import manifest as manifest_lib
from keras_resnet.io import CorruptFileError


class VerificationError(RuntimeError):
    """An export folder does not match its manifest, or fails parity."""


def entries(folder):
    """{relative posix path: kind} of everything under `folder`, links not followed;
    kind is "file", "folder", "link" or "other" (fifo, socket, device)."""
    found = {}

    def walk(directory, prefix):
        with os.scandir(directory) as listing:
            for entry in sorted(listing, key=lambda e: e.name):
                rel = prefix + entry.name
                if entry.is_symlink():
                    found[rel] = "link"
                elif entry.is_dir(follow_symlinks=False):
                    found[rel] = "folder"
                    walk(entry.path, rel + "/")
                elif entry.is_file(follow_symlinks=False):
                    found[rel] = "file"
                else:
                    found[rel] = "other"

    walk(folder, "")
    return found


def check_files(export_dir, manifest):
    """Problems (list of str) between the entries of `export_dir` and the manifest:
    every file, folder and link is accounted for, and each listed file matches its
    size and sha256."""
    expected = manifest["files"]
    present = entries(export_dir)
    kind = present.pop(manifest_lib.MANIFEST, None)
    problems = [] if kind == "file" else [f"{manifest_lib.MANIFEST} is a {kind}, not a file"]
    # Folders: those the manifest lists (since "folders" was recorded), and those that
    # hold a listed file.
    folders = set(manifest.get("folders", ()))
    for rel in expected:
        parts = rel.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    problems += [f"missing file {rel}" for rel in sorted(expected) if rel not in present]
    for rel, kind in present.items():
        if kind == "link":
            target = os.readlink(os.path.join(export_dir, rel))
            problems.append(f"symbolic link {rel} -> {target} (an export holds only "
                            "plain files and folders)")
        elif kind == "other":
            problems.append(f"{rel} is not a plain file or folder")
        elif kind == "folder" and rel not in folders and (
                "folders" in manifest or not any(p.startswith(rel + "/") for p in present)):
            problems.append(f"folder not in the manifest: {rel}/")
        elif kind == "file" and rel not in expected:
            problems.append(f"file not in the manifest: {rel}")
    for rel in sorted(expected):
        if present.get(rel) != "file":
            continue  # missing, or reported above as a link or not a plain file
        path = os.path.join(export_dir, rel)
        size = os.path.getsize(path)
        if size != expected[rel]["size"]:
            problems.append(f"{rel}: size {size} != {expected[rel]['size']} in the manifest")
        elif manifest_lib.sha256(path) != expected[rel]["sha256"]:
            problems.append(f"{rel}: sha256 differs from the manifest")
    return problems


def verify(export_dir, *, check_parity=True, manifest_sha256=None):
    """Re-checks the export at `export_dir`.

    This catches accidents (partial copies, truncation, bit rot, a file swapped by
    mistake, an edited or added file); it is no defence against someone who can write
    the folder, who can re-hash a consistent replacement. Pin trust by keeping the
    manifest's sha256 (printed at export and in the report) elsewhere and passing it
    as `manifest_sha256`.

    Args:
        export_dir: str. A folder written by `export_model`.
        check_parity: bool. Also rerun every artifact on the stored parity batch.
            Defaults to True.
        manifest_sha256: str or None. Expected hex sha256 of manifest.json. Defaults
            to None (not checked).

    Returns:
        dict: "export_dir", "manifest_sha256", "files_checked" and "parity"
        ({artifact: figures}).

    Raises:
        VerificationError: the manifest's sha256 is not `manifest_sha256`, an entry is
            missing, added, changed, a link or not a plain file, or parity fails.
        FileNotFoundError: `export_dir` or its manifest.json does not exist.
        keras_resnet.io.CorruptFileError (a ValueError): the manifest is not JSON, or
            lacks a field that verify reads; the message names it.
    """
    export_dir = os.path.abspath(export_dir)
    manifest = manifest_lib.read(export_dir)
    digest = manifest_lib.sha256(os.path.join(export_dir, manifest_lib.MANIFEST))
    if manifest_sha256 is not None and digest != str(manifest_sha256).strip().lower():
        raise VerificationError(f"Export {export_dir}: {manifest_lib.MANIFEST} has sha256 "
                                f"{digest}, not the pinned manifest_sha256="
                                f"{manifest_sha256!r}; it was changed or replaced.")
    problems = check_files(export_dir, manifest)
    if problems:
        raise VerificationError(f"Export {export_dir} does not match its manifest: "
                                + "; ".join(problems) + ".")
    report = {"export_dir": export_dir, "manifest_sha256": digest,
              "files_checked": len(manifest["files"]), "parity": {}}
    if not check_parity:
        return report
    with np.load(os.path.join(export_dir, manifest["parity"]["file"])) as stored:
        batch = {key: stored[key] for key in stored.files}
    failures = []
    for key, recorded in manifest["parity"]["results"].items():
        try:  # the fields of one format (a signature name, a precision hint, ...)
            x = formats.to_layout(batch[recorded["batch"]["inputs"]],
                                  recorded["batch"].get("layout", formats.NHWC))
            reference = batch[recorded["batch"]["reference"]]
            predict = formats.load_for_verify(
                export_dir, manifest["artifacts"][recorded["artifact"]], recorded)
            precision, limits = recorded["precision"], recorded["tolerance"]
        except KeyError as error:
            raise CorruptFileError(
                f"{os.path.join(export_dir, manifest_lib.MANIFEST)} is incomplete: parity "
                f"result {key!r} needs {error} (in the manifest or {manifest['parity']['file']})"
                ". Export again, or restore the manifest from a copy.") from None
        figures = parity.compare(reference, predict(x))
        # A check held to the precision its runtime picked (OpenVINO's host default) may
        # get another one on this host: check it at that precision's default tolerance.
        # An int8 check is held to its quantization's tolerance whatever the float
        # precision of the kernels around the int8 ones.
        picked = getattr(predict, "precision", None)
        if picked and picked != precision and recorded.get("runtime_precision") == precision:
            precision, limits = picked, parity.DEFAULT_TOLERANCES[picked]
        message = parity.check(key, figures, precision, {precision: limits})
        report["parity"][key] = figures
        if message:
            failures.append(message)
    if failures:
        raise VerificationError(f"Export {export_dir} fails parity: " + " ".join(failures))
    return report
