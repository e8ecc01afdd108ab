"""ONNX Runtime static int8 quantization (QDQ format, per-channel weights), the int8
path for CPUs where dynamic quantization is slow, and the top-1 agreement of quantized
models with their float originals."""

import numpy as np


def quantize_onnx_static(source, destination, calibration, *, per_channel=True):
    """Writes a QDQ int8 copy of the ONNX model `source` at `destination`.

    Activations are uint8 (asymmetric), weights int8 per output channel, calibrated with
    min/max over `calibration`.

    Args:
        source: str. Float32 ONNX file with a single input.
        destination: str. The .onnx file to write.
        calibration: float32 array (N, H, W, C). Calibration samples.
        per_channel: bool. Per-output-channel weight scales. Defaults to True.
    """
    import onnx
    from onnxruntime import quantization as ortq

    (input_name,) = [i.name for i in onnx.load(source).graph.input]
    samples = np.asarray(calibration, np.float32)

    class Reader(ortq.CalibrationDataReader):
        def __init__(self):
            self._items = iter(samples[i:i + 1] for i in range(len(samples)))

        def get_next(self):
            batch = next(self._items, None)
            return None if batch is None else {input_name: batch}

    ortq.quantize_static(source, destination, Reader(), quant_format=ortq.QuantFormat.QDQ,
                         per_channel=per_channel, activation_type=ortq.QuantType.QUInt8,
                         weight_type=ortq.QuantType.QInt8,
                         calibrate_method=ortq.CalibrationMethod.MinMax)


def top1_agreement(reference, candidate):
    """Share of rows whose argmax agrees between two (N, classes) arrays."""
    reference, candidate = np.asarray(reference), np.asarray(candidate)
    if reference.shape != candidate.shape:
        raise ValueError(f"Shapes differ: reference {reference.shape}, "
                         f"candidate {candidate.shape}.")
    return float(np.mean(reference.argmax(-1) == candidate.argmax(-1)))
