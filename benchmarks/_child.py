"""One measurement in its own process: ``python -m benchmarks._child TASK.json``.

The runner starts this in a fresh temporary working directory, so that no
Keras state, memory or file leaks from one tool to the next and the peak
memory is this run's own. The task and the result are JSON files.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks._measure import RssSampler, peak_rss_self_mb

# Libraries each kind of run imports before its clock starts.
_IMPORTS = {
    "whynet": ("optuna", "mlflow", "whynet.search"),
    "kerastuner": ("keras_tuner",),
    "optuna": ("optuna", "mlflow", "optuna_integration"),
    "all": ("optuna", "mlflow", "whynet.search", "keras_tuner", "optuna_integration"),
}


def _import_libraries(family: str, *, keras_too: bool = True) -> None:
    """Import what the run uses, so that its clock measures work, not imports.

    Keras is left out (``keras_too=False``) where whynet trains in worker
    processes: its calling process then imports Keras only at the end, to
    test the selected model, and importing it earlier would add a worker's
    worth of memory to that process.
    """
    import importlib

    if keras_too:
        import keras

        keras.ops.convert_to_numpy(keras.ops.zeros((1,)))  # initialize the backend
    for name in _IMPORTS[family]:
        importlib.import_module(name)
    import logging

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for name in ("mlflow", "alembic", "keras_tuner"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _dispatch(task: dict[str, Any], workdir: Path) -> dict[str, Any]:
    kind = task["kind"]
    if kind == "search":
        from benchmarks._tools import TOOLS, SearchTask

        tool = TOOLS[task["tool"]]
        _import_libraries(task["tool"].split("_", 1)[0], keras_too=not tool.workers)
        return tool.run(
            SearchTask(
                tool=task["tool"],
                dataset=task["dataset"],
                seed=task["seed"],
                trials=task["trials"],
                max_epochs=task["max_epochs"],
                workdir=workdir,
            )
        )
    if kind == "overhead":
        from benchmarks._overhead import run_overhead

        _import_libraries("all")
        return run_overhead(workdir=workdir, epochs=task["epochs"], reps=task["reps"])
    if kind == "scaling":
        from benchmarks._scaling import run_scaling

        # Neither run imports Keras up front, so that both whole-call rates
        # include one Keras import: in this process (1 worker) or in each worker.
        _import_libraries("whynet", keras_too=False)
        return run_scaling(
            workdir=workdir, workers=task["workers"], trials=task["trials"], epochs=task["epochs"]
        )
    if kind == "memory":
        from benchmarks._scaling import run_memory

        _import_libraries("whynet", keras_too=task["mode"] == "in_process")
        return run_memory(
            workdir=workdir,
            trials=task["trials"],
            reference_trial=task["reference_trial"],
            mode=task["mode"],
            epochs=task["epochs"],
        )
    raise ValueError(f"unknown task kind {kind!r}")


def main(argv: list[str]) -> int:
    task_path = Path(argv[0])
    task = json.loads(task_path.read_text())
    workdir = Path(task["workdir"])
    os.chdir(workdir)
    start = time.perf_counter()
    with RssSampler(interval_s=0.25) as rss:
        try:
            result = _dispatch(task, workdir)
        except Exception as exc:
            result = {
                "status": "error",
                "error": f"{type(exc).__name__}: {exc}"[:2000],
                "traceback": traceback.format_exc()[-6000:],
            }
    own = peak_rss_self_mb()
    result["peak_rss_self_mb"] = round(own, 1)
    result["peak_rss_tree_mb"] = round(rss.peak_tree_mb, 1)
    # Processes of one run (whynet's workers) hold memory at the same time.
    result["peak_rss_mb"] = round(max(own, rss.peak_tree_mb), 1)
    result["process_s"] = time.perf_counter() - start
    Path(task["result_path"]).write_text(json.dumps(result, default=str))
    return 0 if result.get("status") != "error" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
