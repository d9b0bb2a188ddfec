"""A real MLflow tracking server stopped mid-search and started again."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
import yaml
from mlflow import MlflowClient

from whynet.testing import tiny_config

TS = optuna.trial.TrialState
MLFLOW = Path(sys.executable).with_name("mlflow")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                str(MLFLOW),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--backend-store-uri",
                f"sqlite:///{self.root / 'server.db'}",
                "--artifacts-destination",
                str(self.root / "artifacts"),
                "--workers",
                "1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise AssertionError("the MLflow server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=30)


def _finished(workdir: Path) -> int:
    from whynet.search import make_storage

    if not (workdir / "whynet.journal").exists():
        return 0
    try:
        study = optuna.load_study(
            study_name="tiny", storage=make_storage(str(workdir / "whynet.journal"))
        )
    except KeyError:
        return 0
    return sum(t.state.is_finished() for t in study.trials)


def _wait_finished(workdir: Path, n: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 240
    while _finished(workdir) < n:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "trials did not finish"
        time.sleep(0.3)


@pytest.mark.slow
def test_search_survives_a_stopped_tracking_server_and_sync_rebuilds(tmp_path: Path) -> None:
    server = Server(tmp_path)
    server.start()
    config = tiny_config(
        search__trials=16, training__max_epochs=12, tracking__uri=server.uri, tracking__timeout_s=3
    )
    config["space"]["mlp_units"] = [256]
    config["space"]["batch_size"] = 16
    config["execution"] = {"workers": 1}  # in-process: the search itself meets the outage
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        # 1. Stopped mid-search and restarted: training goes on, nothing is lost.
        proc = subprocess.Popen(
            [sys.executable, "-m", "whynet", "run", "c.yaml"],
            cwd=tmp_path,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        _wait_finished(tmp_path, 2, proc)
        server.stop()
        down_at = _finished(tmp_path)
        _wait_finished(tmp_path, down_at + 2, proc)  # trials finish while it is down
        server.start()
        assert proc.poll() is None, "the search ended before the server was back; use more trials"
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        assert "could not" in err and "pausing logging" in err, err[-3000:]
        assert "MLflow answered again; caught up" in err
        client = MlflowClient(tracking_uri=server.uri)
        exp = client.get_experiment_by_name("tiny")
        runs = client.search_runs([exp.experiment_id], filter_string="tags.`whynet.kind` = 'trial'")
        assert sorted(int(r.data.tags["whynet.trial_number"]) for r in runs) == list(range(16))
        assert {r.info.status for r in runs} <= {"FINISHED"}
        for run in runs:
            curve = client.get_metric_history(run.info.run_id, "val_accuracy")
            assert len(curve) >= 1 and curve[0].step == 1

        # 2. Down until the search ends: the user is told, and `whynet sync` rebuilds.
        proc = subprocess.Popen(
            [sys.executable, "-m", "whynet", "run", "c.yaml", "--trials", "3"],
            cwd=tmp_path,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        _wait_finished(tmp_path, 17, proc)
        server.stop()
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        flat = " ".join(err.split())
        assert "not mirrored yet" in flat and "whynet sync tiny" in flat
        server.start()
        sync = subprocess.run(
            [sys.executable, "-m", "whynet", "sync", "tiny", "--tracking-uri", server.uri],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert sync.returncode == 0, sync.stderr[-3000:]
        assert "0 not mirrored" in sync.stdout
        runs = client.search_runs([exp.experiment_id], filter_string="tags.`whynet.kind` = 'trial'")
        assert sorted(int(r.data.tags["whynet.trial_number"]) for r in runs) == list(range(19))
        assert not [r for r in runs if r.info.status == "RUNNING"]
    finally:
        server.stop()
