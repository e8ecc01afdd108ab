"""Writes that a kill, a full disk or a reader never sees half done.

Every file keras_resnet writes in place (metrics, checkpoints, backups, plots, export
manifests) goes through `atomic_write`, `save_atomically` or `atomic_savefig`: the
data goes to a temporary file beside the target, named `.tmp<pid>_<name>`, which is
synced, renamed over the target, and the folder synced so that the rename survives a
power cut. `remove_stale_temp` removes exactly those temporary names, and only when
the process `<pid>` is dead, so a user's `report.tmp3999998.csv` is never touched.
"""

import os
import re
import shutil

# Our own temporary names, and nothing else: `.tmp<pid>_<target name>`.
TEMP_NAME = re.compile(r"^\.tmp(\d+)_(.+)$")


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, file too large, unwritable); the
    previous checkpoint is untouched."""


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
