"""Inference tasks: one runtime on one model at each batch size, and two (model,
runtime) arms called in turn in one process."""

import numpy as np

from benchmarks import backend as backend_lib
from benchmarks import models as models_lib
from benchmarks import runtimes, timing


def _images(model, batch, rng):
    size = models_lib.input_size(model)
    return rng.standard_normal((batch, size, size, 3)).astype(np.float32)


def inference(model, runtime, *, batches, latency_repeats, repeats, artifact=None):
    """Inference speed of one runtime on one model at each batch size (ascending, so each
    peak RSS figure is the high-water mark up to and including that batch).

    Args:
        model: str. A key of `models.MODELS`.
        runtime: str. One of `runtimes.INFERENCE_RUNTIMES`.
        batches: list of int. Batch sizes.
        latency_repeats: int. Timed calls at batch 1 (p50/p90 latency).
        repeats: int. Timed calls at larger batches.
        artifact: str or None. Exported file/folder for `runtimes.EXPORTED_RUNTIMES`.
            Defaults to None.
    """
    predict = runtimes.predictor(model, runtime, artifact)
    rng = np.random.default_rng(0)
    results = []
    for batch in sorted(batches):
        x = _images(model, batch, rng)
        count = latency_repeats if batch == 1 else repeats
        # Two untimed calls: tracing/compilation, then allocator and thread-pool warm-up.
        stats = timing.time_calls(lambda x=x: predict(x), batch=batch, warmup=2,
                                  repeats=count)
        results.append({"kind": "inference", "model": model, "runtime": runtime, **stats,
                        "precision": runtimes.precision(runtime, predict),
                        **backend_lib.device_memory()})
    return results


def paired_inference(arms, *, batches, repeats):
    """Two (model, runtime) arms timed alternately in one process, call by call, so that
    load from other processes falls on both alike; the ratio is taken per adjacent pair
    of calls and its median reported. This is the steady comparison on a shared machine.

    Args:
        arms: list of two [model, runtime, artifact-or-None]: the candidate, then the
            reference.
        batches: list of int. Batch sizes.
        repeats: int. Timed pairs per batch size.
    """
    (model, runtime, artifact), (ref_model, ref_runtime, ref_artifact) = arms
    predict = runtimes.predictor(model, runtime, artifact)
    reference = runtimes.predictor(ref_model, ref_runtime, ref_artifact)
    rng = np.random.default_rng(0)
    results = []
    for batch in sorted(batches):
        x = _images(model, batch, rng)
        for _ in range(2):
            predict(x)
            reference(x)
        ours, theirs = timing.alternate(lambda x=x: predict(x), lambda x=x: reference(x),
                                        repeats)
        results.append({
            "kind": "paired_inference", "model": model, "runtime": runtime,
            "reference_model": ref_model, "reference_runtime": ref_runtime,
            "batch": batch, "repeats": repeats, **timing.pair_summary(ours, theirs, batch),
            "precision": runtimes.precision(runtime, predict),
            "reference_precision": runtimes.precision(ref_runtime, reference)})
    return results
