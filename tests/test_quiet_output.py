"""Nothing but whynet's own lines on a machine without a GPU, on every path.

The subprocesses run without the log-level variables the rest of the suite
sets, as a user's shell would.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
import yaml

from whynet.testing import tiny_config, written_files

REPO = Path(__file__).resolve().parent.parent
# TensorFlow, XLA, CUDA, absl and gRPC start-up lines, as they look.
NOISE = re.compile(
    r"cuInit|oneDNN|absl|cuda|cuDNN|TensorFlow|tensorflow/|E0000|W0000|I0000|"
    r"^[IWEF]\d{4} |Creating initial MLflow|INFO mlflow",
    re.IGNORECASE | re.MULTILINE,
)
_QUIET_VARS = (
    "TF_CPP_MIN_LOG_LEVEL",
    "TF_ENABLE_ONEDNN_OPTS",
    "GRPC_VERBOSITY",
    "GLOG_minloglevel",
)


def _user_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _QUIET_VARS}
    return {**env, "COLUMNS": "200", **extra}


def _whynet(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "whynet", *args],
        cwd=workdir,
        env=_user_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _noise(text: str) -> list[str]:
    return [line for line in text.splitlines() if NOISE.search(line)]


@pytest.mark.parametrize(
    "backend",
    [
        "tensorflow",
        pytest.param(
            "jax",
            marks=pytest.mark.skipif(find_spec("jax") is None, reason="needs jax"),
        ),
    ],
)
def test_a_run_prints_only_whynets_lines(tmp_path: Path, backend: str) -> None:
    if backend == "tensorflow":
        # A worker process (its start-up imports the framework), then the best
        # model tested in the search process (`_finish` imports Keras there).
        execution = {"execution__workers": 1, "execution__in_process": False}
    else:
        # In process; Keras imports TensorFlow on the JAX backend too (to seed it).
        execution = {}
    config = tiny_config(
        search__trials=1, training__max_epochs=1, training__backend=backend, **execution
    )
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    proc = _whynet(tmp_path, "run", "c.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not _noise(proc.stderr), proc.stderr
    assert not _noise(proc.stdout), proc.stdout
    assert "trial 0 complete" in proc.stderr


def test_errors_are_one_whynet_line_without_framework_noise(tmp_path: Path) -> None:
    # A bad config value: refused before any framework is imported.
    bad = tiny_config(training__max_epochs="lots")
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    proc = _whynet(tmp_path, "run", "bad.yaml")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()], proc.stderr
    assert proc.stderr.startswith("error: invalid config 'bad.yaml'")

    # A built-in Keras data set that is not cached and cannot be downloaded
    # (an empty Keras home, a proxy nobody listens on): Keras, and with it
    # TensorFlow, is imported before the error.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    config = tiny_config(data__source="mnist", search__trials=1)
    del config["data"]["n_samples"]
    (tmp_path / "mnist.yaml").write_text(yaml.safe_dump(config))
    proc = _whynet(
        tmp_path,
        "run",
        "mnist.yaml",
        KERAS_HOME=str(tmp_path.parent / f"{tmp_path.name}-keras-home"),
        HTTPS_PROXY=dead,
        https_proxy=dead,
        NO_PROXY="",
        no_proxy="",
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: built-in data set 'mnist' is not in the Keras cache")
    assert not [f for f in written_files(tmp_path) if not f.endswith(".yaml")]


def test_the_makefile_install_check_is_quiet(tmp_path: Path) -> None:
    makefile = (REPO / "Makefile").read_text()
    [check] = [
        line.strip().lstrip("@")
        for line in makefile.splitlines()
        if "import whynet" in line and "install failed" in line
    ]
    # The check as make runs it, with this interpreter for $(PY).
    command = check.replace("$(PY)", shlex.quote(sys.executable))
    proc = subprocess.run(
        ["bash", "-c", command],
        cwd=tmp_path,
        env=_user_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "" and proc.stderr == "", proc.stderr
