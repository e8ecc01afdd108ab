"""Dataset sources: digits, tensorflow-datasets (mocked), folders and TFRecords."""

import os

import numpy as np
import pytest
import tensorflow as tf
from factories import image_bytes, image_folder, tfrecord_spec, write_images

from keras_resnet import data

NORM = data.Normalization.from_mode("torch")


def _png(color):
    return image_bytes("PNG", color=color)


def _batches(source, **kwargs):
    args = dict(training=False, batch_size=4, image_size=16, augment="none", normalization=NORM)
    args.update(kwargs)
    return list(data.make_dataset(source, **args).as_numpy_iterator())


def test_digits_split_is_deterministic_and_stratified():
    first, second = data.digits_arrays(), data.digits_arrays()
    np.testing.assert_array_equal(first["eval"][1], second["eval"][1])
    x_train, y_train = first["train"]
    x_eval, y_eval = first["eval"]
    assert (len(y_train), len(y_eval)) == (1437, 360)
    assert x_train.dtype == np.uint8 and x_train.shape[1:] == (8, 8, 1)
    assert x_train.max() == 255
    assert sorted(np.unique(y_eval)) == list(range(10))


def test_digits_pipeline_shapes_and_normalization():
    source = data.load_source("digits", "train")
    images, labels = _batches(source, training=True, batch_size=32, image_size=32,
                              augment="shift", one_hot=True, num_classes=10)[0]
    assert images.shape == (32, 32, 32, 3) and images.dtype == np.float32
    assert labels.shape == (32, 10)
    # Background pixels (0) normalize to -mean/std per channel.
    expected_min = (0 - np.array(NORM.mean)) / np.array(NORM.std)
    np.testing.assert_allclose(images.min(axis=(0, 1, 2)), expected_min, rtol=1e-5)
    batches = _batches(source, training=True, batch_size=64, image_size=32, augment="shift")
    assert len(batches) == 1437 // 64  # drop_remainder in training


def test_tfds_with_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=12):
        train = data.load_source("cifar10", "train")
        test = data.load_source("cifar10", "eval")
        assert (train.num_examples, test.num_examples, train.num_classes) == (12, 12, 10)
        images, labels = _batches(train, image_size=32, augment="cifar", training=True)[0]
    assert images.shape == (4, 32, 32, 3)
    assert labels.dtype == np.int32 and labels.max() < 10


def test_tfds_missing_data_says_how_to_provide_it(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(ValueError, match="--data_dir"):
        data.load_source("cifar10", "train", data_dir=str(tmp_path))


def test_unknown_dataset_lists_choices():
    with pytest.raises(ValueError, match="folder:PATH"):
        data.load_source("nosuch:thing", "train")


def _make_folder(root, with_splits=False, corrupt=True):
    image_folder(root, {"cat": 30, "dog": 200}, per_class=5, ext="png",
                 splits=("train", "val") if with_splits else None)
    if corrupt:
        with open(os.path.join(root, "train" if with_splits else "", "cat", "broken.jpg"),
                  "wb") as f:
            f.write(b"\xff\xd8\xff\xe0 this is not a jpeg")


def test_folder_with_corrupt_file_is_skipped_and_counted(tmp_path, capsys):
    _make_folder(str(tmp_path), with_splits=True)
    train = data.load_source(f"folder:{tmp_path}", "train")
    test = data.load_source(f"folder:{tmp_path}", "eval")
    assert train.class_names == ["cat", "dog"]
    assert train.num_examples == 10 and test.num_examples == 10
    assert train.skipped() == 1 and train.corrupt[0].endswith("broken.jpg")
    batches = _batches(train)
    assert sum(len(labels) for _, labels in batches) == 10
    assert sorted(np.concatenate([labels for _, labels in batches])) == [0] * 5 + [1] * 5


def test_folder_without_splits_holds_out_by_hash(tmp_path):
    _make_folder(str(tmp_path), corrupt=False)
    spec = f"folder:{tmp_path}"
    train = data.load_source(spec, "train", holdout_fraction=0.3)
    test = data.load_source(spec, "eval", holdout_fraction=0.3)
    assert train.num_examples + test.num_examples == 10
    assert test.num_examples > 0
    again = data.load_source(spec, "eval", holdout_fraction=0.3)
    assert again.num_examples == test.num_examples


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="subfolder"):
        data.load_source(f"folder:{tmp_path}", "train")
    os.makedirs(tmp_path / "a")
    os.makedirs(tmp_path / "b")
    with pytest.raises(ValueError, match="no readable images"):
        data.load_source(f"folder:{tmp_path}", "train")


def _write_shards(directory, name, shards, labels, corrupt_at=None):
    per_shard = len(labels) // shards
    for shard in range(shards):
        indices = range(shard * per_shard, (shard + 1) * per_shard)
        tfrecord_spec(directory, [(b"garbage" if i == corrupt_at else _png(10 * i), labels[i])
                                  for i in indices],
                      name=f"{name}-{shard:05d}-of-{shards:05d}")


def test_tfrecord_shards_with_label_offset_and_corrupt_record(tmp_path):
    # Model Garden ImageNet labels are 1-based: 1..3 here, label_offset=1 maps to 0..2.
    _write_shards(str(tmp_path), "train", 2, [1, 2, 3, 1, 2, 3, 1, 2], corrupt_at=3)
    _write_shards(str(tmp_path), "validation", 1, [1, 2, 3, 3])
    spec = f"tfrecord:{tmp_path}/train-*"
    train = data.load_source(spec, "train", label_offset=1)
    test = data.load_source(spec, "eval", label_offset=1)
    assert (train.num_examples, test.num_examples, train.num_classes) == (8, 4, 3)
    labels = np.concatenate([y for _, y in _batches(train)])
    assert sorted(labels) == [0, 0, 1, 1, 1, 2, 2]  # the corrupt 4th record (label 0) dropped
    assert train.skipped() == 1
    assert test.skipped() == 0 and len(np.concatenate([y for _, y in _batches(test)])) == 4
    with pytest.raises(ValueError, match="label_offset=1"):
        data.load_source(spec, "train", label_offset=0, num_classes=3)


def test_tfrecord_missing_files_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no files match"):
        data.load_source(f"tfrecord:{tmp_path}/train-*", "train")


@pytest.mark.parametrize("mode", ["imagenet", "cifar", "shift", "none"])
def test_augment_modes_give_the_requested_size(mode):
    image = tf.cast(tf.random.uniform((40, 60, 3), 0, 255), tf.uint8)
    seed = tf.constant([1, 2], tf.int32)
    assert data.augment.train_transform(image, mode, 24, seed).shape == (24, 24, 3)
    assert data.augment.eval_transform(image, mode, 24).shape == (24, 24, 3)


def test_eval_center_crop_of_imagenet_mode():
    # A 256x256 ramp: eval resizes the shorter side to ceil(224 / 0.875) = 256 and
    # crops the central 224 window, so the crop starts at column 16.
    ramp = tf.tile(tf.range(256, dtype=tf.float32)[None, :, None], [256, 1, 3])
    crop = data.augment.eval_transform(ramp, "imagenet", 224)
    assert crop.shape == (224, 224, 3)
    np.testing.assert_allclose(crop[0, :3, 0], [16, 17, 18], atol=1e-3)


def test_unknown_augment_lists_choices():
    with pytest.raises(ValueError, match="imagenet"):
        data.augment.check_mode("fancy")


def test_folder_trains_with_imagenet_augmentation(tmp_path):
    # Regression: the random-resized crop lost the static channel count, and a
    # 3-channel model refused the folder pipeline in ImageNet mode.
    _make_folder(str(tmp_path), with_splits=True)
    train = data.load_source(f"folder:{tmp_path}", "train")
    dataset = data.make_dataset(train, training=True, batch_size=4, image_size=16,
                                augment="imagenet", normalization=NORM)
    assert dataset.element_spec[0].shape.as_list() == [4, 16, 16, 3]
    import keras_resnet
    model = keras_resnet.ResNet20(input_shape=(16, 16, 3), classes=2)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


# ---- layouts people keep (issue 16, item 11) and foreign TFRecords (item 12)
def _images(directory, count, ext="png"):
    write_images(directory, count, ext, color=100, size=(6, 6))


def test_folder_ignores_hidden_and_macos_folders(tmp_path):
    for name in ("cat", "dog"):
        _images(tmp_path / name, 4)
    _images(tmp_path / ".ipynb_checkpoints", 2)
    _images(tmp_path / "__MACOSX", 2)
    _images(tmp_path / "cat" / ".ipynb_checkpoints", 3)
    (tmp_path / "dog" / "._0.png").write_bytes(b"AppleDouble resource fork, not an image")
    train = data.load_source(f"folder:{tmp_path}", "train", holdout_fraction=0.0)
    assert train.class_names == ["cat", "dog"]
    assert train.num_examples == 8 and train.skipped() == 0


def test_folder_with_train_but_no_val_holds_out_from_train(tmp_path):
    for name in ("cat", "dog"):
        _images(tmp_path / "train" / name, 10)
    spec = f"folder:{tmp_path}"
    train = data.load_source(spec, "train", holdout_fraction=0.3)
    test = data.load_source(spec, "eval", holdout_fraction=0.3)
    assert train.class_names == test.class_names == ["cat", "dog"]
    assert train.num_examples + test.num_examples == 20 and test.num_examples > 0


def test_folder_with_a_single_class_is_refused(tmp_path):
    _images(tmp_path / "only", 4)
    with pytest.raises(ValueError, match="at least 2 classes"):
        data.load_source(f"folder:{tmp_path}", "train")


def test_folder_mixing_splits_and_classes_is_refused(tmp_path):
    _images(tmp_path / "train" / "cat", 2)
    _images(tmp_path / "train" / "dog", 2)
    _images(tmp_path / "bird", 2)
    with pytest.raises(ValueError, match="mixes split folders"):
        data.load_source(f"folder:{tmp_path}", "train")


def test_folder_held_out_classes_must_be_training_classes(tmp_path):
    for name in ("cat", "dog"):
        _images(tmp_path / "train" / name, 2)
    _images(tmp_path / "val" / "cat", 2)
    _images(tmp_path / "val" / "bird", 2)
    spec = f"folder:{tmp_path}"
    assert data.load_source(spec, "train").num_examples == 4
    with pytest.raises(ValueError, match=r"training folder lacks: \['bird'\]"):
        data.load_source(spec, "eval")


def test_folder_reads_webp(tmp_path):
    _images(tmp_path / "cat", 2, ext="webp")
    _images(tmp_path / "dog", 2, ext="webp")
    train = data.load_source(f"folder:{tmp_path}", "train", holdout_fraction=0.0)
    assert train.num_examples == 4 and train.skipped() == 0
    images, _ = _batches(train)[0]
    assert images.shape == (4, 16, 16, 3)


def _write_examples(path, features):
    with tf.io.TFRecordWriter(str(path)) as writer:
        example = tf.train.Example(features=tf.train.Features(feature=features))
        writer.write(example.SerializeToString())


def _bytes(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def test_tfrecord_with_another_schema_names_the_expected_features(tmp_path):
    _write_examples(tmp_path / "train-0", {"image_raw": _bytes(_png(1)),
                                           "label": tf.train.Feature(
                                               int64_list=tf.train.Int64List(value=[0]))})
    with pytest.raises(ValueError, match=r"no feature 'image/encoded'.*image_raw.*"
                                         r"Expected features: image/encoded \(bytes\)"):
        data.load_source(f"tfrecord:{tmp_path}/train-*", "train")


def test_tfrecord_with_string_labels_is_refused(tmp_path):
    _write_examples(tmp_path / "train-0", {"image/encoded": _bytes(_png(1)),
                                           "image/class/label": _bytes(b"cat")})
    with pytest.raises(ValueError, match="'image/class/label'.* is a bytes_list, not a "
                                         "int64_list"):
        data.load_source(f"tfrecord:{tmp_path}/train-*", "train")


def test_file_that_is_not_a_tfrecord_is_refused(tmp_path):
    (tmp_path / "train-0").write_bytes(b"plain text, not a TFRecord file at all" * 10)
    with pytest.raises(ValueError, match="is not a TFRecord file"):
        data.load_source(f"tfrecord:{tmp_path}/train-*", "train")
