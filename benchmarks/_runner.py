"""Run every measurement in its own process and collect the results as JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks._measure import machine, versions
from benchmarks._tools import TOOLS

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
PARTS = ("search", "overhead", "scaling", "memory")


@dataclass(frozen=True)
class Settings:
    """Everything that sizes a benchmark run."""

    mode: str
    seeds: tuple[int, ...]
    datasets: tuple[str, ...]
    tools: tuple[str, ...]
    trials: int
    max_epochs: int
    overhead_epochs: int
    overhead_reps: int
    scaling_trials: int
    scaling_epochs: int
    memory_trials: int
    memory_reference_trial: int
    run_timeout_s: int
    parts: tuple[str, ...] = PARTS

    @classmethod
    def full(cls) -> Settings:
        return cls(
            mode="full",
            seeds=(0, 1, 2),
            datasets=("digits", "breast_cancer"),
            tools=tuple(TOOLS),
            trials=30,
            max_epochs=20,
            overhead_epochs=20,
            overhead_reps=5,
            scaling_trials=16,
            scaling_epochs=5,
            memory_trials=100,
            memory_reference_trial=10,
            run_timeout_s=1800,
        )

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            mode="quick",
            seeds=(0,),
            datasets=("digits", "breast_cancer"),
            tools=tuple(TOOLS),
            trials=3,
            max_epochs=2,
            overhead_epochs=2,
            overhead_reps=2,
            scaling_trials=4,
            scaling_epochs=1,
            memory_trials=12,
            memory_reference_trial=4,
            run_timeout_s=600,
        )


@dataclass
class Runner:
    """Starts each measurement as ``python -m benchmarks._child`` in a fresh temp folder."""

    settings: Settings
    out_path: Path
    keep_workdirs: bool = False
    runs: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            TF_CPP_MIN_LOG_LEVEL="3",
            KERAS_BACKEND="tensorflow",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            PYTHONWARNINGS="ignore",
            MLFLOW_LOGGING_LEVEL="WARNING",
        )
        # Every run tracks into its own working directory, never a shared server.
        env.pop("MLFLOW_TRACKING_URI", None)
        return env

    def run_one(self, task: dict[str, Any]) -> dict[str, Any]:
        """Run one task in a child process; never raises for a failed run."""
        label = " ".join(f"{k}={v}" for k, v in task.items() if k != "kind")
        print(f"[{self.elapsed():7.1f}s] {task['kind']:<8} {label}", flush=True)
        workdir = Path(tempfile.mkdtemp(prefix="whynet-bench-"))
        task_path = workdir / "task.json"
        result_path = workdir / "result.json"
        task_path.write_text(
            json.dumps({**task, "workdir": str(workdir), "result_path": str(result_path)})
        )
        log_path = workdir / "output.log"
        start = time.perf_counter()
        try:
            with log_path.open("wb") as log:
                proc = subprocess.run(
                    [sys.executable, "-m", "benchmarks._child", str(task_path)],
                    cwd=workdir,
                    env=self._env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=self.settings.run_timeout_s,
                    check=False,
                )
            if result_path.is_file():
                result = json.loads(result_path.read_text())
            else:
                tail = log_path.read_text(errors="replace")[-3000:]
                result = {"status": "error", "error": f"exit code {proc.returncode}", "log": tail}
        except subprocess.TimeoutExpired:
            result = {"status": "error", "error": f"timed out after {self.settings.run_timeout_s}s"}
        result["process_wall_s"] = time.perf_counter() - start
        if result.get("status") == "error" and "log" not in result and log_path.is_file():
            result["log"] = log_path.read_text(errors="replace")[-3000:]
        if self.keep_workdirs:
            result["workdir"] = str(workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        record = {**task, **result}
        self.runs.append(record)
        self._print_result(record)
        self.save()
        return record

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @staticmethod
    def _print_result(r: dict[str, Any]) -> None:
        status = r.get("status")
        if status != "ok":
            print(f"           -> {status}: {r.get('error') or r.get('note')}", flush=True)
            return
        bits = [f"{r['process_wall_s']:.1f}s process"]
        if "wall_s" in r:
            bits.append(f"{r['wall_s']:.1f}s measured")
        if r.get("test_accuracy") is not None:
            bits.append(f"test {r['test_accuracy']:.3f}")
        if r.get("peak_rss_mb"):
            bits.append(f"peak {r['peak_rss_mb']:.0f} MiB")
        print("           -> " + ", ".join(bits), flush=True)

    def save(self) -> None:
        payload = {
            "mode": self.settings.mode,
            "settings": asdict(self.settings),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["python -m benchmarks", *sys.argv[1:]]),
            "machine": machine(),
            "versions": versions(),
            "total_s": self.elapsed(),
            "runs": self.runs,
        }
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, indent=1, default=str) + "\n")
        tmp.replace(self.out_path)

    def run_all(self) -> None:
        """Searches (seed by seed, tools interleaved), then overhead, scaling, memory."""
        s = self.settings
        if "search" in s.parts:
            for seed in s.seeds:
                for dataset in s.datasets:
                    for tool in s.tools:
                        self.run_one(
                            {
                                "kind": "search",
                                "tool": tool,
                                "dataset": dataset,
                                "seed": seed,
                                "trials": s.trials,
                                "max_epochs": s.max_epochs,
                            }
                        )
        if "overhead" in s.parts:
            self.run_one({"kind": "overhead", "epochs": s.overhead_epochs, "reps": s.overhead_reps})
        if "scaling" in s.parts:
            for workers in (1, 2):
                self.run_one(
                    {
                        "kind": "scaling",
                        "workers": workers,
                        "trials": s.scaling_trials,
                        "epochs": s.scaling_epochs,
                    }
                )
        if "memory" in s.parts:
            self.run_one(
                {
                    "kind": "memory",
                    "trials": s.memory_trials,
                    "reference_trial": s.memory_reference_trial,
                }
            )
        self.save()
