"""Dataset sources: where labelled images come from, before any augmentation.

A source is one of:

- "digits": scikit-learn's handwritten digits (1,797 8x8 grayscale images shipped inside
  the scikit-learn package), so training works on a fresh machine with no download.
- a tensorflow-datasets name ("cifar10", "imagenet2012", ...), read from `data_dir`.
- "folder:PATH": one subfolder per class (the layout of torchvision's `ImageFolder` and
  Keras' `image_dataset_from_directory`). PATH/train and PATH/val (or validation, test)
  are used as splits when present; PATH/train alone, or class folders alone, hold out
  `holdout_fraction` of the files by a deterministic hash of each file name. Hidden
  entries (".ipynb_checkpoints", "._x.jpg") and "__MACOSX" are ignored, never classes.
- "tfrecord:GLOB": the ImageNet TFRecord layout of TF Model Garden and NVIDIA
  (`image/encoded` JPEG/PNG bytes, `image/class/label` int64). The held-out split is the
  same glob with "train" replaced by "validation" unless `eval_spec` names one.

Every source yields `(image uint8 HxWxC, label int32)` after `decode`. Corrupt images are
skipped and counted, never a crash (see `Source.corrupt`).
"""

import dataclasses
import glob as glob_lib
import hashlib
import os

import numpy as np
import tensorflow as tf

# What `decode_image` (tf.io.decode_image) reads: the one list of image file types.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
DIGITS = "digits"
KINDS = ("digits", "<tfds name>", "folder:PATH", "tfrecord:GLOB")
EVAL_SPLIT_DIRS = ("val", "validation", "test")
SPLIT_DIRS = ("train",) + EVAL_SPLIT_DIRS


@dataclasses.dataclass
class Source:
    """One split of a dataset.

    Attributes:
        name: str. The dataset spec it came from.
        split: str. "train" or "eval".
        dataset: `tf.data.Dataset` of `(raw, label)`; `raw` is a uint8 image or encoded
            bytes, see `encoded`.
        num_examples: int. Number of usable examples (corrupt ones excluded where known).
        num_classes: int.
        class_names: list of str, or None.
        encoded: bool. True when `raw` is encoded image bytes that `decode` turns into
            pixels.
        channels: int. Channels of the decoded images.
        small: bool. True when the decoded split fits comfortably in memory (cacheable).
        corrupt: list of str. Files (or "file#record") skipped as unreadable, found
            before training.
        counters: dict or None. For encoded sources, whose corrupt records may only be
            found while reading: {"seen": tf.Variable, "ok": tf.Variable} updated by the
            pipeline; `seen - ok` is the number skipped so far (counted on the first
            pass when the decoded data is cached).
    """

    name: str
    split: str
    dataset: tf.data.Dataset
    num_examples: int
    num_classes: int
    class_names: list = None
    encoded: bool = False
    channels: int = 3
    small: bool = False
    corrupt: list = dataclasses.field(default_factory=list)
    counters: dict = None

    def skipped(self):
        """Number of corrupt examples skipped so far."""
        count = len(self.corrupt)
        if self.counters is not None:
            count += int(self.counters["seen"].numpy() - self.counters["ok"].numpy())
        return count


def graph_only(fn):
    """`fn` for tf.data's map, flat_map and reduce, traced as written, without AutoGraph.

    The functions that keras_resnet hands to tf.data branch on tensors through tf.cond,
    tf.switch_case and tf.where, and in Python on Python values only, so AutoGraph's
    rewrite of their source (and of every function they call) buys nothing but start-up
    time. Measured on a 2-core AVX2 EPYC (one thread, a ResNet-8 on digits at 16x16, 3
    epochs of 4 steps, time after the imports): 8.4-8.6 s instead of 12.4-12.7 s with
    RandAugment and random erasing; 4.5-4.7 s instead of 4.8-5.0 s with the default
    augmentation. A tensor used as a Python bool in such a function fails when tf.data
    traces it, with TensorFlow's OperatorNotAllowedInGraphError.
    """
    return tf.autograph.experimental.do_not_convert(fn)


def decode_image(raw, channels=3):
    """Decodes JPEG/PNG/BMP/GIF/WebP bytes to uint8 (H, W, channels)."""
    image = tf.io.decode_image(raw, channels=channels, expand_animations=False)
    image.set_shape([None, None, channels])
    return image


def new_counters():
    """Counters of records read and records decoded, updated inside tf.data."""
    return {"seen": tf.Variable(0, dtype=tf.int64, trainable=False),
            "ok": tf.Variable(0, dtype=tf.int64, trainable=False)}


def load_source(spec, split, *, data_dir=None, eval_spec=None, label_offset=0,
                num_classes=None, holdout_fraction=0.2, seed=0):
    """Opens one split of the dataset named by `spec`.

    Args:
        spec: str. "digits", a tensorflow-datasets name, "folder:PATH" or "tfrecord:GLOB".
        split: str. "train" or "eval" (the held-out split reported as test accuracy).
        data_dir: str or None. tensorflow-datasets data directory. Defaults to None
            (tfds' own default, ~/tensorflow_datasets).
        eval_spec: str or None. For "tfrecord:", the glob of the held-out split.
            Defaults to None (the train glob with "train" replaced by "validation").
        label_offset: int. Subtracted from TFRecord labels; use 1 for TF Model Garden
            ImageNet records, whose labels run 1..1000. Defaults to 0.
        num_classes: int or None. Number of classes of a "tfrecord:" source; None
            scans the labels. Defaults to None.
        holdout_fraction: float. Share of files / digits held out when the data has no
            split of its own. Defaults to 0.2.
        seed: int. Seed of the deterministic digits split. Defaults to 0.

    Returns:
        A `Source`.

    Raises:
        ValueError: unknown split, empty dataset, labels out of range, or data that is
            missing and cannot be downloaded; the message says how to provide it.
    """
    if split not in ("train", "eval"):
        raise ValueError(f"Unknown split={split!r}. Allowed values: ['train', 'eval'].")
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"Invalid dataset={spec!r}. Allowed values: {list(KINDS)}.")
    if spec == DIGITS:
        return _digits(split, holdout_fraction=holdout_fraction, seed=seed)
    if spec.startswith("folder:"):
        return _folder(spec, split, holdout_fraction=holdout_fraction)
    if spec.startswith("tfrecord:"):
        return _tfrecord(spec, split, eval_spec=eval_spec, label_offset=label_offset,
                         num_classes=num_classes)
    if ":" in spec:
        raise ValueError(f"Unknown dataset={spec!r}. Allowed values: {list(KINDS)}.")
    return _tfds(spec, split, data_dir=data_dir)


# ----------------------------------------------------------------------------- digits
def digits_arrays(holdout_fraction=0.2, seed=0):
    """scikit-learn digits as uint8 (N, 8, 8, 1) images in 0..255 and int32 labels,
    split deterministically (stratified, fixed seed) into train and eval.

    Returns:
        dict {"train": (images, labels), "eval": (images, labels)}.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    # Pixel values are 0..16; scale to the 0..255 range the normalizations expect.
    images = np.round(digits.images * (255.0 / 16.0)).astype("uint8")[..., None]
    labels = digits.target.astype("int32")
    x_train, x_eval, y_train, y_eval = train_test_split(
        images, labels, test_size=holdout_fraction, random_state=seed, stratify=labels)
    return {"train": (x_train, y_train), "eval": (x_eval, y_eval)}


def _digits(split, holdout_fraction, seed):
    images, labels = digits_arrays(holdout_fraction, seed)[split]
    return Source(name=DIGITS, split=split,
                  dataset=tf.data.Dataset.from_tensor_slices((images, labels)),
                  num_examples=len(labels), num_classes=10,
                  class_names=[str(i) for i in range(10)], channels=1, small=True)


# ------------------------------------------------------------------------------- tfds
def _tfds(name, split, data_dir):
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # tfds raises its own DatasetNotFoundError
        first_line = str(error).strip().splitlines()[0]
        raise ValueError(
            f"Unknown dataset={name!r}: not a tensorflow-datasets name ({first_line}; "
            "tfds.list_builders() lists them). "
            f"Allowed values: {list(KINDS)}.") from None
    info = builder.info
    splits = list(info.splits.keys())
    if split == "train":
        candidates = ["train"]
    else:
        candidates = [s for s in ("test", "validation") if s in splits or not splits]
    dataset, errors = None, []
    for split_name in candidates:
        try:
            dataset = builder.as_dataset(split=split_name, as_supervised=True,
                                         shuffle_files=False)
            break
        except Exception as error:  # missing files, unknown split, not prepared
            errors.append(f"{split_name}: {error}")
    if dataset is None:
        _missing_tfds(name, data_dir, "; ".join(errors) or f"no {split} split in {splits}")
    num_examples = info.splits[split_name].num_examples if split_name in splits else 0
    if not num_examples:  # unknown in the metadata (mocked or partial data): count
        num_examples = int(dataset.reduce(0, graph_only(lambda count, _: count + 1)))
    if num_examples == 0:
        _missing_tfds(name, data_dir, f"split {split_name!r} is empty")
    label = info.features["label"]
    shape = info.features["image"].shape
    channels = shape[-1] or 3
    small = bool(shape[0]) and num_examples * np.prod(shape) < (2 << 30)
    dataset = dataset.map(graph_only(lambda x, y: (x, tf.cast(y, tf.int32))))
    return Source(name=name, split=split, dataset=dataset, num_examples=num_examples,
                  num_classes=label.num_classes, class_names=list(label.names),
                  channels=channels, small=small)


def _missing_tfds(name, data_dir, why):
    raise ValueError(
        f"dataset={name!r} is not available in data_dir={data_dir!r} ({why}). This "
        "machine may have no internet: prepare it where there is (`tfds build "
        f"{name} --data_dir=DIR`, or download_and_prepare), copy DIR here and pass "
        "--data_dir=DIR; or use --dataset=folder:PATH / tfrecord:GLOB / digits.")


# ----------------------------------------------------------------------------- folder
def _folder(spec, split, holdout_fraction):
    root = spec[len("folder:"):]
    if not os.path.isdir(root):
        raise ValueError(f"dataset={spec!r}: {root!r} is not a directory. Provide a folder "
                         "with one subfolder of images per class.")
    entries = _subdirs(root)
    split_dirs = [d for d in SPLIT_DIRS if d in entries]
    if split_dirs:
        others = [d for d in entries if d not in SPLIT_DIRS]
        if others or "train" not in split_dirs:
            raise ValueError(
                f"dataset={spec!r}: {root!r} mixes split folders {split_dirs} with "
                f"{others or 'no train/'}. Use either PATH/train/<class>/ (with an optional "
                f"PATH/val/<class>/; held-out names: {list(EVAL_SPLIT_DIRS)}) or "
                "PATH/<class>/ alone.")
        train_root = os.path.join(root, "train")
        class_names = _class_dirs(train_root, spec)
        held_out = [d for d in split_dirs if d != "train"]
        if held_out:
            base = train_root if split == "train" else os.path.join(root, held_out[0])
            if split == "eval":
                extra = sorted(set(_subdirs(base)) - set(class_names))
                if extra:
                    raise ValueError(
                        f"dataset={spec!r}: the held-out folder {base!r} has classes the "
                        f"training folder lacks: {extra[:5]}. Held-out classes must be "
                        f"among the training classes {class_names[:10]}.")
            files, labels = _list_images(base, class_names)
            by_hash = False
        else:
            files, labels = _list_images(train_root, class_names)
            by_hash = True
    else:
        class_names = _class_dirs(root, spec)
        files, labels = _list_images(root, class_names)
        by_hash = True
    if by_hash:
        # A stable hash of the relative path decides the split: the same on every run,
        # machine and worker, and unchanged when files are added.
        held = [_hash_fraction(os.path.relpath(f, root)) < holdout_fraction for f in files]
        keep = [h == (split == "eval") for h in held]
        files = [f for f, k in zip(files, keep) if k]
        labels = [y for y, k in zip(labels, keep) if k]
    good = _readable(files)
    corrupt = [f for f, ok in zip(files, good) if not ok]
    files = [f for f, ok in zip(files, good) if ok]
    labels = [y for y, ok in zip(labels, good) if ok]
    if not files:
        raise ValueError(f"dataset={spec!r}: no readable images for the {split} split. "
                         f"Put images ({', '.join(IMAGE_EXTENSIONS)}) in one subfolder per "
                         "class, optionally under train/ and val/.")
    if corrupt:
        tf.get_logger().warning("Skipped %d corrupt image(s) in %s: %s", len(corrupt), spec,
                                corrupt[:5])
    dataset = tf.data.Dataset.from_tensor_slices(
        (tf.constant(files), tf.constant(labels, tf.int32))).map(
            graph_only(lambda f, y: (tf.io.read_file(f), y)))
    return Source(name=spec, split=split, dataset=dataset, num_examples=len(files),
                  num_classes=len(class_names), class_names=class_names, encoded=True,
                  small=len(files) <= 20_000, corrupt=corrupt,
                  counters=new_counters())


def _hidden(name):
    """Entries that tools leave beside the data (".ipynb_checkpoints", "._x.jpg" from
    macOS, "__MACOSX" from zip files): never classes or images."""
    return name.startswith(".") or name == "__MACOSX"


def _subdirs(root):
    return sorted(d for d in os.listdir(root)
                  if not _hidden(d) and os.path.isdir(os.path.join(root, d)))


def _class_dirs(root, spec):
    names = _subdirs(root)
    if not names:
        raise ValueError(f"dataset={spec!r}: {root!r} has no class subfolders. Provide one "
                         "subfolder of images per class.")
    if len(names) < 2:
        raise ValueError(f"dataset={spec!r}: {root!r} has one class subfolder ({names[0]!r}); "
                         "a classifier needs at least 2 classes. Put each class's images "
                         "in a subfolder of its own.")
    return names


def _list_images(root, class_names):
    files, labels = [], []
    for label, name in enumerate(class_names):
        directory = os.path.join(root, name)
        if not os.path.isdir(directory):
            continue
        for dirpath, _, filenames in sorted(os.walk(directory)):
            if any(_hidden(part) for part in os.path.relpath(dirpath, directory).split(os.sep)
                   if part != "."):
                continue
            for filename in sorted(filenames):
                if not _hidden(filename) and filename.lower().endswith(IMAGE_EXTENSIONS):
                    files.append(os.path.join(dirpath, filename))
                    labels.append(label)
    return files, labels


def _hash_fraction(text):
    return int(hashlib.md5(text.encode()).hexdigest()[:8], 16) / 0x100000000


def _readable(files):
    """Which files decode: one parallel tf.data pass; failures dropped by ignore_errors,
    so the surviving indices tell which ones were corrupt."""
    if not files:
        return []
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(files)).enumerate()
    dataset = dataset.map(
        graph_only(lambda i, f: (i, tf.shape(decode_image(tf.io.read_file(f))))),
        num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.ignore_errors().map(graph_only(lambda i, _: i)).batch(4096)
    good = np.zeros(len(files), bool)
    for indices in dataset.as_numpy_iterator():
        good[indices] = True
    return list(good)


# --------------------------------------------------------------------------- tfrecord
FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/class/label": tf.io.FixedLenFeature([], tf.int64),
}
# tf.train.Feature's field that each feature must use.
_FEATURE_KINDS = {"image/encoded": "bytes_list", "image/class/label": "int64_list"}


def _check_schema(spec, files):
    """Reads the first record of each file and checks it is a tf.train.Example with
    FEATURES, so another schema, string labels or a file that is no TFRecord get an
    error naming the expected features instead of a failure inside tf.data."""
    expected = ", ".join(f"{name} ({kind[:-5]})" for name, kind in _FEATURE_KINDS.items())
    for path in files:
        try:
            first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
            raise ValueError(
                f"dataset={spec!r}: {path!r} is not a TFRecord file "
                f"({type(error).__name__}). Expected TFRecord shards of tf.train.Example "
                f"records with {expected}.") from None
        if first is None:
            continue  # an empty shard; the record count below catches an empty split
        try:
            example = tf.train.Example.FromString(first.numpy())
        except Exception:  # protobuf's DecodeError
            raise ValueError(f"dataset={spec!r}: the records of {path!r} are not "
                             f"tf.train.Example protos. Expected features: {expected}.") from None
        found = example.features.feature
        for name, kind in _FEATURE_KINDS.items():
            if name not in found:
                raise ValueError(
                    f"dataset={spec!r}: {path!r} has no feature {name!r} (it has "
                    f"{sorted(found)[:8]}). Expected features: {expected}.")
            actual = found[name].WhichOneof("kind")
            if actual != kind:
                raise ValueError(
                    f"dataset={spec!r}: feature {name!r} of {path!r} is a {actual}, not a "
                    f"{kind} (string class names must be mapped to integer ids first). "
                    f"Expected features: {expected}.")


def _tfrecord(spec, split, eval_spec, label_offset, num_classes):
    pattern = spec[len("tfrecord:"):]
    if split == "eval":
        if eval_spec:
            pattern = (eval_spec[len("tfrecord:"):] if eval_spec.startswith("tfrecord:")
                       else eval_spec)
        elif "train" in os.path.basename(pattern):
            head, tail = os.path.split(pattern)
            pattern = os.path.join(head, tail.replace("train", "validation"))
        else:
            raise ValueError(f"dataset={spec!r}: cannot tell the held-out files; name the "
                             "train files train-* (and validation-*) or pass --eval_dataset.")
    files = sorted(glob_lib.glob(pattern))
    if not files:
        raise ValueError(f"dataset={spec!r}: no files match {pattern!r} for the {split} split. "
                         "Provide TFRecord shards with image/encoded and image/class/label "
                         "(TF Model Garden layout: train-*-of-*, validation-*-of-*).")

    _check_schema(spec, files)

    @graph_only
    def parse(record):
        parsed = tf.io.parse_single_example(record, FEATURES)
        return parsed["image/encoded"], tf.cast(parsed["image/class/label"] - label_offset,
                                                tf.int32)

    records = tf.data.TFRecordDataset(
        files, num_parallel_reads=tf.data.AUTOTUNE if len(files) > 1 else None)
    labels = tf.data.TFRecordDataset(files).map(
        parse, num_parallel_calls=tf.data.AUTOTUNE).map(graph_only(lambda _, y: y))
    # One pass over the labels (no decoding) gives the size and checks the range.
    counts = labels.reduce(
        (tf.constant(0, tf.int64), tf.constant(2**31 - 1), tf.constant(-(2**31))),
        graph_only(lambda acc, y: (acc[0] + 1, tf.minimum(acc[1], y), tf.maximum(acc[2], y))))
    num_examples, low, high = (int(c) for c in counts)
    if num_examples == 0:
        raise ValueError(f"dataset={spec!r}: the {split} files {pattern!r} hold no records.")
    if num_classes is None:
        num_classes = high + 1
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"dataset={spec!r}: labels after label_offset={label_offset} span [{low}, {high}], "
            f"out of range [0, {num_classes}). Model Garden ImageNet labels are 1-based: "
            "pass --label_offset=1; or set --num_classes.")
    return Source(name=spec, split=split, dataset=records.map(parse), encoded=True,
                  num_examples=num_examples, num_classes=num_classes,
                  small=num_examples <= 20_000, counters=new_counters())
