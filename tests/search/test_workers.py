"""Worker processes on this machine's CPUs: real spawned workers, real faults."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from mlflow import MlflowClient

import whynet
from whynet.testing import tiny_config


def _study(workdir: Path, name: str = "tiny") -> optuna.Study:
    from whynet.search import make_storage

    return optuna.load_study(study_name=name, storage=make_storage(str(workdir / "whynet.journal")))


def _trial_runs(workdir: Path, name: str = "tiny") -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    exp = client.get_experiment_by_name(name)
    return client.search_runs([exp.experiment_id], filter_string="tags.`whynet.kind` = 'trial'")


def test_two_workers_finish_n_distinct_trials_each_tagged(workdir: Path) -> None:
    result = whynet.search(tiny_config(search__trials=6), workers=2, progress=False)
    study = _study(workdir)
    numbers = [t.number for t in study.trials]
    assert sorted(numbers) == list(range(6))
    assert sum(result.counts.values()) == 6
    assert all(t.state.is_finished() for t in study.trials)
    runs = _trial_runs(workdir)
    assert sorted(int(r.data.tags["whynet.trial_number"]) for r in runs) == list(range(6))
    workers = {r.data.tags["whynet.worker"] for r in runs}
    assert workers == {"w0", "w1"}
    for run in runs:
        assert run.data.tags["whynet.device"] == "cpu x1"
        assert run.data.tags["whynet.backend"] == "tensorflow"
        assert run.data.tags["whynet.host"] and run.data.tags["whynet.pid"] != str(os.getpid())
    assert result.best_model_path is not None and result.best_model_path.is_file()


def test_workers_are_recycled_after_a_number_of_trials(workdir: Path) -> None:
    cfg = tiny_config(search__trials=4, execution__recycle_after_trials=1)
    whynet.search(cfg, workers=2, progress=False)
    study = _study(workdir)
    assert len(study.trials) == 4
    workers = {t.user_attrs["worker"] for t in study.trials}
    pids = {t.user_attrs["pid"] for t in study.trials}
    assert len(pids) == 4  # every trial ran in a fresh process
    assert any("." in w for w in workers)  # e.g. w0.1: the slot's next incarnation


def oom_once_trainer(config, slot):
    """A Keras trainer whose first trial in the whole search runs out of memory."""
    import keras
    import tensorflow as tf

    from whynet.trainers import KerasTrainer

    marker = Path(config.output_dir) / "oom-once"

    class OutOfMemory(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.close(fd)
            raise tf.errors.ResourceExhaustedError(
                None, None, "OOM when allocating tensor with shape[512,512] on /device:GPU:0"
            )

    return KerasTrainer(
        early_stopping_patience=0, device=slot.label, callbacks=lambda: [OutOfMemory()]
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_out_of_memory_fails_only_that_trial(workdir: Path, workers: int) -> None:
    from whynet.config import parse_config
    from whynet.search import run_search

    trials = 4 * workers  # enough that tickets remain when the worker is replaced
    cfg = parse_config(tiny_config(search__trials=trials, execution__workers=workers))
    stream = io.StringIO()
    result = run_search(cfg, stream=stream, trainer_factory=oom_once_trainer)
    study = _study(workdir)
    states = [t.user_attrs.get("whynet_state") for t in study.trials]
    assert len(study.trials) == trials and states.count("failed") == 1
    [failed] = [t for t in study.trials if t.user_attrs.get("whynet_state") == "failed"]
    assert failed.user_attrs["fail_reason"] == "oom"
    assert result.counts == {"complete": trials - 1, "pruned": 0, "failed": 1}
    [run] = [r for r in _trial_runs(workdir) if r.info.status == "FAILED"]
    assert run.data.tags["whynet.fail_reason"] == "oom"
    assert "ResourceExhaustedError" in run.data.tags["whynet.error"]
    if workers == 2:
        # The worker that ran out of memory was replaced by a fresh process.
        assert "ran out of memory; replacing it with a fresh process" in stream.getvalue()


@pytest.mark.slow
def test_killed_worker_trial_is_failed_retried_and_search_completes(tmp_path: Path) -> None:
    config = tiny_config(search__trials=6, training__max_epochs=40)
    config["space"]["mlp_units"] = [256]
    config["space"]["batch_size"] = 16
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "whynet", "run", "c.yaml", "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        journal = tmp_path / "whynet.journal"
        victim = None
        deadline = time.monotonic() + 120
        while victim is None and time.monotonic() < deadline:
            time.sleep(0.3)
            if not journal.exists():
                continue
            try:
                study = _study(tmp_path)
            except KeyError:
                continue
            running = [
                t
                for t in study.trials
                if t.state == optuna.trial.TrialState.RUNNING and "pid" in t.user_attrs
            ]
            if running and len(study.trials) >= 2:
                victim = running[0]
        assert victim is not None, "no trial was seen running"
        os.kill(int(victim.user_attrs["pid"]), signal.SIGKILL)
        killed_at = time.monotonic()
        noticed = None
        while time.monotonic() - killed_at < 30:
            state = _study(tmp_path).trials[victim.number].state
            if state == optuna.trial.TrialState.FAIL:
                noticed = time.monotonic() - killed_at
                break
            time.sleep(0.2)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert noticed is not None and noticed <= 5.0, noticed
    study = _study(tmp_path)
    dead = study.trials[victim.number]
    assert dead.user_attrs["fail_reason"] == "worker_died"
    retries = [t for t in study.trials if t.user_attrs.get("whynet_retry_of") == victim.number]
    assert len(retries) == 1 and retries[0].params == dead.params
    finished = [t for t in study.trials if t.state != optuna.trial.TrialState.FAIL]
    assert len(finished) == 6  # the requested number of trials still completed
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    runs = {int(r.data.tags["whynet.trial_number"]): r for r in _trial_runs(tmp_path)}
    assert runs[victim.number].info.status == "FAILED"
    assert runs[victim.number].data.tags["whynet.fail_reason"] == "worker_died"
    assert not [r for r in runs.values() if r.info.status == "RUNNING"]
    assert "died" in err and "retrying its parameters" in err
