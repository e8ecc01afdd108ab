"""Residual blocks and shortcuts.

All blocks share one keyword-only signature, `block(x, *, filters, strides, dilation,
first_dilation, drop_path, shortcut, spec, ops, name)`, and return the block output.
Shortcuts are small functions chosen by name (`SHORTCUTS`): option A (parameter-free),
B (projection where the shape changes), C (projection everywhere) and "none" (plain
networks, no shortcut at all).

Layer names follow keras.applications: `<name>_0_conv` / `_0_bn` for the projection,
`<name>_1_*`, `<name>_2_*`, `<name>_3_*` for the branch, `<name>_add`, `<name>_out`.
Pre-activation blocks add `<name>_preact_bn` / `_preact_relu` and, as in
keras.applications' V2 models, name their Add layer `<name>_out`.
"""

import dataclasses

import keras

from keras_resnet.models.layers import StochasticDepth, ZeroPadShortcut

VERSIONS = ("v1", "v1.5", "v2")
BLOCKS = ("basic", "bottleneck")
EXPANSION = {"basic": 1, "bottleneck": 4}


@dataclasses.dataclass(frozen=True)
class BlockSpec:
    """Network-wide block settings.

    Attributes:
        kind: "basic" (3x3, 3x3) or "bottleneck" (1x1, 3x3, 1x1, expansion 4).
        version: "v1" (post-activation, stride on the first 1x1 as in the paper and
            keras.applications), "v1.5" (post-activation, stride on the 3x3 as in
            torchvision and NVIDIA), "v2" (pre-activation, He et al. 2016).
        groups: int. Groups of the 3x3 conv (ResNeXt cardinality).
        width_per_group: int. Bottleneck width per group at the first stage; 64 is
            ResNet, 128 is Wide ResNet-50-2.
        se_ratio: float. Squeeze-and-excitation bottleneck as a fraction of the block's
            output channels (1/16 in SE-ResNet); 0 disables it.
        zero_init_residual: bool. Initialise the last BN gamma (v1) or last conv (v2)
            of each residual branch to zero, so every block starts as the identity.
        dropout_rate: float. Dropout between the convs of a basic block (Wide ResNet).
    """

    kind: str = "bottleneck"
    version: str = "v1.5"
    groups: int = 1
    width_per_group: int = 64
    se_ratio: float = 0.0
    zero_init_residual: bool = False
    dropout_rate: float = 0.0

    @property
    def preact(self):
        return self.version == "v2"

    def out_channels(self, filters):
        return filters * EXPANSION[self.kind]


# --- shortcuts ---------------------------------------------------------------------


def _projection(x, *, filters, strides, spec, ops, name):
    if spec.preact:  # keras.applications V2: projection of the pre-activated input.
        return ops.conv(x, filters, 1, strides=strides, name=f"{name}_0")
    return ops.conv_bn(x, filters, 1, strides=strides, relu=False, name=f"{name}_0")


def shortcut_a(x, preact, *, filters, strides, spec, ops, name):
    """Option A: strided identity with zero-padded extra channels; no parameters."""
    del preact, spec, ops
    if strides == 1 and x.shape[-1] == filters:
        return x
    return ZeroPadShortcut(filters, strides, name=f"{name}_0_shortcut")(x)


def shortcut_b(x, preact, *, filters, strides, spec, ops, name):
    """Option B: 1x1 projection + BN only where the shape changes."""
    if strides == 1 and x.shape[-1] == filters:
        return x
    return _projection(preact, filters=filters, strides=strides, spec=spec, ops=ops, name=name)


def shortcut_c(x, preact, *, filters, strides, spec, ops, name):
    """Option C: 1x1 projection + BN on every block."""
    del x
    return _projection(preact, filters=filters, strides=strides, spec=spec, ops=ops, name=name)


SHORTCUTS = {"A": shortcut_a, "B": shortcut_b, "C": shortcut_c, "none": None}


# --- pieces of the residual branch ----------------------------------------------


def squeeze_excite(x, *, ratio, name):
    """Squeeze-and-excitation (Hu et al. 2018) with biased 1x1 convs, as in timm."""
    channels = x.shape[-1]
    reduced = max(1, int(round(channels * ratio)))
    s = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_squeeze")(x)
    s = keras.layers.Conv2D(reduced, 1, activation="relu", name=f"{name}_se_reduce")(s)
    s = keras.layers.Conv2D(channels, 1, activation="sigmoid", name=f"{name}_se_expand")(s)
    return keras.layers.Multiply(name=f"{name}_se_excite")([x, s])


def _merge(branch, shortcut_out, *, drop_path, spec, name):
    """Adds the shortcut (if any), then the post-activation ReLU for v1 / v1.5."""
    if shortcut_out is None:  # plain network
        if spec.preact:
            return keras.layers.Identity(name=f"{name}_out")(branch)
        return keras.layers.Activation("relu", name=f"{name}_out")(branch)
    if drop_path:
        branch = StochasticDepth(drop_path, name=f"{name}_drop_path")(branch)
    if spec.preact:
        return keras.layers.Add(name=f"{name}_out")([shortcut_out, branch])
    x = keras.layers.Add(name=f"{name}_add")([shortcut_out, branch])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def _preactivate(x, *, spec, ops, name):
    if not spec.preact:
        return x
    return ops.relu(ops.bn(x, name=f"{name}_preact"), name=f"{name}_preact")


def _shortcut(x, preact, *, shortcut, filters, strides, spec, ops, name):
    fn = SHORTCUTS[shortcut]
    if fn is None:
        return None
    return fn(x, preact, filters=filters, strides=strides, spec=spec, ops=ops, name=name)


def _last_conv(x, filters, kernel_size, *, spec, ops, name, **kw):
    """Last conv of a branch: followed by a (zero-init) BN in v1, bare in v2."""
    zero = spec.zero_init_residual
    if spec.preact:
        init = "zeros" if zero else ops.kernel_initializer
        return dataclasses.replace(ops, kernel_initializer=init).conv(
            x, filters, kernel_size, name=name, **kw
        )
    return ops.conv_bn(x, filters, kernel_size, relu=False, zero_gamma=zero, name=name, **kw)


# --- blocks -------------------------------------------------------------------------


def basic_block(x, *, filters, strides, dilation, first_dilation, drop_path, shortcut,
                spec, ops, name):
    """Two 3x3 convs (He et al. 2015, Fig. 2 left); pre-activated in v2."""
    preact = _preactivate(x, spec=spec, ops=ops, name=name)
    short = _shortcut(x, preact, shortcut=shortcut, filters=filters, strides=strides,
                      spec=spec, ops=ops, name=name)
    y = ops.conv_bn(preact, filters, 3, strides=strides, dilation=first_dilation,
                    name=f"{name}_1")
    if spec.dropout_rate:
        y = keras.layers.Dropout(spec.dropout_rate, name=f"{name}_dropout")(y)
    y = _last_conv(y, filters, 3, dilation=dilation, spec=spec, ops=ops, name=f"{name}_2")
    if spec.se_ratio:
        y = squeeze_excite(y, ratio=spec.se_ratio, name=name)
    return _merge(y, short, drop_path=drop_path, spec=spec, name=name)


def bottleneck_block(x, *, filters, strides, dilation, first_dilation, drop_path,
                     shortcut, spec, ops, name):
    """1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand x4 (He et al. 2015, Fig. 5).

    The stride sits on the first 1x1 in v1 and on the 3x3 in v1.5 and v2.
    """
    out = spec.out_channels(filters)
    width = int(filters * (spec.width_per_group / 64.0)) * spec.groups
    stride_1x1, stride_3x3 = (strides, 1) if spec.version == "v1" else (1, strides)
    preact = _preactivate(x, spec=spec, ops=ops, name=name)
    short = _shortcut(x, preact, shortcut=shortcut, filters=out, strides=strides,
                      spec=spec, ops=ops, name=name)
    y = ops.conv_bn(preact, width, 1, strides=stride_1x1, name=f"{name}_1")
    y = ops.conv_bn(y, width, 3, strides=stride_3x3, dilation=first_dilation,
                    groups=spec.groups, name=f"{name}_2")
    y = _last_conv(y, out, 1, spec=spec, ops=ops, name=f"{name}_3")
    if spec.se_ratio:
        y = squeeze_excite(y, ratio=spec.se_ratio, name=name)
    return _merge(y, short, drop_path=drop_path, spec=spec, name=name)


BLOCK_FNS = {"basic": basic_block, "bottleneck": bottleneck_block}
