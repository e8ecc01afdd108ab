"""The figures derived from a run's results: GFLOP/s, fractions of the machine's GEMM
ceiling, ratios against keras.applications in the same run, and where each target of
`benchmarks.targets` stands."""

from benchmarks import models as models_lib
from benchmarks.results import find
from benchmarks.targets import targets
from benchmarks.tasks.training import MIXED_MODES


def derive(report):
    """Adds GFLOP/s, fraction of the GEMM ceiling, ratios against keras.applications in
    the same run, and the status of each target, to `report` (returned)."""
    results = report["results"]
    ceilings = [r for r in results if r.get("kind") == "ceiling" and "error" not in r]
    ceiling = max(ceilings, key=lambda r: r["best"], default=None)
    report["ceiling"] = ceiling
    best = ceiling["best"] if ceiling else None
    macs = {}
    for result in results:
        if result.get("kind") == "export" and "macs" in result:
            macs[result["model"]] = result["macs"]
    report["macs"] = {**models_lib.known_macs(), **macs}
    for result in results:
        if result.get("kind") not in ("inference", "training") or "error" in result:
            continue
        per_image = report["macs"].get(result["model"])
        if per_image:
            factor = 3 if result["kind"] == "training" else 1
            result["gflops"] = result["img_per_s"] * 2 * per_image * factor / 1e9
            # Mixed-precision rows against the float16 ceiling where one was measured.
            top = (ceiling.get("best_half") if ceiling and result["runtime"] in MIXED_MODES
                   else None) or best
            if top:
                result["fraction_of_ceiling"] = result["gflops"] / top
        base_runtime = result["runtime"]
        if result["kind"] == "training":
            base_runtime = "default"
            same = find(results, kind="training", model=models_lib.BASELINE,
                        runtime=result["runtime"], batch=result["batch"])
            if same and result["model"] in models_lib.RESNET50S:
                result["ratio_same_mode"] = result["img_per_s"] / same["img_per_s"]
        baseline = find(results, kind=result["kind"], model=models_lib.BASELINE,
                        runtime=base_runtime, batch=result["batch"])
        # Only a ResNet-50 is compared with keras.applications' ResNet-50.
        if baseline and result["model"] in models_lib.RESNET50S:
            result["ratio_vs_keras_applications"] = result["img_per_s"] / baseline["img_per_s"]
            # Ratio of the fastest repetitions: load from other processes only slows a
            # repetition down, so on a shared machine this is the steadier figure.
            result["best_ratio_vs_keras_applications"] = (result["img_per_s_max"]
                                                          / baseline["img_per_s_max"])
    report["targets"] = targets(report)
    return report
