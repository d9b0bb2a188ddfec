"""Compute resources: only the devices the machine has, each fit in its own process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from whynet.config import RunConfig
from whynet.reports._compute import NO_GPU_NOTE, compute_levels, run_compute
from whynet.reports._repeats import repeat_dataset
from whynet.spaces import TrialParams
from whynet.trainers._devices import detect_gpus


def test_levels_follow_the_gpus_the_machine_has() -> None:
    assert compute_levels([]) == [("CPU only", ())]
    assert compute_levels([3]) == [("CPU only", ()), ("1 GPU", (3,))]
    assert [label for label, _ in compute_levels([0, 1, 2, 3])] == [
        "CPU only",
        "1 GPU",
        "all GPUs (4)",
    ]


def test_compute_measures_time_to_best_throughput_and_accuracy(tmp_path: Path) -> None:
    config = RunConfig(seed=1, data={"source": "iris"}, training={"max_epochs": 2})
    params = TrialParams(units=(8,), epochs=2)
    seen: list[dict[str, Any]] = []
    storage = str(tmp_path / "explain.log")
    table = run_compute(
        config, params, repeats=1, storage=storage, study_prefix="c", on_fit=seen.append
    )
    gpus = detect_gpus()
    assert list(table["level"]) == [label for label, _ in compute_levels(gpus)]
    assert set(table["group"]) == {"compute"} and set(table["factor"]) == {"compute"}
    cpu = table.iloc[0]
    assert cpu["level"] == "CPU only" and cpu["selected"]
    assert cpu["device"].startswith("cpu x")  # trained in a process that saw no GPU
    assert 0 <= cpu["score"] <= 1 and cpu["metric"] == "test_accuracy"
    assert 0 < cpu["seconds_to_best"] <= cpu["fit_seconds"]
    assert cpu["samples_per_second"] > 0
    assert cpu["split_id"] == repeat_dataset(config, 0)[1]
    if not gpus:
        assert table.attrs["note"] == NO_GPU_NOTE
    assert len(seen) == len(table)
    # Resumed: nothing is trained again.
    again = run_compute(
        config, params, repeats=1, storage=storage, study_prefix="c", on_fit=seen.append
    )
    assert len(seen) == len(table) and again["score"].equals(table["score"])


def test_throughput_leaves_out_the_first_epoch_that_builds_the_model() -> None:
    from whynet.reports._ablations import _throughput

    # 100 rows; the first epoch ends at 5 s (building, tracing), then 1 s each.
    assert _throughput(100, [5.0, 6.0, 7.0], 7.5) == 100.0
    assert _throughput(100, [2.0], 2.0) == 50.0  # one epoch: over the whole fit
