"""`train_and_evaluate`: one training run from a `TrainConfig` to a tested model."""

import contextlib
import dataclasses
import json
import numbers
import os
import re
import shutil
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

import keras_resnet
from keras_resnet import _keras_compat, faults
from keras_resnet import data as data_lib
from keras_resnet import weights as weights_lib
from keras_resnet.io import RunFolderLocked, lock_run_folder
from keras_resnet.training import callbacks as cb
from keras_resnet.training import ema as ema_lib
from keras_resnet.training import evaluate as evaluate_lib
from keras_resnet.training import losses as losses_lib
from keras_resnet.training import optimizers as optimizers_lib
from keras_resnet.training import recipes as recipes_lib
from keras_resnet.training import schedules, strategies

WEIGHT_DECAY_MODES = ("l2", "decoupled")
PRECISIONS = ("float32", "float16", "bfloat16")
# "backbone": only the classifier trains; "bn": every BatchNormalization is frozen.
# A frozen BatchNormalization runs in inference mode in Keras 3, so its moving
# statistics stay those of the checkpoint.
FREEZE_MODES = ("none", "backbone", "bn")
HEAD = "predictions"
# Settings with a fixed set of values: `validate` checks them, the flags list them.
CHOICES = {"recipe": tuple(recipes_lib.list_recipes()), "strategy": strategies.STRATEGIES,
           "weight_decay_mode": WEIGHT_DECAY_MODES, "schedule": schedules.SCHEDULES,
           "augment": tuple(data_lib.AUGMENT_MODES), "mixed_precision": PRECISIONS,
           "freeze": FREEZE_MODES, "optimizer": optimizers_lib.OPTIMIZERS,
           "loss": losses_lib.LOSSES, "auto_augment": tuple(data_lib.AUTO_AUGMENT_POLICIES)}


class ConfigError(ValueError):
    """A setting is wrong; the message names it, its value and what is allowed.
    scripts/train.py prints it on one line and exits with status 2."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class WorkerLost(RuntimeError):
    """A multi-worker collective operation failed or timed out: a peer worker likely
    died. Re-running every worker resumes from the last committed epoch."""


# What a collective op raises when a peer is gone: its timeout (DeadlineExceeded), the
# coordination service missing the peer's heartbeats or a reset connection
# (Unavailable), or the abort's fallout (Cancelled, Aborted).
_COLLECTIVE_ERRORS = (tf.errors.DeadlineExceededError, tf.errors.UnavailableError,
                      tf.errors.CancelledError, tf.errors.AbortedError)


# Field metadata of the settings that a resumed run may change. Every other field is
# run-defining: it goes into the fingerprint committed with the backup
# (`run_fingerprint`), and resuming with another value is refused. May change: where
# the outputs go and how loud the run is, how it is executed (strategy and devices,
# XLA, steps per execution, determinism, caching, timeouts), the learning rate (a lower
# rate is how a diverged run is resumed from its last finite epoch) and the length
# (`epochs` / `total_iterations` may grow; below the committed epoch is refused).
RESUME = "resume"
MAY_CHANGE = {RESUME: "may change"}


def _may_change(default):
    return dataclasses.field(default=default, metadata=MAY_CHANGE)


@dataclasses.dataclass
class TrainConfig:
    """Every setting of a run. `build_config` fills it from a recipe plus overrides.

    Attributes:
        model: str. Registered variant name (keras_resnet.list_models()).
        dataset: str. "digits", a tfds name, "folder:PATH" or "tfrecord:GLOB".
        data_dir: str or None. tensorflow-datasets directory.
        eval_dataset: str or None. Held-out TFRecord glob when it is not derivable.
        label_offset: int. Subtracted from TFRecord labels (1 for Model Garden ImageNet).
        num_classes: int or None. Classes of a TFRecord source (None scans labels).
        recipe: str. Recipe whose values are the defaults of the other settings.
        epochs: int or None. None derives it from `total_iterations`.
        total_iterations: int or None. Paper-style length in iterations at
            `base_batch_size` (CIFAR: 64k), converted to epochs by the dataset size.
        batch_size: int. Per-replica batch; the global batch is this x replicas.
        learning_rate: float. Learning rate at `base_batch_size`.
        base_batch_size: int. Batch size that `learning_rate` refers to.
        scale_lr: bool. Scale the learning rate linearly with the global batch.
        momentum: float. SGD momentum.
        weight_decay: float. The paper's weight decay coefficient (1e-4).
        weight_decay_mode: str. "l2" (kernel_regularizer L2(weight_decay / 2) on conv and
            dense kernels, as the paper) or "decoupled" (optimizer weight decay, BN and
            biases excluded).
        schedule: str. "step", "cosine", "plateau" or "constant".
        step_epochs: tuple of int. Epochs at which "step" divides the rate by 10.
        step_iterations: tuple of int. Same in iterations at `base_batch_size`.
        warmup_epochs: float. Linear warmup length.
        warmup_for_models: dict. Model name -> warmup iterations (the paper's ResNet-110).
        warmup_mode: str. "linear" or "constant".
        warmup_factor: float. Rate multiplier during constant warmup.
        warmup_start_factor: float. Linear warmup starts at learning_rate x this and
            rises linearly to learning_rate (torchvision's --lr-warmup-decay, 0.01; timm's
            --warmup-lr / --lr); 0: the first step is at learning_rate / warmup steps.
        plateau_patience: int. Epochs without val_loss improvement before /10.
        augment: str. keras_resnet.data.AUGMENT_MODES.
        image_size: int. Side of the training crop (torchvision's --train-crop-size).
        eval_image_size: int or None. Side of the held-out images: the validation
            during training, the final test, the exported model's input
            (torchvision's --val-crop-size, timm's test input size). None: image_size.
            When it differs from image_size, the model takes any input height and width.
        eval_resize_size: int or None. Shorter side held-out images are resized to before
            their center eval_image_size crop (torchvision's --val-resize-size; timm's
            floor(size / crop_pct)). None: the augment mode's view (imagenet: ceil(
            eval_image_size / 0.875); the others resize straight to eval_image_size).
        label_smoothing: float. Label smoothing of the cross-entropy (0: none).
        strategy: str. keras_resnet.training.STRATEGIES.
        cpu_devices: int. Logical CPU devices to create (tests MirroredStrategy on CPU).
        collective_timeout: float or None. Seconds a multi-worker collective op waits for
            its peers; a worker that died then fails the others with `WorkerLost`
            instead of leaving them waiting forever. 0 or None = no limit.
        mixed_precision: str. "float32", "float16" or "bfloat16".
        jit_compile: bool (or "auto" from Python). XLA compilation. True over several
            devices in one process is refused (see `check_jit_compile`).
        steps_per_execution: int.
        max_steps_per_epoch: int or None. Caps the steps of an epoch (quick runs).
        output_dir: str. Where logs, metrics, checkpoints and the model go.
        export: bool. Export the trained model with keras_resnet.export.
        export_dir: str or None. Defaults to saved_models/<model>.
        overwrite_export: bool. Replace an existing export in export_dir; without it an
            existing destination stops the run before training, as export.py does.
        seed: int.
        deterministic: bool. Deterministic ops and input order.
        cache: bool or None. Cache decoded data (None: when small).
        model_options: dict. Extra builder arguments (e.g. {"shortcut": "B"}).
        weights: str or None. Pretrained weights to start from: "imagenet", a weights
            catalogue tag, a file (.pth/.pt torchvision state dict, keras.applications
            .h5, Keras .weights.h5 / .keras) or "hf://REPO". When the dataset's classes
            differ from the checkpoint's, only the backbone is loaded and the classifier
            is new. The input normalization follows the weights. None (or "none", e.g.
            `--weights=none` over the finetune recipe) trains from scratch.
        freeze: str. "none" (everything trains), "backbone" (only the classifier
            trains; BatchNormalization runs in inference mode, keeping the checkpoint's
            statistics) or "bn" (only the BatchNormalization layers are frozen, for small
            per-replica batches). Needs weights.
        linear_probe_epochs: int. First epochs that train only the classifier (as
            freeze="backbone"); then the layers unfreeze as `freeze` says and training goes
            on with a new schedule of `learning_rate`. Needs weights.
        optimizer: str. "sgd", "nesterov", "adamw", "lamb" or "rmsprop" (Keras' own;
            LAMB with the decay inside the trust ratio, as timm).
        norm_weight_decay: float. Weight decay of BatchNormalization and bias
            variables: 0 keeps them out of weight decay (torchvision's
            --norm-weight-decay 0); the value of weight_decay decays them too
            (decoupled mode only).
        loss: str. "ce" (softmax cross-entropy) or "bce" (timm's binary cross-entropy on
            sigmoid outputs, as "ResNet strikes back").
        bce_target_threshold: float or None. bce: targets above it become 1 (RSB: 0.2).
        mixup_alpha: float. Batch mixup Beta parameter; 0 disables it.
        cutmix_alpha: float. Batch cutmix Beta parameter; 0 disables it.
        mix_switch_prob: float. Probability of cutmix when both are enabled.
        mix_prob: float. Probability that a batch is mixed.
        auto_augment: str. "none", "trivialaugment" (torchvision's TrivialAugmentWide),
            "randaugment" (timm's rand-m{M}-mstd{S}-inc1) or "autoaugment".
        randaugment_magnitude: float. RandAugment magnitude M in [0, 10].
        randaugment_std: float. RandAugment magnitude noise (timm's mstd).
        random_erase: float. Probability of torchvision's RandomErasing per image.
        repeated_augmentation: int. Copies of each image per epoch, each augmented on
            its own (torchvision's --ra-reps, timm's --aug-repeats); 1 disables it.
        ema_decay: float. Exponential moving average of all weights (BN statistics too);
            the average is what is evaluated, saved as model.keras and exported. 0
            disables it.
        ema_every: int. Steps between EMA updates (torchvision: 32).
        ema_adjust: bool. torchvision's EMA: the decay is adjusted for the global batch x
            ema_every / epochs and the average restarts through the warmup epochs.
        verbose: int or str. Keras fit verbosity: "auto" (the progress bar), 0, 1 or 2.
        restart: bool. Discard the backup, checkpoints and metrics of output_dir and
            train from epoch 0, instead of resuming (or refusing other settings).
    """

    model: str = "resnet20"
    dataset: str = "digits"
    data_dir: str = None
    eval_dataset: str = None
    label_offset: int = 0
    num_classes: int = None
    recipe: str = "digits"
    epochs: int = _may_change(None)
    total_iterations: int = _may_change(None)
    batch_size: int = 64
    learning_rate: float = _may_change(0.1)
    base_batch_size: int = 256
    scale_lr: bool = _may_change(True)
    momentum: float = 0.9
    weight_decay: float = 1e-4
    weight_decay_mode: str = "l2"
    schedule: str = "cosine"
    step_epochs: tuple = ()
    step_iterations: tuple = ()
    warmup_epochs: float = 0
    warmup_for_models: dict = dataclasses.field(default_factory=dict)
    warmup_mode: str = "linear"
    warmup_factor: float = 0.1
    warmup_start_factor: float = 0.0
    plateau_patience: int = 5
    augment: str = "shift"
    image_size: int = 32
    eval_image_size: int = None
    eval_resize_size: int = None
    label_smoothing: float = 0.0
    strategy: str = _may_change("auto")
    cpu_devices: int = _may_change(0)
    collective_timeout: float = _may_change(300.0)
    mixed_precision: str = "float32"
    jit_compile: bool = _may_change(False)
    steps_per_execution: int = _may_change(1)
    max_steps_per_epoch: int = None
    output_dir: str = _may_change("runs/default")
    export: bool = _may_change(False)
    export_dir: str = _may_change(None)
    overwrite_export: bool = _may_change(False)
    seed: int = 0
    deterministic: bool = _may_change(False)
    cache: object = _may_change(None)
    model_options: dict = dataclasses.field(default_factory=dict)
    verbose: object = _may_change("auto")
    weights: str = None
    freeze: str = "none"
    linear_probe_epochs: int = 0
    optimizer: str = "sgd"
    norm_weight_decay: float = 0.0
    loss: str = "ce"
    bce_target_threshold: float = None
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    mix_switch_prob: float = 0.5
    mix_prob: float = 1.0
    auto_augment: str = "none"
    randaugment_magnitude: float = 9.0
    randaugment_std: float = 0.5
    random_erase: float = 0.0
    repeated_augmentation: int = 1
    ema_decay: float = 0.0
    ema_every: int = 1
    ema_adjust: bool = False
    restart: bool = _may_change(False)


def build_config(recipe="digits", **overrides):
    """A `TrainConfig` from the recipe `recipe` with `overrides` (None values ignored).

    Raises:
        ConfigError: unknown recipe or unknown setting names, listing the allowed ones.
    """
    try:
        values = recipes_lib.get_recipe(recipe)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ConfigError(f"Unknown training settings {unknown}. Allowed: {sorted(fields)}.")
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "epochs" in overrides and overrides["epochs"] is not None:
        values["total_iterations"] = None
    values["recipe"] = recipe
    if values.get("weights") in ("", "none"):
        values["weights"] = None  # --weights=none: from scratch, whatever the recipe says
    return TrainConfig(**values)


def validate(config):
    """Checks names and ranges before anything runs; errors list the allowed values."""
    keras_resnet.get_variant(config.model)
    recipes_lib.get_recipe(config.recipe)
    data_lib.augment.check_mode(config.augment)
    for name, allowed in CHOICES.items():
        if getattr(config, name) not in allowed:
            raise ValueError(f"Unknown {name}={getattr(config, name)!r}. "
                             f"Allowed values: {list(allowed)}.")
    if config.epochs is None and not config.total_iterations:
        raise ValueError("Set epochs (or total_iterations in the recipe).")
    _validate_numbers(config)  # sizes, counts and rates, before the settings using them
    strategies.check_tf_config(config.strategy)
    _validate_weights(config)
    _validate_recipe_components(config)


# Numeric settings and their ranges: (low, high, high_open); NaN is out of every range.
_INF = float("inf")
_FLOAT_RANGES = {"learning_rate": (1e-12, _INF, True), "weight_decay": (0.0, _INF, True),
                 "momentum": (0.0, 1.0, True), "warmup_epochs": (0.0, _INF, True),
                 "warmup_factor": (1e-12, _INF, True), "label_smoothing": (0.0, 1.0, True),
                 "warmup_start_factor": (0.0, 1.0, True),
                 "collective_timeout": (0.0, _INF, False)}
_INT_MINIMUMS = {"batch_size": 1, "image_size": 1, "steps_per_execution": 1,
                 "base_batch_size": 1, "plateau_patience": 1, "cpu_devices": 0, "seed": 0,
                 "max_steps_per_epoch": 1, "total_iterations": 1, "num_classes": 2,
                 "epochs": 1, "eval_image_size": 1, "eval_resize_size": 1}
# Integer settings where None means "unset" (no cap, derived, or the default view).
_INT_UNSET_OK = ("max_steps_per_epoch", "total_iterations", "num_classes", "epochs",
                 "eval_image_size", "eval_resize_size")


def _validate_numbers(config):
    """Types and ranges of the numeric settings (NumPy numbers accepted): a negative
    or zero step cap, a NaN weight decay or a float epoch count is refused before
    anything runs."""
    for name, (low, high, high_open) in _FLOAT_RANGES.items():
        value = getattr(config, name)
        if value is None and name == "collective_timeout":
            continue
        _in_range(config, name, low, high, high_open=high_open)
    for name, minimum in _INT_MINIMUMS.items():
        value = getattr(config, name)
        if value is None and name in _INT_UNSET_OK:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            allowed = f"an integer >= {minimum}" + (
                " or unset (no cap)" if name == "max_steps_per_epoch" else
                " or unset (the default)" if name.startswith("eval_") else "")
            raise ConfigError(f"{name} must be {allowed}. Received: {name}={value!r}.")
    crop = eval_image_size(config)
    if config.eval_resize_size is not None and config.eval_resize_size < crop:
        raise ConfigError(
            f"eval_resize_size must be >= the eval crop {crop} (eval_image_size="
            f"{config.eval_image_size!r}, image_size={config.image_size!r}): the crop is "
            f"taken from the resized image. Received: eval_resize_size="
            f"{config.eval_resize_size!r}.")


def eval_image_size(config):
    """Side of the held-out images, the final test and the export: eval_image_size, or
    image_size when it is unset."""
    return config.image_size if config.eval_image_size is None else config.eval_image_size


def _in_range(config, name, low, high, *, high_open=False):
    value = getattr(config, name)
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and (
        low <= value < high if high_open else low <= value <= high)  # NaN fails both
    if not ok:
        bracket = ")" if high_open else "]"
        raise ConfigError(f"{name} must be a number in [{low}, {high}{bracket}. "
                          f"Received: {name}={value!r}.")


def _validate_recipe_components(config):
    """Ranges of the modern-recipe settings; NaN is out of range everywhere."""
    inf = float("inf")
    for name in ("mixup_alpha", "cutmix_alpha"):
        _in_range(config, name, 0.0, inf, high_open=True)
    for name in ("mix_switch_prob", "mix_prob", "random_erase"):
        _in_range(config, name, 0.0, 1.0)
    _in_range(config, "randaugment_magnitude", 0.0, 10.0)
    _in_range(config, "randaugment_std", 0.0, inf, high_open=True)
    _in_range(config, "ema_decay", 0.0, 1.0, high_open=True)
    if config.bce_target_threshold is not None:
        _in_range(config, "bce_target_threshold", 0.0, 1.0, high_open=True)
    for name in ("ema_every", "repeated_augmentation"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1. Received: {name}={value!r}.")
    if config.norm_weight_decay not in (0, 0.0) and not (
            config.weight_decay_mode == "decoupled"
            and config.norm_weight_decay == config.weight_decay):
        raise ConfigError(
            f"norm_weight_decay={config.norm_weight_decay!r} is not supported with "
            f"weight_decay_mode={config.weight_decay_mode!r}, weight_decay="
            f"{config.weight_decay!r}. Allowed: 0 (BN and biases out of weight decay), or "
            "the value of weight_decay with weight_decay_mode='decoupled'.")
    if config.loss == "bce" and config.model_options.get("classifier_activation") not in (
            None, "sigmoid"):
        raise ConfigError("loss='bce' trains sigmoid outputs; drop the "
                          "classifier_activation model option.")


WEIGHTS_ALLOWED = "None (from scratch), 'imagenet', a weights file path or 'hf://REPO'"


def _validate_weights(config):
    if config.weights is None:
        for name, unset in (("freeze", "none"), ("linear_probe_epochs", 0)):
            if getattr(config, name) != unset:
                raise ConfigError(
                    f"{name}={getattr(config, name)!r} needs pretrained weights, but "
                    f"weights=None. Pass --weights=imagenet|TAG|PATH|hf://REPO, or use "
                    f"{name}={unset!r} to train from scratch.")
        return
    weights = str(config.weights)
    epochs = config.epochs or 0
    if config.linear_probe_epochs < 0 or (epochs and config.linear_probe_epochs >= epochs):
        raise ConfigError(
            f"linear_probe_epochs must be in [0, epochs) = [0, {epochs}). Received: "
            f"linear_probe_epochs={config.linear_probe_epochs}.")
    if weights == "imagenet" or weights.startswith("hf://") or os.path.isfile(weights):
        return
    tags = [row.tag for row in
            weights_lib.list_weights(keras_resnet.get_variant(config.model).name)]
    if weights in tags:
        return
    looks_like_path = os.sep in weights or os.path.splitext(weights)[1] != ""
    what = "no such file" if looks_like_path else f"unknown tag for model={config.model!r}"
    allowed = WEIGHTS_ALLOWED + (f", or a tag: {tags}" if tags else "")
    raise ConfigError(f"weights={weights!r}: {what}. Allowed: {allowed}.")


def check_jit_compile(config, strategy):
    """Rejects jit_compile=True over several devices of one process (MirroredStrategy):
    Keras 3 compiles the replicated step as one XLA computation, which cannot use
    variables on several devices (keras-team/keras#18145)."""
    replicated = (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)
    if config.jit_compile is not True or not isinstance(strategy, replicated):
        return
    devices = len(strategy.extended.worker_devices)
    if devices > 1:
        raise ValueError(
            f"jit_compile=True cannot be combined with strategy={config.strategy!r} over "
            f"{devices} devices: Keras compiles the replicated step as one XLA computation, "
            "which cannot use variables on several devices. Allowed there: "
            "jit_compile=False or 'auto' (Keras then turns XLA off), or one device.")


def prepare_output_dir(path):
    """Creates `path` and proves it is writable, before any training starts."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".write_test", delete=True)
        probe.close()
    except OSError as error:
        raise ValueError(f"output_dir={path!r} is not writable ({error.strerror}). "
                         "Pass a writable --output_dir.") from None
    return path


def run_fingerprint(config, data):
    """The run-defining settings of `config` (every `TrainConfig` field but those
    marked `MAY_CHANGE`) as JSON values, with the sizes derived from them and the data
    (`global_batch`, `steps_per_epoch`, `classes`), which `ResumableBackup` commits."""
    settings = {f.name: _json_value(getattr(config, f.name))
                for f in dataclasses.fields(TrainConfig) if RESUME not in f.metadata}
    settings.update(global_batch=data.global_batch, steps_per_epoch=data.steps_per_epoch,
                    classes=data.num_classes)
    return settings


def _json_value(value):
    """`value` as plain JSON (tuples as lists, NumPy numbers as Python ones, Keras
    objects as their config), so that equal settings compare equal after a round trip."""
    def default(item):
        if isinstance(item, np.generic):
            return item.item()
        if isinstance(item, np.ndarray):
            return item.tolist()
        if hasattr(item, "get_config"):
            return {"class": type(item).__name__, "config": item.get_config()}
        return repr(item)

    return json.loads(json.dumps(value, default=default, sort_keys=True))


START_OVER = ("start over with another --output_dir, or with --restart (discards this "
              "folder's backup, checkpoints and metrics)")


def check_resume(config, data, backup, output_dir):
    """Refuses to resume the backup in `output_dir` with settings other than those it
    was committed with, or with fewer epochs than it has committed.

    Raises:
        ConfigError: listing each differing setting (committed -> now) and how to
            start over.
    """
    record = backup.record()
    committed = int(record.get("epoch", 0))
    if not committed:
        return
    differences = []
    stored = record.get("settings")
    if stored is not None:  # backups of older versions carry no fingerprint
        current = run_fingerprint(config, data)
        differences = [f"{name}: {stored[name]!r} -> {current[name]!r}"
                       for name in sorted(set(stored) & set(current))
                       if stored[name] != current[name]]
    if data.epochs < committed:
        differences.append(f"epochs: {data.epochs} is below the {committed} epochs committed")
    if differences:
        raise ConfigError(
            f"output_dir={output_dir!r} holds a run committed after epoch {committed} "
            f"with other settings: {'; '.join(differences)}. Run it with its own settings "
            f"to resume, or {START_OVER}.")


def discard_run(directory):
    """Deletes the run files of `directory` (`run_paths`: backup, checkpoints, metrics,
    curves, logs) and nothing else; returns the paths removed."""
    removed = []
    for path in run_paths(directory).values():
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)
        else:
            continue
        removed.append(path)
    return removed


def train_and_evaluate(config):
    """Trains `config.model` on `config.dataset` and tests it on the held-out split.

    Re-running the same config with the same `output_dir` after an interruption resumes
    from the last completed epoch and stops at the same final epoch.

    Args:
        config: `TrainConfig`.

    Returns:
        dict with "test_accuracy", "test_loss" (and "test_top5" when there are > 5
        classes), "epochs", "steps_per_epoch", "global_batch_size", "replicas",
        "learning_rate", "seconds", "skipped_images", "output_dir", "model_path" and
        "model" (the trained `keras.Model`).

    Raises:
        ValueError: bad settings (a TF_CONFIG that is malformed or does not match the
            strategy included), data or output directory (before training), or a
            backup in `output_dir` committed with other settings.
        RunFolderLocked: another process trains into `output_dir`.
        TrainingDiverged: a loss or the state became NaN/inf; nothing of that epoch is
            written and the last finite backup stays the resume point.
        CheckpointWriteError: a checkpoint could not be written (disk full); the
            previous one is kept and re-running resumes from it.
    """
    try:
        validate(config)
    except ConfigError:
        raise
    except ValueError as error:
        raise ConfigError(str(error)) from None
    start = time.time()
    strategy = strategies.make_strategy(config.strategy, cpu_devices=config.cpu_devices,
                                        collective_timeout=config.collective_timeout)
    chief = strategies.is_chief(strategy)
    check_jit_compile(config, strategy)
    if config.export and chief:
        check_export_destination(config)
    output_dir = prepare_output_dir(config.output_dir)
    # The chief holds the folder for the whole run (workers write to scratch copies).
    with lock_run_folder(output_dir) if chief else contextlib.nullcontext():
        if config.restart and chief:
            print(f"restart: discarded {len(discard_run(output_dir))} run file(s) of "
                  f"{output_dir}")
        return _train_in(config, strategy, output_dir, chief, start)


def _train_in(config, strategy, output_dir, chief, start):
    # Non-chief workers run the same callbacks but write to a scratch copy.
    work_dir = output_dir if chief else tempfile.mkdtemp(prefix="worker_", dir=output_dir)
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    previous_policy = keras.mixed_precision.global_policy()
    if config.mixed_precision != "float32":
        keras.mixed_precision.set_global_policy(f"mixed_{config.mixed_precision}")
    try:
        return _run(config, strategy, work_dir, output_dir, chief, start)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
        if not chief:
            shutil.rmtree(work_dir, ignore_errors=True)


@dataclasses.dataclass
class Data:
    """The data of a run and the sizes derived from it.

    Attributes:
        train_source, eval_source: keras_resnet.data sources.
        num_classes: int.
        replicas: int. Replicas in sync.
        global_batch: int.
        steps_per_epoch: int.
        epochs: int. Planned epochs of the whole run.
        passes: float. base_batch_size / training examples (iterations -> epochs).
        normalization: keras_resnet.data.Normalization of the inputs.
        train_fn: callable(input_context, first_epoch=0) -> tf.data.Dataset: the
            training stream from `first_epoch` on (epoch e is a function of the seed
            and e, see `keras_resnet.data.make_dataset`).
        eval_fn: callable(input_context, pad_final_batch=False) -> tf.data.Dataset
            of the held-out split; with `pad_final_batch`, whole batches with a
            weight per row (0 for padding).
        train_data_at: callable(first_epoch) -> what `fit` reads from that epoch on (a
            resumed run starts at its committed epoch).
        eval_data: what `evaluate` and validation read: over several replicas,
            padded to whole global batches with weights, so that no replica gets an
            empty batch.
    """

    train_source: object
    eval_source: object
    num_classes: int
    replicas: int
    global_batch: int
    steps_per_epoch: int
    epochs: int
    passes: float
    normalization: object
    train_fn: object
    eval_fn: object
    train_data_at: object
    eval_data: object

    @property
    def train_data(self):
        """What `fit` reads from epoch 0 on."""
        return self.train_data_at(0)


def create_input_pipeline(config, strategy, normalization_mode):
    """Loads the sources and builds the training and held-out pipelines.

    Raises:
        ConfigError: the dataset cannot be read, or its training set is smaller than
            the global batch.
    """
    source_args = dict(data_dir=config.data_dir, eval_spec=config.eval_dataset,
                       label_offset=config.label_offset, num_classes=config.num_classes)
    try:
        train_source = data_lib.load_source(config.dataset, "train", **source_args)
        # The held-out labels must fit the training classes (a TFRecord split is
        # range-checked against them).
        eval_source = data_lib.load_source(config.dataset, "eval", **{
            **source_args, "num_classes": config.num_classes or train_source.num_classes})
    except ValueError as error:
        raise ConfigError(str(error)) from None
    num_classes = train_source.num_classes
    replicas = strategy.num_replicas_in_sync
    global_batch = config.batch_size * replicas
    if train_source.num_examples < global_batch:
        raise ConfigError(f"dataset={config.dataset!r} has {train_source.num_examples} training "
                         f"examples, fewer than the global batch {global_batch} "
                         f"(batch_size={config.batch_size} x {replicas} replicas).")
    steps_per_epoch = train_source.num_examples // global_batch
    if config.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, int(config.max_steps_per_epoch))
    # Paper recipes count iterations at their own batch size; convert through data passes.
    passes = (config.base_batch_size / train_source.num_examples)
    epochs = config.epochs or recipes_lib.iterations_to_epochs(
        config.total_iterations * passes * steps_per_epoch, steps_per_epoch)

    normalization = data_lib.Normalization.from_mode(normalization_mode)
    pipeline_args = dict(augment=config.augment,
                         normalization=normalization, num_classes=num_classes,
                         one_hot=one_hot_targets(config), seed=config.seed,
                         cache=config.cache, deterministic=config.deterministic)
    augmentation = dict(
        auto_augment=config.auto_augment, magnitude=config.randaugment_magnitude,
        magnitude_std=config.randaugment_std, random_erase=config.random_erase,
        repeated_augmentation=config.repeated_augmentation,
        mix=data_lib.MixConfig(config.mixup_alpha, config.cutmix_alpha,
                               config.mix_switch_prob, config.mix_prob))

    def train_fn(context, first_epoch=0):
        return data_lib.make_dataset(train_source, training=True, batch_size=global_batch,
                                     input_context=context, repeat=True,
                                     image_size=config.image_size,
                                     first_epoch=first_epoch, steps_per_epoch=steps_per_epoch,
                                     **pipeline_args, **augmentation)

    def eval_fn(context, pad_final_batch=False):
        return data_lib.make_dataset(eval_source, training=False, batch_size=global_batch,
                                     input_context=context, image_size=eval_image_size(config),
                                     resize_size=config.eval_resize_size,
                                     pad_final_batch=pad_final_batch, **pipeline_args)

    # Keras distributes a plain dataset itself, splitting each global batch over the
    # replicas (multi-worker: auto-sharded by element, where Keras fails on the PerReplica
    # values of distribute_datasets_from_function). The held-out data always goes that
    # way, and over several replicas its last batch is padded to a whole global batch
    # with rows of weight 0 (issue 16 item 10): a last batch of fewer examples than
    # replicas would hand some replicas an empty batch, which fails in oneDNN's CPU
    # convolutions; the weights keep the accuracy a count over the real examples.
    def train_data_at(first_epoch):
        if replicas > 1 and not isinstance(strategy,
                                           tf.distribute.MultiWorkerMirroredStrategy):
            return strategy.distribute_datasets_from_function(
                lambda context: train_fn(context, first_epoch))
        return train_fn(None, first_epoch)

    return Data(train_source, eval_source, num_classes, replicas, global_batch,
                steps_per_epoch, epochs, passes, normalization, train_fn, eval_fn,
                train_data_at, eval_fn(None, pad_final_batch=replicas > 1))


def one_hot_targets(config):
    """Whether targets are one-hot: label smoothing, mixup/cutmix and BCE need them."""
    return (config.label_smoothing > 0 or config.mixup_alpha > 0 or config.cutmix_alpha > 0
            or config.loss == "bce")


def create_learning_rate_fn(config, data, epochs=None):
    """The learning rate of `epochs` epochs of training (all of them when None).

    Returns:
        (learning rate or schedule for the optimizer, peak rate as a float).
    """
    epochs = data.epochs if epochs is None else epochs
    steps_per_epoch = data.steps_per_epoch
    lr = config.learning_rate * (data.global_batch / config.base_batch_size
                                 if config.scale_lr else 1)
    if config.schedule == "plateau":
        return lr, lr
    boundaries = [int(round(e * steps_per_epoch)) for e in config.step_epochs]
    if config.step_iterations and not config.step_epochs:
        boundaries = [int(round(i * data.passes * steps_per_epoch))
                      for i in config.step_iterations]
    warmup_steps = int(round(config.warmup_epochs * steps_per_epoch))
    if config.model in config.warmup_for_models:
        warmup_steps = int(round(config.warmup_for_models[config.model]
                                 * config.base_batch_size / data.global_batch))
    schedule = schedules.WarmupSchedule(
        lr, epochs * steps_per_epoch, kind=config.schedule, warmup_steps=warmup_steps,
        warmup_mode=config.warmup_mode, warmup_factor=config.warmup_factor,
        boundaries=boundaries, warmup_start_factor=config.warmup_start_factor)
    return schedule, lr


def compile_model(model, config, strategy, data, learning_rate):
    """Compiles `model` with a new `config.optimizer` at `learning_rate`, under
    `strategy`."""
    with strategy.scope():
        optimizer = optimizers_lib.create_optimizer(
            config.optimizer, learning_rate, momentum=config.momentum,
            weight_decay=config.weight_decay if config.weight_decay_mode == "decoupled"
            else 0.0, exclude_norm=config.norm_weight_decay == 0)
        if one_hot_targets(config):
            loss = losses_lib.create_loss(config.loss, label_smoothing=config.label_smoothing,
                                          bce_target_threshold=config.bce_target_threshold)
            top5 = keras.metrics.TopKCategoricalAccuracy(5, name="top5")
        else:
            loss = keras.losses.SparseCategoricalCrossentropy()
            top5 = keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5")
        metrics = ["accuracy"] + ([top5] if data.num_classes > 5 else [])
        # Weighted: the held-out split over several replicas carries weights (0 for its
        # padding rows, see create_input_pipeline); training batches carry none.
        model.compile(optimizer=optimizer, loss=loss, weighted_metrics=metrics,
                      jit_compile=config.jit_compile,
                      steps_per_execution=config.steps_per_execution)
    _keras_compat.prebuild(model, strategy, data.train_fn(None))
    _keras_compat.exact_steps_per_execution(model, strategy, data.steps_per_epoch)
    return model


def create_model_and_optimizer(config, strategy, data, learning_rate, freeze="none"):
    """Builds `config.model` for the dataset's classes (with `config.weights`) under
    `strategy`, freezes it as `freeze` says and compiles it."""
    with strategy.scope():
        model = set_trainable(_build_model(config, data.num_classes), freeze)
    return compile_model(model, config, strategy, data, learning_rate)


def create_callbacks(config, data, work_dir, output_dir, chief, bn_sync):
    """The callbacks of `fit`, sharing one `RunState`; `bn_sync` is the run's
    `callbacks.BatchNormSync`, first, so that validation and checkpoints see averaged
    statistics.

    Returns:
        (list of callbacks, the ResumableBackup, the MetricsLogger, the RunState).
    """
    paths = run_paths(work_dir)
    state = cb.RunState()
    logger = cb.MetricsLogger(paths["csv"], paths["json"], state=state, extra={
        "model": config.model, "dataset": config.dataset, "recipe": config.recipe})
    # Every worker resumes from the chief's backup (a shared output_dir), or their
    # initial epochs would differ and the collectives never meet.
    ema = create_ema(config, data)
    backup = cb.ResumableBackup(run_paths(output_dir)["backup"], state=state, chief=chief,
                                ema=ema, settings=run_fingerprint(config, data))
    cb.remove_stale_temp(work_dir)
    # The backup commits last: see ResumableBackup.
    callbacks = [
        bn_sync,
        backup,
        cb.FailPoints() if faults.enabled() else None,
        cb.NaNGuard(state),
        ema,
        logger,
        cb.Checkpointer(work_dir, previous_rows=logger.rows, state=state),
        cb.tensorboard(paths["logs"]),
        cb.CorruptReporter([data.train_source, data.eval_source]),
        cb.CommitEpoch(backup),
    ]
    callbacks = [c for c in callbacks if c is not None]
    if config.schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.1, patience=config.plateau_patience))
    return callbacks, backup, logger, state


def create_ema(config, data):
    """The weight EMA of the run (`ema_lib.ModelEMA`), or None when ema_decay is 0."""
    if not config.ema_decay:
        return None
    decay, start = config.ema_decay, 0
    if config.ema_adjust:  # torchvision's train.py
        decay = ema_lib.adjusted_decay(config.ema_decay, global_batch=data.global_batch,
                                       every=config.ema_every, epochs=data.epochs)
        start = int(round(config.warmup_epochs * data.steps_per_epoch))
    return ema_lib.ModelEMA(decay, every=config.ema_every, start_step=start)


def evaluate(model, data, multi_worker):
    """{"loss", "accuracy"[, "top5"]} of `model` on the held-out split."""
    if multi_worker:
        # Every worker scores the whole held-out split, so all report the same number.
        return _evaluate_locally(model, data.eval_fn(None), data.num_classes)
    return model.evaluate(data.eval_data, verbose=0, return_dict=True)


def on_cpu():
    """Whether this process trains on its CPU alone (no GPU or TPU is visible)."""
    return not any(tf.config.list_logical_devices(kind) for kind in ("GPU", "TPU"))


def _fit(model, config, data, callbacks, backup, initial_epoch, epochs, multi_worker):
    try:
        with (_keras_compat.multi_worker_log_reduction_fix(multi_worker),
              _keras_compat.fast_conv_input_gradient(on_cpu())):
            # Each fit reads the stream from its first epoch on: a resumed run sees
            # the batches that the uninterrupted run saw in the same epochs.
            model.fit(data.train_data_at(initial_epoch), epochs=epochs,
                      initial_epoch=initial_epoch,
                      steps_per_epoch=data.steps_per_epoch, validation_data=data.eval_data,
                      callbacks=callbacks, verbose=config.verbose)
    except _COLLECTIVE_ERRORS as error:
        if not multi_worker:
            raise
        raise WorkerLost(
            f"A peer worker likely died: a collective operation failed "
            f"({type(error).__name__}: {_error_summary(error)}); collectives wait at most "
            f"collective_timeout={config.collective_timeout} s. Run every worker again "
            f"with the same command to resume after epoch {backup.committed_epoch()}."
        ) from error


def _run(config, strategy, work_dir, output_dir, chief, start):
    variant = keras_resnet.get_variant(config.model)
    data = create_input_pipeline(
        config, strategy, weights_lib.preprocessing_for(config.weights, variant.name))
    bn_sync = cb.BatchNormSync(strategy)
    callbacks, backup, logger, state = create_callbacks(config, data, work_dir, output_dir,
                                                        chief, bn_sync)
    check_resume(config, data, backup, output_dir)
    phases = training_phases(config, data.epochs)
    committed = backup.committed_epoch()
    # The backup holds the optimizer of the phase that wrote it (a linear probe's has
    # the classifier's variables only): compile that phase, restore, then go on.
    current = next(i for i, (_, end, _) in enumerate(phases) if committed <= end)
    first, end, freeze = phases[current]
    learning_rate, lr = create_learning_rate_fn(config, data, end - first)
    model = create_model_and_optimizer(config, strategy, data, learning_rate, freeze)
    print(f"model={config.model} dataset={config.dataset} recipe={config.recipe} "
          f"replicas={data.replicas} global_batch={data.global_batch} lr={lr:g} "
          f"epochs={data.epochs} steps_per_epoch={data.steps_per_epoch} "
          f"train={data.train_source.num_examples} eval={data.eval_source.num_examples}")
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    with strategy.scope():
        try:
            committed = backup.restore(model)
        except cb.ResumeError as error:
            raise ConfigError(str(error)) from None
    for index in range(current, len(phases)):
        first, end, freeze = phases[index]
        if state.diverged:
            break
        if index != current:
            set_trainable(model, freeze)
            compile_model(model, config, strategy, data,
                          create_learning_rate_fn(config, data, end - first)[0])
        if committed >= end:
            continue
        state.initial_epoch = max(first, committed)
        _fit(model, config, data, callbacks, backup, state.initial_epoch, end, multi_worker)
    paths = run_paths(work_dir)
    if state.diverged:
        raise diverged(state, backup, paths)

    if backup.ema is not None:
        backup.ema.swap_in(model)  # the averaged weights are the run's model
    bn_sync(model)  # every replica (and worker) scores and saves the same statistics
    scores = evaluate(model, data, multi_worker)
    # The final model goes through the same check as every epoch's state.
    if not state.may_save(model, data.epochs, {"val_loss": scores["loss"]}):
        raise diverged(state, backup, paths, final=True)
    cb.save_keras(model, os.path.join(work_dir, "model.keras"), point="final_save")
    skipped = data.train_source.skipped() + data.eval_source.skipped()
    result = {
        "test_accuracy": float(scores["accuracy"]), "test_loss": float(scores["loss"]),
        "epochs": data.epochs, "steps_per_epoch": data.steps_per_epoch,
        "global_batch_size": data.global_batch, "replicas": data.replicas,
        "learning_rate": lr, "seconds": time.time() - start, "skipped_images": skipped,
        "image_size": config.image_size, "eval_image_size": eval_image_size(config),
        "eval_resize_size": config.eval_resize_size,
        "num_classes": data.num_classes, "preprocessing": data.normalization.as_dict(),
        "weights": None if config.weights is None else str(config.weights),
        "freeze": config.freeze, "linear_probe_epochs": config.linear_probe_epochs,
        "output_dir": output_dir, "model_path": os.path.join(output_dir, "model.keras"),
    }
    if "top5" in scores:
        result["test_top5"] = float(scores["top5"])
    logger.write(**{k: v for k, v in result.items() if k != "output_dir"})
    if logger.rows:
        cb.plot_curves(logger.rows, paths["png"], title=f"{config.model} on {config.dataset}")
    if config.export and chief:
        result["export_dir"] = export(model, config, data.train_source, data.eval_source,
                                      data.normalization)
    backup.clear()  # the run is complete: a rerun starts over
    result["model"] = model
    return result


def diverged(state, backup, paths, final=False):
    """The TrainingDiverged error of `state`: where, what, and what is kept."""
    committed = backup.committed_epoch()
    where = "the final model" if final else f"epoch {state.nan_epoch + 1}"
    if committed:
        last = f", last.keras: {paths['last']}" if os.path.exists(paths["last"]) else ""
        kept = (f"the backup stays at epoch {committed}{last}, so a rerun resumes after "
                f"epoch {committed}")
    else:
        kept = "nothing was committed yet, so a rerun starts from epoch 0"
    return TrainingDiverged(
        f"Training diverged at {where}: {state.problem}. Nothing of it was saved; {kept}. "
        "Lower --learning_rate (or use --mixed_precision=float32) and run again.")


def _error_summary(error):
    """The cause of a TensorFlow op error on one line: the traceback, node names and
    TensorFlow's generic advice removed, at most 240 characters."""
    text = re.sub(r"\{\{function_node [^}]*\}\}|\[\[\{\{node [^}]*\}\}\]\]|\[Op:[^\]]*\]",
                  " ", str(error)).split("The error could be from a previous operation")[0]
    lines = [line.strip() for line in text.splitlines()]
    causes = [line for line in lines if line and not line.startswith(
        ("File ", "Graph execution error", "Detected at node", "Traceback"))]
    return " ".join(" ".join(causes).split())[:240]


def _evaluate_locally(model, dataset, num_classes):
    """Loss, accuracy and top-5 of `model` on `dataset`, computed eagerly in this process."""
    total, correct, top5, loss_sum = 0, 0, 0, 0.0
    for images, labels in dataset:
        probabilities = tf.cast(model(images, training=False), tf.float32)
        if labels.shape.rank == 2:
            labels = tf.argmax(labels, axis=-1, output_type=tf.int32)
        total += int(labels.shape[0])
        correct += int(tf.reduce_sum(tf.cast(
            tf.argmax(probabilities, -1, output_type=tf.int32) == labels, tf.int32)))
        top5 += int(tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, probabilities, 5), tf.int32)))
        loss_sum += float(tf.reduce_sum(
            keras.losses.sparse_categorical_crossentropy(labels, probabilities)))
    scores = {"accuracy": correct / total, "loss": loss_sum / total}
    if num_classes > 5:
        scores["top5"] = top5 / total
    return scores


def run_paths(directory):
    """Files of a run directory."""
    join = os.path.join
    return {"csv": join(directory, "metrics.csv"), "json": join(directory, "metrics.json"),
            "png": join(directory, "curves.png"), "backup": join(directory, "backup"),
            "logs": join(directory, "logs"), "last": join(directory, "last.keras"),
            "best": join(directory, "best.keras"), "model": join(directory, "model.keras")}


def _build_model(config, num_classes):
    """`config.model` for `num_classes`, with `config.weights` loaded.

    Raises:
        ConfigError: the weights do not fit the model (the loader's message names the
            first mismatching layer and both shapes) or cannot be read.
    """
    options = dict(config.model_options)
    if config.weight_decay_mode == "l2" and config.weight_decay > 0:
        # Keras L2(l) adds l * sum(w^2), whose gradient 2lw equals the paper's decay wd*w
        # at l = wd / 2.
        options.setdefault("kernel_regularizer", keras.regularizers.L2(config.weight_decay / 2))
    channels = options.pop("channels", 3)
    # Built at the smaller size, so the builder checks it against the network's stride;
    # with a train/eval split the model then takes any height and width.
    sizes = {config.image_size, eval_image_size(config)}
    options["input_shape"] = (min(sizes), min(sizes), channels)
    if config.loss == "bce":
        options["classifier_activation"] = "sigmoid"  # one-vs-all outputs
    model = _create_model(config, num_classes, options)
    return model if len(sizes) == 1 else evaluate_lib.with_input_size(model, None)


def _create_model(config, num_classes, options):
    if config.weights is None:
        return keras_resnet.create_model(config.model, classes=num_classes, **options)
    try:
        model = keras_resnet.create_model(
            config.model, classes=num_classes,
            **{**weights_lib.build_options(config.weights, variant=config.model), **options})
        # A classifier that the checkpoint cannot fill (other classes) starts at zero:
        # uniform predictions, so the first gradients do not push the pretrained
        # features around with the logits of a random head (BiT's fine-tuning,
        # Kolesnikov et al. 2020, starts its new head at zero too). "auto" loads the
        # checkpoint's classifier only where its shape fits.
        head = model.get_layer(HEAD)
        head.set_weights([np.zeros_like(w) for w in head.get_weights()])
        return weights_lib.load_weights(model, config.weights, variant=config.model,
                                        skip_head="auto")
    except (ValueError, OSError, ImportError) as error:
        # One line: the command-line tools print it as their single error line.
        why = " ".join(str(error).split())
        raise ConfigError(f"weights={config.weights!r} cannot be loaded into "
                          f"model={config.model!r}: {why}") from None


def set_trainable(model, freeze):
    """Makes `model`'s layers trainable as `freeze` says (see FREEZE_MODES); compile
    again afterwards, as Keras reads `trainable` at compile time."""
    for layer in model.layers:
        if freeze == "backbone":
            layer.trainable = layer.name == HEAD
        elif freeze == "bn":
            layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
        else:
            layer.trainable = True
    return model


def training_phases(config, epochs):
    """[(first epoch, end epoch, freeze)] of the `fit` calls of a run: a linear probe of
    `config.linear_probe_epochs` epochs (classifier only), then the rest with
    `config.freeze`; one phase without a probe."""
    probe = int(config.linear_probe_epochs or 0)
    if probe:
        return [(0, probe, "backbone"), (probe, epochs, config.freeze)]
    return [(0, epochs, config.freeze)]


def export_directory(config):
    """Where `--export` writes: export_dir, else saved_models/<variant name>."""
    name = keras_resnet.get_variant(config.model).name
    return config.export_dir or os.path.join("saved_models", name)


def check_export_destination(config):
    """Refuses, before any training, an export destination that exists (unless
    overwrite_export), that is not an export folder or that cannot be written, as
    scripts/export.py does."""
    from keras_resnet.export import publish  # optional dependency, loaded on demand

    try:
        publish.check_destination(export_directory(config), config.overwrite_export)
    except FileExistsError as error:
        raise ConfigError(f"{error} With train.py: --overwrite_export or another "
                          "--export_dir.") from None
    except ValueError as error:
        raise ConfigError(f"{error} With train.py: another --export_dir.") from None


def export(model, config, train_source, eval_source, normalization):
    """Hands the trained model to keras_resnet.export with calibration and parity data,
    at the eval size: a model trained at another size is exported as a copy with a
    fixed eval_image_size input, which the exporters need."""
    from keras_resnet.export import export_model  # optional dependency, loaded on demand

    size = eval_image_size(config)
    if model.input_shape[1] != size:
        model = evaluate_lib.with_input_size(model, size)
    sample = dict(image_size=size, augment=config.augment, normalization=normalization,
                  resize_size=config.eval_resize_size)
    representative = data_lib.sample_images(train_source, min(128, train_source.num_examples),
                                            **sample)
    parity = data_lib.sample_images(eval_source, min(32, eval_source.num_examples), **sample)
    name = keras_resnet.get_variant(config.model).name
    directory = export_directory(config)
    export_model(model, output_dir=directory, model_name=name, formats="all",
                 representative_data=representative, parity_data=parity,
                 class_names=train_source.class_names, preprocessing=normalization.as_dict(),
                 overwrite=config.overwrite_export)
    return directory


def summary_json(result):
    """`result` without the model object, as JSON text."""
    return json.dumps({k: v for k, v in result.items() if k != "model"}, indent=2,
                      default=lambda v: float(v) if isinstance(v, (np.floating, float)) else str(v))


__all__ = ["ConfigError", "TrainConfig", "TrainingDiverged", "WorkerLost", "build_config",
           "RunFolderLocked", "run_fingerprint", "check_resume", "discard_run",
           "train_and_evaluate", "set_trainable", "training_phases",
           "create_input_pipeline", "create_learning_rate_fn", "create_model_and_optimizer",
           "compile_model", "create_callbacks", "evaluate",
           "validate", "prepare_output_dir", "run_paths", "summary_json"]
