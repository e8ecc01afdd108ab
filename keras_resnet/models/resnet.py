"""The generic ResNet builder: stem, stages of residual blocks, head.

`build_resnet` validates every argument first (errors name the argument, the value
received and what is allowed), then builds a Keras functional model whose layer names
follow keras.applications (`conv1_conv`, `conv2_block1_1_conv`, `conv4_block6_out`,
`avg_pool`, `predictions`). It knows nothing of weights files: see
`keras_resnet.applications` for the keras.applications-style entry points.
"""

import math
import numbers
import sys

import keras

from keras_resnet.models.blocks import BLOCK_FNS, BLOCKS, SHORTCUTS, VERSIONS, BlockSpec
from keras_resnet.models.ops import LayerOps

STEMS = ("imagenet", "cifar")
STEM_STRIDE = {"imagenet": 4, "cifar": 1}
DEFAULT_BASE_WIDTH = {"imagenet": 64, "cifar": 16}
DEFAULT_SIZE = {"imagenet": 224, "cifar": 32}
POOLINGS = (None, "avg", "max")
OUTPUT_STRIDES = (8, 16, 32)
# Bounds far above any published network, checked before anything is allocated: a
# typo such as classes=10**9 would otherwise ask Keras for a 256 GB classifier.
MAX_CLASSES = 1_000_000
MAX_WIDTH = 65_536
MAX_STAGE_DEPTH = 1_000
MAX_INPUT_SIDE = 16_384


def _choice(arg, value, allowed):
    if value not in allowed:
        raise ValueError(f"Unknown {arg}={value!r}. Allowed values: {list(allowed)}.")


def _positive_int(arg, value, minimum=1, maximum=None):
    """`value` as a Python int (NumPy integers accepted), checked against the bounds."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum
            or (maximum is not None and value > maximum)):
        bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum:,}]"
        raise ValueError(f"`{arg}` must be an integer {bounds}. Received: {arg}={value!r}")
    return int(value)


def _fraction(arg, value):
    """`value` as a Python float in [0, 1) (NaN refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{arg}` must be a float in [0, 1). Received: {arg}={value!r}")
    return float(value)


def _int_list(arg, value, maximum):
    """A list or array of positive ints as a list of Python ints."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) == 0:
        raise ValueError(f"`{arg}` must be a non-empty list of ints. Received: {arg}={value!r}")
    return [_positive_int(arg, v, maximum=maximum) for v in list(value)]


def stem_layers(x, *, stem, spec, ops):
    """ImageNet stem (7x7/2 conv, BN, ReLU, 3x3/2 max pool) or CIFAR stem (3x3 conv)."""
    if stem == "imagenet":
        x = ops.conv_bn(x, 64, 7, strides=2, name="conv1")
        x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
        return keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    if spec.preact:  # the first block pre-activates, so the stem is a bare conv
        return ops.conv(x, 16, 3, name="conv1")
    return ops.conv_bn(x, 16, 3, name="conv1")


def dilation_schedule(num_stages, replace_stride_with_dilation, output_stride, stem):
    """Per-stage strides and dilations, following torchvision's `_make_layer`.

    Returns a list of (stride, dilation, first_dilation) per stage; the first block of
    a dilated stage keeps the previous stage's dilation, as torchvision does.
    """
    n_replace = num_stages - 1
    if replace_stride_with_dilation is not None and output_stride is not None:
        raise ValueError(
            "Pass either `replace_stride_with_dilation` or `output_stride`, not both. "
            f"Received: replace_stride_with_dilation={replace_stride_with_dilation!r}, "
            f"output_stride={output_stride!r}"
        )
    if output_stride is not None:
        full = STEM_STRIDE[stem] * 2**n_replace
        allowed = [full // 2**k for k in range(n_replace + 1) if full // 2**k >= STEM_STRIDE[stem]]
        if output_stride not in allowed:
            raise ValueError(
                f"Unsupported output_stride={output_stride!r} for this network. "
                f"Allowed values: {allowed}."
            )
        k = (full // output_stride).bit_length() - 1  # how many trailing stages to dilate
        replace_stride_with_dilation = [False] * (n_replace - k) + [True] * k
    if replace_stride_with_dilation is None:
        replace_stride_with_dilation = [False] * n_replace
    # NumPy scalars (np.bool_ is no `bool`) become Python values through `.item()`.
    replace = [r.item() if hasattr(r, "item") else r for r in list(replace_stride_with_dilation)]
    if len(replace) != n_replace or not all(isinstance(r, bool) for r in replace):
        raise ValueError(
            "`replace_stride_with_dilation` must be a list of "
            f"{n_replace} booleans (one per stage after the first). "
            f"Received: replace_stride_with_dilation={replace_stride_with_dilation!r}"
        )
    schedule, dilation = [(1, 1, 1)], 1
    for dilate in replace:
        previous = dilation
        if dilate:
            dilation *= 2
            schedule.append((1, dilation, previous))
        else:
            schedule.append((2, dilation, previous))
    return schedule


def _shape_dim(dim, input_shape):
    if (isinstance(dim, bool) or not isinstance(dim, numbers.Integral)
            or not 1 <= dim <= MAX_INPUT_SIDE):
        raise ValueError(
            f"`input_shape` entries must be None or integers in [1, {MAX_INPUT_SIDE:,}]. "
            f"Received: input_shape={input_shape!r}")
    return int(dim)


def _input(input_tensor, input_shape, *, include_top, default_size, min_size):
    if input_tensor is not None:
        if input_shape is None:
            input_shape = tuple(input_tensor.shape[1:])
        if keras.backend.is_keras_tensor(input_tensor):
            img_input = input_tensor
        else:
            img_input = keras.Input(tensor=input_tensor, shape=input_shape)
    else:
        if input_shape is None:
            input_shape = (default_size, default_size, 3) if include_top else (None, None, 3)
        img_input = None
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__len__"):
        raise ValueError("`input_shape` must be (height, width, channels) (channels_last). "
                         f"Received: input_shape={input_shape!r}")
    shape = tuple(None if d is None else _shape_dim(d, input_shape) for d in input_shape)
    if len(shape) != 3:
        raise ValueError(
            "`input_shape` must be (height, width, channels) (channels_last). "
            f"Received: input_shape={input_shape!r}"
        )
    for dim, what in zip(shape[:2], ("height", "width")):
        if dim is not None and dim < min_size:
            raise ValueError(
                f"Input {what} {dim} is smaller than the network's total stride "
                f"{min_size}. Received: input_shape={input_shape!r}; use inputs of at "
                f"least {min_size}x{min_size}."
            )
    if shape[2] is None or shape[2] < 1:
        raise ValueError("`input_shape` needs a known channel count >= 1. "
                         f"Received: input_shape={input_shape!r}")
    if img_input is None:
        img_input = keras.Input(shape=shape)
    return img_input


def classifier_head(x, *, include_top, pooling, classes, classifier_activation, ops):
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        policy = keras.config.dtype_policy()
        # Keep logits and softmax in float32 under mixed precision.
        dtype = "float32" if policy.compute_dtype != policy.variable_dtype else None
        return ops.dense(x, classes, activation=classifier_activation, dtype=dtype,
                         name="predictions")
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def build_resnet(
    stage_depths,
    *,
    block="bottleneck",
    version="v1.5",
    stem="imagenet",
    stage_widths=None,
    shortcut="B",
    groups=1,
    width_per_group=64,
    se_ratio=0.0,
    replace_stride_with_dilation=None,
    output_stride=None,
    zero_init_residual=False,
    drop_path_rate=0.0,
    dropout_rate=0.0,
    bn_momentum=0.9,
    bn_epsilon=1e-5,
    sync_bn=False,
    fused_bn=True,
    kernel_initializer="he_normal_fan_out",
    kernel_regularizer=None,
    include_top=True,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet",
):
    """Builds a ResNet as a Keras functional model.

    Args:
        stage_depths: list of int. Blocks per stage, e.g. `[3, 4, 6, 3]` for ResNet-50.
        block: str. "basic" (two 3x3 convs) or "bottleneck" (1x1, 3x3, 1x1 with
            expansion 4). Defaults to "bottleneck".
        version: str. "v1" (post-activation, stride on the bottleneck's first 1x1, as
            the paper and keras.applications), "v1.5" (stride on the 3x3, as
            torchvision and NVIDIA) or "v2" (pre-activation, "Identity Mappings in Deep
            Residual Networks"). Basic blocks are the same in v1 and v1.5.
            Defaults to "v1.5".
        stem: str. "imagenet" (7x7/2 conv, BN, ReLU, 3x3/2 max pool) or "cifar"
            (3x3 conv of 16 channels). Defaults to "imagenet".
        stage_widths: list of int. Base channels per stage (a bottleneck outputs 4x).
            Defaults to 64, 128, 256, ... (ImageNet stem) or 16, 32, 64, ... (CIFAR).
        shortcut: str. "A" (strided identity, zero-padded channels; no parameters),
            "B" (1x1 projection + BN where the shape changes), "C" (projection on
            every block) or "none" (a plain network). Defaults to "B".
        groups: int. Groups of the bottleneck's 3x3 conv (ResNeXt). Defaults to 1.
        width_per_group: int. Bottleneck width per group for the first stage's 64
            channels (ResNeXt 32x4d: 4; Wide ResNet-50-2: 128). Defaults to 64.
        se_ratio: float. Squeeze-and-excitation width as a fraction of the block's
            output channels (SE-ResNet: 1/16); 0 disables. Defaults to 0.
        replace_stride_with_dilation: list of bool, one per stage after the first,
            as in torchvision. Defaults to None (no dilation).
        output_stride: int. Shortcut for dilation: 32 (none), 16 or 8. Defaults to None.
        zero_init_residual: bool. Zero-initialise the last BN gamma of every residual
            branch (last conv for v2). Defaults to False.
        drop_path_rate: float. Stochastic depth rate of the last block, increasing
            linearly from 0 at the first block. Defaults to 0.
        dropout_rate: float. Dropout between the two convs of basic blocks (Wide
            ResNet). Defaults to 0.
        bn_momentum: float. Keras BatchNormalization momentum. Defaults to 0.9, which
            equals PyTorch's default momentum 0.1 (Keras' own default is 0.99).
        bn_epsilon: float. Defaults to 1e-5, PyTorch's (Keras' default is 1e-3).
        sync_bn: bool. Synchronized batch norm across replicas. Defaults to False.
        fused_bn: bool. Use `FusedBatchNormalization`, a `BatchNormalization`
            subclass with the same weights and config that trains with TensorFlow's
            fused kernel (about 1.3x faster ResNet-50 training on CPU). False gives
            plain Keras layers, for `.keras` files that load without keras_resnet
            installed. Defaults to True.
        kernel_initializer: str or initializer for conv kernels. Defaults to
            "he_normal_fan_out" (torchvision's kaiming_normal_, mode="fan_out").
        kernel_regularizer: regularizer for conv and dense kernels (not BN), e.g.
            `keras.regularizers.L2(5e-5)` for the paper's weight decay 1e-4.
            Defaults to None.
        include_top, input_tensor, input_shape, pooling, classes,
        classifier_activation, name: as in `keras.applications.ResNet50`.

    Returns:
        A `keras.Model`.
    """
    _choice("block", block, BLOCKS)
    _choice("version", version, VERSIONS)
    _choice("stem", stem, STEMS)
    _choice("shortcut", shortcut, tuple(SHORTCUTS))
    _choice("pooling", pooling, POOLINGS)
    stage_depths = _int_list("stage_depths", stage_depths, MAX_STAGE_DEPTH)
    if stage_widths is None:
        base = DEFAULT_BASE_WIDTH[stem]
        stage_widths = [base * 2**i for i in range(len(stage_depths))]
    stage_widths = _int_list("stage_widths", stage_widths, MAX_WIDTH)
    if len(stage_widths) != len(stage_depths):
        raise ValueError(
            "`stage_widths` and `stage_depths` must have the same length. Received: "
            f"stage_widths={list(stage_widths)!r}, stage_depths={list(stage_depths)!r}"
        )
    groups = _positive_int("groups", groups, maximum=MAX_WIDTH)
    width_per_group = _positive_int("width_per_group", width_per_group, maximum=MAX_WIDTH)
    if block == "basic" and (groups != 1 or width_per_group != 64):
        raise ValueError(
            "Basic blocks support only groups=1 and width_per_group=64 (widen a basic "
            f"network with `stage_widths`). Received: groups={groups}, "
            f"width_per_group={width_per_group}"
        )
    narrow = [w for w in stage_widths if int(w * (width_per_group / 64.0)) < 1]
    if block == "bottleneck" and narrow:
        # The bottleneck's inner width is int(width * width_per_group / 64) * groups.
        raise ValueError(
            f"Bottleneck stages of width {narrow} with width_per_group={width_per_group} "
            "have no channels (inner width int(width * width_per_group / 64) is 0). "
            f"Raise stage_widths or width_per_group. Received: stage_widths="
            f"{list(stage_widths)!r}, width_per_group={width_per_group}"
        )
    se_ratio = _fraction("se_ratio", se_ratio)
    drop_path_rate = _fraction("drop_path_rate", drop_path_rate)
    dropout_rate = _fraction("dropout_rate", dropout_rate)
    if drop_path_rate and shortcut == "none":
        raise ValueError(
            "`drop_path_rate` needs residual connections; shortcut='none' has none. "
            f"Received: drop_path_rate={drop_path_rate}"
        )
    if dropout_rate and block != "basic":
        raise ValueError(
            "`dropout_rate` applies to basic blocks only. "
            f"Received: dropout_rate={dropout_rate}, block={block!r}"
        )
    classes = _positive_int("classes", classes, maximum=MAX_CLASSES)
    if not isinstance(bn_momentum, numbers.Real) or not 0.0 <= bn_momentum <= 1.0:
        raise ValueError(f"`bn_momentum` must be in [0, 1]. Received: bn_momentum={bn_momentum!r}")
    if (not isinstance(bn_epsilon, numbers.Real) or not math.isfinite(bn_epsilon)
            or bn_epsilon <= 0):
        raise ValueError(f"`bn_epsilon` must be a finite number > 0. "
                         f"Received: bn_epsilon={bn_epsilon!r}")
    bn_momentum, bn_epsilon = float(bn_momentum), float(bn_epsilon)
    try:
        keras.activations.get(classifier_activation)
    except ValueError as e:
        raise ValueError(
            f"Unknown classifier_activation={classifier_activation!r}: {e}"
        ) from None

    schedule = dilation_schedule(len(stage_depths), replace_stride_with_dilation,
                                 output_stride, stem)
    total_stride = STEM_STRIDE[stem] * 2 ** (len(stage_depths) - 1)
    img_input = _input(input_tensor, input_shape, include_top=include_top,
                       default_size=DEFAULT_SIZE[stem], min_size=total_stride)

    spec = BlockSpec(kind=block, version=version, groups=groups,
                     width_per_group=width_per_group, se_ratio=float(se_ratio),
                     zero_init_residual=zero_init_residual, dropout_rate=float(dropout_rate))
    if not isinstance(fused_bn, bool):
        raise ValueError(f"`fused_bn` must be True or False. Received: fused_bn={fused_bn!r}")
    ops = LayerOps(bn_momentum=bn_momentum, bn_epsilon=bn_epsilon, sync_bn=sync_bn,
                   fused_bn=fused_bn,
                   kernel_initializer=kernel_initializer,
                   kernel_regularizer=kernel_regularizer)
    block_fn = BLOCK_FNS[block]
    n_blocks = sum(stage_depths)

    x = stem_layers(img_input, stem=stem, spec=spec, ops=ops)
    index = 0
    for stage, (depth, width, (stride, dilation, first_dilation)) in enumerate(
        zip(stage_depths, stage_widths, schedule)
    ):
        for b in range(depth):
            rate = drop_path_rate * index / max(1, n_blocks - 1)
            x = block_fn(
                x,
                filters=width,
                strides=stride if b == 0 else 1,
                dilation=dilation,
                first_dilation=first_dilation if b == 0 else dilation,
                drop_path=rate,
                shortcut=shortcut,
                spec=spec,
                ops=ops,
                name=f"conv{stage + 2}_block{b + 1}",
            )
            index += 1
    if spec.preact:
        x = ops.relu(ops.bn(x, name="post"), name="post")
    x = classifier_head(x, include_top=include_top, pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, ops=ops)
    inputs = keras.utils.get_source_inputs(input_tensor) if input_tensor is not None else img_input
    # Keras walks the graph recursively (build, save, load): ResNet-1202 has ~4,000
    # layers, past Python's default limit of 1,000 frames.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000 + 60 * n_blocks))
    return keras.Model(inputs, x, name=name)
