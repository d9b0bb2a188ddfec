"""Faults caused for real: signals to the search, killed process groups."""

from __future__ import annotations

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

from whynet.testing import tiny_config

TS = optuna.trial.TrialState


def _study(workdir: Path) -> optuna.Study:
    from whynet.search import make_storage

    return optuna.load_study(
        study_name="tiny", storage=make_storage(str(workdir / "whynet.journal"))
    )


def _runs(workdir: Path) -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    exp = client.get_experiment_by_name("tiny")
    return client.search_runs([exp.experiment_id])


def _start(
    workdir: Path, *args: str, epochs: int = 40, batch_size: int = 16
) -> subprocess.Popen[str]:
    config = tiny_config(search__trials=30, training__max_epochs=epochs)
    config["space"]["mlp_units"] = [256]
    config["space"]["batch_size"] = batch_size
    (workdir / "c.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, "-m", "whynet", "run", "c.yaml", *args],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_until_running(
    workdir: Path,
    proc: subprocess.Popen[str],
    complete: int = 1,
    max_epochs_done: int | None = None,
) -> list[optuna.trial.FrozenTrial]:
    """Until at least ``complete`` trials finished and one is running; the trials then.

    With ``max_epochs_done``, the running trial must have reported at most
    that many epochs: a trial near its end could finish, legitimately, in the
    moment between looking and signalling. The trials returned are the very
    snapshot that met the condition (a second look could miss it).
    """
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.3)
        if not (workdir / "whynet.journal").exists():
            continue
        try:
            trials = _study(workdir).trials
        except KeyError:
            continue
        done = [t for t in trials if t.state in (TS.COMPLETE, TS.PRUNED)]
        if max_epochs_done is None:
            running = [t.number for t in trials if t.state == TS.RUNNING]
        else:
            running = _early_running(trials, max_epochs_done)
        if len(done) >= complete and running:
            return trials
    raise AssertionError("the search never had a running trial")


def _early_running(trials: list[optuna.trial.FrozenTrial], max_epochs_done: int) -> list[int]:
    """Running trials that are training (one epoch reported) but far from done."""
    return [
        t.number
        for t in trials
        if t.state == TS.RUNNING and 1 <= len(t.intermediate_values) <= max_epochs_done
    ]


def _sigterm(proc: subprocess.Popen[str]) -> tuple[str, float]:
    """Send SIGTERM and wait for the search to exit: its stderr and how long it took."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return err, time.monotonic() - sent


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_stops_cleanly_and_the_same_command_resumes(tmp_path: Path, workers: str) -> None:
    proc = _start(tmp_path, "--workers", workers)
    try:
        # At most 10 of 40 epochs done: the trial cannot finish on its own
        # in the moment it takes the signal to reach the worker.
        snapshot = _wait_until_running(tmp_path, proc, max_epochs_done=10)
        running = _early_running(snapshot, 10)
        late = [t.number for t in snapshot if t.state == TS.RUNNING and t.number not in running]
        err, stopped_in = _sigterm(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err[-2000:]
    assert stopped_in <= 30, stopped_in
    assert "run the same command again to resume" in err
    trials = _study(tmp_path).trials
    assert not [t for t in trials if t.state == TS.RUNNING]
    assert running
    for number in running:
        assert trials[number].state == TS.FAIL
        assert trials[number].user_attrs["fail_reason"] == "interrupted"
    for number in late:  # near its end when signalled: finished or interrupted
        t = trials[number]
        assert t.state == TS.COMPLETE or t.user_attrs.get("fail_reason") == "interrupted"
    runs = _runs(tmp_path)
    by_number = {r.data.tags.get("whynet.trial_number"): r for r in runs}
    for number in running:
        assert by_number[str(number)].info.status == "KILLED"
    [parent] = [r for r in runs if r.data.tags.get("whynet.kind") == "search"]
    assert parent.info.status == "KILLED"
    left = [(r.data.tags, r.data.params) for r in runs if r.info.status == "RUNNING"]
    assert not left, (left, err[-3000:])

    complete_before = {t.number: t.params for t in trials if t.state == TS.COMPLETE}
    again = subprocess.run(
        [sys.executable, "-m", "whynet", "run", "c.yaml", "--trials", "1", "--workers", workers],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "Resuming study 'tiny'" in again.stderr
    after = _study(tmp_path).trials
    assert len(after) == len(trials) + 1  # one new trial; nothing ran again
    assert {
        t.number: t.params for t in after if t.state == TS.COMPLETE and t.number < len(trials)
    } == complete_before


@pytest.mark.slow
def test_kill_everything_then_restart_recovers_stale_trials(tmp_path: Path) -> None:
    proc = _start(tmp_path, "--workers", "2")
    try:
        _wait_until_running(tmp_path, proc)
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and its workers, at once
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    time.sleep(0.5)
    before = _study(tmp_path).trials
    stale = [t.number for t in before if t.state == TS.RUNNING]
    assert stale, "the kill left no trial running"
    complete_before = sorted(t.number for t in before if t.state == TS.COMPLETE)

    again = subprocess.run(
        [sys.executable, "-m", "whynet", "run", "c.yaml", "--trials", str(len(stale))],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"Recovered {len(stale)} trial(s) left running" in " ".join(again.stderr.split())
    after = _study(tmp_path).trials
    for number in stale:
        assert after[number].state == TS.FAIL
        assert after[number].user_attrs["fail_reason"] == "stale"
        # Its parameters were queued again and ran first.
        retries = [t for t in after if t.user_attrs.get("whynet_retry_of") == number]
        assert len(retries) == 1 and retries[0].params == after[number].params
        assert retries[0].number >= len(before)
    assert [
        t.number for t in after if t.state == TS.COMPLETE and t.number < len(before)
    ] == complete_before
    assert not [t for t in after if t.state == TS.RUNNING]
    runs = _runs(tmp_path)
    assert not [r for r in runs if r.info.status == "RUNNING"]


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.4, 1.1, 2.3])
def test_sigterm_at_any_moment_stops_within_30_s(tmp_path: Path, delay: float) -> None:
    """Short trials, signalled at staggered moments: mid-batch, mid-report,
    between trials, while a model is saved. Wherever it lands, the search
    stops in time and leaves nothing RUNNING in the study or in MLflow."""
    proc = _start(tmp_path, "--workers", "1", epochs=6, batch_size=64)
    try:
        _wait_until_running(tmp_path, proc, complete=2)
        time.sleep(delay)
        err, stopped_in = _sigterm(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err[-2000:]
    assert stopped_in <= 30, stopped_in
    assert not [t.number for t in _study(tmp_path).trials if t.state == TS.RUNNING]
    assert not [r.info.run_name for r in _runs(tmp_path) if r.info.status == "RUNNING"]
