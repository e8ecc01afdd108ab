"""ONNX Runtime static int8 quantization (QDQ format, per-channel weights), the int8
path for CPUs where dynamic quantization is slow, and the top-1 agreement of quantized
models with their float originals."""

import numpy as np

# The writer lives in the library (the onnx_int8 export); the benchmark's name for it.
from keras_resnet.export.onnx_export import quantize_static as quantize_onnx_static  # noqa: F401


def top1_agreement(reference, candidate):
    """Share of rows whose argmax agrees between two (N, classes) arrays."""
    reference, candidate = np.asarray(reference), np.asarray(candidate)
    if reference.shape != candidate.shape:
        raise ValueError(f"Shapes differ: reference {reference.shape}, "
                         f"candidate {candidate.shape}.")
    return float(np.mean(reference.argmax(-1) == candidate.argmax(-1)))
