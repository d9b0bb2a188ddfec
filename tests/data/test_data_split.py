"""Splits, subsamples, task inference, preprocessing on train only, fingerprints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from whynet.data import from_arrays, from_frame


def _ids_as_images(n: int) -> np.ndarray:
    # Float "images" are kept as given, so each row carries its own index.
    return np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1)


def _row_ids(split_x: np.ndarray) -> np.ndarray:
    return split_x.reshape(len(split_x)).astype(np.int64)


def test_splits_partition_the_rows() -> None:
    n = 100
    ds = from_arrays(_ids_as_images(n), np.arange(n) % 4, seed=0)
    train, val, test = (_row_ids(s.x) for s in (ds.train, ds.val, ds.test))
    assert (len(train), len(val), len(test)) == (60, 20, 20)
    assert not set(train) & set(val) and not set(train) & set(test) and not set(val) & set(test)
    assert set(train) | set(val) | set(test) == set(range(n))
    # The targets travel with their rows.
    np.testing.assert_array_equal(ds.train.y, train % 4)


def test_split_sizes_follow_fractions() -> None:
    ds = from_arrays(_ids_as_images(200), np.arange(200) % 2, val_fraction=0.1, test_fraction=0.3)
    assert (ds.spec.n_train, ds.spec.n_val, ds.spec.n_test) == (120, 20, 60)


def test_split_is_stratified() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [500, 300, 200])
    ds = from_arrays(rng.normal(size=(1000, 2)), rng.permutation(y), seed=5)
    for split in (ds.train, ds.val, ds.test):
        shares = np.bincount(split.y) / len(split)
        np.testing.assert_allclose(shares, [0.5, 0.3, 0.2], atol=0.01)


def test_split_fixed_by_seed() -> None:
    x, y = _ids_as_images(150), np.arange(150) % 3
    a = from_arrays(x, y, seed=7)
    b = from_arrays(x, y, seed=7)
    c = from_arrays(x, y, seed=8)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(a, name).x, getattr(b, name).x)
        np.testing.assert_array_equal(getattr(a, name).y, getattr(b, name).y)
    assert not np.array_equal(a.test.x, c.test.x)


def test_n_samples_is_a_seeded_stratified_subsample() -> None:
    y = np.repeat([0, 1], [900, 100])
    x = _ids_as_images(1000)
    a = from_arrays(x, y, n_samples=200, seed=1)
    b = from_arrays(x, y, n_samples=200, seed=1)
    assert a.spec.n_train + a.spec.n_val + a.spec.n_test == 200
    all_y = np.concatenate([a.train.y, a.val.y, a.test.y])
    assert np.bincount(all_y).tolist() == [180, 20]
    np.testing.assert_array_equal(a.train.x, b.train.x)
    c = from_arrays(x, y, n_samples=200, seed=2)
    assert set(_row_ids(a.train.x)) != set(_row_ids(c.train.x))


def test_n_samples_keeps_rare_classes() -> None:
    # 1% of 100 rows would be one row of class 1; the split needs five.
    y = np.repeat([0, 1], [990, 10])
    ds = from_arrays(_ids_as_images(1000), y, n_samples=100, seed=0)
    all_y = np.concatenate([ds.train.y, ds.val.y, ds.test.y])
    assert np.bincount(all_y).tolist() == [95, 5]
    for split in (ds.train, ds.val, ds.test):
        assert set(split.y) == {0, 1}


def test_regression_split_and_subsample() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 3)), rng.normal(size=300)
    ds = from_arrays(x, y, n_samples=100, seed=0)
    assert ds.spec.task == "regression" and ds.spec.n_classes is None
    assert ds.train.y.dtype == np.float32
    assert ds.spec.n_train + ds.spec.n_val + ds.spec.n_test == 100


@pytest.mark.parametrize(
    ("y", "task", "names"),
    [
        (np.array(["b", "a", "c"] * 10), "classification", ("a", "b", "c")),
        (np.array([10, 2, 1] * 10), "classification", ("1", "2", "10")),
        (np.array([True, False] * 15), "classification", ("False", "True")),
        (np.array([0.0, 1.0, 2.0] * 10), "classification", ("0", "1", "2")),
        (np.arange(30) % 21, "regression", None),
        (np.linspace(0, 1, 30), "regression", None),
    ],
)
def test_task_inference(y: np.ndarray, task: str, names: tuple[str, ...] | None) -> None:
    ds = from_arrays(np.random.default_rng(0).normal(size=(30, 2)), y, seed=0)
    assert ds.spec.task == task
    assert ds.spec.class_names == names
    if names:
        # Labels are indices into the sorted class names.
        x_all = np.concatenate([ds.train.y, ds.val.y, ds.test.y])
        assert set(x_all) == set(range(len(names)))


def test_labels_map_to_sorted_class_indices() -> None:
    y = np.array(["dog", "cat", "emu"] * 10)
    ds = from_arrays(_ids_as_images(30), y, seed=0)
    names = ds.spec.class_names
    assert names == ("cat", "dog", "emu")
    original = y[_row_ids(ds.train.x)]
    assert [names[i] for i in ds.train.y] == original.tolist()


def test_forced_tasks() -> None:
    x = np.random.default_rng(0).normal(size=(40, 2))
    y = np.arange(40) % 4
    assert from_arrays(x, y, task="regression").spec.task == "regression"
    assert from_arrays(x, y * 0.5, task="classification").spec.class_names == (
        "0.0",
        "0.5",
        "1.0",
        "1.5",
    )


def test_standardization_uses_train_rows_only() -> None:
    rng = np.random.default_rng(0)
    n = 200
    x = rng.exponential(scale=3.0, size=(n, 2))
    ds = from_arrays(x, np.arange(n) % 2, seed=0)
    np.testing.assert_allclose(ds.train.x.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(ds.train.x.std(axis=0), 1.0, atol=1e-4)
    # Had the statistics come from all rows, all rows would have mean 0 instead.
    everything = np.concatenate([ds.train.x, ds.val.x, ds.test.x])
    assert np.abs(everything.mean(axis=0)).max() > 1e-3
    # And they are exactly the training rows' statistics.
    train_mask = np.zeros(n, dtype=bool)
    ids = from_arrays(_ids_as_images(n), np.arange(n) % 2, seed=0)
    train_mask[_row_ids(ids.train.x)] = True
    mean, std = x[train_mask].mean(axis=0), x[train_mask].std(axis=0)
    expected_test = (x[~train_mask] - mean) / std
    got = np.sort(ds.test.x[:, 0].tolist() + ds.val.x[:, 0].tolist())
    np.testing.assert_allclose(got, np.sort(expected_test[:, 0]), rtol=1e-5, atol=1e-5)


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "age": rng.exponential(20.0, size=n),
            "color": np.array(["red", "green", "blue"])[np.arange(n) % 3],
            "member": np.arange(n) % 2 == 0,
            "label": np.array(["yes", "no"])[(np.arange(n) // 3) % 2],
        }
    )


def test_frame_standardizes_numbers_and_one_hot_encodes_the_rest() -> None:
    ds = from_frame(_frame(), target="label", seed=0)
    names = ds.spec.feature_names
    assert names == (
        "age",
        "color_blue",
        "color_green",
        "color_red",
        "member_False",
        "member_True",
    )
    assert ds.spec.input_shape == (6,)
    assert ds.spec.class_names == ("no", "yes")
    age = ds.train.x[:, 0]
    assert abs(age.mean()) < 1e-5 and abs(age.std() - 1.0) < 1e-4
    everything = np.concatenate([ds.train.x, ds.val.x, ds.test.x])
    assert abs(everything[:, 0].mean()) > 1e-3
    # One-hot blocks: exactly one 1 per row in each categorical column.
    for split in (ds.train, ds.val, ds.test):
        np.testing.assert_array_equal(split.x[:, 1:4].sum(axis=1), 1.0)
        np.testing.assert_array_equal(split.x[:, 4:6].sum(axis=1), 1.0)
        assert set(np.unique(split.x[:, 1:])) <= {0.0, 1.0}


def test_category_unseen_in_train_encodes_as_zeros() -> None:
    frame = _frame()
    frame.loc[7, "color"] = "purple"
    for seed in range(50):
        ds = from_frame(frame, target="label", seed=seed)
        assert ds.spec.feature_names is not None
        if "color_purple" not in ds.spec.feature_names:
            break
    else:  # pragma: no cover
        pytest.fail("row 7 landed in the training split for every seed")
    held_out = np.concatenate([ds.val.x, ds.test.x])
    color_block = held_out[:, 1:4]
    assert (color_block.sum(axis=1) == 0).sum() == 1


def test_frame_with_numeric_column_names_and_regression() -> None:
    frame = pd.DataFrame({0: np.arange(30.0), 1: np.arange(30.0) ** 0.5, "y": np.arange(30.0) / 7})
    ds = from_frame(frame, target="y", seed=0)
    assert ds.spec.task == "regression"
    assert ds.spec.feature_names == ("0", "1")


def test_fingerprint_stable_and_sensitive() -> None:
    frame = _frame()
    base = from_frame(frame, target="label", seed=0).spec.fingerprint
    assert from_frame(frame.copy(), target="label", seed=0).spec.fingerprint == base
    assert from_frame(frame, target="label", seed=0, name="other").spec.fingerprint == base
    changed = frame.copy()
    changed["age"] = changed["age"].to_numpy() + np.eye(1, len(changed))[0]
    variants = [
        from_frame(changed, target="label", seed=0),
        from_frame(frame, target="label", seed=1),
        from_frame(frame, target="label", seed=0, val_fraction=0.25),
        from_frame(frame, target="label", seed=0, test_fraction=0.25),
        from_frame(frame, target="label", seed=0, n_samples=50),
        from_frame(frame.rename(columns={"age": "years"}), target="label", seed=0),
    ]
    prints = [v.spec.fingerprint for v in variants]
    assert base not in prints and len(set(prints)) == len(prints)


def test_fingerprint_of_arrays_depends_on_data_and_task() -> None:
    x = np.random.default_rng(0).normal(size=(40, 3))
    y = np.arange(40) % 4
    base = from_arrays(x, y).spec.fingerprint
    assert from_arrays(x.copy(), y.copy()).spec.fingerprint == base
    assert from_arrays(x.astype(np.float32), y).spec.fingerprint != base
    assert from_arrays(x, y, task="regression").spec.fingerprint != base
    x2 = x.copy()
    x2[3, 1] = 0.5
    assert from_arrays(x2, y).spec.fingerprint != base
