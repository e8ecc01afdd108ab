"""Benchmarks: inference, training and input-pipeline speed of keras_resnet against
keras.applications.ResNet50 in the same run, in TensorFlow (tf.function, XLA), its
SavedModel, LiteRT and ONNX Runtime, as fractions of the machine's GEMM ceiling.

    from benchmarks import quick_settings, run_suite, write_json
    report = run_suite(quick_settings())
    write_json(report, "runs/benchmark/results.json")

See docs/benchmarks.md and scripts/benchmark.py.
"""

from benchmarks.report import markdown, write_json, write_markdown
from benchmarks.suite import (
    Settings,
    derive,
    describe_machine,
    full_settings,
    plan,
    quick_settings,
    run_suite,
)

__all__ = ["Settings", "derive", "describe_machine", "full_settings", "markdown", "plan",
           "quick_settings", "run_suite", "write_json", "write_markdown"]
