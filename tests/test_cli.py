"""The command line, run as a user runs it: a real process in a fresh folder."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml

from whynet.search import make_storage
from whynet.testing import tiny_config, written_files


def _run(workdir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "whynet", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _write(workdir: Path, name: str, text: str) -> None:
    (workdir / name).write_text(text)


def _csv_rows(n: int, *, label: str = "label") -> str:
    rng = np.random.default_rng(0)
    lines = [f"a,b,{label}"]
    for i in range(n):
        lines.append(f"{rng.normal():.3f},{rng.normal():.3f},{'yes' if i % 2 else 'no'}")
    return "\n".join(lines) + "\n"


CASES = {
    "unknown key": (
        {"search": {"trails": 3}},
        {},
        ["unknown key 'search.trails'", "Did you mean 'trials'?"],
    ),
    "wrong type": (
        {"training": {"max_epochs": "lots"}},
        {},
        ["'training.max_epochs'", "'lots'"],
    ),
    "missing data file": (
        {"data": {"source": "nowhere.csv", "target": "label"}},
        {},
        ["nowhere.csv' does not exist", "data.source"],
    ),
    "missing target column": (
        {"data": {"source": "t.csv", "target": "lable"}},
        {"t.csv": _csv_rows(40)},
        ["target column 'lable' is not in t.csv", "Did you mean 'label'?"],
    ),
    "non-numeric regression target": (
        {"data": {"source": "t.csv", "target": "label", "task": "regression"}},
        {"t.csv": _csv_rows(40)},
        ["non-numeric values", "task: classification"],
    ),
    "empty data set": (
        {"data": {"source": "t.csv", "target": "label"}},
        {"t.csv": "a,b,label\n"},
        ["has a header but no rows", "Add data rows"],
    ),
    "class too small": (
        {"data": {"source": "t.csv", "target": "label"}},
        {"t.csv": _csv_rows(40) + "0.1,0.2,maybe\n"},
        ["class 'maybe'", "has 1 row(s)", "Remove that class or collect more rows"],
    ),
    "NaN features with data.missing: error": (
        {"data": {"source": "t.csv", "target": "label", "missing": "error"}},
        {"t.csv": _csv_rows(40) + "nan,0.2,yes\ninf,0.1,no\n"},
        ["missing or infinite values in column(s) 'a' (2 row(s))", "`data.missing: impute`"],
    ),
    "missing target": (
        {"data": {"source": "t.csv", "target": "label"}},
        {"t.csv": _csv_rows(40) + "0.1,0.2,\n"},
        ["target column 'label' has missing or infinite values in 1 row(s)", "data.missing: drop"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_clear_line_exit_2_and_nothing_written(tmp_path: Path, case: str) -> None:
    config, files, needles = CASES[case]
    for name, text in files.items():
        _write(tmp_path, name, text)
    _write(tmp_path, "config.yaml", yaml.safe_dump(config))
    before = written_files(tmp_path)
    proc = _run(tmp_path, "run", "config.yaml")
    assert proc.returncode == 2, proc.stderr
    message = proc.stderr.strip()
    assert message.startswith("error: ")
    assert len(message.splitlines()) == 1, message
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in " ".join(message.split()), message
    # Nothing was written: no study storage, no MLflow store, no outputs.
    assert written_files(tmp_path) == before


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    proc = _run(tmp_path, "run", "nope.yaml")
    assert proc.returncode == 2
    assert "config file 'nope.yaml' does not exist" in proc.stderr
    assert written_files(tmp_path) == []


def test_run_prints_results_and_how_to_open_mlflow_then_resumes(tmp_path: Path) -> None:
    config = tiny_config(search__trials=2)
    del config["study"]
    _write(tmp_path, "config.yaml", yaml.safe_dump(config))
    proc = _run(tmp_path, "run", "config.yaml", "--study", "cli-demo", "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    assert "study cli-demo: trials by val_accuracy" in out
    assert "Best: trial" in out and "test_accuracy=" in out
    # The table lists trials in the order the search selects: its first row is the best.
    rows = [line.split("│") for line in proc.stdout.splitlines() if line.startswith("│")]
    best = out.split("Best: trial ", 1)[1].split()[0]
    assert rows and rows[0][1].strip() == best
    # The printed command runs as printed: its program exists, its store is absolute.
    [command] = [line.strip() for line in proc.stdout.splitlines() if " ui --backend" in line]
    words = shlex.split(command)
    assert Path(words[0]).is_file() and words[words.index("ui") - 1].endswith("mlflow")
    assert words[-1] == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert "Not in the table: 0 pruned, 0 failed trial(s)" in out
    assert "New study 'cli-demo'" in proc.stderr
    assert "[whynet] trial 1 complete" in proc.stderr  # plain lines when not on a terminal
    assert (tmp_path / "whynet-runs" / "cli-demo" / "best_model.keras").is_file()
    assert "whynet predict whynet-runs/cli-demo/best_model DATA" in out

    again = _run(
        tmp_path, "run", "config.yaml", "--study", "cli-demo", "--seed", "1", "--trials", "1"
    )
    assert again.returncode == 0, again.stderr
    assert "Resuming study 'cli-demo' (2 earlier trials)" in " ".join(again.stderr.split())
    assert "Study total: 3 trials" in " ".join(again.stdout.split())

    # On the command line, errors name the flags.
    config["space"]["activation"] = "tanh"
    _write(tmp_path, "config.yaml", yaml.safe_dump(config))
    changed = _run(tmp_path, "run", "config.yaml", "--study", "cli-demo", "--seed", "1")
    assert changed.returncode == 2
    assert "--study NEW_NAME" in changed.stderr and "study='NEW_NAME'" not in changed.stderr


def test_workers_help_says_what_the_docs_say(tmp_path: Path) -> None:
    usage = (Path(__file__).resolve().parent.parent / "docs" / "usage.md").read_text()
    [row] = [line for line in usage.splitlines() if line.startswith("| `execution.workers`")]
    default = row.split("worker processes: ", 1)[1].split("; a number", 1)[0]
    proc = _run(tmp_path, "run", "--help")
    assert proc.returncode == 0, proc.stderr
    shown = " ".join(proc.stdout.replace("│", " ").split())
    assert f"default auto: {default}" in shown


def test_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "whynet", "--version"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout.startswith("whynet ")


def test_a_search_that_cannot_go_on_exits_1_with_one_line(tmp_path: Path) -> None:
    # Counts of about 1e30: they fit float32, but every network's squared
    # error overflows, so each trial really fails with a NaN loss.
    rng = np.random.default_rng(0)
    rows = ["a,b,count"] + [
        f"{rng.normal():.3f},{rng.normal():.3f},{rng.normal() * 1e30:.3e}" for _ in range(60)
    ]
    _write(tmp_path, "counts.csv", "\n".join(rows) + "\n")
    config = tiny_config(search__trials=10, search__max_consecutive_failures=2)
    config["data"] = {"source": "counts.csv", "target": "count", "task": "regression"}
    _write(tmp_path, "config.yaml", yaml.safe_dump(config))
    proc = _run(tmp_path, "run", "config.yaml", "--quiet")
    assert proc.returncode == 1, proc.stderr
    message = proc.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert message.startswith("search stopped: "), message
    assert "2 trials failed in a row" in message, message
    assert "Traceback" not in proc.stderr
    assert proc.stdout.strip() == ""
    study = optuna.load_study(
        study_name="tiny", storage=make_storage(str(tmp_path / "whynet.journal"))
    )
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 2
    assert [t.user_attrs["fail_reason"] for t in study.trials] == ["nan_loss"] * 2
