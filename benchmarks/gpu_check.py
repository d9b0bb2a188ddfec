"""GPU check: packed trials against plain Keras, on one NVIDIA GPU, JAX backend.

Runs, in one go and on the same synthetic data (32x32x3 images, 10 classes):

1. plain Keras training of a small CNN (2 conv + dense, batch 256) in 1 and in
   K concurrent processes, and
2. a whynet search whose space is fixed to that CNN, with ``trials_per_gpu``
   1 and K,

and prints the aggregate training throughput (samples/s) of each, with the
ratios the project's targets are stated in; then

3. a real out-of-memory error: plain JAX, then a whynet trial (in a worker
   process), each ask XLA for twice the GPU's memory. XLA's own
   ``RESOURCE_EXHAUSTED`` error (``JaxRuntimeError``, ``XlaRuntimeError`` in
   older JAX) must fail only that trial, with reason ``oom``, and the search
   must go on in a fresh worker to its requested number of trials.

Needs no TensorFlow::

    KERAS_BACKEND=jax python -m benchmarks.gpu_check --packed 4 --json out.json
    KERAS_BACKEND=jax python -m benchmarks.gpu_check --oom-only   # step 3 alone

Without a GPU, step 3 runs on the CPU instead (XLA asks for four times the
host's memory, which Linux refuses at once when it does not overcommit, its
default), so its whynet side can be checked anywhere.

Reference (plain Keras 3 on JAX, small CNN, batch 256, one H200): 136k
samples/s with one process, 431k in total with four (3.16x).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

N_TRAIN = 40_000
EPOCHS = 4
BATCH = 256


def _data(n: int, seed: int = 0) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.normal(size=(n, 32, 32, 3)).astype("float32") * 0.5
    x[np.arange(n), y % 32, :, :] += 1.0  # a learnable signal
    return x, y


def _plain_worker(epochs: int, barrier: Any, out: Any) -> None:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    import keras

    x, y = _data(N_TRAIN)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x[: BATCH * 4], y[: BATCH * 4], batch_size=BATCH, epochs=1, verbose=0)  # compile
    barrier.wait()
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0)
    out.put((N_TRAIN * epochs, time.perf_counter() - start))


def plain_keras(processes: int, epochs: int = EPOCHS) -> float:
    """Aggregate samples/s of ``processes`` concurrent plain Keras trainings."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(processes), ctx.Queue()
    procs = [
        ctx.Process(target=_plain_worker, args=(epochs, barrier, out)) for _ in range(processes)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    samples = sum(r[0] for r in results)
    return samples / max(r[1] for r in results)


def whynet_search(packed: int, trials: int, workdir: Path) -> float:
    """Aggregate training samples/s of a whynet search with ``packed`` trials per GPU."""
    import whynet
    from whynet.data import from_arrays

    x, y = _data(N_TRAIN + N_TRAIN // 2)
    dataset = from_arrays(x, y, val_fraction=0.2, test_fraction=0.133, seed=0)
    config = {
        "study": f"gpu-packed-{packed}",
        "training": {"max_epochs": EPOCHS, "early_stopping_patience": 0, "backend": "jax"},
        "search": {"trials": trials, "pruner": "none", "storage": str(workdir / "j.log")},
        "tracking": {"uri": f"sqlite:///{workdir / 'mlflow.db'}"},
        "output_dir": str(workdir / "runs"),
        "execution": {"trials_per_gpu": packed, "devices": "auto"},
        "space": {
            "architecture": "cnn",
            "cnn_blocks": 2,
            "cnn_filters": [32],
            "cnn_kernel_size": 3,
            "cnn_pooling": "max",
            "cnn_dense_units": 128,
            "activation": "relu",
            "regularization": "none",
            "optimizer": "adam",
            "learning_rate": 0.001,
            "batch_size": BATCH,
        },
    }
    from whynet.search import run_search

    cfg = whynet.config.parse_config(config)
    start = time.perf_counter()
    result = run_search(cfg, dataset=dataset, progress=False)
    wall = time.perf_counter() - start
    frame = result.trials
    samples = float((frame["epochs_run"].fillna(0) * dataset.spec.n_train).sum())
    train_time = float(frame["train_seconds"].fillna(0).sum())
    print(
        f"whynet k={packed}: {len(frame)} trials, {samples:.0f} samples, wall {wall:.1f}s, "
        f"summed trial time {train_time:.1f}s",
        flush=True,
    )
    return samples / wall


OOM_TRIALS = 3


def _oom_request_bytes() -> int:
    """Bytes that the device JAX allocates on cannot hold: twice a GPU's memory.

    On the CPU, four times the host's memory, and only where Linux refuses such
    an allocation at once (``vm.overcommit_memory`` 0 or 2) rather than
    granting it and letting the OOM killer end the process later.
    """
    import jax

    device = jax.devices()[0]
    if device.platform == "gpu":
        stats = device.memory_stats() or {}
        limit = int(stats.get("bytes_limit") or 0)
        if limit <= 0:
            raise RuntimeError(f"JAX reports no memory limit for {device}: {stats}")
        return 2 * limit
    mode = Path("/proc/sys/vm/overcommit_memory")
    if not mode.is_file() or mode.read_text().strip() not in ("0", "2"):
        raise RuntimeError(
            "no GPU, and this host overcommits memory (vm.overcommit_memory is not 0 or 2): "
            "an allocation past its memory would not fail at once, so the CPU OOM check "
            "does not run here"
        )
    return 4 * os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _allocate_past_memory() -> None:
    """Ask XLA for more memory than the device has (raises its OOM error)."""
    import jax.numpy as jnp

    floats = _oom_request_bytes() // 4 + 1
    jnp.zeros((floats,), dtype=jnp.float32).block_until_ready()


def plain_jax_oom() -> dict[str, Any]:
    """Plain JAX: the error XLA raises, and whether whynet calls it an OOM."""
    from whynet.trainers._keras import _is_oom

    try:
        _allocate_past_memory()
    except Exception as exc:
        return {
            "error_type": f"{type(exc).__module__}.{type(exc).__name__}",
            "message": str(exc)[:300],
            "whynet_says_oom": _is_oom(exc),
        }
    raise RuntimeError("allocating past the device's memory did not fail")


def oom_once_trainer(config: Any, slot: Any) -> Any:
    """A Keras trainer whose first trial of the search allocates past the device's memory.

    Module-level, so that whynet's worker processes can import it.
    """
    import keras

    from whynet.trainers import KerasTrainer

    marker = Path(config.output_dir) / "oom-once"

    class AllocatePastMemory(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.close(fd)
            _allocate_past_memory()

    return KerasTrainer(
        early_stopping_patience=0, device=slot.label, callbacks=lambda: [AllocatePastMemory()]
    )


def whynet_oom(workdir: Path, trials: int = OOM_TRIALS) -> dict[str, Any]:
    """A search whose first trial runs out of memory for real; the rest must complete."""
    import optuna

    import whynet
    from whynet.data import from_arrays
    from whynet.search import make_storage, run_search

    x, y = _data(2_000)
    dataset = from_arrays(x, y, val_fraction=0.2, test_fraction=0.2, seed=0)
    storage = str(workdir / "oom.log")
    config = {
        "study": "gpu-oom",
        "training": {"max_epochs": 1, "early_stopping_patience": 0, "backend": "jax"},
        "search": {"trials": trials, "pruner": "none", "storage": storage},
        "tracking": {"uri": f"sqlite:///{workdir / 'mlflow.db'}"},
        "output_dir": str(workdir / "runs"),
        # A worker process, as on a GPU, so that the OOM worker is replaced.
        "execution": {"workers": 1, "in_process": False},
        "space": {
            "architecture": "mlp",
            "mlp_layers": 1,
            "mlp_units": [32],
            "activation": "relu",
            "regularization": "none",
            "optimizer": "adam",
            "learning_rate": 0.001,
            "batch_size": BATCH,
        },
    }
    result = run_search(
        whynet.config.parse_config(config),
        dataset=dataset,
        progress=False,
        trainer_factory=oom_once_trainer,
    )
    study = optuna.load_study(study_name="gpu-oom", storage=make_storage(storage))
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    return {
        "counts": result.counts,
        "fail_reasons": [t.user_attrs.get("fail_reason") for t in failed],
        "errors": [str(t.user_attrs.get("error", ""))[:300] for t in failed],
        "states": [t.state.name for t in study.trials],
    }


def check_oom(workdir: Path) -> dict[str, Any]:
    """Step 3: a real XLA OOM, in plain JAX and in a whynet trial; raises on a miss."""
    plain = plain_jax_oom()
    print(f"plain JAX OOM: {plain}", flush=True)
    if not plain["whynet_says_oom"] or "RESOURCE_EXHAUSTED" not in plain["message"]:
        raise AssertionError(f"XLA's out-of-memory error is not classified as OOM: {plain}")
    search = whynet_oom(workdir)
    print(f"whynet OOM search: {search}", flush=True)
    expected = {"complete": OOM_TRIALS - 1, "pruned": 0, "failed": 1}
    if search["counts"] != expected or search["fail_reasons"] != ["oom"]:
        raise AssertionError(f"the OOM trial did not fail alone with reason 'oom': {search}")
    if "RESOURCE_EXHAUSTED" not in search["errors"][0]:
        raise AssertionError(f"the failed trial's error is not XLA's OOM: {search}")
    return {"plain": plain, "search": search}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packed", type=int, default=4, help="trials per GPU to compare with 1")
    parser.add_argument("--trials", type=int, default=8, help="trials per whynet search")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--oom-only", action="store_true", help="run only the out-of-memory check (step 3)"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "jax")
    if args.oom_only:
        with tempfile.TemporaryDirectory() as tmp:
            oom = check_oom(Path(tmp))
        print("OOM check passed", flush=True)
        if args.json:
            args.json.write_text(json.dumps({"oom": oom}, indent=2))
        return 0
    figures: dict[str, Any] = {}
    figures["plain_1"] = plain_keras(1)
    figures[f"plain_{args.packed}"] = plain_keras(args.packed)
    with tempfile.TemporaryDirectory() as tmp:
        figures["whynet_1"] = whynet_search(1, args.trials, Path(tmp) / "k1")
        figures[f"whynet_{args.packed}"] = whynet_search(args.packed, args.trials, Path(tmp) / "kN")
    k = args.packed
    figures["whynet_packing_speedup"] = figures[f"whynet_{k}"] / figures["whynet_1"]
    figures["whynet_vs_plain_at_k"] = figures[f"whynet_{k}"] / figures[f"plain_{k}"]
    for name, value in figures.items():
        print(f"{name:28s} {value:12.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        figures["oom"] = check_oom(Path(tmp))
    print("OOM check passed", flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
