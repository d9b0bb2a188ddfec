"""Compute resources: the same configuration on CPU only, one GPU and all GPUs.

Each fit runs in its own spawned process that sees only the level's devices
(``CUDA_VISIBLE_DEVICES`` is set before the framework is imported, as for a
search's workers), so "CPU only" really trains without a GPU. The levels are
the ones this machine has: on a machine without GPUs only the CPU is measured,
and the frame says so instead of inventing rows.

The devices should not change the accuracy; the rows let the report check
that (``score`` per level, paired by repeat like every ablation).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from whynet.reports._ablations import Factor, Level, frame, run_factor
from whynet.spaces import TrialParams

if TYPE_CHECKING:
    import pandas as pd

    from whynet.config import RunConfig

__all__ = ["NO_GPU_NOTE", "compute_levels", "run_compute"]

NO_GPU_NOTE = "No GPU on this machine: only CPU measured."


def compute_levels(gpus: Sequence[int]) -> list[tuple[str, tuple[int, ...]]]:
    """The compute levels for these GPUs: ``(label, gpu ids)``.

    Example:
        >>> compute_levels([])
        [('CPU only', ())]
        >>> compute_levels([0, 1])
        [('CPU only', ()), ('1 GPU', (0,)), ('all GPUs (2)', (0, 1))]
    """
    levels: list[tuple[str, tuple[int, ...]]] = [("CPU only", ())]
    if gpus:
        levels.append(("1 GPU", (int(gpus[0]),)))
    if len(gpus) > 1:
        levels.append((f"all GPUs ({len(gpus)})", tuple(int(g) for g in gpus)))
    return levels


def _child(
    config_data: dict[str, Any],
    params: TrialParams,
    repeat: int,
    gpus: tuple[int, ...],
    threads: int,
    queue: Any,
) -> None:
    """Train one fit in this spawned process, on ``gpus`` only (none: CPU)."""
    import signal

    from whynet.config import RunConfig
    from whynet.trainers._devices import DeviceSlot

    # A Ctrl-C reaches the whole process group; the parent stops this child.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    config = RunConfig.model_validate(config_data)
    slot = DeviceSlot(index=0, gpus=gpus, threads=threads)
    os.environ.update(slot.env(config.training.backend))
    try:
        from whynet.exceptions import TrialFailedError
        from whynet.reports._ablations import _prepare, fit_cell
        from whynet.reports._repeats import repeat_dataset
        from whynet.search._worker import _limit_threads
        from whynet.trainers import KerasTrainer

        _prepare()
        _limit_threads(config.training.backend, threads)
        trainer = KerasTrainer(
            early_stopping_patience=config.training.early_stopping_patience,
            device=slot.label,
            distribute=len(gpus) > 1,
        )
        dataset, _ = repeat_dataset(config, repeat)
        try:
            measures = fit_cell(
                trainer, params, dataset, train_fraction=1.0, seed=int(config.seed) + repeat
            )
        except TrialFailedError as exc:
            queue.put(("failed", exc.reason, str(exc)))
            return
        queue.put(("ok", measures, ""))
    except BaseException as exc:  # reported to the parent, which raises it
        queue.put(("error", type(exc).__name__, str(exc)))


def _fit_in_process(
    config: RunConfig, params: TrialParams, repeat: int, gpus: tuple[int, ...]
) -> dict[str, Any]:
    """Run :func:`_child` and return its measures (or raise its failure)."""
    import multiprocessing as mp

    from whynet.exceptions import TrialFailedError

    context = mp.get_context("spawn")
    queue = context.Queue()
    threads = os.cpu_count() or 1
    process = context.Process(
        target=_child,
        args=(config.to_dict(), params, repeat, gpus, threads, queue),
        name=f"whynet-compute-r{repeat}",
        daemon=True,
    )
    process.start()
    try:
        while True:
            try:
                status, payload, message = queue.get(timeout=1.0)
                break
            except Exception:  # queue.Empty: check the child is still alive
                if not process.is_alive() and queue.empty():
                    raise RuntimeError(
                        f"the compute fit's process ended (exit code {process.exitcode}) "
                        "without a result"
                    ) from None
        process.join(timeout=30)
    except BaseException:
        process.terminate()
        process.join(timeout=10)
        raise
    if status == "failed":
        raise TrialFailedError(str(payload), message)
    if status == "error":
        raise RuntimeError(f"the compute fit failed: {payload}: {message}")
    return dict(payload)


def run_compute(
    config: RunConfig,
    selected: TrialParams,
    *,
    repeats: int,
    storage: str,
    study_prefix: str,
    on_fit: Callable[[dict[str, Any]], None] | None = None,
    progress: Callable[[str], None] | None = None,
    gpus: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Train the selected configuration on each compute level this machine has.

    The levels are "CPU only", "1 GPU" and "all GPUs (k)" (data-parallel over
    k GPUs, the global batch being the selected batch size), as far as the
    machine has GPUs (detected with ``nvidia-smi``, as for a search). Each
    level is repeated ``repeats`` times on the paired splits, each fit in its
    own process; the factor is the study ``f"{study_prefix}-compute"``, so an
    interrupted run resumes.

    Args:
        config: The run config (data, base seed, patience, backend).
        selected: The configuration to train.
        repeats: Fits per level.
        storage: The Optuna storage (path or URL).
        study_prefix: Prefix of the study's name.
        on_fit: Called with each new row.
        progress: Called with a line per fit.
        gpus: The GPU ids to use; detected when ``None``.

    Returns:
        The long results frame (group and factor ``compute``) with the extra
        columns ``seconds_to_best`` (training time to the end of the best
        validation epoch), ``samples_per_second`` (training throughput) and
        ``device``. Without GPUs, ``.attrs["note"]`` is :data:`NO_GPU_NOTE`.
    """
    from whynet.reports._ablations import _repeat_loader
    from whynet.trainers._devices import detect_gpus

    found = list(detect_gpus() if gpus is None else gpus)
    levels = compute_levels(found)
    devices = dict(levels)
    factor = Factor(
        "compute",
        tuple(
            Level(label, selected, selected=i == 0)  # CPU is the reference level
            for i, (label, _) in enumerate(levels)
        ),
    )

    def fit(level: Level, r: int, dataset: Any) -> dict[str, Any]:
        return _fit_in_process(config, level.params, r, devices[level.label])

    name = f"{study_prefix}-compute"
    rows = run_factor(
        config,
        factor,
        group="compute",
        repeats=repeats,
        storage=storage,
        study_name=name,
        fit=fit,
        repeat_data=_repeat_loader(config),
        on_fit=on_fit,
        progress=progress,
    )
    table = frame(rows)
    table.attrs.update(repeats=repeats, studies=[name], gpus=found)
    if not found:
        table.attrs["note"] = NO_GPU_NOTE
    return table
