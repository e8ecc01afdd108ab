"""Export: SavedModel, TFLite (LiteRT), ONNX and OpenVINO IR artifacts, each reloaded in
its own runtime and compared with the Keras model, published atomically with a manifest.

    from keras_resnet.export import export_model, verify
    manifest = export_model(model, output_dir="saved_models/resnet20",
                            parity_data=x_val, representative_data=x_train[:100])
    verify("saved_models/resnet20")

See docs/export.md.
"""

from keras_resnet.export.exporter import FORMATS, check_formats, export_model
from keras_resnet.export.parity import DEFAULT_TOLERANCES, ParityError
from keras_resnet.export.publish import clean_stale
from keras_resnet.export.source import load_images, load_model, resolve_preprocessing
from keras_resnet.export.tflite import INT8_IO
from keras_resnet.export.tflite import MODES as TFLITE_MODES
from keras_resnet.export.verify import VerificationError, verify

__all__ = [
    "DEFAULT_TOLERANCES", "FORMATS", "INT8_IO", "TFLITE_MODES", "ParityError",
    "VerificationError", "check_formats", "clean_stale", "export_model", "load_images",
    "load_model", "resolve_preprocessing", "verify",
]
