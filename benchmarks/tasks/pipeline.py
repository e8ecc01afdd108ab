"""The input-pipeline task: images per second of `keras_resnet.data.make_dataset`'s
ImageNet training pipeline over generated JPEG files, with the paper's augmentation or
torchvision's V2 recipe's (TrivialAugment Wide, random erasing 0.1, mixup 0.2, cutmix
1.0, train crop 176)."""

import time

import numpy as np

from benchmarks import timing

# make_dataset arguments of each augmentation set (train crop size given separately).
AUGMENTATIONS = {
    "paper": {},
    "torchvision_v2": {"auto_augment": "trivialaugment", "random_erase": 0.1,
                       "mix": {"mixup_alpha": 0.2, "cutmix_alpha": 1.0}},
}


def input_pipeline(folder, *, batch, image_size, batches, augmentations="paper"):
    """Images per second of the ImageNet training input path (JPEG decode, random-resized
    crop, flip, normalize, batch) over the JPEG files in `folder` (one subfolder per
    class), with tf.data's default parallelism over all cores.

    It times `keras_resnet.data.make_dataset` itself, as the training loop builds it
    for ImageNet (shuffled, repeated, "imagenet" augmentation, "torch" normalization),
    except that nothing is cached: the few generated files count as a small source,
    which is cached by default and then decoded once, while ImageNet's 1.28M images are
    decoded every epoch.

    Args:
        folder: str. Image folder (see `make_jpegs`).
        batch: int. Batch size.
        image_size: int. Crop side.
        batches: int. Timed batches (after 3 warm-up batches).
        augmentations: str. A key of `AUGMENTATIONS`. Defaults to "paper".
    """
    from keras_resnet.data import MixConfig, Normalization, load_source, make_dataset

    if augmentations not in AUGMENTATIONS:
        raise ValueError(f"Unknown augmentations={augmentations!r}. "
                         f"Allowed values: {sorted(AUGMENTATIONS)}.")
    extra = dict(AUGMENTATIONS[augmentations])
    if "mix" in extra:
        extra.update(mix=MixConfig(**extra["mix"]), one_hot=True)
    source = load_source(f"folder:{folder}", "train", holdout_fraction=0.0)
    dataset = make_dataset(source, training=True, batch_size=batch, image_size=image_size,
                           augment="imagenet", normalization=Normalization.from_mode("torch"),
                           cache=False, repeat=True, num_classes=source.num_classes, **extra)
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
             "augmentations": augmentations, "image_size": image_size,
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
