"""A full disk while checkpointing (a file size limit: writes past it fail with EFBIG,
as on a full disk) fails the run with a clear error and keeps the previous checkpoint;
--deterministic runs give bit-identical weights."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from script_runs import (
    QUICK,
    ROOT,
    TRAIN,
    committed_epoch,
    env,
    load_every_checkpoint,
    rows,
    run,
)

# Runs scripts/train.py with every file capped at LIMIT bytes; SIGXFSZ ignored so that
# writes past it raise OSError(EFBIG) instead of killing the process.
LIMITED = """
import resource, runpy, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.slow
def test_disk_full_while_checkpointing_fails_clearly_and_keeps_the_previous(tmp_path):
    out = str(tmp_path / "run")
    args = ["--epochs=2", "--max_steps_per_epoch=3", f"--output_dir={out}", *QUICK]
    first = run(TRAIN, args, kill_at="epoch_end:2")  # epoch 1 saved, epoch 2 trained
    assert first.returncode == -signal.SIGKILL, first.stdout[-3000:]
    before = load_every_checkpoint(out)
    assert before["last.keras"] == 3 and committed_epoch(out) == 1

    # A ResNet-8 checkpoint is about 0.7 MB; metrics files, logs and the curves plot
    # stay below 0.1 MB.
    full = subprocess.run([sys.executable, "-c", LIMITED, str(1 << 18), TRAIN, *args],
                          cwd=ROOT, env=env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    assert full.returncode == 1, full.stdout[-3000:]  # a runtime failure (keras_resnet.cli)
    last_line = full.stdout.strip().splitlines()[-1]
    assert last_line.startswith("error: Could not write ") and "File too large" in last_line
    assert "last.keras is kept" in last_line and "Traceback" not in full.stdout
    assert load_every_checkpoint(out) == before  # nothing half-written, nothing lost
    assert not [n for n in os.listdir(out) if ".tmp" in n]
    assert committed_epoch(out) == 1

    resumed = run(TRAIN, args)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert [r["epoch"] for r in rows(out)] == [1, 2]
    assert load_every_checkpoint(out)["model.keras"] == 6


@pytest.mark.slow
def test_deterministic_flag_gives_bit_identical_weights(tmp_path):
    import keras

    import keras_resnet.training  # noqa: F401  (registers the schedule)

    weights = []
    for name in ("a", "b"):
        out = str(tmp_path / name)
        result = run(TRAIN, ["--deterministic", "--seed=7", "--epochs=1",
                             "--max_steps_per_epoch=5", f"--output_dir={out}", *QUICK])
        assert result.returncode == 0, result.stdout[-3000:]
        model = keras.saving.load_model(os.path.join(out, "model.keras"))
        assert int(model.optimizer.iterations.numpy()) == 5  # it trained
        weights.append(model.get_weights() + [v.numpy() for v in model.optimizer.variables])
    assert len(weights[0]) == len(weights[1])
    for first, second in zip(*weights):
        np.testing.assert_array_equal(first, second)
