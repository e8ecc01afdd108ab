"""Benchmarks: inference, training and input-pipeline speed of keras_resnet against
keras.applications.ResNet50 (and keras-hub's ResNet-50) in the same run, in TensorFlow
(tf.function, XLA), its SavedModel, LiteRT and ONNX Runtime, as fractions of the
machine's GEMM ceiling. A tool of this repository, not part of the installed
keras_resnet package.

    from benchmarks import quick_settings, run_suite, write_json
    report = run_suite(quick_settings())
    write_json(report, "runs/benchmark/results.json")

Where things are: `settings` (what a run measures), `plan` (the order of tasks),
`runner` (one subprocess per task), `tasks/` (the tasks by kind and their registry),
`runtimes` (inference runtimes on the export loaders), `models` (the compared models),
`derive` and `targets` (the figures and the project's goals), `report` (JSON and
markdown). See docs/benchmarks.md and scripts/benchmark.py.
"""

from benchmarks.derive import derive
from benchmarks.plan import plan
from benchmarks.report import markdown, write_json, write_markdown
from benchmarks.runner import describe_machine, run_suite, run_task
from benchmarks.settings import Settings, full_settings, keras_backend_settings, quick_settings

__all__ = ["Settings", "derive", "describe_machine", "full_settings",
           "keras_backend_settings", "markdown", "plan", "quick_settings", "run_suite",
           "run_task", "write_json", "write_markdown"]
