"""Measuring: resident memory, epochs trained, test accuracy, the machine."""

from __future__ import annotations

import os
import platform
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from types import TracebackType
from typing import Any

import numpy as np

MIB = 1024 * 1024
PACKAGES = (
    "whynet",
    "keras",
    "tensorflow",
    "optuna",
    "optuna-integration",
    "keras-tuner",
    "mlflow",
    "numpy",
    "scikit-learn",
    "psutil",
)


@dataclass
class RssSample:
    """Resident memory at one moment.

    Attributes:
        t: Time (``time.time()``).
        self_mb: This process.
        tree_mb: This process and all its descendants together.
        child_mb: The largest descendant (a worker process), 0 without one.
    """

    t: float
    self_mb: float
    tree_mb: float
    child_mb: float


@dataclass
class RssSampler:
    """Samples resident memory in a background thread.

    ``resource.getrusage`` gives the exact peak of this process; the sampler
    adds the peak of this process *and its descendants together* (worker
    processes run at the same time, so their memory adds up) and a time line
    that trials can be matched against.
    """

    interval_s: float = 0.1
    samples: list[RssSample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def sample(self) -> None:
        import psutil

        me = psutil.Process()
        self_rss = me.memory_info().rss
        children = []
        for child in me.children(recursive=True):
            try:
                children.append(child.memory_info().rss)
            except psutil.Error:  # a child that just exited
                continue
        self.samples.append(
            RssSample(
                time.time(),
                self_rss / MIB,
                (self_rss + sum(children)) / MIB,
                max(children, default=0) / MIB,
            )
        )

    @property
    def peak_tree_mb(self) -> float:
        return max((s.tree_mb for s in self.samples), default=0.0)

    def at(self, t: float) -> RssSample | None:
        """The first sample taken at or after time ``t``."""
        for s in self.samples:
            if s.t >= t:
                return s
        return self.samples[-1] if self.samples else None


def peak_rss_self_mb() -> float:
    """Exact peak resident memory of this process (``getrusage``).

    ``RUSAGE_CHILDREN`` is not used: a child forked from a large process
    (MLflow runs ``git``, for instance) reports the parent's resident pages
    as its own peak, so that figure says little about worker processes.
    """
    scale = 1024 if sys.platform != "darwin" else 1  # KiB on Linux, bytes on macOS
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / MIB


_EPOCHS = {"count": 0}


def epochs_trained() -> int:
    """Epochs counted by :func:`epoch_counter` callbacks in this process."""
    return _EPOCHS["count"]


def epoch_counter() -> Any:
    """A Keras callback counting every epoch trained in this process.

    The count lives in a module global, not on the callback, because
    KerasTuner deep-copies callbacks for each trial.
    """
    import keras

    class EpochCounter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            _EPOCHS["count"] += 1

    return EpochCounter()


def test_accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of ``model`` on one split, computed as whynet computes it."""
    pred = model.predict(x, verbose=0, batch_size=1024)
    return float(np.mean(np.argmax(pred, axis=1) == y))


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": usable,
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "gpu": "none (CUDA_VISIBLE_DEVICES='')",
    }
