"""Process death: fail points that kill this process at a named point (a testing
hook), and `pid_alive`, which tells whether the writer of a leftover file still runs.

Set `KERAS_RESNET_KILL_AT=name[:count]` in the environment of a training or export
process and it kills itself (SIGKILL, as a preempted machine or the OOM killer would)
the `count`-th time (1-based, default 1) it reaches the point `name`. The reliability
tests use it to hit exact instants: between writing a temporary checkpoint and renaming
it, right after the metrics write, during evaluation, and so on. Without the variable a
fail point is one dictionary lookup.

Points: train_batch, eval_batch, epoch_end (start of the epoch-end callbacks),
after_metrics, checkpoint_write (temporary .keras written, not yet renamed),
backup_write (new backup weights renamed, epoch record not yet replaced), final_save
(final model.keras written, not yet renamed), export_artifact (after each export
artifact is written into the staging folder), export_publish (replacing an export:
new one swapped in, previous not yet deleted; without renameat2, previous moved aside
and new one not yet renamed into place).
"""

import os
import signal

ENV = "KERAS_RESNET_KILL_AT"
POINTS = ("train_batch", "eval_batch", "epoch_end", "after_metrics", "checkpoint_write",
          "backup_write", "final_save", "export_artifact", "export_publish")
_hits = {}


def fault_point(name):
    """Kills this process with SIGKILL if KERAS_RESNET_KILL_AT selects this hit of `name`.

    Args:
        name: str. One of `POINTS`.
    """
    spec = os.environ.get(ENV)
    if not spec:
        return
    target, _, count = spec.partition(":")
    if target != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def enabled():
    """True when a fail point is armed (callbacks that only serve fail points are added
    to training only then)."""
    return bool(os.environ.get(ENV))


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
    return True
