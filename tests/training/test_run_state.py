"""Training state safety (issue 16, items 1 and 2): a diverged state is never written,
and a backup resumes only with the settings it was committed with."""

import json
import os

import keras
import numpy as np
import pytest

from keras_resnet import training
from keras_resnet.training import callbacks as cb
from keras_resnet.training import loop

QUICK = dict(model="resnet20", image_size=16, batch_size=16, max_steps_per_epoch=2,
             verbose=0)


def _tiny_model():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    model.fit(np.ones((8, 4)), np.zeros(8), batch_size=4, verbose=0)  # 2 steps
    return model


def test_best_keras_is_the_epoch_of_the_best_score(tmp_path):
    """best.keras is a copy of last.keras in an epoch that improves the monitor, and
    keeps that epoch's model through a worse one."""
    model, state = _tiny_model(), cb.RunState()
    checkpointer = cb.Checkpointer(str(tmp_path), state=state)
    checkpointer.set_model(model)
    checkpointer.on_train_begin()
    for epoch, accuracy in enumerate((0.5, 0.7, 0.6)):
        model.layers[-1].kernel.assign(np.full((4, 3), epoch, "float32"))
        checkpointer.on_epoch_end(epoch, {"loss": 1.0, "val_loss": 1.0,
                                          "val_accuracy": accuracy})
        if epoch == 1:
            assert (tmp_path / "best.keras").read_bytes() == (
                tmp_path / "last.keras").read_bytes()

    def head(name):
        return keras.saving.load_model(str(tmp_path / name)).layers[-1].kernel.numpy()

    assert (head("best.keras") == 1).all() and (head("last.keras") == 2).all()
    assert not [name for name in os.listdir(tmp_path) if ".tmp" in name]


def test_a_nonfinite_state_never_replaces_a_finite_one(tmp_path):
    """Every writer (last.keras, best.keras, metrics, the backup) goes through
    `RunState.may_save`: finite losses but an inf weight are caught, and the finite
    epoch stays committed; a backup whose optimizer steps differ is refused."""
    model, state = _tiny_model(), cb.RunState()
    backup = cb.ResumableBackup(str(tmp_path / "backup"), state=state, settings={"a": 1})
    logger = cb.MetricsLogger(str(tmp_path / "m.csv"), str(tmp_path / "m.json"), state=state)
    writers = [logger, cb.Checkpointer(str(tmp_path), state=state)]
    for callback in writers + [backup]:
        callback.set_model(model)
        callback.on_train_begin()
    logs = {"loss": 1.0, "val_loss": 1.0, "val_accuracy": 0.5}
    for callback in writers:
        callback.on_epoch_end(0, logs)
    backup.commit(0, logs)
    assert backup.record() == {"epoch": 1, "batch": 0, "weights": "epoch00001.weights.h5",
                               "steps": 2, "settings": {"a": 1}}
    saved = {name: os.path.getmtime(tmp_path / name) for name in ("last.keras", "best.keras")}

    model.layers[-1].kernel.assign(np.full((4, 3), np.inf, "float32"))
    for callback in writers:
        callback.on_epoch_end(1, {**logs, "val_accuracy": 0.9})  # finite, "better"
    backup.commit(1, logs)
    assert state.diverged and state.nan_epoch == 1
    # Keras numbers auto-named layers per process (dense, dense_1, ...).
    head = model.layers[-1].kernel.path
    assert state.problem == f"NaN/inf values in {head}"
    assert {name: os.path.getmtime(tmp_path / name) for name in saved} == saved
    assert backup.committed_epoch() == 1 and [r["epoch"] for r in logger.rows] == [1]
    error = loop.diverged(state, backup, loop.run_paths(str(tmp_path)))
    assert f"epoch 2: NaN/inf values in {head}" in str(error)
    assert "backup stays at epoch 1" in str(error) and "resumes after epoch 1" in str(error)

    fresh = _tiny_model()  # 2 steps too: the committed state loads
    assert cb.ResumableBackup(str(tmp_path / "backup")).restore(fresh) == 1
    assert np.isfinite(keras.ops.convert_to_numpy(fresh.layers[-1].kernel)).all()
    record = backup.record()
    with open(tmp_path / "backup" / cb.ResumableBackup.METADATA, "w") as f:
        json.dump({**record, "steps": 7}, f)
    with pytest.raises(cb.ResumeError, match="committed 7 optimizer steps.*holds 2"):
        cb.ResumableBackup(str(tmp_path / "backup")).restore(_tiny_model())


def _committed_backup(config, epoch):
    """A backup of `config`'s run committed after `epoch` epochs (tiny weights: the
    fingerprint check runs before any model is built)."""
    data = loop.create_input_pipeline(config, loop.strategies.make_strategy("auto"), "torch")
    backup = cb.ResumableBackup(loop.run_paths(config.output_dir)["backup"],
                                settings=loop.run_fingerprint(config, data))
    backup.set_model(_tiny_model())
    backup.commit(epoch - 1, {"loss": 1.0})
    return data, backup


def test_resume_refuses_other_settings_and_fewer_epochs(tmp_path):
    """Item 2: another batch size, precision, model option or fewer epochs than
    committed resumed silently (relabelled metrics, dropped optimizer state, or zero
    epochs trained)."""
    out = str(tmp_path / "run")
    config = training.build_config("digits", epochs=3, output_dir=out, **QUICK)
    data, backup = _committed_backup(config, epoch=2)
    changed = training.build_config("digits", **{
        **QUICK, "epochs": 1, "batch_size": 8, "mixed_precision": "float16",
        "model_options": {"shortcut": "B"}, "output_dir": out})
    with pytest.raises(training.ConfigError) as refused:
        training.train_and_evaluate(changed)
    message = str(refused.value)
    for difference in ("batch_size: 16 -> 8", "mixed_precision: 'float32' -> 'float16'",
                       "model_options: {} -> {'shortcut': 'B'}", "global_batch: 16 -> 8",
                       "epochs: 1 is below the 2 epochs committed"):
        assert difference in message, message
    assert "--restart" in message and "another --output_dir" in message
    assert "\n" not in message
    assert backup.committed_epoch() == 2  # refused before anything was written
    # Settings that may change: output paths, verbosity, the learning rate (how a
    # diverged run resumes from its last finite epoch) and more epochs.
    loop.check_resume(training.build_config("digits", **{
        **QUICK, "epochs": 5, "learning_rate": 0.01, "verbose": 2, "output_dir": out}),
        data, backup, out)


def test_diverged_epoch_is_not_saved_and_a_lower_rate_resumes_after_the_last_finite(
        tmp_path):
    """Item 1: the update of epoch 2 (rate 1e12 after a warmup epoch at 1) leaves a
    finite training loss and a NaN held-out loss. Before, it was committed and saved as
    last.keras / best.keras / model.keras, and the run exited 0. `--restart` first
    discards an older run of the folder (its backup, metrics and checkpoints only)."""
    out = str(tmp_path / "run")
    steps = QUICK["max_steps_per_epoch"]
    run = dict(QUICK, epochs=2, warmup_epochs=1, warmup_mode="constant",
               warmup_factor=1e-12, scale_lr=False, output_dir=out)
    _committed_backup(training.build_config("digits", **{**run, "batch_size": 8}), epoch=1)
    user_file = tmp_path / "run" / "notes.txt"
    user_file.write_text("mine")

    with pytest.raises(training.TrainingDiverged) as stopped:
        training.train_and_evaluate(training.build_config(
            "digits", learning_rate=1e12, restart=True, **run))
    message = str(stopped.value)
    assert "diverged at epoch 2: the held-out loss val_loss is NaN" in message, message
    assert "backup stays at epoch 1" in message and "resumes after epoch 1" in message
    assert sorted(os.listdir(out)) == [".run.lock", "backup", "best.keras", "last.keras",
                                       "logs", "metrics.csv", "metrics.json", "notes.txt"]
    last = training.load_model(os.path.join(out, "last.keras"))
    assert int(last.optimizer.iterations) == steps  # epoch 1's, finite
    assert cb.nonfinite_variables(last) == []
    with open(os.path.join(out, "backup", cb.ResumableBackup.METADATA)) as f:
        assert json.load(f)["steps"] == steps

    result = training.train_and_evaluate(training.build_config(
        "digits", learning_rate=0.1, **run))
    assert int(result["model"].optimizer.iterations) == 2 * steps
    assert np.isfinite(result["test_loss"])
    assert not os.path.exists(os.path.join(out, "backup"))
