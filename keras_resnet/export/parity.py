"""Parity between an exported artifact's outputs and the Keras model's outputs.

Figures, over one batch (the "parity batch"):
- `max_abs`: max |y - y_ref| over every output element.
- `max_rel`: `max_abs / max |y_ref|`, i.e. relative to the output's scale. An
  element-wise relative error is meaningless for softmax outputs, where most
  probabilities are near 0.
- `top1_agreement`: share of rows (argmax over the last axis) where the artifact's
  score for the reference's top-1 class equals the artifact's own maximum. Ties count
  as agreement: a full-integer model with int8 outputs quantizes softmax scores to
  1/256 steps, and a tie with the right class is not a wrong answer.

Default tolerances (`DEFAULT_TOLERANCES`), checked per precision:
- float32 artifacts (SavedModel, TFLite float32, ONNX): `max_rel <= 1e-3`. Only the
  kernels' summation order differs: a trained ResNet-20 measured 1e-7. An untrained
  ResNet-50 at 224 reached 7.5e-5: with BN statistics at their initial values its
  logits are huge and softmax amplifies rounding. Real defects (wrong weights, layout
  or preprocessing) give errors of order 0.1-1.
- float16 weights: `max_rel <= 5e-2` (a half-precision mantissa holds ~3 decimal
  digits; trained ResNet-20 measured 5e-5, untrained ResNet-50 6.7e-3).
- bfloat16 compute (OpenVINO's default on CPUs with AVX512_BF16 or AMX): `max_rel <=
  1e-1` and `top1_agreement >= 0.9`. Every activation, not only the weights, keeps 8
  mantissa bits (~2-3 decimal digits), and the error grows with depth: the ResNet-20
  trained one epoch on digits measured max_rel 3.5e-2 (top-1 32/32), the 15-epoch
  `make run` model 2.4e-3, a tiny untrained net 1.8e-3. The top-1 gate catches what
  the looser max_rel lets through.
- dynamic-range int8 and full-integer int8: `top1_agreement >= 0.9`. Quantization
  error is large element-wise, so only the decision is checked. The digits-trained
  ResNet-20 of `make run` agrees on 32/32 images in both int8 modes; 0.9 leaves room
  for small parity batches (one row of 16 is 6%), while a broken calibration (wrong
  ranges, wrong preprocessing) falls toward chance (1/classes). On an untrained model
  top-1 is decided by noise (untrained ResNet-50: 0.375 and 0.625 on 16 noise images):
  pass lower thresholds explicitly there.
- int8_static (the calibrated QDQ ONNX models `model_int8.onnx` and
  `model_int8_uint8.onnx`, and the OpenVINO IRs `model_int8.xml` and
  `model_int8_uint8.xml`): `top1_agreement >= 0.99`, the gate a deployable int8 server
  artifact must hold on real held-out images of a trained model.
"""

import numpy as np

FLOAT32 = "float32"
FLOAT16 = "float16"
BFLOAT16 = "bfloat16"
INT8 = "int8"
INT8_STATIC = "int8_static"

DEFAULT_TOLERANCES = {
    FLOAT32: {"max_rel": 1e-3},
    FLOAT16: {"max_rel": 5e-2},
    BFLOAT16: {"max_rel": 1e-1, "min_top1_agreement": 0.9},
    INT8: {"min_top1_agreement": 0.9},
    INT8_STATIC: {"min_top1_agreement": 0.99},
}


class ParityError(RuntimeError):
    """An artifact's outputs differ from the Keras model's beyond tolerance."""


def resolve_tolerances(tolerances=None):
    """`DEFAULT_TOLERANCES` with the entries of `tolerances` merged over them.

    Args:
        tolerances: dict or None. {precision: {"max_rel": float,
            "min_top1_agreement": float}} for precision in "float32", "float16",
            "int8". Defaults to None (the defaults).
    """
    merged = {key: dict(value) for key, value in DEFAULT_TOLERANCES.items()}
    for precision, limits in (tolerances or {}).items():
        if precision not in merged:
            raise ValueError(f"Unknown precision in tolerances: {precision!r}. "
                             f"Allowed values: {sorted(merged)}.")
        unknown = set(limits) - {"max_rel", "min_top1_agreement"}
        if unknown:
            raise ValueError(f"Unknown tolerance keys for {precision!r}: {sorted(unknown)}. "
                             "Allowed keys: ['max_rel', 'min_top1_agreement'].")
        merged[precision].update({k: float(v) for k, v in limits.items()})
    return merged


def compare(reference, candidate):
    """Parity figures of `candidate` against `reference` (see module docstring).

    Args:
        reference: array. The Keras model's outputs, (batch, ..., classes).
        candidate: array. The artifact's outputs, same shape.

    Returns:
        dict with float "max_abs", "max_rel", "top1_agreement" and int "samples".
    """
    reference = np.asarray(reference, np.float64)
    candidate = np.asarray(candidate, np.float64)
    if reference.shape != candidate.shape:
        raise ParityError(f"Output shape {candidate.shape} differs from the Keras model's "
                          f"{reference.shape}.")
    max_abs = float(np.max(np.abs(candidate - reference))) if reference.size else 0.0
    scale = float(np.max(np.abs(reference))) if reference.size else 0.0
    ref_top = np.argmax(reference, axis=-1)
    cand_at_ref = np.take_along_axis(candidate, ref_top[..., None], axis=-1)[..., 0]
    agree = cand_at_ref >= np.max(candidate, axis=-1)
    return {
        "max_abs": max_abs,
        "max_rel": max_abs / scale if scale > 0 else max_abs,
        "top1_agreement": float(np.mean(agree)) if agree.size else 1.0,
        "samples": int(reference.shape[0]),
    }


def check(name, figures, precision, tolerances):
    """Adds "precision", "tolerance" and "passed" to `figures`; returns a failure
    message or None.

    Args:
        name: str. The artifact, for the message.
        figures: dict. From `compare`, updated in place.
        precision: str. A key of `tolerances` ("float32", "float16", "bfloat16",
            "int8", "int8_static").
        tolerances: dict. From `resolve_tolerances`.
    """
    limits = tolerances[precision]
    failures = []
    if "max_rel" in limits and not figures["max_rel"] <= limits["max_rel"]:
        failures.append(f"max_rel={figures['max_rel']:.3g} > {limits['max_rel']:g}")
    if ("min_top1_agreement" in limits
            and not figures["top1_agreement"] >= limits["min_top1_agreement"]):
        failures.append(f"top1_agreement={figures['top1_agreement']:.3f} < "
                        f"{limits['min_top1_agreement']:g}")
    figures.update(precision=precision, tolerance=limits, passed=not failures)
    if failures:
        return (f"{name} ({precision}) fails parity with the Keras model: "
                f"{', '.join(failures)} (max_abs={figures['max_abs']:.3g}).")
    return None
