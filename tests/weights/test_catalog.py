"""The weights catalogue: rows checked against their sources' conventions, tags,
preprocessing, offline fetches from pre-populated caches, backbone-only loading."""

import dataclasses
import hashlib

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet import weights as weights_lib
from keras_resnet.weights import catalog, imagenet

V15_WITH_V2 = ("resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d",
               "wide_resnet50_2", "wide_resnet101_2")
TORCHVISION_VARIANTS = V15_WITH_V2 + ("resnet18", "resnet34", "resnext101_64x4d")


def test_rows_are_unique_and_name_registered_variants():
    keys = [(row.variant, row.tag) for row in catalog.ROWS]
    assert len(keys) == len(set(keys))
    registered = set(keras_resnet.list_models())
    for row in catalog.ROWS:
        assert row.variant in registered, row
        assert row.preprocessing in ("torch", "caffe", "tf"), row
        assert row.crop == 224 and row.resize >= row.crop, row
        assert 50 < row.top1 < row.top5 < 100, row
        assert row.interpolation in ("bilinear", "bicubic"), row


def test_torchvision_rows_v1_and_v2():
    for variant in TORCHVISION_VARIANTS:
        tags = [row.tag for row in keras_resnet.list_weights(variant)]
        assert "torchvision_v1" in tags
        assert ("torchvision_v2" in tags) == (variant in V15_WITH_V2)
    for row in catalog.ROWS:
        if row.source != "torchvision":
            continue
        assert keras_resnet.get_variant(row.variant).config.get("version", "v1.5") == "v1.5"
        # torch.hub's convention: the file name ends in the SHA-256 prefix.
        assert row.filename == f"{row.filename.rsplit('-', 1)[0]}-{row.file_hash}.pth"
        assert row.url.startswith("https://download.pytorch.org/models/")
        assert (row.resize, row.preprocessing) == (
            (232 if row.tag == "torchvision_v2" or row.variant == "resnext101_64x4d" else 256),
            "torch")
    v2 = catalog.find("resnet50", "torchvision_v2")
    assert (v2.filename, v2.top1, v2.resize, v2.crop) == ("resnet50-11ad3fa6.pth", 80.858, 232, 224)


def test_keras_applications_rows_match_installed_keras():
    from keras.src.applications import resnet as reference

    for row in catalog.ROWS:
        if row.source != "keras_applications":
            continue
        assert keras_resnet.get_variant(row.variant).config["version"] == "v1"
        assert row.url == reference.BASE_WEIGHTS_PATH + row.filename
        assert (row.file_hash, row.notop_hash) == reference.WEIGHTS_HASHES[row.name]
        assert row.preprocessing == "caffe"


def test_timm_rows_are_exact_architectures_on_the_hub():
    rows = [row for row in catalog.ROWS if row.source == "timm"]
    assert {row.variant for row in rows} <= set(TORCHVISION_VARIANTS)
    for row in rows:
        assert row.url == f"hf://timm/{row.name}" and row.name.startswith(row.variant + ".")
        assert row.file_format == "safetensors"
        assert row.license == ("CC-BY-NC-4.0" if ".fb_" in row.name else "Apache-2.0")
    a1 = catalog.find("resnet50", "timm_a1")
    assert (a1.top1, a1.resize, a1.interpolation) == (80.382, 235, "bicubic")
    assert catalog.find("resnet34", "timm_ra4_e3600_r224").preprocessing == "tf"


def test_imagenet_keeps_its_meaning():
    assert catalog.find("resnet50", "imagenet").tag == "torchvision_v1"
    assert catalog.find("resnet50_v1", "imagenet").tag == "keras_applications"
    assert imagenet.TORCHVISION_FILES["resnet50"] == "resnet50-0676ba61.pth"


def test_list_weights():
    assert [r.tag for r in keras_resnet.list_weights("resnet50")][:2] == [
        "torchvision_v1", "torchvision_v2"]
    assert keras_resnet.list_weights("resnet20") == ()
    assert len(keras_resnet.list_weights()) == len(catalog.ROWS)


def test_unknown_tag_lists_known_ones():
    with pytest.raises(ValueError, match=r"Unknown weights='torchvision_v3' for "
                       r"variant='resnet18'.*'imagenet', 'torchvision_v1', 'timm_a1'"):
        keras_resnet.ResNet18(weights="torchvision_v3")
    with pytest.raises(ValueError, match=r"resnet20.*none \(it has no pretrained weights\)"):
        keras_resnet.create_model("resnet20", weights="timm_a1")


@pytest.mark.parametrize("weights,variant,mode", [
    (None, "resnet50", "torch"), (None, "resnet50_v1", "caffe"),
    ("imagenet", "resnet50", "torch"), ("imagenet", "resnet101_v1", "caffe"),
    ("torchvision_v2", "resnet50", "torch"), ("timm_a1", "resnet50", "torch"),
    ("keras_applications", "resnet152_v1", "caffe"),
    ("timm_ra4_e3600_r224", "resnet34", "tf"),
    ("/any/where/finetuned.pth", "resnet18", "torch"),
    ("/any/where/model.safetensors", "resnet18", "torch"),
    ("hf://someone/some-resnet", "resnet18", "torch"),
    ("hf://timm/resnet34.ra4_e3600_r224_in1k", "resnet34", "tf"),
    ("/any/where/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", "resnet50_v1", "caffe"),
    ("/missing/model.weights.h5", "resnet50_v1", "caffe"),  # a Keras file: the variant's
    ("/missing/model.keras", "resnet20", "torch"),
])
def test_preprocessing_for(weights, variant, mode):
    assert weights_lib.preprocessing_for(weights, variant) == mode


def test_weights_row_for_tags_and_files():
    assert weights_lib.weights_row("torchvision_v2", "resnet50").resize == 232
    known = weights_lib.weights_row("/downloads/resnet101-cd907fc2.pth")
    assert (known.variant, known.tag) == ("resnet101", "torchvision_v2")
    other = weights_lib.weights_row("/downloads/mine.pth", "resnet18")
    assert (other.source, other.tag, other.resize, other.crop, other.preprocessing) == (
        "file", None, 256, 224, "torch")
    with pytest.raises(ValueError, match="Known tags"):
        weights_lib.weights_row("nope", "resnet50")


_state_dict = weights_lib.torchvision.torchvision_state_dict


@pytest.fixture(scope="module")
def resnet18_state():
    keras.utils.set_random_seed(1)
    model = keras_resnet.create_model("resnet18", input_shape=(32, 32, 3))
    for layer in model.layers:  # non-trivial BN statistics
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([gamma, beta, mean + 0.1, var + 0.5])
    return _state_dict(model)


@pytest.mark.parametrize("checkpoint_classes", [1000, 5])
def test_create_model_with_other_classes_loads_the_backbone_only(resnet18_state,
                                                                 checkpoint_classes):
    state = dict(resnet18_state)
    if checkpoint_classes != 1000:
        rng = np.random.default_rng(0)
        state["fc.weight"] = rng.normal(size=(checkpoint_classes, 512)).astype("float32")
        state["fc.bias"] = rng.normal(size=(checkpoint_classes,)).astype("float32")
    model = keras_resnet.create_model("resnet18", weights=state, classes=5,
                                      input_shape=(32, 32, 3))
    loaded = _state_dict(model)
    for key, value in state.items():
        if key.startswith("fc."):
            assert not np.array_equal(loaded[key], value), key  # a fresh head
        else:
            np.testing.assert_array_equal(loaded[key], value, err_msg=key)
    assert model.get_layer("predictions").units == 5


def test_constructor_loads_a_fitting_head(resnet18_state):
    model = keras_resnet.ResNet18(weights=resnet18_state, input_shape=(32, 32, 3))
    np.testing.assert_array_equal(_state_dict(model)["fc.weight"], resnet18_state["fc.weight"])
    headless = keras_resnet.ResNet18(weights=resnet18_state, include_top=False,
                                     input_shape=(32, 32, 3))
    assert not any(layer.name == "predictions" for layer in headless.layers)


def test_checkpoint_of_another_architecture_lists_mismatches(resnet18_state):
    model = keras_resnet.ResNeXt50_32x4d(weights=None, input_shape=(32, 32, 3))
    before = [w.copy() for w in model.get_weights()[:5]]
    with pytest.raises(ValueError, match=r"does not fit the model at \d+ layers.*\n- "
                       r"Shape mismatch at layer 'conv2_block1_1_conv' \(kernel\): the model "
                       r"expects \(1, 1, 64, 128\), the state dict has \(3, 3, 64, 64\)"):
        weights_lib.load_weights(model, resnet18_state)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()[:5]))
    wide = dict(resnet18_state)
    for key in ("layer1.0.conv1.weight", "layer1.1.conv1.weight", "layer2.0.conv1.weight"):
        wide[key] = np.zeros((1, 1, 1, 1), np.float32)
    with pytest.raises(ValueError) as info:
        keras_resnet.ResNet18(weights=wide, input_shape=(32, 32, 3))
    message = str(info.value)
    assert "at 3 layers" in message
    for layer in ("conv2_block1_1_conv", "conv2_block2_1_conv", "conv3_block1_1_conv"):
        assert layer in message


@pytest.fixture
def keras_home(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / "keras" / "models").mkdir(parents=True)
    return tmp_path / "keras" / "models"


def _with_row(monkeypatch, row):
    rows = tuple(row if (r.variant, r.tag) == (row.variant, row.tag) else r
                 for r in catalog.ROWS)
    monkeypatch.setattr(catalog, "ROWS", rows)


def test_tag_loads_from_the_keras_cache_with_its_hash(keras_home, monkeypatch,
                                                      resnet18_state, tmp_path):
    from safetensors.numpy import save_file

    # A .pth cannot be written without torch; the row's file may be any supported format.
    source = tmp_path / "made.safetensors"
    save_file(resnet18_state, str(source))
    data = source.read_bytes()
    prefix = hashlib.sha256(data).hexdigest()[:8]
    name = f"resnet18-{prefix}.safetensors"
    (keras_home / name).write_bytes(data)
    row = dataclasses.replace(catalog.find("resnet18", "torchvision_v1"),
                              url="http://127.0.0.1:9/" + name, file_hash=prefix)
    _with_row(monkeypatch, row)
    model = keras_resnet.ResNet18(weights="torchvision_v1", input_shape=(32, 32, 3))
    np.testing.assert_array_equal(_state_dict(model)["layer4.1.bn2.running_var"],
                                  resnet18_state["layer4.1.bn2.running_var"])
    (keras_home / name).write_bytes(data[:-1] + b"\0")  # same name, other content
    with pytest.raises(ValueError, match=f"corrupt or not the official {name}"):
        keras_resnet.ResNet18(weights="torchvision_v1", input_shape=(32, 32, 3))


def test_keras_applications_row_checks_md5(keras_home, monkeypatch):
    payload = b"stand-in for the keras.applications file"
    (keras_home / "resnet50_weights_tf_dim_ordering_tf_kernels.h5").write_bytes(payload)
    row = dataclasses.replace(
        catalog.find("resnet50_v1", "keras_applications"),
        url="http://127.0.0.1:9/resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        file_hash=hashlib.md5(payload).hexdigest())
    assert imagenet.fetch_row(row).endswith("resnet50_weights_tf_dim_ordering_tf_kernels.h5")
    wrong = dataclasses.replace(row, file_hash="0" * 32)
    with pytest.raises(OSError, match="Could not download"):  # get_file refetches; offline
        imagenet.fetch_row(wrong)


def test_readme_weights_table_is_current():
    import pathlib

    readme = pathlib.Path(__file__).resolve().parents[2] / "README.md"
    text = readme.read_text()
    block = text.split("<!-- weights-table:begin -->\n", 1)[1].split(
        "\n<!-- weights-table:end -->", 1)[0]
    assert block == catalog.markdown_table(), \
        "README weights table out of date: run scripts/model_table.py --write"


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_keras_files_load_all_or_nothing_and_backbone_only(tmp_path, suffix):
    keras.utils.set_random_seed(3)
    source = keras_resnet.create_model("resnet18", input_shape=(32, 32, 3), classes=7)
    path = str(tmp_path / f"model{suffix}")
    source.save_weights(path) if suffix == ".weights.h5" else source.save(path)
    # Same classes: everything, head included.
    same = keras_resnet.ResNet18(weights=path, input_shape=(32, 32, 3), classes=7)
    assert all(np.array_equal(a, b) for a, b in zip(same.get_weights(), source.get_weights()))
    # Other classes: the backbone, and a fresh head.
    other = keras_resnet.create_model("resnet18", weights=path, input_shape=(32, 32, 3),
                                      classes=3)
    np.testing.assert_array_equal(other.get_layer("conv5_block2_2_bn").moving_variance,
                                  source.get_layer("conv5_block2_2_bn").moving_variance)
    assert other.get_layer("predictions").units == 3
    # Another architecture: refused, the model untouched.
    model = keras_resnet.create_model("resnet34", input_shape=(32, 32, 3), classes=7)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="does not fit"):
        weights_lib.load_weights(model, path)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_hf_addresses():
    from keras_resnet.weights import hub

    assert hub.parse("hf://timm/resnet50.a1_in1k") == ("timm/resnet50.a1_in1k", None, None)
    assert hub.parse("hf://me/net@v2/sub/w.safetensors") == ("me/net", "v2", "sub/w.safetensors")
    with pytest.raises(ValueError, match=r"weights='hf://timm' is not a Hugging Face address"):
        hub.parse("hf://timm")


def test_uncached_hf_file_offline_says_what_was_tried(tmp_path, monkeypatch):
    import huggingface_hub

    from keras_resnet.weights import hub

    def offline(repo_id, filename, **kwargs):
        raise huggingface_hub.errors.LocalEntryNotFoundError(f"{filename} is not cached")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(OSError, match=r"repo 'me/net'.*model\.safetensors.*pytorch_model\.bin"):
        hub.download("hf://me/net")
