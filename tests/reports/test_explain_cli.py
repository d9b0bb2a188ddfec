"""``whynet explain``'s user errors: one line, exit code 2, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from whynet.search import make_storage
from whynet.testing import tiny_config, written_files


def _run(workdir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "whynet", "explain", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _config(workdir: Path) -> Path:
    path = workdir / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config()))
    return path


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:")
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "needed"),
    [
        (["--budget", "huge"], ["--budget must be one of small, medium, full", "'huge'"]),
        (["--repeats", "1"], ["--repeats must be at least 2"]),
        (["--trials-per-model", "0"], ["--trials-per-model must be a positive integer"]),
    ],
    ids=["budget", "repeats", "trials"],
)
def test_bad_settings_exit_2_and_write_nothing(
    tmp_path: Path, args: list[str], needed: list[str]
) -> None:
    config = _config(tmp_path)
    before = written_files(tmp_path)
    line = _one_error_line(_run(tmp_path, str(config), *args))
    for text in needed:
        assert text in line
    assert written_files(tmp_path) == before


def test_missing_config_exits_2(tmp_path: Path) -> None:
    line = _one_error_line(_run(tmp_path, "nowhere.yaml"))
    assert "nowhere.yaml" in line and "does not exist" in line


def test_no_search_yet_says_to_run_it_first(tmp_path: Path) -> None:
    config = _config(tmp_path)
    line = _one_error_line(_run(tmp_path, str(config)))
    assert "no study storage" in line and "whynet run" in line
    assert written_files(tmp_path) == ["tiny.yaml"]


def test_a_study_without_a_completed_trial_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    config = _config(tmp_path)
    storage = make_storage(str(tmp_path / "whynet.journal"))
    study = optuna.create_study(study_name="tiny", storage=storage, direction="maximize")
    study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)
    before = written_files(tmp_path)
    line = _one_error_line(_run(tmp_path, str(config)))
    assert "study 'tiny' has no completed trial" in line and "whynet run" in line
    assert written_files(tmp_path) == before  # no mlflow.db, no report folder

    other = _one_error_line(_run(tmp_path, str(config), "--study", "other"))
    assert "no study 'other'" in other and "tiny" in other
    assert written_files(tmp_path) == before


def test_an_unavailable_factor_exits_2_says_why_and_writes_nothing(tmp_path: Path) -> None:
    from whynet.spaces import TrialParams

    path = tmp_path / "iris.yaml"
    path.write_text(yaml.safe_dump(tiny_config(data={"source": "iris"})))
    storage = make_storage(str(tmp_path / "whynet.journal"))
    study = optuna.create_study(study_name="tiny", storage=storage, direction="maximize")
    trial = study.ask()
    trial.set_user_attr("whynet_params", TrialParams().to_dict())
    trial.set_user_attr("n_params", 100)
    study.tell(trial, 0.9)
    before = written_files(tmp_path)
    line = _one_error_line(_run(tmp_path, str(path), "--factor", "architecture"))
    assert "--factor 'architecture' is not available" in line and "a CNN needs image data" in line
    line = _one_error_line(_run(tmp_path, str(path), "--factor", "colour"))
    assert "choose among activation" in line
    assert written_files(tmp_path) == before
