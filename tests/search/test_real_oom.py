"""A real out-of-memory error from XLA's allocator, not a hand-made one."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_real_xla_out_of_memory_fails_only_that_trial(tmp_path: Path) -> None:
    # The GPU check's step 3, on the CPU: XLA asks for four times this host's
    # memory, which Linux refuses at once unless it overcommits. On a GPU
    # machine `python -m benchmarks.gpu_check` runs the same against the GPU.
    if importlib.util.find_spec("jax") is None:
        pytest.skip("needs JAX (pip install 'whynet[jax]')")
    mode = Path("/proc/sys/vm/overcommit_memory")
    if not mode.is_file() or mode.read_text().strip() not in ("0", "2"):
        pytest.skip("this host overcommits memory: an allocation past it would not fail at once")
    out = tmp_path / "oom.json"
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_check", "--oom-only", "--json", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "OOM check passed" in proc.stdout
    oom = json.loads(out.read_text())["oom"]
    assert oom["plain"]["whynet_says_oom"] is True
    assert "RESOURCE_EXHAUSTED" in oom["plain"]["message"]
    assert oom["plain"]["error_type"].endswith(("JaxRuntimeError", "XlaRuntimeError"))
    search = oom["search"]
    assert search["counts"] == {"complete": 2, "pruned": 0, "failed": 1}
    assert search["fail_reasons"] == ["oom"]
    assert "RESOURCE_EXHAUSTED" in search["errors"][0]
    assert search["states"] == ["FAIL", "COMPLETE", "COMPLETE"]
