"""torchvision ResNet / ResNeXt / Wide ResNet state dicts -> our v1.5 models.

Names map one to one: `conv1`/`bn1` -> `conv1_conv`/`conv1_bn`; `layer{s-1}.{b-1}.conv{i}`
and `.bn{i}` -> `conv{s}_block{b}_{i}_conv` / `_bn`; `.downsample.0` / `.downsample.1` ->
`conv{s}_block{b}_0_conv` / `_0_bn`; `fc` -> `predictions`. Conv kernels go from
PyTorch's (out, in/groups, kh, kw) to Keras' (kh, kw, in/groups, out) — the same
transpose for grouped convs, whose groups split the channels contiguously in both
frameworks — and the fc weight is transposed. Outputs then match PyTorch's because our
builders pad strided convs symmetrically and default to PyTorch's BN epsilon (1e-5).

Files are read without torch: `.pth`/`.pt` by the allow-list unpickler of
`torch_file`, `.safetensors` by the safetensors package's NumPy API. A dict of torch
tensors is also taken (converted with the tensors' own `.numpy()`).
"""

import collections.abc
import os
import re

import keras
import numpy as np

from keras_resnet.weights import common, torch_file

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


SAFETENSORS_SUFFIXES = (".safetensors",)


def read_file(path):
    """The contents of a `.safetensors` or torch.save file, tensors as NumPy arrays.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unreadable, corrupt, or (torch files) a global outside the allow-list.
    """
    path = os.fspath(path)
    if not path.lower().endswith(SAFETENSORS_SUFFIXES):
        return torch_file.read_torch_file(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Weights file {path!r} does not exist.")
    try:
        from safetensors.numpy import load_file
    except ImportError:
        raise ImportError(
            f"Reading {path!r} needs safetensors: `pip install keras-resnet-family[weights]` "
            "(or `pip install safetensors`).") from None
    try:
        return load_file(path)
    except Exception as err:  # noqa: BLE001 - safetensors raises its own error types
        raise ValueError(
            f"{path!r} is not a readable safetensors file ({type(err).__name__}: {err}); "
            "it may be truncated or corrupt, or hold bfloat16 tensors, which NumPy lacks "
            "(re-save them as float32).") from err


def read_state_dict(path_or_state_dict):
    """Loads a torchvision state dict as {key: NumPy array}.

    Args:
        path_or_state_dict: str or os.PathLike to a `.pth`/`.pt` file saved with
            `torch.save(model.state_dict(), path)` or a `.safetensors` file, or a
            mapping of tensors/arrays.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a plain state dict (e.g. a pickled nn.Module, or a
            dict holding non-tensor values); no code in it is run.
    """
    source = path_or_state_dict
    if not isinstance(source, collections.abc.Mapping):
        path = os.fspath(source)
        source = read_file(path)
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


def torchvision_state_dict(model):
    """`model`'s weights as a torchvision state dict {key: NumPy array}: the inverse of
    `load_torchvision_weights`, e.g. to save a model for PyTorch with
    `safetensors.numpy.save_file(state, path)` or `torch.save`.

    Raises:
        ValueError: a layer with weights has no torchvision counterpart.
    """
    state = {}
    for layer in common.weighted_layers(model):
        module = torch_module_name(layer.name)
        if module is None:
            raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) has no "
                             "counterpart in torchvision's ResNets.")
        values = [keras.ops.convert_to_numpy(v) for v in layer.weights]
        if isinstance(layer, keras.layers.BatchNormalization):
            names = ("weight", "bias", "running_mean", "running_var")
        elif isinstance(layer, keras.layers.Conv2D):
            values[0] = values[0].transpose(3, 2, 0, 1)
            names = ("weight", "bias")
        else:
            values[0] = values[0].T
            names = ("weight", "bias")
        state.update({f"{module}.{n}": np.ascontiguousarray(v) for n, v in zip(names, values)})
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


def load_torchvision_weights(model, path_or_state_dict, *, skip_head=False):
    """Loads torchvision ResNet, ResNeXt or Wide ResNet weights into `model`.

    The model must be one of our v1.5 ImageNet models of the same depth and width
    (e.g. `keras_resnet.ResNet50`, `ResNeXt50_32x4d`, `WideResNet50_2`); with
    `include_top=False` or `skip_head=True` the checkpoint's `fc` is skipped and the
    model's `predictions` (if any) keeps its fresh initialization. Everything is
    checked before anything is written.

    Args:
        model: keras.Model built by keras_resnet.
        path_or_state_dict: str or os.PathLike to a `.pth`/`.pt` state dict
            (e.g. torchvision's `resnet50-0676ba61.pth`) or a `.safetensors` file (e.g.
            timm's), or a mapping of tensors/arrays.
        skip_head: bool or "auto". True: load the backbone only. "auto": also the
            classifier when its shape fits the model's. Defaults to False.

    Returns:
        The model, with the weights loaded.

    Raises:
        ValueError: the checkpoint does not fit the model (the message lists the
            first mismatching layers and both shapes, or the first unused key), the
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
    head = ({"kernel": state["fc.weight"].T, "bias": state["fc.bias"]}
            if {"fc.weight", "fc.bias"} <= set(state) and state["fc.weight"].ndim == 2
            else None)
    skip_head = common.resolve_skip_head(model, skip_head, head)
    assignments, used, problems = [], set(), []
    for layer in common.weighted_layers(model):
        if skip_head and layer.name == "predictions":
            continue
        module = torch_module_name(layer.name)
        if module is None:
            raise ValueError(
                f"Layer {layer.name!r} ({type(layer).__name__}) has no counterpart in "
                "torchvision's ResNets; only plain v1.5 ResNet/ResNeXt/Wide ResNet "
                "models (no SE, no pre-activation) can load torchvision weights."
            )
        try:
            arrays, keys = _layer_arrays(layer, module, state)
            assignments.append(common.prepare(layer, arrays, source=source))
        except ValueError as err:
            problems.append(str(err))
            continue
        used.update(keys)
    common.raise_problems(problems, source)
    ignored = lambda k: k.endswith(_SKIPPED_SUFFIXES) or (  # noqa: E731
        skip_head and k.startswith("fc."))
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
