"""Timing and memory primitives: warm-up excluded, repeated, median and spread."""

import os
import resource
import statistics
import time


def peak_rss_mb():
    """High-water resident memory of this process so far, in MiB (Linux ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_count():
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def summarize(seconds, batch):
    """Statistics of repeated timings of one call that processes `batch` images.

    Args:
        seconds: list of float. Duration of each timed repetition (warm-up excluded).
        batch: int. Images per repetition.

    Returns:
        dict: "repeats", "batch", "median_ms", "p50_ms", "p90_ms", "min_ms", "max_ms",
        "img_per_s" (batch / median), "img_per_s_min"/"img_per_s_max" (the spread),
        "spread_pct" ((max - min) / median, in percent).
    """
    if not seconds:
        raise ValueError("summarize needs at least one timing; received none.")
    ordered = sorted(seconds)
    median = statistics.median(ordered)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return {
        "repeats": len(ordered), "batch": int(batch),
        "median_ms": 1e3 * median, "p50_ms": 1e3 * median, "p90_ms": 1e3 * p90,
        "min_ms": 1e3 * ordered[0], "max_ms": 1e3 * ordered[-1],
        "img_per_s": batch / median,
        "img_per_s_min": batch / ordered[-1], "img_per_s_max": batch / ordered[0],
        "spread_pct": 100.0 * (ordered[-1] - ordered[0]) / median,
    }


def time_calls(fn, *, batch, warmup=1, repeats=5):
    """Calls `fn()` `warmup` times untimed, then `repeats` times timed.

    `fn` must block until its result is ready (e.g. convert to NumPy).

    Returns:
        `summarize`'s dict plus "peak_rss_mb" of the process after the calls.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1; received repeats={repeats!r}.")
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return {**summarize(seconds, batch), "peak_rss_mb": peak_rss_mb()}


def alternate(first, second, repeats):
    """Times `first()` and `second()` in turn, `repeats` pairs, alternating which goes
    first so neither always follows the other (load from other processes then falls on
    both alike).

    Returns:
        (list of float, list of float): the seconds of each call of `first`, of `second`.
    """
    seconds = ([], [])
    calls = (first, second)
    for index in range(repeats):
        for arm in ((0, 1) if index % 2 == 0 else (1, 0)):
            start = time.perf_counter()
            calls[arm]()
            seconds[arm].append(time.perf_counter() - start)
    return seconds


def pair_summary(ours, theirs, batch):
    """img/s of both arms and the median, min and max of the per-pair ratios, from the
    seconds of each timed call (in pairs, in order; see `alternate`)."""
    ratios = sorted(t / o for o, t in zip(ours, theirs))
    return {"img_per_s": summarize(ours, batch)["img_per_s"],
            "reference_img_per_s": summarize(theirs, batch)["img_per_s"],
            "ratio": statistics.median(ratios), "ratio_min": ratios[0],
            "ratio_max": ratios[-1], "peak_rss_mb": peak_rss_mb()}
