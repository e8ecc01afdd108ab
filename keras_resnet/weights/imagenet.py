"""`weights="imagenet"`: the official pretrained files, fetched with keras.utils.get_file.

- v1.5 variants (resnet18 ... resnet152, ResNeXt, Wide ResNet): torchvision's
  IMAGENET1K_V1 state dicts from https://download.pytorch.org/models/, checked against
  the SHA-256 prefix in their file names (torch.hub's convention). Needs torch.
- v1 variants (resnet50_v1, resnet101_v1, resnet152_v1): keras.applications' files
  from https://storage.googleapis.com/tensorflow/keras-applications/resnet/ with the
  MD5 hashes of keras/src/applications/resnet.py.

Files are cached in the Keras cache (`$KERAS_HOME/models`, default ~/.keras/models);
a file already there (or in torch.hub's cache) is used without any download, so
offline machines work once the file is placed there.
"""

import hashlib
import os

import keras

from keras_resnet.models import registry

TORCHVISION_URL = "https://download.pytorch.org/models/"
TORCHVISION_FILES = {
    "resnet18": "resnet18-f37072fd.pth",
    "resnet34": "resnet34-b627a593.pth",
    "resnet50": "resnet50-0676ba61.pth",
    "resnet101": "resnet101-63fe2227.pth",
    "resnet152": "resnet152-394f9c45.pth",
    "resnext50_32x4d": "resnext50_32x4d-7cdf4587.pth",
    "resnext101_32x8d": "resnext101_32x8d-8ba56ff5.pth",
    "resnext101_64x4d": "resnext101_64x4d-173b62eb.pth",
    "wide_resnet50_2": "wide_resnet50_2-95faca4d.pth",
    "wide_resnet101_2": "wide_resnet101_2-32ee1156.pth",
}

KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
# variant: (keras.applications weights name, md5 with top, md5 without top)
KERAS_APPLICATIONS_FILES = {
    "resnet50_v1": ("resnet50", "2cb95161c43110f7111970584f804107",
                    "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101_v1": ("resnet101", "f1aeb4b969a6efcfb50fad2f0c20cfc5",
                     "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152_v1": ("resnet152", "100835be76be38e30d865e96f2aaae62",
                     "ee4c566cf9a93f14d82f913c2dc6dd0c"),
}


def available():
    """Registry names with official ImageNet weights."""
    return sorted([*TORCHVISION_FILES, *KERAS_APPLICATIONS_FILES])


def source(variant, *, include_top=True):
    """(file name, URL, file_hash or None, format) of `variant`'s ImageNet weights.

    format is "torchvision" or "keras_applications".

    Raises:
        ValueError: the variant has no official ImageNet weights.
    """
    if variant in TORCHVISION_FILES:
        name = TORCHVISION_FILES[variant]
        return name, TORCHVISION_URL + name, None, "torchvision"
    if variant in KERAS_APPLICATIONS_FILES:
        base, md5_top, md5_notop = KERAS_APPLICATIONS_FILES[variant]
        suffix = "" if include_top else "_notop"
        name = f"{base}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
        return name, KERAS_APPLICATIONS_URL + name, md5_top if include_top else md5_notop, \
            "keras_applications"
    raise ValueError(
        f"No official ImageNet weights for variant={variant!r}. Variants with "
        f"weights='imagenet': {available()}; otherwise pass a weights file path."
    )


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
    name, url, file_hash, fmt = source(variant, include_top=include_top)
    cached = _torch_hub_file(name) if fmt == "torchvision" else None
    if cached is None:
        try:
            cached = keras.utils.get_file(name, url, cache_dir=keras_home(),
                                          cache_subdir="models", file_hash=file_hash)
        except Exception as err:  # noqa: BLE001 - any network/IO failure gets the hint
            call = f"keras_resnet.{registry.get_variant(variant).constructor}"
            raise OSError(
                f"Could not download the ImageNet weights of {variant!r}: {name} from "
                f"{url} ({type(err).__name__}: {err}). Offline, download that file on a "
                f"machine with internet access and either place it at "
                f"{os.path.join(keras_cache_dir(), name)} (the Keras cache, "
                f"$KERAS_HOME/models) or pass its path: "
                f"{call}(weights='/path/to/{name}')."
            ) from err
    if fmt == "torchvision":
        _check_sha256_prefix(cached, name)
    return cached, fmt
