"""Built-in data sets: scikit-learn's (offline) and Keras' (downloaded once, cached)."""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from whynet.data._build import RawData
from whynet.data._preprocess import ArrayStandardizer, ImageScaler
from whynet.exceptions import DataError

OFFLINE_DATASETS = (
    "digits",
    "iris",
    "wine",
    "breast_cancer",
    "synthetic_classification",
    "synthetic_regression",
)
KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10")
BUILTIN_DATASETS: tuple[str, ...] = OFFLINE_DATASETS + KERAS_DATASETS

_TASKS = {name: "classification" for name in BUILTIN_DATASETS} | {
    "synthetic_regression": "regression"
}
_DIGITS = tuple(str(i) for i in range(10))
_CLASS_NAMES = {
    "mnist": _DIGITS,
    "fashion_mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    "cifar10": (
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ),
}
# Where keras.datasets.<name>.load_data() caches its files, under <keras home>/datasets.
_KERAS_FILES = {
    "mnist": ("mnist.npz",),
    "fashion_mnist": tuple(
        f"fashion-mnist/{f}"
        for f in (
            "train-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
        )
    ),
    "cifar10": ("cifar-10-batches-py-target_archive",),
}


def unknown_source_message(source: str) -> str:
    """The message for a source that is neither built in nor an existing path."""
    close = difflib.get_close_matches(source.lower(), BUILTIN_DATASETS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"unknown data source {source!r}: it is neither a built-in data set nor an existing "
        f"file or folder.{hint} Built-in data sets: {', '.join(BUILTIN_DATASETS)}; or give "
        "the path to a .csv, .parquet or .npz file or to a folder of images with one "
        "sub-folder per class."
    )


def _check_task(name: str, task: str) -> None:
    fixed = _TASKS[name]
    if task not in ("auto", fixed):
        raise DataError(
            f"built-in data set {name!r} is a {fixed} data set, but the task is {task!r}. "
            f"Set `task: {fixed}` (or `auto`), or choose another data set."
        )


def _tabular(name: str, loader: Callable[[], Any]) -> RawData:
    bunch = loader()
    x = np.asarray(bunch.data)
    y = np.asarray(bunch.target)
    return RawData(
        name=name,
        x=x,
        y=pd.Series(y),
        preprocessor=ArrayStandardizer([str(f) for f in bunch.feature_names], name=name),
        raw_parts=[name, x, y],
        target_what=f"the target of {name}",
        classes=tuple(str(c) for c in bunch.target_names),
    )


def _digits() -> RawData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.asarray(bunch.images)[..., None]
    y = np.asarray(bunch.target)
    return RawData(
        name="digits",
        x=x,
        y=pd.Series(y),
        preprocessor=ImageScaler(16.0, name="digits"),
        raw_parts=["digits", x, y],
        target_what="the target of digits",
        classes=_DIGITS,
    )


def _synthetic(name: str, *, n_samples: int, n_features: int, seed: int) -> RawData:
    from sklearn.datasets import make_classification, make_regression

    names = [f"x{i}" for i in range(n_features)]
    classes: tuple[str, ...] | None = None
    if name == "synthetic_classification":
        if n_features < 2:
            raise DataError(
                "synthetic_classification needs at least 2 features for its 3 classes, but "
                f"`n_features` is {n_features}. Set `data.n_features` to 2 or more."
            )
        informative = min(n_features, max(2, n_features // 2))
        x, y = make_classification(
            n_samples=n_samples,
            n_features=n_features,
            n_informative=informative,
            n_redundant=min(n_features - informative, n_features // 4),
            n_classes=3,
            n_clusters_per_class=1 if informative < 3 else 2,
            random_state=seed,
        )
        classes = ("0", "1", "2")
    else:
        x, y = make_regression(
            n_samples=n_samples,
            n_features=n_features,
            n_informative=min(n_features, 10),
            noise=5.0,
            random_state=seed,
        )
    settings = f"{name}:n_samples={n_samples}:n_features={n_features}:seed={seed}"
    return RawData(
        name=name,
        x=x,
        y=pd.Series(y),
        preprocessor=ArrayStandardizer(names, name=name),
        raw_parts=[settings, x, y],
        target_what=f"the target of {name}",
        classes=classes,
        fixed_size=True,
    )


def keras_cache_dir() -> str:
    """The folder where Keras keeps downloaded data sets, as Keras resolves it."""
    from whynet.trainers._backend import import_keras

    import_keras()  # quietly: the import below imports the backend too
    try:
        from keras.src.backend.config import keras_home

        base = str(keras_home())
    except ImportError:  # pragma: no cover - older Keras layouts
        base = os.environ.get("KERAS_HOME", os.path.join("~", ".keras"))
    base = os.path.expanduser(base)
    if not os.access(base, os.W_OK):
        # Keras falls back to a temporary folder when its home is not writable.
        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return os.path.join(base, "datasets")


def _keras(name: str) -> RawData:
    from whynet.trainers._backend import import_keras

    keras = import_keras()

    cache = keras_cache_dir()
    files = [os.path.join(cache, f) for f in _KERAS_FILES[name]]
    cached = all(os.path.exists(f) for f in files)
    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as exc:  # Keras raises a bare Exception when a download fails
        reason = " ".join(str(exc).split()) or type(exc).__name__
        fix = (
            f"On a machine with internet run "
            f'`python -c "import keras; keras.datasets.{name}.load_data()"`, then copy '
            f"{', '.join(_KERAS_FILES[name])} from its ~/.keras/datasets/ (or "
            f"$KERAS_HOME/datasets/) to {cache}/ here; or use an offline built-in data set "
            f"({', '.join(OFFLINE_DATASETS)})."
        )
        if cached:
            raise DataError(
                f"built-in data set {name!r} is in the Keras cache ({', '.join(files)}) but "
                f"cannot be read, and it cannot be downloaded again ({reason}). {fix}"
            ) from None
        raise DataError(
            f"built-in data set {name!r} is not in the Keras cache and cannot be downloaded "
            f"({reason}). {fix}"
        ) from None
    x = np.concatenate([x_train, x_test])
    y = np.concatenate([np.ravel(y_train), np.ravel(y_test)])
    if x.ndim == 3:
        x = x[..., None]
    return RawData(
        name=name,
        x=x,
        y=pd.Series(y),
        preprocessor=ImageScaler(255.0, name=name),
        raw_parts=[name, x, y],
        target_what=f"the labels of {name}",
        classes=_CLASS_NAMES[name],
    )


def read_builtin(
    name: str, *, task: str, n_samples: int | None, n_features: int, seed: int
) -> RawData:
    """Load a built-in data set's raw arrays.

    Args:
        name: One of :data:`BUILTIN_DATASETS`.
        task: The configured task; must be ``auto`` or the set's own task.
        n_samples: Size of a synthetic set (default 1000); ignored by the others.
        n_features: Features of a synthetic set.
        seed: Seeds a synthetic set.

    Raises:
        DataError: If the set is unknown, the task does not fit, or a Keras set
            is neither cached nor downloadable.
    """
    if name not in BUILTIN_DATASETS:
        raise DataError(unknown_source_message(name))
    _check_task(name, task)
    if name == "digits":
        return _digits()
    if name in ("iris", "wine", "breast_cancer"):
        from sklearn import datasets

        return _tabular(name, getattr(datasets, f"load_{name}"))
    if name in ("synthetic_classification", "synthetic_regression"):
        size = 1000 if n_samples is None else n_samples
        return _synthetic(name, n_samples=size, n_features=n_features, seed=seed)
    return _keras(name)
