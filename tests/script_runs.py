"""Scripts in subprocesses, for the tests where the process itself matters (a kill, a
fail point, TF_CONFIG, logical CPUs set before TensorFlow starts, op determinism): run
a script with a fail point armed, read run folders, load every checkpoint. Importable
by name from any test module, as `factories` (which runs scripts in the test's process
with `run_script`)."""

import csv
import json
import os
import subprocess
import sys

from factories import TINY_MODEL_FLAG

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, "scripts", "train.py")
EXPORT = os.path.join(ROOT, "scripts", "export.py")
# A ResNet-8 on digits at 16x16: most of a run is start-up.
QUICK = ["--image_size=16", "--batch_size=16", "--verbose=2", TINY_MODEL_FLAG]


def env(kill_at=None, **extra):
    result = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    for name in ("TF_CONFIG", "KERAS_RESNET_KILL_AT"):
        result.pop(name, None)
    if kill_at:
        result["KERAS_RESNET_KILL_AT"] = kill_at
    result.update(extra)
    return result


def run(script, args, kill_at=None, timeout=300, **extra):
    """Runs `script` to completion; returns the CompletedProcess (stdout + stderr)."""
    return subprocess.run([sys.executable, script, *args], cwd=ROOT,
                          env=env(kill_at, **extra), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


def rows(output_dir):
    with open(os.path.join(output_dir, "metrics.json")) as f:
        return json.load(f)["epochs"]


def csv_epochs(output_dir):
    with open(os.path.join(output_dir, "metrics.csv"), newline="") as f:
        return [int(float(row["epoch"])) for row in csv.DictReader(f)]


def committed_epoch(output_dir):
    path = os.path.join(output_dir, "backup", "training_metadata.json")
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return json.load(f)["epoch"]


def load_every_checkpoint(output_dir):
    """Loads every .keras file under `output_dir` (temporary ones included) and every
    backup weights file; returns {relative path: optimizer iterations}. Raises on any
    corrupt file."""
    import keras_resnet.training  # registers the schedule and layers

    loaded = {}
    for dirpath, _, names in os.walk(output_dir):
        for name in sorted(names):
            path = os.path.join(dirpath, name)
            relative = os.path.relpath(path, output_dir)
            if name.endswith(".keras"):
                model = keras_resnet.training.load_model(path)  # policy applied
                loaded[relative] = int(model.optimizer.iterations.numpy())
            elif name.endswith(".weights.h5"):
                import h5py

                with h5py.File(path, "r") as f:  # readable HDF5 with the layers in it
                    loaded[relative] = len(f.keys())
    return loaded
