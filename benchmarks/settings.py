"""What one run measures and how long it spends: `Settings`, and the full, quick and
other-backend runs. To add a setting: a field of `Settings` (validated in
`__post_init__`); `scripts/benchmark.py` names the ones it overrides."""

import dataclasses

from benchmarks import models as models_lib
from benchmarks.runtimes import (
    EXPORTED_RUNTIMES,
    INFERENCE_RUNTIMES,
    KERAS_RUNTIMES,
    TF_RUNTIMES,
    check_runtime,
)
from benchmarks.tasks import peers
from benchmarks.tasks.training import TRAINING_MODES, check_mode

# The runtimes each model is measured in: the two ResNet-50s in all of them, so that
# every ratio against keras.applications is like for like. The other backends' runtimes
# ("jax", "torch") are theirs: a TensorFlow run cannot load them.
FULL_RUNTIMES = {
    "resnet50": TF_RUNTIMES + EXPORTED_RUNTIMES,
    "keras_applications_resnet50": TF_RUNTIMES + ("savedmodel", "litert_float32",
                                                  "litert_int8", "onnxruntime",
                                                  "onnxruntime_int8", "openvino_f32",
                                                  "openvino", "openvino_int8"),
    "resnet50_v1": TF_RUNTIMES,
    "resnet18": TF_RUNTIMES + ("litert_float32", "litert_int8", "onnxruntime"),
    "resnet20": TF_RUNTIMES + EXPORTED_RUNTIMES,
}

# The parts of a run, in the order `plan` schedules them.
PARTS = ("ceiling", "pipeline", "inference", "paired", "training", "peers",
         "paired_training", "agreement")
# Ours against keras.applications' ResNet-50, both exported by export_model the same
# way, in each runtime: float32, then OpenVINO at f32 / the host default / int8, and ONNX
# Runtime's QDQ int8.
OURS_VS_BASELINE = ("tf", "tf_xla", "litert_float32", "onnxruntime", "onnxruntime_int8",
                    "openvino_f32", "openvino", "openvino_int8")
V1_VS_BASELINE = ("tf", "tf_xla", "litert_float32", "onnxruntime")


@dataclasses.dataclass
class Settings:
    """What one run measures and how long it spends.

    Attributes:
        inference: dict model -> tuple of runtimes.
        batches: tuple of int. Inference batch sizes.
        latency_repeats: int. Timed calls at batch 1.
        repeats: int. Timed calls at larger batches.
        training: dict model -> tuple of training modes.
        train_batch: int. Per-replica training batch.
        train_steps: int. Timed training executions.
        steps_per_execution: int. For the "xla_spe" mode.
        pipeline_files: int. Generated JPEG files (0 skips the pipeline).
        pipeline_batches: int. Timed pipeline batches.
        ceiling_n: int. Matrix side of the GEMM ceilings.
        ceiling_conv: (batch, side, channels) of the 3x3 convolution ceilings.
        agreement_epochs: int. Digits training epochs of the int8 agreement check
            (0 skips it).
        calibration_samples: int. Int8 calibration samples of the speed models.
        task_timeout_s: int. Limit of one subprocess.
        pairs: list of [[model, runtime], [model, runtime]]: candidate and reference
            timed alternately in one process (`tasks.paired_inference`).
        pair_repeats: int. Timed pairs per batch size.
        training_pairs: list of [[model, mode], [model, mode]]: candidate and reference
            trained step by step in turn in one process (`tasks.paired_training`),
            at `train_batch` (the "paired_training" part).
        training_pair_repeats: int. Timed pairs of training steps.
        torchvision: tuple of str. Precisions of torchvision's ResNet-50 in native
            PyTorch (`tasks.peers.PRECISIONS`; the "peers" part), at `train_batch`,
            `repeats` calls and `train_steps` steps; skipped, with the reason in the
            report, where torchvision is not installed. Empty measures none.
        measure: tuple of str. Parts of the plan to run: "ceiling", "pipeline",
            "inference", "paired", "training", "peers", "paired_training",
            "agreement".
    """

    inference: dict
    batches: tuple = (1, 8, 32)
    latency_repeats: int = 10
    repeats: int = 3
    training: dict = dataclasses.field(default_factory=dict)
    train_batch: int = 32
    train_steps: int = 2
    steps_per_execution: int = 2
    pipeline_files: int = 128
    pipeline_batches: int = 8
    ceiling_n: int = 2048
    ceiling_conv: tuple = (32, 56, 64)
    agreement_epochs: int = 4
    calibration_samples: int = 16
    task_timeout_s: int = 900
    pairs: list = dataclasses.field(default_factory=list)
    pair_repeats: int = 5
    training_pairs: list = dataclasses.field(default_factory=list)
    training_pair_repeats: int = 6
    torchvision: tuple = ()
    measure: tuple = PARTS

    def __post_init__(self):
        unknown = [p for p in self.measure if p not in PARTS]
        if unknown:
            raise ValueError(f"Unknown measure={unknown!r}. Allowed values: {list(PARTS)}.")
        for pair in self.pairs:
            for _, runtime in pair:
                check_runtime(runtime, " in pairs")
        for pair in self.training_pairs:
            for model, mode in pair:
                models_lib.check_model(model)
                check_mode(mode, " in training_pairs")
        for model in {**self.inference, **self.training}:
            models_lib.check_model(model)
        for model, runtimes in self.inference.items():
            unknown = [r for r in runtimes if r not in INFERENCE_RUNTIMES]
            if unknown:
                raise ValueError(f"Unknown runtime(s) {unknown} for model={model!r}. "
                                 f"Allowed values: {list(INFERENCE_RUNTIMES)}.")
        for model, modes in self.training.items():
            unknown = [m for m in modes if m not in TRAINING_MODES]
            if unknown:
                raise ValueError(f"Unknown training mode(s) {unknown} for model={model!r}. "
                                 f"Allowed values: {list(TRAINING_MODES)}.")
        peers.check_precisions(self.torchvision)
        if (len(self.ceiling_conv) != 3
                or any(isinstance(v, bool) or not isinstance(v, int) or v < 1
                       for v in self.ceiling_conv)):
            raise ValueError(f"ceiling_conv must be three positive ints (batch, side, "
                             f"channels); received {self.ceiling_conv!r}.")
        if not self.batches or any(int(b) < 1 for b in self.batches):
            raise ValueError(f"batches must be positive integers; received {self.batches!r}.")

    def only(self, models):
        """A copy that measures only `models` (keys of `models.MODELS`, or
        `models.TORCHVISION`): their inference and training rows, and the pairs whose
        two arms are both among them."""
        keep = {models_lib.check_model(model) for model in models
                if model != models_lib.TORCHVISION}

        def both(pairs):
            return [pair for pair in pairs if {pair[0][0], pair[1][0]} <= keep]

        return dataclasses.replace(
            self, inference={m: r for m, r in self.inference.items() if m in keep},
            training={m: r for m, r in self.training.items() if m in keep},
            pairs=both(self.pairs), training_pairs=both(self.training_pairs),
            torchvision=self.torchvision if models_lib.TORCHVISION in models else ())


def _tf_training_modes(gpus):
    """(XLA modes, mixed-precision modes) of TensorFlow training on `gpus` GPUs: over
    several, MirroredStrategy replicates the model and Keras cannot jit-compile its step,
    so there are no XLA modes and mixed precision runs without XLA."""
    if gpus > 1:
        return (), ("mixed", "bf16")
    return ("xla",), (("mixed_xla", "bf16_xla") if gpus else ())


def full_settings(gpu=False, backend="tensorflow"):
    """The complete run (about 15 minutes on 2 CPU cores).

    Args:
        gpu: bool or int. GPUs visible (True counts as one): adds the mixed-precision
            training modes; over several, TensorFlow's modes drop XLA.
        backend: str. The active Keras backend; under "jax" or "torch" the run measures
            what needs no TensorFlow (see `keras_backend_settings`).
    """
    if backend != "tensorflow":
        return keras_backend_settings(backend, bool(gpu))
    xla, mixed = _tf_training_modes(int(gpu))
    xla_spe = ("xla_spe",) if xla else ()
    return Settings(
        inference=dict(FULL_RUNTIMES),
        pairs=[[["resnet50", runtime], [models_lib.BASELINE, runtime]]
               for runtime in OURS_VS_BASELINE]
        # keras.applications' own architecture (v1) with our explicit padding layers:
        # separates the cost of our layers from the 6% extra arithmetic of v1.5.
        + [[["resnet50_v1", runtime], [models_lib.BASELINE, runtime]]
           for runtime in V1_VS_BASELINE]
        + [[["resnet50", fast], ["resnet50", "litert_float32"]]
           for fast in ("litert_int8", "onnxruntime_int8", "openvino", "openvino_int8")]
        + _keras_hub_pairs(("tf", "tf_xla")),
        training={"resnet50": ("plain",) + xla + xla_spe + mixed,
                  "keras_applications_resnet50": ("default",) + xla + mixed,
                  "resnet20": ("plain",) + xla + xla_spe + mixed},
        # Ours trained the default way against keras.applications trained the default
        # way; then keras.applications' own architecture (v1: the same arithmetic) built
        # by us; then ours with its batch norm swapped for Keras' own layer.
        training_pairs=[[[model, "default"], [models_lib.BASELINE, "default"]]
                        for model in ("resnet50", "resnet50_v1", "resnet50_keras_bn")]
        + _keras_hub_pairs(("default",)),
        torchvision=_torchvision_precisions(gpu),
        ceiling_n=8192 if gpu else 2048)


def _keras_hub_pairs(runtimes):
    """Our ResNet-50 against keras-hub's (same architecture) in each of `runtimes`
    (inference runtimes or training modes), when keras-hub is installed."""
    if not models_lib.available(models_lib.KERAS_HUB):
        return []
    return [[["resnet50", runtime], [models_lib.KERAS_HUB, runtime]] for runtime in runtimes]


def _torchvision_precisions(gpu):
    """torchvision's ResNet-50 in float32, and on a GPU also under bfloat16 autocast
    (the CPU runs no mixed precision on the Keras side either)."""
    return peers.PRECISIONS if gpu else ("float32",)


def quick_settings(gpu=False, backend="tensorflow"):
    """A CI-sized run: ResNet-20 at 32x32 only, few repetitions (a few minutes on 2 cores).
    Arguments as `full_settings`."""
    if backend != "tensorflow":
        return keras_backend_settings(backend, bool(gpu), quick=True)
    xla, mixed = _tf_training_modes(int(gpu))
    return Settings(
        inference={"resnet20": ("tf", "tf_xla", "savedmodel", "litert_float32", "litert_int8",
                                "onnxruntime", "onnxruntime_int8")},
        batches=(1, 8), latency_repeats=5, repeats=2,
        pairs=[[["resnet20", "litert_int8"], ["resnet20", "litert_float32"]]], pair_repeats=3,
        training={"resnet20": ("plain",) + xla + mixed}, train_batch=32, train_steps=2,
        training_pairs=[[["resnet20", "default"], ["resnet20_keras_bn", "default"]]],
        training_pair_repeats=2,
        pipeline_files=16, pipeline_batches=2, ceiling_n=512, ceiling_conv=(4, 28, 32),
        agreement_epochs=2,
        calibration_samples=4, task_timeout_s=600)


def keras_backend_settings(backend, gpu=False, quick=False):
    """The run under Keras' JAX or PyTorch backend: our models against keras.applications
    in that backend's compiled predict step and training step (plus, on a GPU, mixed
    float16 and bfloat16 training), and the GEMM ceiling. The input pipeline, exports and
    the int8 agreement check need TensorFlow and are left to a TensorFlow run.

    Args:
        backend: str. "jax" or "torch" (the active Keras backend).
        gpu: bool. A GPU is visible: larger batches, more repetitions and, under JAX,
            mixed float16 and bfloat16 training.
        quick: bool. ResNet-20 only, few repetitions.
    """
    if backend not in KERAS_RUNTIMES:
        raise ValueError(f"Unknown backend={backend!r}. Allowed values: "
                         f"{['tensorflow', *KERAS_RUNTIMES]}.")
    # Under PyTorch, jit_compile=True is torch.compile, whose compile outlasted a 150 s
    # run of the quick mixed-precision task on an H100: mixed modes are for JAX only.
    mixed = ("mixed_xla", "bf16_xla") if gpu and backend == "jax" else ()
    if quick:
        return Settings(
            inference={"resnet20": (backend,)}, batches=(1, 8), latency_repeats=5, repeats=2,
            training={"resnet20": ("default",) + mixed}, train_batch=32, train_steps=2,
            pipeline_files=0, ceiling_n=512, ceiling_conv=(4, 28, 32), agreement_epochs=0,
            task_timeout_s=600, measure=("ceiling", "inference", "training"))
    resnet50s = ("resnet50", "resnet50_v1", models_lib.BASELINE)
    return Settings(
        inference={m: (backend,) for m in resnet50s + ("resnet18", "resnet20")},
        batches=(1, 32, 256) if gpu else (1, 8, 32),
        latency_repeats=50 if gpu else 10, repeats=20 if gpu else 3,
        pairs=[[[m, backend], [models_lib.BASELINE, backend]] for m in models_lib.RESNET50S]
        + _keras_hub_pairs((backend,)),
        pair_repeats=20 if gpu else 5,
        training={m: ("default",) + mixed for m in ("resnet50", models_lib.BASELINE,
                                                     "resnet20")},
        # 256 images per GPU keep an H100 busy; 32 per core-starved CPU step as in
        # the TensorFlow run.
        train_batch=256 if gpu else 32, train_steps=10 if gpu else 2,
        training_pairs=[[["resnet50", mode], [models_lib.BASELINE, mode]]
                        for mode in ("default",) + mixed]
        + _keras_hub_pairs(("default",) + mixed),
        training_pair_repeats=10 if gpu else 6,
        torchvision=_torchvision_precisions(gpu),
        pipeline_files=0, ceiling_n=8192 if gpu else 2048, agreement_epochs=0,
        measure=("ceiling", "inference", "paired", "training", "peers", "paired_training"))
