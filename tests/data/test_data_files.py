"""User files (CSV, Parquet, NPZ, image folders) and arrays, written here and read for real."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from whynet.config import DataConfig
from whynet.data import Dataset, from_arrays, from_frame, load_dataset


def _table(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "height": rng.normal(170.0, 10.0, size=n),
            "shoe": np.arange(n) % 5 + 38,
            "city": np.array(["Oslo", "Lima", "Pune", "Kyiv"])[np.arange(n) % 4],
            "smoker": np.arange(n) % 3 == 0,
            "label": np.array(["low", "high"])[np.arange(n) % 2],
        }
    )


def _check_table(ds: Dataset, name: str) -> None:
    spec = ds.spec
    assert spec.name == name
    assert spec.task == "classification"
    assert spec.class_names == ("high", "low")
    assert spec.feature_names == (
        "height",
        "shoe",
        "city_Kyiv",
        "city_Lima",
        "city_Oslo",
        "city_Pune",
        "smoker_False",
        "smoker_True",
    )
    assert spec.input_shape == (8,)
    assert (spec.n_train, spec.n_val, spec.n_test) == (24, 8, 8)
    assert ds.train.x.dtype == np.float32 and ds.train.y.dtype == np.int64
    np.testing.assert_allclose(ds.train.x[:, :2].mean(axis=0), 0.0, atol=1e-5)


def test_csv(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    _table().to_csv(path, index=False)
    cfg = DataConfig(source=str(path), target="label")
    ds = load_dataset(cfg, seed=0)
    _check_table(ds, "people.csv")
    assert load_dataset(cfg, seed=0).spec.fingerprint == ds.spec.fingerprint


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "people.parquet"
    _table().to_parquet(path, index=False)
    ds = load_dataset(DataConfig(source=str(path), target="label"), seed=0)
    _check_table(ds, "people.parquet")


def test_csv_regression_and_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = _table().assign(price=np.linspace(1.0, 9.0, 40)).drop(columns="label")
    table.to_csv(tmp_path / "prices.csv", index=False)
    monkeypatch.chdir(tmp_path)
    ds = load_dataset(DataConfig(source="prices.csv", target="price"), seed=0)
    assert ds.spec.task == "regression" and ds.spec.n_classes is None
    assert ds.train.y.dtype == np.float32
    assert ds.spec.input_shape == (8,)


def test_frame_matches_csv_content(tmp_path: Path) -> None:
    ds = from_frame(_table(), target="label", name="people", seed=0)
    _check_table(ds, "people")


@pytest.mark.parametrize(("x_key", "y_key"), [("x", "y"), ("X", "y"), ("X", "Y")])
def test_npz_tabular(tmp_path: Path, x_key: str, y_key: str) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "arrays.npz"
    arrays: dict[str, Any] = {x_key: rng.normal(size=(50, 4)), y_key: np.arange(50) % 2}
    np.savez(path, **arrays)
    ds = load_dataset(DataConfig(source=str(path)), seed=0)
    assert ds.spec.name == "arrays.npz"
    assert ds.spec.input_shape == (4,) and ds.spec.n_classes == 2
    assert ds.spec.feature_names == ("x0", "x1", "x2", "x3")


def test_npz_grayscale_images_get_channel_axis(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(60, 9, 7), dtype=np.uint8)
    x[0, 0, 0], x[1, 0, 0] = 0, 255
    path = tmp_path / "images.npz"
    np.savez_compressed(path, x=x, y=np.array(["a", "b", "c"] * 20))
    ds = load_dataset(DataConfig(source=str(path)), seed=0)
    assert ds.spec.input_shape == (9, 7, 1) and ds.spec.is_image
    assert ds.spec.class_names == ("a", "b", "c")
    everything = np.concatenate([ds.train.x, ds.val.x, ds.test.x])
    assert everything.min() == 0.0 and everything.max() == 1.0


def test_arrays_color_images_and_float_images() -> None:
    rng = np.random.default_rng(0)
    x8 = rng.integers(0, 256, size=(40, 5, 5, 3), dtype=np.uint8)
    ds = from_arrays(x8, np.arange(40) % 2)
    assert ds.spec.input_shape == (5, 5, 3)
    assert ds.train.x.min() >= 0.0 and ds.train.x.max() <= 1.0
    assert ds.spec.feature_names is None
    xf = rng.random(size=(40, 5, 5, 3)).astype(np.float64)
    ds = from_arrays(xf, np.arange(40) % 2, seed=0)
    everything = np.sort(np.concatenate([ds.train.x, ds.val.x, ds.test.x]).ravel())
    np.testing.assert_allclose(everything, np.sort(xf.astype(np.float32).ravel()))


def test_arrays_one_dimensional_x_is_one_feature() -> None:
    ds = from_arrays(np.arange(30.0), np.arange(30) % 3)
    assert ds.spec.input_shape == (1,)


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    root = tmp_path_factory.mktemp("images") / "pets"
    rng = np.random.default_rng(0)
    for label, shade in (("cats", 40), ("dogs", 200)):
        (root / label).mkdir(parents=True)
        for i in range(6):
            pixels = np.clip(rng.normal(shade, 10.0, size=(10, 12, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(root / label / f"{i}.png")
    return root


def test_image_folder_at_its_own_size(image_root: Path) -> None:
    ds = load_dataset(DataConfig(source=str(image_root)), seed=0)
    assert ds.spec.input_shape == (10, 12, 3)
    assert ds.notes == ("Images: 10x12, 3 channels (RGB), their own size.",)


def test_image_folder(image_root: Path) -> None:
    cfg = DataConfig(source=str(image_root), image_size=(16, 20))
    ds = load_dataset(cfg, seed=0)
    spec = ds.spec
    assert spec.name == "pets"
    assert spec.input_shape == (16, 20, 3) and spec.is_image
    assert spec.class_names == ("cats", "dogs") and spec.n_classes == 2
    assert (spec.n_train, spec.n_val, spec.n_test) == (8, 2, 2)
    for split in (ds.train, ds.val, ds.test):
        assert split.x.dtype == np.float32 and split.y.dtype == np.int64
        assert split.x.min() >= 0.0 and split.x.max() <= 1.0
        assert set(split.y) == {0, 1}
        # Dark images are cats (0), bright ones dogs (1).
        np.testing.assert_array_equal(split.x.mean(axis=(1, 2, 3)) > 0.5, split.y == 1)
    assert load_dataset(cfg, seed=0).spec.fingerprint == spec.fingerprint
    assert load_dataset(cfg, seed=1).spec.fingerprint != spec.fingerprint


def test_image_folder_errors(tmp_path: Path, image_root: Path) -> None:
    from PIL import Image

    from whynet.exceptions import DataError

    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    (empty / "b").mkdir()
    with pytest.raises(DataError, match=r"sub-folders \(a, b\) hold no images\. Put \.jpeg"):
        load_dataset(DataConfig(source=str(empty)), seed=0)

    single = tmp_path / "single"
    (single / "only").mkdir(parents=True)
    for i in range(6):
        Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(single / "only" / f"{i}.png")
    with pytest.raises(DataError, match=r"single class \('only'\)"):
        load_dataset(DataConfig(source=str(single)), seed=0)

    few = tmp_path / "few"
    for label, count in (("big", 6), ("tiny", 2)):
        (few / label).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(few / label / f"{i}.png")
    with pytest.raises(DataError, match=r"class 'tiny' of few has 2 row\(s\)"):
        load_dataset(DataConfig(source=str(few)), seed=0)

    broken = tmp_path / "broken"
    for label in ("a", "b"):
        (broken / label).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(broken / label / f"{i}.png")
    (broken / "b" / "5.png").write_bytes(b"not an image")
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(source=str(broken)), seed=0)
    message = str(info.value)
    assert "cannot read image b/5.png in image folder" in message
    assert "not an image file Pillow can read" in message and "re-save it" in message
    assert "\n" not in message
