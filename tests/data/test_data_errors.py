"""Bad inputs of the data package: odd image files, folders and TFRecords that are not
what we expect, unknown dataset kinds and augmentations. Each raises our error naming
the problem, or is handled: skipped and counted, or decoded and used (see
tests/bad_inputs.py)."""

import os

import numpy as np
from bad_inputs import call, check, parametrize
from factories import image_bytes, image_folder, tfrecord_spec

from keras_resnet import data as data_lib


def _folder(tmp_path, odd_name=None, odd_bytes=None):
    """folder:ROOT with classes a/ and b/ of 3 good JPEGs, plus one odd file in a/."""
    root = image_folder(tmp_path / "images")
    if odd_name:
        (tmp_path / "images" / "a" / odd_name).write_bytes(odd_bytes)
    return f"folder:{root}"


def _pixels(source):
    """Every decoded, normalized image of `source` through the real pipeline."""
    dataset = data_lib.make_dataset(
        source, training=False, batch_size=64, image_size=16, augment="none",
        normalization=data_lib.Normalization.from_mode("torch"), cache=False)
    return np.concatenate([x.numpy() for x, _ in dataset])


def _decodes_and_is_used(name, raw):
    def case(tmp_path):
        source = data_lib.load_source(_folder(tmp_path, name, raw), "train",
                                      holdout_fraction=0.0)
        assert source.corrupt == [] and source.num_examples == 7
        images = _pixels(source)
        assert images.shape == (7, 16, 16, 3) and np.isfinite(images).all()
        assert source.skipped() == 0
    return case


def _skipped_and_counted(name, raw):
    def case(tmp_path):
        source = data_lib.load_source(_folder(tmp_path, name, raw), "train",
                                      holdout_fraction=0.0)
        assert [os.path.basename(f) for f in source.corrupt] == [name]
        assert source.num_examples == 6 and source.skipped() == 1
        assert _pixels(source).shape == (6, 16, 16, 3)
    return case


def _tfrecord_corrupt_record_counted(tmp_path):
    spec = tfrecord_spec(tmp_path, [(image_bytes(), 0), (b"not an image", 1), (image_bytes(), 1)])
    source = data_lib.load_source(spec, "train")
    assert _pixels(source).shape == (2, 16, 16, 3)
    assert source.skipped() == 1


def _tfrecord_labels(labels, **kwargs):
    def case(tmp_path):
        spec = tfrecord_spec(tmp_path, [(image_bytes(), label) for label in labels])
        data_lib.load_source(spec, "train", **kwargs)
    return case


def _source(spec_maker, split="train"):
    def case(tmp_path):
        data_lib.load_source(spec_maker(tmp_path), split)
    return case


def _empty_class_dirs(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "images" / name).mkdir(parents=True)
    return f"folder:{tmp_path / 'images'}"


def _no_class_dirs(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "loose.jpg").write_bytes(image_bytes())
    return f"folder:{tmp_path / 'images'}"


_JPEG = image_bytes()
CASES = [
    ("image-grayscale-jpeg", _decodes_and_is_used("gray.jpg", image_bytes(mode="L")), None,
     None),
    ("image-cmyk-jpeg", _decodes_and_is_used("cmyk.jpg", image_bytes(mode="CMYK")), None,
     None),
    ("image-png-named-jpg", _decodes_and_is_used("png.jpg", image_bytes("PNG", color=200)),
     None, None),
    ("image-rgba-png", _decodes_and_is_used("rgba.png", image_bytes("PNG", "RGBA", color=200)),
     None, None),
    ("image-progressive-jpeg", _decodes_and_is_used("prog.jpg", image_bytes(progressive=True)),
     None, None),
    ("image-random-bytes", _skipped_and_counted("junk.jpg", os.urandom(300)), None, None),
    ("image-truncated-jpeg", _skipped_and_counted("cut.jpg", _JPEG[: len(_JPEG) // 2]), None,
     None),
    ("image-empty-file", _skipped_and_counted("empty.jpg", b""), None, None),
    ("folder-missing", _source(lambda t: f"folder:{t / 'nowhere'}"), ValueError,
     "not a directory"),
    ("folder-no-class-dirs", _source(_no_class_dirs), ValueError, "no class subfolders"),
    ("folder-empty-class-dirs", _source(_empty_class_dirs), ValueError, "no readable images"),
    ("tfrecord-label-out-of-range", _tfrecord_labels([0, 3], num_classes=3), ValueError,
     r"span \[0, 3\], out of range \[0, 3\)"),
    ("tfrecord-one-based-labels", _tfrecord_labels([1, 2], label_offset=2), ValueError,
     "label_offset=2.*out of range"),
    ("tfrecord-no-files", _source(lambda t: f"tfrecord:{t}/train-*"), ValueError,
     "no files match"),
    ("tfrecord-empty", _source(lambda t: tfrecord_spec(t, [])), ValueError, "hold no records"),
    ("tfrecord-corrupt-record", _tfrecord_corrupt_record_counted, None, None),
    ("dataset-unknown-kind", _source(lambda t: "ftp:somewhere"), ValueError,
     "Unknown dataset"),
    ("pipeline-unknown-augment", call(data_lib.augment.check_mode, "mixup"), ValueError,
     "mixup"),
]


@parametrize(CASES)
def test_bad_input(case, error, match, tmp_path):
    check(case, error, match, tmp_path)
