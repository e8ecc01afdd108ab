"""The transfer-learning demonstration on scikit-learn's digits: a "pretrained"
torchvision-format `.pth` made here, then fine-tuning on other classes with few images.

No download can happen on the machines this project is tested on, so the pretrained
file is made the way torchvision's are: a ResNet-18 (ImageNet stem) is trained on digits
0-4 and its weights are saved with `torch.save` as a state dict under torchvision's
names (`keras_resnet.weights.torchvision_state_dict`, the inverse of the torchvision
loader's mapping). Digits 5-9 are written as a folder of PNGs (`train/` with few images per
class, `val/` with every held-out image) for `scripts/train.py --dataset=folder:DIR`.

Used by scripts/make_transfer_demo.py, by docs/finetuning.md's numbers and by
tests/training/test_finetune.py, so all three run the same code.
"""

import os

import numpy as np

from keras_resnet.io import save_atomically
from keras_resnet.weights import torchvision_state_dict

PRETRAIN_CLASSES = (0, 1, 2, 3, 4)
FINETUNE_CLASSES = (5, 6, 7, 8, 9)


def save_torchvision_state_dict(model, path):
    """Writes `model`'s weights to `path` with torch.save, as torchvision's files are."""
    import torch

    state = {name: torch.from_numpy(np.ascontiguousarray(value))
             for name, value in torchvision_state_dict(model).items()}
    save_atomically(lambda tmp: torch.save(state, tmp), path)
    return path


def write_digit_folder(root, classes, per_class=None, seed=0):
    """Writes digits of `classes` as 8x8 RGB PNGs: `root/train/<digit>/` (at most
    `per_class` images per class, all when None) and `root/val/<digit>/` (every
    held-out image of keras_resnet.data's digits split). The pipeline upscales them to
    the model input, as the "digits" source does.

    Returns:
        dict {"train": images written, "val": images written}.
    """
    import tensorflow as tf

    from keras_resnet.data.sources import digits_arrays

    splits = digits_arrays(seed=seed)
    counts = {}
    for split, folder in (("train", "train"), ("eval", "val")):
        images, labels = splits[split]
        counts[folder] = 0
        for digit in classes:
            chosen = images[labels == digit]
            if split == "train" and per_class is not None:
                chosen = chosen[:per_class]
            directory = os.path.join(root, folder, str(digit))
            os.makedirs(directory, exist_ok=True)
            for index, image in enumerate(chosen):
                png = tf.io.encode_png(np.repeat(image, 3, axis=-1)).numpy()
                with open(os.path.join(directory, f"{index:04d}.png"), "wb") as f:
                    f.write(png)
            counts[folder] += len(chosen)
    return counts


def make_demo(root, *, per_class=5, pretrain_epochs=8, image_size=32, verbose=0):
    """Writes `root/pretrain/` (digits 0-4), trains ResNet-18 on it, saves
    `root/resnet18_digits04.pth`, and writes `root/finetune/` (digits 5-9, `per_class`
    training images each).

    Returns:
        dict with "pth", "pretrain_dir", "finetune_dir", "pretrain_accuracy" and the
        image counts.
    """
    from keras_resnet.training import loop

    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class must be an integer >= 1. Received: per_class={per_class!r}.")
    pretrain_dir = os.path.join(root, "pretrain")
    finetune_dir = os.path.join(root, "finetune")
    counts = write_digit_folder(pretrain_dir, PRETRAIN_CLASSES)
    config = loop.build_config(
        "digits", model="resnet18", dataset=f"folder:{pretrain_dir}",
        epochs=pretrain_epochs, image_size=image_size, batch_size=32, base_batch_size=32,
        learning_rate=0.05, output_dir=os.path.join(root, "pretrain_run"), verbose=verbose,
        deterministic=True)
    result = loop.train_and_evaluate(config)
    pth = save_torchvision_state_dict(result["model"],
                                      os.path.join(root, "resnet18_digits04.pth"))
    finetune_counts = write_digit_folder(finetune_dir, FINETUNE_CLASSES, per_class=per_class)
    return {"pth": pth, "pretrain_dir": pretrain_dir, "finetune_dir": finetune_dir,
            "pretrain_accuracy": result["test_accuracy"], "pretrain_images": counts,
            "finetune_images": finetune_counts}


def finetune_settings(folder, weights, *, epochs=15, output_dir="runs/transfer_demo/run"):
    """`build_config` arguments of the docs' comparison: the finetune recipe on the
    digits 5-9 folder at 32x32, batch 5 at lr 0.01 (not scaled: with 25 images an
    epoch is 5 steps), `weights` a .pth path or "none" for training from scratch;
    deterministic, so that the comparison is the same number on every rerun."""
    return dict(recipe="finetune", dataset=f"folder:{folder}", model="resnet18",
                weights=weights, image_size=32, augment="shift", batch_size=5,
                epochs=epochs, scale_lr=False, learning_rate=0.01, output_dir=output_dir,
                deterministic=True, verbose=0)
