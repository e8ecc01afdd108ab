"""tf.distribute strategies by name, and logical CPU devices for testing without GPUs."""

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "mirrored", "multi_worker", "tpu", "one_device")


def configure_cpu_devices(count):
    """Splits the physical CPU into `count` logical devices (must run before TF
    initializes its devices), so MirroredStrategy has `count` replicas on a CPU box."""
    if not count or count < 2:
        return
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    except RuntimeError as error:
        existing = len(tf.config.list_logical_devices("CPU"))
        if existing != count:
            raise RuntimeError(f"cpu_devices={count} must be set before TensorFlow starts "
                               f"(it already has {existing} CPU devices).") from error


def make_strategy(name="auto", *, cpu_devices=0, tpu=None, collective_timeout=None):
    """Builds the strategy named `name`.

    Args:
        name: str. "auto" (MirroredStrategy over all GPUs when there are several, or over
            the logical CPUs when `cpu_devices` > 1; the default strategy otherwise),
            "mirrored", "multi_worker" (MultiWorkerMirroredStrategy from TF_CONFIG), "tpu"
            or "one_device".
        cpu_devices: int. Split the CPU into this many logical devices first (0 or 1 =
            no split). Defaults to 0.
        tpu: str or None. TPU address for "tpu". Defaults to None (local / from env).
        collective_timeout: float or None. Seconds a "multi_worker" collective op waits
            for its peers before failing with DeadlineExceeded; without it a step waits
            forever for a worker that died. Defaults to None (0 or None: no limit).

    Returns:
        A `tf.distribute.Strategy`.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy={name!r}. Allowed values: {list(STRATEGIES)}.")
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("strategy='multi_worker' needs TF_CONFIG describing the cluster "
                             '(e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
                             '"task": {"type": "worker", "index": 0}}).')
        # Multi-worker collectives need the CPU layout fixed before the server starts.
        configure_cpu_devices(cpu_devices)
        options = tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=float(collective_timeout) if collective_timeout else None)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    configure_cpu_devices(cpu_devices)
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    gpus = tf.config.list_logical_devices("GPU")
    cpus = tf.config.list_logical_devices("CPU")
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else cpus[0].name)
    if name == "mirrored":
        devices = [d.name for d in gpus] or [d.name for d in cpus]
        return tf.distribute.MirroredStrategy(devices)
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    if not gpus and len(cpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in cpus])
    return tf.distribute.get_strategy()


def is_chief():
    """True unless TF_CONFIG names this task a non-chief worker (index > 0 without a
    chief task, or any worker when a chief exists)."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = config.get("task", {})
    kind, index = task.get("type"), task.get("index", 0)
    if kind is None or kind == "chief":
        return True
    if kind == "worker":
        return "chief" not in config.get("cluster", {}) and index == 0
    return False
