"""Device slots: which devices and threads each worker process gets."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from whynet.config import ExecutionConfig
from whynet.exceptions import ConfigError

__all__ = ["DeviceSlot", "auto_cpu_workers", "detect_gpus", "plan_slots"]

# What ``workers: auto`` starts on a machine without GPUs. Small networks use
# two cores poorly inside one process: on digits, two one-thread workers ran
# 1.6x the trials per hour of one two-thread worker (docs/benchmarks.md).
# A worker process costs a framework start-up (seconds) and about 1.2 GiB.
_CPU_WORKER_GIB = 2.0
_MAX_AUTO_CPU_WORKERS = 8
_TRIALS_PER_AUTO_WORKER = 8  # fewer: a second start-up costs more than it gains
_MIN_TIMEOUT_FOR_WORKERS_S = 120.0


@dataclass(frozen=True)
class DeviceSlot:
    """The devices of one worker.

    Attributes:
        index: The slot's number, from 0.
        gpus: GPU ids (``nvidia-smi`` numbering, PCI bus order); empty for CPU.
        threads: CPU threads the worker's framework may use.
        packed: How many workers share each of these GPUs (``trials_per_gpu``).
        share: This slot's place among those sharing the GPU, from 0.
    """

    index: int
    gpus: tuple[int, ...]
    threads: int
    packed: int = 1
    share: int = 0

    @property
    def kind(self) -> str:
        """``cpu`` or ``gpu``."""
        return "gpu" if self.gpus else "cpu"

    @property
    def label(self) -> str:
        """A short description, e.g. ``cpu x2``, ``gpu:0``, ``gpu:0 (2/4)``, ``gpu:0,1``."""
        if not self.gpus:
            return f"cpu x{self.threads}"
        ids = ",".join(str(g) for g in self.gpus)
        return f"gpu:{ids}" + (f" ({self.share + 1}/{self.packed})" if self.packed > 1 else "")

    def env(self, backend: str) -> dict[str, str]:
        """Environment variables to set before the framework is imported."""
        threads = str(self.threads)
        env = {
            "KERAS_BACKEND": backend,
            "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
            "CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in self.gpus),
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "TF_NUM_INTRAOP_THREADS": threads,
            "TF_NUM_INTEROP_THREADS": "1" if self.threads <= 2 else "2",
        }
        if self.gpus:
            # Grow GPU memory on demand so that packed trials fit side by side.
            env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
            env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
            if self.packed > 1:
                env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{0.9 / self.packed:.3f}"
        return env


def detect_gpus() -> list[int]:
    """GPU ids from ``nvidia-smi`` (PCI bus order), or none.

    Detection runs a subprocess rather than importing a framework, so the
    launcher stays free of CUDA state that its workers would inherit.
    """
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [int(line) for line in out.split() if line.strip().isdigit()]


def auto_cpu_workers(
    *,
    cores: int,
    trials: int | None = None,
    timeout: float | None = None,
    memory_gib: float | None = None,
) -> int:
    """How many CPU workers ``workers: auto`` starts.

    One per core, as far as memory allows (2 GiB each) and at most 8, but
    only where the search is long enough to repay each worker's start-up:
    at least 8 trials per worker and no time limit under two minutes.
    Otherwise one worker, which runs inside the calling process.

    Example:
        >>> auto_cpu_workers(cores=2, trials=30, memory_gib=16)
        2
        >>> auto_cpu_workers(cores=2, trials=5, memory_gib=16)
        1
    """
    if timeout is not None and timeout < _MIN_TIMEOUT_FOR_WORKERS_S:
        return 1
    if memory_gib is None:
        import psutil

        memory_gib = psutil.virtual_memory().available / 2**30
    n = min(cores, int(memory_gib // _CPU_WORKER_GIB), _MAX_AUTO_CPU_WORKERS)
    if trials is not None:
        n = min(n, trials // _TRIALS_PER_AUTO_WORKER)
    return max(1, n)


def plan_slots(
    execution: ExecutionConfig,
    *,
    gpus: Sequence[int] | None = None,
    cpu_count: int | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    memory_gib: float | None = None,
) -> list[DeviceSlot]:
    """Plan one slot per worker.

    Args:
        execution: The execution settings.
        gpus: The GPUs on this host; detected when ``None``.
        cpu_count: The CPU cores to share; ``os.cpu_count()`` when ``None``.
        trials: The search's trials, which ``workers: auto`` weighs on CPU.
        timeout: The search's time limit in seconds, likewise.
        memory_gib: Available memory; measured when ``None``.

    Returns:
        The slots, one per worker process.

    Raises:
        ConfigError: If the settings ask for GPUs that are not there, or
            more workers than there are slots.

    Example:
        >>> plan_slots(ExecutionConfig(trials_per_gpu=2), gpus=[0, 1], cpu_count=8)[2].label
        'gpu:0 (2/2)'
    """
    cores = cpu_count or os.cpu_count() or 1
    available = list(detect_gpus() if gpus is None else gpus)
    if execution.devices == "cpu":
        chosen: list[int] = []
    elif execution.devices == "auto":
        chosen = available
    else:
        missing = sorted(set(execution.devices) - set(available))
        if missing:
            raise ConfigError(
                f"invalid value for 'execution.devices': GPU id(s) {missing} are not on this "
                f"host (GPUs found: {available or 'none'}). Use ids from `nvidia-smi -L`, "
                "'auto' or 'cpu'."
            )
        chosen = list(execution.devices)

    if not chosen:
        if execution.gpus_per_trial > 1 or execution.trials_per_gpu > 1:
            raise ConfigError(
                "`execution.trials_per_gpu` and `execution.gpus_per_trial` need GPUs, and none "
                f"is in use (devices: {execution.devices!r}, GPUs found: {available or 'none'}). "
                "Set them to 1 for CPU workers."
            )
        if execution.workers == "auto":
            workers = auto_cpu_workers(
                cores=cores, trials=trials, timeout=timeout, memory_gib=memory_gib
            )
        else:
            workers = execution.workers
        threads = execution.threads_per_worker or max(1, cores // workers)
        return [DeviceSlot(index=i, gpus=(), threads=threads) for i in range(workers)]

    n = execution.gpus_per_trial
    if n > len(chosen):
        raise ConfigError(
            f"invalid value for 'execution.gpus_per_trial': {n} GPUs per trial, but only "
            f"{len(chosen)} GPU(s) are in use ({chosen}). Lower it or add devices."
        )
    groups = [tuple(chosen[i : i + n]) for i in range(0, len(chosen) - n + 1, n)]
    k = execution.trials_per_gpu
    # Share-major order, so that fewer workers than slots spread over the GPUs.
    plan = [(group, share) for share in range(k) for group in groups]
    if execution.workers != "auto":
        if execution.workers > len(plan):
            raise ConfigError(
                f"invalid value for 'execution.workers': {execution.workers} workers, but the "
                f"devices give {len(plan)} slot(s) ({len(groups)} GPU group(s) x "
                f"{k} trial(s) per GPU). Raise `trials_per_gpu` or lower `workers`."
            )
        plan = plan[: execution.workers]
    threads = execution.threads_per_worker or max(1, cores // len(plan))
    return [
        DeviceSlot(index=i, gpus=group, threads=threads, packed=k, share=share)
        for i, (group, share) in enumerate(plan)
    ]
