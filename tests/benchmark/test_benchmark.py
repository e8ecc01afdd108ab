"""The benchmark suite at its smallest settings: the report's structure, every measured
figure positive, ratios and targets derived correctly. No timing assertions."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import (
    Settings,
    derive,
    full_settings,
    markdown,
    plan,
    quick_settings,
    run_suite,
    write_json,
    write_markdown,
)
from benchmarks.report import BEGIN, END
from benchmarks.timing import summarize

MEASURED = ("img_per_s", "img_per_s_min", "img_per_s_max", "median_ms", "p50_ms", "p90_ms",
            "peak_rss_mb", "gflops", "fraction_of_ceiling", "img_per_s_per_core",
            "tensorflow", "numpy", "onnxruntime", "best", "size_mb", "convert_s", "macs",
            "top1_agreement", "task_s", "ratio", "ratio_min", "ratio_max",
            "reference_img_per_s")


def tiny_settings():
    return Settings(
        inference={"resnet20": ("tf", "litert_float32", "onnxruntime_int8")},
        batches=(1, 2), latency_repeats=2, repeats=2,
        pairs=[[["resnet20", "litert_int8"], ["resnet20", "litert_float32"]]], pair_repeats=2,
        training={"resnet20": ("plain",)}, train_batch=4, train_steps=2,
        training_pairs=[[["resnet20", "default"], ["resnet20_keras_bn", "plain"]]],
        training_pair_repeats=2,
        pipeline_files=4, pipeline_batches=1, ceiling_n=128, ceiling_conv=(1, 8, 8),
        agreement_epochs=1, calibration_samples=2)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    # In this process: the tasks are under test here, not their isolation (which
    # `test_a_failing_task_is_one_error_row_in_or_out_of_process` and the profile test
    # run through the worker subprocess). 48 s instead of 115 s on a 2-core AVX2 EPYC.
    return run_suite(tiny_settings(), work_dir=str(tmp_path_factory.mktemp("work")),
                     log=lambda message: None, isolate=False)


def test_a_failing_task_is_one_error_row_in_or_out_of_process(tmp_path):
    from benchmarks.runner import run_task, run_task_here

    args = {"model": "resnet20", "runtime": "tf", "no_such_argument": 1}
    for results in (run_task("inference", args, str(tmp_path), 120, log=lambda m: None),
                    run_task_here("inference", args, log=lambda m: None)):
        [row] = results
        assert (row["kind"], row["model"], row["runtime"]) == ("inference", "resnet20", "tf")
        assert "no_such_argument" in row["error"], row["error"]


@pytest.mark.slow
def test_every_planned_measurement_succeeds_with_positive_figures(report):
    results = report["results"]
    assert [r for r in results if "error" in r] == []
    kinds = {r["kind"] for r in results}
    assert kinds == {"ceiling", "input_pipeline", "export", "inference", "training",
                     "quantization", "paired_inference", "paired_training"}
    [trained] = [r for r in results if r["kind"] == "paired_training"]
    assert (trained["model"], trained["runtime"], trained["reference_model"],
            trained["reference_runtime"], trained["batch"], trained["repeats"]) == (
        "resnet20", "default", "resnet20_keras_bn", "plain", 4, 2)
    assert trained["ratio_min"] <= trained["ratio"] <= trained["ratio_max"]
    paired = [r for r in results if r["kind"] == "paired_inference"]
    assert [(r["runtime"], r["reference_runtime"], r["batch"]) for r in paired] == [
        ("litert_int8", "litert_float32", 1), ("litert_int8", "litert_float32", 2)]
    ceilings = [r for r in results if r["kind"] == "ceiling"]
    assert [r["runtime"] for r in ceilings] == ["gemm", "gemm"]
    for kind in ("gemm", "conv"):  # float32 and int8 measured, each in several runtimes
        assert {"tensorflow", "onnxruntime", "openvino"} <= set(
            ceilings[0]["precisions"]["float32"][kind])
        assert {"onnxruntime", "openvino"} <= set(ceilings[0]["precisions"]["int8"][kind])
    assert set(report["ceilings"]) >= {"float32", "int8"}
    rows = {r["runtime"]: r for r in results if r["kind"] == "inference"}
    assert (rows["tf"]["precision"], rows["onnxruntime_int8"]["precision"]) == ("float32",
                                                                               "int8")
    assert rows["onnxruntime_int8"]["fraction_of_ceiling"] == pytest.approx(
        rows["onnxruntime_int8"]["gflops"] / report["ceilings"]["int8"])
    inference = {(r["runtime"], r["batch"]) for r in results if r["kind"] == "inference"}
    assert inference == {(rt, b) for rt in ("tf", "litert_float32", "onnxruntime_int8")
                         for b in (1, 2)}
    for result in results:
        for key in MEASURED:
            if key in result:
                assert isinstance(result[key], (int, float)) and math.isfinite(result[key])
                assert result[key] > 0, (result["kind"], result.get("runtime"), key)
    for result in results:
        if result["kind"] in ("inference", "training"):
            assert result["gflops"] > 0 and result["fraction_of_ceiling"] > 0
            assert result["img_per_s_min"] <= result["img_per_s"] <= result["img_per_s_max"]
    agreement = [r for r in results if r["kind"] == "quantization"]
    assert {r["runtime"] for r in agreement} >= {"litert_int8", "onnxruntime_int8"}
    assert all(0 <= r["top1_agreement"] <= 1 for r in agreement)


@pytest.mark.slow
def test_report_round_trips_to_json_and_markdown(report, tmp_path):
    path = tmp_path / "results.json"
    write_json(report, str(path))
    loaded = json.loads(path.read_text())
    assert set(loaded) >= {"machine", "settings", "results", "targets", "wall_s", "macs"}
    assert loaded["machine"]["cores"] >= 1
    assert loaded["settings"]["batches"] == [1, 2]
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Intro kept\n\n{BEGIN}\nold\n{END}\n\nOutro kept\n")
    write_markdown(report, str(doc), command="scripts/benchmark.py --quick")
    text = doc.read_text()
    assert text.startswith("# Intro kept") and text.rstrip().endswith("Outro kept")
    assert "old\n" not in text and "### Inference" in text and "| resnet20 | tf |" in text
    # A section the file does not hold yet is appended; nothing already there is lost.
    write_markdown(report, str(doc), section="second")
    again = doc.read_text()
    assert again.startswith(text.rstrip("\n")) and "<!-- benchmark second: begin" in again


def fake(kind, model, runtime, img_per_s, batch=32):
    stats = summarize([batch / img_per_s], batch)
    return {"kind": kind, "model": model, "runtime": runtime, **stats, "peak_rss_mb": 1.0}


def test_derive_computes_ratios_fractions_and_targets():
    results = [
        {"kind": "ceiling", "best": 100.0, "n": 8, "tensorflow": 90.0, "numpy": 100.0,
         "onnxruntime": 95.0},
        fake("inference", "resnet50", "tf", 12.0),
        fake("inference", "keras_applications_resnet50", "tf", 10.0),
        fake("training", "resnet50", "xla", 3.0),
        fake("training", "keras_applications_resnet50", "default", 2.0),
        {**fake("input_pipeline", "-", "tf.data", 24.0), "img_per_s_per_core": 12.0,
         "cores": 2, "files": 4},
        {"kind": "paired_training", "model": "resnet50", "runtime": "default",
         "reference_model": "keras_applications_resnet50", "reference_runtime": "default",
         "batch": 32, "ratio": 1.25, "ratio_min": 1.2, "ratio_max": 1.4, "img_per_s": 5.0,
         "reference_img_per_s": 4.0},
        {"kind": "paired_training", "model": "resnet50_v1", "runtime": "default",
         "reference_model": "keras_applications_resnet50", "reference_runtime": "default",
         "batch": 32, "ratio": 1.4, "ratio_min": 1.1, "ratio_max": 1.6, "img_per_s": 5.6,
         "reference_img_per_s": 4.0},
        {"kind": "paired_training", "model": "resnet50_keras_bn", "runtime": "default",
         "reference_model": "keras_applications_resnet50", "reference_runtime": "default",
         "batch": 32, "ratio": 1.0, "ratio_min": 0.9, "ratio_max": 1.1, "img_per_s": 4.0,
         "reference_img_per_s": 4.0},
    ]
    report = derive({"settings": {"batches": [32]}, "results": results})
    ours = results[1]
    assert ours["ratio_vs_keras_applications"] == pytest.approx(1.2)
    assert ours["gflops"] == pytest.approx(12.0 * 2 * 4_089_184_256 / 1e9)
    assert ours["fraction_of_ceiling"] == pytest.approx(ours["gflops"] / 100.0)
    assert results[3]["gflops"] == pytest.approx(3 * 3.0 * 2 * 4_089_184_256 / 1e9)
    assert "ratio_vs_keras_applications" not in results[2]
    targets = {t["target"]: t for t in report["targets"]}
    tf_row = targets["ResNet-50 inference tf, batch 32: ours / keras.applications"]
    assert tf_row["value"] == pytest.approx(1.2) and tf_row["met"] is True
    training = [t for t in report["targets"] if t["target"].startswith("ResNet-50 training")]
    assert training[0]["value"] == pytest.approx(1.5) and training[0]["met"] is True
    paired = [t for t in report["targets"] if t["target"].startswith("paired: ResNet-50 training")]
    # v1.5 and v1 each get a row against the 1.3x goal, named apart; none for the ablation.
    assert [(t["target"], t["goal"], t["met"]) for t in paired] == [
        ("paired: ResNet-50 training, ours default / keras.applications default, batch 32",
         1.3, False),
        ("paired: ResNet-50 training, ours resnet50_v1 default / keras.applications default, "
         "batch 32", 1.3, True)]
    pipeline = [t for t in report["targets"] if t["target"].startswith("input pipeline")]
    assert pipeline[0]["value"] == pytest.approx(4.0) and pipeline[0]["met"] is True
    xla_row = targets["ResNet-50 inference tf_xla, batch 32: ours / keras.applications"]
    assert xla_row["met"] is None  # not measured is not a pass
    text = markdown({**report, "machine": {}, "wall_s": 1.0})
    assert "| resnet50 | tf |" in text
    assert ("| resnet50 default | keras_applications_resnet50 default | 32 | 5.0 | 4.0 "
            "| 1.25 (1.20-1.40) |") in text
    assert "`*_keras_bn`: our model with plain" in text


def test_derive_takes_each_figure_against_its_precisions_ceiling():
    macs = 4_089_184_256
    ceilings = [{"kind": "ceiling", "best": 100.0, "n": 8, "conv": [1, 8, 8], "precisions": {
        "float32": {"gemm": {"tensorflow": 90.0}, "conv": {"onnxruntime": 100.0}, "best": 100.0},
        "bfloat16": {"gemm": {"openvino": 400.0}, "conv": {"tensorflow": 300.0}, "best": 400.0},
        "int8": {"gemm": {"onnxruntime": 500.0}, "conv": {"openvino": 800.0}, "best": 800.0}}},
        # The end-of-run ceiling: the best of both counts, per precision.
        {"kind": "ceiling", "best": 110.0, "n": 8, "conv": [1, 8, 8], "precisions": {
            "float32": {"gemm": {"tensorflow": 110.0}, "conv": {}, "best": 110.0},
            "bfloat16": {"skipped": "no"}, "int8": {"gemm": {}, "conv": {}, "best": None}}}]
    rows = [{**fake("inference", "resnet50", runtime, img), "precision": precision}
            for runtime, img, precision in (("onnxruntime", 10.0, "float32"),
                                            ("openvino", 30.0, "bfloat16"),
                                            ("openvino_int8", 60.0, "int8"))]
    baseline = {**fake("inference", "keras_applications_resnet50", "tf", 5.0),
                "precision": "float32"}
    pair = {"kind": "paired_inference", "model": "resnet50", "runtime": "openvino_int8",
            "reference_model": "keras_applications_resnet50",
            "reference_runtime": "openvino_int8", "batch": 32, "ratio": 1.1, "ratio_min": 1.0,
            "ratio_max": 1.2, "img_per_s": 60.0, "reference_img_per_s": 50.0,
            "precision": "int8", "reference_precision": "int8"}
    report = derive({"settings": {"batches": [32]}, "results": ceilings + rows + [baseline, pair],
                     "machine": {"isa": ["avx2", "avx512_vnni"]}})
    assert report["ceilings"] == {"float32": 110.0, "bfloat16": 400.0, "int8": 800.0}
    for row, top in zip(rows, (110.0, 400.0, 800.0)):
        assert row["fraction_of_ceiling"] == pytest.approx(row["img_per_s"] * 2 * macs / 1e9 / top)
    assert pair["fraction_of_ceiling"] == pytest.approx(60.0 * 2 * macs / 1e9 / 800.0)
    assert pair["reference_fraction_of_ceiling"] == pytest.approx(
        50.0 * 2 * 3_857_973_248 / 1e9 / 800.0)
    targets = {t["target"]: t for t in report["targets"]}
    share = targets["ResNet-50 best int8 inference (openvino_int8), batch 32: share of the "
                    "int8 ceiling"]
    assert share["value"] == pytest.approx(rows[2]["fraction_of_ceiling"]) and share["goal"] == 0.5
    fastest = targets["ResNet-50 fastest exported artifact (openvino_int8) / keras.applications "
                      "tf float32, batch 32"]
    assert (fastest["value"], fastest["goal"]) == (pytest.approx(12.0), 3.5)  # VNNI, no AMX
    # On a CPU without VNNI or AMX the ratio is still reported, with no goal to meet.
    plain = derive({**report, "results": ceilings + rows + [baseline, pair],
                    "machine": {"isa": ["avx2"]}})
    [row] = [t for t in plain["targets"] if t["target"] == fastest["target"]]
    assert row["value"] == pytest.approx(12.0) and row["goal"] is None and row["met"] is None
    assert "no goal on this CPU" in markdown({**plain, "machine": {}, "wall_s": 1.0})
    text = markdown({**report, "machine": {}, "wall_s": 1.0})
    assert "| bfloat16 | gemm | OpenVINO 400.0 | **400.0** |" in text
    assert "| resnet50 | openvino_int8 | int8 |" in text


def test_ceilings_measure_each_precision_and_kind_in_every_runtime_that_runs_it():
    from benchmarks.tasks import ceiling

    rates = ceiling.precision_ceilings(n=64, conv=(1, 8, 8), repeats=1, flags={"avx2"})
    assert set(rates["float32"]["gemm"]) == {"tensorflow", "numpy", "onnxruntime", "openvino"}
    assert set(rates["float32"]["conv"]) == {"tensorflow", "onnxruntime", "openvino"}
    for kind in ("gemm", "conv"):
        assert set(rates["int8"][kind]) == {"onnxruntime", "openvino"}
    for precision in ("float32", "int8"):
        assert rates[precision]["best"] == max(v for kind in ("gemm", "conv")
                                               for v in rates[precision][kind].values()) > 0
    # Without avx512_bf16 / amx_bf16 bfloat16 is emulated: not a ceiling, and says why.
    assert rates["bfloat16"] == {"skipped": "the CPU has none of ['avx512_bf16', 'amx_bf16']"}
    # The int8 graph is the exported model's form: QDQ around the op, int8 weights.
    proto, _ = ceiling.onnx_graph("conv", conv=(1, 8, 8), int8=True)
    assert [node.op_type for node in proto.graph.node] == [
        "QuantizeLinear", "DequantizeLinear", "DequantizeLinear", "Conv", "QuantizeLinear",
        "DequantizeLinear"]


def test_plan_runs_exports_before_the_runtimes_that_need_them(tmp_path):
    labels = [label for label, _, _ in plan(quick_settings(), str(tmp_path))]
    assert labels[0] == labels[-1] == "ceiling"
    assert labels.index("export resnet20") < labels.index("inference resnet20 savedmodel")
    assert any(label.startswith("paired") for label in labels)


def test_plan_interleaves_ours_and_the_baseline_and_keeps_only_measured_parts(tmp_path):
    settings = Settings(inference={"resnet50": ("tf", "onnxruntime"),
                                   "keras_applications_resnet50": ("tf", "onnxruntime")},
                        measure=("inference",))
    labels = [label for label, _, _ in plan(settings, str(tmp_path))]
    assert labels == ["export resnet50", "export keras_applications_resnet50",
                      "inference resnet50 tf", "inference keras_applications_resnet50 tf",
                      "inference resnet50 onnxruntime",
                      "inference keras_applications_resnet50 onnxruntime"]


@pytest.mark.parametrize("overrides, message", [
    ({"inference": {"resnet7": ("tf",)}}, "model='resnet7'"),
    ({"inference": {"resnet20": ("tensorrt",)}}, "tensorrt"),
    ({"inference": {}, "training": {"resnet20": ("fast",)}}, "fast"),
    ({"inference": {}, "batches": (0,)}, "batches"),
    ({"inference": {}, "measure": ("speed",)}, "speed"),
    ({"inference": {}, "pairs": [[["resnet20", "tvm"], ["resnet20", "tf"]]]}, "tvm"),
    ({"inference": {}, "training_pairs": [[["resnet20", "eager"], ["resnet20", "plain"]]]},
     "mode='eager'"),
    ({"inference": {}, "training_pairs": [[["resnet21", "plain"], ["resnet20", "plain"]]]},
     "model='resnet21'"),
])
def test_settings_reject_bad_values_naming_them(overrides, message):
    with pytest.raises(ValueError, match=message):
        Settings(**{"inference": {}, **overrides})


def test_op_profile_shows_which_batch_norm_kernels_ran(tmp_path):
    from benchmarks import run_task
    from benchmarks.tasks.profile import op_profile, profile_table

    # One through the worker subprocess, as `scripts/benchmark.py --profile` runs it.
    [fused] = run_task("profile_training", {"model": "resnet20", "batch": 4, "steps": 1},
                       str(tmp_path), timeout_s=600)
    plain = op_profile("resnet20_keras_bn", batch=4, steps=1)
    for profile in (fused, plain):
        assert sum(op["share"] for op in profile["ops"]) == pytest.approx(1.0)
        assert any("Conv2D" in op["type"] for op in profile["ops"])
        assert profile["total_ms"] > 0
    assert any("FusedBatchNorm" in op["type"] for op in fused["ops"])
    assert not any("FusedBatchNorm" in op["type"] for op in plain["ops"])
    table = profile_table([fused, plain])
    assert table.startswith("| op type | resnet20 | resnet20_keras_bn |")
    assert "| **all, per step** |" in table


_TWO_DEVICE_TRAINING = """
import json
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from benchmarks import backend
from benchmarks.tasks import training
# Two logical CPUs stand in for two GPUs: the same MirroredStrategy path.
backend.accelerators = lambda: tf.config.list_logical_devices("CPU")
results = training.training("resnet20", "plain", batch=4, steps=2)
results += training.training("resnet20", "mixed", batch=4, steps=2)
try:
    training.training("resnet20", "xla", batch=4, steps=2)
except ValueError as error:
    results.append({"error": str(error)})
print(json.dumps(results))
"""


def _python_json(code):
    """The JSON that `code` prints last, run by a fresh TensorFlow-backend Python (device
    layouts must be set before TensorFlow starts)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    process = subprocess.run([sys.executable, "-c", code], cwd=root,
                             env={**os.environ, "KERAS_BACKEND": "tensorflow"},
                             capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_training_replicates_over_several_devices_in_tensorflow():
    plain, mixed, xla = _python_json(_TWO_DEVICE_TRAINING)
    for result in (plain, mixed):
        # batch is per replica: two replicas train on 8 images a step.
        assert (result["replicas"], result["batch"], result["repeats"]) == (2, 8, 2)
        assert math.isfinite(result["img_per_s"]) and result["img_per_s"] > 0
        assert result["jit_compile"] == "False"
    assert (plain["dtype_policy"], mixed["dtype_policy"]) == ("float32", "mixed_float16")
    # Keras cannot jit-compile a step over MirroredStrategy replicas: a clear error,
    # not XLA's "Trying to access resource ... located in device" mid-run.
    assert "Training mode 'xla' compiles the whole step with XLA" in xla["error"]
    assert "'mixed', 'bf16'" in xla["error"]


_ONE_DEVICE_MIXED_TRAINING = """
import json
import tensorflow as tf
from benchmarks import backend
from benchmarks.tasks import training
# One CPU stands in for one GPU: no strategy, mixed precision with XLA.
backend.accelerators = lambda: tf.config.list_logical_devices("CPU")
print(json.dumps([training.training("resnet20", mode, batch=4, steps=2)[0]
                  for mode in ("mixed_xla", "bf16_xla")]))
"""


@pytest.mark.slow
def test_mixed_precision_xla_modes_train_on_one_device_in_tensorflow():
    float16, bfloat16 = _python_json(_ONE_DEVICE_MIXED_TRAINING)
    assert (float16["dtype_policy"], bfloat16["dtype_policy"]) == ("mixed_float16",
                                                                   "mixed_bfloat16")
    for result in (float16, bfloat16):
        assert (result["replicas"], result["batch"], result["jit_compile"]) == (1, 4, "True")
        assert math.isfinite(result["img_per_s"]) and result["img_per_s"] > 0


def test_the_tensorflow_run_plans_no_runtime_of_another_backend():
    # A full TensorFlow run of 2026-12-07 planned "jax" and "torch" for resnet50 and
    # resnet20, and each failed ("needs KERAS_BACKEND=jax").
    from benchmarks.runtimes import KERAS_RUNTIMES

    for settings in (full_settings(), full_settings().only(["resnet50"]), quick_settings()):
        planned = {r for runtimes in settings.inference.values() for r in runtimes}
        assert planned and not planned & set(KERAS_RUNTIMES), planned
    assert set(full_settings(backend="jax").inference["resnet50"]) == {"jax"}


def test_tensorflow_plans_over_several_gpus_drop_the_xla_modes():
    one, two = full_settings(1), full_settings(2)
    assert one.training["resnet50"] == ("plain", "xla", "xla_spe", "mixed_xla", "bf16_xla")
    assert two.training["resnet50"] == ("plain", "mixed", "bf16")
    assert two.training["keras_applications_resnet50"] == ("default", "mixed", "bf16")
    assert quick_settings(2).training["resnet20"] == ("plain", "mixed", "bf16")
    assert full_settings(0).training["resnet20"] == ("plain", "xla", "xla_spe")


@pytest.mark.slow
def test_keras_hub_peer_is_our_resnet50_architecture_and_known_macs_hold():
    import keras_resnet
    from benchmarks import models

    ours, peer = models.build("resnet50"), models.build(models.KERAS_HUB)
    assert peer.count_params() == ours.count_params() == 25_610_152  # incl. BN statistics
    assert peer.output_shape == ours.output_shape == (None, 1000)
    for name, net in (("resnet50", ours), (models.KERAS_HUB, peer)):
        assert keras_resnet.count_flops(net) == models.known_macs()[name]


def test_keras_hub_pairs_are_planned_only_when_it_is_installed(monkeypatch):
    from benchmarks import models

    hub = ["keras_hub_resnet50", "default"]
    assert models.available(models.KERAS_HUB)  # part of the test environment ([all])
    assert [["resnet50", "default"], hub] in full_settings().training_pairs
    assert [["resnet50", "tf"], ["keras_hub_resnet50", "tf"]] in full_settings().pairs
    monkeypatch.setattr(models, "available", lambda name: False)
    assert hub not in [pair[1] for pair in full_settings().training_pairs]
    assert not [p for p in full_settings(1, "jax").pairs if p[1][0] == models.KERAS_HUB]


def test_a_missing_keras_hub_names_the_extra(monkeypatch):
    from benchmarks import models

    monkeypatch.setitem(sys.modules, "keras_hub", None)  # import keras_hub fails
    with pytest.raises(ImportError, match=r"keras_hub_resnet50.*keras-resnet-family\[peers\]"):
        models.build(models.KERAS_HUB)


def test_keras_hub_training_pair_is_held_to_parity_and_named():
    pair = {"kind": "paired_training", "model": "resnet50", "runtime": "default",
            "reference_model": "keras_hub_resnet50", "reference_runtime": "default",
            "batch": 32, "ratio": 1.29, "ratio_min": 1.1, "ratio_max": 1.5,
            "img_per_s": 6.0, "reference_img_per_s": 4.6}
    report = derive({"settings": {"batches": [32]}, "results": [pair]})
    (row,) = [t for t in report["targets"] if t["target"].startswith("paired: ResNet-50")]
    assert row["target"] == ("paired: ResNet-50 training, ours default / keras-hub default, "
                             "batch 32")
    assert (row["goal"], row["met"]) == (1.0, True)


def test_only_keeps_the_named_models_and_their_pairs():
    settings = full_settings().only(["resnet50", "keras_hub_resnet50"])
    assert set(settings.inference) == {"resnet50"}
    assert set(settings.training) == {"resnet50"}
    # Ours' int8 and OpenVINO against ours' float32 stay: both arms are resnet50.
    assert settings.pairs == [[["resnet50", r], ["resnet50", "litert_float32"]]
                              for r in ("litert_int8", "onnxruntime_int8", "openvino",
                                        "openvino_int8")] + [
        [["resnet50", r], ["keras_hub_resnet50", r]] for r in ("tf", "tf_xla")]
    assert settings.training_pairs == [[["resnet50", "default"],
                                        ["keras_hub_resnet50", "default"]]]
    with pytest.raises(ValueError, match="model='resnet5'"):
        full_settings().only(["resnet5"])


def _record_make_dataset(monkeypatch):
    """Replaces keras_resnet.data.make_dataset by a recorder of its keyword arguments."""
    import keras_resnet.data

    calls = []
    real = keras_resnet.data.make_dataset

    def recording(source, **kwargs):
        calls.append(kwargs)
        return real(source, **kwargs)

    monkeypatch.setattr(keras_resnet.data, "make_dataset", recording)
    return calls


def test_input_pipeline_times_make_dataset_itself(tmp_path, monkeypatch):
    from benchmarks.tasks import pipeline

    calls = _record_make_dataset(monkeypatch)
    folder = pipeline.make_jpegs(str(tmp_path / "jpegs"), 4, width=64, height=48)
    [result] = pipeline.input_pipeline(folder, batch=2, image_size=32, batches=2)
    [kwargs] = calls
    # The ImageNet training path, decoded on every step (not cached) and repeated.
    assert (kwargs["training"], kwargs["augment"], kwargs["cache"], kwargs["repeat"]) == (
        True, "imagenet", False, True)
    assert kwargs["normalization"].mode == "torch"
    assert (result["files"], result["batch"], result["repeats"]) == (4, 2, 2)
    assert result["img_per_s"] > 0 and result["img_per_s_per_core"] > 0


def test_input_pipeline_runs_the_torchvision_v2_augmentations(tmp_path, monkeypatch):
    from benchmarks.tasks import pipeline

    calls = _record_make_dataset(monkeypatch)
    folder = pipeline.make_jpegs(str(tmp_path / "jpegs"), 4, width=64, height=48)
    [result] = pipeline.input_pipeline(folder, batch=2, image_size=32, batches=2,
                                       augmentations="torchvision_v2")
    [kwargs] = calls
    assert (kwargs["auto_augment"], kwargs["random_erase"], kwargs["one_hot"]) == (
        "trivialaugment", 0.1, True)
    assert (kwargs["mix"].mixup_alpha, kwargs["mix"].cutmix_alpha) == (0.2, 1.0)
    assert result["augmentations"] == "torchvision_v2" and result["img_per_s"] > 0
    with pytest.raises(ValueError, match="augmentations='v3'"):
        pipeline.input_pipeline(folder, batch=2, image_size=32, batches=1, augmentations="v3")


def test_openvino_runtimes_run_the_exported_ir(tmp_path):
    import keras

    import keras_resnet
    from benchmarks import artifacts, runtimes

    keras.utils.set_random_seed(0)
    model = keras_resnet.build_resnet((1, 1), block="basic", stem="cifar", stage_widths=(8, 16),
                                      input_shape=(16, 16, 3), classes=4)
    calibration = artifacts.calibration_images(16, 8)
    written = artifacts.export_all(model, str(tmp_path), ("openvino_f32", "openvino",
                                                          "openvino_int8"),
                                   calibration=calibration)
    assert set(written) == {"openvino_f32", "openvino", "openvino_int8"}
    # Written by export_model itself: its manifest, its file names, sources removed.
    from keras_resnet.export import manifest as manifest_lib

    manifest = manifest_lib.read(str(tmp_path))
    assert set(manifest["artifacts"]) == {"openvino", "openvino_int8"}
    assert sorted(os.listdir(tmp_path)) == ["manifest.json", "model.bin", "model.xml",
                                            "model_int8.bin", "model_int8.xml",
                                            "parity_batch.npz"]
    assert written["openvino_int8"]["size_mb"] == manifest["artifacts"]["openvino_int8"][
        "size"] / 1e6
    expected = model.predict(calibration, verbose=0)
    for runtime in written:
        predict = runtimes.predictor("resnet20", runtime, artifact=written[runtime]["path"],
                                     threads=1)
        out = predict(calibration)
        assert out.shape == expected.shape
        # f32 matches closely; the host default (bf16 where the CPU has it) and int8 agree
        # on the top class of most images.
        if runtime == "openvino_f32":
            np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
        else:
            assert np.mean(out.argmax(-1) == expected.argmax(-1)) >= 0.5
