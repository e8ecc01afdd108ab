"""What an export starts from: the model (a .keras file or a registered name), its
preprocessing, and images for calibration and parity."""

import os

import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


def load_model(model, *, weights=None, **overrides):
    """The Keras model to export.

    Args:
        model: keras.Model, a path to a `.keras` file, or a registered variant name
            (`keras_resnet.list_models()`).
        weights: str or None. Weights file for a registered name. Defaults to None.
        **overrides: `build_resnet` arguments for a registered name (e.g. input_shape,
            classes).

    Returns:
        keras.Model.
    """
    import keras

    if isinstance(model, keras.Model):
        return model
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a keras.Model, a .keras path or a registered name; "
                        f"received model={model!r} of type {type(model).__name__}.")
    path = os.fspath(model)
    if path.endswith(".keras") or os.path.sep in path or os.path.exists(path):
        if os.path.isdir(path):
            inside = os.path.join(path, "model.keras")
            hint = (f" Did you mean model={inside!r}?" if os.path.isfile(inside) else "")
            raise ValueError(f"model={path!r} is a folder, not a .keras file (export reads "
                             f"Keras v3 .keras archives, as written by scripts/train.py)."
                             f"{hint}")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Model file model={path!r} does not exist.")
        if not path.endswith(".keras"):
            raise ValueError(f"Model file model={path!r} is not a .keras file; export reads "
                             "Keras v3 .keras archives (as written by scripts/train.py).")
        import keras_resnet.models.layers  # noqa: F401  (registers custom layers)
        from keras_resnet.io import load_keras  # under the policy the file was saved with

        try:
            return load_keras(path, compile=False, safe_mode=True)
        except Exception as error:  # keras raises many types for a corrupt archive
            raise ValueError(f"Could not read the model file model={path!r}: "
                             f"{type(error).__name__}: {error}") from error
    import keras_resnet

    return keras_resnet.create_model(path, weights=weights, **overrides)


def resolve_preprocessing(preprocessing):
    """A preprocessing dict {"mode", "mean", "std", "channel_order", "input_range"}.

    Args:
        preprocessing: None, a mode name ("torch", "caffe", "tf") or a dict with "mean"
            and "std" (0..255 scale, model channel order) and optional "mode" and
            "channel_order" ("RGB" or "BGR": the model's channel order; inputs are RGB).

    Returns:
        dict, or None when `preprocessing` is None.
    """
    from keras_resnet.models import preprocessing as prep

    if preprocessing is None:
        return None
    if isinstance(preprocessing, str):
        mean, std = prep.normalization(preprocessing)
        preprocessing = {"mode": preprocessing, "mean": mean, "std": std,
                         "channel_order": prep.channel_order(preprocessing)}
    if not isinstance(preprocessing, dict) or not {"mean", "std"} <= set(preprocessing):
        raise ValueError("preprocessing must be None, a mode name "
                         f"{list(prep.MODES)} or a dict with 'mean' and 'std'; "
                         f"received preprocessing={preprocessing!r}.")
    order = str(preprocessing.get("channel_order", "RGB")).upper()
    if order not in ("RGB", "BGR"):
        raise ValueError(f"preprocessing channel_order={order!r}; allowed: ['RGB', 'BGR'].")
    return {"mode": preprocessing.get("mode"),
            "mean": [float(v) for v in np.atleast_1d(preprocessing["mean"])],
            "std": [float(v) for v in np.atleast_1d(preprocessing["std"])],
            "channel_order": order,
            "input_range": list(preprocessing.get("input_range", (0, 255)))}


def load_images(folder, *, size, preprocessing, limit=100):
    """Images of `folder` (recursively, sorted by path) as a normalized float32 batch.

    Args:
        folder: str. Folder of image files (jpg, png, bmp, gif, webp).
        size: (height, width). Images are resized to it (bilinear).
        preprocessing: dict. From `resolve_preprocessing`.
        limit: int. At most this many images. Defaults to 100.

    Returns:
        float32 array (N, height, width, 3).
    """
    from PIL import Image

    from keras_resnet.export.savedmodel import preprocess_uint8_numpy

    if preprocessing is None:
        raise ValueError("Loading calibration images needs the model's preprocessing "
                         "(--preprocessing=torch|caffe|tf).")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"representative_dir={folder!r} is not a folder.")
    paths = sorted(os.path.join(root, name) for root, _, names in os.walk(folder)
                   for name in names if name.lower().endswith(IMAGE_EXTENSIONS))[:limit]
    if not paths:
        raise ValueError(f"representative_dir={folder!r} holds no images "
                         f"({', '.join(IMAGE_EXTENSIONS)}).")
    images = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image = image.convert("RGB").resize((size[1], size[0]), Image.BILINEAR)
                images.append(np.asarray(image, np.uint8))
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            # Calibration sets the int8 ranges: a bad image is refused, not skipped.
            raise ValueError(f"representative_dir image {path!r} cannot be decoded "
                             f"({type(error).__name__}: {error}). Replace or remove it."
                             ) from None
    return preprocess_uint8_numpy(np.stack(images), preprocessing)
