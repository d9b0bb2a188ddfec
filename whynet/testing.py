"""Helpers for tests of whynet and of code built on it (tiny, real runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["tiny_config", "written_files"]


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
