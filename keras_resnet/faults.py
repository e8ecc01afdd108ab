"""Process death: fail points that kill this process at a named point (a testing hook).

Set `KERAS_RESNET_KILL_AT=name[:count]` in the environment of a training or export
process and it kills itself (SIGKILL, as a preempted machine or the OOM killer would)
the `count`-th time (1-based, default 1) it reaches the point `name`. Both the names
passed to `fault_point` and the armed name are checked against `POINTS`, so a
misspelled point is an error instead of a kill that never comes. The reliability
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


def _check_point(name, source):
    if name not in POINTS:
        raise ValueError(f"Unknown fail point {source}={name!r}. Allowed points: "
                         f"{list(POINTS)}.")


def armed():
    """The (point, count) that KERAS_RESNET_KILL_AT selects, or None when unset.

    Raises:
        ValueError: the variable names no point of `POINTS` or a count that is not a
            positive integer.
    """
    spec = os.environ.get(ENV)
    if not spec:
        return None
    target, _, count = spec.partition(":")
    _check_point(target, ENV)
    if count and not (count.isdigit() and int(count) >= 1):
        raise ValueError(f"{ENV}={spec!r}: the count after ':' must be a positive "
                         f"integer, got {count!r}.")
    return target, int(count or 1)


def fault_point(name):
    """Kills this process with SIGKILL if KERAS_RESNET_KILL_AT selects this hit of `name`.

    Args:
        name: str. One of `POINTS`.

    Raises:
        ValueError: `name`, or the armed point, is not one of `POINTS`.
    """
    _check_point(name, "fault_point")
    selected = armed()
    if selected is None or selected[0] != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == selected[1]:
        os.kill(os.getpid(), signal.SIGKILL)


def enabled():
    """True when a fail point is armed (callbacks that only serve fail points are added
    to training only then); a misspelled one is an error here, before training."""
    return armed() is not None
