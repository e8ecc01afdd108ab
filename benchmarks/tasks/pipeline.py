"""The input-pipeline task: images per second of keras_resnet.data's ImageNet training
input path over generated JPEG files."""

import time

import numpy as np

from benchmarks import timing


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
