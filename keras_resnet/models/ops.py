"""Named conv / batch-norm / activation layers shared by stems, blocks and heads.

Every layer a block creates goes through `LayerOps`, so that normalization settings,
initializers, regularizers and padding rules are decided in one place and the layer
names follow the keras.applications scheme (`<prefix>_conv`, `<prefix>_bn`,
`<prefix>_relu`, `<prefix>_pad`).
"""

import dataclasses
from typing import Any

import keras

from keras_resnet.models.layers import FusedBatchNormalization


def he_normal_fan_out():
    """He-normal initialisation over fan_out, untruncated: torchvision's conv init."""
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="untruncated_normal"
    )


def resolve_initializer(initializer):
    if initializer == "he_normal_fan_out":
        return he_normal_fan_out()
    return keras.initializers.get(initializer)


@dataclasses.dataclass(frozen=True)
class LayerOps:
    """Factory of named layers with the network-wide settings.

    Attributes:
        bn_momentum: float. Keras momentum of the moving statistics (0.9 equals
            PyTorch's default momentum of 0.1).
        bn_epsilon: float. Added to the variance (PyTorch's default 1e-5).
        sync_bn: bool. Synchronize batch statistics across replicas.
        fused_bn: bool. Batch norm as `FusedBatchNormalization` (TensorFlow's fused
            training kernel) rather than plain `keras.layers.BatchNormalization`.
        kernel_initializer: initializer for conv kernels.
        kernel_regularizer: regularizer for conv and dense kernels, or None.
    """

    bn_momentum: float = 0.9
    bn_epsilon: float = 1e-5
    sync_bn: bool = False
    fused_bn: bool = True
    kernel_initializer: Any = "he_normal_fan_out"
    kernel_regularizer: Any = None

    def conv(self, x, filters, kernel_size, *, name, strides=1, dilation=1, groups=1,
             use_bias=False, activation=None):
        """Conv2D named `<name>_conv`.

        A strided conv with a kernel larger than 1 gets an explicit, symmetric
        `<name>_pad` ZeroPadding2D and "valid" padding: TF's "same" pads stride-2
        convs asymmetrically (0 before, 1 after) while PyTorch pads symmetrically, and
        ported weights only reproduce outputs with PyTorch's padding.
        """
        padding = "same"
        if strides > 1 and kernel_size > 1:
            pad = dilation * (kernel_size - 1) // 2
            x = keras.layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
            padding = "valid"
        return keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            dilation_rate=dilation,
            groups=groups,
            use_bias=use_bias,
            activation=activation,
            kernel_initializer=resolve_initializer(self.kernel_initializer),
            kernel_regularizer=self.kernel_regularizer,
            name=f"{name}_conv",
        )(x)

    def bn(self, x, *, name, zero_gamma=False):
        layer = FusedBatchNormalization if self.fused_bn else keras.layers.BatchNormalization
        return layer(
            axis=-1,
            momentum=self.bn_momentum,
            epsilon=self.bn_epsilon,
            synchronized=self.sync_bn,
            gamma_initializer="zeros" if zero_gamma else "ones",
            name=f"{name}_bn",
        )(x)

    def relu(self, x, *, name):
        return keras.layers.Activation("relu", name=f"{name}_relu")(x)

    def conv_bn(self, x, filters, kernel_size, *, name, relu=True, zero_gamma=False, **kw):
        x = self.conv(x, filters, kernel_size, name=name, **kw)
        x = self.bn(x, name=name, zero_gamma=zero_gamma)
        return self.relu(x, name=name) if relu else x

    def dense(self, x, units, *, name, activation=None, dtype=None):
        return keras.layers.Dense(
            units,
            activation=activation,
            kernel_regularizer=self.kernel_regularizer,
            dtype=dtype,
            name=name,
        )(x)
