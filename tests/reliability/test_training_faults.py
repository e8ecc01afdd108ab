"""scripts/train.py killed with SIGKILL at exact points (keras_resnet.faults), then run
again with the same command: it resumes, finishes exactly the planned epochs, leaves no
corrupt checkpoint and writes one metrics row per epoch."""

import os
import re
import signal

import pytest

from reliability_helpers import (QUICK, TRAIN, committed_epoch, csv_epochs,
                                 load_every_checkpoint, rows, run)

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
    resumed = run(TRAIN, _args(out))
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert re.findall(rf"^Epoch (\d+)/{EPOCHS}", resumed.stdout, re.M) == ["3"]
    assert [r["epoch"] for r in rows(out)] == [1, 2, 3]
    assert load_every_checkpoint(out)["model.keras"] == EPOCHS * STEPS
