"""The same spaces and trainer on every Keras backend, each in a fresh process."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from whynet.testing import tiny_config


@pytest.mark.parametrize(
    ("backend", "workers"), [("tensorflow", 1), ("jax", 1), ("jax", 2), ("torch", 1)]
)
def test_tiny_search_on_backend(tmp_path: Path, backend: str, workers: int) -> None:
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"the {backend} backend is not installed (pip install 'whynet[{backend}]')")
    config = tiny_config(search__trials=2, training__backend=backend)
    config["space"]["architecture"] = ["mlp", "cnn"]
    config["space"]["cnn_filters"] = [8]
    config["space"]["cnn_dense_units"] = 16
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("KERAS_BACKEND", None)
    proc = subprocess.run(
        [sys.executable, "-m", "whynet", "run", "c.yaml", "--workers", str(workers)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id], filter_string="tags.`whynet.kind` = 'trial'")
    assert len(runs) == 2
    assert {r.data.tags["whynet.backend"] for r in runs} == {backend}
    assert {r.data.tags["whynet.state"] for r in runs} <= {"complete", "pruned"}
    assert (tmp_path / "whynet-runs" / "tiny" / "best_model.keras").is_file()
    # The raw-data model is saved on every backend (see tests/test_predict.py).
    assert (tmp_path / "whynet-runs" / "tiny" / "best_model" / "MLmodel").is_file()
    assert "Could not save the raw-data model" not in proc.stderr
    assert "test_accuracy=" in proc.stdout
