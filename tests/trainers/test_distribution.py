"""One trial over two devices on the CPU: TensorFlow MirroredStrategy and JAX
DataParallel, each in a fresh process because devices are fixed at import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    backend = sys.argv[1]
    if backend == "tensorflow":
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        devices = ["/cpu:0", "/cpu:1"]
    else:
        devices = None  # all host devices: XLA_FLAGS makes two
    import keras
    from whynet.config import DataConfig
    from whynet.data import load_dataset
    from whynet.spaces import TrialParams
    from whynet.trainers import KerasTrainer

    data = load_dataset(DataConfig(source="digits"), seed=0).training_data()
    params = TrialParams(units=(64,), epochs=8, batch_size=64, learning_rate=0.005)
    out = {}
    for distribute in (False, True):
        trainer = KerasTrainer(early_stopping_patience=0, distribute=distribute,
                               devices=devices if distribute else None)
        result = trainer.fit(params, data, report=lambda e, m: None, seed=0).result
        out["multi" if distribute else "single"] = {
            "score": result.score, "replicas": trainer.replicas}
        if backend == "jax" and distribute:
            keras.distribution.set_distribution(None)
        trainer.release()
    print("RESULT" + json.dumps(out))
    """
)


def _run(backend: str, extra_env: dict[str, str]) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", **extra_env}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, backend],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT"))
    return json.loads(line[len("RESULT") :])


def test_mirrored_strategy_over_two_logical_cpus() -> None:
    out = _run("tensorflow", {})
    assert out["multi"]["replicas"] == 2 and out["single"]["replicas"] == 1
    assert out["multi"]["score"] > 0.9
    assert abs(out["multi"]["score"] - out["single"]["score"]) < 0.05


def test_jax_data_parallel_over_two_host_devices() -> None:
    pytest.importorskip("jax")
    out = _run("jax", {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert out["multi"]["replicas"] == 2
    assert out["multi"]["score"] > 0.9
    assert abs(out["multi"]["score"] - out["single"]["score"]) < 0.05
