"""Custom layers of the ResNet family.

Only what Keras lacks lives here; each layer is registered for serialization so that
`.keras` files load with `safe_mode=True` (no Lambda layers anywhere).
"""

import keras
from keras import ops

PACKAGE = "keras_resnet"


@keras.saving.register_keras_serializable(package=PACKAGE)
class ZeroPadShortcut(keras.layers.Layer):
    """Parameter-free shortcut of He et al. (2015), option A.

    Subsamples the input spatially by `stride` (strided identity, keeping the top-left
    pixel of each window as a 1x1 strided conv would) and zero-pads the channel axis
    up to `filters`, split evenly before and after as in the paper's CIFAR code.

    Args:
        filters: int. Number of output channels, at least the input's.
        stride: int. Spatial subsampling factor. Defaults to 1.
    """

    def __init__(self, filters, stride=1, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.stride = int(stride)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and channels > self.filters:
            raise ValueError(
                f"ZeroPadShortcut cannot reduce channels: input has {channels}, "
                f"filters={self.filters}."
            )

    def call(self, inputs):
        x = inputs
        if self.stride > 1:
            x = x[:, :: self.stride, :: self.stride, :]
        missing = self.filters - x.shape[-1]
        if missing:
            before = missing // 2
            x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [before, missing - before]])
        return x

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape

        def sub(size):
            return None if size is None else -(-size // self.stride)

        return (batch, sub(height), sub(width), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "stride": self.stride}


@keras.saving.register_keras_serializable(package=PACKAGE)
class StochasticDepth(keras.layers.Layer):
    """Drops the whole residual branch per sample while training (Huang et al. 2016).

    Surviving samples are scaled by 1 / (1 - rate) so that inference needs no change.

    Args:
        rate: float in [0, 1). Probability of dropping the branch.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"StochasticDepth rate must be in [0, 1). Received: rate={rate}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        keep = 1.0 - self.rate
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        noise = keras.random.uniform(shape, seed=self.seed_generator, dtype=inputs.dtype)
        mask = ops.cast(noise < keep, inputs.dtype)
        return inputs * mask / keep

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ResizeToMatch(keras.layers.Layer):
    """Bilinearly resizes its first input to the spatial size of its second.

    Used by the segmentation head to bring logits back to the input resolution, also
    when that resolution is only known at run time.
    """

    def __init__(self, interpolation="bilinear", **kwargs):
        super().__init__(**kwargs)
        self.interpolation = interpolation

    def call(self, inputs):
        x, reference = inputs
        size = ops.shape(reference)[1:3]
        return ops.image.resize(x, size, interpolation=self.interpolation)

    def compute_output_shape(self, input_shapes):
        x_shape, ref_shape = input_shapes
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation}
