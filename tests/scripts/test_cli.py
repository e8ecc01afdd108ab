"""Every command-line tool ends a bad input with one line on stderr and status 2, and a
runtime failure with one line and status 1 (keras_resnet.cli), never a traceback.

The scripts run in this process (`factories.run_script`)."""

import ast
import contextlib
import json
import os
import re
import subprocess

import pytest
from absl import app
from factories import TINY_MODEL_FLAG, error_line, run_script

from keras_resnet import cli
from keras_resnet.export import ParityError, VerificationError
from keras_resnet.io import CheckpointWriteError, CorruptFileError
from keras_resnet.training import ConfigError, RunFolderLocked, TrainingDiverged, WorkerLost

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(ROOT, "scripts")
QUICK = ["--image_size=16", "--batch_size=16", "--epochs=1", "--max_steps_per_epoch=1",
         "--verbose=0", TINY_MODEL_FLAG]


# ----------------------------------------------------------------- the shared helper
@pytest.mark.parametrize("error,status", [
    (ConfigError("batch_size must be ..."), 2), (app.UsageError("pass --model"), 2),
    (CorruptFileError("x.json is not valid JSON"), 2), (FileExistsError("exists"), 2),
    (FileNotFoundError("no such"), 2), (TypeError("model must be"), 2),
    (TrainingDiverged("NaN"), 1), (CheckpointWriteError("disk full"), 1),
    (WorkerLost("peer died"), 1), (RunFolderLocked("pid 7 holds it"), 1),
    (VerificationError("sha256 differs"), 1),
    (ParityError("max_abs"), 1), (ImportError("needs onnx"), 1), (OSError(5, "EIO"), 1),
])
def test_each_error_kind_has_its_status_and_one_line(capsys, error, status):
    def main(argv):
        raise type(error)(*error.args)

    with pytest.raises(SystemExit) as stop:
        cli.guard(main)(["prog"])
    assert stop.value.code == status
    line, = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ")


def test_a_message_on_several_lines_is_joined_and_a_bug_keeps_its_traceback(capsys):
    def wrapped(argv):
        raise ValueError("first line\n  second line")

    with pytest.raises(SystemExit):
        cli.guard(wrapped)(["prog"])
    assert capsys.readouterr().err == "error: first line second line\n"

    def buggy(argv):
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        cli.guard(buggy)(["prog"])


def test_a_bad_flag_is_one_line_with_status_2(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.parse_flags(["prog", "--no_such_flag_anywhere=1"])
    assert stop.value.code == 2
    line, = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and "no_such_flag_anywhere" in line


def test_int_list_names_the_flag():
    assert cli.int_list("scales", "16,20") == [16, 20]
    with pytest.raises(app.UsageError, match="--scales=16,x: expected integers >= 1"):
        cli.int_list("scales", "16,x")


def test_every_script_runs_through_cli():
    for name in sorted(os.listdir(SCRIPTS)):
        if not name.endswith(".py"):
            continue
        tree = ast.parse(open(os.path.join(SCRIPTS, name)).read())
        calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        assert "cli.run" in calls, name
        assert not calls & {"app.run", "sys.exit"}, (name, calls & {"app.run", "sys.exit"})


# ----------------------------------------------------------------------- train.py
WORKERS = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}


@pytest.mark.parametrize("strategy,tf_config,match", [
    ("auto", {"cluster": WORKERS, "task": {"type": "worker", "index": 1}},
     "cluster of 2 tasks and names this process worker 1, but strategy='auto'.*Unset "
     "TF_CONFIG.*--strategy=multi_worker"),
    ("multi_worker", "{'cluster': ", "TF_CONFIG is not valid JSON"),
    ("multi_worker", {"cluster": WORKERS}, r"needs the objects 'cluster' and 'task'; \['task'\]"),
    ("multi_worker", {"task": {"type": "worker", "index": 0}}, r"\['cluster'\] missing"),
    ("multi_worker", {"cluster": WORKERS, "task": {"type": "worker", "index": 2}},
     "task index 2 is out of range for the 2 'worker' address"),
    ("multi_worker", {"cluster": WORKERS, "task": {"type": "chief", "index": 0}},
     r"task type 'chief' is not a job of its cluster \(jobs: \['worker'\]\)"),
    ("multi_worker", {"cluster": {**WORKERS, "ps": ["127.0.0.1:3"]},
                      "task": {"type": "worker", "index": 0}}, "job 'ps' is not supported"),
    ("multi_worker", None, "strategy='multi_worker' needs TF_CONFIG"),
])
def test_train_refuses_a_tf_config_that_is_malformed_or_not_the_strategys(
        capsys, monkeypatch, tmp_path, strategy, tf_config, match):
    # issue 16, item 4: worker 1 of a leftover TF_CONFIG under the default strategy
    # trained, reported success and deleted its outputs as a non-chief's scratch copy.
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config if isinstance(tf_config, str)
                           else json.dumps(tf_config))
    out = tmp_path / "run"
    status, _, err = run_script(capsys, "train", f"--strategy={strategy}",
                                f"--output_dir={out}", *QUICK)
    assert status == 2
    assert re.search(match, error_line(err)), error_line(err)
    assert not out.exists()  # refused before anything was created


@pytest.mark.parametrize("name,content,match", [
    ("metrics.json", '{"epochs": [{"epoch": 1, "loss"', "metrics.json is not valid JSON.*"
     "Delete it .* start over with --restart or a new --output_dir"),
    ("metrics.json", '{"epochs": {"epoch": 1}}', "metrics.json has 'epochs' that are not a list"),
    ("backup/training_metadata.json", "", r"training_metadata.json is not valid JSON \(it is "
     r"empty\). Delete .*backup to start this run over"),
    ("backup/training_metadata.json", '{"weights": "epoch00001.weights.h5"}',
     r"training_metadata.json has no \['epoch'\]"),
])
def test_train_names_a_corrupt_json_file_of_the_run_folder(capsys, tmp_path, name, content,
                                                          match):
    out = tmp_path / "run"
    (out / "backup").mkdir(parents=True)
    (out / name).write_text(content)
    status, _, err = run_script(capsys, "train", f"--output_dir={out}", *QUICK)
    assert status == 2
    line = error_line(err)
    assert str(out / name) in line and re.search(match, line), line
    assert (out / name).read_text() == content  # reported, not replaced


@pytest.mark.parametrize("args,match", [
    (["--study=degradation", "--study_depths=20,x"], "--study_depths=20,x: expected integers"),
    (["--model_option=shortcut"], "key=value"),
    (["--epochs=abc"], "flag --epochs=abc"),
    (["--output_dir={file}/run", *QUICK], "output_dir='{file}/run' is not writable"),
])
def test_train_flags_that_are_not_settings_are_one_line_errors_too(capsys, tmp_path, args,
                                                                   match):
    (tmp_path / "file").write_text("x")
    args = [arg.format(file=tmp_path / "file") for arg in args]
    status, _, err = run_script(capsys, "train", f"--output_dir={tmp_path / 'run'}", *args)
    assert status == 2 and match.format(file=tmp_path / "file") in error_line(err)


# ---------------------------------------------------------------------- export.py
@contextlib.contextmanager
def read_only(folder):
    """`folder`, made read-only for this process: chmod, and where that does not bind
    (root), the immutable attribute; skips where neither can."""
    folder.mkdir(exist_ok=True)
    os.chmod(folder, 0o555)
    immutable = False
    try:
        if os.access(folder, os.W_OK):
            immutable = subprocess.run(["chattr", "+i", str(folder)],
                                       capture_output=True).returncode == 0
            if not immutable:
                pytest.skip("cannot make a folder read-only for this user")
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        os.chmod(folder, 0o755)


def _incomplete_export(folder):
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(
        {"format_version": 1, "artifacts": {}, "files": {}, "parity": {"file": "p.npz"}}))
    return folder


def test_export_script_errors_are_one_line_with_status_2(capsys, tmp_path):
    model = ["--model=resnet20", "--input_size=16", "--classes=3", "--format=savedmodel"]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "model.keras").write_bytes(b"")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a whole jpeg")
    (tmp_path / "file").write_text("x")
    cases = [
        (["--model=resnet20", "--format=pb"], "formats=['pb']. Allowed values"),
        ([f"--model={tmp_path / 'run'}"], f"model={str(tmp_path / 'run')!r} is a folder, not a "
         f".keras file (export reads Keras v3 .keras archives, as written by scripts/train.py). "
         f"Did you mean model={str(tmp_path / 'run' / 'model.keras')!r}?"),
        ([*model, f"--representative_dir={tmp_path / 'images'}"],
         f"representative_dir image {str(tmp_path / 'images' / 'cut.jpg')!r} cannot be decoded"),
        ([*model, f"--output_dir={tmp_path / 'file' / 'out'}"],
         f"{str(tmp_path / 'file')!r} is a file, not a folder"),
        ([*model, "--class_names=/no/such/names.txt"], "--class_names='/no/such/names.txt' is "
         "not a file"),
        (["verify", f"--export_dir={_incomplete_export(tmp_path / 'export')}"],
         "manifest.json is incomplete: no parity.results. Export again"),
        (["verify", f"--export_dir={tmp_path / 'nowhere'}"], "does not exist or is not a folder"),
        (["convert"], "Unknown command 'convert'"),
    ]
    for args, expected in cases:
        status, _, err = run_script(capsys, "export", *args)
        assert status == 2, (args, err)
        assert expected in error_line(err), (args, error_line(err))
    with read_only(tmp_path / "readonly") as folder:
        status, _, err = run_script(capsys, "export", *model, f"--output_dir={folder / 'out'}")
        assert status == 2
        assert f"no folder can be created in {str(folder)!r}" in error_line(err)
        assert os.listdir(folder) == []


# -------------------------------------------------------- evaluate.py and the others
def test_evaluate_takes_the_crop_from_the_model_and_refuses_bad_input(capsys, tmp_path):
    import keras_resnet

    path = str(tmp_path / "m.keras")
    keras_resnet.create_model("resnet20", input_shape=(16, 16, 3), classes=10).save(path)
    status, out, _ = run_script(capsys, "evaluate", f"--model_path={path}", "--modes=center",
                                "--max_examples=2")
    assert status == 0
    assert "model=resnet20 image_size=16 preprocessing=" in out  # no --image_size given
    assert "center: top-1 " in out and "(2 images)" in out
    for args, expected in [
        ([], "Pass exactly one of --model_path"),
        ([f"--model_path={tmp_path}"], "is a folder, not a .keras file"),
        (["--model_path=/no/such.keras"], "--model_path='/no/such.keras' does not exist"),
        ([f"--model_path={path}", "--scales=32,big"], "--scales=32,big: expected integers"),
        ([f"--model_path={path}", "--modes=twelve_crop"], "unknown ['twelve_crop']"),
        ([f"--model_path={path}", "--max_examples=0"], "--max_examples=0: expected"),
    ]:
        status, _, err = run_script(capsys, "evaluate", *args)
        assert status == 2, (args, err)
        assert expected in error_line(err), (args, error_line(err))


def test_evaluate_takes_an_any_size_models_crop_from_its_run(capsys, tmp_path):
    """A run trained and tested at different sizes saves a model that takes any size:
    the crop and resize come from the run's metrics.json beside it."""
    import keras_resnet
    from keras_resnet.training.evaluate import with_input_size

    run = tmp_path / "run"
    run.mkdir()
    path = str(run / "model.keras")
    model = keras_resnet.create_model("resnet20", input_shape=(16, 16, 3), classes=10)
    with_input_size(model, None).save(path)
    status, _, err = run_script(capsys, "evaluate", f"--model_path={path}", "--modes=center",
                                "--max_examples=2")
    assert status == 2 and "pass --image_size" in error_line(err), err
    (run / "metrics.json").write_text('{"eval_image_size": 24, "eval_resize_size": 28}')
    status, out, err = run_script(capsys, "evaluate", f"--model_path={path}",
                                  "--modes=center", "--max_examples=2")
    assert status == 0, err
    assert "image_size=24 " in out and "(2 images)" in out


def test_benchmark_transfer_demo_and_model_table_errors_are_one_line(capsys, tmp_path):
    (tmp_path / "report.json").write_text('{"results": [')
    (tmp_path / "README.md").write_text("no markers here\n")
    for name, args, expected in [
        ("benchmark", [f"--from_json={tmp_path / 'report.json'}"],
         "report.json is not valid JSON"),
        ("benchmark", ["--batches=1,x", "--measure=ceiling"], "--batches=1,x: expected"),
        ("make_transfer_demo", [f"--output_dir={tmp_path / 'demo'}", "--per_class=0"],
         "per_class must be an integer >= 1"),
        ("model_table", ["--write", f"--readme={tmp_path / 'README.md'}"],
         "lacks the markers"),
    ]:
        status, _, err = run_script(capsys, name, *args)
        assert status == 2, (name, err)
        assert expected in error_line(err), (name, error_line(err))
