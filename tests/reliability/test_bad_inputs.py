"""Catalogue of bad inputs across builders, data sources and pipelines, training
settings, exporters and weight loaders. Each one either raises an error of ours that
names the problem (`error` and `match` in the table) or is handled: skipped and counted,
or decoded and used (the case function asserts how).
"""

import io
import os

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet import data as data_lib
from keras_resnet import training
from keras_resnet.training import loop


# ------------------------------------------------------------------------ fixtures
def _jpeg(mode="RGB", size=(12, 10), **save):
    from PIL import Image

    rng = np.random.default_rng(0)
    channels = {"RGB": 3, "L": 1, "CMYK": 4}[mode]
    pixels = rng.integers(0, 255, (size[1], size[0], channels), dtype=np.uint8)
    image = Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **save)
    return buffer.getvalue()


def _png(mode="RGB"):
    from PIL import Image

    channels = {"RGB": 3, "RGBA": 4}[mode]
    image = Image.fromarray(np.full((9, 11, channels), 200, np.uint8), mode)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _folder(tmp_path, odd_name=None, odd_bytes=None, per_class=3):
    """folder:ROOT with classes a/ and b/ of `per_class` good JPEGs, plus one odd file
    in a/."""
    root = tmp_path / "images"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            (root / name / f"{i}.jpg").write_bytes(_jpeg())
    if odd_name:
        (root / "a" / odd_name).write_bytes(odd_bytes)
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


def _tfrecord(tmp_path, records, name="train-00000-of-00001"):
    import tensorflow as tf

    path = str(tmp_path / name)
    with tf.io.TFRecordWriter(path) as writer:
        for raw, label in records:
            feature = {
                "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[raw])),
                "image/class/label": tf.train.Feature(
                    int64_list=tf.train.Int64List(value=[label]))}
            writer.write(tf.train.Example(
                features=tf.train.Features(feature=feature)).SerializeToString())
    return f"tfrecord:{path}"


def _tfrecord_corrupt_record_counted(tmp_path):
    spec = _tfrecord(tmp_path, [(_jpeg(), 0), (b"not an image", 1), (_jpeg(), 1)])
    source = data_lib.load_source(spec, "train")
    assert _pixels(source).shape == (2, 16, 16, 3)
    assert source.skipped() == 1


def _tfrecord_labels(labels, **kwargs):
    def case(tmp_path):
        spec = _tfrecord(tmp_path, [(_jpeg(), label) for label in labels])
        data_lib.load_source(spec, "train", **kwargs)
    return case


def _not_hdf5(tmp_path):
    from keras_resnet.weights import load_weights

    path = tmp_path / "weights.h5"
    path.write_bytes(b"this is not HDF5")
    load_weights(_tiny_v15(), str(path))


def _tiny_v15():
    return keras_resnet.build_resnet((1, 1), block="basic", stem="cifar",
                                     stage_widths=(4, 8), input_shape=(16, 16, 3),
                                     classes=3, name="tiny")


def _state_dict(model):
    """A torchvision-layout state dict of `model`'s own weights."""
    from keras_resnet.weights.torchvision import torch_module_name

    state = {}
    for layer in model.layers:
        module = torch_module_name(layer.name)
        if module is None or not layer.weights:
            continue
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            state.update({f"{module}.weight": gamma, f"{module}.bias": beta,
                          f"{module}.running_mean": mean, f"{module}.running_var": var})
        elif isinstance(layer, keras.layers.Conv2D):
            state[f"{module}.weight"] = layer.get_weights()[0].transpose(3, 2, 0, 1)
        else:
            kernel, bias = layer.get_weights()
            state.update({f"{module}.weight": kernel.T, f"{module}.bias": bias})
    return state


def _torch_file(tmp_path, state, truncate=False):
    import torch

    path = str(tmp_path / "weights.pth")
    torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, path)
    if truncate:
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
    return path


def _load_torch(mutate=None, truncate=False):
    def case(tmp_path):
        from keras_resnet.weights import load_weights

        state = _state_dict(_tiny_v15())
        if mutate:
            mutate(state)
        model = _tiny_v15()
        before = [w.copy() for w in model.get_weights()]
        try:
            load_weights(model, _torch_file(tmp_path, state, truncate))
        finally:
            # All-or-nothing: a refused file leaves the model untouched.
            assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    return case


def _wrong_classes(state):
    state["fc.weight"] = np.zeros((1000, 8), np.float32)
    state["fc.bias"] = np.zeros((1000,), np.float32)


def _wrong_shape(state):
    state["layer1.0.conv1.weight"] = np.zeros((4, 4, 1, 1), np.float32)


def _missing_key(state):
    del state["layer2.0.bn2.running_var"]


def _extra_key(state):
    state["layer3.0.conv1.weight"] = np.zeros((16, 8, 3, 3), np.float32)


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    from keras_resnet import export

    keras.utils.set_random_seed(0)
    out = str(tmp_path_factory.mktemp("bad_inputs") / "tiny")
    export.export_model(_tiny_v15(), output_dir=out, formats="savedmodel,tflite",
                        tflite_modes=("float32",))
    return out


def _tampered(change):
    def case(tmp_path, export_dir):
        import shutil

        from keras_resnet import export

        copy = str(tmp_path / "copy")
        shutil.copytree(export_dir, copy)
        change(copy)
        export.verify(copy)
    return case


def _append_byte(folder):
    with open(os.path.join(folder, "model_float32.tflite"), "ab") as f:
        f.write(b"\0")


def _flip_byte(folder):
    path = os.path.join(folder, "model_float32.tflite")
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))


def _train(tmp_path, **overrides):
    settings = dict(epochs=1, max_steps_per_epoch=3, batch_size=16, image_size=16, verbose=0,
                    output_dir=str(tmp_path / "run"))
    config = training.build_config("digits", **{**settings, **overrides})
    return training.train_and_evaluate(config)


def _diverges(tmp_path):
    # A rate of 1e30 sends the weights to inf within a few steps: the NaN guard stops
    # the run with our error rather than finishing with a NaN model.
    _train(tmp_path, learning_rate=1e30, scale_lr=False)


def _unwritable_output(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    loop.prepare_output_dir(str(blocker / "run"))


def _validate(**overrides):
    def case(tmp_path):
        loop.validate(training.build_config("digits", **overrides))
    return case


def _call(function, *args, **kwargs):
    def case(tmp_path):
        function(*args, **kwargs)
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
    (tmp_path / "images" / "loose.jpg").write_bytes(_jpeg())
    return f"folder:{tmp_path / 'images'}"


def _export_call(**kwargs):
    def case(tmp_path):
        from keras_resnet import export

        export.export_model(kwargs.pop("model", None) or _tiny_v15(),
                            output_dir=str(tmp_path / "out"), **kwargs)
    return case


def _corrupt_keras_file(tmp_path):
    from keras_resnet import export

    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    export.export_model(str(path), output_dir=str(tmp_path / "out"))


_JPEG = _jpeg()
# (id, case function, error type or None when handled, regex the message must match)
CASES = [
    # builders
    ("builder-empty-depths", _call(keras_resnet.build_resnet, []), ValueError, "stage_depths"),
    ("builder-negative-depth", _call(keras_resnet.build_resnet, [2, -1]), ValueError,
     "stage_depths"),
    ("builder-depths-string", _call(keras_resnet.build_resnet, "3463"), ValueError,
     "stage_depths"),
    ("builder-unknown-block", _call(keras_resnet.build_resnet, [1], block="dense"), ValueError,
     "block"),
    ("builder-unknown-shortcut", _call(keras_resnet.build_resnet, [1], shortcut="D"),
     ValueError, "shortcut"),
    ("builder-basic-groups", _call(keras_resnet.build_resnet, [1], block="basic", groups=4),
     ValueError, "groups"),
    ("builder-bottleneck-zero-width", _call(keras_resnet.build_resnet, [1], stem="cifar",
                                            stage_widths=[4], width_per_group=4),
     ValueError, "width_per_group=4"),
    ("builder-shortcut-a-narrowing", _call(keras_resnet.build_resnet, [1], block="basic",
                                           stage_widths=[8], shortcut="A"),
     ValueError, "cannot reduce channels"),
    ("builder-se-ratio", _call(keras_resnet.build_resnet, [1], se_ratio=1.5), ValueError,
     "se_ratio"),
    ("builder-fused-bn-string", _call(keras_resnet.build_resnet, [1], fused_bn="yes"),
     ValueError, "fused_bn='yes'"),
    ("builder-zero-classes", _call(keras_resnet.build_resnet, [1], classes=0), ValueError,
     "classes"),
    ("builder-classes-string", _call(keras_resnet.build_resnet, [1], classes="ten"),
     ValueError, "classes"),
    ("builder-unknown-pooling", _call(keras_resnet.build_resnet, [1], include_top=False,
                                      pooling="median"), ValueError, "pooling"),
    ("builder-input-too-small", _call(keras_resnet.create_model, "resnet50",
                                      input_shape=(8, 8, 3)), ValueError, "input_shape"),
    ("builder-output-stride", _call(keras_resnet.build_resnet, [1, 1, 1, 1], output_stride=12),
     ValueError, "output_stride"),
    ("registry-unknown-name", _call(keras_resnet.create_model, "resnet21"), ValueError,
     "resnet21.*resnet20"),
    # data sources and pipelines
    ("image-grayscale-jpeg", _decodes_and_is_used("gray.jpg", _jpeg("L")), None, None),
    ("image-cmyk-jpeg", _decodes_and_is_used("cmyk.jpg", _jpeg("CMYK")), None, None),
    ("image-png-named-jpg", _decodes_and_is_used("png.jpg", _png()), None, None),
    ("image-rgba-png", _decodes_and_is_used("rgba.png", _png("RGBA")), None, None),
    ("image-progressive-jpeg", _decodes_and_is_used("prog.jpg", _jpeg(progressive=True)),
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
    ("tfrecord-empty", _source(lambda t: _tfrecord(t, [])), ValueError, "hold no records"),
    ("tfrecord-corrupt-record", _tfrecord_corrupt_record_counted, None, None),
    ("dataset-unknown-kind", _source(lambda t: "ftp:somewhere"), ValueError,
     "Unknown dataset"),
    ("pipeline-unknown-augment", _call(data_lib.augment.check_mode, "mixup"), ValueError,
     "mixup"),
    # training settings
    ("train-unknown-setting", _call(training.build_config, "digits", epochz=3), ValueError,
     "epochz"),
    ("train-unknown-recipe", _call(training.build_config, "imagenet22k"), ValueError,
     "imagenet22k"),
    ("train-unknown-strategy", _validate(strategy="gpu"), ValueError, "strategy='gpu'"),
    ("train-unknown-model", _validate(model="resnet21"), ValueError, "resnet21"),
    ("train-zero-epochs", _validate(epochs=0), ValueError, "epochs"),
    ("train-zero-batch", _validate(batch_size=0), ValueError, "batch_size"),
    ("train-label-smoothing-1", _validate(label_smoothing=1.0), ValueError, "label_smoothing"),
    ("train-negative-lr", _validate(learning_rate=-0.1), ValueError, "learning_rate"),
    ("train-unwritable-output", _unwritable_output, ValueError, "not writable"),
    ("train-batch-larger-than-data", lambda t: _train(t, batch_size=4096), ValueError,
     "fewer than the global batch"),
    ("train-nan-loss", _diverges, training.TrainingDiverged, "NaN/inf at epoch 1"),
    # exporters
    ("export-unknown-format", _export_call(formats="coreml"), ValueError, "coreml"),
    ("export-unknown-tflite-mode", _export_call(formats="tflite", tflite_modes=("int4",)),
     ValueError, "int4"),
    ("export-unknown-model-name", _export_call(model="resnet21"), ValueError, "resnet21"),
    ("export-parity-data-shape", _export_call(parity_data=np.zeros((2, 8, 8, 3))), ValueError,
     "parity_data"),
    ("export-corrupt-keras-file", _corrupt_keras_file, ValueError, "Could not read"),
    ("export-tampered-size", _tampered(_append_byte), "verify", "size"),
    ("export-tampered-bytes", _tampered(_flip_byte), "verify", "sha256"),
    ("export-extra-file", _tampered(lambda d: open(os.path.join(d, "x.bin"), "w").close()),
     "verify", "not in the manifest"),
    ("export-missing-file", _tampered(lambda d: os.remove(os.path.join(
        d, "model_float32.tflite"))), "verify", "missing file"),
    ("export-no-manifest", _tampered(lambda d: os.remove(os.path.join(d, "manifest.json"))),
     FileNotFoundError, "No manifest.json"),
    ("export-garbled-manifest", _tampered(lambda d: open(os.path.join(
        d, "manifest.json"), "w").write("{")), ValueError, "Unreadable"),
    # weight loaders
    ("weights-truncated-pth", _load_torch(truncate=True), ValueError,
     "weights.pth.*truncated or corrupt"),
    ("weights-wrong-classes", _load_torch(_wrong_classes), ValueError,
     "'predictions'.*\\(8, 3\\).*\\(8, 1000\\)"),
    ("weights-wrong-shape", _load_torch(_wrong_shape), ValueError, "conv2_block1_1_conv"),
    ("weights-missing-key", _load_torch(_missing_key), ValueError, "running_var"),
    ("weights-deeper-checkpoint", _load_torch(_extra_key), ValueError, "layer3.0.conv1.weight"),
    ("weights-h5-not-hdf5", _not_hdf5, ValueError, "not a readable Keras HDF5"),
    ("weights-unsupported-suffix", _call(keras_resnet.weights.weights_format, "w.bin"),
     ValueError, "Unsupported weights file"),
    ("weights-imagenet-without-variant", _call(keras_resnet.weights.load_weights, None,
                                               "imagenet"), ValueError, "named variant"),
]


@pytest.mark.parametrize("case,error,match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(case, error, match, tmp_path, request):
    args = [tmp_path]
    if case.__code__.co_argcount == 2:
        args.append(request.getfixturevalue("export_dir"))
    if error is None:
        case(*args)
        return
    if error == "verify":
        from keras_resnet.export.verify import VerificationError as error
    with pytest.raises(error, match=match) as info:
        case(*args)
    # Our message, not one from deep inside TensorFlow.
    assert type(info.value).__module__.split(".")[0] in ("builtins", "keras_resnet"), info.value
