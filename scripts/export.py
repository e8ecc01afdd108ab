"""Exports a keras_resnet model to SavedModel, TFLite (LiteRT), ONNX and OpenVINO IR, with parity
checked in each runtime; or re-verifies an export folder.

    scripts/export.py --model=runs/resnet20/model.keras --format=all
    scripts/export.py --model=resnet50 --weights=resnet50.pth --format=onnx --opset=17
    scripts/export.py verify --export_dir=saved_models/resnet20

An error is one line on stderr, with exit status 2 for bad input (flags, the model
file, the destination, calibration images, an unreadable manifest) and 1 for a failure
(parity, verify finding a changed file, a missing runtime); see keras_resnet.cli.
"""

import json
import logging as std_logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

from keras_resnet import cli  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "A .keras file, or a registered model name "
                    "(keras_resnet.list_models()).")
flags.DEFINE_string("weights", None, "Weights for a registered model name: a tag "
                    "(keras_resnet.list_weights), a file or an hf:// address.")
flags.DEFINE_string("format", "all", "savedmodel, tflite, onnx, onnx_int8 (static QDQ "
                    "int8), openvino, openvino_int8, all, or a comma list.")
flags.DEFINE_string("output_dir", None, "Export folder. Default saved_models/<model_name>.")
flags.DEFINE_string("model_name", None, "Name recorded in the manifest. Default: model.name.")
flags.DEFINE_bool("overwrite", False, "Replace an existing export folder.")
flags.DEFINE_list("tflite_modes", ["float32", "float16", "dynamic_int8", "int8"],
                  "TFLite modes: float32, float16, dynamic_int8, int8.")
flags.DEFINE_enum("int8_io", "float", ["float", "int8", "uint8"],
                  "Input/output type of the full-integer int8 TFLite model.")
flags.DEFINE_integer("opset", None, "ONNX opset. Default 17.")
flags.DEFINE_bool("uint8_input", False, "Add raw-pixel artifacts (uint8 RGB NHWC in, "
                  "preprocessing in the graph): SavedModel 'serving_uint8', TFLite float32 "
                  "and int8, ONNX, OpenVINO float32 and int8 (*_uint8).")
flags.DEFINE_enum("onnx_layout", "nhwc", ["nhwc", "nchw"], "Input layout of the ONNX files "
                  "and the OpenVINO IRs converted from them (nchw: TensorRT, OpenCV DNN).")
flags.DEFINE_string("preprocessing", None, "torch, caffe or tf. Default: the --weights' "
                    "(keras_resnet.weights.preprocessing_for), else the registered variant's, "
                    "else none (needed by --uint8_input and --representative_dir).")
flags.DEFINE_string("representative_dir", None, "Folder of images for int8 calibration "
                    "(TFLite int8, onnx_int8) and parity.")
flags.DEFINE_integer("calibration_samples", 100, "Images read from --representative_dir.")
flags.DEFINE_string("class_names", None, "Text file with one class name per line.")
flags.DEFINE_integer("input_size", None, "Input height = width for a registered name.")
flags.DEFINE_integer("classes", None, "Number of classes for a registered name.")
flags.DEFINE_string("export_dir", None, "verify: the export folder to re-check.")
flags.DEFINE_string("manifest_sha256", None, "verify: the manifest.json sha256 printed at "
                    "export time; verify fails if the manifest is not that one.")


def _export():
    import keras_resnet
    from keras_resnet import export

    if not FLAGS.model:
        raise app.UsageError("--model is required (a .keras file or a registered name).")
    formats = export.check_formats(FLAGS.format)
    overrides = {}
    if FLAGS.input_size:
        overrides["input_shape"] = (FLAGS.input_size, FLAGS.input_size, 3)
    if FLAGS.classes:
        overrides["classes"] = FLAGS.classes
    model = export.load_model(FLAGS.model, weights=FLAGS.weights, **overrides)
    preprocessing = FLAGS.preprocessing
    if preprocessing is None and FLAGS.model in keras_resnet.list_models():
        preprocessing = keras_resnet.weights.preprocessing_for(FLAGS.weights, FLAGS.model)
    preprocessing = export.resolve_preprocessing(preprocessing)
    representative = None
    if FLAGS.representative_dir:
        representative = export.load_images(
            FLAGS.representative_dir, size=tuple(model.inputs[0].shape[1:3]),
            preprocessing=preprocessing, limit=FLAGS.calibration_samples)
    class_names = None
    if FLAGS.class_names:
        if not os.path.isfile(FLAGS.class_names):
            raise FileNotFoundError(f"--class_names={FLAGS.class_names!r} is not a file "
                                    "(expected one class name per line).")
        with open(FLAGS.class_names) as f:
            class_names = [line.strip() for line in f if line.strip()]
    manifest = export.export_model(
        model, output_dir=FLAGS.output_dir, model_name=FLAGS.model_name, formats=formats,
        tflite_modes=FLAGS.tflite_modes, representative_data=representative,
        class_names=class_names, preprocessing=preprocessing, overwrite=FLAGS.overwrite,
        uint8_input=FLAGS.uint8_input, int8_io=FLAGS.int8_io, opset=FLAGS.opset,
        onnx_layout=FLAGS.onnx_layout)
    for key, figures in manifest["parity"]["results"].items():
        print(f"{key:22s} max_abs={figures['max_abs']:.3g} max_rel={figures['max_rel']:.3g} "
              f"top1_agreement={figures['top1_agreement']:.3f}")
    for key, artifact in manifest["artifacts"].items():
        print(f"{key:22s} {artifact['path']:28s} {artifact['size']:>12,d} B "
              f"{artifact['export_seconds']:.1f} s")
    print(f"Exported to {manifest['export_dir']}")
    print(f"manifest.json sha256 {manifest['manifest_sha256']} (keep it elsewhere; "
          "verify --manifest_sha256=... then proves the manifest unchanged)")


def _verify():
    from keras_resnet import export

    if not FLAGS.export_dir:
        raise app.UsageError("verify needs --export_dir.")
    report = export.verify(FLAGS.export_dir, manifest_sha256=FLAGS.manifest_sha256)
    print(json.dumps(report, indent=2))
    pinned = " (the pinned one)" if FLAGS.manifest_sha256 else ""
    print(f"OK: {report['files_checked']} files match the manifest; parity holds. "
          f"manifest.json sha256 {report['manifest_sha256']}{pinned}.")


def main(argv):
    std_logging.getLogger("keras_resnet").setLevel(std_logging.INFO)
    command = argv[1:]
    if command not in ([], ["export"], ["verify"]):
        raise app.UsageError(f"Unknown command {' '.join(command)!r}; use 'verify' or none.")
    _verify() if command == ["verify"] else _export()


if __name__ == "__main__":
    cli.run(main)
