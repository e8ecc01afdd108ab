"""Peers outside Keras: torchvision's ResNet-50 in native PyTorch (eager, channels-last,
cuDNN autotuning on a GPU), inference and SGD training steps in float32 and under
bfloat16 autocast. Optional: without torchvision the task reports itself skipped, and
why, instead of failing the run."""

import numpy as np

from benchmarks import models as models_lib
from benchmarks import timing

# bfloat16 is PyTorch's autocast, the counterpart of Keras' mixed_bfloat16 policy.
PRECISIONS = ("float32", "bfloat16")
# The result labels, named like the Keras rows they sit beside: inference runtimes
# (native PyTorch, not Keras' "torch" backend) and training modes (no compilation).
INFERENCE_LABELS = {"float32": "pytorch", "bfloat16": "pytorch_bf16"}
TRAINING_LABELS = {"float32": "plain", "bfloat16": "bf16"}


def check_precisions(precisions):
    """Returns `precisions` if each is one of `PRECISIONS`; else a ValueError naming it."""
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown:
        raise ValueError(f"Unknown torchvision precision(s) {unknown}. "
                         f"Allowed values: {list(PRECISIONS)}.")
    return tuple(precisions)


def _skipped(why):
    return [{"kind": "skipped", "model": models_lib.TORCHVISION, "runtime": "pytorch",
             "reason": why}]


def torchvision_resnet50(*, precisions, batch, repeats, steps):
    """Inference and training-step speed of torchvision's ResNet-50 (random weights) in
    each precision, on the first GPU PyTorch sees, else on the CPU. Every timed call
    waits for the device (`torch.cuda.synchronize`).

    Args:
        precisions: list of str. Of `PRECISIONS`.
        batch: int. Images per call and per step.
        repeats: int. Timed inference calls per precision (after 2 untimed).
        steps: int. Timed training steps per precision (after 2 untimed).

    Returns:
        list of dict: per precision an "inference" row (runtime `INFERENCE_LABELS`) and
        a "training" row (runtime `TRAINING_LABELS`), or one "skipped" row with the
        reason when torch or torchvision cannot be imported.
    """
    check_precisions(precisions)
    try:
        import torch
        import torchvision
    except ImportError as error:
        return _skipped(f"torchvision is not importable ({error}); install torch and "
                        "torchvision to compare with torchvision's ResNet-50.")
    import contextlib

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    if cuda:
        torch.backends.cudnn.benchmark = True
    size = 224
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((batch, 3, size, size)).astype(np.float32))
    x = x.to(device).to(memory_format=torch.channels_last)
    y = torch.from_numpy(rng.integers(0, 1000, (batch,))).to(device)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    results = []
    for precision in precisions:
        torch.manual_seed(0)
        model = torchvision.models.resnet50().to(device).to(memory_format=torch.channels_last)

        def autocast():
            if precision == "bfloat16":
                return torch.autocast(device, dtype=torch.bfloat16)
            return contextlib.nullcontext()

        def infer():
            with torch.no_grad(), autocast():
                model(x)
            sync()

        optimizer = torch.optim.SGD(model.parameters(), 0.01, momentum=0.9)

        def train():
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            sync()

        memory = {}
        model.eval()
        inference = timing.time_calls(infer, batch=batch, warmup=2, repeats=repeats)
        model.train()
        training = timing.time_calls(train, batch=batch, warmup=2, repeats=steps)
        if cuda:
            memory = {"peak_device_mb": torch.cuda.max_memory_allocated(0) / 2**20}
        common = {"model": models_lib.TORCHVISION, "device": device, "precision": precision}
        results += [{"kind": "inference", "runtime": INFERENCE_LABELS[precision], **common,
                     **inference, **memory},
                    {"kind": "training", "runtime": TRAINING_LABELS[precision], **common,
                     **training, **memory}]
    return results
