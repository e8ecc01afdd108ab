"""weights="imagenet": official file names and hashes, and the offline error message."""

import keras
import pytest

import keras_resnet
from keras_resnet.weights import imagenet


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network: get_file raises as it does without internet; empty caches."""
    calls = []

    def get_file(fname, origin, **kwargs):
        calls.append(dict(fname=fname, origin=origin, **kwargs))
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] no network")

    monkeypatch.setattr(keras.utils, "get_file", get_file)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return calls


def test_offline_torchvision_says_what_to_place_where(offline, tmp_path):
    with pytest.raises(OSError) as info:
        keras_resnet.ResNet18(weights="imagenet", input_shape=(64, 64, 3))
    message = str(info.value)
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message
    assert str(tmp_path / "keras" / "models" / "resnet18-f37072fd.pth") in message
    assert "keras_resnet.ResNet18(weights='/path/to/resnet18-f37072fd.pth')" in message
    assert offline[0]["cache_subdir"] == "models"


def test_offline_keras_applications_notop_uses_official_name_and_hash(offline):
    from keras.src.applications import resnet as keras_resnet_app

    with pytest.raises(OSError, match="resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        keras_resnet.ResNet50V1(weights="imagenet", include_top=False, input_shape=(64, 64, 3))
    call = offline[0]
    assert call["origin"] == (keras_resnet_app.BASE_WEIGHTS_PATH
                              + "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
    assert call["file_hash"] == keras_resnet_app.WEIGHTS_HASHES["resnet50"][1]


@pytest.mark.parametrize("variant", sorted(imagenet.KERAS_APPLICATIONS_FILES))
def test_keras_applications_hashes_match_installed_keras(variant):
    from keras.src.applications import resnet as keras_resnet_app

    name, url, file_hash, fmt = imagenet.source(variant, include_top=True)
    base = imagenet.KERAS_APPLICATIONS_FILES[variant][0]
    assert (url, file_hash, fmt) == (keras_resnet_app.BASE_WEIGHTS_PATH + name,
                                     keras_resnet_app.WEIGHTS_HASHES[base][0],
                                     "keras_applications")


def test_cached_file_is_used_and_verified(monkeypatch, tmp_path):
    # A file placed in $KERAS_HOME/models is picked up without a download (the real
    # get_file, no network) and checked against the hash in its name.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "resnet34-b627a593.pth").write_bytes(b"not the real file")
    with pytest.raises(ValueError, match="corrupt or not the official resnet34-b627a593.pth"):
        keras_resnet.ResNet34(weights="imagenet", input_shape=(64, 64, 3))


def test_variant_without_weights_lists_available():
    with pytest.raises(ValueError, match="No official ImageNet weights for variant='resnet20'"):
        keras_resnet.ResNet20(weights="imagenet")


def test_every_torchvision_file_is_a_v15_registered_variant():
    for variant in imagenet.TORCHVISION_FILES:
        assert keras_resnet.get_variant(variant).config.get("version", "v1.5") == "v1.5"
    for variant in imagenet.KERAS_APPLICATIONS_FILES:
        assert keras_resnet.get_variant(variant).config["version"] == "v1"
