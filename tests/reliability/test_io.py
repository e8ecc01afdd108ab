"""keras_resnet.io (atomic writes, stale-temp cleanup) and the fail points' name checks."""

import os

import pytest

from keras_resnet import faults
from keras_resnet import io as kio
from keras_resnet.export import publish

# Above Linux's largest pid_max (2**22): no live process can have it.
DEAD_PID = 2 ** 22 + 12345


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "metrics.json"
    kio.atomic_write(str(path), "old")
    kio.atomic_write(str(path), b"new", mode="wb")
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["metrics.json"]
    with pytest.raises(ValueError, match="mode='a'"):
        kio.atomic_write(str(path), "x", mode="a")


def test_failed_save_keeps_previous_file_and_removes_temp(tmp_path):
    path = tmp_path / "last.keras"
    path.write_text("previous")
    seen = []

    def full_disk(tmp):
        seen.append(os.path.basename(tmp))
        with open(tmp, "w") as f:
            f.write("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(kio.CheckpointWriteError, match="No space left.*previous last.keras"):
        kio.save_atomically(full_disk, str(path))
    assert path.read_text() == "previous"
    assert os.listdir(tmp_path) == ["last.keras"]
    # The temporary name is one that remove_stale_temp recognises (as ours, pid alive).
    assert kio.TEMP_NAME.match(seen[0]).groups() == (str(os.getpid()), "last.keras")

    def fails(tmp):
        open(tmp, "w").close()
        raise RuntimeError("boom")

    # Any other error passes through unchanged, and still leaves no temporary file.
    with pytest.raises(RuntimeError, match="boom"):
        kio.save_atomically(fails, str(path))
    assert os.listdir(tmp_path) == ["last.keras"]


def test_atomic_savefig_writes_a_png(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure = plt.figure()
    kio.atomic_savefig(figure, str(tmp_path / "curves.png"))
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert os.listdir(tmp_path) == ["curves.png"]
    assert not plt.fignum_exists(figure.number)


def test_remove_stale_temp_removes_only_our_dead_temporaries(tmp_path):
    ours_dead = [f".tmp{DEAD_PID}_last.keras", f".tmp{DEAD_PID}_metrics.json"]
    kept = [
        "report.tmp3999998.csv",  # a user's file that merely contains .tmp<digits>
        f"notes.tmp{DEAD_PID}",  # the old writers' suffix style: no longer ours
        f".tmp{DEAD_PID}",  # no target name
        f".tmp{DEAD_PID}x_last.keras",
        f".tmp{os.getpid()}_best.keras",  # a live writer's (this process)
        "model.keras",
    ]
    for name in ours_dead + kept:
        (tmp_path / name).write_text("x")
    os.makedirs(tmp_path / f".tmp{DEAD_PID}_epoch00003.weights.h5")
    removed = kio.remove_stale_temp(str(tmp_path))
    assert sorted(os.path.basename(p) for p in removed) == sorted(
        ours_dead + [f".tmp{DEAD_PID}_epoch00003.weights.h5"])
    assert sorted(os.listdir(tmp_path)) == sorted(kept)
    assert kio.remove_stale_temp(str(tmp_path / "missing")) == []


def test_pid_alive():
    assert kio.pid_alive(os.getpid())
    assert not kio.pid_alive(DEAD_PID)
    assert not kio.pid_alive(2 ** 70)
    assert not hasattr(faults, "pid_alive")


def test_publish_cleanup_leaves_folders_it_did_not_create(tmp_path):
    (tmp_path / "model").mkdir()
    user = [".model.tmp-notes", f".model.tmp-{DEAD_PID}-mine", f".model.old-{DEAD_PID}"]
    for name in user:
        (tmp_path / name).mkdir()
    (tmp_path / f".model.tmp-{DEAD_PID}-abcd_123").mkdir()
    publish.clean_stale(str(tmp_path / "model"))
    assert sorted(os.listdir(tmp_path)) == sorted(user + ["model"])


def test_fail_point_names_are_checked(monkeypatch):
    monkeypatch.delenv(faults.ENV, raising=False)
    with pytest.raises(ValueError, match=r"fault_point='typo'.*'train_batch'"):
        faults.fault_point("typo")
    faults.fault_point("train_batch")  # a known point, unarmed: nothing happens
    assert not faults.enabled()
    monkeypatch.setenv(faults.ENV, "checkpoint_wrte:2")
    with pytest.raises(ValueError, match=r"KERAS_RESNET_KILL_AT='checkpoint_wrte'.*"
                                         r"'checkpoint_write'"):
        faults.enabled()
    with pytest.raises(ValueError, match="Allowed points"):
        faults.fault_point("checkpoint_write")
    monkeypatch.setenv(faults.ENV, "final_save:0")
    with pytest.raises(ValueError, match="positive integer, got '0'"):
        faults.enabled()
    monkeypatch.setenv(faults.ENV, "final_save:2")
    assert faults.armed() == ("final_save", 2)
    faults.fault_point("eval_batch")  # armed elsewhere: nothing happens


# A process that takes the run-folder lock with keras_resnet/io.py itself (loaded by
# path: importing the package would start TensorFlow) and holds it until killed.
HOLDER = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("kio", sys.argv[1])
kio = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kio)
lock = kio.lock_run_folder(sys.argv[2])
print("locked", flush=True)
time.sleep(120)
"""


def test_second_trainer_in_a_run_folder_is_refused_naming_the_holder(tmp_path):
    """Issue 16, item 7: two trainers in one --output_dir both ran and mixed their
    files. The second now fails before any TensorFlow work, naming the holder's pid,
    and the kernel frees the lock when the holder dies (SIGKILL)."""
    import signal
    import subprocess
    import sys

    from keras_resnet import training

    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, kio.__file__, str(out)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        config = training.build_config("digits", epochs=1, output_dir=str(out))
        with pytest.raises(training.RunFolderLocked, match=rf"pid {holder.pid}\b.*output_dir"):
            training.train_and_evaluate(config)
        assert sorted(os.listdir(out)) == [kio.LOCK_NAME]  # nothing else was written
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with kio.lock_run_folder(str(out)):  # released by the kernel at the holder's death
        assert (out / kio.LOCK_NAME).read_text() == str(os.getpid())
        with pytest.raises(kio.RunFolderLocked, match=rf"pid {os.getpid()}\b"):
            kio.lock_run_folder(str(out))


def test_float16_keras_file_loads_with_its_optimizer_state(tmp_path):
    """Issue 16, item 17: under the default policy Keras rebuilt a mixed_float16
    model's optimizer without its LossScaleOptimizer and dropped its variables (0
    iterations). `save_keras` records the policy; `load_keras` applies it."""
    import keras
    import numpy as np

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        inputs = keras.Input((4,))
        outputs = keras.layers.Dense(3, dtype="float32")(keras.layers.Dense(8)(inputs))
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                      loss="sparse_categorical_crossentropy")
        model.fit(np.random.default_rng(0).random((40, 4)), np.zeros(40), batch_size=4,
                  verbose=0)
        kio.save_keras(model, str(tmp_path / "last.keras"))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    steps = int(model.optimizer.iterations)
    assert steps > 0
    assert kio.recorded_policy(str(tmp_path / "last.keras")) == "mixed_float16"
    loaded = kio.load_keras(str(tmp_path / "last.keras"))
    assert type(loaded.optimizer).__name__ == "LossScaleOptimizer"
    assert int(loaded.optimizer.iterations) == steps
    for saved, restored in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(saved),
                                      keras.ops.convert_to_numpy(restored))
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after load
