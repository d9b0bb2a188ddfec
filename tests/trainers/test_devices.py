"""Slot plans, checked by what each worker is given, with fake GPU lists."""

from __future__ import annotations

import pytest

from whynet.config import ExecutionConfig
from whynet.exceptions import ConfigError
from whynet.trainers._devices import auto_cpu_workers, plan_slots


def test_cpu_only_short_search_gets_one_worker_with_all_cores() -> None:
    [slot] = plan_slots(ExecutionConfig(), gpus=[], cpu_count=8, trials=10, memory_gib=64)
    assert slot.kind == "cpu" and slot.threads == 8 and slot.label == "cpu x8"
    env = slot.env("tensorflow")
    assert env["CUDA_VISIBLE_DEVICES"] == ""  # no GPU leaks into a CPU worker
    assert env["TF_NUM_INTRAOP_THREADS"] == "8" and env["OMP_NUM_THREADS"] == "8"
    assert env["KERAS_BACKEND"] == "tensorflow"


@pytest.mark.parametrize(
    ("cores", "trials", "timeout", "memory_gib", "expected"),
    [
        (2, 30, None, 24, 2),  # one per core
        (16, 1000, None, 256, 8),  # at most 8
        (16, 1000, None, 7, 3),  # 2 GiB each
        (16, 24, None, 256, 3),  # 8 trials per worker
        (2, 7, None, 24, 1),  # too short to repay a second start-up
        (2, 1000, 60, 24, 1),  # a time limit under two minutes
        (2, 1000, 600, 24, 2),
        (1, 1000, None, 24, 1),
        (4, 1000, None, 1, 1),  # little memory: still one
    ],
)
def test_auto_cpu_workers(
    cores: int, trials: int, timeout: float | None, memory_gib: float, expected: int
) -> None:
    got = auto_cpu_workers(cores=cores, trials=trials, timeout=timeout, memory_gib=memory_gib)
    assert got == expected
    slots = plan_slots(
        ExecutionConfig(),
        gpus=[],
        cpu_count=cores,
        trials=trials,
        timeout=timeout,
        memory_gib=memory_gib,
    )
    assert len(slots) == expected
    assert all(s.kind == "cpu" and s.threads == max(1, cores // expected) for s in slots)


def test_cpu_workers_split_the_cores() -> None:
    slots = plan_slots(ExecutionConfig(workers=2), gpus=[], cpu_count=2)
    assert [s.threads for s in slots] == [1, 1]
    assert all(s.env("jax")["OMP_NUM_THREADS"] == "1" for s in slots)
    slots = plan_slots(ExecutionConfig(workers=3, devices="cpu"), gpus=[0, 1], cpu_count=12)
    assert [s.kind for s in slots] == ["cpu"] * 3 and slots[0].threads == 4


def test_one_trial_per_gpu_uses_every_gpu() -> None:
    slots = plan_slots(ExecutionConfig(), gpus=[0, 1, 2, 3], cpu_count=16)
    assert [s.gpus for s in slots] == [(0,), (1,), (2,), (3,)]
    envs = [s.env("tensorflow") for s in slots]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0", "1", "2", "3"]
    assert all(e["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID" for e in envs)
    assert all(e["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" for e in envs)
    assert [s.threads for s in slots] == [4, 4, 4, 4]


def test_k_trials_packed_per_gpu() -> None:
    slots = plan_slots(ExecutionConfig(trials_per_gpu=4), gpus=[0], cpu_count=16)
    assert len(slots) == 4 and {s.gpus for s in slots} == {(0,)}
    assert [s.label for s in slots] == [f"gpu:0 ({i}/4)" for i in range(1, 5)]
    env = slots[0].env("jax")
    assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert env["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.225"
    # Fewer workers than slots spread over the GPUs rather than stacking on one.
    two = plan_slots(ExecutionConfig(trials_per_gpu=2, workers=2), gpus=[0, 1], cpu_count=8)
    assert [s.gpus for s in two] == [(0,), (1,)]


def test_n_gpus_per_trial_groups_gpus() -> None:
    slots = plan_slots(ExecutionConfig(gpus_per_trial=2), gpus=[0, 1, 2, 3, 4], cpu_count=8)
    assert [s.gpus for s in slots] == [(0, 1), (2, 3)]  # GPU 4 is left over
    assert slots[0].env("tensorflow")["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert slots[0].label == "gpu:0,1"


def test_a_list_of_gpu_ids_uses_those() -> None:
    slots = plan_slots(ExecutionConfig(devices=(2, 3)), gpus=[0, 1, 2, 3], cpu_count=8)
    assert [s.gpus for s in slots] == [(2,), (3,)]


@pytest.mark.parametrize(
    ("execution", "gpus", "needle"),
    [
        (ExecutionConfig(devices=(5,)), [0, 1], "GPU id(s) [5] are not on this host"),
        (ExecutionConfig(gpus_per_trial=3), [0, 1], "3 GPUs per trial, but only 2"),
        (ExecutionConfig(workers=3), [0, 1], "3 workers, but the devices give 2 slot(s)"),
        (ExecutionConfig(trials_per_gpu=2), [], "need GPUs, and none is in use"),
    ],
)
def test_impossible_plans_are_user_errors(execution, gpus, needle) -> None:
    with pytest.raises(ConfigError) as info:
        plan_slots(execution, gpus=gpus, cpu_count=4)
    assert needle in str(info.value)


def test_packing_and_spanning_exclude_each_other() -> None:
    from whynet.config import parse_config

    with pytest.raises(ConfigError, match="set one of them to 1"):
        parse_config({"execution": {"trials_per_gpu": 2, "gpus_per_trial": 2}})
