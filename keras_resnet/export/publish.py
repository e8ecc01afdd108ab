"""Atomic publishing of an export folder.

An export is built in a staging folder beside its destination
(`.<name>.tmp-<pid>-<random>`) and moved into place with `os.rename`, so readers see
either the previous export or the complete new one, never a half-written folder.
Replacing an existing export swaps the two folders in one atomic step where the
system can (Linux renameat2 RENAME_EXCHANGE); elsewhere it takes two renames (old
aside, new in), and a process killed between them leaves the old export as
`.<name>.old-<pid>-<random>`, which the next run puts back. Staging folders of dead
processes are removed by the next run.
"""

import contextlib
import ctypes
import errno
import os
import re
import shutil
import tempfile

from keras_resnet.faults import fault_point
from keras_resnet.io import fsync_dir, pid_alive

MANIFEST = "manifest.json"  # as keras_resnet.export.manifest.MANIFEST


def _siblings(destination, kind):
    """Our own `.<name>.<kind>-<pid>-<random>` folders beside `destination`, with
    their pids; a user's `.<name>.tmp-notes` does not match and is never touched."""
    parent, name = os.path.split(os.path.abspath(destination))
    # tempfile.mkdtemp's random part is 8 characters of [a-z0-9_].
    pattern = re.compile(rf"^\.{re.escape(name)}\.{kind}-(\d+)-[a-z0-9_]{{8}}$")
    if not os.path.isdir(parent):
        return []
    found = []
    for entry in sorted(os.listdir(parent)):
        match = pattern.match(entry)
        path = os.path.join(parent, entry)
        if match and os.path.isdir(path) and not os.path.islink(path):
            found.append((path, int(match.group(1))))
    return found


def clean_stale(destination):
    """Removes leftovers of killed exports beside `destination`.

    A set-aside previous export (`.old-*`) whose owner died before publishing is moved
    back when `destination` is missing; every other leftover of a dead process is
    deleted.

    Args:
        destination: str. The export folder.

    Returns:
        List of the paths removed or restored.
    """
    handled = []
    for old, pid in _siblings(destination, "old"):
        if pid_alive(pid):
            continue
        if not os.path.exists(destination):
            os.rename(old, destination)
        else:
            shutil.rmtree(old, ignore_errors=True)
        handled.append(old)
    for staging, pid in _siblings(destination, "tmp"):
        if not pid_alive(pid):
            shutil.rmtree(staging, ignore_errors=True)
            handled.append(staging)
    return handled


def check_destination(destination, overwrite):
    """Raises FileExistsError when `destination` exists and `overwrite` is False, or
    when it exists and is neither an export folder (one with manifest.json) nor empty:
    `overwrite` replaces exports, never an unrelated folder given by mistake. Raises
    ValueError when the folder that would hold it cannot be written (`check_writable`)."""
    check_writable(destination)
    if not os.path.exists(destination):
        return
    if not overwrite:
        raise FileExistsError(
            f"Export destination output_dir={destination!r} already exists. Pass "
            "overwrite=True (--overwrite) to replace it, or choose another output_dir.")
    if not os.path.isdir(destination) or (
            os.listdir(destination)
            and not os.path.isfile(os.path.join(destination, MANIFEST))):
        raise FileExistsError(
            f"Export destination output_dir={destination!r} exists and is not an export "
            f"folder (no {MANIFEST}); overwrite only replaces exports. Choose another "
            "output_dir or remove it yourself.")


def check_writable(destination):
    """Raises ValueError, naming the folder, unless a folder can be created where the
    staging folder of `destination` goes: its parent, or the nearest existing folder
    above it (the parents that are missing are created then). Nothing is left behind."""
    parent = os.path.dirname(os.path.abspath(destination))
    while not os.path.exists(parent) and os.path.dirname(parent) != parent:
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"Export destination output_dir={destination!r} cannot be created: "
                         f"{parent!r} is a file, not a folder. Choose another output_dir.")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".write-test-", dir=parent))
    except OSError as error:
        raise ValueError(f"Export destination output_dir={destination!r} cannot be written: "
                         f"no folder can be created in {parent!r} ({error.strerror}). "
                         "Choose a writable output_dir.") from None


@contextlib.contextmanager
def staging_folder(destination, overwrite=False):
    """Yields an empty staging folder beside `destination`; publishes it on success.

    On any exception (or a parity failure raised inside the block) the staging folder
    is deleted and `destination` is left as it was.

    Args:
        destination: str. Where the finished export goes.
        overwrite: bool. Replace an existing `destination`. Defaults to False.
    """
    destination = os.path.abspath(destination)
    parent, name = os.path.split(destination)
    os.makedirs(parent, exist_ok=True)
    clean_stale(destination)
    check_destination(destination, overwrite)
    staging = tempfile.mkdtemp(prefix=f".{name}.tmp-{os.getpid()}-", dir=parent)
    try:
        yield staging
        publish(staging, destination, overwrite=overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def publish(staging, destination, overwrite=False):
    """Moves the finished `staging` folder to `destination` (see module docstring)."""
    check_destination(destination, overwrite)
    parent = os.path.dirname(destination)
    if not os.path.exists(destination):
        os.rename(staging, destination)
        fsync_dir(parent)
        return
    if _exchange(staging, destination):
        # `staging` now holds the previous export; a kill here leaves the new export
        # in place and the old one for the next run's clean_stale.
        fsync_dir(parent)
        fault_point("export_publish")
        shutil.rmtree(staging, ignore_errors=True)
        return
    name = os.path.basename(destination)
    old = tempfile.mkdtemp(prefix=f".{name}.old-{os.getpid()}-", dir=parent)
    os.rmdir(old)  # only the unique name is wanted; rename needs it free
    os.rename(destination, old)
    fault_point("export_publish")  # testing hook: a kill between the two renames
    try:
        os.rename(staging, destination)
    except BaseException:
        os.rename(old, destination)
        raise
    fsync_dir(parent)
    shutil.rmtree(old, ignore_errors=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(first, second):
    """Atomically swaps the paths `first` and `second` (Linux renameat2 with
    RENAME_EXCHANGE). Returns False where the system or file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                 _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code), second)
