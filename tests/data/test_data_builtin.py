"""Built-in offline data sets, loaded for real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from whynet.config import DataConfig
from whynet.data import BUILTIN_DATASETS, Dataset, load_dataset
from whynet.exceptions import DataError

REPO = Path(__file__).resolve().parents[2]

# name -> (task, input shape, n_classes, rows)
EXPECTED = {
    "digits": ("classification", (8, 8, 1), 10, 1797),
    "iris": ("classification", (4,), 3, 150),
    "wine": ("classification", (13,), 3, 178),
    "breast_cancer": ("classification", (30,), 2, 569),
    "synthetic_classification": ("classification", (20,), 3, 1000),
    "synthetic_regression": ("regression", (20,), None, 1000),
}


def _check_arrays(ds: Dataset) -> None:
    for split in (ds.train, ds.val, ds.test):
        assert split.x.dtype == np.float32
        assert split.x.flags.c_contiguous and split.y.flags.c_contiguous
        assert split.y.shape == (len(split),)
        expected_y = np.int64 if ds.spec.task == "classification" else np.float32
        assert split.y.dtype == expected_y
        assert np.all(np.isfinite(split.x))


def test_builtin_names() -> None:
    assert set(EXPECTED) | {"mnist", "fashion_mnist", "cifar10"} == set(BUILTIN_DATASETS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_builtin_shapes_dtypes_task(name: str) -> None:
    task, shape, n_classes, rows = EXPECTED[name]
    ds = load_dataset(DataConfig(source=name), seed=0)
    spec = ds.spec
    assert spec.name == name
    assert spec.task == task
    assert spec.input_shape == shape
    assert spec.is_image == (len(shape) == 3)
    assert spec.n_classes == n_classes
    assert spec.n_train + spec.n_val + spec.n_test == rows
    assert (spec.n_train, spec.n_val, spec.n_test) == (len(ds.train), len(ds.val), len(ds.test))
    assert ds.train.x.shape[1:] == shape
    assert len(spec.fingerprint) == 16
    int(spec.fingerprint, 16)
    _check_arrays(ds)
    if n_classes is not None:
        assert spec.class_names is not None and len(spec.class_names) == n_classes
        for split in (ds.train, ds.val, ds.test):
            assert set(np.unique(split.y)) == set(range(n_classes))
    else:
        assert spec.class_names is None


def test_digits_scaled_to_unit_range() -> None:
    ds = load_dataset(DataConfig(source="digits"), seed=0)
    assert ds.spec.class_names == tuple(str(i) for i in range(10))
    assert ds.spec.feature_names is None
    assert ds.train.x.min() == 0.0 and ds.train.x.max() == 1.0


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer"])
def test_tabular_builtins_standardized_on_train(name: str) -> None:
    ds = load_dataset(DataConfig(source=name), seed=1)
    np.testing.assert_allclose(ds.train.x.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(ds.train.x.std(axis=0), 1.0, atol=1e-4)
    assert ds.spec.feature_names is not None
    assert len(ds.spec.feature_names) == ds.spec.input_shape[0]


def test_iris_names() -> None:
    spec = load_dataset(DataConfig(source="iris"), seed=0).spec
    assert spec.class_names == ("setosa", "versicolor", "virginica")
    assert spec.feature_names is not None and spec.feature_names[0] == "sepal length (cm)"


def test_synthetic_follows_config_and_seed() -> None:
    cfg = DataConfig(source="synthetic_classification", n_samples=200, n_features=7)
    ds = load_dataset(cfg, seed=3)
    assert ds.spec.input_shape == (7,)
    assert ds.spec.n_train + ds.spec.n_val + ds.spec.n_test == 200
    again = load_dataset(cfg, seed=3)
    np.testing.assert_array_equal(ds.train.x, again.train.x)
    assert ds.spec.fingerprint == again.spec.fingerprint
    other = load_dataset(cfg, seed=4)
    assert ds.spec.fingerprint != other.spec.fingerprint

    reg_cfg = DataConfig(source="synthetic_regression", n_samples=50, n_features=2)
    reg = load_dataset(reg_cfg, seed=0)
    assert reg.spec.task == "regression" and reg.spec.input_shape == (2,)
    assert reg.spec.n_train + reg.spec.n_val + reg.spec.n_test == 50


def test_n_samples_subsamples_builtin_stratified() -> None:
    ds = load_dataset(DataConfig(source="digits", n_samples=300), seed=0)
    assert ds.spec.n_train + ds.spec.n_val + ds.spec.n_test == 300
    counts = np.bincount(np.concatenate([ds.train.y, ds.val.y, ds.test.y]), minlength=10)
    # digits has about 180 rows of each class: a stratified subsample keeps ~30 each.
    assert counts.min() >= 28 and counts.max() <= 32


def test_builtin_task_must_match() -> None:
    expected = r"'iris' is a classification data set.*`task: classification`"
    with pytest.raises(DataError, match=expected):
        load_dataset(DataConfig(source="iris", task="regression"), seed=0)


def test_synthetic_classification_needs_two_features() -> None:
    cfg = DataConfig(source="synthetic_classification", n_features=1)
    with pytest.raises(DataError, match=r"at least 2 features.*`data.n_features`"):
        load_dataset(cfg, seed=0)


def test_import_does_not_import_keras() -> None:
    code = (
        "import sys, whynet.data; "
        "bad = [m for m in ('keras', 'tensorflow') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
