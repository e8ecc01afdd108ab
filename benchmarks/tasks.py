"""One measurement each: run inside a fresh subprocess (see `worker`) so each reports
its own peak memory and no runtime's thread pools disturb another's.

Every task returns a list of result dicts (one per batch size or configuration) with at
least "kind", "model", "runtime", "img_per_s" and "peak_rss_mb".
"""

import time

import numpy as np

from benchmarks import models as models_lib
from benchmarks import timing

TF_RUNTIMES = ("tf", "tf_xla")
# Keras' compiled predict step under another backend (`KERAS_BACKEND`): "jax" is
# jax.jit (XLA), "torch" is eager PyTorch. Each needs its backend to be the active one.
KERAS_RUNTIMES = ("jax", "torch")
INFERENCE_RUNTIMES = TF_RUNTIMES + ("savedmodel", "litert_float32", "litert_float16",
                                    "litert_dynamic_int8", "litert_int8", "onnxruntime",
                                    "onnxruntime_int8") + KERAS_RUNTIMES
TRAINING_MODES = ("default", "plain", "xla", "xla_spe", "mixed", "bf16", "mixed_xla",
                  "bf16_xla")
# Training modes that compile the whole step with XLA (jit_compile=True).
XLA_MODES = ("xla", "xla_spe", "mixed_xla", "bf16_xla")
# Training modes that need an accelerator, and the dtype policy of each.
MIXED_MODES = {"mixed": "mixed_float16", "bf16": "mixed_bfloat16",
               "mixed_xla": "mixed_float16", "bf16_xla": "mixed_bfloat16"}


def backend():
    """The active Keras backend ("tensorflow", "jax", "torch")."""
    import keras

    return keras.config.backend()


def accelerators():
    """The GPUs the active Keras backend sees (a list; empty on a CPU-only machine)."""
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        return tf.config.list_physical_devices("GPU")
    if name == "jax":
        import jax

        return [d for d in jax.devices() if d.platform == "gpu"]
    if name == "torch":
        import torch

        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return []


def device_memory():
    """{"peak_device_mb": high-water memory of the first GPU so far, in MiB} under the
    active Keras backend, or {} where no GPU is visible or the backend cannot say."""
    devices = accelerators()
    if not devices:
        return {}
    try:
        if backend() == "tensorflow":
            import tensorflow as tf

            peak = tf.config.experimental.get_memory_info("GPU:0")["peak"]
        elif backend() == "jax":
            peak = devices[0].memory_stats()["peak_bytes_in_use"]
        else:
            import torch

            peak = torch.cuda.max_memory_allocated(0)
    except (KeyError, TypeError, ValueError, RuntimeError):
        return {}
    return {"peak_device_mb": peak / 2**20}


def _tf_predictor(model_name, jit_compile):
    import tensorflow as tf

    model = models_lib.build(model_name)
    forward = tf.function(lambda x: model(x, training=False), jit_compile=jit_compile)
    return lambda x: forward(x).numpy()


def _savedmodel_predictor(path):
    import tensorflow as tf

    function = tf.saved_model.load(path).signatures["serving_default"]
    (input_name,) = function.structured_input_signature[1]

    def predict(x):
        (output,) = function(**{input_name: tf.constant(x)}).values()
        return output.numpy()

    return predict


def _litert_predictor(path, threads):
    from ai_edge_litert.interpreter import Interpreter

    # AUTO applies the default XNNPACK delegate (float and quantized kernels).
    interpreter = Interpreter(model_path=path, num_threads=threads)
    (input_detail,) = interpreter.get_input_details()
    (output_detail,) = interpreter.get_output_details()
    shape = [None]

    def predict(x):
        if shape[0] != x.shape:
            interpreter.resize_tensor_input(input_detail["index"], x.shape, strict=False)
            interpreter.allocate_tensors()
            shape[0] = x.shape
        interpreter.set_tensor(input_detail["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(output_detail["index"])

    return predict


def _onnx_predictor(path, threads):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                 if p in onnxruntime.get_available_providers()]
    session = onnxruntime.InferenceSession(path, options, providers=providers)
    (input_meta,) = session.get_inputs()
    return lambda x: session.run(None, {input_meta.name: x})[0]


def _keras_predictor(model_name, runtime):
    if backend() != runtime:
        raise ValueError(f"runtime={runtime!r} needs KERAS_BACKEND={runtime}; the active "
                         f"Keras backend is {backend()!r}.")
    model = models_lib.build(model_name)
    # predict_on_batch returns NumPy, so each call waits for the device.
    return model.predict_on_batch


def predictor(model_name, runtime, artifact=None, threads=None):
    """A callable x -> NumPy output for `runtime` on `model_name` (or its `artifact`)."""
    threads = threads or timing.cpu_count()
    if runtime in TF_RUNTIMES:
        return _tf_predictor(model_name, jit_compile=runtime == "tf_xla")
    if runtime in KERAS_RUNTIMES:
        return _keras_predictor(model_name, runtime)
    if artifact is None:
        raise ValueError(f"runtime={runtime!r} needs an exported artifact; received none.")
    if runtime == "savedmodel":
        return _savedmodel_predictor(artifact)
    if runtime.startswith("litert"):
        return _litert_predictor(artifact, threads)
    if runtime.startswith("onnxruntime"):
        return _onnx_predictor(artifact, threads)
    raise ValueError(f"Unknown runtime={runtime!r}. Allowed values: {list(INFERENCE_RUNTIMES)}.")


def inference(model, runtime, *, batches, latency_repeats, repeats, artifact=None):
    """Inference speed of one runtime on one model at each batch size (ascending, so each
    peak RSS figure is the high-water mark up to and including that batch).

    Args:
        model: str. A key of `models.MODELS`.
        runtime: str. One of `INFERENCE_RUNTIMES`.
        batches: list of int. Batch sizes.
        latency_repeats: int. Timed calls at batch 1 (p50/p90 latency).
        repeats: int. Timed calls at larger batches.
        artifact: str or None. Exported file/folder for non-TF runtimes.
    """
    predict = predictor(model, runtime, artifact)
    size = models_lib.input_size(model)
    rng = np.random.default_rng(0)
    results = []
    for batch in sorted(batches):
        x = rng.standard_normal((batch, size, size, 3)).astype(np.float32)
        count = latency_repeats if batch == 1 else repeats
        # Two untimed calls: tracing/compilation, then allocator and thread-pool warm-up.
        stats = timing.time_calls(lambda: predict(x), batch=batch, warmup=2, repeats=count)
        results.append({"kind": "inference", "model": model, "runtime": runtime, **stats,
                        **device_memory()})
    return results


def _training_model(model, mode, per_execution=1):
    """(compiled model, replicas) for `training` and `paired_training`. Over several
    GPUs the model is replicated: MirroredStrategy in TensorFlow, Keras' DataParallel
    distribution under JAX."""
    import contextlib

    import keras

    if mode not in TRAINING_MODES:
        raise ValueError(f"Unknown training mode={mode!r}. Allowed values: {list(TRAINING_MODES)}.")
    devices = accelerators()
    if mode in MIXED_MODES and not devices:
        raise ValueError(f"Training mode {mode!r} needs a GPU; none is visible.")
    mirrored = len(devices) > 1 and backend() == "tensorflow"
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
    elif len(devices) > 1 and backend() == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        replicas = len(devices)
    with scope:
        net = models_lib.build(model, MIXED_MODES.get(mode))
        compile_args = {} if mode == "default" else {"jit_compile": mode in XLA_MODES}
        net.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                    loss=keras.losses.SparseCategoricalCrossentropy(),
                    steps_per_execution=per_execution, **compile_args)
    return net, replicas


def _synthetic_batch(model, net, global_batch):
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
    `_training_model`), `batch` is per replica, and in TensorFlow the XLA modes raise a
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
    net, replicas = _training_model(model, mode, per_execution)
    global_batch = batch * replicas
    x, y = _synthetic_batch(model, net, global_batch)
    if backend() == "tensorflow":
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
             **stats, "peak_rss_mb": timing.peak_rss_mb(), **device_memory()}]


def input_pipeline(folder, *, batch, image_size, batches):
    """Images per second of the ImageNet training input path (JPEG decode, random-resized
    crop, flip, normalize, batch) over the JPEG files in `folder` (one subfolder per
    class), with tf.data's default parallelism over all cores.

    Built from keras_resnet.data's pieces (folder source, `decode_image`,
    `augment.train_transform`, `Normalization`) rather than `make_dataset`: its
    "imagenet" crop loses the static channel count, which `make_dataset` then rejects.

    Args:
        folder: str. Image folder (see `make_jpegs`).
        batch: int. Batch size.
        image_size: int. Crop side.
        batches: int. Timed batches (after 3 warm-up batches).
    """
    import tensorflow as tf

    from keras_resnet.data import Normalization, decode_image, load_source
    from keras_resnet.data.augment import train_transform

    source = load_source(f"folder:{folder}", "train", holdout_fraction=0.0)
    normalize = Normalization.from_mode("torch")
    seeds = tf.data.Dataset.random(seed=0).batch(2)

    def transform(example, pair):
        raw, label = example
        image = train_transform(decode_image(raw), "imagenet", image_size,
                                tf.cast(pair % (2**31 - 1), tf.int32))
        image.set_shape([image_size, image_size, 3])
        return normalize(image), label

    options = tf.data.Options()
    options.deterministic = False
    dataset = (tf.data.Dataset.zip((source.dataset.repeat(), seeds)).with_options(options)
               .map(transform, num_parallel_calls=tf.data.AUTOTUNE)
               .batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
    iterator = iter(dataset)
    for _ in range(3):
        next(iterator)
    seconds = []
    for _ in range(batches):
        start = time.perf_counter()
        images, _ = next(iterator)
        images.numpy()
        seconds.append(time.perf_counter() - start)
    cores = timing.cpu_count()
    stats = timing.summarize(seconds, batch)
    return [{"kind": "input_pipeline", "model": "-", "runtime": "tf.data", "cores": cores,
             "img_per_s_per_core": stats["img_per_s"] / cores, "files": source.num_examples,
             **stats, "peak_rss_mb": timing.peak_rss_mb()}]


def make_jpegs(folder, count, *, width=500, height=375, seed=0):
    """Writes `count` JPEG files (ImageNet's typical 500x375, quality 90) with smooth
    gradients and noise, split over two class subfolders."""
    import os

    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for index in range(count):
        class_dir = os.path.join(folder, f"class{index % 2}")
        os.makedirs(class_dir, exist_ok=True)
        phase = rng.uniform(0, 6.28, 3)
        channels = [127 + 100 * np.sin(xx / rng.uniform(20, 80) + yy / rng.uniform(20, 80) + p)
                    for p in phase]
        image = np.stack(channels, -1) + rng.normal(0, 12, (height, width, 3))
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(
            os.path.join(class_dir, f"{index:05d}.jpg"), quality=90)
    return folder


def ceiling(n):
    """The machine's float32 GEMM ceiling (see `ceiling.gemm_ceiling`)."""
    from benchmarks.ceiling import gemm_ceiling

    return [{"kind": "ceiling", "model": "-", "runtime": "gemm",
             **gemm_ceiling(n, gpu=bool(accelerators())),
             "peak_rss_mb": timing.peak_rss_mb()}]


def export(model, folder, runtimes, *, calibration_samples):
    """Exports `model` for `runtimes` into `folder` (see `artifacts.export_all`)."""
    from benchmarks import artifacts

    net = models_lib.build(model)
    calibration = artifacts.calibration_images(models_lib.input_size(model),
                                               calibration_samples)
    written = artifacts.export_all(net, folder, runtimes, calibration=calibration)
    macs = models_lib.macs_per_image(net)
    return [{"kind": "export", "model": model, "runtime": runtime, "macs": macs, **info,
             "peak_rss_mb": timing.peak_rss_mb()} for runtime, info in written.items()]


TASKS = {"inference": inference, "training": training, "input_pipeline": input_pipeline,
         "ceiling": ceiling, "export": export}


def int8_agreement(folder, *, epochs, calibration_samples=100):
    """Top-1 agreement of int8 models with their float32 original, on real images: a
    ResNet-20 trained briefly on scikit-learn digits (upsampled to 32x32), evaluated on
    the held-out digits, exported to LiteRT int8 / dynamic_int8 / float16 and ONNX QDQ
    int8.

    Args:
        folder: str. Where the artifacts are written.
        epochs: int. Training epochs.
        calibration_samples: int. Training images used for calibration. Defaults to 100.
    """
    import keras
    import tensorflow as tf

    from benchmarks import artifacts, quantization
    from keras_resnet.data import digits_arrays

    def prepare(images):
        x = tf.image.resize(tf.cast(images, tf.float32), (32, 32)).numpy()
        return (np.repeat(x, 3, axis=-1) - 127.5) / 64.0

    splits = digits_arrays()
    x_train, y_train = prepare(splits["train"][0]), splits["train"][1]
    x_eval, y_eval = prepare(splits["eval"][0]), splits["eval"][1]
    keras.utils.set_random_seed(0)
    import keras_resnet

    net = keras_resnet.create_model("resnet20", classes=10)
    net.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=True)
    net.fit(x_train, y_train, batch_size=64, epochs=epochs, verbose=0)
    reference = net.predict(x_eval, batch_size=128, verbose=0)
    runtimes = ["litert_float32", "litert_float16", "litert_dynamic_int8", "litert_int8",
                "onnxruntime", "onnxruntime_int8"]
    written = artifacts.export_all(net, folder, runtimes,
                                   calibration=x_train[:calibration_samples])
    results = []
    for runtime in runtimes:
        predict = predictor("resnet20", runtime, written[runtime]["path"])
        output = np.concatenate([predict(x_eval[i:i + 1]) for i in range(len(x_eval))])
        results.append({
            "kind": "quantization", "model": "resnet20_digits", "runtime": runtime,
            "eval_images": len(x_eval),
            "top1_agreement": quantization.top1_agreement(reference, output),
            "accuracy": float(np.mean(output.argmax(-1) == y_eval)),
            "float_accuracy": float(np.mean(reference.argmax(-1) == y_eval)),
            "size_mb": written[runtime]["size_mb"], "peak_rss_mb": timing.peak_rss_mb()})
    return results


TASKS["int8_agreement"] = int8_agreement


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
    predict = predictor(model, runtime, artifact)
    reference = predictor(ref_model, ref_runtime, ref_artifact)
    rng = np.random.default_rng(0)
    results = []
    for batch in sorted(batches):
        x = rng.standard_normal((batch, models_lib.input_size(model),
                                 models_lib.input_size(model), 3)).astype(np.float32)
        for _ in range(2):
            predict(x)
            reference(x)
        ours, theirs = [], []
        for index in range(repeats):
            # Alternate which arm goes first so neither always follows the other.
            order = ((predict, ours), (reference, theirs))
            for call, sink in (order if index % 2 == 0 else order[::-1]):
                start = time.perf_counter()
                call(x)
                sink.append(time.perf_counter() - start)
        results.append({
            "kind": "paired_inference", "model": model, "runtime": runtime,
            "reference_model": ref_model, "reference_runtime": ref_runtime,
            "batch": batch, "repeats": repeats, **_pair_summary(ours, theirs, batch)})
    return results


def _pair_summary(ours, theirs, batch):
    """img/s of both arms and the median, min and max of the per-pair ratios, from the
    seconds of each timed call (in pairs, in order)."""
    import statistics

    ratios = sorted(t / o for o, t in zip(ours, theirs))
    return {"img_per_s": timing.summarize(ours, batch)["img_per_s"],
            "reference_img_per_s": timing.summarize(theirs, batch)["img_per_s"],
            "ratio": statistics.median(ratios), "ratio_min": ratios[0],
            "ratio_max": ratios[-1], "peak_rss_mb": timing.peak_rss_mb()}


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
    nets = [_training_model(model, mode)[0], _training_model(ref_model, ref_mode)[0]]
    data = [_synthetic_batch(name, net, batch) for name, net in zip((model, ref_model), nets)]
    for net, (x, y) in zip(nets, data):
        for _ in range(2):
            net.train_on_batch(x, y)
    seconds = ([], [])
    for index in range(repeats):
        order = (0, 1) if index % 2 == 0 else (1, 0)
        for arm in order:
            x, y = data[arm]
            start = time.perf_counter()
            nets[arm].train_on_batch(x, y)
            seconds[arm].append(time.perf_counter() - start)
    return [{"kind": "paired_training", "model": model, "runtime": mode,
             "reference_model": ref_model, "reference_runtime": ref_mode, "batch": batch,
             "repeats": repeats, **_pair_summary(*seconds, batch), **device_memory()}]


def profile_training(model, *, batch, steps=2):
    """`profile.op_profile` as a task, so that it runs in its own process (TensorFlow's
    profiler is process-wide)."""
    from benchmarks.profile import op_profile

    return [op_profile(model, batch=batch, steps=steps)]


TASKS["paired_inference"] = paired_inference
TASKS["paired_training"] = paired_training
TASKS["profile_training"] = profile_training
