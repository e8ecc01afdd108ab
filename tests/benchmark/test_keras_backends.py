"""The benchmark under Keras' other backends (the GPU table came from a JAX run on a
machine without TensorFlow) and the figures derived from a GPU run. No timing
assertions."""

import json
import math
import os
import subprocess
import sys

import pytest

from benchmarks import (
    Settings,
    derive,
    full_settings,
    keras_backend_settings,
    markdown,
    plan,
    run_suite,
)
from benchmarks.runtimes import predictor
from benchmarks.timing import summarize

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _without_tensorflow(tmp_path):
    """A PYTHONPATH entry whose `tensorflow` package fails to import, as on a machine
    without it."""
    hidden = tmp_path / "no_tensorflow"
    (hidden / "tensorflow").mkdir(parents=True)
    (hidden / "tensorflow" / "__init__.py").write_text(
        "raise ImportError('tensorflow is hidden by the test')\n")
    return str(hidden)


@pytest.mark.slow
def test_quick_run_under_torch_needs_no_tensorflow(tmp_path):
    out = tmp_path / "report.json"
    env = {**os.environ, "KERAS_BACKEND": "torch",
           "PYTHONPATH": os.pathsep.join([_without_tensorflow(tmp_path), ROOT])}
    process = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "benchmark.py"), "--quick",
         f"--json={out}", f"--markdown={tmp_path / 'report.md'}"],
        env=env, capture_output=True, text=True, timeout=900, cwd=str(tmp_path))
    assert process.returncode == 0, process.stderr[-3000:]
    report = json.loads(out.read_text())
    assert "partial" not in report
    assert report["machine"]["backend"] == "torch"
    results = report["results"]
    assert [r for r in results if "error" in r] == []
    assert [r["kind"] for r in results] == ["ceiling", "inference", "inference", "training",
                                           "ceiling"]
    assert {(r["runtime"], r["batch"]) for r in results if r["kind"] == "inference"} == {
        ("torch", 1), ("torch", 8)}
    assert "best" in results[0]
    assert set(results[0]["precisions"]["float32"]["gemm"]) >= {"torch", "numpy"}
    for result in results:
        for key in ("img_per_s", "median_ms", "peak_rss_mb", "best", "torch", "numpy",
                    "gflops", "fraction_of_ceiling"):
            if key in result:
                assert math.isfinite(result[key]) and result[key] > 0, (result["kind"], key)
    text = (tmp_path / "report.md").read_text()
    assert "Keras backend: torch." in text and "| resnet20 | torch |" in text


def test_a_keras_runtime_needs_its_backend():
    with pytest.raises(ValueError, match="runtime='jax' needs KERAS_BACKEND=jax; the "
                                         "active Keras backend is 'tensorflow'"):
        predictor("resnet20", "jax")


def test_keras_backend_plans_measure_only_what_needs_no_tensorflow(tmp_path):
    jax_gpu = keras_backend_settings("jax", gpu=True)
    assert jax_gpu.training["resnet50"] == ("default", "mixed_xla", "bf16_xla")
    # Against keras.applications, then keras-hub (installed in the test environment).
    assert [(pair[0][1], pair[1][0]) for pair in jax_gpu.training_pairs] == [
        (mode, peer) for peer in ("keras_applications_resnet50", "keras_hub_resnet50")
        for mode in ("default", "mixed_xla", "bf16_xla")]
    assert jax_gpu.batches == (1, 32, 256) and jax_gpu.ceiling_n == 8192
    labels = [label for label, _, _ in plan(jax_gpu, str(tmp_path))]
    assert not [label for label in labels
                if label.split()[0] in ("export", "input", "int8")]
    assert {label.split()[-1] for label in labels if label.startswith("inference")} == {"jax"}
    # PyTorch: torch.compile is too slow to compile for the mixed modes' jit_compile=True.
    assert keras_backend_settings("torch", gpu=True).training["resnet50"] == ("default",)
    assert full_settings(False, "torch").inference["resnet20"] == ("torch",)
    with pytest.raises(ValueError, match="backend='mxnet'"):
        keras_backend_settings("mxnet")


def test_run_suite_hands_over_results_after_each_task(tmp_path):
    seen = []
    settings = Settings(inference={}, measure=("ceiling",), ceiling_n=64, ceiling_conv=(1, 8, 8))
    report = run_suite(settings, work_dir=str(tmp_path), log=lambda message: None,
                       on_result=lambda results: seen.append(len(results)))
    assert seen == [1, 2] and len(report["results"]) == 2


def _fake(kind, model, runtime, img_per_s, batch=256):
    return {"kind": kind, "model": model, "runtime": runtime,
            **summarize([batch / img_per_s], batch), "peak_rss_mb": 1.0,
            "peak_device_mb": 2.0}


def test_derive_on_a_gpu_run_compares_like_modes_against_like_ceilings():
    results = [
        {"kind": "ceiling", "runtime": "gemm", "n": 8192, "jax_gpu_float32": 300_000.0,
         "jax_gpu_float16": 500_000.0, "best": 300_000.0, "best_half": 500_000.0},
        _fake("inference", "resnet50", "jax", 1100.0),
        _fake("inference", "keras_applications_resnet50", "jax", 1000.0),
        _fake("training", "resnet50", "default", 900.0),
        _fake("training", "keras_applications_resnet50", "default", 1000.0),
        _fake("training", "resnet50", "bf16_xla", 2100.0),
        _fake("training", "keras_applications_resnet50", "bf16_xla", 2000.0),
        {"kind": "paired_training", "model": "resnet50", "runtime": "bf16_xla",
         "reference_model": "keras_applications_resnet50", "reference_runtime": "bf16_xla",
         "batch": 256, "ratio": 1.02, "ratio_min": 0.9, "ratio_max": 1.1, "img_per_s": 2.0,
         "reference_img_per_s": 2.0},
    ]
    report = derive({"machine": {"backend": "jax", "gpus": ["H100"]},
                     "settings": {"batches": [256]}, "results": results, "wall_s": 60.0})
    default, bf16 = results[3], results[5]
    assert default["fraction_of_ceiling"] == pytest.approx(default["gflops"] / 300_000.0)
    assert bf16["fraction_of_ceiling"] == pytest.approx(bf16["gflops"] / 500_000.0)
    assert bf16["ratio_same_mode"] == pytest.approx(1.05)
    assert bf16["ratio_vs_keras_applications"] == pytest.approx(2.1)
    assert default["ratio_same_mode"] == pytest.approx(0.9)
    targets = {t["target"]: t for t in report["targets"]}
    assert targets["ResNet-50 inference jax, batch 256: ours / keras.applications"][
        "value"] == pytest.approx(1.1)
    assert not [t for t in targets if " tf," in t or "tf_xla" in t]
    same = targets["ResNet-50 training bf16_xla: ours / keras.applications bf16_xla"]
    assert (same["goal"], same["met"]) == (1.0, True)
    paired = targets["paired: ResNet-50 training, ours bf16_xla / keras.applications "
                     "bf16_xla, batch 256"]
    assert (paired["goal"], paired["met"]) == (1.0, True)  # 1.3x is for default vs default
    text = markdown(report)
    assert "Keras backend: jax." in text
    assert "JAX GPU float32 300,000.0, JAX GPU float16 500,000.0 GFLOP/s" in text
    assert "peak GPU MB" in text
    assert "| resnet50 | bf16_xla | 256 |" in text
    assert "### Paired training" in text and "_keras_bn" not in text  # no such rows here
