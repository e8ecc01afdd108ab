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


@keras.saving.register_keras_serializable(package=PACKAGE)
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` that trains with TensorFlow's fused kernel.

    Keras 3 dropped Keras 2's `fused` option: on every backend its training step is
    built from `moments` and `batch_normalization`, which TensorFlow runs as a dozen
    elementwise ops per layer forward and more backward. On the TensorFlow backend
    this layer computes the training-mode forward pass with one `FusedBatchNormV3`
    op (oneDNN on CPU; cuDNN on GPU, not yet run here; XLA lowers it too), whose
    gradient is one `FusedBatchNormGradV3`; grappler can then fuse it with the ReLU
    after it. A ResNet-50 training step on a 2-core CPU runs about 1.3x faster than
    with Keras' layer (docs/benchmarks.md).

    Everything else is the Keras layer: the same weights and weight names, the same
    config, the same moving-average update (with the biased batch variance, as Keras
    uses), and Keras' own code for inference, for other backends, and for the cases
    the fused kernel does not cover (a mask, `synchronized=True`, `renorm=True`, no
    `center` or `scale`, inputs that are not 4-D NHWC).
    """

    def _fusable(self, inputs, training, mask):
        return (keras.backend.backend() == "tensorflow" and bool(training)
                and self.trainable and mask is None and not self.synchronized
                and not self.renorm and self.center and self.scale
                and len(inputs.shape) == 4 and self.axis in (-1, 3)
                and keras.backend.standardize_dtype(inputs.dtype)
                in ("float32", "float16", "bfloat16"))

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        empty = tf.constant([], "float32")
        outputs, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=inputs, scale=ops.cast(self.gamma, "float32"),
            offset=ops.cast(self.beta, "float32"), mean=empty, variance=empty,
            epsilon=self.epsilon, exponential_avg_factor=1.0, data_format="NHWC",
            is_training=True)
        # The kernel returns the Bessel-corrected variance (n / (n - 1) times the
        # biased one it normalizes with, for n > 1); Keras keeps the biased variance.
        count = tf.cast(tf.size(inputs) // tf.shape(inputs)[-1], "float32")
        variance = variance * (count - 1.0) / tf.maximum(count, 1.0)
        self.moving_mean.assign(ops.cast(self.moving_mean, "float32") * self.momentum
                                + mean * (1.0 - self.momentum))
        self.moving_variance.assign(ops.cast(self.moving_variance, "float32") * self.momentum
                                    + variance * (1.0 - self.momentum))
        return ops.cast(outputs, self.compute_dtype)
