"""Export of a briefly trained ResNet-20 (16x16, digits) to every format and mode,
each artifact reloaded in its own runtime; failure modes leave nothing half-written.

One export is shared by the module (fixture `exported`); tests that need to change
an export work on a copy.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest
from factories import error_line, run_script

import keras_resnet
from keras_resnet import export
from keras_resnet.export import manifest as manifest_lib
from keras_resnet.export import onnx_export, openvino_export, parity, publish, savedmodel, tflite
from keras_resnet.models.preprocessing import preprocess_input

# The digits at 16x16 (ResNet-20's three stages end at 4x4): 96.0% held-out after the
# five epochs of `trained` in 30 s, against 95.6% in 54 s at 32x32 (2-core AVX2 EPYC).
SIZE = 16
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALL_KEYS = {"savedmodel", "savedmodel_uint8", "tflite_float32", "tflite_float16",
            "tflite_dynamic_int8", "tflite_int8", "onnx", "onnx_int8", "openvino", "openvino_int8",
            "openvino_host_default"}
# The raw-pixel artifacts of `uint8_input` (uint8 RGB NHWC in, preprocessing inside).
RAW_PIXEL_KEYS = {"tflite_float32_uint8", "tflite_int8_uint8", "onnx_uint8", "onnx_int8_uint8",
                  "openvino_uint8", "openvino_uint8_host_default", "openvino_int8_uint8"}


def _digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    # 8x8 grey levels 0..16 -> SIZE x SIZE RGB pixels 0..255: a real, learnable task.
    scale = SIZE // 8
    images = np.kron(digits.images, np.ones((scale, scale))) * (255.0 / 16.0)
    images = np.repeat(images[..., None], 3, axis=-1).astype(np.uint8)
    return images, digits.target


@pytest.fixture(scope="module")
def trained():
    """ResNet-20 fitted for five epochs on digits (96% held-out accuracy at 16x16; 90%
    after three): confident enough that int8 top-1 agreement measures quantization, not
    noise."""
    keras.utils.set_random_seed(0)
    images, labels = _digits()
    x = preprocess_input(images, mode="torch")
    model = keras_resnet.create_model("resnet20", input_shape=(SIZE, SIZE, 3), classes=10)
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:1500], labels[:1500], batch_size=64, epochs=5, verbose=0)
    return model, x[:1500], x[1500:], images[1500:]


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    model, x_train, x_val, _ = trained
    out = tmp_path_factory.mktemp("exports") / "resnet20"
    manifest = export.export_model(
        model, output_dir=str(out), formats="all", representative_data=x_train[:64],
        parity_data=x_val[:32], class_names=[str(i) for i in range(10)],
        preprocessing="torch", uint8_input=True, int8_io="int8", opset=17)
    return manifest, str(out)


def _siblings(path):
    parent, name = os.path.split(path)
    return [e for e in os.listdir(parent) if e.startswith(f".{name}.")]


def _snapshot(path):
    return manifest_lib.file_table(path, exclude=())


def test_every_format_and_mode_reloads_and_matches_keras(trained, exported):
    model, _, x_val, _ = trained
    manifest, out = exported
    results = manifest["parity"]["results"]
    assert set(results) == ALL_KEYS | RAW_PIXEL_KEYS
    assert all(r["passed"] for r in results.values())
    # Independently of the manifest: rerun each artifact on a fresh batch of 24.
    x = x_val[100:124]
    expected = model.predict(x, verbose=0)
    outputs = {
        "savedmodel": savedmodel.run(os.path.join(out, "savedmodel"), x),
        "onnx": onnx_export.run(os.path.join(out, "model.onnx"), x),
        "openvino": openvino_export.load(os.path.join(out, "model.xml"))(x),
        **{mode: tflite.run(os.path.join(out, f"model_{mode}.tflite"), x)
           for mode in tflite.MODES},
    }
    for key in ("savedmodel", "onnx", "float32", "openvino"):
        np.testing.assert_allclose(outputs[key], expected, atol=1e-4, err_msg=key)
    np.testing.assert_allclose(outputs["float16"], expected, atol=1e-2)
    for key in ("dynamic_int8", "int8"):
        agree = np.mean(np.argmax(outputs[key], -1) == np.argmax(expected, -1))
        assert agree >= 0.9, (key, agree)
    # int8 is actually quantized: its output differs more than float16's.
    assert np.abs(outputs["int8"] - expected).max() > np.abs(outputs["float16"] - expected).max()


def test_load_keeps_one_runtime_for_repeated_batches(trained, exported):
    model, _, x_val, _ = trained
    _, out = exported
    x = x_val[:8]
    expected = model.predict(x, verbose=0)
    # TensorFlow's thread count is per process and already fixed here: None only.
    for module, name, threads in ((savedmodel, "savedmodel", None),
                                  (onnx_export, "model.onnx", 1),
                                  (tflite, "model_float32.tflite", 1),
                                  (openvino_export, "model.xml", 1)):
        predict = module.load(os.path.join(out, name), threads=threads)
        # Two batch sizes, then the first again: the kept runtime re-shapes correctly.
        for batch in (x, x[:3], x):
            np.testing.assert_allclose(predict(batch), expected[:len(batch)], atol=1e-4,
                                       err_msg=name)
    for module, name in ((onnx_export, "model.onnx"), (tflite, "model_float32.tflite"),
                         (openvino_export, "model.xml")):
        with pytest.raises(ValueError, match="threads=0"):
            module.load(os.path.join(out, name), threads=0)(x)
    with pytest.raises(RuntimeError, match="threads=3 cannot apply.*fresh process"):
        savedmodel.load(os.path.join(out, "savedmodel"), threads=3)


def test_parity_figures_meet_documented_tolerances(exported):
    results = exported[0]["parity"]["results"]
    for key in ("savedmodel", "savedmodel_uint8", "tflite_float32", "onnx", "openvino"):
        assert results[key]["max_rel"] <= 1e-4 and results[key]["top1_agreement"] == 1.0
    assert results["tflite_float16"]["max_rel"] <= 1e-2
    assert results["tflite_int8"]["tolerance"] == {"min_top1_agreement": 0.9}
    assert results["tflite_int8"]["top1_agreement"] >= 0.9
    assert results["tflite_int8"]["samples"] == 32


def test_static_int8_onnx_is_qdq_and_holds_99_percent_top1(trained, exported, tmp_path):
    import onnx

    model, x_train, x_val, _ = trained
    manifest, out = exported
    path = os.path.join(out, "model_int8.onnx")
    ops = {node.op_type for node in onnx.load(path).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    entry = manifest["artifacts"]["onnx_int8"]
    assert entry["calibration_samples"] == 64 and entry["quantization"] == "static QDQ"
    result = manifest["parity"]["results"]["onnx_int8"]
    assert result["tolerance"] == {"min_top1_agreement": 0.99} and result["passed"]
    # Independently, on 200 held-out images the manifest never saw.
    x = x_val[32:232]
    agree = np.mean(np.argmax(onnx_export.run(path, x), -1)
                    == np.argmax(model.predict(x, verbose=0), -1))
    assert agree >= 0.99, agree
    assert os.path.getsize(path) < 0.5 * os.path.getsize(os.path.join(out, "model.onnx"))
    # Below the gate nothing is published.
    dest = str(tmp_path / "gate")
    with pytest.raises(parity.ParityError, match=r"onnx_int8 \(int8_static\) fails parity"):
        export.export_model(model, output_dir=dest, formats="onnx_int8",
                            representative_data=x_train[:64], parity_data=x_val[:32],
                            tolerances={"int8_static": {"min_top1_agreement": 1.01}})
    assert not os.path.exists(dest) and _siblings(dest) == []


def test_raw_pixel_int8_onnx_holds_99_percent_top1_with_float_preprocessing(trained, exported,
                                                                           tmp_path):
    import onnx

    model, x_train, x_val, raw_val = trained
    manifest, out = exported
    path = os.path.join(out, "model_int8_uint8.onnx")
    entry = manifest["artifacts"]["onnx_int8_uint8"]
    assert entry["converted_from"] == "model_uint8.onnx" and entry["calibration_samples"] == 64
    assert entry["quantization"] == "static QDQ" and entry["precision"] == "int8"
    assert entry["weights"] == manifest["artifacts"]["onnx_int8"]["weights"]
    assert entry["inputs"][0]["dtype"] == "uint8" and entry["layout"] == "NHWC"
    assert entry["checks"] == {"onnx_int8_uint8": "int8_static"}
    result = manifest["parity"]["results"]["onnx_int8_uint8"]
    assert result["tolerance"] == {"min_top1_agreement": 0.99} and result["passed"]
    # The preprocessing stays float; the first convolution's input is quantized as in
    # model_int8.onnx (same scale and zero point: calibrated on the same images).
    graph = onnx.load(path).graph
    preprocess = [n for n in graph.node if n.name.startswith(onnx_export.PREPROCESS_SCOPE)]
    assert [n.op_type for n in preprocess] == ["Cast", "Sub", "Mul"]
    produced_by = {o: n for n in graph.node for o in n.output}
    assert all(produced_by.get(i) is None or produced_by[i].op_type != "DequantizeLinear"
               for n in preprocess for i in n.input)

    def first_quantize(file):
        model_graph = onnx.load(os.path.join(out, file)).graph
        initializers = {i.name: onnx.numpy_helper.to_array(i) for i in model_graph.initializer}
        node = next(n for n in model_graph.node if n.op_type == "QuantizeLinear")
        return [initializers[name].item() for name in node.input[1:]]

    np.testing.assert_allclose(first_quantize("model_int8_uint8.onnx"),
                               first_quantize("model_int8.onnx"), rtol=1e-6)
    # Independently, on 200 held-out frames the manifest never saw.
    raw = raw_val[32:232]
    agree = np.mean(np.argmax(onnx_export.run(path, raw), -1) == np.argmax(
        model.predict(preprocess_input(raw, mode="torch"), verbose=0), -1))
    assert agree >= 0.99, agree
    # Asked for alone, the raw-pixel float file it is quantized from is not published.
    alone = export.export_model(model, output_dir=str(tmp_path / "int8"), formats="onnx_int8",
                                representative_data=x_train[:64], parity_data=x_val[:8],
                                preprocessing="torch", uint8_input=True)
    assert sorted(os.listdir(alone["export_dir"])) == [
        "manifest.json", "model_int8.onnx", "model_int8_uint8.onnx", "parity_batch.npz"]
    assert alone["parity"]["results"]["onnx_int8_uint8"]["passed"]


def test_openvino_ir_is_checked_at_f32_and_at_the_host_default(trained, exported):
    manifest, out = exported
    entry = manifest["artifacts"]["openvino"]
    assert entry["files"] == ["model.xml", "model.bin"] and entry["weights"] == "float32"
    assert entry["size"] == sum(manifest["files"][f]["size"] for f in entry["files"])
    assert entry["inputs"][0]["shape"] == [-1, SIZE, SIZE, 3]  # dynamic batch
    exact = manifest["parity"]["results"]["openvino"]
    assert exact["inference_precision_hint"] == "f32"
    assert exact["runtime_precision"] == exact["precision"] == "float32"
    host = manifest["parity"]["results"]["openvino_host_default"]
    assert host["inference_precision_hint"] is None
    assert host["precision"] == entry["host_default_precision"] == openvino_export.host_precision()
    assert host["passed"] and host["top1_agreement"] == 1.0
    # Weights stored as float32: model.bin is as large as the float32 ONNX file's
    # weights (OpenVINO's default compress_to_fp16 would give about half).
    assert manifest["files"]["model.bin"]["size"] >= 0.95 * manifest["files"]["model.onnx"]["size"]
    # The int8 IR (from the QDQ model) runs int8 kernels and holds the 0.99 gate.
    int8 = manifest["parity"]["results"]["openvino_int8"]
    assert int8["int8_kernels"] and int8["passed"]
    assert int8["tolerance"] == {"min_top1_agreement": 0.99}
    x = trained[2][32:232]
    agree = np.mean(np.argmax(openvino_export.load(os.path.join(out, "model_int8.xml"),
                                                   inference_precision=None)(x), -1)
                    == np.argmax(trained[0].predict(x, verbose=0), -1))
    assert agree >= 0.99, agree
    with pytest.raises(ValueError, match="inference_precision='f64'"):
        openvino_export.load(os.path.join(out, "model.xml"), inference_precision="f64")


def test_openvino_alone_leaves_no_onnx_and_verify_rechecks_it(trained, tmp_path):
    out = str(tmp_path / "ov")
    manifest = export.export_model(trained[0], output_dir=out, formats="openvino",
                                   parity_data=trained[2][:8])
    # The ONNX file was only the converter's source.
    assert sorted(os.listdir(out)) == ["manifest.json", "model.bin", "model.xml",
                                       "parity_batch.npz"]
    assert set(manifest["parity"]["results"]) == {"openvino", "openvino_host_default"}
    assert set(export.verify(out)["parity"]) == {"openvino", "openvino_host_default"}
    # verify reruns OpenVINO itself: a consistent manifest over a forged reference fails.
    with np.load(os.path.join(out, "parity_batch.npz")) as stored:
        batch = {k: stored[k] for k in stored.files}
    batch["reference"] = batch["reference"][:, ::-1].copy()
    np.savez_compressed(os.path.join(out, "parity_batch.npz"), **batch)
    forged = manifest_lib.read(out)
    forged["files"] = manifest_lib.file_table(out)
    manifest_lib.write(forged, out)
    with pytest.raises(export.VerificationError, match="openvino .*fails parity"):
        export.verify(out)


def test_int8_is_full_integer_with_int8_io(exported):
    manifest, out = exported
    artifact = manifest["artifacts"]["tflite_int8"]
    assert artifact["int8_io"] == "int8" and artifact["calibration_samples"] == 64
    assert artifact["inputs"][0]["dtype"] == "int8" and artifact["outputs"][0]["dtype"] == "int8"
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=os.path.join(out, "model_int8.tflite"))
    kinds = {np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    assert "float32" not in kinds, kinds  # no float op left anywhere in the graph


def test_raw_pixel_artifacts_take_camera_frames_in_their_own_runtimes(trained, exported):
    model, _, _, raw_val = trained
    manifest, out = exported
    raw = raw_val[100:124]  # uint8 RGB frames the manifest never saw
    expected = model.predict(preprocess_input(raw, mode="torch"), verbose=0)
    outputs = {
        "tflite_float32_uint8": tflite.load(os.path.join(out, "model_float32_uint8.tflite")),
        "tflite_int8_uint8": tflite.load(os.path.join(out, "model_int8_uint8.tflite")),
        "onnx_uint8": onnx_export.load(os.path.join(out, "model_uint8.onnx")),
        "onnx_int8_uint8": onnx_export.load(os.path.join(out, "model_int8_uint8.onnx")),
        "openvino_uint8": openvino_export.load(os.path.join(out, "model_uint8.xml")),
        "openvino_int8_uint8": openvino_export.load(os.path.join(out, "model_int8_uint8.xml"),
                                                    inference_precision=None),
    }
    for key, predict in outputs.items():
        entry = manifest["artifacts"][key]
        assert entry["input"] == {"dtype": "uint8", "layout": "NHWC",
                                  "preprocessing": "in the graph (uint8 RGB pixels in)"}, key
        y = predict(raw)
        if entry["precision"] == "float32":
            np.testing.assert_allclose(y, expected, atol=1e-4, err_msg=key)
        else:
            assert np.mean(np.argmax(y, -1) == np.argmax(expected, -1)) >= 0.9, key
        check = manifest["parity"]["results"][key]
        assert check["batch"] == {"inputs": "inputs_uint8", "reference": "reference_uint8",
                                  "layout": "NHWC"}, key
    # The runtimes see a uint8 input, not floats: no preprocessing code in the app.
    assert manifest["artifacts"]["onnx_uint8"]["inputs"][0]["dtype"] == "uint8"
    assert manifest["artifacts"]["openvino_uint8"]["inputs"][0]["dtype"] == "uint8"
    # The int8 TFLite takes the pixels themselves (scale 1, zero point 0) and answers in
    # int8 (int8_io); it is integer from the input on: uint8 -> int8, then the 1x1
    # convolution that normalizes (savedmodel.normalize_as_conv), no float tensor.
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=os.path.join(out, "model_int8_uint8.tflite"))
    (detail,) = interpreter.get_input_details()
    assert np.dtype(detail["dtype"]) == np.uint8 and detail["quantization"] == (1.0, 0)
    assert np.dtype(interpreter.get_output_details()[0]["dtype"]) == np.int8
    ops = [op["op_name"] for op in interpreter._get_ops_details()]
    assert ops[:3] == ["QUANTIZE", "CONV_2D", "CONV_2D"], ops
    assert ops.count("QUANTIZE") == 1 and "DEQUANTIZE" not in ops, ops
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    assert [np.dtype(tensors[i]["dtype"]).name for i in interpreter._get_ops_details()[1][
        "inputs"]] == ["int8", "int8", "int32"]  # the normalization: int8 conv, int32 bias
    floats = [t["name"] for t in tensors.values() if np.dtype(t["dtype"]) == np.float32]
    assert floats == [], floats
    assert manifest["parity"]["results"]["openvino_int8_uint8"]["int8_kernels"]


def test_manifest_records_model_files_and_versions(exported):
    manifest, out = exported
    with open(os.path.join(out, "manifest.json")) as f:
        on_disk = json.load(f)
    assert on_disk["model"]["name"] == "resnet20"
    assert on_disk["model"]["input"] == {"name": "input", "shape": [None, SIZE, SIZE, 3],
                                         "dtype": "float32"}
    assert on_disk["model"]["output"]["shape"] == [None, 10]
    assert on_disk["model"]["config"]["name"] == "resnet20"
    assert on_disk["preprocessing"]["mode"] == "torch"
    assert on_disk["preprocessing"]["mean"] == pytest.approx([123.675, 116.28, 103.53])
    assert on_disk["class_names"] == [str(i) for i in range(10)]
    assert on_disk["parity"]["source"] == "parity_data"
    assert on_disk["versions"]["tensorflow"] and on_disk["versions"]["onnxruntime"]
    assert on_disk["created"].endswith("+00:00")
    assert on_disk["files"] == manifest_lib.file_table(out)
    runtimes = {"savedmodel": "tensorflow", "tflite": "ai_edge_litert", "onnx": "onnxruntime",
                "openvino": "openvino"}
    for key, artifact in on_disk["artifacts"].items():
        # Every artifact: its precision, input dtype and layout, the runtime it was
        # checked in, and its checks (each a parity result).
        assert artifact["precision"] in ("float32", "float16", "int8"), key
        assert artifact["input"]["layout"] == "NHWC", key
        assert artifact["input"]["dtype"] == ("uint8" if key.endswith("_uint8") else
                                              "int8" if key == "tflite_int8" else "float32"), key
        assert artifact["checked_in"] == runtimes[artifact["format"]], key
        assert set(artifact["checks"]) <= set(on_disk["parity"]["results"]), key
    assert on_disk["artifacts"]["tflite_dynamic_int8"]["precision"] == "int8"
    assert on_disk["artifacts"]["openvino"]["checks"] == {
        "openvino": "float32", "openvino_host_default": openvino_export.host_precision()}
    for key, artifact in on_disk["artifacts"].items():
        path = os.path.join(out, artifact["path"])
        assert os.path.exists(path), key
        if os.path.isfile(path):
            # An artifact of several files (OpenVINO's .xml + .bin) counts them all.
            members = artifact.get("files", [artifact["path"]])
            assert artifact["size"] == sum(os.path.getsize(os.path.join(out, m))
                                           for m in members)
            assert artifact["sha256"] == manifest_lib.sha256(path)
    # Every weight stored once (keras.export.ExportArchive stores them twice).
    weights = os.path.join(out, "savedmodel", "variables", "variables.data-00000-of-00001")
    assert os.path.getsize(weights) < 1.1 * 4 * on_disk["model"]["params"]
    assert manifest["manifest_path"] == os.path.join(out, "manifest.json")
    assert _siblings(out) == []


def test_onnx_checker_passes_and_batch_is_dynamic(trained, exported):
    import onnx

    model, _, x_val, _ = trained
    path = os.path.join(exported[1], "model.onnx")
    onnx.checker.check_model(path, full_check=True)
    graph = onnx.load(path).graph
    assert graph.input[0].name == "input" and graph.output[0].name == "predictions"
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert exported[0]["artifacts"]["onnx"]["opset"] == 17
    for n in (1, 5):
        np.testing.assert_allclose(onnx_export.run(path, x_val[:n]),
                                   model.predict(x_val[:n], verbose=0), atol=1e-4)


def test_savedmodel_answers_from_a_fresh_process(trained, exported, tmp_path):
    model, _, x_val, raw_val = trained
    np.save(tmp_path / "x.npy", x_val[:3])
    np.save(tmp_path / "raw.npy", raw_val[:3])
    code = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        loaded = tf.saved_model.load({os.path.join(exported[1], "savedmodel")!r})
        serve = loaded.signatures["serving_default"]
        y = serve(input=tf.constant(np.load({str(tmp_path / "x.npy")!r})))["predictions"]
        u8 = loaded.signatures["serving_uint8"](
            images=tf.constant(np.load({str(tmp_path / "raw.npy")!r})))["predictions"]
        np.save({str(tmp_path / "y.npy")!r}, y.numpy())
        np.save({str(tmp_path / "u8.npy")!r}, u8.numpy())
        print(sorted(loaded.signatures))
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "['serving_default', 'serving_uint8']" in done.stdout
    expected = model.predict(x_val[:3], verbose=0)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-5)
    # The uint8 signature preprocesses raw pixels in the graph like preprocess_input.
    np.testing.assert_allclose(np.load(tmp_path / "u8.npy"), expected, atol=1e-5)


def test_verify_passes_then_catches_tampering(exported, tmp_path):
    copy = str(tmp_path / "copy")
    shutil.copytree(exported[1], copy)
    report = export.verify(copy)
    assert report["files_checked"] == len(exported[0]["files"])
    # The int8 IRs are held to their int8 tolerance whatever float precision the host
    # runs around the int8 kernels (f32 on AVX2, where the float32 limit used to apply).
    assert set(report["parity"]) == ALL_KEYS | RAW_PIXEL_KEYS
    path = os.path.join(copy, "model_float16.tflite")
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(export.VerificationError, match="model_float16.tflite: sha256"):
        export.verify(copy)
    os.remove(path)
    open(os.path.join(copy, "extra.bin"), "wb").close()
    with pytest.raises(export.VerificationError,
                       match="missing file model_float16.tflite.*not in the manifest: extra.bin"):
        export.verify(copy)


def test_verify_accounts_for_links_folders_and_special_files(exported, tmp_path):
    copy = str(tmp_path / "copy")
    shutil.copytree(exported[1], copy)
    manifest = manifest_lib.read(copy)
    assert "savedmodel/assets" in manifest["folders"]  # empty, but listed
    export.verify(copy, check_parity=False)
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"not part of the export")
    os.symlink(outside, os.path.join(copy, "savedmodel", "variables", "extra.bin"))
    os.makedirs(os.path.join(copy, "notes", "empty"))
    os.mkfifo(os.path.join(copy, "pipe"))
    # A listed file replaced by a link to an identical copy is still refused.
    onnx_path = os.path.join(copy, "model.onnx")
    shutil.copy(onnx_path, tmp_path / "same.onnx")
    os.remove(onnx_path)
    os.symlink(tmp_path / "same.onnx", onnx_path)
    with pytest.raises(export.VerificationError) as caught:
        export.verify(copy, check_parity=False)
    message = str(caught.value)
    for expected in ("symbolic link savedmodel/variables/extra.bin ->",
                     "symbolic link model.onnx ->", "folder not in the manifest: notes/",
                     "folder not in the manifest: notes/empty/",
                     "pipe is not a plain file or folder"):
        assert expected in message, (expected, message)


def test_verify_checks_a_pinned_manifest_sha256(exported, tmp_path):
    copy = str(tmp_path / "copy")
    shutil.copytree(exported[1], copy)
    pinned = exported[0]["manifest_sha256"]
    assert pinned == manifest_lib.sha256(os.path.join(copy, "manifest.json"))
    report = export.verify(copy, check_parity=False, manifest_sha256=pinned.upper())
    assert report["manifest_sha256"] == pinned
    # A consistent re-hash by someone with write access passes the plain verify ...
    manifest = manifest_lib.read(copy)
    manifest["class_names"] = ["forged"] * 10
    manifest_lib.write(manifest, copy)
    export.verify(copy, check_parity=False)
    # ... but not the pinned one.
    with pytest.raises(export.VerificationError, match="not the pinned manifest_sha256"):
        export.verify(copy, check_parity=False, manifest_sha256=pinned)
    del manifest["files"]
    manifest_lib.write(manifest, copy)
    with pytest.raises(ValueError, match=r"incomplete: no files\."):
        export.verify(copy)


def test_verify_reruns_parity(exported, tmp_path):
    copy = str(tmp_path / "copy")
    shutil.copytree(exported[1], copy)
    manifest = manifest_lib.read(copy)
    # Forge a consistent manifest whose stored reference no longer matches the model.
    with np.load(os.path.join(copy, "parity_batch.npz")) as stored:
        batch = {k: stored[k] for k in stored.files}
    batch["reference"] = batch["reference"][:, ::-1].copy()
    np.savez_compressed(os.path.join(copy, "parity_batch.npz"), **batch)
    manifest["files"] = manifest_lib.file_table(copy)
    manifest_lib.write(manifest, copy)
    with pytest.raises(export.VerificationError, match="fails parity.*onnx"):
        export.verify(copy)


def test_existing_destination_is_refused(trained, exported):
    before = _snapshot(exported[1])
    with pytest.raises(FileExistsError, match="already exists.*overwrite"):
        export.export_model(trained[0], output_dir=exported[1], formats="onnx")
    assert _snapshot(exported[1]) == before


def test_overwrite_never_replaces_a_folder_that_is_not_an_export(trained, tmp_path):
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "thesis.txt").write_text("irreplaceable")
    with pytest.raises(FileExistsError, match="is not an export folder"):
        export.export_model(trained[0], output_dir=str(precious), formats="onnx",
                            overwrite=True)
    assert (precious / "thesis.txt").read_text() == "irreplaceable"
    assert sorted(os.listdir(tmp_path)) == ["notes"]


@pytest.mark.parametrize("kwargs, match", [
    ({"formats": "pytorch"},
     r"formats=\['pytorch'\].*'onnx', 'onnx_int8', 'openvino', 'openvino_int8', 'all'"),
    ({"formats": "tflite", "tflite_modes": ["int4"]}, r"tflite_modes=\['int4'\]"),
    ({"int8_io": "int16"}, "int8_io='int16'"),
    ({"uint8_input": True}, "uint8_input=True needs preprocessing"),
    ({"formats": "onnx", "opset": 30}, r"opset=30. Allowed values: None \(default 17\) or 9..18"),
    ({"formats": "onnx", "onnx_layout": "nhcw"},
     r"onnx_layout='nhcw'. Allowed values: \['nhwc', 'nchw'\]"),
])
def test_bad_arguments_fail_before_writing(trained, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        export.export_model(trained[0], output_dir=str(tmp_path / "out"), **kwargs)
    assert os.listdir(tmp_path) == []


def test_unreadable_or_missing_model_file(tmp_path):
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="Could not read the model file"):
        export.export_model(str(bad), output_dir=str(tmp_path / "out"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export.export_model(str(tmp_path / "missing.keras"), output_dir=str(tmp_path / "o"))
    with pytest.raises(ValueError, match="Registered models"):
        export.load_model("resnet21")
    assert sorted(os.listdir(tmp_path)) == ["broken.keras"]


def test_exception_mid_export_keeps_previous_export(trained, exported, tmp_path, monkeypatch):
    dest = str(tmp_path / "resnet20")
    shutil.copytree(exported[1], dest)
    before = _snapshot(dest)

    def broken_convert(model, path, **kwargs):
        with open(path, "wb") as f:
            f.write(b"half an onnx file")
        raise RuntimeError("injected failure in the ONNX step")

    monkeypatch.setattr(onnx_export, "write", broken_convert)
    with pytest.raises(RuntimeError, match="injected failure"):
        export.export_model(trained[0], output_dir=dest, formats=["savedmodel", "onnx"],
                            overwrite=True)
    assert _snapshot(dest) == before
    assert _siblings(dest) == []
    export.verify(dest, check_parity=False)


def test_parity_failure_publishes_nothing(trained, tmp_path):
    dest = str(tmp_path / "strict")
    with pytest.raises(export.ParityError, match="tflite_float16 .* max_rel=.* > 0"):
        export.export_model(trained[0], output_dir=dest, formats="tflite",
                            tflite_modes=["float16"], parity_data=trained[2][:8],
                            tolerances={"float16": {"max_rel": 0.0}})
    assert os.listdir(tmp_path) == []


def test_uint8_io_and_default_destination(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, x_train, x_val, _ = trained
    manifest = export.export_model(model, model_name="digits20", formats="tflite",
                                   tflite_modes="int8", int8_io="uint8",
                                   representative_data=x_train[:32], parity_data=x_val[:16])
    assert manifest["export_dir"] == str(tmp_path / "saved_models" / "digits20")
    artifact = manifest["artifacts"]["tflite_int8"]
    assert artifact["inputs"][0]["dtype"] == "uint8"
    assert manifest["parity"]["results"]["tflite_int8"]["passed"]
    # The converter's SavedModel source is not part of a TFLite-only export.
    assert sorted(os.listdir(manifest["export_dir"])) == [
        "manifest.json", "model_int8.tflite", "parity_batch.npz"]


def test_random_parity_batch_is_deterministic_and_flagged(trained, tmp_path):
    import onnx

    manifests = [export.export_model(trained[0], output_dir=str(tmp_path / n),
                                     formats="onnx", opset=opset)
                 for n, opset in (("a", None), ("b", 13))]
    assert manifests[0]["parity"]["source"].startswith("random")
    assert manifests[0]["warnings"]
    assert manifests[1]["parity"]["results"]["onnx"]["passed"]
    proto = onnx.load(os.path.join(manifests[1]["export_dir"], "model.onnx"))
    assert {o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")} == {13}
    a, b = (np.load(os.path.join(m["export_dir"], "parity_batch.npz"))["inputs"]
            for m in manifests)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode", ["torch", "caffe"])
def test_normalize_as_conv_matches_preprocess_uint8(mode):
    # The raw-pixel int8 TFLite's normalization (one 1x1 convolution: channel order,
    # 1 / std, -mean / std) computes what the other raw-pixel graphs compute.
    preprocessing = export.resolve_preprocessing(mode)
    pixels = np.random.default_rng(2).integers(0, 256, (2, 5, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(savedmodel.normalize_as_conv(pixels, preprocessing).numpy(),
                               savedmodel.preprocess_uint8_numpy(pixels, preprocessing),
                               atol=1e-5)


def test_load_images_matches_preprocess_input(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    os.makedirs(tmp_path / "sub")
    for i, image in enumerate(pixels):
        Image.fromarray(image).save(tmp_path / "sub" / f"{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    for mode in ("torch", "caffe"):
        x = export.load_images(str(tmp_path), size=(32, 32),
                               preprocessing=export.resolve_preprocessing(mode))
        np.testing.assert_allclose(x, preprocess_input(pixels, mode=mode), atol=1e-4)


@pytest.mark.slow
def test_script_rejects_unknown_format_and_verifies(capsys, exported):
    status, _, stderr = run_script(capsys, "export", "--model=resnet20", "--format=pb")
    assert status == 2  # bad input; a failed verify below is 1 (keras_resnet.cli)
    assert ("formats=['pb']. Allowed values: ['savedmodel', 'tflite', 'onnx', 'onnx_int8', "
            "'openvino', 'openvino_int8', 'all']") in error_line(stderr)
    status, stdout, stderr = run_script(capsys, "export", "verify",
                                        f"--export_dir={exported[1]}")
    assert status == 0, stderr[-20:]
    assert "files match the manifest; parity holds" in stdout
    assert f"manifest.json sha256 {exported[0]['manifest_sha256']}" in stdout
    status, _, stderr = run_script(capsys, "export", "verify", f"--export_dir={exported[1]}",
                                   "--manifest_sha256=" + "0" * 64)
    assert status == 1 and "not the pinned manifest_sha256" in error_line(stderr)


@pytest.mark.slow
def test_script_exports_all_formats_calibrated_on_an_image_folder(capsys, trained, tmp_path):
    from PIL import Image

    model, _, _, raw_val = trained
    model_path = str(tmp_path / "digits.keras")
    model.save(model_path)
    os.makedirs(tmp_path / "images")
    for i, image in enumerate(raw_val[:20]):
        Image.fromarray(image).save(tmp_path / "images" / f"{i:02d}.png")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    script = os.path.join(ROOT, "scripts", "export.py")
    out = str(tmp_path / "out")
    done = subprocess.run(
        [sys.executable, script, f"--model={model_path}", "--format=all", "--uint8_input",
         "--onnx_layout=nchw", "--int8_io=uint8", "--preprocessing=torch",
         f"--representative_dir={tmp_path / 'images'}", f"--output_dir={out}"],
        capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = manifest_lib.read(out)
    artifacts, results = manifest["artifacts"], manifest["parity"]["results"]
    # SavedModel, TFLite in 4 modes, ONNX and OpenVINO in float32 and int8, and a
    # raw-pixel artifact of TFLite, ONNX and OpenVINO, each checked in its own runtime.
    assert set(artifacts) == {
        "savedmodel", "onnx", "onnx_int8", "openvino", "openvino_int8",
        *(f"tflite_{mode}" for mode in tflite.MODES),
        *(key for key in RAW_PIXEL_KEYS if not key.endswith("_host_default"))}
    assert set(results) == ALL_KEYS | RAW_PIXEL_KEYS
    assert all(result["passed"] for result in results.values())
    assert artifacts["tflite_int8"]["calibration_samples"] == 20
    assert manifest["parity"]["source"] == "representative_data"
    # NCHW for the ONNX files and the IRs converted from them, checked on the
    # transposed batch; the raw-pixel ones take NHWC frames as cameras give them.
    import onnx

    graph_input = onnx.load(os.path.join(out, "model.onnx")).graph.input[0]
    assert [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim] == [
        "batch", 3, SIZE, SIZE]
    for key in ("onnx", "onnx_int8", "openvino", "openvino_int8"):
        assert artifacts[key]["input"]["layout"] == "NCHW", key
        assert results[key]["batch"]["layout"] == "NCHW", key
    assert artifacts["openvino"]["inputs"][0]["shape"] == [-1, 3, SIZE, SIZE]
    for key in ("onnx_uint8", "onnx_int8_uint8", "openvino_uint8", "openvino_int8_uint8"):
        assert artifacts[key]["input"]["layout"] == "NHWC", key
    # The raw-pixel models give the Keras model's answers on the raw frames.
    raw = raw_val[100:116]
    expected = model.predict(preprocess_input(raw, mode="torch"), verbose=0)
    np.testing.assert_allclose(onnx_export.load(os.path.join(out, "model_uint8.onnx"))(raw),
                               expected, atol=1e-4)
    # verify re-runs every check, the NCHW ones on the transposed batch.
    assert set(export.verify(out)["parity"]) == ALL_KEYS | RAW_PIXEL_KEYS
    (tmp_path / "broken.keras").write_bytes(b"PK\x03\x04 truncated")
    status, _, stderr = run_script(capsys, "export", f"--model={tmp_path / 'broken.keras'}")
    assert status == 2 and "Could not read the model file" in error_line(stderr)


@pytest.mark.slow
def test_sigkill_mid_export_leaves_no_partial_artifacts(trained, exported, tmp_path):
    dest = str(tmp_path / "resnet20")
    shutil.copytree(exported[1], dest)
    before = _snapshot(dest)
    model_path = str(tmp_path / "model.keras")
    trained[0].save(model_path)
    marker = str(tmp_path / "inside_onnx_step")
    code = textwrap.dedent(f"""
        import time
        from keras_resnet import export
        from keras_resnet.export import onnx_export

        def stuck(model, path, **kwargs):
            open(path, "wb").write(b"partial")
            open({marker!r}, "w").close()
            time.sleep(600)

        onnx_export.write = stuck
        export.export_model({model_path!r}, output_dir={dest!r}, formats="all",
                            overwrite=True)
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen([sys.executable, "-c", code], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not os.path.exists(marker):
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "export never reached the ONNX step"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert _snapshot(dest) == before
    leftovers = _siblings(dest)
    assert len(leftovers) == 1 and ".tmp-" in leftovers[0]
    # The next run removes the dead process's staging folder and publishes normally.
    export.export_model(trained[0], output_dir=dest, formats="savedmodel", overwrite=True)
    assert _siblings(dest) == []
    assert sorted(manifest_lib.read(dest)["artifacts"]) == ["savedmodel"]


def test_publish_restores_export_set_aside_by_a_killed_process(tmp_path):
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "a.txt").write_text("old")
    # What a kill between the two renames of an overwrite leaves behind.
    dead_pid = 2 ** 22 + 12345
    os.rename(dest, tmp_path / f".model.old-{dead_pid}-abc_1234")
    os.makedirs(tmp_path / f".model.tmp-{dead_pid}-def_5678")
    publish.clean_stale(str(dest))
    assert (dest / "a.txt").read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["model"]
