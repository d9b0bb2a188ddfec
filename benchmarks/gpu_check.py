"""GPU check: packed trials against plain Keras, on one NVIDIA GPU, JAX backend.

Runs, in one go and on the same synthetic data (32x32x3 images, 10 classes):

1. plain Keras training of a small CNN (2 conv + dense, batch 256) in 1 and in
   K concurrent processes, and
2. a whynet search whose space is fixed to that CNN, with ``trials_per_gpu``
   1 and K,

and prints the aggregate training throughput (samples/s) of each, with the
ratios the project's targets are stated in. Needs no TensorFlow::

    KERAS_BACKEND=jax python -m benchmarks.gpu_check --packed 4 --json out.json

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packed", type=int, default=4, help="trials per GPU to compare with 1")
    parser.add_argument("--trials", type=int, default=8, help="trials per whynet search")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "jax")
    figures: dict[str, float] = {}
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
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
