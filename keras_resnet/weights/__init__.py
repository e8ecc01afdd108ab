"""Loading weights into keras_resnet models: the weights catalogue, PyTorch and
safetensors state dicts (read without torch), keras.applications files, Keras files
and `hf://` addresses.

`weights=` (in `keras_resnet.ResNet50(...)`, `create_model`, `load_weights`) takes:
- None: random initialization;
- "imagenet" or a catalogue tag (`keras_resnet.list_weights(variant)`), e.g.
  "torchvision_v2", "timm_a1": the row's file, downloaded once into a cache;
- "hf://<owner>/<repo>[@revision][/filename]": a Hugging Face Hub file
  (`model.safetensors`, else `pytorch_model.bin`), through huggingface_hub's cache;
- a path: a torchvision-layout state dict (`.pth`, `.pt`, `.safetensors`) for
  the v1.5 models; a keras.applications `.h5` (legacy layout, or a Keras 3
  `.weights.h5` of `keras.applications.ResNet*`) for the v1 models; any other
  `.weights.h5` / `.keras` of a keras_resnet model (`load_keras_weights`: loaded
  into a scratch copy first, so all-or-nothing, and with or without its classifier);
- a dict {torchvision key: array or tensor}.
"""

import collections.abc
import os

from keras_resnet.weights import catalog, hub, imagenet
from keras_resnet.weights.catalog import WeightsRow, list_weights
from keras_resnet.weights.common import has_top
from keras_resnet.weights.keras_applications import (
    KERAS_APPLICATIONS_BN_EPSILON,
    file_layout,
    load_keras_applications_weights,
)
from keras_resnet.weights.keras_file import load_keras_weights
from keras_resnet.weights.torchvision import (
    load_torchvision_weights,
    torchvision_state_dict,
)

# A local ".bin" is too generic a name to guess; Hub repos' pytorch_model.bin is read
# through hf:// addresses.
TORCH_SUFFIXES = (".pth", ".pt", ".safetensors")
H5_SUFFIXES = (".h5", ".hdf5")
DEFAULT_RESIZE, DEFAULT_CROP = 256, 224


def weights_format(path):
    """"torchvision", "keras_applications" or "keras" for a weights file path.

    Raises:
        ValueError: the file type is not supported.
    """
    path = os.fspath(path)
    lower = path.lower()
    if lower.endswith(TORCH_SUFFIXES):
        return "torchvision"
    if lower.endswith(".keras"):
        return "keras"
    if lower.endswith(H5_SUFFIXES):
        layout = file_layout(path)
        if layout in ("legacy", "keras3_applications"):
            return "keras_applications"
        if layout == "keras3":
            return "keras"
        raise ValueError(f"{path!r} is not a readable Keras HDF5 weights file.")
    raise ValueError(
        f"Unsupported weights file {path!r}. Allowed: a torchvision-layout state dict "
        "(.pth, .pt, .safetensors), a keras.applications .h5 file, or a Keras "
        ".weights.h5 / .keras file (a Hub repo's pytorch_model.bin: pass hf://owner/repo)."
    )


def _is_address(weights):
    return isinstance(weights, str) and weights.startswith(hub.HF_PREFIX)


def _row(weights, variant):
    """The catalogue row a tag names (the error lists the variant's known tags)."""
    if variant is None:
        raise ValueError(
            f"weights={weights!r} needs a named variant (e.g. keras_resnet.ResNet50); "
            "pass a weights file path or an hf:// address instead."
        )
    return catalog.find(variant, weights)


def _tag_row(weights, variant):
    """`_row`, with the pre-catalogue error for "imagenet" on a variant without it."""
    if weights == "imagenet" and variant is not None and variant not in catalog.IMAGENET_TAGS:
        imagenet.source(variant)  # lists the variants that have ImageNet weights
    return _row(weights, variant)


def _known_row(weights):
    """The row whose file or address `weights` is (matched by file name), or None."""
    if _is_address(weights):
        repo_id, _, filename = hub.parse(weights)
        return next((r for r in catalog.ROWS if r.source == "timm" and
                     hub.parse(r.url)[0] == repo_id and
                     filename in (None, *hub.DEFAULT_FILENAMES)), None)
    name = os.path.basename(os.fspath(weights))
    return next((r for r in catalog.ROWS if name in (r.filename, (r.notop_url or "")
                                                     .rsplit("/", 1)[-1])), None)


def weights_row(weights, variant=None):
    """What `weights` need at inference: a catalogue row, or one describing a file.

    Args:
        weights: None, "imagenet", a tag, an hf:// address, a path or a dict.
        variant: str or None. Registry name; needed for None, tags and Keras files.

    Returns:
        `WeightsRow`. For a tag, the catalogue's row; for a file the catalogue knows by
        name (e.g. resnet50-11ad3fa6.pth) or a timm hf:// address, that row; otherwise
        a row with source "file" (or "none" for None), tag None, no accuracies, and
        the ImageNet evaluation defaults (resize 256, crop 224, bilinear) with
        `preprocessing_for`'s mode.

    Raises:
        ValueError: an unknown tag for the variant (the message lists the known ones).

    Example:
        >>> row = weights_row("torchvision_v2", "resnet50")
        >>> row.resize, row.crop, row.preprocessing
        (232, 224, 'torch')
    """
    if isinstance(weights, str) and catalog.is_tag(weights):
        return _row(weights, variant)
    if weights is not None and not isinstance(weights, collections.abc.Mapping):
        known = _known_row(weights)
        if known is not None:
            return known
    label = "the state dict" if isinstance(weights, collections.abc.Mapping) else (
        None if weights is None else os.fspath(weights))
    return WeightsRow(
        variant=variant, tag=None, source="none" if weights is None else "file",
        url=label, file_hash=None, file_format=_file_format(weights), top1=None,
        top5=None, resize=DEFAULT_RESIZE, crop=DEFAULT_CROP, interpolation="bilinear",
        preprocessing=preprocessing_for(weights, variant), license=None)


def _file_format(weights):
    if weights is None:
        return None
    if isinstance(weights, collections.abc.Mapping):
        return "state_dict"
    if _is_address(weights):
        return "hf"
    return os.path.splitext(os.fspath(weights))[1].lstrip(".").lower() or None


def _variant_default(variant):
    from keras_resnet.models import registry

    return registry.get_variant(variant).preprocessing if variant else "torch"


def preprocessing_for(weights, variant):
    """The `keras_resnet.preprocess_input` mode that `weights` were trained with.

    Args:
        weights: None, "imagenet", a tag, an hf:// address, a path or a dict.
        variant: str or None. Registry name of the model.

    Returns:
        str. "torch" for torchvision/timm/safetensors/hf files and tags (timm's
        `ra4_e3600_r224` tags: "tf"), "caffe" for keras.applications files and rows,
        the variant's own default (`keras_resnet.get_variant(v).preprocessing`) for
        None and Keras files.

    Raises:
        ValueError: an unknown tag for the variant (the message lists the known ones).
    """
    if weights is None:
        return _variant_default(variant)
    if isinstance(weights, collections.abc.Mapping):
        return "torch"
    if isinstance(weights, str) and catalog.is_tag(weights):
        return _row(weights, variant).preprocessing
    known = _known_row(weights)
    if known is not None:
        return known.preprocessing
    if _is_address(weights):
        return "torch"
    try:
        fmt = weights_format(weights)
    except (ValueError, OSError):
        return _variant_default(variant)
    return {"torchvision": "torch", "keras_applications": "caffe"}.get(
        fmt, _variant_default(variant))


def build_options(weights, *, variant=None):
    """Builder settings that `weights` need, for the named constructors to apply
    unless the caller overrides them: keras.applications files were trained with
    BatchNormalization epsilon 1.001e-5 (ours defaults to PyTorch's 1e-5).

    Returns:
        dict of `build_resnet` keyword arguments (possibly empty).
    """
    if weights is None or isinstance(weights, collections.abc.Mapping) or _is_address(weights):
        return {}
    if isinstance(weights, str) and catalog.is_tag(weights):
        try:
            keras_apps = _row(weights, variant).source == "keras_applications"
        except ValueError:
            return {}  # load_weights reports the problem
    else:
        try:
            keras_apps = weights_format(weights) == "keras_applications"
        except (ValueError, OSError, TypeError):
            return {}  # load_weights reports the problem
    return {"bn_epsilon": KERAS_APPLICATIONS_BN_EPSILON} if keras_apps else {}


def resolve(weights, *, variant=None, include_top=True):
    """(local path or dict, format) of `weights`, fetching catalogue and hf:// files.

    format is "torchvision", "keras_applications" or "keras".

    Raises:
        ValueError: an unknown tag, or an unsupported file.
        OSError: a file that is neither cached nor downloadable.
    """
    if isinstance(weights, collections.abc.Mapping):
        return weights, "torchvision"
    if isinstance(weights, str) and catalog.is_tag(weights):
        row = _tag_row(weights, variant)
        path = imagenet.fetch_row(row, include_top=include_top)
        return path, "keras_applications" if row.source == "keras_applications" else \
            "torchvision"
    if _is_address(weights):
        return hub.download(weights), "torchvision"
    path = os.fspath(weights)
    return path, weights_format(path)


def load_weights(model, weights, *, variant=None, skip_head=False):
    """Loads `weights` into `model` and returns the model.

    Everything is checked before anything is written: weights that do not fit leave
    the model as it was.

    Args:
        model: keras.Model built by keras_resnet.
        weights: None (nothing to load), "imagenet" or a catalogue tag of `variant`
            (downloaded into a cache or read from there), an hf:// address, a path
            (see the module docstring), or a dict {torchvision key: array}.
        variant: str. Registry name of the model; needed for "imagenet" and tags.
        skip_head: bool or "auto". True: load the backbone only, `predictions`
            keeps its fresh initialization; "auto": the classifier too when its shape
            fits. Defaults to False.

    Raises:
        ValueError: unsupported file, unknown tag (the message lists the known ones),
            or weights that do not fit the model (the message lists the first
            mismatching layers and shapes).
        OSError: catalogue or hf:// weights are neither cached nor downloadable; the
            message says which file to place where.
    """
    if weights is None:
        return model
    if catalog.is_tag(weights):
        _tag_row(weights, variant)  # a missing variant or an unknown tag: say so first
    path, fmt = resolve(weights, variant=variant,
                        include_top=has_top(model) and skip_head is not True)
    if fmt == "torchvision":
        return load_torchvision_weights(model, path, skip_head=skip_head)
    if fmt == "keras_applications":
        return load_keras_applications_weights(model, path, skip_head=skip_head)
    return load_keras_weights(model, path, skip_head=skip_head)


__all__ = [
    "WeightsRow",
    "build_options",
    "list_weights",
    "load_keras_applications_weights",
    "load_keras_weights",
    "load_torchvision_weights",
    "load_weights",
    "preprocessing_for",
    "resolve",
    "torchvision_state_dict",
    "weights_format",
    "weights_row",
]
