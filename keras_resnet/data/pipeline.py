"""tf.data input pipelines: decode, augment, normalize, batch, shard, prefetch."""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_resnet.data import augment as augment_lib
from keras_resnet.data import mixing, policies
from keras_resnet.data.sources import decode_image, graph_only
from keras_resnet.models import preprocessing

AUTOTUNE = tf.data.AUTOTUNE


@dataclasses.dataclass(frozen=True)
class Normalization:
    """How pixels become model inputs: `(x[..., order] - mean) / std`, in 0..255 scale.

    Attributes:
        mode: str. "torch", "caffe" or "tf" (see keras_resnet.models.preprocessing).
        mean: tuple of 3 floats.
        std: tuple of 3 floats.
        channel_order: str. "RGB" or "BGR".
    """

    mode: str
    mean: tuple
    std: tuple
    channel_order: str

    @classmethod
    def from_mode(cls, mode):
        mean, std = preprocessing.normalization(mode)
        return cls(mode, tuple(float(m) for m in mean), tuple(float(s) for s in std),
                   preprocessing.channel_order(mode))

    def as_dict(self):
        """The record the exporters store: mode, mean, std, channel_order."""
        return dataclasses.asdict(self)

    def __call__(self, image):
        """Normalizes float32 RGB images (..., H, W, 3) in 0..255."""
        if self.channel_order == "BGR":
            image = image[..., ::-1]
        return (image - tf.constant(self.mean, tf.float32)) / tf.constant(self.std, tf.float32)


def make_dataset(source, *, training, batch_size, image_size, augment, normalization,
                 num_classes=None, one_hot=False, channels=3, cache=None, shuffle_buffer=None,
                 seed=0, deterministic=False, input_context=None, repeat=False,
                 auto_augment="none", magnitude=9, magnitude_std=0.5, random_erase=0.0,
                 mix=None, repeated_augmentation=1, resize_size=None, first_epoch=0,
                 steps_per_epoch=None, pad_final_batch=False):
    """Builds the input pipeline of one split.

    A training pipeline is a stream of epochs, each a function of (seed, epoch) alone:
    epoch e is its own shuffle of the data (seeded from `seed` and e) whose examples
    get stateless augmentation seeds from (seed, e, position), and it yields exactly
    `steps_per_epoch` batches. So a run resumed at `first_epoch` (after a kill, from
    the last committed epoch) sees the very batches the uninterrupted run saw, and an
    epoch capped at `steps_per_epoch` batches is followed by the next epoch's shuffle,
    not by the rest of this one. Why not skip the committed epochs' batches instead:
    skipping decodes and shuffles every skipped example again (hours on ImageNet late
    in a run), while a new epoch costs one shuffle-buffer fill, as each pass of a
    repeated pipeline does. The shuffle stays global (a buffer of the whole split up to
    10,000 examples, as before) and the augmentation stays in one parallel map.

    Args:
        source: `keras_resnet.data.Source`.
        training: bool. Shuffle, augment and drop the last partial batch.
        batch_size: int. Batch size of this pipeline (per worker: the global batch
            divided over input pipelines by the caller or `input_context`).
        image_size: int. Side of the square model input: the training crop, or the
            evaluation crop of a held-out split (a run's eval_image_size).
        augment: str. One of `keras_resnet.data.augment.MODES`.
        normalization: `Normalization`.
        num_classes: int or None. Needed when `one_hot`. Defaults to None.
        one_hot: bool. Labels as float32 one-hot vectors (for label smoothing).
            Defaults to False (int32 labels).
        channels: int. Channels of the model input; grayscale sources are repeated to 3.
            Defaults to 3.
        cache: bool or None. Cache decoded images in memory; None caches small sources.
            Defaults to None.
        shuffle_buffer: int or None. None uses min(num_examples, 10_000). Defaults to None.
        seed: int. Seed of shuffling and augmentation. Defaults to 0.
        deterministic: bool. Keep element order fixed under parallel map (slower).
            Defaults to False.
        input_context: `tf.distribute.InputContext` or None. Shards the data per input
            pipeline and batches it by the per-replica batch derived from the global
            `batch_size` (for `distribute_datasets_from_function`).
            Defaults to None.
        repeat: bool. Repeat forever (the caller then gives steps_per_epoch).
            Defaults to False.
        auto_augment: str. Training policy of `keras_resnet.data.policies`: "none",
            "trivialaugment", "randaugment" or "autoaugment". Defaults to "none".
        magnitude: float. RandAugment magnitude M (0..10). Defaults to 9.
        magnitude_std: float. RandAugment magnitude noise. Defaults to 0.5.
        random_erase: float. Probability of torchvision's RandomErasing on each
            training image (after normalization). Defaults to 0.
        mix: `keras_resnet.data.MixConfig` or None. Batch-level mixup / cutmix of
            training batches; needs `one_hot`. Defaults to None.
        repeated_augmentation: int. Repeated augmentation (Hoffer et al. 2020; the
            `--ra-reps` of torchvision's RASampler and timm's `--aug-repeats`): each
            shuffled training image comes this many times in a row, each copy with its
            own augmentation, so copies share a global batch. An epoch keeps its number
            of steps, so it sees 1/repeated_augmentation of the images. Defaults to 1.
        resize_size: int or None. Held-out splits only: the shorter side images are
            resized to before the center `image_size` crop (torchvision's
            --val-resize-size). None: the augment mode's evaluation view.
            Defaults to None.
        first_epoch: int. 0-based epoch a training stream starts at (a resumed run's
            committed epochs). Defaults to 0.
        steps_per_epoch: int or None. Batches of each training epoch (as `fit`'s
            steps_per_epoch; with `input_context`, the global steps: each pipeline then
            yields its share of the global batches). None: one pass over the examples,
            less the last partial batch. Defaults to None.
        pad_final_batch: bool. Held-out splits only: every batch has exactly
            `batch_size` rows, the last one padded with zero images, and a third
            element gives each row's weight (1 real, 0 padding). Under a strategy of R
            replicas a last batch of fewer than R examples would leave some replicas an
            empty batch, which fails in oneDNN's CPU convolutions (TensorFlow 2.21,
            AVX-512 hosts: "Incompatible shapes: [C] vs. [0,H,W,3]"); with weights,
            Keras' accuracy metrics count each real example once. Defaults to False.

    Returns:
        `tf.data.Dataset` of (float32 images (B, S, S, channels), labels), and weights
        (B,) with `pad_final_batch`.
    """
    augment_lib.check_mode(augment)
    policies.check_policy(auto_augment)
    if one_hot and not num_classes:
        raise ValueError("one_hot=True needs num_classes.")
    if not 0.0 <= random_erase <= 1.0:
        raise ValueError(f"random_erase must be a probability in [0, 1]. "
                         f"Received: random_erase={random_erase!r}.")
    if auto_augment != "none" and channels != 3:
        raise ValueError(f"auto_augment={auto_augment!r} works on RGB images; the model "
                         f"takes channels={channels}. Use auto_augment='none'.")
    if isinstance(repeated_augmentation, bool) or not isinstance(repeated_augmentation, int) \
            or repeated_augmentation < 1:
        raise ValueError(f"repeated_augmentation must be an integer >= 1. "
                         f"Received: repeated_augmentation={repeated_augmentation!r}.")
    if resize_size is not None and (isinstance(resize_size, bool)
                                    or not isinstance(resize_size, (int, np.integer))
                                    or resize_size < image_size):
        raise ValueError(f"resize_size must be an integer >= image_size={image_size} (the "
                         f"center crop is taken from the resized image). "
                         f"Received: resize_size={resize_size!r}.")
    mixing_on = training and mix is not None and mix.enabled
    if mixing_on and not one_hot:
        raise ValueError("mixup/cutmix mix the targets: they need one_hot=True.")
    dataset = source.dataset
    # Examples of this pipeline in one step: the global batch over the input pipelines.
    step_examples, pass_examples = batch_size, source.num_examples
    if input_context is not None:
        # distribute_datasets_from_function hands each replica its own element, so
        # elements are per-replica batches (a pipeline feeding 2 replicas with global
        # batches would double the global batch).
        pipelines = input_context.num_input_pipelines
        step_examples, pass_examples = batch_size // pipelines, pass_examples // pipelines
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        if pipelines > 1:
            dataset = dataset.shard(pipelines, input_context.input_pipeline_id)
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    options.experimental_optimization.map_parallelization = True
    # When Keras distributes an undistributed pipeline over workers, shard by element:
    # sources do not always have one file per worker.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options)

    if source.encoded:
        dataset = _decode(dataset, source)
    if cache is None:
        cache = source.small
    if cache:
        dataset = dataset.cache()
    if training:
        steps = steps_per_epoch or max(pass_examples // step_examples, 1)
        dataset = _epochs(dataset, seed=seed, first_epoch=first_epoch, repeat=repeat,
                          buffer=shuffle_buffer or min(source.num_examples, 10_000),
                          examples=steps * step_examples, copies=repeated_augmentation)
    else:
        if repeat:
            dataset = dataset.repeat()
        dataset = dataset.map(graph_only(lambda *example: (example, tf.zeros([2], tf.int64))))

    @graph_only
    def transform(example, pair):
        image, label = example
        example_seed = _int32_seed(pair)
        if training:
            image = augment_lib.train_transform(image, augment, image_size, example_seed)
        else:
            image = augment_lib.eval_transform(image, augment, image_size, resize_size)
        image.set_shape([image_size, image_size, None])
        image = _match_channels(image, channels)
        if training and auto_augment != "none":
            image = policies.apply_policy(
                image, auto_augment, tf.random.experimental.stateless_fold_in(example_seed, 1),
                magnitude=magnitude, magnitude_std=magnitude_std)
        image = normalization(image)
        if training and random_erase > 0:
            image = augment_lib.random_erase(
                image, random_erase, tf.random.experimental.stateless_fold_in(example_seed, 2))
        if one_hot:
            label = tf.one_hot(label, num_classes, dtype=tf.float32)
        return image, label, pair

    dataset = dataset.map(transform, num_parallel_calls=AUTOTUNE)
    # Training epochs hold whole batches, so batches never straddle two epochs.
    dataset = dataset.batch(batch_size, drop_remainder=training)
    if mixing_on:
        @graph_only
        def mix_fn(images, targets, pairs):
            # A batch's seed derives from its first example's: a function of (seed,
            # epoch, position) too.
            batch_seed = tf.random.experimental.stateless_fold_in(
                pairs[0], tf.constant(3, tf.int64))
            images, targets, _ = mixing.mix_batch(images, targets, _int32_seed(batch_seed),
                                                  mix)
            return images, targets

        dataset = dataset.map(mix_fn, num_parallel_calls=AUTOTUNE)
    else:
        dataset = dataset.map(graph_only(lambda images, labels, _: (images, labels)))
    if pad_final_batch and not training:
        dataset = dataset.map(graph_only(
            lambda images, labels: _pad_batch(images, labels, batch_size)))
    return dataset.prefetch(AUTOTUNE)


def _pad_batch(images, labels, batch_size):
    """(images, labels, weights) of one batch, padded to `batch_size` rows of weight 0."""
    count = tf.shape(images)[0]
    missing = batch_size - count

    def pad(tensor):
        widths = [[0, missing]] + [[0, 0]] * (tensor.shape.rank - 1)
        padded = tf.pad(tensor, widths)
        padded.set_shape([batch_size] + tensor.shape.as_list()[1:])
        return padded

    weights = tf.concat([tf.ones([count]), tf.zeros([missing])], 0)
    weights.set_shape([batch_size])
    return pad(images), pad(labels), weights


def _int32_seed(pair):
    """An int64 seed pair as the int32 pair the stateless image ops take."""
    return tf.cast(pair % (2**31 - 1), tf.int32)


def _epochs(dataset, *, seed, first_epoch, repeat, buffer, examples, copies):
    """The training stream of (example, int64 seed pair): epochs first_epoch,
    first_epoch + 1, ... (only first_epoch unless `repeat`), each `examples` examples
    of its own shuffle of `dataset`, each shuffled example `copies` times in a row."""
    key = tf.constant([seed, 0], tf.int64)

    @graph_only
    def epoch(index):
        epoch_key = tf.random.experimental.stateless_fold_in(key, index)
        # Dataset.shuffle mixes its seed with the graph-level seed, and fails on a
        # tensor seed when that is 0 (e.g. after keras.utils.set_random_seed(0)); this
        # function's own graph seed is set, so the order depends on (seed, epoch) only.
        tf.random.set_seed(1)
        order = tf.random.experimental.stateless_fold_in(epoch_key, tf.constant(0, tf.int64))
        shuffled = dataset.shuffle(buffer, seed=order[0], reshuffle_each_iteration=True)
        if copies > 1:
            shuffled = shuffled.flat_map(graph_only(
                lambda *example: tf.data.Dataset.from_tensors(example).repeat(copies)))
        # repeat(): an epoch shorter than `examples` (images dropped as corrupt) goes
        # on into a reshuffle of itself, so every epoch has its own batches; the
        # assertion fails a split that decodes to nothing, which would otherwise loop
        # over empty epochs forever.
        chosen = shuffled.repeat().take(examples).apply(
            tf.data.experimental.assert_cardinality(examples)).enumerate()
        return chosen.map(graph_only(lambda position, example: (
            example, tf.random.experimental.stateless_fold_in(epoch_key, position + 1))))

    last = 2**62 if repeat else first_epoch + 1
    return tf.data.Dataset.range(first_epoch, last).flat_map(epoch)


def _decode(dataset, source):
    counters = source.counters

    @graph_only
    def count_seen(raw, label):
        if counters is None:
            return raw, label
        with tf.control_dependencies([counters["seen"].assign_add(1)]):
            return tf.identity(raw), label

    @graph_only
    def decode(raw, label):
        image = decode_image(raw, source.channels)
        if counters is None:
            return image, label
        # The increment waits for a successful decode, so failures are not counted.
        with tf.control_dependencies([image]):
            counted = counters["ok"].assign_add(1)
        with tf.control_dependencies([counted]):
            return tf.identity(image), label

    # ignore_errors drops records whose decode fails; `seen - ok` counts them.
    return dataset.map(count_seen).map(decode, num_parallel_calls=AUTOTUNE).ignore_errors()


def _match_channels(image, channels):
    static = image.shape[-1]
    if static == channels:
        return image
    if static == 1 and channels == 3:
        return tf.image.grayscale_to_rgb(image)
    if static == 3 and channels == 1:
        return tf.image.rgb_to_grayscale(image)
    raise ValueError(f"Cannot feed {static}-channel images to a {channels}-channel model.")


def sample_images(source, count, *, image_size, augment, normalization, channels=3,
                  resize_size=None):
    """The first `count` eval-transformed, normalized images of `source` as a float32
    NumPy array (for export calibration and parity checks)."""
    dataset = make_dataset(source, training=False, batch_size=count, image_size=image_size,
                           augment=augment, normalization=normalization, channels=channels,
                           cache=False, resize_size=resize_size)
    for images, _ in dataset.take(1):
        return np.asarray(images, np.float32)
    raise ValueError(f"dataset={source.name!r} ({source.split}) yielded no images.")
