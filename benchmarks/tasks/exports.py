"""Export tasks: write a model's artifacts for the exported runtimes, and check how
often int8 models agree with their float32 original on real images."""

import numpy as np

from benchmarks import artifacts, quantization, timing
from benchmarks import models as models_lib
from benchmarks import runtimes as runtimes_lib


def export(model, folder, runtimes, *, calibration_samples):
    """Exports `model` for `runtimes` into `folder` (see `artifacts.export_all`)."""
    net = models_lib.build(model)
    calibration = artifacts.calibration_images(models_lib.input_size(model),
                                               calibration_samples)
    written = artifacts.export_all(net, folder, runtimes, calibration=calibration)
    macs = models_lib.macs_per_image(net)
    return [{"kind": "export", "model": model, "runtime": runtime, "macs": macs, **info,
             "peak_rss_mb": timing.peak_rss_mb()} for runtime, info in written.items()]


# The runtimes whose agreement with float32 `int8_agreement` checks.
AGREEMENT_RUNTIMES = ("litert_float32", "litert_float16", "litert_dynamic_int8",
                      "litert_int8", "onnxruntime", "onnxruntime_int8")


def int8_agreement(folder, *, epochs, calibration_samples=100):
    """Top-1 agreement of int8 models with their float32 original, on real images: a
    ResNet-20 trained briefly on scikit-learn digits (upsampled to 32x32), evaluated on
    the held-out digits, exported to LiteRT int8 / dynamic_int8 / float16 and ONNX QDQ
    int8.

    Args:
        folder: str. Where the artifacts are written.
        epochs: int. Training epochs.
        calibration_samples: int. Training images used for calibration. Defaults to 100.
    """
    import keras
    import tensorflow as tf

    import keras_resnet
    from keras_resnet.data import digits_arrays

    def prepare(images):
        x = tf.image.resize(tf.cast(images, tf.float32), (32, 32)).numpy()
        return (np.repeat(x, 3, axis=-1) - 127.5) / 64.0

    splits = digits_arrays()
    x_train, y_train = prepare(splits["train"][0]), splits["train"][1]
    x_eval, y_eval = prepare(splits["eval"][0]), splits["eval"][1]
    keras.utils.set_random_seed(0)
    net = keras_resnet.create_model("resnet20", classes=10)
    net.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=False)
    net.fit(x_train, y_train, batch_size=64, epochs=epochs, verbose=0)
    reference = net.predict(x_eval, batch_size=128, verbose=0)
    written = artifacts.export_all(net, folder, AGREEMENT_RUNTIMES,
                                   calibration=x_train[:calibration_samples])
    results = []
    for runtime in AGREEMENT_RUNTIMES:
        predict = runtimes_lib.predictor("resnet20", runtime, written[runtime]["path"])
        output = np.concatenate([predict(x_eval[i:i + 1]) for i in range(len(x_eval))])
        results.append({
            "kind": "quantization", "model": "resnet20_digits", "runtime": runtime,
            "eval_images": len(x_eval),
            "top1_agreement": quantization.top1_agreement(reference, output),
            "accuracy": float(np.mean(output.argmax(-1) == y_eval)),
            "float_accuracy": float(np.mean(reference.argmax(-1) == y_eval)),
            "size_mb": written[runtime]["size_mb"], "peak_rss_mb": timing.peak_rss_mb()})
    return results
