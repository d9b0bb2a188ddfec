"""MLflow unreachable from the start: a real port nobody listens on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from mlflow import MlflowClient

from whynet.search import make_storage
from whynet.testing import tiny_config

TS = optuna.trial.TrialState


def _dead_uri() -> str:
    """The URI of a free local port: nothing listens there."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    return f"http://127.0.0.1:{port}"


def _whynet(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "whynet", *args],
        cwd=workdir,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _trial_runs(uri: str) -> list:
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("tiny")
    assert exp is not None, "the experiment was not created"
    return client.search_runs([exp.experiment_id], filter_string="tags.`whynet.kind` = 'trial'")


def _run_while_down(tmp_path: Path, dead: str) -> None:
    config = tiny_config(search__trials=2, training__max_epochs=1)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    run = _whynet(tmp_path, "run", "c.yaml", "--tracking-uri", dead)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr and "MlflowException" not in run.stderr
    flat = " ".join(run.stderr.split())
    assert f"MLflow at {dead} did not answer (connection refused); the search goes on" in flat
    assert "2 trial run(s) are not mirrored yet" in flat
    assert f"whynet sync tiny --storage whynet.journal --tracking-uri {dead}" in flat
    study = optuna.load_study(
        study_name="tiny", storage=make_storage(str(tmp_path / "whynet.journal"))
    )
    assert [t.state for t in study.trials] == [TS.COMPLETE, TS.COMPLETE]

    # `whynet sync` while the server is still down: one clear line, exit 1.
    sync = _whynet(tmp_path, "sync", "tiny", "--tracking-uri", dead)
    assert sync.returncode == 1, sync.stderr[-3000:]
    lines = sync.stderr.strip().splitlines()
    assert len(lines) == 1, sync.stderr
    assert lines[0].startswith(f"error: MLflow at {dead} did not answer (connection refused)")
    assert "run the same command again" in lines[0]


def test_mlflow_down_at_the_start_never_stops_the_search_and_sync_fills_it_later(
    tmp_path: Path,
) -> None:
    dead = _dead_uri()
    _run_while_down(tmp_path, dead)
    # Later, into a real MLflow store: every trial gets its finished run.
    store = f"sqlite:///{tmp_path / 'later.db'}"
    sync = _whynet(tmp_path, "sync", "tiny", "--tracking-uri", store)
    assert sync.returncode == 0, sync.stderr[-3000:]
    assert sync.stderr == ""  # nothing but whynet's own line (on stdout)
    assert "2 run(s) created" in sync.stdout and "0 not mirrored" in sync.stdout
    runs = _trial_runs(store)
    assert sorted(int(r.data.tags["whynet.trial_number"]) for r in runs) == [0, 1]
    assert {r.info.status for r in runs} == {"FINISHED"}


@pytest.mark.slow
def test_mlflow_down_at_the_start_then_the_same_server_comes_up_and_sync_fills_it(
    tmp_path: Path,
) -> None:
    from test_mlflow_outage import Server  # the real `mlflow server` of the outage tests

    server = Server(tmp_path)
    _run_while_down(tmp_path, server.uri)  # its port is free until it starts
    server.start()
    try:
        sync = _whynet(tmp_path, "sync", "tiny", "--tracking-uri", server.uri)
        assert sync.returncode == 0, sync.stderr[-3000:]
        assert "0 not mirrored" in sync.stdout
        runs = _trial_runs(server.uri)
        assert sorted(int(r.data.tags["whynet.trial_number"]) for r in runs) == [0, 1]
        assert {r.info.status for r in runs} == {"FINISHED"}
    finally:
        server.stop()
