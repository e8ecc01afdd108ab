"""MirroredStrategy on logical CPUs: the held-out accuracy counts every example exactly
once, whatever the split size and replica count, also when the last global batch has
fewer examples than replicas (it is padded with rows of weight 0; issue 16 item 10), and
BatchNormSync averages the replicas' moving statistics.

`fit` validates with the same `model.evaluate` of the same `Data.eval_data` as the
final test score, so checking `loop.evaluate` covers both."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BATCH = 2  # per replica

# One process: 3 logical CPUs (fixed before TensorFlow starts), strategies over 2 and 3
# of them, a folder split of each size, the run's own pipeline, model and evaluate.
SCRIPT = r"""
import json, os, sys, tempfile
import numpy as np
import tensorflow as tf
from PIL import Image
from keras_resnet.training import build_config, loop, strategies
strategies.configure_cpu_devices(3)
devices = [d.name for d in tf.config.list_logical_devices("CPU")]
batch, cases = int(sys.argv[1]), json.loads(sys.argv[2])
rng = np.random.default_rng(0)
for replicas, sizes in cases:
    strategy = tf.distribute.MirroredStrategy(devices[:replicas])
    model = None
    for size in sizes:
        root = tempfile.mkdtemp()
        for split, count in (("train", 2 * batch * replicas), ("val", size)):
            for i in range(max(count, 3)):
                folder = os.path.join(root, split, f"c{i % 3}")
                os.makedirs(folder, exist_ok=True)
                if i < count:
                    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(
                        os.path.join(folder, f"{i}.png"))
        config = build_config("digits", dataset=f"folder:{root}", batch_size=batch,
                              image_size=8, epochs=1)
        data = loop.create_input_pipeline(config, strategy, "torch")
        if model is None:  # one model per strategy, random but fixed
            model = loop.create_model_and_optimizer(config, strategy, data, 0.1)
        scores = loop.evaluate(model, data, multi_worker=False)
        correct = total = 0
        for images, labels in data.eval_fn(None):  # NumPy count, one device
            predicted = np.argmax(model(images, training=False).numpy(), -1)
            correct += int(np.sum(predicted == labels.numpy()))
            total += len(labels)
        print("CASE " + json.dumps({"replicas": replicas, "size": size, "total": total,
                                    "correct": correct,
                                    "accuracy": float(scores["accuracy"])}), flush=True)
# BatchNormSync: replicas' moving statistics drift apart in training, then are averaged.
import keras
from keras_resnet.training.callbacks import BatchNormSync
strategy = tf.distribute.MirroredStrategy(devices[:2])
with strategy.scope():
    bn_model = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization()])
batches = strategy.experimental_distribute_dataset(
    tf.data.Dataset.from_tensor_slices(np.arange(24, dtype="float32").reshape(8, 3) ** 2).batch(4))
for x in batches:
    strategy.run(tf.function(lambda x: bn_model(x, training=True)), (x,))
layer = bn_model.layers[0]
def local(v):
    return [r.numpy().tolist() for r in strategy.experimental_local_results(v.value)]
before = [local(v) for v in (layer.moving_mean, layer.moving_variance)]
sync = BatchNormSync(strategy)
synced = sync(bn_model)
after = [local(v) for v in (layer.moving_mean, layer.moving_variance)]
with strategy.scope():  # the same callback called with another model averages that one
    other = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization(),
                              keras.layers.BatchNormalization()])
print("BNSYNC " + json.dumps({"synced": synced, "other": sync(other),
    "again": sync(bn_model), "before": before, "after": after}), flush=True)
"""


@pytest.mark.slow
def test_held_out_accuracy_counts_each_example_once_for_every_split_and_replica_count():
    # Sizes: 1, replicas - 1, replicas + 1, batch x replicas + 1 (a remainder of one),
    # and 2 x global batch + 1.
    cases = [(2, [1, 3, 5, 9]), (3, [1, 2, 4, 7, 13])]
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(BATCH), json.dumps(cases)], cwd=ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    reported = [json.loads(line[5:]) for line in result.stdout.splitlines()
                if line.startswith("CASE ")]
    # Mirrored BatchNormalization statistics differ per replica until averaged.
    [bn] = [json.loads(line[7:]) for line in result.stdout.splitlines()
            if line.startswith("BNSYNC ")]
    assert (bn["synced"], bn["other"], bn["again"]) == (2, 4, 2)
    for (first, second), after in zip(bn["before"], bn["after"]):
        assert first != second
        mean = [(a + b) / 2 for a, b in zip(first, second)]
        for replica in after:
            assert replica == pytest.approx(mean, rel=1e-6)
    assert [(r["replicas"], r["size"]) for r in reported] == [
        (replicas, size) for replicas, sizes in cases for size in sizes]
    for row in reported:
        assert row["total"] == row["size"], row
        assert row["accuracy"] == pytest.approx(row["correct"] / row["total"], abs=1e-6), row
