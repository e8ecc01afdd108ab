"""The top-1 agreement of quantized models with their float originals. (The int8
models themselves are `export_model`'s: see `benchmarks.artifacts`.)"""

import numpy as np


def top1_agreement(reference, candidate):
    """Share of rows whose argmax agrees between two (N, classes) arrays."""
    reference, candidate = np.asarray(reference), np.asarray(candidate)
    if reference.shape != candidate.shape:
        raise ValueError(f"Shapes differ: reference {reference.shape}, "
                         f"candidate {candidate.shape}.")
    return float(np.mean(reference.argmax(-1) == candidate.argmax(-1)))
