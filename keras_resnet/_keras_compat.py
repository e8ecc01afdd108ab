"""Patches of Keras (and TensorFlow) private APIs that training needs, in one place.

Each patch names the Keras (or TensorFlow) versions it was written for and checks,
before patching, that its target is still there: on a version where the target is gone
it raises `KerasCompatError` naming the attribute, instead of silently doing nothing (or
patching a name nothing reads any more).
"""

import contextlib

import keras


class KerasCompatError(RuntimeError):
    """A Keras private attribute that keras_resnet patches is missing."""


def _compat_error(patch, versions, missing, library="Keras"):
    """The error of a patch whose target `missing` this `library` does not have."""
    if library == "Keras":
        version = keras.__version__
    else:
        import tensorflow as tf

        version = tf.__version__
    return KerasCompatError(
        f"keras_resnet's patch {patch!r} (written for {library} {versions}) needs "
        f"{missing}, which {library} {version} does not have. Use a {library} version "
        f"in {versions}, or update keras_resnet/_keras_compat.py.")


def _require(owner, attribute, patch, versions, library="Keras"):
    if not hasattr(owner, attribute):
        name = getattr(owner, "__name__", type(owner).__name__)
        raise _compat_error(patch, versions, f"{name}.{attribute}", library)


MULTI_WORKER_FIX_VERSIONS = "3.15"


@contextlib.contextmanager
def multi_worker_log_reduction_fix(active):
    """Keras 3.15 (TensorFlow backend; the version it was written and tested on)
    reduces each scalar log of a multi-worker step with `strategy.reduce("MEAN", v,
    axis=0)`, which fails on scalars ("Invalid reduction dimension 0"). While
    `active`, logs are averaged over the local replicas instead, so the progress bar
    and metrics files show this worker's values.

    Raises:
        KerasCompatError: `active` and Keras has no
            `trainer._collective_all_reduce_multi_worker` to patch.
    """
    if not active:
        yield
        return
    from keras.src.backend.tensorflow import trainer as tf_trainer

    _require(tf_trainer, "_collective_all_reduce_multi_worker",
             "multi_worker_log_reduction_fix", MULTI_WORKER_FIX_VERSIONS)
    original = tf_trainer._collective_all_reduce_multi_worker
    tf_trainer._collective_all_reduce_multi_worker = lambda strategy: False
    try:
        yield
    finally:
        tf_trainer._collective_all_reduce_multi_worker = original


PREBUILD_VERSIONS = "3.15"


def prebuild(model, strategy, dataset):
    """Builds model, loss, metrics and optimizer from `dataset`'s element spec (shapes
    and dtypes only: no batch is read), under `strategy`, before `fit`.

    Keras 3.15 (the version it was written and tested on) otherwise builds them:
    - on one device (no strategy set), in the first trace of the train step, where the
      new variables (optimizer slots, metric totals) make TensorFlow trace the whole
      step a second time (ResNet-20: 1.1 s more start-up per `fit`);
    - under a strategy, in `fit` from the first batch of the training iterator, which
      that batch then never trains on (so runs under different strategies saw
      different data), and by all-reducing it, which MultiWorkerMirroredStrategy
      rejects for (x, y) tuples ("Attempt to convert a value (PerReplica...)").
    Building here and skipping Keras' own build avoids all three.

    Raises:
        KerasCompatError: the model has no `_symbolic_build` or
            `_maybe_symbolic_build` (the Keras private methods this relies on).
    """
    for attribute in ("_symbolic_build", "_maybe_symbolic_build"):
        _require(model, attribute, "prebuild", PREBUILD_VERSIONS)
    # `_symbolic_build` reads only `.shape` and `.dtype` of each element (TensorSpecs).
    images, labels = dataset.element_spec
    with strategy.scope():
        model._symbolic_build(data_batch=(images, labels))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


STEPS_PER_EXECUTION_VERSIONS = "3.15"


def exact_steps_per_execution(model, strategy, steps_per_epoch):
    """Makes `steps_per_execution` > 1 run each step of an epoch exactly once, on any
    strategy.

    Keras 3.15's TensorFlow trainer (the version this was written and tested on) has
    two faults with several steps per execution:

    - `fit` runs whole executions of `steps_per_execution` steps, whatever
      `steps_per_epoch` says: 2 epochs of 3 steps at 2 steps per execution trained 8
      optimizer steps, and each epoch read the next epoch's first batches.
    - Each step runs inside a `tf.cond` on the iterator's next optional element, and
      `strategy.run` inside that cond fails under MirroredStrategy at the first step
      ("You must feed a value for placeholder tensor ...", keras-team/keras#19246).

    Here an execution is told how many steps it has left in its epoch (the count is
    reset when `fit` starts, and wraps at `steps_per_epoch`). Its first step reads the
    iterator directly (the end of the data stops the epoch, as in Keras); the others
    run in a `tf.while_loop` whose condition, not a `tf.cond`, checks for a next
    element, and only the fetch of that element sits in a cond, so an execution
    never reads past its last step. Evaluation runs whole executions until the data
    ends, as before. Nothing changes at one step per execution.

    Args:
        model: a compiled Keras model.
        strategy: the `tf.distribute` strategy it was compiled under.
        steps_per_epoch: int. The training steps of each epoch (`fit`'s
            steps_per_epoch).

    Returns:
        bool: whether the model was patched.

    Raises:
        KerasCompatError: Keras has no `trainer.reduce_per_replica`, or the model no
            `_make_function`, `_autoconvert_optionals` or `make_train_function`.
    """
    per_execution = int(model.steps_per_execution)
    if per_execution < 2 or keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as tf_trainer

    name = "exact_steps_per_execution"
    _require(tf_trainer, "reduce_per_replica", name, STEPS_PER_EXECUTION_VERSIONS)
    for attribute in ("_make_function", "_autoconvert_optionals", "make_train_function"):
        _require(model, attribute, name, STEPS_PER_EXECUTION_VERSIONS)
    position = [0]  # training steps run in the current epoch
    make_train_function = model.make_train_function

    def reset_and_make_train_function(force=False):
        position[0] = 0  # `fit` calls this first, at an epoch boundary
        return make_train_function(force=force)

    def make_function(step_function):
        @tf.autograph.experimental.do_not_convert
        def one_step(data):
            outputs = strategy.run(step_function, args=(data,))
            return tf_trainer.reduce_per_replica(outputs, strategy, reduction="auto")

        one_step = model._autoconvert_optionals(tf.function(
            one_step, reduce_retracing=True, jit_compile=model.jit_compile))

        @tf.autograph.experimental.do_not_convert
        def several(iterator, steps):
            outputs = one_step(iterator.get_next())

            def more(step, outputs, optional):
                return tf.logical_and(step < steps, optional.has_value())

            def next_step(step, outputs, optional):
                outputs = one_step(optional.get_value())
                optional = tf.cond(step + 1 < steps, iterator.get_next_as_optional,
                                   lambda: optional)
                return step + 1, outputs, optional

            _, outputs, _ = tf.while_loop(
                more, next_step, [tf.constant(1), outputs, iterator.get_next_as_optional()])
            return outputs

        single = tf.function(lambda iterator: one_step(iterator.get_next()))
        several = tf.function(several, reduce_retracing=True)
        training = step_function == model.train_step

        def function(iterator):
            steps = per_execution
            if training:
                steps = min(per_execution, steps_per_epoch - position[0])
            try:
                outputs = (single(iterator) if steps == 1
                           else several(iterator, tf.constant(steps)))
            except tf.errors.OutOfRangeError as end:
                raise StopIteration from end
            if training:
                position[0] = (position[0] + steps) % steps_per_epoch
            return outputs

        return function

    model._make_function = make_function
    model.make_train_function = reset_and_make_train_function
    model.train_function = model.test_function = None
    return True


CONV_GRADIENT_VERSIONS = "2.21"  # TensorFlow


# Strided convolutions take the forward-convolution path only up to this many output
# pixels: there TensorFlow 2.21's CPU kernel is slow (a 3x3 conv of 256 -> 512 channels,
# stride 2, batch 32: 96 ms against 15 ms at 1x1 output), while from 4x4 on it is as fast
# or faster than the convolution of the zero-upsampled gradient, which does stride^2 as
# many multiply-adds (18 ms against 44 ms at 16x16 output, 64 -> 128 channels). Measured
# on a 2-core AVX2 EPYC.
STRIDED_MAX_OUTPUT_PIXELS = 4


def _conv_input_gradient(grad, kernel, input_size, strides, padding):
    """The input gradient of an NHWC Conv2D (odd kernel, no dilation, no groups) as one
    forward convolution: the output gradient, zero-upsampled by the strides, convolved
    with the kernel flipped in space and with in/out channels swapped. `input_size`:
    the input's static (height, width); None for stride 1, where it is not needed."""
    import tensorflow as tf

    kh, kw, k_in, k_out = kernel.shape
    # Flipped in space (reversing the flattened taps reverses both axes) and transposed
    # as a batch of matrices: 7.6 ms for a 3x3x512x512 kernel against 11.1 ms as
    # tf.reverse then a 4-D tf.transpose (2-core AVX2 EPYC).
    taps = tf.reshape(kernel, [kh * kw, k_in, k_out])
    if kh * kw > 1:
        taps = tf.reverse(taps, [0])
    flipped = tf.reshape(tf.transpose(taps, [0, 2, 1]), [kh, kw, k_out, k_in])
    sh, sw = strides
    if (sh, sw) == (1, 1):
        # SAME pads (k - 1) / 2 on each side, which the same padding undoes; VALID read
        # k - 1 more pixels than it wrote, which a full padding gives back.
        if padding == "VALID":
            grad = tf.pad(grad, [[0, 0], [kh - 1, kh - 1], [kw - 1, kw - 1], [0, 0]])
        return tf.nn.conv2d(grad, flipped, 1, padding)
    (height, width), (out_h, out_w) = input_size, (grad.shape[1], grad.shape[2])
    pad_h = max((out_h - 1) * sh + kh - height, 0) if padding == "SAME" else 0
    pad_w = max((out_w - 1) * sw + kw - width, 0) if padding == "SAME" else 0
    up = tf.pad(grad[:, :, None, :, None, :],
                [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]])
    up = tf.reshape(up, [-1, out_h * sh, out_w * sw, grad.shape[3]])
    up = up[:, :(out_h - 1) * sh + 1, :(out_w - 1) * sw + 1, :]
    # Rows and columns that no output read (after the last window) get zeros.
    rest_h = height + pad_h - ((out_h - 1) * sh + kh)
    rest_w = width + pad_w - ((out_w - 1) * sw + kw)
    up = tf.pad(up, [[0, 0], [kh - 1, kh - 1 + rest_h], [kw - 1, kw - 1 + rest_w], [0, 0]])
    padded = tf.nn.conv2d(up, flipped, 1, "VALID")
    top, left = pad_h // 2, pad_w // 2  # TensorFlow's SAME puts the odd pixel after
    return padded[:, top:top + height, left:left + width, :]


def _conv_input_gradient_as_conv(original):
    """A Conv2D gradient function: `original`'s filter gradient, and the input gradient
    as a forward convolution where that is exact and faster (`_conv_input_gradient`),
    else `original`'s."""
    import tensorflow as tf

    def gradient(op, grad):
        x, kernel = op.inputs[0], op.inputs[1]
        if kernel.shape.rank != 4 or x.shape.rank != 4 or grad.shape.rank != 4:
            return original(op, grad)
        kh, kw, k_in, _ = kernel.shape
        strides, dilations = list(op.get_attr("strides")), list(op.get_attr("dilations"))
        padding = op.get_attr("padding").decode()
        if (op.get_attr("data_format") != b"NHWC" or strides[0] != 1 or strides[3] != 1
                or dilations != [1, 1, 1, 1] or padding not in ("SAME", "VALID")
                or kh is None or kw is None or kh % 2 == 0 or kw % 2 == 0
                or k_in is None or k_in != x.shape[-1]):
            return original(op, grad)  # dilated, grouped, even or explicit padding
        input_size = None
        if strides != [1, 1, 1, 1]:
            input_size, out = tuple(x.shape[1:3]), tuple(grad.shape[1:3])
            if (None in input_size or None in out or grad.shape[3] is None
                    or out[0] * out[1] > STRIDED_MAX_OUTPUT_PIXELS):
                return original(op, grad)
        filter_grad = tf.raw_ops.Conv2DBackpropFilter(
            input=x, filter_sizes=tf.shape(kernel), out_backprop=grad, strides=strides,
            padding=padding, explicit_paddings=op.get_attr("explicit_paddings"),
            data_format="NHWC", dilations=dilations)
        input_grad = _conv_input_gradient(grad, kernel, input_size, strides[1:3], padding)
        return [input_grad, filter_grad]

    return gradient


@contextlib.contextmanager
def fast_conv_input_gradient(active):
    """While `active`, TensorFlow computes the input gradient of a Conv2D as a forward
    convolution instead of its `Conv2DBackpropInput` kernel: at stride 1, and at larger
    strides where the output is small (`STRIDED_MAX_OUTPUT_PIXELS`). Gradients are
    looked up when a step is traced, so a train function traced inside keeps the faster
    graph after exit.

    TensorFlow 2.21's CPU `Conv2DBackpropInput` (the version this was written and
    measured on) is many times slower than a forward convolution of the same size where
    channels are many and the image small. On a 2-core AVX2 EPYC, for a 3x3 conv of
    512 channels at batch 32: 217 ms against 13 ms at 1x1 pixels, 161 ms against 57 ms
    at 7x7. A ResNet-18 training step at 32x32, batch 32, took 159 ms with this patch
    against 930 ms without; a ResNet-50 gradient at 224x224, batch 8, 2,154 against
    2,180 ms. The result is the same sum in another order (float32 rounding).

    Only undilated, ungrouped NHWC convolutions with odd kernels and "same" or "valid"
    padding take the new path (strided ones with static shapes and a small output);
    every other Conv2D keeps TensorFlow's gradient. Meant for CPU runs: GPUs run cuDNN's
    own kernels.

    Raises:
        KerasCompatError: `active` and TensorFlow's gradient registry has no Conv2D
            entry to replace.
    """
    if not active:
        yield
        return
    from tensorflow.python.framework import ops

    name = "fast_conv_input_gradient"
    _require(ops, "_gradient_registry", name, CONV_GRADIENT_VERSIONS, library="TensorFlow")
    entry = getattr(ops._gradient_registry, "_registry", {}).get("Conv2D")
    if not isinstance(entry, dict) or "type" not in entry:
        raise _compat_error(name, CONV_GRADIENT_VERSIONS,
                            "the Conv2D entry of ops._gradient_registry", "TensorFlow")
    original = entry["type"]
    entry["type"] = _conv_input_gradient_as_conv(original)
    try:
        yield
    finally:
        entry["type"] = original
