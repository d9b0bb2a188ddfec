"""Fatal errors in a trial and workers that cannot start: real studies, real processes."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import optuna
import pytest
import yaml
from mlflow import MlflowClient

from whynet.config import parse_config
from whynet.exceptions import FatalSearchError
from whynet.search import make_storage, run_search
from whynet.search._launcher import MAX_STARTUP_DEATHS
from whynet.testing import (
    FATAL_ERROR,
    STARTUP_CRASH,
    STARTUP_ERROR,
    fatal_nan_trainer,
    fatal_trainer,
    startup_error_trainer,
    startup_exit_trainer,
    tiny_config,
    written_files,
)

TS = optuna.trial.TrialState


def _study(workdir: Path) -> optuna.Study:
    return optuna.load_study(
        study_name="tiny", storage=make_storage(str(workdir / "whynet.journal"))
    )


def _trial_runs(workdir: Path) -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    exp = client.get_experiment_by_name("tiny")
    return client.search_runs([exp.experiment_id], filter_string="tags.`whynet.kind` = 'trial'")


@pytest.mark.parametrize(
    ("factory", "workers", "reason_text"),
    [
        (fatal_trainer, None, FATAL_ERROR),  # in-process
        (fatal_nan_trainer, None, "non-finite score"),  # raised before `tell`
        (fatal_trainer, 1, FATAL_ERROR),  # in a worker process
    ],
    ids=["in-process", "non-finite-score", "worker"],
)
def test_a_fatal_error_stops_the_search_and_fails_its_trial(
    workdir: Path, factory, workers: int | None, reason_text: str
) -> None:
    overrides = {"search__trials": 3}
    if workers is not None:
        overrides |= {"execution__workers": workers, "execution__in_process": False}
    with pytest.raises(FatalSearchError, match=re.escape(reason_text)):
        run_search(parse_config(tiny_config(**overrides)), progress=False, trainer_factory=factory)
    study = _study(workdir)
    [trial] = study.trials  # the search stopped at the first fatal error
    assert trial.state == TS.FAIL
    assert trial.user_attrs["whynet_state"] == "failed"
    assert trial.user_attrs["fail_reason"] == "fatal"
    assert reason_text in trial.user_attrs["error"]
    assert not study.get_trials(states=(TS.RUNNING,))
    [run] = _trial_runs(workdir)
    assert run.info.status == "FAILED"
    assert run.data.tags["whynet.fail_reason"] == "fatal"


def startup_fault_by_slot(config, slot):
    """Slot 0's worker raises at start-up; slot 1's crashes (a line on fd 2, exit code 3)."""
    return (startup_error_trainer if slot.index == 0 else startup_exit_trainer)(config, slot)


def test_workers_that_cannot_start_stop_the_search_after_bounded_restarts(
    workdir: Path,
) -> None:
    cfg = parse_config(tiny_config(search__trials=4, execution__workers=2))
    stream = io.StringIO()
    start = time.monotonic()
    with pytest.raises(FatalSearchError) as caught:
        run_search(cfg, stream=stream, trainer_factory=startup_fault_by_slot)
    elapsed = time.monotonic() - start
    message = str(caught.value)
    assert f"could not start {MAX_STARTUP_DEATHS} times in a row" in message
    # The worker's own error line: its exception, or its exit code.
    crashed = f"the process ended with exit code 3; its last output: F0000 {STARTUP_CRASH}"
    assert f"RuntimeError: {STARTUP_ERROR}" in message or crashed in message
    output = stream.getvalue()
    raised = output.count(f"could not start (RuntimeError: {STARTUP_ERROR})")
    exited = output.count(f"could not start ({crashed})")
    # Both slots died at start-up, and were restarted at most MAX - 1 times each.
    assert raised + exited == output.count("could not start ("), output
    assert 1 <= raised <= MAX_STARTUP_DEATHS - 1, output
    assert 1 <= exited <= MAX_STARTUP_DEATHS - 1, output
    assert elapsed < 180
    # The raised error's traceback is kept for the user; the study has no trial.
    assert STARTUP_ERROR in (workdir / "whynet-runs" / "tiny" / "worker-0-error.txt").read_text()
    assert _study(workdir).trials == []


def test_a_trainer_that_cannot_start_in_process_stops_the_search(workdir: Path) -> None:
    cfg = parse_config(tiny_config(search__trials=2))
    with pytest.raises(FatalSearchError, match=re.escape(f"RuntimeError: {STARTUP_ERROR}")):
        run_search(cfg, progress=False, trainer_factory=startup_error_trainer)
    assert _study(workdir).trials == []


BROKEN = "libcudart.so.12: cannot open shared object file (a broken torch, a test)"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_backend_that_cannot_be_imported_stops_the_search_with_its_error(
    tmp_path: Path, workers: int
) -> None:
    # An installed framework that fails at import, as a CUDA library mismatch
    # does: `training.backend: torch`, with a `torch` that raises ImportError.
    fake = tmp_path / "site"
    (fake / "torch").mkdir(parents=True)
    (fake / "torch" / "__init__.py").write_text(f"raise ImportError({BROKEN!r})\n")
    work = tmp_path / "work"
    work.mkdir()
    config = tiny_config(training__backend="torch", execution__workers=workers)
    (work / "c.yaml").write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["PYTHONPATH"] = os.pathsep.join([str(fake), *sys.path])
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "whynet", "run", "c.yaml"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert time.monotonic() - start < 240
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("search stopped: "), proc.stderr[-3000:]
    assert f"ImportError: could not import Keras: {BROKEN}" in last
    if workers == 2:
        assert f"could not start {MAX_STARTUP_DEATHS} times in a row" in last
        restarts = proc.stderr.count("could not start (ImportError")
        assert MAX_STARTUP_DEATHS - 1 <= restarts <= 2 * (MAX_STARTUP_DEATHS - 1), proc.stderr


@pytest.mark.skipif(find_spec("torch") is not None, reason="needs an environment without torch")
def test_a_backend_that_is_not_installed_is_exit_2_before_anything_is_written(
    tmp_path: Path,
) -> None:
    config = tiny_config(training__backend="torch", execution__workers=2)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    proc = subprocess.run(
        [sys.executable, "-m", "whynet", "run", "c.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "PyTorch is not installed" in lines[0]
    assert "pip install 'whynet[torch]'" in lines[0]
    assert written_files(tmp_path) == ["c.yaml"]
