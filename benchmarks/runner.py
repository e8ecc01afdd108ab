"""Runs a plan: each task in a fresh Python subprocess (`benchmarks.worker`), with a
description of the machine, and hands the results to `derive`."""

import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

from benchmarks import timing
from benchmarks.derive import derive
from benchmarks.plan import plan

# The repository root, which holds this package.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _gpu_names():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=True)
        return [line.strip() for line in out.stdout.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        return []


def describe_machine():
    """CPU model, cores, instruction-set features, memory, GPUs and library versions."""
    import keras

    info = {"platform": platform.platform(), "python": platform.python_version(),
            "backend": keras.config.backend(),
            "cores": timing.cpu_count(), "gpus": _gpu_names(), "cpu": platform.processor()}
    try:
        with open("/proc/cpuinfo") as handle:
            text = handle.read()
        for line in text.splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                info["isa"] = sorted(flags & {"avx2", "fma", "avx512f", "avx512_vnni",
                                              "avx512_bf16", "amx_bf16",
                                              "avx_vnni", "amx_int8", "f16c"})
                break
        with open("/proc/meminfo") as handle:
            info["memory_gib"] = round(int(handle.readline().split()[1]) / 2**20, 1)
        with open("/proc/loadavg") as handle:
            info["load_before"] = [float(v) for v in handle.read().split()[:3]]
    except OSError:
        pass
    from importlib import metadata

    versions = {}
    for package in ("tensorflow", "keras", "jax", "jaxlib", "torch", "onnxruntime",
                    "ai-edge-litert", "tf2onnx", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    info["versions"] = versions
    return info


def _failed(task, args, why, elapsed, log):
    log(f"  FAILED after {elapsed:.0f} s: {' | '.join(why or [])}")
    return [{"kind": task, "error": " | ".join(why or ["no result"]), **{
        k: v for k, v in args.items() if k in ("model", "runtime", "mode")}}]


def run_task_here(task, args, log=print):
    """Runs one task in this process (no isolation: its peak RSS is this process's, and
    runtimes share it); returns its results, or one result with "error"."""
    import traceback

    from benchmarks import tasks

    start = time.perf_counter()
    try:
        results = tasks.get(task)(**args)
    except Exception:
        lines = traceback.format_exc().strip().splitlines()[-5:]
        return _failed(task, args, lines, time.perf_counter() - start, log)
    results = json.loads(json.dumps(results))  # what the worker's JSON file would hold
    for result in results:
        result["task_s"] = time.perf_counter() - start
    return results


def run_task(task, args, work_dir, timeout_s, log=print):
    """Runs one task in a fresh Python subprocess; returns its results, or one result with
    "error" when it failed (the run goes on)."""
    spec_path = tempfile.mktemp(suffix=".json", dir=work_dir)
    result_path = spec_path[:-5] + ".result.json"
    with open(spec_path, "w") as handle:
        json.dump({"task": task, "args": args}, handle)
    # benchmarks/ is not installed with keras_resnet: the worker finds it next to this
    # package's parent folder, whatever the caller's working directory.
    path = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": path}
    start = time.perf_counter()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "benchmarks.worker", spec_path, result_path],
            env=env, capture_output=True, text=True, timeout=timeout_s)
        failed = process.returncode != 0 or not os.path.exists(result_path)
        why = process.stderr.strip().splitlines()[-5:] if failed else None
    except subprocess.TimeoutExpired:
        failed, why = True, [f"timed out after {timeout_s} s"]
    elapsed = time.perf_counter() - start
    if failed:
        return _failed(task, args, why, elapsed, log)
    with open(result_path) as handle:
        results = json.load(handle)
    for result in results:
        result["task_s"] = elapsed
    return results


def run_suite(settings, work_dir=None, log=print, on_result=None, isolate=True):
    """Runs every task of `settings` and returns the full report (see `derive`).

    Args:
        settings: `Settings`.
        work_dir: str or None. Folder for generated JPEGs and exported models. Defaults
            to a temporary folder removed afterwards.
        log: callable(str). Progress messages. Defaults to print.
        on_result: callable(list of dict) or None. Called with all results so far after
            each task, e.g. to save them as the run goes (a run stopped midway keeps
            what it measured).
        isolate: bool. Each task in a fresh subprocess (`run_task`), so that its peak
            memory and thread pools are its own: every measurement should be. False runs
            the tasks in this process (`run_task_here`), which saves an interpreter and
            TensorFlow start per task, for tests of the tasks themselves.
    """
    import shutil

    machine = describe_machine()
    owned = work_dir is None
    work_dir = work_dir or tempfile.mkdtemp(prefix="keras_resnet_benchmark_")
    os.makedirs(work_dir, exist_ok=True)
    started = time.time()
    results = []
    try:
        tasks = plan(settings, work_dir)
        if settings.pipeline_files and "pipeline" in settings.measure:
            from benchmarks.tasks.pipeline import make_jpegs

            make_jpegs(os.path.join(work_dir, "jpegs"), settings.pipeline_files)
        for index, (label, task, args) in enumerate(tasks, 1):
            log(f"[{index}/{len(tasks)}] {label}")
            results.extend(run_task(task, args, work_dir, settings.task_timeout_s, log)
                           if isolate else run_task_here(task, args, log))
            if on_result:
                on_result(results)
    finally:
        if owned:
            shutil.rmtree(work_dir, ignore_errors=True)
    with open("/proc/loadavg") as handle:
        machine["load_after"] = [float(v) for v in handle.read().split()[:3]]
    report = {"machine": machine, "settings": dataclasses.asdict(settings),
              "wall_s": time.time() - started, "results": results}
    return derive(report)
