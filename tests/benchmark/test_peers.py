"""torchvision's ResNet-50 as an optional peer outside Keras: skipped with its reason
where torchvision is missing (it is here), and its code path run on a stub torchvision
whose "ResNet-50" is a tiny PyTorch model. No timing assertions."""

import math
import sys
import types

import pytest

from benchmarks import Settings, derive, full_settings, markdown, plan, quick_settings
from benchmarks.tasks import peers


def test_without_torchvision_the_peer_is_skipped_with_its_reason():
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "torchvision", None)  # import torchvision fails
        results = peers.torchvision_resnet50(precisions=["float32"], batch=2, repeats=1,
                                             steps=1)
    [skipped] = results
    assert (skipped["kind"], skipped["model"]) == ("skipped", "torchvision_resnet50")
    assert skipped["reason"].startswith("torchvision is not importable (")
    assert "install torch and torchvision" in skipped["reason"]
    report = derive({"machine": {}, "settings": {"batches": [1]}, "results": results,
                     "wall_s": 1.0})
    assert "error" not in skipped and all(t["met"] is None for t in report["targets"])
    text = markdown(report)
    assert "### Skipped" in text and "- torchvision_resnet50: torchvision is not" in text


@pytest.fixture
def stub_torchvision(monkeypatch):
    """A `torchvision` module whose models.resnet50() is a tiny PyTorch classifier; the
    models it built are listed on it."""
    torch = pytest.importorskip("torch")
    built = []

    def resnet50():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=8),
                                    torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                    torch.nn.Linear(4, 1000))
        built.append((model, [p.detach().clone() for p in model.parameters()]))
        return model

    module = types.ModuleType("torchvision")
    module.models = types.SimpleNamespace(resnet50=resnet50)
    module.built = built
    monkeypatch.setitem(sys.modules, "torchvision", module)
    return module


def test_the_peer_times_inference_and_training_in_each_precision(stub_torchvision):
    import torch

    results = peers.torchvision_resnet50(precisions=["float32", "bfloat16"], batch=2,
                                         repeats=2, steps=3)
    assert [(r["kind"], r["runtime"], r["precision"]) for r in results] == [
        ("inference", "pytorch", "float32"), ("training", "plain", "float32"),
        ("inference", "pytorch_bf16", "bfloat16"), ("training", "bf16", "bfloat16")]
    for result in results:
        assert result["model"] == "torchvision_resnet50" and result["device"] == "cpu"
        assert result["batch"] == 2 and result["repeats"] == (2 if result["kind"] ==
                                                              "inference" else 3)
        assert math.isfinite(result["img_per_s"]) and result["img_per_s"] > 0
    # One fresh model per precision, and the training steps moved its weights.
    assert len(stub_torchvision.built) == 2
    for model, before in stub_torchvision.built:
        assert any(not torch.equal(p, b) for p, b in zip(model.parameters(), before))
    derived = derive({"machine": {}, "settings": {"batches": [2]}, "results": results,
                      "wall_s": 1.0})
    # Same architecture as our ResNet-50, so the same multiply-adds give its GFLOP/s.
    assert all(r["gflops"] > 0 for r in results)
    text = markdown(derived)
    assert "| torchvision_resnet50 | pytorch |" in text
    assert "| torchvision_resnet50 | bf16 | 2 |" in text


def test_the_peer_is_planned_in_full_runs_only_and_checks_its_precisions(tmp_path):
    assert full_settings().torchvision == ("float32",)
    assert full_settings(1).torchvision == full_settings(1, "jax").torchvision == (
        "float32", "bfloat16")
    assert quick_settings().torchvision == ()
    [task] = [t for t in plan(full_settings(), str(tmp_path)) if t[1] == "torchvision_resnet50"]
    assert task == ("torchvision resnet50", "torchvision_resnet50",
                    {"precisions": ["float32"], "batch": 32, "repeats": 3, "steps": 2})
    assert not [t for t in plan(Settings(inference={}, torchvision=("float32",),
                                         measure=("training",)), str(tmp_path))
                if t[1] == "torchvision_resnet50"]
    assert full_settings().only(["resnet50"]).torchvision == ()
    assert full_settings().only(["resnet50", "torchvision_resnet50"]).torchvision == (
        "float32",)
    with pytest.raises(ValueError, match=r"precision\(s\) \['float8'\]"):
        Settings(inference={}, torchvision=("float8",))
