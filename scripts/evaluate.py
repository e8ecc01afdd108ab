"""Top-1/top-5 of a trained model: center crop, 10-crop and multi-scale testing.

    python scripts/evaluate.py --model_path=runs/resnet20_digits/model.keras \
        --dataset=digits --image_size=32 --modes=center,ten_crop,multi_scale \
        --scales=32,40,48
    python scripts/evaluate.py --model=resnet50 --weights=torchvision_v2 \
        --dataset=folder:/data/imagenet/val --modes=center

With --weights (a tag, file or hf:// address), the preprocessing and the crop come from
the weights (`keras_resnet.weights.weights_row`: e.g. torchvision's V2 files resize
to 232 and crop 224).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

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
    import keras

    import keras_resnet
    import keras_resnet.training  # noqa: F401  (registers the schedule for loading)
    from keras_resnet import data
    from keras_resnet.training.evaluate import evaluate_model

    if bool(FLAGS.model_path) == bool(FLAGS.model):
        raise app.UsageError("Pass exactly one of --model_path (a .keras file) and --model "
                             "(a registered name, with --weights).")
    if FLAGS.model:
        model = keras_resnet.create_model(FLAGS.model, weights=FLAGS.weights)
    else:
        model = keras.saving.load_model(FLAGS.model_path)
    variant = FLAGS.model or model.name
    row = keras_resnet.weights.weights_row(FLAGS.weights, variant) if FLAGS.weights else None
    mode = FLAGS.preprocessing or (row.preprocessing if row else
                                   keras_resnet.get_variant(variant).preprocessing)
    # The crop comes from the weights' row, else from the model's own input size.
    image_size = FLAGS.image_size or (row.crop if row else model.input_shape[1] or 224)
    resize = {"resize_side": row.resize * image_size // row.crop} if row else {}
    source = data.load_source(FLAGS.dataset, "eval", data_dir=FLAGS.data_dir,
                              label_offset=FLAGS.label_offset)
    scales = [int(s) for s in FLAGS.scales.split(",")]
    for name in FLAGS.modes.split(","):
        result = evaluate_model(model, source, normalization=data.Normalization.from_mode(mode),
                                mode=name, image_size=image_size, scales=scales,
                                channels=model.input_shape[-1], max_examples=FLAGS.max_examples,
                                **resize)
        print(f"{name}: top-1 {result['top1']:.4f} top-5 {result['top5']:.4f} "
              f"({result['examples']} images)")


if __name__ == "__main__":
    app.run(main)
