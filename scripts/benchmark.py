"""Benchmarks keras_resnet against keras.applications.ResNet50 in one run: inference in
TensorFlow / SavedModel / LiteRT / ONNX Runtime, training steps, the input pipeline and
the machine's GEMM ceiling (and torchvision's ResNet-50 where it is installed). Writes
JSON and a markdown table. The suite is the repository's benchmarks/ package.

    scripts/benchmark.py --quick
    scripts/benchmark.py --json=runs/benchmark/results.json --markdown=docs/benchmarks.md

Under `KERAS_BACKEND=jax` (or torch) it measures what needs no TensorFlow: predict and
training steps of our models and keras.applications' in that backend, and the GEMM
ceiling (on a GPU: float32 and float16, mixed-precision training, larger batches).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# benchmarks/ lives at the repository root, outside the installed keras_resnet package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402

from keras_resnet import cli  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_bool("quick", False, "CI-sized run: ResNet-20 only, few repetitions.")
flags.DEFINE_string("json", "runs/benchmark/results.json", "JSON report to write.")
flags.DEFINE_string("markdown", "runs/benchmark/results.md", "Markdown report to write; "
                    "an existing file keeps everything outside its results markers.")
flags.DEFINE_string("work_dir", None, "Keep generated JPEGs and exports here. "
                    "Default: a temporary folder, removed.")
flags.DEFINE_list("batches", None, "Inference batch sizes. Default 1,8,32 (quick: 1,8).")
flags.DEFINE_integer("repeats", None, "Timed calls per batch > 1.")
flags.DEFINE_integer("latency_repeats", None, "Timed calls at batch 1.")
flags.DEFINE_integer("train_steps", None, "Timed training executions.")
flags.DEFINE_integer("train_batch", None, "Per-replica training batch. Default 32.")
flags.DEFINE_list("measure", None, "Parts to run (default all): ceiling, pipeline, "
                  "inference, paired, training, peers, paired_training, agreement.")
flags.DEFINE_list("models", None, "Only these benchmark models, and the pairs of two of "
                  "them (e.g. resnet50,keras_hub_resnet50).")
flags.DEFINE_integer("pair_repeats", None, "Timed pairs of calls per batch of each paired "
                     "inference comparison. Default 5 (quick: 3).")
flags.DEFINE_integer("training_pair_repeats", None, "Timed pairs of steps of each paired "
                     "training comparison. Default 6 (quick: 2).")
flags.DEFINE_string("from_json", None, "Re-derive and re-render a saved JSON report "
                    "instead of measuring.")
flags.DEFINE_list("profile", None, "Instead of the suite: profile the training step of "
                  "these benchmark models (e.g. resnet50,resnet50_keras_bn) with "
                  "TensorFlow's profiler and print self time by op type; --json gets "
                  "the profiles.")
flags.DEFINE_integer("profile_batch", 16, "Batch of --profile.")
flags.DEFINE_string("section", "results", "Name of the marked section of --markdown to "
                    "replace.")


def main(argv):
    del argv
    from benchmarks import full_settings, quick_settings, run_suite, write_json, write_markdown

    if FLAGS.from_json:
        from benchmarks import derive
        from keras_resnet.io import read_json

        if not os.path.isfile(FLAGS.from_json):
            raise FileNotFoundError(f"--from_json={FLAGS.from_json!r} is not a file.")
        report = derive(read_json(FLAGS.from_json, "Pass a report written by "
                                  "scripts/benchmark.py --json.", required=("results",)))
        write_markdown(report, FLAGS.markdown, command=report.get("command"),
                       section=FLAGS.section)
        print(f"Wrote {FLAGS.markdown}")
        return 0
    if FLAGS.profile:
        return _profile(FLAGS.profile)
    from benchmarks.backend import accelerators, backend

    settings = (quick_settings if FLAGS.quick else full_settings)(len(accelerators()),
                                                                  backend())
    if FLAGS.batches:
        settings.batches = tuple(cli.int_list("batches", FLAGS.batches))
    if FLAGS.measure:
        settings.measure = tuple(FLAGS.measure)
    if FLAGS.models:
        settings = settings.only(FLAGS.models)
    for name in ("repeats", "latency_repeats", "train_steps", "train_batch",
                 "pair_repeats", "training_pair_repeats"):
        if getattr(FLAGS, name) is not None:
            setattr(settings, name, getattr(FLAGS, name))
    settings.__post_init__()
    # Results so far go to --json after each task (as {"partial": true, ...}), so a run
    # stopped midway keeps them; the full report replaces that file at the end.
    report = run_suite(settings, work_dir=FLAGS.work_dir, log=lambda m: print(m, flush=True),
                       on_result=lambda results: write_json(
                           {"partial": True, "results": results}, FLAGS.json))
    report["command"] = " ".join(["scripts/benchmark.py"] + sys.argv[1:])
    write_json(report, FLAGS.json)
    write_markdown(report, FLAGS.markdown, command=report["command"], section=FLAGS.section)
    print(f"Wrote {FLAGS.json} and {FLAGS.markdown}")
    failed = [r for r in report["results"] if "error" in r]
    return 1 if failed else 0


def _profile(models):
    """Profiles each model's training step in its own subprocess and prints the table."""
    import tempfile

    from benchmarks import models as models_lib
    from benchmarks import run_task, write_json
    from benchmarks.tasks.profile import profile_table

    for model in models:
        models_lib.check_model(model)
    with tempfile.TemporaryDirectory() as work_dir:
        profiles = [result for model in models for result in run_task(
            "profile_training", {"model": model, "batch": FLAGS.profile_batch}, work_dir,
            timeout_s=900)]
    failed = [p for p in profiles if "error" in p]
    if failed:
        return 1
    print(profile_table(profiles))
    write_json(profiles, FLAGS.json)
    print(f"Wrote {FLAGS.json}")
    return 0


if __name__ == "__main__":
    cli.run(main)
