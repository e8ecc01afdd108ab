"""PyTorch, safetensors and hf:// weights load without torch, exactly as torch reads them.

The files are made here with torch (the reference net is test_torchvision's copy of
torchvision's ResNet); the loads that are checked run in a subprocess in which
`import torch` fails, offline (HF_HUB_OFFLINE=1), from a Hugging Face cache laid out
the way huggingface_hub writes it.
"""

import collections
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from keras_resnet.weights import torch_file

torch = pytest.importorskip("torch")
from test_torchvision import BasicBlock, TorchResNet, randomized, torch_out  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REL_TOL = 1e-5


def _numpy(tensor):
    tensor = tensor.detach()
    return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()


def _tricky_state_dict():
    base = torch.randn(6, 8)
    return collections.OrderedDict(
        weight=torch.randn(3, 4), half=torch.randn(5).half(), bf16=torch.randn(4, 3).bfloat16(),
        num_batches_tracked=torch.tensor(7), transposed=base.t(), window=base[2:4, 1:6],
        strided=base[::2], int32=torch.arange(5, dtype=torch.int32), empty=torch.zeros(0, 3),
        flags=torch.tensor([True, False]), double=torch.randn(2, dtype=torch.float64),
        parameter=torch.nn.Parameter(torch.randn(2, 2)), scalar=torch.tensor(1.5))


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_reader_equals_torch_load_bitwise(tmp_path, zip_format):
    state = _tricky_state_dict()
    path = tmp_path / "x.pth"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    reference = torch.load(path, weights_only=True)
    ours = torch_file.read_torch_file(path)
    assert list(ours) == list(reference)
    for key, tensor in reference.items():
        want = _numpy(tensor)
        assert ours[key].dtype == want.dtype, key
        assert ours[key].shape == want.shape, key
        assert ours[key].tobytes() == want.tobytes(), key


def test_shared_storage_views_stay_independent(tmp_path):
    base = torch.arange(12, dtype=torch.float32)
    torch.save({"a": base[:6].view(2, 3), "b": base[6:], "c": base}, tmp_path / "s.pth")
    ours = torch_file.read_torch_file(tmp_path / "s.pth")
    ours["a"][0, 0] = -1  # a copy each: writing one does not change the others
    assert ours["c"][0] == 0 and ours["b"].tolist() == list(range(6, 12))


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_code_in_the_pickle_is_refused_and_not_run(tmp_path, zip_format):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(2), "x": _Evil(marker)}, path,
               _use_new_zipfile_serialization=zip_format)
    with pytest.raises(ValueError, match=r"global (posix|os)\.system.*Nothing was run"):
        torch_file.read_torch_file(path)
    assert not marker.exists()


def test_handmade_zip_without_torch_is_refused(tmp_path):
    import pickle

    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(_Evil(marker), protocol=2))
    with pytest.raises(ValueError, match="not a plain PyTorch state dict"):
        torch_file.read_torch_file(path)
    assert not marker.exists()
    # The payload is live: an unguarded unpickler runs it.
    pickle.loads(pickle.dumps(_Evil(marker), protocol=2))
    assert marker.exists()


@pytest.mark.parametrize("garbage", [b"", b"\x80\x02K\x01.", b"PK\x03\x04broken"])
def test_not_a_torch_file(tmp_path, garbage):
    path = tmp_path / "bad.pth"
    path.write_bytes(garbage)
    with pytest.raises(ValueError, match="bad.pth"):
        torch_file.read_torch_file(path)


def _hf_cache(cache, repo_id, filename, payload, commit="0123456789abcdef0123456789abcdef01234567"):
    """A cache entry exactly as huggingface_hub writes it: the blob named by its
    SHA-256, refs/main holding the commit, the snapshot file a relative symlink."""
    folder = cache / ("models--" + repo_id.replace("/", "--"))
    digest = hashlib.sha256(payload).hexdigest()
    (folder / "blobs").mkdir(parents=True)
    (folder / "blobs" / digest).write_bytes(payload)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    os.symlink(os.path.join("..", "..", "blobs", digest), snapshot / filename)


CHILD = textwrap.dedent("""
    import json, sys
    try:
        import torch  # the blocking stand-in first on sys.path
        raise SystemExit("torch is importable in the torch-free test")
    except ImportError:
        pass
    import numpy as np
    import keras_resnet

    d = sys.argv[1]
    x, want = np.load(d + "/x.npy"), np.load(d + "/want.npy")
    kw = dict(input_shape=(64, 64, 3), classes=10, classifier_activation=None)
    results = {}
    for name, weights in [("pth", d + "/resnet18.pth"), ("legacy", d + "/legacy.pth"),
                          ("safetensors", d + "/resnet18.safetensors"),
                          ("hf", "hf://timm/resnet18.a1_in1k"),
                          ("hf_bin", "hf://someone/bin-only@main"),
                          ("tag", "timm_a1")]:
        got = keras_resnet.ResNet18(weights=weights, **kw).predict(x, verbose=0)
        results[name] = float(np.abs(got - want).max() / np.abs(want).max())
    backbone = keras_resnet.create_model("resnet18", weights=d + "/resnet18.pth", classes=5,
                                         input_shape=(64, 64, 3))
    results["backbone_conv1_equal"] = bool(np.array_equal(
        backbone.get_layer("conv1_conv").kernel.numpy(), np.load(d + "/conv1.npy")))
    results["torch_imported"] = "torch" in sys.modules
    print("RESULTS" + json.dumps(results))
""")


@pytest.mark.slow
def test_torch_free_loads_match_pytorch(tmp_path):
    from safetensors.numpy import save_file

    reference = randomized(TorchResNet(BasicBlock, [2, 2, 2, 2], num_classes=10))
    state = reference.state_dict()
    torch.save(state, tmp_path / "resnet18.pth")
    torch.save(state, tmp_path / "legacy.pth", _use_new_zipfile_serialization=False)
    arrays = {k: v.numpy() for k, v in state.items()}
    save_file(arrays, str(tmp_path / "resnet18.safetensors"))
    x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "want.npy", torch_out(reference, x))
    np.save(tmp_path / "conv1.npy", arrays["conv1.weight"].transpose(2, 3, 1, 0))
    cache = tmp_path / "hub"
    _hf_cache(cache, "timm/resnet18.a1_in1k", "model.safetensors",
              (tmp_path / "resnet18.safetensors").read_bytes())
    _hf_cache(cache, "someone/bin-only", "pytorch_model.bin",
              (tmp_path / "resnet18.pth").read_bytes())
    blocker = tmp_path / "no_torch" / "torch"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('torch is blocked in this test')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker.parent), REPO_ROOT]),
           "HF_HUB_OFFLINE": "1",
           "HF_HUB_CACHE": str(cache), "HF_HOME": str(tmp_path / "hf_home"),
           "HF_ENDPOINT": "http://127.0.0.1:9", "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout.split("RESULTS", 1)[1])
    print(results)
    for name in ("pth", "legacy", "safetensors", "hf", "hf_bin", "tag"):
        assert results[name] <= REL_TOL, (name, results[name])
    assert results["backbone_conv1_equal"]
    assert results["torch_imported"] is False
    # Offline means offline: nothing was added to the cache.
    blobs = sorted(p.name for p in cache.rglob("blobs/*"))
    assert len(blobs) == 2


def test_tensor_reaching_outside_its_storage_is_refused(tmp_path):
    state = {"w": torch.arange(4, dtype=torch.float32)}
    path = tmp_path / "x.pth"
    torch.save(state, path)
    with zipfile.ZipFile(path) as archive:
        records = {n: archive.read(n) for n in archive.namelist()}
    name = next(n for n in records if n.endswith("data.pkl"))
    # Shrink the storage record: the tensor's 4 elements no longer fit in it.
    data = next(n for n in records if "/data/" in n)
    records[data] = records[data][:8]
    with zipfile.ZipFile(tmp_path / "bad.pth", "w") as archive:
        for n, payload in records.items():
            archive.writestr(n, payload)
    assert name
    with pytest.raises(ValueError, match="reaches past its storage"):
        torch_file.read_torch_file(tmp_path / "bad.pth")
