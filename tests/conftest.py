"""Shared fixtures: a tiny model, a tiny export and a generated image folder (made by
`factories.py`, which test modules may also import for variants of them)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import factories  # noqa: E402
import pytest  # noqa: E402


def pytest_configure(config):
    """Splits the cores between the xdist workers: TensorFlow's intra-op pool has a
    thread per core in every process, so two workers (and the scripts that they start,
    which inherit the setting) each ran two threads on a 2-core host. One thread each
    was faster alone and together (ResNet-20 fit at 32x32 on a 2-core AVX2 EPYC: 6.9 s
    against 8.5 s alone, 8.0-8.8 s against 11-16 s two at once)."""
    worker = getattr(config, "workerinput", None)  # None in xdist's controller
    if worker is not None:
        threads = max(1, (os.cpu_count() or 1) // worker["workercount"])
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))


# Modules that took a minute or more (--durations, 2-core AVX2 EPYC, 2026-12-07),
# longest first. xdist hands out whole files (--dist loadfile) in collection order
# (--no-loadscope-reorder, Makefile), so these start first and short files fill the
# end, instead of one worker running the fault chains alone for the last minutes.
FIRST = (
    "tests/reliability/test_training_faults.py",
    "tests/benchmark/test_benchmark.py",
    "tests/export/test_export.py",
    "tests/models/test_variants.py",
    "tests/training/test_finetune.py",
    "tests/reliability/test_multi_worker.py",
    "tests/training/test_train.py",
    "tests/benchmark/test_keras_backends.py",
)


def pytest_collection_modifyitems(config, items):
    """Puts the modules of FIRST first, in its order; the others keep theirs."""
    missing = [path for path in FIRST if not (config.rootpath / path).is_file()]
    if missing:  # a renamed module would silently lose its place
        raise pytest.UsageError(f"conftest.FIRST names no such module: {missing}")
    rank = {path: index for index, path in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(FIRST)))


@pytest.fixture
def tiny_model():
    """A fresh, seeded `factories.tiny_model()`: 3 classes at 16x16."""
    import keras

    keras.utils.set_random_seed(0)
    return factories.tiny_model()


@pytest.fixture
def image_folder(tmp_path):
    """tmp_path/images with classes a/ and b/ of 3 JPEGs each; returns its path (str)."""
    return factories.image_folder(tmp_path / "images")


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
    """(path of the tiny model's .keras file, its SavedModel + TFLite float32 export).
    Shared by the session: copy the export before changing it."""
    import keras

    folder = tmp_path_factory.mktemp("tiny_export")
    keras.utils.set_random_seed(0)
    model_path = str(folder / "tiny.keras")
    factories.tiny_model().save(model_path)
    return model_path, factories.tiny_export(folder / "export", model=model_path)
