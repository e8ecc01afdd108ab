"""Runs one benchmark task in this process: `python -m benchmarks.worker TASK_JSON
RESULT_JSON`. TASK_JSON holds {"task": name, "args": {...}}; the list of results is
written to RESULT_JSON."""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv):
    if len(argv) != 3:
        raise SystemExit("usage: python -m benchmarks.worker TASK_JSON RESULT_JSON")
    from benchmarks import tasks

    with open(argv[1]) as handle:
        spec = json.load(handle)
    results = tasks.get(spec["task"])(**spec["args"])
    temporary = argv[2] + ".tmp"
    with open(temporary, "w") as handle:
        json.dump(results, handle)
    os.replace(temporary, argv[2])


if __name__ == "__main__":
    main(sys.argv)
