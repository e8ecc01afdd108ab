"""Recipe components: optimizers (LAMB's trust ratio, weight decay off BN and biases),
the weight EMA and timm's binary cross-entropy, each against a NumPy reference."""

import keras
import numpy as np
import pytest

from keras_resnet.training import ema as ema_lib
from keras_resnet.training import losses, optimizers


def _lamb_reference(w, grads, lr, wd, decay_it, beta_1=0.9, beta_2=0.999, eps=1e-6):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        update = (m / (1 - beta_1**t)) / (np.sqrt(v / (1 - beta_2**t)) + eps)
        if decay_it:
            update = update + wd * w
            ratio = np.linalg.norm(w) / np.linalg.norm(update)
        else:
            ratio = 1.0
        w = w - lr * ratio * update
    return w


def test_lamb_trust_ratio_matches_the_paper():
    rng = np.random.RandomState(0)
    kernel0, bias0 = rng.normal(size=(4, 3)), rng.normal(size=(3,))
    grads = [(rng.normal(size=(4, 3)), rng.normal(size=(3,))) for _ in range(3)]
    kernel = keras.Variable(kernel0, name="kernel", dtype="float64")
    bias = keras.Variable(bias0, name="bias", dtype="float64")
    optimizer = optimizers.create_optimizer("lamb", 0.05, weight_decay=0.1)
    for gk, gb in grads:
        optimizer.apply_gradients([(gk, kernel), (gb, bias)])
    np.testing.assert_allclose(kernel.numpy(), _lamb_reference(
        # The learning rate is a float32 variable: 1e-6, not float64 precision.
        kernel0, [g for g, _ in grads], 0.05, 0.1, decay_it=True), rtol=1e-6, atol=1e-6)
    # The bias is out of weight decay: the plain Adam step, no trust ratio.
    np.testing.assert_allclose(bias.numpy(), _lamb_reference(
        bias0, [g for _, g in grads], 0.05, 0.1, decay_it=False), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", optimizers.OPTIMIZERS)
def test_weight_decay_skips_norm_and_bias(name):
    kernel = keras.Variable(np.ones((2, 2)), name="kernel", dtype="float64")
    gamma = keras.Variable(np.ones(2), name="gamma", dtype="float64")
    optimizer = optimizers.create_optimizer(name, 0.1, weight_decay=0.5)
    zero = np.zeros((2, 2)), np.zeros(2)
    optimizer.apply_gradients(zip(zero, (kernel, gamma)))
    assert (kernel.numpy() < 1.0).all()  # decayed
    np.testing.assert_array_equal(gamma.numpy(), np.ones(2))  # left alone
    kept = keras.Variable(np.ones(2), name="gamma", dtype="float64")
    everything = optimizers.create_optimizer(name, 0.1, weight_decay=0.5, exclude_norm=False)
    everything.apply_gradients([(np.zeros(2), kept)])
    assert (kept.numpy() < 1.0).all()


def test_optimizer_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"optimizer='adam'.*'sgd', 'nesterov'"):
        optimizers.create_optimizer("adam", 0.1)
    with pytest.raises(ValueError, match="weight_decay.*nan"):
        optimizers.create_optimizer("sgd", 0.1, weight_decay=float("nan"))


def test_ema_equals_a_numpy_reference_over_training_steps():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
                              keras.layers.BatchNormalization(), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.random.RandomState(1).normal(size=(24, 3)).astype("float32")
    y = np.random.RandomState(2).normal(size=(24, 2)).astype("float32")
    snapshots = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            snapshots.append([np.array(w) for w in self.model.get_weights()])

    ema = ema_lib.ModelEMA(0.9, every=2)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0,
              callbacks=[Record(), ema])
    reference = None
    for step, weights in enumerate(snapshots, start=1):
        if step % 2:
            continue
        reference = ([w.astype(np.float64) for w in weights] if reference is None else
                     [0.9 * r + 0.1 * w for r, w in zip(reference, weights)])
    assert ema.updates == 3 and len(reference) == len(model.weights) == 8  # BN stats too
    for got, want in zip(ema.average, reference):
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)
    raw = [np.array(w) for w in model.get_weights()]
    ema.swap_in()
    for variable, want in zip(model.weights, reference):
        np.testing.assert_allclose(variable.numpy(), want, rtol=1e-6)
    ema.swap_out()
    for got, want in zip(model.get_weights(), raw):
        np.testing.assert_array_equal(got, want)
    restored = ema_lib.ModelEMA(0.9, every=2)
    restored.set_state(ema.get_state())
    assert restored.step == 6 and restored.updates == 3


def test_ema_decay_adjustment_is_torchvisions():
    # torchvision's ResNet-50 V2 recipe: decay 0.99998, 8 GPUs x 128, every 32, 600 epochs.
    decay = ema_lib.adjusted_decay(0.99998, global_batch=1024, every=32, epochs=600)
    assert decay == pytest.approx(1 - 2e-5 * 1024 * 32 / 600, rel=1e-12)
    with pytest.raises(ValueError, match="ema_decay"):
        ema_lib.ModelEMA(1.0)


def test_bce_targets_and_value_follow_timm():
    loss = losses.BinaryCrossEntropy(smoothing=0.1, target_threshold=0.2)
    mixed = np.array([[0.7, 0.3, 0.0, 0.0]], np.float32)  # a mixup of classes 0 and 1
    targets = keras.ops.convert_to_numpy(loss.targets(mixed, 4))
    # timm: off = 0.1 / 4, on = 1 - 0.1 + off; then > 0.2 -> 1.
    np.testing.assert_array_equal(targets, [[1, 1, 0, 0]])
    soft = keras.ops.convert_to_numpy(losses.BinaryCrossEntropy(0.1).targets(mixed, 4))
    np.testing.assert_allclose(soft, mixed * 0.9 + 0.025, rtol=1e-6)
    p = np.array([[0.9, 0.6, 0.2, 0.1]], np.float32)
    want = -np.mean(targets * np.log(p) + (1 - targets) * np.log(1 - p))
    assert float(loss(mixed, p)) == pytest.approx(want, rel=1e-5)
    with pytest.raises(ValueError, match=r"loss='nll'.*\['ce', 'bce'\]"):
        losses.create_loss("nll")


def test_ema_counts_steps_when_keras_reports_every_few_steps():
    ema = ema_lib.ModelEMA(0.5, every=4)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    ema.set_model(model)
    ema.on_epoch_begin(0)
    for batch in (1, 3, 5, 7):  # steps_per_execution=2: Keras reports batches 1, 3, 5, 7
        ema.on_train_batch_end(batch)
    assert (ema.step, ema.updates) == (8, 2)


def test_ema_counts_no_steps_past_the_epochs_end():
    # 3 steps per epoch at 2 per execution: Keras reports batches 1 and 3, but the last
    # execution runs one step (keras_resnet._keras_compat.exact_steps_per_execution).
    ema = ema_lib.ModelEMA(0.5, every=1)
    ema.set_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    ema.set_params({"epochs": 2, "steps": 3})
    for epoch in range(2):
        ema.on_epoch_begin(epoch)
        for batch in (1, 3):
            ema.on_train_batch_end(batch)
    assert ema.step == 6
