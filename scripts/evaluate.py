"""Top-1/top-5 of a trained model: center crop, 10-crop and multi-scale testing.

    python scripts/evaluate.py --model_path=runs/resnet20_digits/model.keras \
        --dataset=digits --image_size=32 --modes=center,ten_crop,multi_scale \
        --scales=32,40,48
    python scripts/evaluate.py --model=resnet50 --weights=torchvision_v2 \
        --dataset=folder:/data/imagenet/val --modes=center

With --weights (a tag, file or hf:// address), the preprocessing and the crop come from
the weights (`keras_resnet.weights.weights_row`: e.g. torchvision's V2 files resize
to 232 and crop 224). Without --image_size the crop is the weights' crop, else the
model's own input side, else, for a model that takes any size (trained and tested at
different sizes), the eval crop and resize its run recorded in the metrics.json beside
it (printed first: `model=... image_size=N preprocessing=...`).
An error is one line on stderr, exit status 2 for bad input (keras_resnet.cli).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from keras_resnet import cli  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model_path", None, "A .keras model file (or use --model).")
flags.DEFINE_string("model", None, "A registered model name, built with --weights.")
flags.DEFINE_string("weights", None, "Tag, file or hf:// address: sets the preprocessing "
                    "and crop; loaded into --model.")
flags.DEFINE_string("dataset", "digits", "digits, a tfds name, folder:PATH or tfrecord:GLOB.")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory.")
flags.DEFINE_integer("label_offset", 0, "Subtracted from TFRecord labels.")
flags.DEFINE_string("preprocessing", None, "torch, caffe or tf (default: the model's variant).")
flags.DEFINE_integer("image_size", None,
                     "Crop side. Default: the weights' crop, else the model's input size.")
flags.DEFINE_string("modes", "center,ten_crop,multi_scale", "Comma-separated modes.")
flags.DEFINE_string("scales", "224,256,384,480,640", "Shorter sides for multi_scale.")
flags.DEFINE_integer("max_examples", None, "Evaluate only the first N examples.")


def main(argv):
    del argv
    import keras_resnet
    from keras_resnet import data
    from keras_resnet.export import load_model
    from keras_resnet.training.evaluate import MODES, evaluate_model

    if bool(FLAGS.model_path) == bool(FLAGS.model):
        raise app.UsageError("Pass exactly one of --model_path (a .keras file) and --model "
                             "(a registered name, with --weights).")
    modes = FLAGS.modes.split(",")
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise app.UsageError(f"--modes={FLAGS.modes}: unknown {unknown}. Allowed: "
                             f"{list(MODES)}.")
    scales = cli.int_list("scales", FLAGS.scales)
    for name in ("image_size", "max_examples"):
        if FLAGS[name].value is not None and FLAGS[name].value < 1:
            raise app.UsageError(f"--{name}={FLAGS[name].value}: expected an integer >= 1 "
                                 "(or unset).")
    if FLAGS.model:
        model = keras_resnet.create_model(FLAGS.model, weights=FLAGS.weights)
    else:
        if not os.path.exists(FLAGS.model_path):
            raise FileNotFoundError(f"--model_path={FLAGS.model_path!r} does not exist.")
        model = load_model(FLAGS.model_path)  # a .keras file; one-line errors
    variant = FLAGS.model or model.name
    row = keras_resnet.weights.weights_row(FLAGS.weights, variant) if FLAGS.weights else None
    mode = FLAGS.preprocessing or (row.preprocessing if row else None)
    if mode is None:
        try:
            mode = keras_resnet.get_variant(variant).preprocessing
        except ValueError:
            raise app.UsageError(f"Model {variant!r} is not a registered variant, so its "
                                 "preprocessing is unknown: pass --preprocessing=torch, "
                                 "caffe or tf.") from None
    # The crop comes from the weights' row, else from the model's own input size, else
    # (a model that takes any size: a run trained and tested at different sizes) from
    # the run's metrics.json beside the model.
    image_size, resize = FLAGS.image_size, {}
    if row:
        image_size = image_size or row.crop
        resize = {"resize_side": row.resize * image_size // row.crop}
    elif not image_size:
        image_size = model.input_shape[1]
        if image_size is None and FLAGS.model_path:
            image_size, resize = _run_eval_size()
        image_size = image_size or 224  # a registered model built without an input size
    source = data.load_source(FLAGS.dataset, "eval", data_dir=FLAGS.data_dir,
                              label_offset=FLAGS.label_offset)
    print(f"model={variant} image_size={image_size} preprocessing={mode}")
    for name in modes:
        result = evaluate_model(model, source, normalization=data.Normalization.from_mode(mode),
                                mode=name, image_size=image_size, scales=scales,
                                channels=model.input_shape[-1], max_examples=FLAGS.max_examples,
                                **resize)
        print(f"{name}: top-1 {result['top1']:.4f} top-5 {result['top5']:.4f} "
              f"({result['examples']} images)")


def _run_eval_size():
    """(eval crop, {"resize_side": ...} or {}) recorded in the metrics.json of the run
    that wrote --model_path; a usage error when there is none."""
    from keras_resnet import io

    path = os.path.join(os.path.dirname(os.path.abspath(FLAGS.model_path)), "metrics.json")
    if not os.path.exists(path):
        raise app.UsageError("The model takes any image size and no metrics.json of its run "
                             "is beside it: pass --image_size.")
    run = io.read_json(path, "Pass --image_size instead.")
    size = run.get("eval_image_size") or run.get("image_size")
    if not isinstance(size, int) or size < 1:
        raise app.UsageError(f"{path} records no eval_image_size: pass --image_size.")
    resize = run.get("eval_resize_size")
    return size, ({"resize_side": resize} if isinstance(resize, int) else {})


if __name__ == "__main__":
    cli.run(main)
