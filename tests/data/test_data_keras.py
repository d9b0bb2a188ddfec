"""Keras data sets through the real ``keras.datasets`` loaders and a local cache.

Keras reads ``KERAS_HOME`` once, when it is imported, so each case runs in a
fresh interpreter with ``KERAS_HOME`` pointing at a cache this test writes.
Fashion-MNIST's files carry no hash check, so small files in its format stand
in for the real ones. MNIST's file is hash-checked, so an empty cache shows the
error; an unreachable proxy makes any download attempt fail at once.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
import numpy as np
from whynet.config import DataConfig
from whynet.data import load_dataset
from whynet.exceptions import DataError

out = {}
for key, source, n_samples in (
    ("fashion", "fashion_mnist", None),
    ("fashion_small", "fashion_mnist", 60),
    ("mnist", "mnist", None),
    ("cifar10", "cifar10", None),
):
    try:
        ds = load_dataset(DataConfig(source=source, n_samples=n_samples), seed=0)
    except DataError as exc:
        out[key] = {"error": str(exc)}
        continue
    out[key] = {
        "spec": {k: v for k, v in vars(ds.spec).items()},
        "x_dtype": str(ds.train.x.dtype),
        "y_dtype": str(ds.train.y.dtype),
        "x_range": [float(ds.train.x.min()), float(ds.train.x.max())],
        "labels": sorted(set(int(v) for s in (ds.train, ds.val, ds.test) for v in s.y)),
        "counts": np.bincount(np.concatenate([ds.train.y, ds.val.y, ds.test.y])).tolist(),
        "pixels_match_labels": all(
            bool((np.abs(s.x.reshape(len(s), -1).max(axis=1) * 255 - 10 * s.y) < 1e-3).all())
            for s in (ds.train, ds.val, ds.test)
        ),
    }
with open(sys.argv[1], "w") as f:
    json.dump(out, f)
"""

N_TRAIN, N_TEST = 120, 30


def _write_idx(path: Path, header: int, payload: np.ndarray) -> None:
    with gzip.open(path, "wb") as f:
        f.write(b"\x00" * header + payload.astype(np.uint8).tobytes())


def _fake_fashion_cache(home: Path) -> None:
    folder = home / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        labels = np.arange(n) % 10
        # Every image is filled with its label, so rows can be traced.
        images = np.repeat(labels, 28 * 28).reshape(n, 28, 28)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", 8, labels)
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", 16, images * 10)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("keras_home")
    _fake_fashion_cache(home)
    # Not the real archive: its hash does not match, so Keras tries to download it again.
    (home / "datasets" / "cifar-10-batches-py-target_archive").write_bytes(b"not a tar file")
    out = home.parent / "results.json"
    env = dict(os.environ)
    env.update(
        KERAS_HOME=str(home),
        KERAS_BACKEND="tensorflow",
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        NO_PROXY="",
        no_proxy="",
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data: dict[str, Any] = json.loads(out.read_text())
    data["home"] = str(home)
    return data


def test_fashion_mnist_from_local_cache(results: dict[str, Any]) -> None:
    fashion = results["fashion"]
    assert "error" not in fashion, fashion
    spec = fashion["spec"]
    assert spec["task"] == "classification"
    assert tuple(spec["input_shape"]) == (28, 28, 1)
    assert spec["n_classes"] == 10 and spec["class_names"][0] == "T-shirt/top"
    # Keras' own train/test split is merged and split again, stratified.
    assert (spec["n_train"], spec["n_val"], spec["n_test"]) == (90, 30, 30)
    assert fashion["labels"] == list(range(10))
    assert fashion["counts"] == [15] * 10
    # Each image is filled with 10 x its label: images and labels stay paired.
    assert fashion["pixels_match_labels"]
    assert fashion["x_dtype"] == "float32" and fashion["y_dtype"] == "int64"
    assert fashion["x_range"][0] >= 0.0 and fashion["x_range"][1] == pytest.approx(90 / 255)


def test_fashion_mnist_n_samples(results: dict[str, Any]) -> None:
    small = results["fashion_small"]
    assert "error" not in small, small
    spec = small["spec"]
    assert (spec["n_train"], spec["n_val"], spec["n_test"]) == (36, 12, 12)
    assert small["counts"] == [6] * 10
    assert small["pixels_match_labels"]
    assert spec["fingerprint"] != results["fashion"]["spec"]["fingerprint"]


def test_mnist_not_cached_and_not_downloadable(results: dict[str, Any]) -> None:
    message = results["mnist"]["error"]
    cache = os.path.join(results["home"], "datasets")
    assert "data set 'mnist' is not in the Keras cache and cannot be downloaded" in message
    assert "keras.datasets.mnist.load_data()" in message
    assert "copy mnist.npz from its ~/.keras/datasets/" in message
    assert cache in message
    assert "offline built-in data set (digits, iris" in message
    assert "\n" not in message


def test_cifar10_cached_but_unreadable(results: dict[str, Any]) -> None:
    message = results["cifar10"]["error"]
    assert "built-in data set 'cifar10' is in the Keras cache" in message
    assert "cifar-10-batches-py-target_archive" in message and "cannot be read" in message
    assert "keras.datasets.cifar10.load_data()" in message and "digits" in message
