"""GPU peer benchmark without TensorFlow: ResNet-50 training and inference img/s of
keras_resnet (Keras 3 on the JAX backend), keras.applications.ResNet50 (same backend)
and torchvision's resnet50 (PyTorch), side by side in one process.

Why a separate script: the lent GPU machines carry JAX and PyTorch but no TensorFlow,
and TensorFlow's wheel is too large to carry there, so scripts/benchmark.py (TF) cannot
run on them. The model builders import only keras, so they run on JAX unchanged.

    KERAS_BACKEND=jax python scripts/benchmark_gpu_peers.py keras torch
    PRECISIONS=mixed_bfloat16 python scripts/benchmark_gpu_peers.py keras

Environment: BATCH (128), STEPS per repetition (30), PRECISIONS
("float32,mixed_bfloat16"), OUT (folder of gpu_peers.json, "."). Each figure is the
median of 3 repetitions after 5 warm-up steps; every step ends in a device sync
(train_on_batch / predict_on_batch return host values; torch.cuda.synchronize()).
"""

import json
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

BATCH = int(os.environ.get("BATCH", 128))
STEPS = int(os.environ.get("STEPS", 30))
REPS = 3
results = []


def timeit(step, n=STEPS, warm=5):
    for _ in range(warm):
        step()
    rates = []
    for _ in range(REPS):
        start = time.perf_counter()
        for _ in range(n):
            step()
        rates.append(BATCH * n / (time.perf_counter() - start))
    return statistics.median(rates), min(rates), max(rates)


def record(framework, model, mode, precision, rate):
    results.append(dict(framework=framework, model=model, mode=mode, precision=precision,
                        img_s=round(rate[0], 1), min=round(rate[1], 1),
                        max=round(rate[2], 1), batch=BATCH))
    print(json.dumps(results[-1]), flush=True)
    with open(os.path.join(os.environ.get("OUT", "."), "gpu_peers.json"), "w") as f:
        json.dump(results, f, indent=1)


def keras_runs():
    import jax
    import keras

    import keras_resnet

    x = jax.device_put(np.random.rand(BATCH, 224, 224, 3).astype("float32"))
    y = jax.device_put(np.eye(1000, dtype="float32")[np.random.randint(0, 1000, BATCH)])
    builders = [("keras_resnet.ResNet50 (v1.5)", keras_resnet.ResNet50),
                ("keras.applications.ResNet50", lambda: keras.applications.ResNet50(weights=None))]
    for precision in os.environ.get("PRECISIONS", "float32,mixed_bfloat16").split(","):
        for label, build in builders:
            keras.config.set_dtype_policy(precision)  # clear_session() resets the policy
            model = build()
            record("keras-jax", label, "inference", precision,
                   timeit(lambda: model.predict_on_batch(x)))
            model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                          loss="categorical_crossentropy")
            record("keras-jax", label, "train", precision,
                   timeit(lambda: model.train_on_batch(x, y)))
            del model
            keras.backend.clear_session()
    keras.config.set_dtype_policy("float32")


def torch_runs():
    import contextlib

    import torch
    import torchvision

    torch.backends.cudnn.benchmark = True
    x = torch.rand(BATCH, 3, 224, 224, device="cuda").to(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (BATCH,), device="cuda")
    for precision in ("float32", "bfloat16"):
        model = torchvision.models.resnet50().cuda().to(memory_format=torch.channels_last)

        def autocast():
            if precision == "bfloat16":
                return torch.autocast("cuda", dtype=torch.bfloat16)
            return contextlib.nullcontext()

        model.eval()

        def infer():
            with torch.no_grad(), autocast():
                model(x)
            torch.cuda.synchronize()

        record("pytorch", "torchvision resnet50", "inference", precision, timeit(infer))
        model.train()
        opt = torch.optim.SGD(model.parameters(), 0.1, momentum=0.9)

        def train():
            opt.zero_grad(set_to_none=True)
            with autocast():
                loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            torch.cuda.synchronize()

        record("pytorch", "torchvision resnet50", "train", precision, timeit(train))


if __name__ == "__main__":
    if "torch" in sys.argv[1:]:
        torch_runs()
    if "keras" in sys.argv[1:]:
        keras_runs()
