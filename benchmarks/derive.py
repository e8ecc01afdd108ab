"""The figures derived from a run's results: GFLOP/s, fractions of the machine's ceiling
of each figure's own precision, ratios against keras.applications in the same run, and
where each target of `benchmarks.targets` stands."""

from benchmarks import models as models_lib
from benchmarks.results import find
from benchmarks.targets import targets
from benchmarks.tasks.training import MIXED_MODES


def precision_ceilings(ceilings):
    """{precision: GFLOP/s}: the best of each precision over the ceiling results (taken
    at the start and the end of a run); float32 from "best" where a result has no
    per-precision figures (a GPU, or a report from before they were measured)."""
    best = {}
    for result in ceilings:
        figures = {p: v.get("best") for p, v in (result.get("precisions") or {}).items()}
        figures.setdefault("float32", result.get("best"))
        for precision, value in figures.items():
            if value and value > best.get(precision, 0):
                best[precision] = value
    return best


def derive(report):
    """Adds GFLOP/s, the fraction of the ceiling of each figure's precision, ratios
    against keras.applications in the same run, and the status of each target, to
    `report` (returned)."""
    results = report["results"]
    ceilings = [r for r in results if r.get("kind") == "ceiling" and "error" not in r]
    ceiling = max(ceilings, key=lambda r: r["best"] or 0, default=None)
    report["ceiling"] = ceiling
    report["ceilings"] = by_precision = precision_ceilings(ceilings)
    best = by_precision.get("float32")
    macs = {}
    for result in results:
        if result.get("kind") == "export" and "macs" in result:
            macs[result["model"]] = result["macs"]
    report["macs"] = {**models_lib.known_macs(), **macs}
    for result in results:
        if result.get("kind") == "paired_inference" and "error" not in result:
            _paired_fractions(result, report["macs"], by_precision)
        if result.get("kind") not in ("inference", "training") or "error" in result:
            continue
        per_image = report["macs"].get(result["model"])
        if per_image:
            factor = 3 if result["kind"] == "training" else 1
            result["gflops"] = result["img_per_s"] * 2 * per_image * factor / 1e9
            if result["kind"] == "inference":
                top = by_precision.get(result.get("precision", "float32"))
            elif result["runtime"] in MIXED_MODES:
                # Mixed precision against the GPU's float16 ceiling, or the CPU's
                # bfloat16 one, where one was measured.
                half = MIXED_MODES[result["runtime"]] == "mixed_bfloat16"
                top = ((ceiling or {}).get("best_half")
                       or (by_precision.get("bfloat16") if half else None) or best)
            else:
                top = best
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


def _paired_fractions(result, macs, by_precision):
    """Both arms of a paired inference row as fractions of their precisions' ceilings."""
    for arm, model, rate in (("", result["model"], result["img_per_s"]),
                             ("reference_", result["reference_model"],
                              result["reference_img_per_s"])):
        top = by_precision.get(result.get(f"{arm}precision", "float32"))
        if macs.get(model) and top:
            result[f"{arm}fraction_of_ceiling"] = rate * 2 * macs[model] / 1e9 / top
