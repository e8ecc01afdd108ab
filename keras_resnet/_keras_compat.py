"""Patches of Keras private APIs that training needs, in one place.

Each patch names the Keras versions it was written for and checks, before patching,
that its target is still there: on a Keras where the target is gone it raises
`KerasCompatError` naming the attribute, instead of silently doing nothing (or
patching a name nothing reads any more).
"""

import contextlib

import keras


class KerasCompatError(RuntimeError):
    """A Keras private attribute that keras_resnet patches is missing."""


def _require(owner, attribute, patch, versions):
    if not hasattr(owner, attribute):
        name = getattr(owner, "__name__", type(owner).__name__)
        raise KerasCompatError(
            f"keras_resnet's patch {patch!r} (written for Keras {versions}) needs "
            f"{name}.{attribute}, which Keras {keras.__version__} does not have. Use a "
            f"Keras version in {versions}, or update keras_resnet/_keras_compat.py.")


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
    """Builds model, loss, metrics and optimizer from the shapes of one local batch.

    Under a strategy, Keras 3.15 (the version it was written and tested on) builds
    them in `fit` from the first batch of the training iterator, which that batch then
    never trains on (so runs under different strategies saw different data), and by
    all-reducing it, which
    MultiWorkerMirroredStrategy rejects for (x, y) tuples ("Attempt to convert a value
    (PerReplica...)"). Building here from a separate dataset and skipping that step
    avoids both.

    Raises:
        KerasCompatError: the model has no `_symbolic_build` or
            `_maybe_symbolic_build` (the Keras private methods this relies on).
    """
    for attribute in ("_symbolic_build", "_maybe_symbolic_build"):
        _require(model, attribute, "prebuild", PREBUILD_VERSIONS)
    images, labels = next(iter(dataset))
    with strategy.scope():
        model._symbolic_build(data_batch=(images, labels))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
