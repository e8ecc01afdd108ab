"""Shared fixtures: a tiny model, a tiny export and a generated image folder (made by
`factories.py`, which test modules may also import for variants of them)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import factories  # noqa: E402
import pytest  # noqa: E402


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
