"""decode_predictions and the ImageNet class index shipped with the package."""

import glob
import json
import os

import numpy as np
import pytest

import keras_resnet
from keras_resnet.models import decode


def test_class_index_is_complete_and_sorted():
    with open(decode.CLASS_INDEX_PATH, encoding="utf8") as f:
        index = json.load(f)
    assert sorted(index, key=int) == [str(i) for i in range(1000)]
    wnids = [index[str(i)][0] for i in range(1000)]
    assert wnids == sorted(wnids) and len(set(wnids)) == 1000
    assert index["0"] == ["n01440764", "tench"]
    assert index["999"] == ["n15075141", "toilet_tissue"]


def test_class_index_matches_tfds_imagenet_wnids():
    tfds = pytest.importorskip("tensorflow_datasets")
    path = os.path.join(os.path.dirname(tfds.__file__), "image_classification",
                        "imagenet_resized_labels.txt")
    if not glob.glob(path):
        pytest.skip("tensorflow_datasets ships no imagenet_resized_labels.txt")
    with open(path) as f:
        tfds_wnids = set(f.read().split())
    assert {wnid for wnid, _ in decode.imagenet_class_index()} == tfds_wnids


def test_decode_predictions_format_and_order():
    preds = np.zeros((2, 1000), "float32")
    preds[0, [281, 282, 5]] = [0.7, 0.2, 0.1]
    preds[1, 999] = 1.0
    out = keras_resnet.decode_predictions(preds, top=3)
    assert len(out) == 2 and all(len(row) == 3 for row in out)
    assert [(w, n) for w, n, _ in out[0]] == [("n02123045", "tabby"),
                                              ("n02123159", "tiger_cat"),
                                              ("n01496331", "electric_ray")]
    assert [float(s) for _, _, s in out[0]] == pytest.approx([0.7, 0.2, 0.1])
    assert out[1][0][:2] == ("n15075141", "toilet_tissue")


def test_decode_predictions_accepts_tensors():
    import tensorflow as tf

    out = keras_resnet.decode_predictions(tf.one_hot([1], 1000), top=1)
    assert out == [[("n01443537", "goldfish", pytest.approx(1.0))]]


@pytest.mark.parametrize("shape", [(1000,), (2, 10), (1, 1000, 1)])
def test_decode_predictions_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match=r"shape \(samples, 1000\)"):
        keras_resnet.decode_predictions(np.zeros(shape))


@pytest.mark.parametrize("top", [0, 1001, 2.5, True])
def test_decode_predictions_rejects_bad_top(top):
    with pytest.raises(ValueError, match="`top`"):
        keras_resnet.decode_predictions(np.zeros((1, 1000)), top=top)
