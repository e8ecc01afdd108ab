"""The table of named variants: each is a name, its builder settings and metadata.

Adding a variant means adding one row here; the named constructors in
`keras_resnet.applications`, the README table and the parameterized tests all iterate
over `VARIANTS`.
"""

import dataclasses
import types


@dataclasses.dataclass(frozen=True)
class Variant:
    """One registered model.

    Attributes:
        name: str. Registry key, e.g. "resnet50".
        constructor: str. Public constructor in `keras_resnet`, e.g. "ResNet50".
        description: str. One line for docs and `--help`.
        config: mapping. Keyword arguments of `build_resnet`.
        preprocessing: str. `preprocess_input` mode the variant's weights expect.
        family: str. "imagenet" or "cifar": default input size and classes.
    """

    name: str
    constructor: str
    description: str
    config: types.MappingProxyType
    preprocessing: str = "torch"
    family: str = "imagenet"

    @property
    def default_classes(self):
        return 1000 if self.family == "imagenet" else 10

    @property
    def default_size(self):
        return 224 if self.family == "imagenet" else 32


VARIANTS = {}


def register(name, constructor, description, *, preprocessing="torch", **config):
    family = config.get("stem", "imagenet")
    VARIANTS[name] = Variant(name, constructor, description, types.MappingProxyType(config),
                             preprocessing, family)


BASIC = dict(block="basic")
BOTTLENECK = dict(block="bottleneck")
IMAGENET_DEPTHS = {
    18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3),
}

# ImageNet ResNets (He et al. 2015). Default v1.5: stride on the 3x3, as torchvision.
for _depth in (18, 34):
    register(f"resnet{_depth}", f"ResNet{_depth}", f"ResNet-{_depth}, basic blocks",
             stage_depths=IMAGENET_DEPTHS[_depth], **BASIC)
for _depth in (50, 101, 152):
    register(f"resnet{_depth}", f"ResNet{_depth}",
             f"ResNet-{_depth} v1.5 (stride on the 3x3, torchvision layout)",
             stage_depths=IMAGENET_DEPTHS[_depth], version="v1.5", **BOTTLENECK)
    register(f"resnet{_depth}_v1", f"ResNet{_depth}V1",
             f"ResNet-{_depth} v1 (stride on the first 1x1, the paper and keras.applications)",
             preprocessing="caffe", stage_depths=IMAGENET_DEPTHS[_depth], version="v1",
             **BOTTLENECK)
    register(f"resnet{_depth}v2", f"ResNet{_depth}V2",
             f"Pre-activation ResNet-{_depth} (He et al. 2016)",
             stage_depths=IMAGENET_DEPTHS[_depth], version="v2", **BOTTLENECK)

# ResNeXt (Xie et al. 2017) and Wide ResNet (Zagoruyko & Komodakis 2016), torchvision's.
register("resnext50_32x4d", "ResNeXt50_32x4d", "ResNeXt-50 32x4d",
         stage_depths=IMAGENET_DEPTHS[50], groups=32, width_per_group=4, **BOTTLENECK)
register("resnext101_32x8d", "ResNeXt101_32x8d", "ResNeXt-101 32x8d",
         stage_depths=IMAGENET_DEPTHS[101], groups=32, width_per_group=8, **BOTTLENECK)
register("resnext101_64x4d", "ResNeXt101_64x4d", "ResNeXt-101 64x4d",
         stage_depths=IMAGENET_DEPTHS[101], groups=64, width_per_group=4, **BOTTLENECK)
register("wide_resnet50_2", "WideResNet50_2", "Wide ResNet-50-2 (bottleneck twice as wide)",
         stage_depths=IMAGENET_DEPTHS[50], width_per_group=128, **BOTTLENECK)
register("wide_resnet101_2", "WideResNet101_2", "Wide ResNet-101-2",
         stage_depths=IMAGENET_DEPTHS[101], width_per_group=128, **BOTTLENECK)

# Squeeze-and-excitation (Hu et al. 2018), reduction 16.
register("se_resnet50", "SEResNet50", "SE-ResNet-50 (squeeze-and-excitation, reduction 16)",
         stage_depths=IMAGENET_DEPTHS[50], se_ratio=1 / 16, **BOTTLENECK)
register("se_resnet101", "SEResNet101", "SE-ResNet-101",
         stage_depths=IMAGENET_DEPTHS[101], se_ratio=1 / 16, **BOTTLENECK)

# CIFAR ResNets (paper section 4.2): depth 6n+2, option A shortcuts, and plain twins.
CIFAR = dict(stem="cifar", version="v1", **BASIC)
for _depth in (20, 32, 44, 56, 110, 1202):
    _n = (_depth - 2) // 6
    register(f"resnet{_depth}", f"ResNet{_depth}",
             f"CIFAR ResNet-{_depth} (n={_n}, option A shortcuts)",
             stage_depths=(_n, _n, _n), shortcut="A", **CIFAR)
    register(f"plain{_depth}", f"Plain{_depth}",
             f"CIFAR plain-{_depth}: ResNet-{_depth} without shortcuts",
             stage_depths=(_n, _n, _n), shortcut="none", **CIFAR)

# Pre-activation CIFAR ResNets (He et al. 2016): bottleneck, depth 9n+2.
for _depth in (164, 1001):
    _n = (_depth - 2) // 9
    register(f"preact_resnet{_depth}", f"PreActResNet{_depth}",
             f"CIFAR pre-activation ResNet-{_depth} (bottleneck, n={_n})",
             stage_depths=(_n, _n, _n), stem="cifar", version="v2", **BOTTLENECK)

# Wide ResNet for CIFAR (Zagoruyko & Komodakis 2016): WRN-28-10, depth 6n+4.
register("wrn28_10", "WRN28_10", "CIFAR Wide ResNet-28-10 (pre-activation basic blocks, k=10)",
         stage_depths=(4, 4, 4), stage_widths=(160, 320, 640), stem="cifar", version="v2",
         **BASIC)
