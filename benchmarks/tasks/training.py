"""Training tasks: the throughput of one training mode, and two models trained step by
step in turn in one process."""

import time

import numpy as np

from benchmarks import backend as backend_lib
from benchmarks import models as models_lib
from benchmarks import timing

TRAINING_MODES = ("default", "plain", "xla", "xla_spe", "mixed", "bf16", "mixed_xla",
                  "bf16_xla")
# Training modes that compile the whole step with XLA (jit_compile=True).
XLA_MODES = ("xla", "xla_spe", "mixed_xla", "bf16_xla")
# Training modes that need an accelerator, and the dtype policy of each.
MIXED_MODES = {"mixed": "mixed_float16", "bf16": "mixed_bfloat16",
               "mixed_xla": "mixed_float16", "bf16_xla": "mixed_bfloat16"}


def check_mode(mode, where=""):
    """Returns `mode` if it is one of `TRAINING_MODES`; else a ValueError naming it (and
    `where` it came from)."""
    if mode not in TRAINING_MODES:
        raise ValueError(f"Unknown training mode={mode!r}{where}. "
                         f"Allowed values: {list(TRAINING_MODES)}.")
    return mode


def compiled_model(model, mode, per_execution=1):
    """(compiled model, replicas) for `training`, `paired_training` and the profiler.
    Over several GPUs the model is replicated: MirroredStrategy in TensorFlow, Keras'
    DataParallel distribution under JAX.

    Args:
        model: str. A key of `models.MODELS`.
        mode: str. One of `TRAINING_MODES`.
        per_execution: int. Keras' `steps_per_execution`. Defaults to 1.
    """
    import contextlib

    import keras

    check_mode(mode)
    devices = backend_lib.accelerators()
    if mode in MIXED_MODES and not devices:
        raise ValueError(f"Training mode {mode!r} needs a GPU; none is visible.")
    backend = backend_lib.backend()
    mirrored = len(devices) > 1 and backend == "tensorflow"
    if mode in XLA_MODES and mirrored:
        # Keras 3 puts MirroredStrategy's per-replica step inside the jit-compiled
        # function, and one XLA computation cannot use variables on several devices
        # (keras-team/keras#18145; with "auto" Keras turns XLA off under tf.distribute).
        raise ValueError(
            f"Training mode {mode!r} compiles the whole step with XLA, which Keras cannot "
            f"do over MirroredStrategy replicas on {len(devices)} devices. Allowed values "
            f"with several devices: {[m for m in TRAINING_MODES if m not in XLA_MODES]}.")
    scope, replicas = contextlib.nullcontext(), 1
    if mirrored:
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy()
        scope, replicas = strategy.scope(), strategy.num_replicas_in_sync
    elif len(devices) > 1 and backend == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        replicas = len(devices)
    with scope:
        net = models_lib.build(model, MIXED_MODES.get(mode))
        compile_args = {} if mode == "default" else {"jit_compile": mode in XLA_MODES}
        net.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                    loss=keras.losses.SparseCategoricalCrossentropy(),
                    steps_per_execution=per_execution, **compile_args)
    return net, replicas


def synthetic_batch(model, net, global_batch):
    """(images, labels) of `global_batch` random examples for `net` (built as `model`)."""
    rng = np.random.default_rng(0)
    size = models_lib.input_size(model)
    x = rng.standard_normal((global_batch, size, size, 3)).astype(np.float32)
    y = rng.integers(0, net.output_shape[-1], (global_batch,)).astype(np.int32)
    return x, y


def training(model, mode, *, batch, steps, steps_per_execution=2):
    """Training-step throughput with SGD (momentum 0.9) on synthetic data held in memory
    (the input pipeline is measured separately).

    Modes: "default" (Keras compile defaults: jit_compile="auto", which is no XLA on
    CPU in TensorFlow and XLA under JAX), "plain" (no XLA), "xla" (jit_compile=True),
    "xla_spe" (XLA and `steps_per_execution`), "mixed" and "bf16" (mixed_float16 and
    mixed_bfloat16, no XLA), "mixed_xla" and "bf16_xla" (the same with XLA); the mixed
    modes on GPUs only. Under several GPUs the model is replicated (see
    `compiled_model`), `batch` is per replica, and in TensorFlow the XLA modes raise a
    ValueError (Keras cannot jit-compile a step over MirroredStrategy replicas). Each
    step's end is stamped after its loss reached the host, so the times hold on GPUs too.

    Args:
        model: str. A key of `models.MODELS`.
        mode: str. One of `TRAINING_MODES`.
        batch: int. Per-replica batch size.
        steps: int. Timed executions (each of `steps_per_execution` steps for "xla_spe").
        steps_per_execution: int. Defaults to 2.
    """
    import keras

    per_execution = steps_per_execution if mode == "xla_spe" else 1
    net, replicas = compiled_model(model, mode, per_execution)
    global_batch = batch * replicas
    x, y = synthetic_batch(model, net, global_batch)
    if backend_lib.backend() == "tensorflow":
        import tensorflow as tf

        dataset = tf.data.Dataset.from_tensors((x, y)).repeat()
    else:
        def batches():
            while True:
                yield x, y

        dataset = batches()

    stamps = []

    class Clock(keras.callbacks.Callback):
        # Not async-safe, so Keras hands it the logs as Python floats: the step's result
        # has reached the host when the stamp is taken.
        def on_train_batch_end(self, batch_index, logs=None):
            stamps.append(time.perf_counter())

    # The first execution traces and compiles; the second warms allocators; both untimed.
    warm = 2
    net.fit(dataset, steps_per_epoch=(warm + steps) * per_execution, epochs=1, verbose=0,
            shuffle=False, callbacks=[Clock()])
    seconds = [(b - a) / per_execution for a, b in zip(stamps[warm - 1:], stamps[warm:])]
    stats = timing.summarize(seconds, global_batch)
    return [{"kind": "training", "model": model, "runtime": mode, "replicas": replicas,
             "steps_per_execution": per_execution,
             "jit_compile": str(getattr(net, "jit_compile", None)),
             "dtype_policy": net.dtype_policy.name,
             **stats, "peak_rss_mb": timing.peak_rss_mb(), **backend_lib.device_memory()}]


def paired_training(arms, *, batch, repeats):
    """Two (model, training mode) arms trained alternately in one process, step by step
    (`train_on_batch` on one synthetic batch held in memory), so that load from other
    processes falls on both alike; the ratio is taken per adjacent pair of steps and its
    median reported. Two untimed steps per arm first (tracing, allocators).

    Args:
        arms: list of two [model, mode]: the candidate, then the reference.
        batch: int. Global batch size.
        repeats: int. Timed pairs of steps.
    """
    (model, mode), (ref_model, ref_mode) = arms
    nets = [compiled_model(model, mode)[0], compiled_model(ref_model, ref_mode)[0]]
    data = [synthetic_batch(name, net, batch) for name, net in zip((model, ref_model), nets)]
    for net, (x, y) in zip(nets, data):
        for _ in range(2):
            net.train_on_batch(x, y)
    (x, y), (ref_x, ref_y) = data
    ours, theirs = timing.alternate(lambda: nets[0].train_on_batch(x, y),
                                    lambda: nets[1].train_on_batch(ref_x, ref_y), repeats)
    return [{"kind": "paired_training", "model": model, "runtime": mode,
             "reference_model": ref_model, "reference_runtime": ref_mode, "batch": batch,
             "repeats": repeats, **timing.pair_summary(ours, theirs, batch),
             **backend_lib.device_memory()}]
