"""Batch-level mixup and cutmix on one-hot targets, as timm's `Mixup` (mode "batch").

For each batch, with probability `prob`, one of the two is applied (cutmix with
probability `switch_prob` when both alphas are > 0), pairing each example with the
batch in reverse order (timm: `x.flip(0)`):

- mixup (Zhang et al. 2018): lambda ~ Beta(mixup_alpha, mixup_alpha);
  x = lambda x + (1 - lambda) x_flipped.
- cutmix (Yun et al. 2019): lambda ~ Beta(cutmix_alpha, cutmix_alpha); a box of sides
  sqrt(1 - lambda) x (H, W), centered uniformly and clipped to the image, is pasted from
  x_flipped; lambda is then corrected to the pasted area (timm's `correct_lam`).

Targets become lambda y + (1 - lambda) y_flipped, so each row still sums to 1. It runs
in the tf.data pipeline after batching, on the normalized images, with a stateless seed
per batch.
"""

import dataclasses

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class MixConfig:
    """Settings of batch mixing.

    Attributes:
        mixup_alpha: float. Beta parameter of mixup; 0 disables it.
        cutmix_alpha: float. Beta parameter of cutmix; 0 disables it.
        switch_prob: float. Probability of cutmix when both are enabled.
        prob: float. Probability that a batch is mixed at all.
    """

    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    switch_prob: float = 0.5
    prob: float = 1.0

    def __post_init__(self):
        for name in ("mixup_alpha", "cutmix_alpha"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and value < float("inf")):
                raise ValueError(f"{name} must be a finite number >= 0. "
                                 f"Received: {name}={value!r}.")
        for name in ("switch_prob", "prob"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be in [0, 1]. Received: {name}={value!r}.")

    @property
    def enabled(self):
        return self.prob > 0 and (self.mixup_alpha > 0 or self.cutmix_alpha > 0)


def _beta(seed, alpha):
    """Beta(alpha, alpha) from two stateless gammas."""
    seeds = tf.random.experimental.stateless_split(seed, 2)
    a = tf.random.stateless_gamma([], seeds[0], alpha)
    b = tf.random.stateless_gamma([], seeds[1], alpha)
    return a / tf.maximum(a + b, 1e-12)


def cutmix_box(height, width, lam, seed):
    """timm's rand_bbox: (top, bottom, left, right) of a box of area about (1 - lam) of
    the image, centered uniformly, clipped to the image."""
    seeds = tf.random.experimental.stateless_split(seed, 2)
    ratio = tf.sqrt(1.0 - lam)
    cut_h = tf.cast(tf.cast(height, tf.float32) * ratio, tf.int32)
    cut_w = tf.cast(tf.cast(width, tf.float32) * ratio, tf.int32)
    cy = tf.random.stateless_uniform([], seeds[0], 0, height, dtype=tf.int32)
    cx = tf.random.stateless_uniform([], seeds[1], 0, width, dtype=tf.int32)
    top = tf.clip_by_value(cy - cut_h // 2, 0, height)
    bottom = tf.clip_by_value(cy + cut_h // 2, 0, height)
    left = tf.clip_by_value(cx - cut_w // 2, 0, width)
    right = tf.clip_by_value(cx + cut_w // 2, 0, width)
    return top, bottom, left, right


def mix_batch(images, targets, seed, config):
    """Mixes one batch.

    Args:
        images: float32 (B, H, W, C).
        targets: float32 one-hot (or smoothed) targets (B, classes).
        seed: int32 tensor (2,). Stateless seed of this batch.
        config: `MixConfig`.

    Returns:
        (images, targets, lam): the mixed batch and the lambda used (1.0: unmixed).
    """
    seeds = tf.random.experimental.stateless_split(seed, 4)
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    flipped, flipped_targets = images[::-1], targets[::-1]
    use_mix = tf.random.stateless_uniform([], seeds[0]) < config.prob
    if config.mixup_alpha > 0 and config.cutmix_alpha > 0:
        use_cutmix = tf.random.stateless_uniform([], seeds[1]) < config.switch_prob
    else:
        use_cutmix = tf.constant(config.cutmix_alpha > 0)

    def mixup():
        lam = _beta(seeds[2], config.mixup_alpha) if config.mixup_alpha > 0 else tf.constant(1.0)
        return lam * images + (1.0 - lam) * flipped, lam

    def cutmix():
        lam = _beta(seeds[2], config.cutmix_alpha) if config.cutmix_alpha > 0 else tf.constant(1.0)
        top, bottom, left, right = cutmix_box(height, width, lam, seeds[3])
        rows = tf.range(height)[:, None]
        cols = tf.range(width)[None, :]
        box = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)
        box = tf.cast(box, images.dtype)[None, :, :, None]
        area = tf.cast((bottom - top) * (right - left), tf.float32)
        lam = 1.0 - area / tf.cast(height * width, tf.float32)
        return images * (1.0 - box) + flipped * box, lam

    mixed, lam = tf.cond(use_cutmix, cutmix, mixup)
    mixed, lam = tf.cond(use_mix, lambda: (mixed, lam), lambda: (images, tf.constant(1.0)))
    return mixed, lam * targets + (1.0 - lam) * flipped_targets, lam
