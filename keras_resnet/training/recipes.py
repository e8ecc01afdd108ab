"""Training recipes as data: each is a dict of `TrainConfig` fields.

- "digits": the fast default (ResNet-20 on scikit-learn digits upscaled to 32x32).
- "imagenet": the paper's ImageNet recipe (SGD 0.9, weight decay 1e-4 as L2, batch 256,
  lr 0.1 x batch/256, /10 at epochs 30 and 60, 90 epochs, random-resized crop 224 + flip).
- "cifar": the paper's CIFAR-10 recipe (batch 128, lr 0.1, /10 at 32k and 48k iterations,
  stop at 64k; weight decay 1e-4; pad 4 + crop + flip). Iterations become epochs through
  the training set size; ResNet-110/1202 warm up at lr 0.01 for 400 iterations.
- "cifar_cosine": batch 128, lr 0.1, cosine annealing over 200 epochs, weight decay 5e-4.
- "finetune": pretrained ResNet-50 ("imagenet" weights) on a folder of images at 224
  (pass --dataset=folder:DIR). SGD momentum 0.9 at lr 0.01 for batch 256 (scaled
  linearly: 0.00125 at the batch of 32): a tenth of the from-scratch rate, the usual
  fine-tuning choice (Kornblith et al. 2019 fine-tune ImageNet ResNets with SGD 0.9 and
  a grid around 0.01 at batch 256; torchvision's transfer-learning tutorial uses 0.001
  at batch 4, within a few x of the same per-image rate). Cosine over 10 epochs after
  one epoch of warmup, label smoothing 0.1, decoupled weight decay 1e-4 (BN and biases
  excluded), so that the small dataset does not pull the weights far from the
  checkpoint; RandomResizedCrop + flip.
"""

import math

RECIPES = {
    "digits": dict(
        model="resnet20", dataset="digits", epochs=15, batch_size=64, learning_rate=0.1,
        base_batch_size=64, momentum=0.9, weight_decay=5e-4, weight_decay_mode="l2",
        schedule="cosine", warmup_epochs=1, augment="shift", image_size=32,
        label_smoothing=0.0),
    "imagenet": dict(
        model="resnet50", dataset="imagenet2012", epochs=90, batch_size=256,
        learning_rate=0.1, base_batch_size=256, momentum=0.9, weight_decay=1e-4,
        weight_decay_mode="l2", schedule="step", step_epochs=(30, 60), warmup_epochs=0,
        augment="imagenet", image_size=224, label_smoothing=0.0),
    "cifar": dict(
        model="resnet56", dataset="cifar10", batch_size=128, learning_rate=0.1,
        base_batch_size=128, momentum=0.9, weight_decay=1e-4, weight_decay_mode="l2",
        schedule="step", total_iterations=64_000, step_iterations=(32_000, 48_000),
        warmup_epochs=0, augment="cifar", image_size=32, label_smoothing=0.0,
        # The paper: "we use 0.01 to warm up the training until the training error is
        # below 80% (about 400 iterations), and then go back to 0.1".
        warmup_for_models={"resnet110": 400, "resnet1202": 400}, warmup_mode="constant",
        warmup_factor=0.1),
    "cifar_cosine": dict(
        model="resnet56", dataset="cifar10", epochs=200, batch_size=128, learning_rate=0.1,
        base_batch_size=128, momentum=0.9, weight_decay=5e-4, weight_decay_mode="l2",
        schedule="cosine", warmup_epochs=0, augment="cifar", image_size=32,
        label_smoothing=0.0),
    "finetune": dict(
        model="resnet50", weights="imagenet", freeze="none", epochs=10, batch_size=32,
        learning_rate=0.01, base_batch_size=256, momentum=0.9, weight_decay=1e-4,
        weight_decay_mode="decoupled", schedule="cosine", warmup_epochs=1,
        augment="imagenet", image_size=224, label_smoothing=0.1),
}


def list_recipes():
    """Names of the recipes, sorted."""
    return sorted(RECIPES)


def get_recipe(name):
    """A copy of the recipe `name`; unknown names raise ValueError listing the choices."""
    if name not in RECIPES:
        raise ValueError(f"Unknown recipe={name!r}. Allowed values: {list_recipes()}.")
    return dict(RECIPES[name])


def iterations_to_epochs(iterations, steps_per_epoch):
    """Converts an iteration count to whole epochs (at least 1), rounding to nearest."""
    return max(1, int(math.floor(iterations / steps_per_epoch + 0.5)))
