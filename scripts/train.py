"""Train a keras_resnet model and test it on the held-out split.

    python scripts/train.py                      # ResNet-20 on the embedded digits data
    python scripts/train.py --recipe=cifar --model=resnet110 --dataset=cifar10
    python scripts/train.py --recipe=imagenet --dataset=tfrecord:/data/train-* \
        --label_offset=1 --strategy=mirrored --mixed_precision=float16
    python scripts/train.py --study=degradation  # plain vs residual (paper Fig. 6)

Every `TrainConfig` setting is a flag (keras_resnet.training.flags); unset flags take
the recipe's value. Re-running the same command resumes an interrupted run (other
run-defining settings are refused; `--restart` starts the folder over). The last
line printed is `test accuracy: 0.xxxx`. An error is one line on stderr, with exit
status 2 for bad input and 1 for a failure while training (keras_resnet.cli).
"""

import os
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402

from keras_resnet import cli  # noqa: E402
from keras_resnet.training import flags as training_flags  # noqa: E402

FLAGS = flags.FLAGS
training_flags.define_flags()
flags.DEFINE_multi_string("model_option", [], "Builder option key=value (repeatable).")
flags.DEFINE_enum("study", None, ["degradation"], "Run a study instead of one training run.")
flags.DEFINE_string("study_depths", "20,56", "Depths of the degradation study.")


def main(argv):
    del argv
    from keras_resnet import training
    from keras_resnet.training import study

    overrides = training_flags.overrides()
    overrides["model_options"] = training_flags.parse_model_options(FLAGS.model_option)
    recipe = overrides.pop("recipe", "digits")
    if FLAGS.study == "degradation":
        depths = cli.int_list("study_depths", FLAGS.study_depths)
        result = study.degradation_study(
            depths=depths, output_dir=overrides.pop("output_dir", "runs/degradation"),
            recipe=recipe, **overrides)
        print(f"curves: {result['png']}")
        for name, accuracy in result["test_accuracy"].items():
            print(f"{name} test accuracy: {accuracy:.4f}")
        return
    config = training.build_config(recipe, **overrides)
    if FLAGS.output_dir is None:
        config.output_dir = os.path.join(
            "runs", re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{config.model}_{config.dataset}"))
    result = training.train_and_evaluate(config)
    print(f"outputs: {result['output_dir']}")
    if "export_dir" in result:
        print(f"exported: {result['export_dir']}")
    print(f"test accuracy: {result['test_accuracy']:.4f}")


if __name__ == "__main__":
    cli.run(main)
