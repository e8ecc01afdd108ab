"""Losses of the recipes: softmax cross-entropy, and timm's binary cross-entropy on
(mixed) targets as "ResNet strikes back" trains with.

- "ce": categorical cross-entropy on one-hot (or mixed) targets with label smoothing
  y (1 - s) + s / K, which is linear, so it commutes with mixup/cutmix.
- "bce": timm's `BinaryCrossEntropy` (`timm/loss/binary_cross_entropy.py`): targets are
  smoothed as timm does (off = s / K, on = 1 - s + off), optionally binarized at
  `target_threshold` (RSB A1 uses 0.2), and each class is a sigmoid output. The model is
  then built with `classifier_activation="sigmoid"`.
"""

import keras
from keras import ops

LOSSES = ("ce", "bce")


@keras.saving.register_keras_serializable(package="keras_resnet")
class BinaryCrossEntropy(keras.losses.Loss):
    """timm's binary cross-entropy on soft targets, for sigmoid outputs.

    Args:
        smoothing: float in [0, 1). Label smoothing, timm's way. Defaults to 0.
        target_threshold: float or None. Targets above it become 1, others 0.
            Defaults to None.
    """

    def __init__(self, smoothing=0.0, target_threshold=None, name="binary_cross_entropy",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1). "
                             f"Received: label_smoothing={smoothing!r}.")
        if target_threshold is not None and not 0.0 <= target_threshold < 1.0:
            raise ValueError(f"bce_target_threshold must be in [0, 1). "
                             f"Received: bce_target_threshold={target_threshold!r}.")
        self.smoothing, self.target_threshold = float(smoothing), target_threshold

    def targets(self, y_true, num_classes):
        y_true = ops.cast(y_true, "float32")
        if self.smoothing:
            off = self.smoothing / num_classes
            y_true = y_true * (1.0 - self.smoothing) + off  # on = 1 - s + off
        if self.target_threshold is not None:
            y_true = ops.cast(y_true > self.target_threshold, "float32")
        return y_true

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        y_true = self.targets(y_true, ops.shape(y_pred)[-1])
        # Summed over classes then averaged over the batch would be timm's "sum"; timm
        # takes the mean over every element (F.binary_cross_entropy_with_logits).
        return ops.mean(keras.losses.binary_crossentropy(
            y_true[..., None], y_pred[..., None]), axis=-1)

    def get_config(self):
        return {**super().get_config(), "smoothing": self.smoothing,
                "target_threshold": self.target_threshold}


def create_loss(name, *, label_smoothing=0.0, bce_target_threshold=None):
    """The loss `name` ("ce" or "bce") for one-hot targets."""
    if name not in LOSSES:
        raise ValueError(f"Unknown loss={name!r}. Allowed values: {list(LOSSES)}.")
    if name == "bce":
        return BinaryCrossEntropy(label_smoothing, bce_target_threshold)
    return keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
