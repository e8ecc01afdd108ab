"""Writes that a kill, a full disk or a reader never sees half done.

Every file keras_resnet writes in place (metrics, checkpoints, backups, plots, export
manifests) goes through `atomic_write`, `save_atomically` or `atomic_savefig`: the
data goes to a temporary file beside the target, named `.tmp<pid>_<name>`, which is
synced, renamed over the target, and the folder synced so that the rename survives a
power cut. `remove_stale_temp` removes exactly those temporary names, and only when
the process `<pid>` is dead, so a user's `report.tmp3999998.csv` is never touched.

`save_keras` / `load_keras` write and read `.keras` files with the model's dtype policy
recorded in the archive and applied on load, and `lock_run_folder` keeps a second
trainer out of a run folder. `read_json` reads our JSON files back, and names the file
and what to do when one is not what we wrote.
"""

import json
import os
import re
import shutil
import zipfile

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; run folders are not locked there
    fcntl = None

# Our own temporary names, and nothing else: `.tmp<pid>_<target name>`.
TEMP_NAME = re.compile(r"^\.tmp(\d+)_(.+)$")


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, file too large, unwritable); the
    previous checkpoint is untouched."""


class CorruptFileError(ValueError):
    """A file that keras_resnet reads back (metrics.json, a backup's record, a
    manifest) is not what it wrote: not JSON, or without the fields it needs."""


def read_json(path, remedy, required=()):
    """The JSON object in the file at `path`.

    Args:
        path: str. The file.
        remedy: str. What the user can do about a corrupt file (e.g. "Delete it or pass
            a new --output_dir."), appended to the error.
        required: sequence of str. Keys the object must have. Defaults to ().

    Raises:
        CorruptFileError: the file is not UTF-8 JSON, not an object, or lacks a
            `required` key; the message names the file, the problem and `remedy`.
        OSError: the file cannot be opened (FileNotFoundError when it is missing).
    """
    with open(path, "rb") as f:
        raw = f.read()
    try:
        value = json.loads(raw.decode("utf-8"))
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        why = f"{type(error).__name__}: {error}" if raw.strip() else "it is empty"
        raise CorruptFileError(f"{path} is not valid JSON ({why}). {remedy}") from None
    if not isinstance(value, dict):
        raise CorruptFileError(f"{path} holds a JSON {type(value).__name__}, not an "
                               f"object. {remedy}")
    missing = [key for key in required if key not in value]
    if missing:
        raise CorruptFileError(f"{path} has no {missing}. {remedy}")
    return value


def temp_path(path):
    """The temporary path beside `path` that this process writes before renaming.

    It keeps `path`'s suffix, which Keras and matplotlib read to pick the format."""
    directory, name = os.path.split(path)
    return os.path.join(directory, f".tmp{os.getpid()}_{name}")


def fsync_file(path):
    """Flushes the file at `path` to disk."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_dir(directory):
    """Flushes `directory`'s entries (a rename in it) to disk, where the system can."""
    try:
        fd = os.open(directory or ".", os.O_RDONLY)
    except OSError:
        return  # Windows cannot open folders; its renames are journaled anyway.
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (and /proc-like mounts) refuse fsync on folders
    finally:
        os.close(fd)


def _commit(tmp, path, point=None):
    if point:
        from keras_resnet.faults import fault_point

        fault_point(point)
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path))


def save_atomically(save, path, point=None):
    """Calls `save(tmp)` for a temporary file beside `path`, syncs it and renames it to
    `path`. On an OSError (disk full, file size limit) the temporary file is removed,
    `path` keeps its previous content and CheckpointWriteError says so.

    Args:
        save: callable. Takes the temporary path and writes the file there.
        path: str. Final path; its suffix is kept so Keras accepts the temporary name.
        point: str or None. Fail point (`keras_resnet.faults.POINTS`) reached between
            the write and the rename. Defaults to None.
    """
    tmp = temp_path(path)
    try:
        save(tmp)
        fsync_file(tmp)
    except BaseException as error:
        if os.path.lexists(tmp):
            os.remove(tmp)
        if not isinstance(error, OSError):
            raise
        raise CheckpointWriteError(
            f"Could not write {path} ({error.strerror or error}); the previous "
            f"{os.path.basename(path)} is kept. Free disk space (or raise the file size "
            "limit) and run the same command again to resume.") from error
    _commit(tmp, path, point)


def copy_atomically(source, path, point=None):
    """Copies the file `source` to `path` as `save_atomically` writes (a temporary file,
    synced, then renamed): `path` is the old file or the whole copy, never a part."""
    save_atomically(lambda tmp: shutil.copyfile(source, tmp), path, point)


def atomic_write(path, data, mode="w", point=None):
    """Writes `data` to `path` through a temporary file and a rename, so a reader (or a
    resumed run) never sees half a file.

    Args:
        path: str. The file to write.
        data: str or bytes. Its whole content.
        mode: str. "w" for text, "wb" for bytes. Defaults to "w".
        point: str or None. Fail point reached before the rename. Defaults to None.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode={mode!r}; allowed values: 'w' (text), 'wb' (bytes).")

    def save(tmp):
        with open(tmp, mode) as f:
            f.write(data)

    save_atomically(save, path, point)


def atomic_savefig(figure, path, dpi=100):
    """Saves the matplotlib `figure` to `path` atomically and closes it.

    Args:
        figure: matplotlib Figure.
        path: str. Image file; its suffix picks the format.
        dpi: int. Resolution. Defaults to 100.
    """
    import matplotlib.pyplot as plt

    try:
        save_atomically(lambda tmp: figure.savefig(tmp, dpi=dpi), path)
    finally:
        plt.close(figure)


def pid_alive(pid):
    """Whether process `pid` still runs (this process counts as alive), so that what a
    killed process left behind can be cleaned without touching a live writer's files."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False  # no such pid can exist
    return True


def remove_stale_temp(directory):
    """Deletes the temporary files (`.tmp<pid>_<name>`) that killed processes left in
    `directory` (a half-written `.tmp123_last.keras` would otherwise look like a model).
    Names that merely contain ".tmp<digits>" are the user's and stay.

    Returns:
        list of str. The paths removed.
    """
    removed = []
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        match = TEMP_NAME.match(name)
        if not match or pid_alive(int(match.group(1))):
            continue
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)
        removed.append(path)
    return removed


# An entry of ours in `.keras` archives (Keras reads only its own entries): the model's
# dtype policy, which Keras does not record for the model itself.
KERAS_RECORD = "keras_resnet.json"


def save_keras(model, path, point=None):
    """Saves `model` to the `.keras` file `path` atomically (`save_atomically`), with
    its dtype policy recorded in the archive for `load_keras`.

    Why: a functional model's own policy is not part of its config, so Keras loads a
    mixed_float16 model under the global policy, compiles it without its
    LossScaleOptimizer and silently drops the optimizer state (0 iterations).
    """

    def save(tmp):
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(KERAS_RECORD, json.dumps({"dtype_policy": model.dtype_policy.name}))

    save_atomically(save, path, point)


def recorded_policy(path):
    """The dtype policy name that `save_keras` recorded in `path`, or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(KERAS_RECORD))["dtype_policy"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def load_keras(path, **kwargs):
    """`keras.saving.load_model(path, **kwargs)` under the dtype policy recorded in the
    file (the global policy is restored afterwards), so that a float16 checkpoint loads
    with its LossScaleOptimizer and optimizer state. Files without a record load under
    the current policy, as Keras does."""
    import keras

    policy = recorded_policy(path)
    previous = keras.mixed_precision.global_policy()
    if policy is not None:
        keras.mixed_precision.set_global_policy(policy)
    try:
        return keras.saving.load_model(path, **kwargs)
    finally:
        keras.mixed_precision.set_global_policy(previous)


LOCK_NAME = ".run.lock"


class RunFolderLocked(RuntimeError):
    """Another live process holds the run folder's lock (`lock_run_folder`)."""


class RunLock:
    """An exclusive `flock` on `<directory>/.run.lock`, holding this process' pid.

    The kernel releases it when the process dies, however it dies, so a lock left by a
    killed trainer never blocks the next run. Use as a context manager or call
    `release`.
    """

    def __init__(self, directory):
        self.path = os.path.join(directory, LOCK_NAME)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is None:
            return
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(self.fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(self.fd)
            self.fd = None
            raise RunFolderLocked(
                f"output_dir={directory!r} is in use by another training process (pid "
                f"{holder}; lock file {self.path}). Wait for it to end, stop it, or pass "
                "another --output_dir.") from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, str(os.getpid()).encode())
        os.fsync(self.fd)

    def release(self):
        """Releases the lock (closing the file releases the flock)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def lock_run_folder(directory):
    """Takes the exclusive lock of the run folder `directory` (see `RunLock`).

    Raises:
        RunFolderLocked: another process holds it; the message names its pid.
    """
    return RunLock(directory)
