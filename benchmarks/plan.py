"""The plan of a run: the ordered list of (label, task name, arguments) that
`runner.run_suite` hands to the worker, one subprocess each."""

import os

from benchmarks.artifacts import FILES
from benchmarks.runtimes import EXPORTED_RUNTIMES, INFERENCE_RUNTIMES


def plan(settings, work_dir):
    """The ordered list of (label, task, args) of a run: `task` names a function of
    `benchmarks.tasks.TASKS`, `args` its keyword arguments.

    Measurements that are compared sit next to each other (ours and keras.applications
    in the same runtime, training modes round-robin over models), and the GEMM ceiling is
    taken at the start and the end, so that load from other processes on a shared
    machine skews a ratio as little as possible.
    """
    measure = set(settings.measure)
    ceiling = ("ceiling", "ceiling", {"n": settings.ceiling_n,
                                      "conv": list(settings.ceiling_conv)})
    tasks = [ceiling] if "ceiling" in measure else []
    if settings.pipeline_files and "pipeline" in measure:
        for label, augmentations, size in (("", "paper", 224),
                                           (", torchvision V2 augmentations", "torchvision_v2",
                                            176)):
            tasks.append((f"input pipeline{label}", "input_pipeline", {
                "folder": os.path.join(work_dir, "jpegs"), "batch": 32, "image_size": size,
                "batches": settings.pipeline_batches, "augmentations": augmentations}))
    needed = {}
    if "inference" in measure:
        needed = {m: [r for r in rs if r in EXPORTED_RUNTIMES]
                  for m, rs in settings.inference.items()}
    if "paired" in measure:
        for pair in settings.pairs:
            for model, runtime in pair:
                if runtime in EXPORTED_RUNTIMES and runtime not in needed.setdefault(model, []):
                    needed[model].append(runtime)
    for model, exported in needed.items():
        # Artifacts already in work_dir (from an earlier run with the same folder) are
        # reused.
        if exported and not all(os.path.exists(os.path.join(work_dir, model, FILES[r]))
                                for r in exported):
            tasks.append((f"export {model}", "export", {
                "model": model, "folder": os.path.join(work_dir, model), "runtimes": exported,
                "calibration_samples": settings.calibration_samples}))
    for runtime in INFERENCE_RUNTIMES:
        for model, runtimes in settings.inference.items():
            if runtime not in runtimes or "inference" not in measure:
                continue
            artifact = (os.path.join(work_dir, model, FILES[runtime])
                        if runtime in FILES else None)
            tasks.append((f"inference {model} {runtime}", "inference", {
                "model": model, "runtime": runtime, "batches": list(settings.batches),
                "latency_repeats": settings.latency_repeats, "repeats": settings.repeats,
                "artifact": artifact}))
    for pair in settings.pairs if "paired" in measure else []:
        arms = [[m, r, os.path.join(work_dir, m, FILES[r]) if r in FILES else None]
                for m, r in pair]
        tasks.append((f"paired {pair[0]} vs {pair[1]}", "paired_inference", {
            "arms": arms, "batches": list(settings.batches),
            "repeats": settings.pair_repeats}))
    training = settings.training if "training" in measure else {}
    rounds = max((len(modes) for modes in training.values()), default=0)
    for index in range(rounds):
        for model, modes in training.items():
            if index < len(modes):
                tasks.append((f"training {model} {modes[index]}", "training", {
                    "model": model, "mode": modes[index], "batch": settings.train_batch,
                    "steps": settings.train_steps,
                    "steps_per_execution": settings.steps_per_execution}))
    if settings.torchvision and "peers" in measure:
        tasks.append(("torchvision resnet50", "torchvision_resnet50", {
            "precisions": list(settings.torchvision), "batch": settings.train_batch,
            "repeats": settings.repeats, "steps": settings.train_steps}))
    for pair in settings.training_pairs if "paired_training" in measure else []:
        tasks.append((f"paired training {pair[0]} vs {pair[1]}", "paired_training", {
            "arms": pair, "batch": settings.train_batch,
            "repeats": settings.training_pair_repeats}))
    if settings.agreement_epochs and "agreement" in measure:
        tasks.append(("int8 agreement", "int8_agreement", {
            "folder": os.path.join(work_dir, "agreement"),
            "epochs": settings.agreement_epochs}))
    if "ceiling" in measure:
        tasks.append(ceiling)
    return tasks
