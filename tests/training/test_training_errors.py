"""Bad training settings: unknown names, out-of-range numbers, an unwritable output
folder, a batch larger than the data, a diverging run, corrupt JSON files in a run folder,
a TF_CONFIG that is malformed or does not match the strategy. Each raises our error naming the
setting, the value and what is allowed (see tests/bad_inputs.py)."""

import json
import os

from bad_inputs import call as _call
from bad_inputs import check, parametrize

from keras_resnet import training
from keras_resnet.training import callbacks, loop, strategies


def _train(tmp_path, **overrides):
    settings = dict(epochs=1, max_steps_per_epoch=3, batch_size=16, image_size=16, verbose=0,
                    output_dir=str(tmp_path / "run"))
    config = training.build_config("digits", **{**settings, **overrides})
    return training.train_and_evaluate(config)


def _diverges(tmp_path):
    # A rate of 1e30 sends the weights to inf within a few steps: the NaN guard stops
    # the run with our error rather than finishing with a NaN model.
    _train(tmp_path, learning_rate=1e30, scale_lr=False)


def _unwritable_output(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    loop.prepare_output_dir(str(blocker / "run"))


def _validate(**overrides):
    def case(tmp_path):
        loop.validate(training.build_config("digits", **overrides))
    return case


def _build_config(*args, **kwargs):
    def case(tmp_path):
        training.build_config(*args, **kwargs)
    return case


def _corrupt_run_file(name, content, read):
    def case(tmp_path):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        read(str(tmp_path))
    return case


def _metrics_rows(folder):
    callbacks.load_rows(os.path.join(folder, "metrics.json"))


def _committed_epoch(folder):
    callbacks.ResumableBackup(os.path.join(folder, "backup")).committed_epoch()


CASES = [
    ("train-unknown-setting", _build_config("digits", epochz=3), ValueError, "epochz"),
    ("train-unknown-recipe", _build_config("imagenet22k"), ValueError, "imagenet22k"),
    ("train-unknown-strategy", _validate(strategy="gpu"), ValueError, "strategy='gpu'"),
    ("train-unknown-model", _validate(model="resnet21"), ValueError, "resnet21"),
    ("train-zero-epochs", _validate(epochs=0), ValueError, "epochs"),
    ("train-zero-batch", _validate(batch_size=0), ValueError, "batch_size"),
    ("train-label-smoothing-1", _validate(label_smoothing=1.0), ValueError, "label_smoothing"),
    ("train-negative-lr", _validate(learning_rate=-0.1), ValueError, "learning_rate"),
    ("train-unwritable-output", _unwritable_output, ValueError, "not writable"),
    ("train-batch-larger-than-data", lambda t: _train(t, batch_size=4096), ValueError,
     "fewer than the global batch"),
    ("train-nan-loss", _diverges, training.TrainingDiverged,
     "Training diverged at epoch 1: the training loss is NaN"),
    # issue 16, items 4 and 14: JSONDecodeError tracebacks, or no error at all
    ("run-corrupt-metrics-json", _corrupt_run_file("metrics.json", "{", _metrics_rows),
     ValueError, r"metrics.json is not valid JSON .*Delete it"),
    ("run-corrupt-backup-record", _corrupt_run_file(
        "backup/training_metadata.json", '{"epoch": "one"}', _committed_epoch), ValueError,
     r"training_metadata.json has epoch='one', not an integer. Delete .*backup"),
    ("run-tf-config-not-json", _call(strategies.check_tf_config, "auto", "{x"), ValueError,
     "TF_CONFIG is not valid JSON"),
    ("run-tf-config-not-the-strategy", _call(strategies.check_tf_config, "mirrored", json.dumps(
        {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}})),
     ValueError, "strategy='mirrored' trains in this process alone.*Unset TF_CONFIG"),
]


@parametrize(CASES)
def test_bad_input(case, error, match, tmp_path):
    check(case, error, match, tmp_path)
