"""Fetching the catalogue's files (`weights="imagenet"` or a tag such as "torchvision_v2").

- torchvision rows: state dicts from https://download.pytorch.org/models/, checked
  against the SHA-256 prefix in their file names (torch.hub's convention); read
  without torch.
- keras.applications rows: `.h5` files from
  https://storage.googleapis.com/tensorflow/keras-applications/resnet/ with the MD5
  hashes of keras/src/applications/resnet.py.
- timm rows: `model.safetensors` of the Hub repo, through huggingface_hub's cache.

torchvision and keras.applications files are cached in the Keras cache
(`$KERAS_HOME/models`, default ~/.keras/models); a file already there (or in torch.hub's
cache) is used without any download, so offline machines work once the file is placed
there.
"""

import hashlib
import os

import keras

from keras_resnet.models import registry
from keras_resnet.weights import catalog, hub

TORCHVISION_URL = catalog.TORCHVISION_URL
KERAS_APPLICATIONS_URL = catalog.KERAS_APPLICATIONS_URL
# Kept for callers of the pre-catalogue API: the files weights="imagenet" means.
TORCHVISION_FILES = {row.variant: row.filename for row in catalog.ROWS
                     if row.tag == "torchvision_v1"}
KERAS_APPLICATIONS_FILES = {row.variant: (row.name, row.file_hash, row.notop_hash)
                            for row in catalog.ROWS if row.tag == "keras_applications"}


def available():
    """Registry names with official ImageNet weights (weights="imagenet")."""
    return sorted(catalog.IMAGENET_TAGS)


def source(variant, *, include_top=True):
    """(file name, URL, file_hash or None, format) of `variant`'s ImageNet weights.

    format is "torchvision" or "keras_applications".

    Raises:
        ValueError: the variant has no official ImageNet weights.
    """
    if variant not in catalog.IMAGENET_TAGS:
        raise ValueError(
            f"No official ImageNet weights for variant={variant!r}. Variants with "
            f"weights='imagenet': {available()}; otherwise pass a weights file path."
        )
    row = catalog.find(variant, "imagenet")
    url, file_hash = _file(row, include_top)
    return url.rsplit("/", 1)[-1], url, file_hash, row.source


def _file(row, include_top):
    """(URL, hash for keras.utils.get_file or None) of the row's file."""
    if row.source == "keras_applications":
        return (row.url, row.file_hash) if include_top else (row.notop_url, row.notop_hash)
    return row.url, None  # torchvision: only a SHA-256 prefix, checked after the fetch


def keras_home():
    """$KERAS_HOME, default ~/.keras, read at call time (Keras reads it at import)."""
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def keras_cache_dir():
    """Where the ImageNet weight files are looked for and downloaded to."""
    return os.path.join(keras_home(), "models")


def _torch_hub_file(name):
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "torch")
    path = os.path.join(home, "hub", "checkpoints", name)
    return path if os.path.exists(path) else None


def _check_sha256_prefix(path, name):
    prefix = name.rsplit("-", 1)[-1].split(".")[0]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if not digest.hexdigest().startswith(prefix):
        raise ValueError(
            f"{path!r} is corrupt or not the official {name}: its SHA-256 "
            f"{digest.hexdigest()[:8]}... does not start with {prefix}. Delete it and retry."
        )


def fetch(variant, *, include_top=True):
    """Local path and format ("torchvision"/"keras_applications") of `variant`'s
    ImageNet weights, downloading them into the Keras cache if needed.

    Raises:
        ValueError: no official weights for the variant, or a corrupt file.
        OSError: the file is not cached and cannot be downloaded; the message says
            which file to fetch from where and where to put it.
    """
    source(variant)  # the error that lists the variants with weights
    row = catalog.find(variant, "imagenet")
    return fetch_row(row, include_top=include_top), row.source


def fetch_row(row, *, include_top=True):
    """Local path of a catalogue row's file, from a cache or downloaded (hash checked).

    Args:
        row: `catalog.WeightsRow`.
        include_top: bool. keras.applications rows: the file with the classifier, or
            the `_notop` one. Defaults to True.

    Raises:
        ValueError: the file does not match the row's hash.
        OSError: not cached and not downloadable; the message says which file to place
            where.
    """
    if row.source == "timm":
        return hub.download(row.url)
    url, file_hash = _file(row, include_top)
    name = url.rsplit("/", 1)[-1]
    cached = _torch_hub_file(name) if row.source == "torchvision" else None
    if cached is None:
        try:
            cached = keras.utils.get_file(name, url, cache_dir=keras_home(),
                                          cache_subdir="models", file_hash=file_hash)
        except Exception as err:  # noqa: BLE001 - any network/IO failure gets the hint
            call = f"keras_resnet.{registry.get_variant(row.variant).constructor}"
            raise OSError(
                f"Could not download the {row.tag!r} weights of {row.variant!r}: {name} "
                f"from {url} ({type(err).__name__}: {err}). Offline, download that file on "
                f"a machine with internet access and either place it at "
                f"{os.path.join(keras_cache_dir(), name)} (the Keras cache, "
                f"$KERAS_HOME/models) or pass its path: "
                f"{call}(weights='/path/to/{name}')."
            ) from err
    if row.source == "torchvision":
        _check_sha256_prefix(cached, name)
    return cached
