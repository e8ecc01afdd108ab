"""scripts/train.py killed with SIGKILL at exact points (keras_resnet.faults), then run
again with the same command: it resumes, finishes exactly the planned epochs, leaves no
corrupt checkpoint and writes one metrics row per epoch."""

import os
import re
import signal

import pytest
from reliability_helpers import (
    QUICK,
    TRAIN,
    committed_epoch,
    csv_epochs,
    load_every_checkpoint,
    rows,
    run,
)

EPOCHS, STEPS = 3, 4
# (fail point and hit, epochs committed by the backup when the process dies). The
# digits held-out split is 360 images = 23 batches of 16, so eval batch 30 is in the
# validation of epoch 2; epoch 1 writes last.keras and best.keras (checkpoint writes
# 1 and 2), so write 3 is last.keras of epoch 2.
CASES = [
    ("train_batch:6", 1),  # mid-epoch 2
    ("eval_batch:30", 1),  # during the validation of epoch 2
    ("epoch_end:2", 1),  # epoch 2 trained and validated, nothing written yet
    ("after_metrics:2", 1),  # metrics row 2 written, checkpoints and backup not
    ("checkpoint_write:3", 1),  # temporary last.keras of epoch 2 written, not renamed
    ("backup_write:2", 1),  # epoch 2 weights renamed, epoch record not yet replaced
    ("final_save:1", EPOCHS),  # training done, final model.keras not yet renamed
]


def _args(output_dir):
    return [f"--epochs={EPOCHS}", f"--max_steps_per_epoch={STEPS}",
            f"--output_dir={output_dir}", *QUICK]


@pytest.mark.slow
@pytest.mark.parametrize("kill_at,committed", CASES, ids=[c[0] for c in CASES])
def test_sigkill_at_fail_point_then_rerun_finishes_the_plan(tmp_path, kill_at, committed):
    out = str(tmp_path / "run")
    killed = run(TRAIN, _args(out), kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-3000:]
    assert committed_epoch(out) == committed
    # Whatever exists after the kill loads: no half-written checkpoint anywhere.
    load_every_checkpoint(out)

    resumed = run(TRAIN, _args(out))
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    started = [int(e) for e in re.findall(rf"^Epoch (\d+)/{EPOCHS}", resumed.stdout, re.M)]
    assert started == list(range(committed + 1, EPOCHS + 1)), resumed.stdout[-2000:]
    assert [r["epoch"] for r in rows(out)] == list(range(1, EPOCHS + 1))
    assert csv_epochs(out) == list(range(1, EPOCHS + 1))
    iterations = load_every_checkpoint(out)
    # Every planned step ran exactly once in the weights of the final model.
    assert iterations["model.keras"] == EPOCHS * STEPS
    assert iterations["last.keras"] == EPOCHS * STEPS
    # No temporary files and no backup are left once the run is complete.
    assert sorted(iterations) == ["best.keras", "last.keras", "model.keras"]
    assert not [n for n in os.listdir(out) if ".tmp" in n]
    assert not os.path.exists(os.path.join(out, "backup"))
    assert resumed.stdout.strip().splitlines()[-1].startswith("test accuracy: ")


@pytest.mark.slow
def test_two_kills_in_a_row_then_rerun(tmp_path):
    """Killed again while resuming (mid-epoch 3, then right after its metrics row)."""
    out = str(tmp_path / "run")
    assert run(TRAIN, _args(out), kill_at="train_batch:10").returncode == -signal.SIGKILL
    assert committed_epoch(out) == 2
    assert run(TRAIN, _args(out), kill_at="after_metrics:1").returncode == -signal.SIGKILL
    assert committed_epoch(out) == 2
    assert [r["epoch"] for r in rows(out)] == [1, 2, 3]  # row 3 written, not committed
    # Issue 16, item 2: other settings (or fewer epochs than committed) are refused on
    # one line, and the run folder is left as it was.
    refused = run(TRAIN, _args(out) + ["--batch_size=8", "--epochs=1"])
    assert refused.returncode == 2, refused.stdout[-3000:]
    error = refused.stdout.strip().splitlines()[-1]
    assert error.startswith("error: output_dir=") and "batch_size: 16 -> 8" in error
    assert "epochs: 1 is below the 2 epochs committed" in error and "--restart" in error
    assert committed_epoch(out) == 2 and [r["epoch"] for r in rows(out)] == [1, 2, 3]
    resumed = run(TRAIN, _args(out))
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert re.findall(rf"^Epoch (\d+)/{EPOCHS}", resumed.stdout, re.M) == ["3"]
    assert [r["epoch"] for r in rows(out)] == [1, 2, 3]
    assert load_every_checkpoint(out)["model.keras"] == EPOCHS * STEPS


# A linear probe of 1 epoch (classifier only), then 2 epochs of fine-tuning with a new
# optimizer: kills before, at and after the boundary between the two `fit` calls.
PROBE_CASES = [
    ("backup_write:1", 0),  # probe epoch written, not committed: starts over
    ("train_batch:6", 1),  # mid-epoch 2: the backup holds the probe's optimizer
    ("epoch_end:3", 2),  # epoch 3 trained: the backup holds the fine-tuning optimizer
]


@pytest.fixture(scope="module")
def digits_pth(tmp_path_factory):
    """A torchvision-format ResNet-18 state dict for digits' 10 classes."""
    import keras_resnet
    from keras_resnet.training import transfer_demo

    model = keras_resnet.create_model("resnet18", input_shape=(32, 32, 3), classes=10)
    path = str(tmp_path_factory.mktemp("weights") / "resnet18.pth")
    return transfer_demo.save_torchvision_state_dict(model, path)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at,committed", PROBE_CASES, ids=[c[0] for c in PROBE_CASES])
def test_sigkill_around_the_linear_probe_boundary_then_rerun(tmp_path, digits_pth, kill_at,
                                                              committed):
    out = str(tmp_path / "run")
    args = _args(out) + ["--model=resnet18", "--image_size=32",
                         f"--weights={digits_pth}", "--linear_probe_epochs=1"]
    killed = run(TRAIN, args, kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-3000:]
    assert committed_epoch(out) == committed
    load_every_checkpoint(out)

    resumed = run(TRAIN, args)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    # One line per epoch run (Keras prints no "Epoch 1/1" header for a 1-epoch fit).
    ran = re.findall(rf"^{STEPS}/{STEPS} - .*val_accuracy", resumed.stdout, re.M)
    assert len(ran) == EPOCHS - committed, resumed.stdout[-2000:]
    assert re.findall(r"^Epoch (\d+)/", resumed.stdout, re.M)[-1] == str(EPOCHS)
    assert [r["epoch"] for r in rows(out)] == list(range(1, EPOCHS + 1))
    iterations = load_every_checkpoint(out)
    # The fine-tuning optimizer starts at the boundary: it ran the 2 epochs after it.
    assert iterations["model.keras"] == (EPOCHS - 1) * STEPS
    assert not os.path.exists(os.path.join(out, "backup"))
