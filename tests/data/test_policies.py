"""Augmentation policies, random erasing and batch mixing: their op sets, argument
ranges and statistics, and the pixel ops against PIL (which torchvision and timm use)."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageEnhance, ImageOps

from keras_resnet import data
from keras_resnet.data import augment, mixing, policies

RNG = np.random.RandomState(0)
IMAGE = RNG.randint(0, 256, (24, 20, 3)).astype(np.uint8)
SEEDS = [tf.constant([i, 11], tf.int32) for i in range(300)]


def _pil(array):
    return Image.fromarray(np.asarray(array, np.uint8))


@pytest.mark.parametrize("name,ours,theirs", [
    ("equalize", policies.equalize, ImageOps.equalize),
    ("autocontrast", policies.auto_contrast, ImageOps.autocontrast),
    ("invert", policies.invert, ImageOps.invert),
    ("posterize3", lambda x: policies.posterize(x, 3), lambda im: ImageOps.posterize(im, 3)),
    ("solarize100", lambda x: policies.solarize(x, 100.0),
     lambda im: ImageOps.solarize(im, 100)),
    ("brightness", lambda x: policies.brightness(x, 1.4),
     lambda im: ImageEnhance.Brightness(im).enhance(1.4)),
    ("color", lambda x: policies.color(x, 0.3), lambda im: ImageEnhance.Color(im).enhance(0.3)),
    ("contrast", lambda x: policies.contrast(x, 1.7),
     lambda im: ImageEnhance.Contrast(im).enhance(1.7)),
    ("sharpness", lambda x: policies.sharpness(x, 1.8),
     lambda im: ImageEnhance.Sharpness(im).enhance(1.8)),
])
def test_pixel_ops_match_pil(name, ours, theirs):
    got = ours(tf.constant(IMAGE, tf.float32)).numpy()
    want = np.asarray(theirs(_pil(IMAGE)), np.float32)
    # PIL works in uint8 and rounds; ours stays in float until the end.
    assert np.abs(np.round(got) - want).max() <= 2, name
    assert np.mean(np.abs(np.round(got) - want)) < 0.6, name


def test_geometric_ops_move_pixels_as_defined():
    square = tf.constant(RNG.randint(0, 256, (9, 9, 3)), tf.float32)
    np.testing.assert_array_equal(policies.rotate(square, 90.0).numpy(),
                                  np.rot90(square.numpy(), k=1))
    shifted = policies.translate_x(square, 3.0).numpy()
    np.testing.assert_array_equal(shifted[:, 3:], square.numpy()[:, :-3])
    assert (shifted[:, :3] == 0).all()  # torchvision's fill 0
    filled = policies.translate_y(square, -2.0, fill=(1.0, 2.0, 3.0)).numpy()
    np.testing.assert_array_equal(filled[-2:], np.broadcast_to([1.0, 2.0, 3.0], (2, 9, 3)))
    sheared = policies.shear_x(square, 0.5).numpy()
    np.testing.assert_array_equal(sheared[0], square.numpy()[0])  # row 0 is the shear axis


def test_trivial_augment_draws_only_its_ops_and_bins():
    space = {name: bins for name, bins, _ in policies._TRIVIAL_SPACE}
    names = policies.OPS_OF["trivialaugment"]
    seen = set()
    for seed in SEEDS:
        index, magnitude = (t.numpy() for t in policies.trivial_augment_args(seed))
        name = names[index]
        seen.add(name)
        bins = space[name]
        if bins is None:
            assert magnitude == 0.0
            continue
        low, high = policies.MAGNITUDE_RANGES["trivialaugment"][name]
        assert low <= magnitude <= high, (name, magnitude)
        assert np.isclose(np.abs(bins - abs(magnitude)), 0, atol=1e-5).any(), (name, magnitude)
    assert seen == set(names)  # all 14 ops are reachable
    # torchvision's published space: 31 bins, shear 0.99, translate 32 px, rotate 135 deg,
    # posterize 8..2 bits, solarize 255..0.
    assert policies.MAGNITUDE_RANGES["trivialaugment"]["TranslateX"] == (-32.0, 32.0)
    assert policies.MAGNITUDE_RANGES["trivialaugment"]["Rotate"] == (-135.0, 135.0)
    assert (space["Posterize"].min(), space["Posterize"].max()) == (2, 8)


def test_rand_augment_draws_only_increasing_ops_in_range():
    names = policies.OPS_OF["randaugment"]
    seen, applied_count, total = set(), 0, 0
    for seed in SEEDS:
        ops, applied, args = policies.rand_augment_args(seed, magnitude=7, magnitude_std=0.5)
        for index, apply, arg in zip(ops, applied, args):
            name = names[int(index)]
            seen.add(name)
            applied_count += bool(apply)
            total += 1
            if name in policies.MAGNITUDE_RANGES["randaugment"]:
                low, high = policies.MAGNITUDE_RANGES["randaugment"][name]
                assert low <= float(arg) <= high, (name, float(arg))
    assert seen == set(names)
    assert 0.4 < applied_count / total < 0.6  # each op applies with probability 0.5


def test_rand_augment_magnitude_noise_and_clipping():
    # Rotate's argument is 3 x level: level = 7 + 0.5 N(0, 1), clipped to [0, 10].
    levels = []
    for seed in SEEDS:
        ops, _, args = policies.rand_augment_args(seed, magnitude=7, magnitude_std=0.5)
        levels += [abs(float(a)) / 3.0 for i, a in zip(ops, args)
                   if policies.OPS_OF["randaugment"][int(i)] == "Rotate"]
    assert len(levels) > 10
    assert 6.5 < np.mean(levels) < 7.5 and 0.2 < np.std(levels) < 0.8
    _, _, args = policies.rand_augment_args(SEEDS[0], magnitude=10, magnitude_std=5.0)
    for seed in SEEDS[:50]:
        ops, _, args = policies.rand_augment_args(seed, magnitude=10, magnitude_std=5.0)
        for i, a in zip(ops, args):
            if policies.OPS_OF["randaugment"][int(i)] == "Rotate":
                assert abs(float(a)) <= 30.0 + 1e-4


@pytest.mark.parametrize("policy", ["trivialaugment", "randaugment", "autoaugment"])
def test_policies_keep_shape_range_and_are_deterministic(policy):
    image = tf.constant(IMAGE, tf.float32)
    changed = 0
    for seed in SEEDS[:20]:
        out = policies.apply_policy(image, policy, seed).numpy()
        again = policies.apply_policy(image, policy, seed).numpy()
        np.testing.assert_array_equal(out, again)
        assert out.shape == IMAGE.shape and out.min() >= 0 and out.max() <= 255
        changed += not np.array_equal(out, IMAGE)
    assert changed >= 10


def test_random_erase_box_and_probability():
    image = tf.ones((32, 32, 3))
    erased_fraction, hits = [], 0
    for seed in SEEDS[:200]:
        out = augment.random_erase(image, 0.5, seed).numpy()
        zero = (out == 0).all(-1)
        if zero.any():
            hits += 1
            rows, cols = np.where(zero)
            box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
            assert box == zero.sum()  # one solid rectangle
            erased_fraction.append(zero.mean())
    assert 0.4 < hits / 200 < 0.6
    assert 0.015 < min(erased_fraction) and max(erased_fraction) < 0.36  # scale (0.02, 0.33)
    np.testing.assert_array_equal(augment.random_erase(image, 0.0, SEEDS[0]), image)


def test_mixup_and_cutmix_targets_sum_to_one_and_cutmix_area_matches_lambda():
    images = tf.random.stateless_uniform((8, 16, 12, 3), [1, 2])
    targets = tf.one_hot(tf.range(8) % 5, 5)
    for seed in SEEDS[:40]:
        cut_x, cut_y, lam = mixing.mix_batch(images, targets, seed,
                                             data.MixConfig(cutmix_alpha=1.0))
        np.testing.assert_allclose(tf.reduce_sum(cut_y, -1), 1.0, rtol=1e-6)
        pasted = np.any(cut_x.numpy() != images.numpy(), axis=-1)[0]
        # Pixels from the flipped batch cover exactly 1 - lambda of the image.
        assert abs(pasted.mean() - (1.0 - float(lam))) < 1e-6
        np.testing.assert_allclose(cut_y, lam * targets + (1 - lam) * targets[::-1], atol=1e-6)
        mix_x, mix_y, lam = mixing.mix_batch(images, targets, seed,
                                             data.MixConfig(mixup_alpha=0.2))
        np.testing.assert_allclose(mix_x, lam * images + (1 - lam) * images[::-1], atol=1e-6)
        np.testing.assert_allclose(tf.reduce_sum(mix_y, -1), 1.0, rtol=1e-6)


def test_mixup_lambda_follows_beta_and_switching_uses_both():
    images, targets = tf.zeros((4, 8, 8, 3)), tf.one_hot([0, 1, 2, 3], 4)
    lams = [float(mixing.mix_batch(images, targets, s, data.MixConfig(mixup_alpha=0.2))[2])
            for s in SEEDS[:300]]
    # Beta(0.2, 0.2): mean 0.5, variance 1 / (4 (2 alpha + 1)) = 0.179.
    assert abs(np.mean(lams) - 0.5) < 0.08 and abs(np.var(lams) - 0.179) < 0.04
    never = [float(mixing.mix_batch(images, targets, s, data.MixConfig(0.2, 1.0, prob=0.0))[2])
             for s in SEEDS[:20]]
    assert never == [1.0] * 20


@pytest.mark.parametrize("kwargs,match", [
    (dict(mixup_alpha=-1.0), "mixup_alpha must be a finite number >= 0"),
    (dict(cutmix_alpha=float("nan")), "cutmix_alpha"),
    (dict(switch_prob=1.5), r"switch_prob must be in \[0, 1\]"),
])
def test_mix_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.MixConfig(**kwargs)


def test_pipeline_with_the_torchvision_v2_augmentations():
    source = data.load_source("digits", "train")
    norm = data.Normalization.from_mode("torch")
    batches = data.make_dataset(
        source, training=True, batch_size=16, image_size=32, augment="imagenet",
        normalization=norm, num_classes=10, one_hot=True, auto_augment="trivialaugment",
        random_erase=0.1, mix=data.MixConfig(mixup_alpha=0.2, cutmix_alpha=1.0)).take(3)
    for images, targets in batches:
        assert images.shape == (16, 32, 32, 3) and targets.shape == (16, 10)
        np.testing.assert_allclose(tf.reduce_sum(targets, -1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="one_hot=True"):
        data.make_dataset(source, training=True, batch_size=16, image_size=32,
                          augment="shift", normalization=norm,
                          mix=data.MixConfig(mixup_alpha=0.2))
    with pytest.raises(ValueError, match=r"auto_augment='rand'.*Allowed values"):
        data.make_dataset(source, training=True, batch_size=16, image_size=32,
                          augment="shift", normalization=norm, auto_augment="rand")


def test_repeated_augmentation_puts_copies_in_one_batch_with_own_augmentations():
    images = np.arange(8 * 6 * 6 * 3, dtype=np.uint8).reshape(8, 6, 6, 3)
    source = data.Source(name="toy", split="train", num_examples=8, num_classes=8,
                         dataset=tf.data.Dataset.from_tensor_slices((images, np.arange(8))))
    batches = data.make_dataset(source, training=True, batch_size=8, image_size=16,
                                augment="cifar", normalization=data.Normalization.from_mode("tf"),
                                repeated_augmentation=4, deterministic=True)
    (batch, labels), = list(batches.take(1).as_numpy_iterator())
    assert labels.shape == (8,)
    assert all(len(set(labels[i:i + 4])) == 1 for i in (0, 4))  # 4 copies in a row
    assert labels[0] != labels[4]
    assert not np.array_equal(batch[0], batch[1])  # each copy augmented on its own
    with pytest.raises(ValueError, match="repeated_augmentation must be an integer >= 1"):
        data.make_dataset(source, training=True, batch_size=8, image_size=16, augment="cifar",
                          normalization=data.Normalization.from_mode("tf"),
                          repeated_augmentation=0)
