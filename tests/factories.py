"""What the tests make for themselves: tiny models, encoded images, image folders,
TFRecord files and a tiny export; and `run_script`, which runs a script in the test's
process. Plain functions, importable from any test module (`tests/` is on pytest's
`pythonpath`); `conftest.py` wraps some of them as fixtures.
"""

import importlib.util
import io
import os

import numpy as np

# ResNet-20's layout with one block per stage (a ResNet-8), as a `scripts/train.py`
# flag: what script tests train when the model itself does not matter. A run of 3
# epochs of 4 steps at 16x16 took 13.5 s instead of 18.2 s (one core of a 2-core AMD
# EPYC, 2026-12-07): tracing and checkpointing scale with the layers.
TINY_MODEL_FLAG = "--model_option=stage_depths=(1, 1, 1)"


def tiny_model(classes=3, size=16, widths=(4, 8), depths=None, block="basic", stem="cifar",
               name="tiny", **kwargs):
    """A ResNet with one block per stage (by default two stages of 4 and 8 channels at
    16x16): builds and runs in well under a second. `kwargs` go to `build_resnet`."""
    import keras_resnet

    depths = tuple(depths or (1,) * len(widths))
    if stem == "cifar":
        kwargs["stage_widths"] = tuple(widths)
    return keras_resnet.build_resnet(depths, block=block, stem=stem,
                                     input_shape=(size, size, 3), classes=classes,
                                     name=name, **kwargs)


def image_bytes(fmt="JPEG", mode="RGB", size=(12, 10), color=None, seed=0, **save):
    """One encoded image: random pixels (or a flat `color`) in PIL `mode`."""
    from PIL import Image

    channels = {"RGB": 3, "L": 1, "CMYK": 4, "RGBA": 4}[mode]
    shape = (size[1], size[0], channels)
    if color is None:
        pixels = np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8)
    else:
        pixels = np.full(shape, color, np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode).save(
        buffer, format=fmt, **save)
    return buffer.getvalue()


_FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "bmp": "BMP"}


def write_images(directory, count, ext="jpg", color=None, size=(12, 10), seed=0):
    """Writes `directory/0.ext` .. `directory/{count-1}.ext`: flat colours `color + i`, or
    random pixels when `color` is None."""
    os.makedirs(str(directory), exist_ok=True)
    for i in range(count):
        pixel = None if color is None else (color + i) % 256
        with open(os.path.join(str(directory), f"{i}.{ext}"), "wb") as f:
            f.write(image_bytes(_FORMATS[ext], size=size, color=pixel, seed=seed + i))


def image_folder(root, classes=("a", "b"), per_class=3, ext="jpg", splits=None, color=None,
                 size=(12, 10)):
    """Writes `root/[split/]class/i.ext`, `per_class` images per class, and returns `root`
    as a str: the layout of `folder:` datasets, Keras' `image_dataset_from_directory` and
    torchvision's `ImageFolder`.

    Args:
        classes: class folder names, or {name: base colour} for flat, distinct classes.
        splits: None (no split folders) or split folder names such as ("train", "val").
        color: base colour of every class when `classes` is a list; None: random pixels.
    """
    colors = classes if isinstance(classes, dict) else {name: color for name in classes}
    for split in splits or ("",):
        for c, (name, base) in enumerate(colors.items()):
            write_images(os.path.join(str(root), split, name), per_class, ext, base, size,
                         seed=100 * c)
    return str(root)


def tfrecord_spec(directory, records, name="train-00000-of-00001"):
    """Writes `directory/name`, a TFRecord file of (encoded image bytes, int label)
    `records` in the ImageNet layout that `tfrecord:` datasets read (image/encoded,
    image/class/label); returns the dataset spec "tfrecord:PATH"."""
    import tensorflow as tf

    path = os.path.join(str(directory), name)
    with tf.io.TFRecordWriter(path) as writer:
        for raw, label in records:
            feature = {
                "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[raw])),
                "image/class/label": tf.train.Feature(
                    int64_list=tf.train.Int64List(value=[label]))}
            writer.write(tf.train.Example(
                features=tf.train.Features(feature=feature)).SerializeToString())
    return f"tfrecord:{path}"


def tiny_export(output_dir, formats="savedmodel,tflite", **kwargs):
    """Exports `tiny_model()` (seeded) to `output_dir` with the float32 TFLite mode only,
    the cheapest export that has a SavedModel and a flat file; returns `output_dir`."""
    import keras

    from keras_resnet import export

    keras.utils.set_random_seed(0)
    kwargs.setdefault("tflite_modes", ("float32",))
    export.export_model(kwargs.pop("model", None) or tiny_model(), output_dir=str(output_dir),
                        formats=formats, **kwargs)
    return str(output_dir)


SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts")


def run_script(capsys, name, *args):
    """(exit status, stdout, the stderr lines) of `scripts/<name>.py args`, run in this
    process: the script is loaded fresh, its flags parsed from `args`, its `main` run
    under `cli.guard`, and its flags removed again, so that scripts defining the same
    flag names can run one after another. 5-6 s less than a subprocess, which imports
    TensorFlow again. train.py, export.py and benchmark.py also run as subprocesses in
    other tests, and test_cli checks that every script's `__main__` calls `cli.run`."""
    from absl import flags

    from keras_resnet import cli

    before = set(flags.FLAGS)
    path = os.path.join(SCRIPTS, f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_script_{name}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        status = 0
        try:
            cli.guard(module.main)(cli.parse_flags([path, *args]))
        except SystemExit as stop:
            status = stop.code or 0
    finally:
        for flag in set(flags.FLAGS) - before:
            delattr(flags.FLAGS, flag)
    out, err = capsys.readouterr()
    return status, out, err.splitlines()


def error_line(lines):
    """The one `error:` line of stderr; no traceback."""
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    found = [line for line in lines if line.startswith("error: ")]
    assert len(found) == 1, "\n".join(lines)
    return found[0]
