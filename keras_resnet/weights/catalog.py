"""The weights catalogue: one row per (variant, tag), as data.

Rows come from three sources, each checked against the source's own code:
- torchvision's `Weights` enums (torchvision/models/resnet.py): IMAGENET1K_V1 (tag
  "torchvision_v1") and IMAGENET1K_V2 ("torchvision_v2"), state dicts whose file names
  carry the SHA-256 prefix (torch.hub's convention), for the v1.5 models;
- keras.applications (keras/src/applications/resnet.py): the v1 models' `.h5` files and
  their MD5 hashes ("keras_applications");
- timm (timm/models/resnet.py `default_cfgs`, results/results-imagenet.csv): every
  in1k tag of a timm model whose architecture ours is exactly (plain `resnet18` ...
  `resnet152`, `resnext50_32x4d`, `resnext101_32x8d`, `resnext101_64x4d`,
  `wide_resnet50_2`), as `model.safetensors` on the Hugging Face Hub ("timm_<tag>").
  timm's `tv_in1k` / `tv2_in1k` tags are torchvision's own files, listed once as the
  torchvision rows. Deep-stem (`-d`, `-t`), GroupNorm, SE/ECA and other timm models
  are different networks and are left out.

Published accuracies are the sources' own (torchvision's `_metrics`, keras.io's
applications README, timm's results-imagenet.csv at 224 px), not measured here.
"""

import dataclasses
import math
import os

TORCHVISION_URL = "https://download.pytorch.org/models/"
KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
HF_PREFIX = "hf://"


@dataclasses.dataclass(frozen=True)
class WeightsRow:
    """One pretrained file and what it needs.

    Attributes:
        variant: str. Registry name, e.g. "resnet50".
        tag: str. What `weights=` takes to pick the row, e.g. "torchvision_v2".
        source: str. "torchvision", "keras_applications" or "timm".
        url: str. Where the file is downloaded from (an `hf://` address for timm).
        file_hash: str or None. SHA-256 prefix (torchvision) or MD5 (keras.applications)
            the file must match; None where the source publishes none (timm's Hub
            files, fetched by huggingface_hub).
        file_format: str. "pth", "h5" or "safetensors".
        top1: float. Published ImageNet-1k top-1 (%).
        top5: float. Published ImageNet-1k top-5 (%).
        resize: int. Shorter side the image is resized to before the center crop.
        crop: int. Center-crop side, the model's input size.
        interpolation: str. "bilinear" or "bicubic".
        preprocessing: str. `keras_resnet.preprocess_input` mode: "torch" (ImageNet
            mean/std, RGB), "caffe" (BGR, mean subtracted) or "tf" ([-1, 1]).
        license: str. License of the weights (SPDX id where there is one).
        notop_url: str or None. keras.applications' separate file without the classifier.
        notop_hash: str or None. Its MD5.
        name: str or None. The source's own name of the weights, e.g. "IMAGENET1K_V2".
    """

    variant: str
    tag: str
    source: str
    url: str
    file_hash: str | None
    file_format: str
    top1: float
    top5: float
    resize: int
    crop: int
    interpolation: str
    preprocessing: str
    license: str
    notop_url: str | None = None
    notop_hash: str | None = None
    name: str | None = None

    @property
    def filename(self):
        """str. The file's name in the cache."""
        return self.url.rsplit("/", 1)[-1]

    @property
    def mean_std(self):
        """(mean, std) per RGB channel in the 0..255 scale (caffe: BGR mean, std 1)."""
        from keras_resnet.models.preprocessing import normalization

        return normalization(self.preprocessing)


# variant: (V1 file, top-1, top-5, V2 file or None, top-1, top-5), from torchvision's
# Weights enums. resnext101_64x4d has one file only, IMAGENET1K_V1, trained with the new
# recipe and evaluated like the V2 files (resize 232).
_TORCHVISION = {
    "resnet18": ("resnet18-f37072fd.pth", 69.758, 89.078, None, None, None),
    "resnet34": ("resnet34-b627a593.pth", 73.314, 91.420, None, None, None),
    "resnet50": ("resnet50-0676ba61.pth", 76.130, 92.862,
                 "resnet50-11ad3fa6.pth", 80.858, 95.434),
    "resnet101": ("resnet101-63fe2227.pth", 77.374, 93.546,
                  "resnet101-cd907fc2.pth", 81.886, 95.780),
    "resnet152": ("resnet152-394f9c45.pth", 78.312, 94.046,
                  "resnet152-f82ba261.pth", 82.284, 96.002),
    "resnext50_32x4d": ("resnext50_32x4d-7cdf4587.pth", 77.618, 93.698,
                        "resnext50_32x4d-1a0047aa.pth", 81.198, 95.340),
    "resnext101_32x8d": ("resnext101_32x8d-8ba56ff5.pth", 79.312, 94.526,
                         "resnext101_32x8d-110c445d.pth", 82.834, 96.228),
    "resnext101_64x4d": ("resnext101_64x4d-173b62eb.pth", 83.246, 96.454, None, None, None),
    "wide_resnet50_2": ("wide_resnet50_2-95faca4d.pth", 78.468, 94.086,
                        "wide_resnet50_2-9ba9bcbe.pth", 81.602, 95.758),
    "wide_resnet101_2": ("wide_resnet101_2-32ee1156.pth", 78.848, 94.284,
                         "wide_resnet101_2-d733dc28.pth", 82.510, 96.020),
}
_TORCHVISION_V1_RESIZE_232 = ("resnext101_64x4d",)

# variant: (keras.applications name, md5 with top, md5 without top, top-1, top-5); the
# hashes are keras/src/applications/resnet.py's WEIGHTS_HASHES, the accuracies 100 minus
# the single-center-crop errors in keras-team/keras-applications' README.
_KERAS_APPLICATIONS = {
    "resnet50_v1": ("resnet50", "2cb95161c43110f7111970584f804107",
                    "4d473c1dd8becc155b73f8504c6f6626", 74.928, 92.060),
    "resnet101_v1": ("resnet101", "f1aeb4b969a6efcfb50fad2f0c20cfc5",
                     "88cf7a10940856eca736dc7b7e228a21", 76.420, 92.786),
    "resnet152_v1": ("resnet152", "100835be76be38e30d865e96f2aaae62",
                     "ee4c566cf9a93f14d82f913c2dc6dd0c", 76.604, 93.118),
}

# (timm model, tag, top-1, top-5, crop_pct, interpolation) at 224 px from timm's
# results-imagenet.csv; exact-architecture models only (see the module docstring).
_TIMM = (
    ("resnet101", "a1_in1k", 81.494, 95.164, 0.950, "bicubic"),
    ("resnet101", "a1h_in1k", 81.950, 95.760, 0.950, "bicubic"),
    ("resnet101", "a2_in1k", 81.344, 95.198, 0.950, "bicubic"),
    ("resnet101", "a3_in1k", 79.836, 94.608, 0.950, "bicubic"),
    ("resnet101", "gluon_in1k", 79.306, 94.538, 0.875, "bicubic"),
    ("resnet152", "a1_in1k", 81.998, 95.294, 0.950, "bicubic"),
    ("resnet152", "a1h_in1k", 82.818, 96.124, 0.950, "bicubic"),
    ("resnet152", "a2_in1k", 81.764, 95.270, 0.950, "bicubic"),
    ("resnet152", "a3_in1k", 80.548, 95.004, 0.950, "bicubic"),
    ("resnet152", "gluon_in1k", 79.712, 94.720, 0.875, "bicubic"),
    ("resnet18", "a1_in1k", 71.504, 90.086, 0.950, "bicubic"),
    ("resnet18", "a2_in1k", 70.634, 89.486, 0.950, "bicubic"),
    ("resnet18", "a3_in1k", 68.250, 88.172, 0.950, "bicubic"),
    ("resnet18", "fb_ssl_yfcc100m_ft_in1k", 72.636, 91.416, 0.875, "bilinear"),
    ("resnet18", "fb_swsl_ig1b_ft_in1k", 73.286, 91.754, 0.875, "bilinear"),
    ("resnet18", "gluon_in1k", 70.844, 89.750, 0.875, "bicubic"),
    ("resnet34", "a1_in1k", 76.420, 92.896, 0.950, "bicubic"),
    ("resnet34", "a2_in1k", 75.520, 92.454, 0.950, "bicubic"),
    ("resnet34", "a3_in1k", 72.996, 91.116, 0.950, "bicubic"),
    ("resnet34", "bt_in1k", 75.176, 92.166, 0.875, "bicubic"),
    ("resnet34", "gluon_in1k", 74.574, 91.988, 0.875, "bicubic"),
    ("resnet34", "ra4_e3600_r224_in1k", 77.492, 93.498, 0.900, "bicubic"),
    ("resnet50", "a1_in1k", 80.382, 94.598, 0.950, "bicubic"),
    ("resnet50", "a1h_in1k", 80.654, 95.312, 1.000, "bicubic"),
    ("resnet50", "a2_in1k", 79.828, 94.560, 0.950, "bicubic"),
    ("resnet50", "a3_in1k", 78.052, 93.780, 0.950, "bicubic"),
    ("resnet50", "am_in1k", 79.004, 94.392, 0.875, "bicubic"),
    ("resnet50", "b1k_in1k", 79.564, 94.622, 0.950, "bicubic"),
    ("resnet50", "b2k_in1k", 79.388, 94.580, 0.950, "bicubic"),
    ("resnet50", "bt_in1k", 78.444, 94.274, 0.875, "bicubic"),
    ("resnet50", "c1_in1k", 79.766, 94.954, 0.950, "bicubic"),
    ("resnet50", "c2_in1k", 79.868, 94.862, 0.950, "bicubic"),
    ("resnet50", "d_in1k", 79.904, 94.666, 0.950, "bicubic"),
    ("resnet50", "fb_ssl_yfcc100m_ft_in1k", 79.252, 94.826, 0.875, "bilinear"),
    ("resnet50", "fb_swsl_ig1b_ft_in1k", 81.146, 95.980, 0.875, "bilinear"),
    ("resnet50", "gluon_in1k", 77.580, 93.704, 0.875, "bicubic"),
    ("resnet50", "ra_in1k", 78.820, 94.314, 0.875, "bicubic"),
    ("resnet50", "ram_in1k", 79.034, 94.386, 0.875, "bicubic"),
    ("resnext101_32x8d", "fb_ssl_yfcc100m_ft_in1k", 81.620, 96.036, 0.875, "bilinear"),
    ("resnext101_32x8d", "fb_swsl_ig1b_ft_in1k", 84.276, 97.188, 0.875, "bilinear"),
    ("resnext101_32x8d", "fb_wsl_ig1b_ft_in1k", 82.720, 96.624, 0.875, "bilinear"),
    ("resnext101_64x4d", "c1_in1k", 82.446, 95.920, 0.950, "bicubic"),
    ("resnext101_64x4d", "gluon_in1k", 80.640, 95.000, 0.875, "bicubic"),
    ("resnext50_32x4d", "a1_in1k", 80.526, 94.458, 0.950, "bicubic"),
    ("resnext50_32x4d", "a1h_in1k", 81.140, 95.320, 0.950, "bicubic"),
    ("resnext50_32x4d", "a2_in1k", 80.444, 94.630, 0.950, "bicubic"),
    ("resnext50_32x4d", "a3_in1k", 79.258, 94.308, 0.950, "bicubic"),
    ("resnext50_32x4d", "fb_ssl_yfcc100m_ft_in1k", 80.316, 95.386, 0.875, "bilinear"),
    ("resnext50_32x4d", "fb_swsl_ig1b_ft_in1k", 82.162, 96.224, 0.875, "bilinear"),
    ("resnext50_32x4d", "gluon_in1k", 79.354, 94.424, 0.875, "bicubic"),
    ("resnext50_32x4d", "ra_in1k", 79.800, 94.608, 0.875, "bicubic"),
    ("wide_resnet50_2", "racm_in1k", 81.466, 95.544, 0.875, "bicubic"),
)
# timm's licenses: RSB/timm and Gluon weights Apache-2.0; Facebook's semi- and weakly
# supervised (fb_ssl, fb_swsl, fb_wsl) weights CC-BY-NC-4.0, non-commercial use only.
_TIMM_NONCOMMERCIAL = ("fb_ssl_", "fb_swsl_", "fb_wsl_")
# resnet*.ra4_e3600_r224 were trained with mean = std = 0.5: preprocess_input mode "tf".
_TIMM_TF_MODE = ("ra4_e3600_r224_in1k",)


def _resize(crop, crop_pct):
    # timm's and torchvision's rule: scale_size = floor(crop / crop_pct).
    return math.floor(crop / crop_pct + 1e-9)


def _rows():
    rows = []
    for variant, (v1, top1, top5, v2, top1_v2, top5_v2) in _TORCHVISION.items():
        resize_v1 = 232 if variant in _TORCHVISION_V1_RESIZE_232 else 256
        rows.append(WeightsRow(
            variant, "torchvision_v1", "torchvision", TORCHVISION_URL + v1,
            v1.rsplit("-", 1)[-1].split(".")[0], "pth", top1, top5, resize_v1, 224,
            "bilinear", "torch", "BSD-3-Clause", name="IMAGENET1K_V1"))
        if v2:
            rows.append(WeightsRow(
                variant, "torchvision_v2", "torchvision", TORCHVISION_URL + v2,
                v2.rsplit("-", 1)[-1].split(".")[0], "pth", top1_v2, top5_v2, 232, 224,
                "bilinear", "torch", "BSD-3-Clause", name="IMAGENET1K_V2"))
    for variant, (base, md5_top, md5_notop, top1, top5) in _KERAS_APPLICATIONS.items():
        stem = f"{KERAS_APPLICATIONS_URL}{base}_weights_tf_dim_ordering_tf_kernels"
        rows.append(WeightsRow(
            variant, "keras_applications", "keras_applications", stem + ".h5", md5_top, "h5",
            top1, top5, 256, 224, "bilinear", "caffe", "MIT",
            notop_url=stem + "_notop.h5", notop_hash=md5_notop, name=base))
    for model, tag, top1, top5, crop_pct, interpolation in _TIMM:
        license_ = ("CC-BY-NC-4.0" if tag.startswith(_TIMM_NONCOMMERCIAL) else "Apache-2.0")
        rows.append(WeightsRow(
            model, "timm_" + tag.removesuffix("_in1k"), "timm",
            f"{HF_PREFIX}timm/{model}.{tag}", None, "safetensors", top1, top5,
            _resize(224, crop_pct), 224, interpolation,
            "tf" if tag in _TIMM_TF_MODE else "torch", license_, name=f"{model}.{tag}"))
    order = [*_TORCHVISION, *_KERAS_APPLICATIONS]
    return tuple(sorted(rows, key=lambda row: order.index(row.variant)))  # stable


ROWS = _rows()

# What weights="imagenet" means for each variant (unchanged from before the catalogue).
IMAGENET_TAGS = {**{v: "torchvision_v1" for v in _TORCHVISION},
                 **{v: "keras_applications" for v in _KERAS_APPLICATIONS}}


def list_weights(variant=None):
    """The catalogue's rows for `variant` (all rows for None), in catalogue order.

    Args:
        variant: str or None. Registry name, e.g. "resnet50". Defaults to None.

    Returns:
        tuple of `WeightsRow`; empty for a variant without pretrained weights.

    Example:
        >>> [row.tag for row in keras_resnet.list_weights("resnet50")][:2]
        ['torchvision_v1', 'torchvision_v2']
    """
    if variant is None:
        return ROWS
    from keras_resnet.models import registry

    name = registry.get_variant(variant).name  # unknown names get the registry's error
    return tuple(row for row in ROWS if row.variant == name)


def tags(variant):
    """Tags `weights=` accepts for `variant`: "imagenet" (if any) and the rows' tags."""
    rows = list_weights(variant)
    return (["imagenet"] if rows else []) + [row.tag for row in rows]


def find(variant, tag):
    """The row of (`variant`, `tag`); "imagenet" is the variant's IMAGENET_TAGS entry.

    Raises:
        ValueError: the tag is unknown for the variant; the message lists the known ones.
    """
    rows = list_weights(variant)
    wanted = IMAGENET_TAGS.get(rows[0].variant) if tag == "imagenet" and rows else tag
    for row in rows:
        if row.tag == wanted:
            return row
    known = tags(variant)
    raise ValueError(
        f"Unknown weights={tag!r} for variant={variant!r}. Known tags for it: "
        f"{known if known else 'none (it has no pretrained weights)'}; or pass a file "
        "path or an hf://<repo> address."
    )


def is_tag(weights):
    """True for a string that is a tag rather than a path or an hf:// address: "imagenet",
    a catalogue tag, or any word without a path separator or file suffix (so that an
    unknown tag gets the list of known ones, not "no such file")."""
    if not isinstance(weights, str) or weights.startswith(HF_PREFIX):
        return False
    if weights == "imagenet" or any(row.tag == weights for row in ROWS):
        return True
    return weights.isidentifier() and not os.path.exists(weights)


__all__ = ["IMAGENET_TAGS", "ROWS", "WeightsRow", "find", "list_weights", "markdown_table",
           "tags"]


def markdown_table(rows=None):
    """The README's table of the catalogue (all rows for None): one line per row."""
    lines = [
        ("| variant | tag | top-1 | top-5 | resize / crop | interpolation | preprocessing "
         "| source | license |"),
        "|---|---|---:|---:|---|---|---|---|---|",
    ]
    for r in ROWS if rows is None else rows:
        lines.append(
            f"| {r.variant} | `{r.tag}` | {r.top1:.2f} | {r.top5:.2f} | {r.resize} / {r.crop} "
            f"| {r.interpolation} | {r.preprocessing} | {r.source} ({r.name}) | {r.license} |")
    return "\n".join(lines)
