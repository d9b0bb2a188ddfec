"""Helpers for tests of whynet and of code built on it (tiny, real runs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = [
    "FATAL_ERROR",
    "STARTUP_CRASH",
    "STARTUP_ERROR",
    "fatal_nan_trainer",
    "fatal_trainer",
    "startup_error_trainer",
    "startup_exit_trainer",
    "tiny_config",
    "written_files",
]


def written_files(path: Path) -> list[str]:
    """Every file under ``path``, relative and sorted: what a run left behind."""
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def tiny_config(**overrides: Any) -> dict[str, Any]:
    """A search config that finishes in seconds: a digits subsample, two epochs.

    Args:
        **overrides: Keys with ``__`` between levels, e.g. ``search__trials=5``.
    """
    config: dict[str, Any] = {
        "study": "tiny",
        "seed": 0,
        "data": {"source": "digits", "n_samples": 400},
        "training": {"max_epochs": 2, "early_stopping_patience": 0},
        "search": {"trials": 3, "pruner": "none"},
        "space": {
            "architecture": "mlp",
            "mlp_layers": 1,
            "mlp_units": [16, 32],
            "batch_size": 64,
            "optimizer": "adam",
            "learning_rate": {"low": 0.003, "high": 0.03, "log": True},
        },
    }
    for dotted, value in overrides.items():
        node = config
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return config


# Trainer factories that fail on purpose, for tests of the search's fault
# handling. Module-level, so that worker processes can import them.

STARTUP_ERROR = "this device cannot start (startup_error_trainer, a test)"
STARTUP_CRASH = "check failed: no CUDA device (startup_exit_trainer, a test)"
FATAL_ERROR = "the storage is gone (fatal_trainer, a test)"


def startup_error_trainer(config: Any, slot: Any) -> Any:
    """A trainer factory that raises: the worker dies before its first trial."""
    raise RuntimeError(STARTUP_ERROR)


def startup_exit_trainer(config: Any, slot: Any) -> Any:
    """A trainer factory that crashes as native code does: a line on fd 2, exit code 3."""
    os.write(2, f"F0000 {STARTUP_CRASH}\n".encode())
    os._exit(3)


class _FailingTrainer:
    def __init__(self, *, nan: bool) -> None:
        self.nan = nan

    def fit(self, params: Any, data: Any, *, report: Any, seed: int) -> Any:
        from whynet.exceptions import FatalSearchError
        from whynet.trainers import TrainedModel, TrialResult

        if not self.nan:
            raise FatalSearchError(FATAL_ERROR)
        nan = float("nan")
        result = TrialResult(
            score=nan,
            score_name="val_accuracy",
            metrics={"val_accuracy": nan},
            best_epoch=1,
            epochs_run=1,
            train_seconds=0.0,
            n_params=1,
        )
        return TrainedModel(result=result, model=None)

    def release(self) -> None:
        return None


def fatal_trainer(config: Any, slot: Any) -> Any:
    """A trainer factory whose trainer raises :class:`FatalSearchError` in ``fit``."""
    return _FailingTrainer(nan=False)


def fatal_nan_trainer(config: Any, slot: Any) -> Any:
    """A trainer factory whose trainer returns a non-finite score (a fatal error)."""
    return _FailingTrainer(nan=True)
