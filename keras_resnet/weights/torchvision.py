"""torchvision ResNet / ResNeXt / Wide ResNet state dicts -> our v1.5 models.

Names map one to one: `conv1`/`bn1` -> `conv1_conv`/`conv1_bn`; `layer{s-1}.{b-1}.conv{i}`
and `.bn{i}` -> `conv{s}_block{b}_{i}_conv` / `_bn`; `.downsample.0` / `.downsample.1` ->
`conv{s}_block{b}_0_conv` / `_0_bn`; `fc` -> `predictions`. Conv kernels go from
PyTorch's (out, in/groups, kh, kw) to Keras' (kh, kw, in/groups, out) — the same
transpose for grouped convs, whose groups split the channels contiguously in both
frameworks — and the fc weight is transposed. Outputs then match PyTorch's because our
builders pad strided convs symmetrically and default to PyTorch's BN epsilon (1e-5).

torch is imported only when a file is read; a state dict of NumPy arrays needs no torch.
"""

import collections.abc
import os
import pickle
import re

import keras
import numpy as np

from keras_resnet.weights import common

TORCH_BN_EPSILON = 1e-5
_BLOCK = re.compile(r"conv(\d+)_block(\d+)_(\d+)_(conv|bn)$")
_SKIPPED_SUFFIXES = ("num_batches_tracked",)


def torch_module_name(layer_name):
    """torchvision module path of one of our layers, or None if it has no counterpart.

    Example:
        >>> torch_module_name("conv3_block1_0_bn")
        'layer2.0.downsample.1'
    """
    fixed = {"conv1_conv": "conv1", "conv1_bn": "bn1", "predictions": "fc"}
    if layer_name in fixed:
        return fixed[layer_name]
    match = _BLOCK.match(layer_name)
    if not match:
        return None
    stage, block, index, kind = match.groups()
    prefix = f"layer{int(stage) - 1}.{int(block) - 1}."
    if index == "0":
        return prefix + ("downsample.0" if kind == "conv" else "downsample.1")
    return prefix + f"{kind}{index}"


def _import_torch():
    try:
        import torch
    except ImportError:
        raise ImportError(
            "Loading a PyTorch checkpoint (.pth/.pt) needs torch, which is not "
            "installed. Install it with `pip install keras-resnet[torch]` (or "
            "`pip install torch`), or pass the state dict as a dict of NumPy arrays."
        ) from None
    return torch


def _to_numpy(key, value):
    if isinstance(value, np.ndarray):
        return value
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu()
        if value.is_floating_point():
            value = value.float()
        return value.numpy()
    raise ValueError(
        f"Not a plain state dict: the value of {key!r} is a {type(value).__name__}, not a "
        "tensor. Pass the model's `state_dict()` (for a training checkpoint, e.g. "
        "checkpoint['state_dict'] or checkpoint['model'])."
    )


def read_state_dict(path_or_state_dict):
    """Loads a torchvision state dict as {key: NumPy array}.

    Args:
        path_or_state_dict: str or os.PathLike to a `.pth`/`.pt` file saved with
            `torch.save(model.state_dict(), path)`, or a mapping of tensors/arrays.

    Raises:
        ImportError: a path is given and torch is not installed.
        ValueError: the file is not a plain state dict (e.g. a pickled nn.Module, or a
            dict holding non-tensor values); it is never unpickled beyond tensors.
    """
    source = path_or_state_dict
    if not isinstance(source, collections.abc.Mapping):
        path = os.fspath(source)
        torch = _import_torch()
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Weights file {path!r} does not exist.")
        try:
            # weights_only: refuse arbitrary pickled objects (code execution on load).
            source = torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, EOFError) as err:  # torch's reader on a truncated/corrupt file
            raise ValueError(
                f"{path!r} is not a readable PyTorch file ({type(err).__name__}: {err}); "
                "it may be truncated or corrupt: download or copy it again."
            ) from err
        except (pickle.UnpicklingError, RuntimeError, AttributeError) as err:
            raise ValueError(
                f"{path!r} is not a plain PyTorch state dict (torch.load with "
                f"weights_only=True refused it: {err}). Save the weights with "
                "`torch.save(model.state_dict(), path)`; full pickled models are refused."
            ) from err
        if not isinstance(source, collections.abc.Mapping):
            raise ValueError(
                f"{path!r} holds a {type(source).__name__}, not a state dict (a mapping of "
                "parameter names to tensors)."
            )
    state = {}
    for key, value in source.items():
        if not isinstance(key, str):
            raise ValueError(f"Not a state dict: key {key!r} is not a string.")
        state[key] = _to_numpy(key, value)
    # Checkpoints saved from nn.DataParallel prefix every key with "module.".
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _layer_arrays(layer, module, state):
    def get(param):
        key = f"{module}.{param}"
        if key not in state:
            raise ValueError(
                f"The state dict has no {key!r} for layer {layer.name!r}: the checkpoint "
                "is shallower than the model or of a different architecture."
            )
        return state[key], key

    if isinstance(layer, keras.layers.BatchNormalization):
        names = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean",
                 "moving_variance": "running_var"}
        pairs = {ours: get(theirs) for ours, theirs in names.items()}
    elif isinstance(layer, keras.layers.Conv2D):
        kernel, key = get("weight")
        if kernel.ndim != 4:
            raise ValueError(f"Shape mismatch at layer {layer.name!r}: {key} has shape "
                             f"{kernel.shape}, expected a 4-D conv weight.")
        pairs = {"kernel": (kernel.transpose(2, 3, 1, 0), key)}
        if layer.use_bias:
            pairs["bias"] = get("bias")
    elif isinstance(layer, keras.layers.Dense):
        weight, key = get("weight")
        pairs = {"kernel": (weight.T, key), "bias": get("bias")}
    else:
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) has no torchvision counterpart."
        )
    return {name: value for name, (value, _) in pairs.items()}, [k for _, k in pairs.values()]


def load_torchvision_weights(model, path_or_state_dict):
    """Loads torchvision ResNet, ResNeXt or Wide ResNet weights into `model`.

    The model must be one of our v1.5 ImageNet models of the same depth and width
    (e.g. `keras_resnet.ResNet50`, `ResNeXt50_32x4d`, `WideResNet50_2`); with
    `include_top=False` the checkpoint's `fc` is skipped. Everything is checked before
    anything is written.

    Args:
        model: keras.Model built by keras_resnet.
        path_or_state_dict: str or os.PathLike to a `.pth`/`.pt` state dict (e.g.
            torchvision's `resnet50-0676ba61.pth`), or a mapping of tensors/arrays.

    Returns:
        The model, with the weights loaded.

    Raises:
        ValueError: the checkpoint does not fit the model (the message names the
            first mismatching layer and both shapes, or the first unused key), the
            model is a v1 / pre-activation / SE model, or the file is not a state dict.

    Example:
        >>> model = keras_resnet.ResNet50(weights=None)
        >>> keras_resnet.load_torchvision_weights(model, "resnet50-0676ba61.pth")
    """
    if common.strided_1x1(model):
        raise ValueError(
            "torchvision's ResNets are v1.5 (stride on the 3x3 conv) but this model "
            "strides on the first 1x1 (v1). Build it with version='v1.5' (e.g. "
            "keras_resnet.ResNet50) to load torchvision weights."
        )
    state = read_state_dict(path_or_state_dict)
    source = ("the state dict" if isinstance(path_or_state_dict, collections.abc.Mapping)
              else repr(os.fspath(path_or_state_dict)))
    assignments, used = [], set()
    for layer in common.weighted_layers(model):
        module = torch_module_name(layer.name)
        if module is None:
            raise ValueError(
                f"Layer {layer.name!r} ({type(layer).__name__}) has no counterpart in "
                "torchvision's ResNets; only plain v1.5 ResNet/ResNeXt/Wide ResNet "
                "models (no SE, no pre-activation) can load torchvision weights."
            )
        arrays, keys = _layer_arrays(layer, module, state)
        assignments.append(common.prepare(layer, arrays, source=source))
        used.update(keys)
    ignored = lambda k: k.endswith(_SKIPPED_SUFFIXES) or (  # noqa: E731
        not common.has_top(model) and k.startswith("fc."))
    unused = [k for k in state if k not in used and not ignored(k)]
    if unused:
        raise ValueError(
            f"The state dict has weights the model has no layer for, first "
            f"{unused[0]!r} with shape {tuple(state[unused[0]].shape)} ({len(unused)} "
            "unused in all): the checkpoint is for a deeper or different network."
        )
    common.assign(assignments)
    common.check_bn_epsilon(model, TORCH_BN_EPSILON, source="The torchvision checkpoint")
    return model
