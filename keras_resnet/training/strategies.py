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
    check_tf_config(name)
    if name == "multi_worker":
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


# The jobs of a MultiWorkerMirroredStrategy cluster; "ps" and "evaluator" tasks belong to
# other strategies and side-car evaluation, which train.py does not run.
TRAINING_JOBS = ("chief", "worker")
TF_CONFIG_EXAMPLE = ('{"cluster": {"worker": ["host1:port", "host2:port"]}, '
                     '"task": {"type": "worker", "index": 0}}')


def read_tf_config(text=None):
    """The cluster described by TF_CONFIG, checked.

    Args:
        text: str or None. The JSON text. Defaults to None (os.environ["TF_CONFIG"]).

    Returns:
        (cluster, task type, task index): cluster is {job: [address, ...]}; (None, None,
        None) when TF_CONFIG is unset, empty or "{}".

    Raises:
        ValueError: the JSON is malformed, "cluster" or "task" is missing or of the wrong
            shape, a job is not one of TRAINING_JOBS, or the task's type or index is not
            in the cluster. The message names TF_CONFIG and what is allowed.
    """
    text = os.environ.get("TF_CONFIG", "") if text is None else text
    if not text.strip():
        return None, None, None
    try:
        config = json.loads(text)
    except ValueError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}): TF_CONFIG={text!r}. "
                         f"Expected e.g. {TF_CONFIG_EXAMPLE}, or unset it.") from None
    if config == {}:
        return None, None, None
    missing = [key for key in ("cluster", "task")
               if not isinstance(config, dict) or not isinstance(config.get(key), dict)]
    if missing:
        raise ValueError(f"TF_CONFIG needs the objects 'cluster' and 'task'; {missing} "
                         f"missing or not an object in TF_CONFIG={text!r}. Expected e.g. "
                         f"{TF_CONFIG_EXAMPLE}, or unset it.")
    cluster, task = config["cluster"], config["task"]
    for job, addresses in cluster.items():
        if job not in TRAINING_JOBS:
            raise ValueError(f"TF_CONFIG cluster job {job!r} is not supported: training "
                             f"runs MultiWorkerMirroredStrategy, whose jobs are "
                             f"{list(TRAINING_JOBS)}. TF_CONFIG={text!r}.")
        if (not isinstance(addresses, list) or not addresses
                or not all(isinstance(a, str) and a for a in addresses)):
            raise ValueError(f"TF_CONFIG cluster job {job!r} must be a non-empty list of "
                             f"'host:port' strings; received {addresses!r}.")
    if len(cluster.get("chief", [])) > 1:
        raise ValueError(f"TF_CONFIG cluster has {len(cluster['chief'])} 'chief' addresses; "
                         "a cluster has at most one chief.")
    kind, index = task.get("type"), task.get("index", 0)
    if kind not in cluster:
        raise ValueError(f"TF_CONFIG task type {kind!r} is not a job of its cluster "
                         f"(jobs: {sorted(cluster)}). TF_CONFIG={text!r}.")
    if isinstance(index, bool) or not isinstance(index, int) \
            or not 0 <= index < len(cluster[kind]):
        raise ValueError(f"TF_CONFIG task index {index!r} is out of range for the "
                         f"{len(cluster[kind])} {kind!r} address(es) of its cluster "
                         f"(allowed: 0 to {len(cluster[kind]) - 1}). TF_CONFIG={text!r}.")
    return cluster, kind, index


def check_tf_config(name, text=None):
    """Refuses a TF_CONFIG that is malformed (see `read_tf_config`) or that does not
    match the strategy `name`: "multi_worker" needs one, and every other strategy trains
    in this process alone, so a TF_CONFIG naming a cluster of several tasks is refused
    (each task would train on its own, and a non-chief one would throw its outputs
    away).

    Args:
        name: str. The strategy name (STRATEGIES).
        text: str or None. TF_CONFIG's text. Defaults to None (the environment's).

    Raises:
        ValueError: naming TF_CONFIG, the strategy and how to make them agree.
    """
    cluster, kind, index = read_tf_config(text)
    if name == "multi_worker" and cluster is None:
        raise ValueError("strategy='multi_worker' needs TF_CONFIG describing the cluster "
                         f"(e.g. {TF_CONFIG_EXAMPLE}).")
    tasks = sum(len(addresses) for addresses in (cluster or {}).values())
    if name != "multi_worker" and tasks > 1:
        raise ValueError(
            f"TF_CONFIG describes a cluster of {tasks} tasks and names this process "
            f"{kind} {index}, but strategy={name!r} trains in this process alone: the "
            "tasks would not train together. Unset TF_CONFIG to train in one process, or "
            "pass --strategy=multi_worker (strategy='multi_worker') to train across the "
            "cluster.")


def is_chief(strategy):
    """Whether this process writes the run's outputs: always, unless `strategy` is a
    MultiWorkerMirroredStrategy whose cluster names this task a non-chief worker (index
    > 0 without a chief task, or any worker when a chief exists). A TF_CONFIG left over
    in the environment never turns a one-process run into a non-chief one."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    resolver = strategy.cluster_resolver
    kind, index = resolver.task_type, resolver.task_id
    if kind is None or kind == "chief":
        return True
    if kind == "worker":
        return "chief" not in resolver.cluster_spec().jobs and index == 0
    return False
