"""Callbacks of a training run: metrics files, atomic checkpoints, resumption, NaN guard,
corrupt-image reporting and training curves."""

import csv
import io
import json
import math
import os
import shutil

import keras

from keras_resnet.faults import fault_point
# The writers live in keras_resnet.io; imported here for this module and its users.
from keras_resnet.io import (CheckpointWriteError, atomic_savefig, atomic_write,
                             remove_stale_temp, save_atomically)


def finite_loss(logs):
    loss = (logs or {}).get("loss")
    return loss is None or math.isfinite(float(loss))


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """Training state (weights, optimizer, epoch) saved each epoch, so that re-running
    the same command resumes after the last completed epoch.

    Unlike Keras' `BackupAndRestore` (which rewrites `latest.weights.h5` in place and then
    the epoch record), every write is atomic and the epoch record is the single commit
    point: the weights go to a new `epochNNNNN.weights.h5` (temporary file + rename),
    then `training_metadata.json` is replaced to name it, then older weight files are
    deleted. A kill at any instant leaves the previous state or the new one, never the
    weights of one epoch under the number of another. States whose loss is NaN/inf are
    never committed. `on_epoch_end` does nothing: `commit` runs from `CommitEpoch`, the
    last callback, after the metrics and checkpoints of the epoch are written, so those
    are never behind the committed epoch (what they hold beyond it is rewritten on
    resume). Only the chief writes; every worker reads the same backup.

    Args:
        backup_dir: str. Folder of the backup (shared by all workers).
        chief: bool. Whether this process writes the backup. Defaults to True.
    """

    METADATA = "training_metadata.json"

    def __init__(self, backup_dir, chief=True):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)
        self.chief = chief

    def on_train_begin(self, logs=None):
        self._load_model()

    def committed_epoch(self):
        """The last committed epoch (1-based; 0 when nothing is committed)."""
        try:
            with open(os.path.join(self.backup_dir, self.METADATA)) as f:
                return int(json.load(f)["epoch"])
        except (OSError, ValueError, KeyError):
            return 0

    def _load_model(self):
        path = os.path.join(self.backup_dir, self.METADATA)
        if not os.path.exists(path):
            return
        with open(path) as f:
            metadata = json.load(f)
        # Backups written by Keras' BackupAndRestore name no file: latest.weights.h5.
        weights = os.path.join(self.backup_dir, metadata.get("weights", "latest.weights.h5"))
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        try:
            self.model.load_weights(weights)
        except Exception as error:
            raise ValueError(
                f"Cannot resume from the backup {weights!r} ({type(error).__name__}: "
                f"{error}). Delete {self.backup_dir!r} to start this run over.") from error
        self.model._initial_epoch = int(metadata["epoch"])

    def on_epoch_end(self, epoch, logs=None):
        pass  # committed by CommitEpoch, after the other callbacks

    def on_train_end(self, logs=None):
        pass  # kept until the run's final files are written; see `clear`

    def commit(self, epoch, logs=None):
        """Atomically records the state after epoch `epoch` (0-based) as the backup."""
        if not self.chief or not finite_loss(logs) or getattr(
                self.model, "_keras_resnet_nan", False):
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch{epoch + 1:05d}.weights.h5"
        save_atomically(self.model.save_weights, os.path.join(self.backup_dir, name))
        fault_point("backup_write")
        atomic_write(os.path.join(self.backup_dir, self.METADATA),
                     json.dumps({"epoch": epoch + 1, "batch": 0, "weights": name}))
        for entry in os.listdir(self.backup_dir):
            if entry != name and (entry.endswith(".weights.h5") or ".bkp" in entry):
                os.remove(os.path.join(self.backup_dir, entry))

    def clear(self):
        """Deletes the backup once the run's final files are written."""
        if self.chief:
            shutil.rmtree(self.backup_dir, ignore_errors=True)


class CommitEpoch(keras.callbacks.Callback):
    """Calls `backup.commit` at the end of each epoch; place it last."""

    def __init__(self, backup):
        super().__init__()
        self.backup = backup

    def on_epoch_end(self, epoch, logs=None):
        self.backup.commit(epoch, logs)


class FailPoints(keras.callbacks.Callback):
    """Fail points inside `fit` (keras_resnet.faults); added only when one is armed."""

    def on_train_batch_end(self, batch, logs=None):
        fault_point("train_batch")

    def on_test_batch_end(self, batch, logs=None):
        fault_point("eval_batch")

    def on_epoch_end(self, epoch, logs=None):
        fault_point("epoch_end")


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite batch loss and remembers where."""

    def __init__(self):
        super().__init__()
        self.epoch = 0
        self.batch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if not finite_loss(logs):
            self.batch = batch
            self.model._keras_resnet_nan = True
            self.model.stop_training = True


class MetricsLogger(keras.callbacks.Callback):
    """One row per epoch in `metrics.csv` and `metrics.json` (rewritten atomically).

    Rows from an earlier, interrupted run are kept up to the epoch being written, so a
    resumed run ends with exactly one row per epoch.
    """

    def __init__(self, csv_path, json_path, extra=None):
        super().__init__()
        self.csv_path = csv_path
        self.json_path = json_path
        self.extra = dict(extra or {})
        self.rows = load_rows(json_path)

    def on_train_begin(self, logs=None):
        # Rows past the epoch the backup committed belong to work that will be redone.
        committed = getattr(self.model, "_initial_epoch", None) or 0
        self.rows = [r for r in self.rows if r["epoch"] <= committed]

    def on_epoch_end(self, epoch, logs=None):
        if not finite_loss(logs):
            return
        row = {"epoch": epoch + 1}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        lr = _current_lr(self.model)
        if lr is not None:
            row.setdefault("learning_rate", lr)
        self.rows = [r for r in self.rows if r["epoch"] < epoch + 1] + [row]
        self.write()
        fault_point("after_metrics")

    def write(self, **summary):
        self.extra.update(summary)
        atomic_write(self.json_path, json.dumps({**self.extra, "epochs": self.rows}, indent=2))
        keys = []
        for row in self.rows:
            keys += [k for k in row if k not in keys]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys or ["epoch"])
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write(self.csv_path, buffer.getvalue())


def load_rows(json_path):
    if not os.path.exists(json_path):
        return []
    with open(json_path) as f:
        return json.load(f).get("epochs", [])


def _current_lr(model):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    lr = optimizer.learning_rate
    try:
        return float(keras.ops.convert_to_numpy(lr))
    except Exception:  # a schedule object on some Keras versions
        return None


class Checkpointer(keras.callbacks.Callback):
    """Saves `last.keras` every epoch and `best.keras` when `monitor` improves; both
    written atomically and skipped when the loss is not finite."""

    def __init__(self, directory, monitor="val_accuracy", mode="max", previous_rows=()):
        super().__init__()
        self.directory = directory
        self.monitor = monitor
        self.sign = 1.0 if mode == "max" else -1.0
        self.previous_rows = list(previous_rows)
        self.best = -math.inf

    def on_train_begin(self, logs=None):
        committed = getattr(self.model, "_initial_epoch", None) or 0
        values = [r[self.monitor] for r in self.previous_rows
                  if self.monitor in r and r["epoch"] <= committed]
        self.best = max((self.sign * v for v in values), default=-math.inf)

    def _save(self, name):
        save_atomically(self.model.save, os.path.join(self.directory, name),
                        point="checkpoint_write")

    def on_epoch_end(self, epoch, logs=None):
        if not finite_loss(logs) or getattr(self.model, "_keras_resnet_nan", False):
            return
        self._save("last.keras")
        value = (logs or {}).get(self.monitor)
        if value is not None and self.sign * float(value) > self.best:
            self.best = self.sign * float(value)
            self._save("best.keras")


class CorruptReporter(keras.callbacks.Callback):
    """Logs the number of corrupt images skipped so far, when it changes."""

    def __init__(self, sources):
        super().__init__()
        self.sources = sources
        self.reported = 0

    def total(self):
        return sum(source.skipped() for source in self.sources)

    def on_epoch_end(self, epoch, logs=None):
        total = self.total()
        if total != self.reported:
            self.reported = total
            print(f"skipped {total} corrupt image(s) so far")


def plot_curves(rows, path, title=None):
    """Writes a PNG of loss and accuracy per epoch (train and held-out) from metric rows."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    epochs = [r["epoch"] for r in rows]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric in zip(axes, ("loss", "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            key = prefix + metric
            if any(key in r for r in rows):
                axis.plot(epochs, [r.get(key, float("nan")) for r in rows], style,
                          label="held-out" if prefix else "train")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    atomic_savefig(figure, path, dpi=100)


def tensorboard(log_dir):
    """The TensorBoard callback, or None (with a note) when tensorboard is not installed:
    tf.summary needs it, and TensorFlow no longer depends on it."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        print("note: tensorboard is not installed (pip install tensorboard); no TensorBoard logs")
        return None
    return keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch",
                                       write_graph=False, profile_batch=0)


__all__ = ["CheckpointWriteError", "save_atomically", "ResumableBackup", "CommitEpoch", "FailPoints", "remove_stale_temp", "NaNGuard", "MetricsLogger", "Checkpointer", "CorruptReporter",
           "plot_curves", "tensorboard", "atomic_write"]
