"""Shared fixtures. Tests run real Keras, Optuna and MLflow on tiny data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The backend and log level must be set before Keras is first imported.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, as a user's would be, made current."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
