"""ONNX Runtime static int8 quantization (QDQ format, per-channel weights), the int8
path for CPUs where dynamic quantization is slow, and the top-1 agreement of quantized
models with their float originals."""

import numpy as np


def quantize_onnx_static(source, path, calibration, **kwargs):
    """The library's writer (the onnx_int8 export), under the benchmark's name; imported
    on call, because keras_resnet.export needs TensorFlow and the benchmark also runs
    under KERAS_BACKEND=jax/torch without it."""
    from keras_resnet.export.onnx_export import quantize_static

    return quantize_static(source, path, calibration, **kwargs)


def top1_agreement(reference, candidate):
    """Share of rows whose argmax agrees between two (N, classes) arrays."""
    reference, candidate = np.asarray(reference), np.asarray(candidate)
    if reference.shape != candidate.shape:
        raise ValueError(f"Shapes differ: reference {reference.shape}, "
                         f"candidate {candidate.shape}.")
    return float(np.mean(reference.argmax(-1) == candidate.argmax(-1)))
