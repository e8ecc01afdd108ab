"""The benchmark's tasks, grouped by kind (one module each), and their registry.

A task is a function of JSON-able keyword arguments that returns a list of result dicts
(one per batch size or configuration) with at least "kind", "model", "runtime" and
"peak_rss_mb". Each runs inside a fresh subprocess (see `benchmarks.worker`), so that it
reports its own peak memory and no runtime's thread pools disturb another's.

To add a task: write it in the module of its kind (or a new one) and name it in `TASKS`;
`benchmarks.plan` then schedules it by that name.
"""

from benchmarks.tasks import ceiling, exports, inference, peers, pipeline, profile, training

TASKS = {
    "ceiling": ceiling.ceiling,
    "input_pipeline": pipeline.input_pipeline,
    "export": exports.export,
    "int8_agreement": exports.int8_agreement,
    "inference": inference.inference,
    "paired_inference": inference.paired_inference,
    "training": training.training,
    "paired_training": training.paired_training,
    "profile_training": profile.profile_training,
    "torchvision_resnet50": peers.torchvision_resnet50,
}


def get(name):
    """The task function registered as `name`."""
    if name not in TASKS:
        raise ValueError(f"Unknown benchmark task={name!r}. Allowed values: {list(TASKS)}.")
    return TASKS[name]
