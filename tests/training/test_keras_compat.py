"""keras_resnet/_keras_compat.py: the patches work on this Keras and fail loudly, naming
the attribute, on a Keras where their target is gone."""

import numpy as np
import pytest
import tensorflow as tf
from factories import tiny_model
from keras.src.backend.tensorflow import trainer as tf_trainer

from keras_resnet import _keras_compat


def _model(optimizer="sgd", **compile_args):
    model = tiny_model()
    model.compile(optimizer=optimizer, loss="mse", **compile_args)
    return model


def _with_slots():
    """A model whose optimizer and metrics have variables that Keras builds lazily."""
    import keras

    return _model(keras.optimizers.SGD(0.1, momentum=0.9), metrics=["mae"])


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


def _fit_counting_traces(model, x, y):
    """Fits 2 epochs of 2 steps; returns how often the train step was traced."""
    traces = []
    step = model.train_step
    model.train_step = lambda data: (traces.append(1), step(data))[1]
    model.fit(tf.data.Dataset.from_tensors((x, y)).repeat(4), epochs=2, steps_per_epoch=2,
              verbose=0)
    return len(traces)


def test_prebuild_reads_no_batch_and_the_train_step_is_traced_once():
    x, y = np.zeros((2, 16, 16, 3), "float32"), np.zeros((2, 3), "float32")
    # Reading a batch of this dataset fails: prebuild may use its element spec only.
    unread = tf.data.Dataset.from_tensors((x, y)).map(
        lambda a, b: (tf.debugging.check_numerics(a / 0.0, "a batch was read"), b))
    model = _with_slots()
    _keras_compat.prebuild(model, tf.distribute.get_strategy(), unread)
    assert model.optimizer.built and model.optimizer.momentums
    assert _fit_counting_traces(model, x, y) == 1
    # Keras alone builds the momentum slots and the metric in the first trace on one
    # device, and then traces the step again (what prebuild avoids).
    assert _fit_counting_traces(_with_slots(), x, y) == 2


# Two logical CPUs must be made before TensorFlow starts, so this runs in a subprocess.
REPLICATED_STEPS = r"""
import json, sys
import numpy as np, tensorflow as tf, keras
from keras_resnet import _keras_compat
from keras_resnet.training import strategies
strategies.configure_cpu_devices(2)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
rng = np.random.default_rng(0)
x = rng.random((80, 8, 8, 3), dtype="float32")
y = rng.integers(0, 3, 80)
data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)  # 5 batches per epoch
initial = None
results = {}
for steps in (1, 2, 3):
    keras.utils.set_random_seed(1)
    with strategy.scope():
        model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3),
                                  keras.layers.BatchNormalization(),
                                  keras.layers.GlobalAveragePooling2D(),
                                  keras.layers.Dense(3)])
        model.compile(keras.optimizers.SGD(0.1),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], steps_per_execution=steps)
    patched = _keras_compat.exact_steps_per_execution(model, strategy, 5)
    history = model.fit(data, epochs=2, validation_data=data, verbose=0).history
    scores = model.evaluate(data, verbose=0, return_dict=True)
    results[steps] = dict(
        patched=patched, history=history, scores=scores,
        iterations=int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        weights=[w.tolist() for w in model.get_weights()])
print("RESULTS " + json.dumps(results), flush=True)
"""


@pytest.mark.slow
def test_steps_per_execution_over_two_replicas_trains_every_step_once():
    # Unpatched, Keras 3.15 fails at the first step with "You must feed a value for
    # placeholder tensor" (keras-team/keras#19246). 5 batches per epoch: executions of
    # 2 and 3 steps end on a partial execution.
    import json
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    process = subprocess.run(
        [sys.executable, "-c", REPLICATED_STEPS], cwd=root, text=True, timeout=600,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=root),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.returncode == 0, process.stdout[-3000:]
    [line] = [row for row in process.stdout.splitlines() if row.startswith("RESULTS ")]
    results = json.loads(line[8:])
    one = results["1"]
    assert not one["patched"] and one["iterations"] == 10  # Keras' own loop
    for steps in ("2", "3"):
        run = results[steps]
        assert run["patched"] and run["iterations"] == 10
        # The same steps on the same batches in the same order as one step per call.
        for mine, reference in zip(run["weights"], one["weights"]):
            np.testing.assert_allclose(mine, reference, rtol=1e-5, atol=1e-6)
        assert run["scores"] == pytest.approx(one["scores"], rel=1e-5)
        for name in ("val_accuracy", "val_loss"):
            assert run["history"][name] == pytest.approx(one["history"][name], rel=1e-5)


def test_steps_per_execution_patch_fails_loudly_when_its_target_is_gone(monkeypatch):
    model = _model()
    assert not _keras_compat.exact_steps_per_execution(  # one step per execution
        model, tf.distribute.get_strategy(), 3)
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=2)
    monkeypatch.delattr(tf_trainer, "reduce_per_replica")
    with pytest.raises(_keras_compat.KerasCompatError,
                       match=r"reduce_per_replica.*Keras 3\.15"):
        _keras_compat.exact_steps_per_execution(model, tf.distribute.get_strategy(), 3)


@pytest.mark.parametrize("per_execution", [2, 3, 4])
def test_an_epoch_runs_its_steps_once_whatever_the_steps_per_execution(per_execution):
    # Keras 3.15 alone runs whole executions: 2 epochs of 3 steps at 2 per execution
    # trained 8 steps (and read the next epoch's batches). Reference: one per execution.
    x = np.random.default_rng(0).random((12, 16, 16, 3), dtype="float32")
    y = np.eye(3, dtype="float32")[np.arange(12) % 3]
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(4).repeat()
    initial, weights = tiny_model().get_weights(), {}
    for steps in (1, per_execution):
        model = tiny_model()
        model.set_weights(initial)
        model.compile(optimizer="sgd", loss="mse", steps_per_execution=steps)
        _keras_compat.exact_steps_per_execution(model, tf.distribute.get_strategy(), 3)
        model.fit(data, epochs=2, steps_per_epoch=3, verbose=0)
        assert int(model.optimizer.iterations.numpy()) == 6
        weights[steps] = model.get_weights()
    for mine, theirs in zip(weights[per_execution], weights[1]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def _conv_gradients(x, kernel, strides, padding):
    """(input gradient, kernel gradient, op types of the traced gradient graph)."""
    x, kernel = tf.constant(x), tf.constant(kernel)

    def gradients():
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            y = tf.nn.conv2d(x, kernel, strides, padding)
            loss = tf.reduce_sum(y * tf.cos(y))
        return tape.gradient(loss, [x, kernel])

    function = tf.function(gradients)
    graph = function.get_concrete_function().graph
    return *[g.numpy() for g in function()], {op.type for op in graph.get_operations()}


@pytest.mark.parametrize("size,kernel,padding,strides,fast", [
    ((9, 8), 3, "SAME", 1, True),
    ((9, 8), 1, "SAME", 1, True),
    ((9, 8), 7, "SAME", 1, True),
    ((9, 8), 3, "VALID", 1, True),
    ((9, 8), (1, 3), "VALID", 1, True),
    ((5, 4), 3, "VALID", 2, True),  # output 2x1: small enough
    ((3, 4), 3, "SAME", 2, True),  # output 2x2, padded 1 before and 1 after
    ((4, 3), 3, "SAME", 2, True),  # output 2x2, padded 0 before and 1 after
    ((6, 7), 3, "VALID", (2, 3), True),  # output 2x2, the last row and column unread
    ((4, 4), 1, "SAME", 2, True),
    ((3, 3), 3, "VALID", 3, True),  # output 1x1
    ((9, 8), 3, "SAME", 2, False),  # output 5x4: TensorFlow's own gradient
    ((9, 8), 2, "SAME", 1, False),  # even kernel
])
def test_fast_conv_input_gradient_equals_tensorflows(size, kernel, padding, strides, fast):
    rng = np.random.default_rng(0)
    kernel = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = rng.normal(size=(2, *size, 6)).astype("float32")
    w = rng.normal(size=(*kernel, 6, 4)).astype("float32")
    strides = (strides, strides) if isinstance(strides, int) else strides
    *reference, ops = _conv_gradients(x, w, strides, padding)
    assert "Conv2DBackpropInput" in ops
    with _keras_compat.fast_conv_input_gradient(True):
        *patched, ops = _conv_gradients(x, w, strides, padding)
    assert ("Conv2DBackpropInput" not in ops) is fast, ops
    for mine, theirs in zip(patched, reference):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-4)


def test_fast_conv_input_gradient_leaves_grouped_convolutions_to_tensorflow():
    # TensorFlow 2.21 has no CPU gradient for grouped convolutions; the patch keeps
    # TensorFlow's gradient, and so its error, rather than computing another one.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 9, 8, 6)).astype("float32")
    w = rng.normal(size=(3, 3, 3, 4)).astype("float32")  # 2 groups of 3 input channels
    for active in (False, True):
        with _keras_compat.fast_conv_input_gradient(active):
            with pytest.raises(tf.errors.InvalidArgumentError, match="grouped"):
                _conv_gradients(x, w, 1, "SAME")


def test_fast_conv_input_gradient_restores_tensorflows_and_fails_loudly(monkeypatch):
    from tensorflow.python.framework import ops

    original = ops._gradient_registry.lookup("Conv2D")
    with pytest.raises(KeyError):
        with _keras_compat.fast_conv_input_gradient(True):
            assert ops._gradient_registry.lookup("Conv2D") is not original
            raise KeyError("inside")
    assert ops._gradient_registry.lookup("Conv2D") is original
    with _keras_compat.fast_conv_input_gradient(False):
        assert ops._gradient_registry.lookup("Conv2D") is original
    monkeypatch.delitem(ops._gradient_registry._registry, "Conv2D")
    with pytest.raises(_keras_compat.KerasCompatError, match=r"TensorFlow 2\.21.*Conv2D"):
        with _keras_compat.fast_conv_input_gradient(True):
            pass


def test_training_on_cpu_traces_the_fast_conv_input_gradient(tmp_path, monkeypatch):
    """train_and_evaluate traces its step under the patch on a CPU-only machine, and the
    result is the one TensorFlow's own gradient gives (float32 rounding apart). At 8x8
    the stages run at 8, 4 and 2 pixels: stride-1 convs and a stride-2 one into 2x2 take
    the new path, the stride-2 one into 4x4 keeps TensorFlow's."""
    from keras_resnet.training import build_config, loop, train_and_evaluate

    seen, weights = [], {}
    patch = _keras_compat.fast_conv_input_gradient

    def recording(active):
        seen.append(active)
        return patch(active)

    monkeypatch.setattr(_keras_compat, "fast_conv_input_gradient", recording)
    for name, on_cpu in (("fast", True), ("tensorflow", False)):
        monkeypatch.setattr(loop, "on_cpu", lambda value=on_cpu: value)
        config = build_config("digits", model="resnet20", model_options={
            "stage_depths": (1, 1, 1)}, epochs=1, max_steps_per_epoch=2, image_size=8,
            batch_size=8, output_dir=str(tmp_path / name), deterministic=True, verbose=0)
        weights[name] = train_and_evaluate(config)["model"].get_weights()
    assert seen == [True, False]
    for mine, theirs in zip(weights["fast"], weights["tensorflow"]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)
