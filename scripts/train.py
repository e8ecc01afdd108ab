"""Train a keras_resnet model and test it on the held-out split.

    python scripts/train.py                      # ResNet-20 on the embedded digits data
    python scripts/train.py --recipe=cifar --model=resnet110 --dataset=cifar10
    python scripts/train.py --recipe=imagenet --dataset=tfrecord:/data/train-* \
        --label_offset=1 --strategy=mirrored --mixed_precision=float16
    python scripts/train.py --study=degradation  # plain vs residual (paper Fig. 6)

Re-running the same command resumes an interrupted run. The last line printed is
`test accuracy: 0.xxxx`.
"""

import os
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("recipe", "digits", "Recipe: digits, imagenet, cifar, cifar_cosine.")
flags.DEFINE_string("model", None, "Registered model name (default: the recipe's).")
flags.DEFINE_string("dataset", None, "digits, a tfds name, folder:PATH or tfrecord:GLOB.")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory.")
flags.DEFINE_string("eval_dataset", None, "Held-out TFRecord glob (default: train->validation).")
flags.DEFINE_integer("label_offset", None, "Subtracted from TFRecord labels (1 for Model Garden ImageNet).")
flags.DEFINE_integer("num_classes", None, "Classes of a TFRecord dataset (default: scan labels).")
flags.DEFINE_string("strategy", None, "auto, mirrored, multi_worker, tpu or one_device.")
flags.DEFINE_integer("cpu_devices", None, "Split the CPU into N logical devices.")
flags.DEFINE_float("collective_timeout", None,
                   "multi_worker: seconds a collective op waits for its peers "
                   "(default 300, 0 = no limit).")
flags.DEFINE_integer("epochs", None, "Epochs (default: the recipe's).")
flags.DEFINE_integer("batch_size", None, "Per-replica batch size.")
flags.DEFINE_float("learning_rate", None, "Learning rate at the recipe's base batch size.")
flags.DEFINE_boolean("scale_lr", None, "Scale the learning rate linearly with the global batch.")
flags.DEFINE_float("momentum", None, "SGD momentum.")
flags.DEFINE_float("label_smoothing", None, "Label smoothing.")
flags.DEFINE_float("weight_decay", None, "Weight decay coefficient (paper: 1e-4).")
flags.DEFINE_enum("weight_decay_mode", None, ["l2", "decoupled"],
                  "l2: L2(wd/2) on conv/dense kernels (paper); decoupled: optimizer decay.")
flags.DEFINE_string("schedule", None, "step, cosine, plateau or constant.")
flags.DEFINE_float("warmup_epochs", None, "Linear warmup epochs.")
flags.DEFINE_string("augment", None, "imagenet, cifar, shift or none.")
flags.DEFINE_integer("image_size", None, "Model input side.")
flags.DEFINE_string("mixed_precision", None, "float32, float16 or bfloat16.")
flags.DEFINE_boolean("jit_compile", None, "XLA compilation (not with several devices "
                     "in one process: Keras cannot compile a replicated step).")
flags.DEFINE_integer("steps_per_execution", None, "Steps per tf.function call.")
flags.DEFINE_integer("max_steps_per_epoch", None, "Cap on steps per epoch (quick runs).")
flags.DEFINE_string("output_dir", None, "Run directory (default: runs/<model>_<dataset>).")
flags.DEFINE_boolean("export", False, "Export the trained model (keras_resnet.export).")
flags.DEFINE_string("export_dir", None, "Export directory (default: saved_models/<model>).")
flags.DEFINE_integer("seed", None, "Random seed.")
flags.DEFINE_boolean("deterministic", None, "Deterministic ops and input order.")
flags.DEFINE_multi_string("model_option", [], "Builder option key=value (repeatable).")
flags.DEFINE_string("verbose", "auto", "Keras fit verbosity: auto, 0, 1 or 2.")
flags.DEFINE_enum("study", None, ["degradation"], "Run a study instead of one training run.")
flags.DEFINE_string("study_depths", "20,56", "Depths of the degradation study.")


def _parse_options(pairs):
    import ast

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--model_option={pair!r} must look like key=value.")
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = value
    return options


def main(argv):
    del argv
    from keras_resnet import training
    from keras_resnet.training import study

    verbose = int(FLAGS.verbose) if FLAGS.verbose.isdigit() else FLAGS.verbose
    overrides = {name: FLAGS[name].value for name in (
        "model", "dataset", "data_dir", "eval_dataset", "label_offset", "num_classes",
        "strategy", "cpu_devices", "collective_timeout", "epochs", "batch_size", "learning_rate",
        "scale_lr", "momentum", "label_smoothing", "weight_decay", "weight_decay_mode", "schedule",
        "warmup_epochs", "augment", "image_size", "mixed_precision", "jit_compile",
        "steps_per_execution", "max_steps_per_epoch", "export_dir", "seed", "deterministic")}
    overrides.update(export=FLAGS.export, verbose=verbose, output_dir=FLAGS.output_dir,
                     model_options=_parse_options(FLAGS.model_option))
    if FLAGS.study == "degradation":
        depths = [int(d) for d in FLAGS.study_depths.split(",")]
        overrides.pop("model")
        overrides.pop("output_dir")
        result = study.degradation_study(
            depths=depths, output_dir=FLAGS.output_dir or "runs/degradation",
            recipe=FLAGS.recipe, **overrides)
        print(f"curves: {result['png']}")
        for name, accuracy in result["test_accuracy"].items():
            print(f"{name} test accuracy: {accuracy:.4f}")
        return
    config = training.build_config(FLAGS.recipe, **overrides)
    if FLAGS.output_dir is None:
        config.output_dir = os.path.join(
            "runs", re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{config.model}_{config.dataset}"))
    try:
        result = training.train_and_evaluate(config)
    except (training.TrainingDiverged, training.CheckpointWriteError,
            training.WorkerLost) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"outputs: {result['output_dir']}")
    if "export_dir" in result:
        print(f"exported: {result['export_dir']}")
    print(f"test accuracy: {result['test_accuracy']:.4f}")


if __name__ == "__main__":
    app.run(main)
