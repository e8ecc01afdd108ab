"""scripts/export.py killed with SIGKILL between artifacts and while publishing: the
destination never holds a partial export, the previous export keeps passing `verify`,
and the next export cleans up and publishes."""

import os
import signal

import pytest
from script_runs import EXPORT, run

FORMATS = ["--format=savedmodel,tflite", "--tflite_modes=float32"]


def _siblings(path):
    parent, name = os.path.split(path)
    return sorted(e for e in os.listdir(parent) if e.startswith(f".{name}."))


@pytest.mark.slow
@pytest.mark.parametrize("kill_at,formats,published", [
    ("export_artifact:1", FORMATS, False),  # SavedModel written and checked, TFLite not
    ("export_artifact:2", FORMATS, False),  # every artifact written, manifest not
    ("export_publish:1", ["--format=savedmodel"], True),  # while replacing the old export
])
def test_sigkill_during_export_keeps_a_valid_export(tiny_export, tmp_path, kill_at, formats,
                                                    published):
    import shutil

    from keras_resnet import export
    from keras_resnet.export import manifest as manifest_lib

    model_path, baseline = tiny_export
    dest = str(tmp_path / "tiny")
    shutil.copytree(baseline, dest)
    before = manifest_lib.file_table(dest, exclude=())
    killed = run(EXPORT, [f"--model={model_path}", f"--output_dir={dest}", "--overwrite",
                          *formats], kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-3000:]
    # The destination is a whole export, old or new, and passes verify.
    export.verify(dest)
    artifacts = sorted(manifest_lib.read(dest)["artifacts"])
    if published:
        assert artifacts == ["savedmodel"]
    else:
        assert manifest_lib.file_table(dest, exclude=()) == before
        assert artifacts == ["savedmodel", "tflite_float32"]
    leftovers = _siblings(dest)
    assert len(leftovers) == 1 and ".tmp-" in leftovers[0], leftovers

    # The next export removes the dead process's leftovers and publishes.
    export.export_model(model_path, output_dir=dest, formats="savedmodel", overwrite=True)
    assert _siblings(dest) == []
    export.verify(dest)
