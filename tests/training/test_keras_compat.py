"""keras_resnet/_keras_compat.py: the patches work on this Keras and fail loudly, naming
the attribute, on a Keras where their target is gone."""

import numpy as np
import pytest
import tensorflow as tf
from factories import tiny_model
from keras.src.backend.tensorflow import trainer as tf_trainer

from keras_resnet import _keras_compat


def _model():
    model = tiny_model()
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_multi_worker_fix_patches_and_restores():
    original = tf_trainer._collective_all_reduce_multi_worker
    with _keras_compat.multi_worker_log_reduction_fix(True):
        assert tf_trainer._collective_all_reduce_multi_worker(None) is False
    assert tf_trainer._collective_all_reduce_multi_worker is original
    with _keras_compat.multi_worker_log_reduction_fix(False):
        assert tf_trainer._collective_all_reduce_multi_worker is original


def test_multi_worker_fix_fails_loudly_when_its_target_is_gone(monkeypatch):
    monkeypatch.delattr(tf_trainer, "_collective_all_reduce_multi_worker")
    with pytest.raises(_keras_compat.KerasCompatError,
                       match=r"_collective_all_reduce_multi_worker.*Keras 3\.15"):
        with _keras_compat.multi_worker_log_reduction_fix(True):
            pass


def test_prebuild_builds_once_and_fails_loudly_when_its_target_is_gone(monkeypatch):
    model = _model()
    data = tf.data.Dataset.from_tensors((np.zeros((2, 16, 16, 3), "float32"),
                                         np.zeros((2, 3), "float32")))
    _keras_compat.prebuild(model, tf.distribute.get_strategy(), data)
    assert model.optimizer.built
    from keras.src.trainers import trainer

    monkeypatch.delattr(trainer.Trainer, "_symbolic_build")
    with pytest.raises(_keras_compat.KerasCompatError, match="_symbolic_build"):
        _keras_compat.prebuild(_model(), tf.distribute.get_strategy(), data)
