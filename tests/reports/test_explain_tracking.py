"""The explanation's MLflow mirror and its progress display (no training)."""

from __future__ import annotations

import io
import logging
import math
import socket
import time
from pathlib import Path

import pytest

from whynet.reports._progress import ExplainProgress
from whynet.reports._tracking import ExplainTracker

ROW = {
    "group": "ablation",
    "factor": "activation",
    "level": "relu",
    "repeat": 1,
    "seed": 1,
    "variant": "",
    "score": 0.9,
    "val_score": 0.88,
    "fit_seconds": 1.5,
    "predict_seconds_per_1k": math.nan,
    "n_params": 100.0,
    "split_id": "abc",
}


def test_parent_run_child_runs_and_artifacts_in_a_real_store(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = ExplainTracker(tracking_uri=uri, experiment="study-x")
    tracker.start(study="study-x", tags={"whynet.budget": "small"}, params={"repeats": 2})
    tracker.log_fit(ROW)
    tracker.log_fit({**ROW, "level": "tanh", "score": math.nan})  # a failed fit: no score
    report = tmp_path / "report.html"
    report.write_text("<html></html>")
    tracker.log_artifacts([report])
    tracker.log_metrics({"leaderboard/network_tuned": 0.9})
    tracker.set_tag("whynet.answer", "No.")
    tracker.end()

    client = MlflowClient(uri)
    parent = client.get_run(tracker.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["whynet.kind"] == "explain"
    assert parent.data.tags["whynet.answer"] == "No."
    assert parent.data.params["repeats"] == "2"
    assert [a.path for a in client.list_artifacts(parent.info.run_id, "report")] == [
        "report/report.html"
    ]
    experiment = client.get_experiment_by_name("study-x")
    children = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert len(children) == 2 and tracker.children == 2
    by_level = {c.data.params["level"]: c for c in children}
    relu = by_level["relu"]
    assert relu.data.params["factor"] == "activation" and relu.data.params["seed"] == "1"
    assert relu.data.metrics["score"] == 0.9 and "predict_seconds_per_1k" not in relu.data.metrics
    assert "score" not in by_level["tanh"].data.metrics


def _refusing_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: connections are refused


def test_an_unreachable_mlflow_warns_once_and_never_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    uri = f"http://127.0.0.1:{_refusing_port()}"
    tracker = ExplainTracker(tracking_uri=uri, experiment="x", timeout_s=1)
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="whynet.reports"):
        tracker.start(study="x", tags={}, params={})
        for _ in range(5):
            tracker.log_fit(ROW)
        tracker.log_artifacts([Path("nothing.html")])
        tracker.end("FINISHED")
    assert tracker.parent_run_id is None and tracker.down
    warnings = [r for r in caplog.records if r.name == "whynet.reports"]
    assert len(warnings) == 1 and "goes on without logging to MLflow" in warnings[0].message
    assert time.monotonic() - start < 60


def test_progress_lines_count_fits_and_estimate_time_left() -> None:
    stream = io.StringIO()
    progress = ExplainProgress(total=4, stream=stream, live=False)
    with progress:
        progress.set_stage("ablations")
        progress.fit_done(ROW)
        assert progress.time_left() is not None
        progress.fit_done(ROW)
        progress.stage_done(4)  # a resumed stage: the rest were done before
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[whynet] 1/4 fits done (ablations") and "s left" in lines[0]
    assert lines[1].startswith("[whynet] 2/4 fits done")
    assert progress.done == 4


def test_progress_off_prints_nothing() -> None:
    stream = io.StringIO()
    progress = ExplainProgress(total=2, enabled=False, stream=stream)
    with progress:
        progress.message("hello")
        progress.fit_done(ROW)
    assert stream.getvalue() == ""


def test_the_public_path_is_light_and_complete() -> None:
    import subprocess
    import sys

    code = (
        "import sys, whynet, whynet.reports as r\n"
        "assert whynet.explain is r.explain and whynet.Explanation is r.Explanation\n"
        "from whynet.reports import write_report, summarize_levels, leaderboard, beats_simpler\n"
        "from whynet.reports import verdict, importance, plot_importance, plan_factors\n"
        "from whynet.reports import run_ablations, run_network_repeats, run_compute\n"
        "from whynet.reports import run_baselines, BUDGETS\n"
        "missing = [n for n in r.__all__ if not hasattr(r, n)]\n"
        "assert not missing, missing\n"
        "heavy = ('tensorflow', 'keras', 'mlflow', 'matplotlib', 'sklearn')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
