"""The functions that keras_resnet hands to tf.data are traced as written
(`keras_resnet.data.sources.graph_only`): AutoGraph converts none of them, so none of
its start-up time is spent on them. The policy, mixing and erasing options run inside
the one per-example and the one per-batch function checked here."""

import numpy as np
import pytest
import tensorflow as tf
from factories import image_bytes, image_folder, tfrecord_spec, tiny_model

# Private: the one function through which AutoGraph converts a Python function (each
# call of a converted function, cached or not). monkeypatch fails loudly if it is gone.
from tensorflow.python.autograph.impl import api as autograph_api

from keras_resnet import data
from keras_resnet.training import evaluate

NORM = data.Normalization.from_mode("torch")


@pytest.fixture
def converted(monkeypatch):
    """Names of the functions that AutoGraph converts while the test runs."""
    names = []
    convert = autograph_api._convert_actual

    def record(entity, program_ctx):
        names.append(f"{entity.__module__}.{entity.__qualname__}")
        return convert(entity, program_ctx)

    monkeypatch.setattr(autograph_api, "_convert_actual", record)
    return names


def test_the_probe_sees_autograph_convert_a_plain_map_function(converted):
    values = tf.data.Dataset.range(3).map(lambda x: x * 2 if x > 0 else x)
    assert list(values.as_numpy_iterator()) == [0, 2, 4]  # a tensor `if`, converted
    assert [name for name in converted if name.endswith("<lambda>")], converted


def test_no_pipeline_function_is_converted_by_autograph(converted, tmp_path):
    folder = data.load_source(
        f"folder:{image_folder(tmp_path / 'folder', per_class=4, size=(20, 18))}", "train",
        holdout_fraction=0.0)
    records = data.load_source(
        tfrecord_spec(tmp_path, [(image_bytes(seed=i), i % 2) for i in range(6)]), "train")
    mix = data.MixConfig(mixup_alpha=0.2, cutmix_alpha=1.0)
    for source in (folder, records):
        train = data.make_dataset(
            source, training=True, batch_size=4, image_size=16, augment="imagenet",
            normalization=NORM, num_classes=2, one_hot=True, auto_augment="randaugment",
            random_erase=0.5, mix=mix, repeated_augmentation=2, repeat=True)
        images, targets = next(iter(train))
        assert images.shape == (4, 16, 16, 3) and targets.shape == (4, 2)
        held_out = data.make_dataset(source, training=False, batch_size=5, image_size=16,
                                     augment="imagenet", normalization=NORM,
                                     resize_size=20, pad_final_batch=True)
        weights = np.concatenate([w for _, _, w in held_out.as_numpy_iterator()])
        assert weights.sum() == source.num_examples
    result = evaluate.evaluate_model(tiny_model(classes=2), records, normalization=NORM,
                                     image_size=16)
    assert result["examples"] == records.num_examples
    assert converted == []
