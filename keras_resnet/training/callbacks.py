"""Callbacks of a training run: metrics files, atomic checkpoints, resumption, NaN guard,
corrupt-image reporting and training curves."""

import csv
import io
import json
import math
import os

import keras


def atomic_write(path, data, mode="w"):
    """Writes `data` to `path` through a temporary file and a rename, so a reader (or a
    resumed run) never sees half a file."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, mode) as f:
        f.write(data)
    os.replace(tmp, path)


def finite_loss(logs):
    loss = (logs or {}).get("loss")
    return loss is None or math.isfinite(float(loss))


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that never backs up a state whose loss is NaN/inf, so a diverged
    run resumes from the last good epoch rather than from broken weights."""

    def on_epoch_end(self, epoch, logs=None):
        if finite_loss(logs) and not getattr(self.model, "_keras_resnet_nan", False):
            super().on_epoch_end(epoch, logs)


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
        values = [r[monitor] for r in previous_rows if monitor in r]
        self.best = max((self.sign * v for v in values), default=-math.inf)

    def _save(self, name):
        path = os.path.join(self.directory, name)
        tmp = os.path.join(self.directory, f".tmp{os.getpid()}_{name}")
        self.model.save(tmp)
        os.replace(tmp, path)

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
    tmp = f"{path}.tmp{os.getpid()}.png"
    figure.savefig(tmp, dpi=100)
    plt.close(figure)
    os.replace(tmp, path)


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


__all__ = ["ResumableBackup", "NaNGuard", "MetricsLogger", "Checkpointer", "CorruptReporter",
           "plot_curves", "tensorboard", "atomic_write"]
