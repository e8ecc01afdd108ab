"""scripts/train.py end to end: resume after SIGKILL, XLA refused over two devices, the
degradation study. MirroredStrategy on 2 logical CPUs and MultiWorkerMirroredStrategy
with two local workers run in tests/reliability/test_multi_worker.py."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from factories import run_script
from script_runs import QUICK, ROOT, TRAIN, env, rows, run

LAST_LINE = re.compile(r"^test accuracy: [01]\.\d{4}$")


@pytest.mark.slow
def test_sigkill_then_rerun_resumes_without_repeating_epochs(tmp_path):
    out = str(tmp_path / "run")
    args = ["--epochs=6", "--max_steps_per_epoch=4", f"--output_dir={out}", *QUICK]
    process = subprocess.Popen([sys.executable, TRAIN, *args], cwd=ROOT, env=env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    metrics = os.path.join(out, "metrics.json")  # replaced atomically after each epoch

    def epochs_done():
        return len(rows(out)) if os.path.exists(metrics) else 0

    deadline = time.time() + 240
    while epochs_done() < 2 and process.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    done_before = epochs_done()
    assert 2 <= done_before < 6, f"killed after {done_before} epochs"

    rerun = run(TRAIN, args)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    output = rerun.stdout
    started = [int(e) for e in re.findall(r"^Epoch (\d+)/6", output, re.M)]
    assert started and started[0] > 1, output[-2000:]  # resumed, not restarted
    assert started[-1] == 6
    assert [row["epoch"] for row in rows(out)] == [1, 2, 3, 4, 5, 6]
    assert LAST_LINE.match(output.strip().splitlines()[-1])

    import keras

    import keras_resnet.training  # noqa: F401  (registers the layers and the schedule)

    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    # Every one of the 6 x 4 steps ran exactly once across the two processes.
    assert int(model.optimizer.iterations.numpy()) == 24


@pytest.mark.slow
def test_xla_over_two_devices_fails_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    process = run(TRAIN, ["--strategy=mirrored", "--cpu_devices=2", "--jit_compile",
                          "--epochs=1", f"--output_dir={out}", *QUICK], timeout=240)
    assert process.returncode != 0
    # The named setting and what is allowed, not XLA's "Trying to access resource ...
    # located in device" from the middle of the first step.
    assert ("jit_compile=True cannot be combined with strategy='mirrored' over 2 devices"
            in process.stdout), process.stdout[-3000:]
    assert "Trying to access resource" not in process.stdout
    assert not out.exists()


@pytest.mark.slow
def test_degradation_study_writes_curves(capsys, tmp_path):
    status, output, stderr = run_script(
        capsys, "train", "--study=degradation", "--study_depths=20", "--epochs=1",
        "--max_steps_per_epoch=2", f"--output_dir={tmp_path}", *QUICK)
    assert status == 0, stderr[-20:]
    assert os.path.getsize(tmp_path / "degradation.png") > 0
    for name in ("plain20", "resnet20"):
        assert re.search(rf"^{name} test accuracy: [01]\.\d{{4}}$", output, re.M), output
