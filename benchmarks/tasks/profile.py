"""Where a training step spends its time: TensorFlow's profiler over a few steps,
aggregated by op type (self time, as in TensorBoard's "framework op stats")."""

import collections
import glob
import json
import os
import tempfile

from benchmarks.tasks import training


def _framework_op_stats(logdir):
    """Rows of the profiler's framework_op_stats table for the trace in `logdir`."""
    # The profiler's own converter (what TensorBoard's profile plugin calls); internal,
    # but shipped with TensorFlow, so no extra package is needed.
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    paths = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    if len(paths) != 1:
        raise RuntimeError(f"Expected one profiler trace under {logdir}, found {paths}.")
    data, ok = plugin.xspace_to_tools_data(paths, "framework_op_stats", {})
    if not ok:
        raise RuntimeError(f"The profiler could not convert {paths[0]}.")
    table = json.loads(data)[0]
    columns = [column["id"] for column in table["cols"]]
    return [dict(zip(columns, [cell.get("v") if cell else None for cell in row["c"]]))
            for row in table["rows"]]


def op_profile(model, *, batch=16, steps=2):
    """Self time by op type of `steps` training steps (SGD momentum 0.9, the benchmark's
    "default" compile) after two untimed ones.

    Args:
        model: str. A key of `models.MODELS`.
        batch: int. Batch size. Defaults to 16.
        steps: int. Profiled steps. Defaults to 2.

    Returns:
        dict with "model", "batch", "steps", "total_ms" (self time of all ops, IDLE
        included) and "ops": a list of {"type", "self_ms", "share", "count"}, largest
        first. "IDLE" is time the profiler saw no op running.
    """
    import tensorflow as tf

    net, _ = training.compiled_model(model, "default")
    x, y = training.synthetic_batch(model, net, batch)
    for _ in range(2):
        net.train_on_batch(x, y)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            for _ in range(steps):
                net.train_on_batch(x, y)
        finally:
            tf.profiler.experimental.stop()
        rows = _framework_op_stats(logdir)
    self_us, count = collections.Counter(), collections.Counter()
    for row in rows:
        self_us[row["type"]] += row["total_self_time"]
        count[row["type"]] += row["occurrences"]
    total = sum(self_us.values())
    ops = [{"type": kind, "self_ms": us / 1e3, "share": us / total, "count": int(count[kind])}
           for kind, us in self_us.most_common()]
    return {"model": model, "batch": batch, "steps": steps, "total_ms": total / 1e3,
            "ops": ops}


def profile_table(profiles, top=12):
    """Markdown table: op types as rows (the `top` largest of any profile), one share
    column per profile, and each profile's total self time per step."""
    kinds = []
    for profile in profiles:
        for op in profile["ops"][:top]:
            if op["type"] not in kinds:
                kinds.append(op["type"])
    share = [{op["type"]: op for op in profile["ops"]} for profile in profiles]
    lines = ["| op type | " + " | ".join(p["model"] for p in profiles) + " |",
             "|---|" + "---:|" * len(profiles)]
    for kind in kinds:
        cells = [f"{100 * s[kind]['share']:.1f}% ({s[kind]['self_ms'] / p['steps']:.0f} ms)"
                 if kind in s else "-" for s, p in zip(share, profiles)]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines.append("| **all, per step** | " + " | ".join(
        f"{p['total_ms'] / p['steps']:.0f} ms" for p in profiles) + " |")
    return "\n".join(lines) + "\n"


def profile_training(model, *, batch, steps=2):
    """`op_profile` as a task, so that it runs in its own process (TensorFlow's profiler
    is process-wide)."""
    return [op_profile(model, batch=batch, steps=steps)]
