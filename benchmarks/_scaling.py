"""Scaling (trials per hour with 1 and 2 workers) and worker memory over many trials."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks._measure import RssSampler
from benchmarks._tools import workers_available


def _fixed_config(
    *, workdir: Path, study: str, trials: int, epochs: int, units: int, batch_size: int
) -> dict[str, Any]:
    """A whynet config whose every trial trains the same small MLP, unpruned."""
    return {
        "study": study,
        "data": {"source": "digits"},
        "space": {
            "architecture": "mlp",
            "mlp_layers": 2 if units >= 128 else 1,
            "mlp_units": units,
            "activation": "relu",
            "regularization": "none",
            "optimizer": "adam",
            "learning_rate": 1e-3,
            "batch_size": batch_size,
        },
        "training": {"max_epochs": epochs, "early_stopping_patience": 0},
        "search": {
            "trials": trials,
            "pruner": "none",
            "storage": str(workdir / "whynet.journal"),
        },
        "tracking": {"uri": f"sqlite:///{workdir / 'mlflow.db'}"},
        "output_dir": str(workdir / "whynet-runs"),
    }


def _trials(workdir: Path, study: str) -> list[Any]:
    import optuna

    from whynet.search import make_storage

    return optuna.load_study(
        study_name=study, storage=make_storage(str(workdir / "whynet.journal"))
    ).trials


def run_scaling(*, workdir: Path, workers: int, trials: int, epochs: int) -> dict[str, Any]:
    """Trials per hour of identical trials (MLP 2x128, batch 32) with ``workers`` workers.

    Two rates: over the whole ``whynet.search`` call (start-up and the final
    selection included), and over the trials alone (first trial started to
    last trial finished, from the study).
    """
    if workers > 1 and not workers_available():
        return {"status": "not_available", "note": "whynet has no `execution.workers` option yet"}
    import whynet

    config = _fixed_config(
        workdir=workdir, study="scaling", trials=trials, epochs=epochs, units=128, batch_size=32
    )
    # Always explicit: `workers: auto` starts one worker per core when a
    # search has 8 trials per core, which would make the 1-worker row two.
    config["execution"] = {"workers": workers}
    start = time.perf_counter()
    whynet.search(config, progress=False)
    wall = time.perf_counter() - start
    done = [t for t in _trials(workdir, "scaling") if t.datetime_complete is not None]
    span = (
        (
            max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)
        ).total_seconds()
        if done
        else None
    )
    return {
        "status": "ok",
        "workers": workers,
        # Worker slots that ran trials, as the study recorded them: the check
        # that the row measured what it says.
        "workers_seen": len({t.user_attrs.get("worker") for t in done}),
        "trials": len(done),
        "epochs": epochs,
        "wall_s": wall,
        "trials_span_s": span,
        "trials_per_hour": len(done) / wall * 3600,
        "trials_per_hour_span": len(done) / span * 3600 if span else None,
    }


def launcher_available() -> bool:
    """Whether whynet can run a single worker in its own process (``execution.in_process``)."""
    from whynet.config import RunConfig

    execution = RunConfig.model_fields.get("execution")
    annotation = getattr(execution, "annotation", None)
    return "in_process" in getattr(annotation, "model_fields", {})


def run_memory(
    *, workdir: Path, trials: int, reference_trial: int, mode: str, epochs: int
) -> dict[str, Any]:
    """Resident memory of the process that trains, over many small trials.

    ``mode="in_process"``: whynet's default with one CPU worker, which trains
    inside the calling process, so this process is the worker and nothing
    recycles it. ``mode="launcher"``: one worker process under whynet's
    launcher (``execution.in_process: false``) with its default recycling;
    the worker's figure is the largest child process.

    A sampler thread records RSS every 50 ms; each trial's figure is the
    first sample after the study recorded the trial as finished.
    """
    if mode == "launcher" and not launcher_available():
        return {
            "status": "not_available",
            "mode": mode,
            "note": "whynet has no `execution.in_process` option yet",
        }
    import whynet

    config = _fixed_config(
        workdir=workdir, study="memory", trials=trials, epochs=epochs, units=32, batch_size=128
    )
    if mode == "launcher":
        config["execution"] = {"workers": 1, "in_process": False}
    with RssSampler(interval_s=0.05) as rss:
        start = time.perf_counter()
        whynet.search(config, progress=False)
        wall = time.perf_counter() - start
    series: list[dict[str, float]] = []
    for t in _trials(workdir, "memory"):
        if t.datetime_complete is None:
            continue
        sample = rss.at(t.datetime_complete.timestamp())
        if sample is None:
            continue
        worker = sample.self_mb if mode == "in_process" else sample.child_mb
        series.append({"trial": t.number + 1, "worker_mb": worker, "total_mb": sample.tree_mb})
    by_trial = {s["trial"]: s for s in series}
    ref = by_trial.get(reference_trial)
    last = series[-1] if series else None
    return {
        "status": "ok",
        "mode": mode,
        "trials": len(series),
        "epochs": epochs,
        "wall_s": wall,
        "reference_trial": reference_trial,
        "rss_reference_mb": ref["worker_mb"] if ref else None,
        "rss_last_mb": last["worker_mb"] if last else None,
        "last_trial": last["trial"] if last else None,
        "growth": last["worker_mb"] / ref["worker_mb"] if ref and last else None,
        "series": series,
    }
