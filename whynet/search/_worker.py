"""A worker process: pinned to its devices before any framework is imported."""

from __future__ import annotations

import os
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whynet.trainers._backend import quiet_native_logs, stderr_to_file

__all__ = [
    "WorkerSpec",
    "default_trainer",
    "error_line",
    "save_training_data",
    "start_log_path",
    "worker_main",
]


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs, as plain picklable values."""

    worker: str
    slot: Any  # DeviceSlot; typed loosely so this module imports nothing heavy
    config: dict[str, Any]
    data_dir: str
    spec: Any  # DatasetSpec
    deadline: float | None
    seed_offset: int
    trainer_factory: Callable[..., Any] | None = None


def save_training_data(data: Any, folder: Path) -> None:
    """Write the train and validation arrays once, for workers to map."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        part = getattr(data, split)
        np.save(folder / f"x_{split}.npy", part.x)
        np.save(folder / f"y_{split}.npy", part.y)


def _load_training_data(folder: str, spec: Any) -> Any:
    import numpy as np

    from whynet.data import Split, TrainingData

    path = Path(folder)
    splits = {
        s: Split(np.load(path / f"x_{s}.npy", mmap_mode="r"), np.load(path / f"y_{s}.npy"))
        for s in ("train", "val")
    }
    return TrainingData(spec=spec, train=splits["train"], val=splits["val"])


def default_trainer(config: Any, slot: Any) -> Any:
    """The Keras trainer for a worker's slot (data-parallel when it spans GPUs)."""
    from whynet.trainers import KerasTrainer

    return KerasTrainer(
        early_stopping_patience=config.training.early_stopping_patience,
        device=slot.label,
        distribute=len(slot.gpus) > 1,
    )


def _rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def worker_main(spec: WorkerSpec, events: Any, tickets: Any) -> None:
    """Run trials in this (spawned) process until the launcher's tickets run out.

    An error before the first trial (a framework that cannot be imported, a
    device that cannot start) is sent to the launcher as a ``startup_error``
    exit, with its line and traceback; a :class:`FatalSearchError` as a
    ``fatal`` exit. The launcher decides whether to start the worker again.
    """
    quiet_native_logs()
    from whynet.exceptions import FatalSearchError
    from whynet.search._loop import WorkerExited

    # What start-up prints (the framework's C++ notes, a crash's last words)
    # goes to a file: the launcher shows its last line if this process dies.
    log_path = start_log_path(spec.data_dir, spec.worker)
    try:
        with stderr_to_file(log_path):
            loop, execution, should_recycle = _start_worker(spec, events, tickets, log_path)
    except Exception as exc:
        _exit_with(
            events,
            WorkerExited(
                spec.worker,
                "startup_error",
                0,
                _rss_mb(),
                error=error_line(exc),
                detail=traceback.format_exc(),
            ),
        )
        return
    try:
        reason = loop.run(
            max_trials=execution.recycle_after_trials,
            should_recycle=should_recycle,
            stop_on_oom=True,
        )
    except KeyboardInterrupt:
        loop.abandon("interrupted")
        reason = "interrupted"
    except FatalSearchError as exc:  # the loop ended its trial as failed
        _exit_with(
            events,
            WorkerExited(
                spec.worker,
                "fatal",
                loop.trials_run,
                _rss_mb(),
                error=str(exc),
                detail=traceback.format_exc(),
            ),
        )
        return
    _exit_with(events, WorkerExited(spec.worker, reason, loop.trials_run, _rss_mb()))


def start_log_path(data_dir: str, worker: str) -> Path:
    """The file a worker's start-up output goes to."""
    return Path(data_dir) / f"start-{worker}.log"


def error_line(exc: BaseException) -> str:
    """An error as one line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _exit_with(events: Any, exited: Any) -> None:
    events.put(exited)
    events.close()
    events.join_thread()


def _start_worker(
    spec: WorkerSpec, events: Any, tickets: Any, log_path: Path
) -> tuple[Any, Any, Any]:
    """Everything before the first trial: devices, framework, data, study, trainer."""
    from whynet._interrupt import request_stop
    from whynet.config import RunConfig

    config = RunConfig.model_validate(spec.config)
    # Devices and threads first: the framework reads them when it is imported.
    os.environ.update(spec.slot.env(config.training.backend))
    # The launcher's SIGTERM ends the running trial at its next safe point
    # (between batches, after an epoch, between trials) as interrupted.
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the launcher handles Ctrl-C

    from whynet.search._factories import make_pruner, make_sampler, make_storage
    from whynet.search._loop import TrialLoop
    from whynet.search._runner import quiet_libraries
    from whynet.spaces import SearchSpace
    from whynet.trainers._backend import import_keras

    quiet_libraries()
    import_keras(log_path=log_path)
    _limit_threads(config.training.backend, spec.slot.threads)

    import optuna

    data = _load_training_data(spec.data_dir, spec.spec)
    space = SearchSpace.from_config(config.space, max_epochs=config.training.max_epochs)
    space = space.for_input(is_image=spec.spec.is_image, input_shape=spec.spec.input_shape)
    # Each worker gets its own sampler seed, or concurrent workers would
    # propose the same parameters.
    sampler = make_sampler(config.search.sampler, seed=config.seed + spec.seed_offset, space=space)
    study = optuna.load_study(
        study_name=config.study_name,
        storage=make_storage(config.search.storage),
        sampler=sampler,
        pruner=make_pruner(config.search.pruner, max_epochs=config.training.max_epochs),
    )
    factory = spec.trainer_factory or default_trainer
    trainer = factory(config, spec.slot)

    def claim() -> bool:
        with tickets.get_lock():
            if tickets.value <= 0:
                return False
            tickets.value -= 1
            return True

    execution = config.execution
    baseline: list[float] = []

    def should_recycle() -> bool:
        rss = _rss_mb()
        if not baseline:
            baseline.append(rss)
            return False
        if execution.recycle_memory_mb is not None and rss > execution.recycle_memory_mb:
            return True
        growth = execution.recycle_memory_growth
        return growth is not None and rss > growth * baseline[0]

    loop = TrialLoop.for_worker(
        config,
        worker=spec.worker,
        slot=spec.slot,
        study=study,
        sampler=sampler,
        space=space,
        trainer=trainer,
        data=data,
        emit=events.put,
        claim=claim,
        deadline=spec.deadline,
    )
    return loop, execution, should_recycle


def _limit_threads(backend: str, threads: int) -> None:
    if backend == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1 if threads <= 2 else 2)
        except RuntimeError:
            pass  # already initialized; the environment variables applied
    elif backend == "torch":
        import torch

        torch.set_num_threads(threads)
