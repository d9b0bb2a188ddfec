"""Every bad input gives one DataError line that names the problem and the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from whynet.config import DataConfig
from whynet.data import from_arrays, from_frame, load_dataset
from whynet.exceptions import DataError, UserError


def _message(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    with pytest.raises(DataError) as info:
        fn(*args, **kwargs)
    error = info.value
    assert isinstance(error, UserError) and isinstance(error, ValueError)
    message = str(error)
    assert "\n" not in message, message
    # No chained pandas/sklearn/numpy traceback.
    assert error.__cause__ is None
    assert error.__suppress_context__ or error.__context__ is None
    return message


def _load(source: str | Path, **config: Any) -> str:
    return _message(load_dataset, DataConfig(source=str(source), **config), seed=0)


def _people(n: int = 30) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": np.arange(n, dtype=float),
            "color": np.array(["red", "blue", "green"])[np.arange(n) % 3],
            "label": np.array(["yes", "no"])[np.arange(n) % 2],
        }
    )


# Sources that do not exist or are not supported.


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    message = _load(path)
    assert str(path) in message and "does not exist" in message
    assert "built-in data set (digits, iris" in message
    assert ".csv, .parquet or .npz file" in message and "folder of images" in message


def test_missing_folder(tmp_path: Path) -> None:
    message = _load(tmp_path / "photos" / "train")
    assert str(tmp_path / "photos" / "train") in message and "does not exist" in message


def test_unknown_builtin_suggests_nearest() -> None:
    message = _load("minst")
    assert "unknown data source 'minst'" in message
    assert "Did you mean 'mnist'?" in message
    assert "fashion_mnist" in message and ".parquet" in message


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "table.xlsx"
    path.write_bytes(b"not really a spreadsheet")
    message = _load(path)
    assert str(path) in message and "unsupported file type '.xlsx'" in message
    assert ".csv, .parquet and .npz" in message


# Tables: target.


def test_csv_without_target(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    _people().to_csv(path, index=False)
    message = _load(path)
    assert "set `data.target`" in message
    assert "'age', 'color', 'label'" in message


def test_missing_target_column(tmp_path: Path) -> None:
    path = tmp_path / "people.parquet"
    _people().to_parquet(path)
    message = _load(path, target="lable")
    assert "target column 'lable' is not in people.parquet" in message
    assert "Did you mean 'label'?" in message
    assert "'age', 'color', 'label'" in message


def test_non_numeric_target_for_regression(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    _people().to_csv(path, index=False)
    message = _load(path, target="label", task="regression")
    assert "target column 'label' has non-numeric values in 30 row(s) (e.g. 'yes')" in message
    assert "task is regression" in message and "`task: classification`" in message
    assert "`data.missing: drop`" in message


def test_mostly_numeric_target_names_the_bad_value() -> None:
    frame = _people().assign(price=["1.5"] * 20 + ["n/a"] + ["2.5"] * 9)
    message = _message(from_frame, frame.drop(columns="label"), target="price", task="regression")
    assert "e.g. 'n/a'" in message


# Empty data.


def test_empty_csv_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    message = _load(path, target="label")
    assert str(path) in message and "is empty" in message


def test_csv_whitespace_only(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("\n\n")
    message = _load(path, target="label")
    assert "is empty (no header and no rows)" in message


def test_csv_header_only(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("age,color,label\n")
    message = _load(path, target="label")
    assert "has a header but no rows" in message and "'label'" in message
    assert "Add data rows" in message


def test_empty_parquet(tmp_path: Path) -> None:
    path = tmp_path / "none.parquet"
    _people().iloc[:0].to_parquet(path)
    message = _load(path, target="label")
    assert "has columns but no rows" in message


def test_empty_arrays_and_frames(tmp_path: Path) -> None:
    message = _message(from_arrays, np.zeros((0, 3)), np.zeros(0))
    assert "arrays is empty: it has no rows" in message
    message = _message(from_frame, _people().iloc[:0], target="label", name="people")
    assert "people is empty: it has no rows" in message
    path = tmp_path / "nothing.npz"
    np.savez(path, x=np.zeros((0, 2)), y=np.zeros(0))
    assert "nothing.npz is empty" in _load(path)
    path = tmp_path / "zero.npz"
    path.write_bytes(b"")
    assert "zero.npz is empty (0 bytes)" in _load(path)


# Classes.


def test_class_too_small() -> None:
    frame = _people(40)
    frame.loc[[3, 9], "label"] = "maybe"
    message = _message(from_frame, frame, target="label", name="survey")
    assert "class 'maybe' of survey has 2 row(s)" in message
    assert "needs at least 5 rows per class" in message
    assert "Remove that class or collect more rows" in message


def test_class_minimum_follows_fractions() -> None:
    y = np.array([0] * 40 + [1] * 9)
    message = _message(from_arrays, np.zeros((49, 2)), y, val_fraction=0.1, test_fraction=0.1)
    assert "class '1' of arrays has 9 row(s)" in message and "at least 10 rows" in message


def test_single_class() -> None:
    message = _message(from_arrays, np.zeros((20, 2)), np.array(["cat"] * 20))
    assert "single class ('cat')" in message and "at least two" in message


def test_n_samples_too_small_for_classes() -> None:
    y = np.arange(200) % 10
    message = _message(from_arrays, np.zeros((200, 2)), y, n_samples=20)
    assert "`n_samples` = 20 is too small for the 10 classes" in message
    assert "at least 50" in message


def test_too_few_rows_for_regression() -> None:
    message = _message(from_arrays, np.zeros((2, 1)), np.array([0.5, 1.5]), task="regression")
    assert "arrays has 2 row(s), too few to split" in message and "at least 3" in message


# Missing and infinite values: imputed by default (tests/data/test_data_missing.py);
# refused with `data.missing: error`, and where they cannot be imputed.


def test_nan_in_array_features() -> None:
    x = np.ones((30, 4))
    x[2, 1] = np.nan
    x[5, 3] = np.inf
    message = _message(from_arrays, x, np.arange(30) % 2, missing="error")
    assert "NaN or infinite feature values in 2 row(s)" in message
    assert "feature index(es) 1, 3" in message and "first at row index 2" in message
    assert "`data.missing: impute`" in message and "`data.missing: drop`" in message


def test_nan_in_images() -> None:
    x = np.zeros((30, 4, 4, 1))
    x[7, 0, 0, 0] = np.nan
    message = _message(from_arrays, x, np.arange(30) % 2, missing="error")
    assert "NaN or infinite feature values in 1 row(s)" in message and "row index 7" in message
    message = _message(from_arrays, x, np.arange(30) % 2)
    assert "NaN or infinite values in 1 image(s) (first at row index 7)" in message
    assert "cannot impute" in message and "`data.missing: drop`" in message


def test_missing_values_in_csv_columns(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text(
        "age,color,label\n"
        + "".join(f"{i},red,{'yes' if i % 2 else 'no'}\n" for i in range(20))
        + ",blue,yes\ninf,,no\n3,,yes\n"
    )
    message = _load(path, target="label", missing="error")
    assert "gaps.csv has missing or infinite values in column(s)" in message
    assert "'age' (2 row(s)), 'color' (2 row(s))" in message
    assert "`data.missing: impute`" in message


def test_missing_target_values() -> None:
    frame = _people()
    frame.loc[[4, 8], "label"] = None
    message = _message(from_frame, frame, target="label")
    assert "target column 'label' has missing or infinite values in 2 row(s)" in message
    assert "first at row index 4" in message and "`data.missing: drop`" in message


def test_drop_leaving_no_rows() -> None:
    frame = _people().assign(age=np.nan)
    message = _message(from_frame, frame, target="label", missing="drop", name="survey")
    assert "every one of the 30 rows of survey has a missing value" in message
    assert "`data.missing: impute`" in message
    message = _message(from_arrays, np.zeros((30, 2)), np.r_[np.arange(29.0), np.inf])
    assert "y of arrays has missing or infinite values in 1 row(s)" in message


# Arrays.


def test_length_mismatch() -> None:
    message = _message(from_arrays, np.zeros((10, 2)), np.zeros(9))
    assert "x has 10 rows, y has 9" in message and "one target value per row" in message


def test_non_numeric_x() -> None:
    message = _message(from_arrays, np.array([["a", "b"]] * 10), np.arange(10) % 2)
    assert "must be numeric" in message and "from_frame" in message


def test_y_with_several_columns() -> None:
    message = _message(from_arrays, np.zeros((10, 2)), np.zeros((10, 3)))
    assert "shape (10, 3)" in message and "y.argmax(axis=1)" in message


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"val_fraction": 0.0}, "`val_fraction` must be a number between 0 and 1"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "must be below 0.9"),
        ({"seed": -1}, "`seed` must be an integer"),
        ({"n_samples": 0}, "`n_samples` must be a positive integer"),
        ({"task": "ranking"}, "unknown task 'ranking'"),
    ],
)
def test_bad_settings(kwargs: dict[str, Any], text: str) -> None:
    assert text in _message(from_arrays, np.zeros((30, 2)), np.arange(30) % 2, **kwargs)


# NPZ files.


def test_npz_missing_array(tmp_path: Path) -> None:
    path = tmp_path / "arrays.npz"
    np.savez(path, x=np.zeros((5, 2)), labels=np.zeros(5))
    message = _load(path)
    assert "has no array 'y' (arrays found: 'x', 'labels')" in message
    assert "np.savez(path, x=x, y=y)" in message


def test_npz_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "broken.npz"
    path.write_bytes(b"this is not a zip archive")
    message = _load(path)
    assert f"cannot read {path} as NPZ" in message


# Unreadable tables.


def test_csv_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3,4,5,6\n")
    message = _load(path, target="b")
    assert f"cannot read {path} as CSV: Error tokenizing data" in message
    assert "Expected 2 fields in line 3, saw 4" in message


def test_csv_not_text(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"a,b\n\xff\xfe\x00,1\n")
    assert f"cannot read {path} as CSV" in _load(path, target="b")


def test_parquet_garbage(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 nothing to see here")
    message = _load(path, target="b")
    assert f"cannot read {path} as Parquet" in message


# Frame columns.


def test_unsupported_column_type() -> None:
    frame = _people().assign(when=pd.date_range("2024-01-01", periods=30))
    message = _message(from_frame, frame, target="label")
    assert "column 'when'" in message and "datetime64" in message and "drop it" in message


def test_only_a_target_column() -> None:
    message = _message(from_frame, _people()[["label"]], target="label")
    assert "no feature columns besides the target 'label'" in message


def test_duplicate_columns() -> None:
    frame = _people()
    frame.columns = ["age", "age", "label"]
    assert "duplicate column names: 'age'" in _message(from_frame, frame, target="label")


# Image folders (no Keras needed: checked before it is imported).


def test_image_folder_without_class_folders(tmp_path: Path) -> None:
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.png").write_bytes(b"")
    message = _load(tmp_path / "flat")
    assert "has no sub-folders" in message and "one sub-folder of images per class" in message


def test_a_folder_that_is_not_an_image_data_set_fails_before_it_is_walked(tmp_path: Path) -> None:
    root = tmp_path / "home"
    (root / "photos").mkdir(parents=True)
    (root / "photos" / "a.png").write_bytes(b"")
    (root / "src" / "deep" / "deeper").mkdir(parents=True)  # images only far below
    (root / "src" / "deep" / "deeper" / "b.png").write_bytes(b"")
    (root / "notes").mkdir()
    (root / "notes" / "todo.txt").write_text("x")
    message = _load(root)
    assert "is not an image folder" in message
    assert "notes" in message and "src" in message and "photos" not in message
