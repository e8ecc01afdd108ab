"""Bad weight files: truncated, of another shape or depth, missing keys, not HDF5, an
unknown suffix. Each raises our error naming the file, the layer and both shapes, and a
refused file leaves the model untouched (see tests/bad_inputs.py)."""

import keras
import numpy as np
from bad_inputs import call, check, parametrize
from factories import tiny_model

import keras_resnet
from keras_resnet.weights import load_weights


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
        state = _state_dict(tiny_model())
        if mutate:
            mutate(state)
        model = tiny_model()
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


def _not_hdf5(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_bytes(b"this is not HDF5")
    load_weights(tiny_model(), str(path))


CASES = [
    ("weights-truncated-pth", _load_torch(truncate=True), ValueError,
     "weights.pth.*truncated or corrupt"),
    ("weights-wrong-classes", _load_torch(_wrong_classes), ValueError,
     "'predictions'.*\\(8, 3\\).*\\(8, 1000\\)"),
    ("weights-wrong-shape", _load_torch(_wrong_shape), ValueError, "conv2_block1_1_conv"),
    ("weights-missing-key", _load_torch(_missing_key), ValueError, "running_var"),
    ("weights-deeper-checkpoint", _load_torch(_extra_key), ValueError, "layer3.0.conv1.weight"),
    ("weights-h5-not-hdf5", _not_hdf5, ValueError, "not a readable Keras HDF5"),
    ("weights-unsupported-suffix", call(keras_resnet.weights.weights_format, "w.bin"),
     ValueError, "Unsupported weights file"),
    ("weights-imagenet-without-variant", call(keras_resnet.weights.load_weights, None,
                                              "imagenet"), ValueError, "named variant"),
]


@parametrize(CASES)
def test_bad_input(case, error, match, tmp_path):
    check(case, error, match, tmp_path)
