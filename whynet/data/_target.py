"""Task inference and label encoding of the target."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from whynet.data._dataset import Task
from whynet.exceptions import DataError

TASKS = ("auto", "classification", "regression")

# An integer target with at most this many distinct values is read as classes
# when the task is ``auto``.
MAX_AUTO_CLASSES = 20


@dataclass(frozen=True)
class Target:
    """An encoded target.

    Attributes:
        y: ``int64`` class indices (classification) or ``float32`` values.
        task: The resolved task.
        class_names: Class labels as strings, in index order (classification).
        labels: The original class values (``"yes"``, ``3``, ``True``, ...), in
            index order, to decode predictions (classification).
    """

    y: np.ndarray
    task: Task
    class_names: tuple[str, ...] | None
    labels: tuple[Any, ...] | None = None


def check_task(task: str) -> None:
    """Raise a :class:`DataError` unless ``task`` is a known task name."""
    if task not in TASKS:
        raise DataError(f"unknown task {task!r}: use one of {', '.join(repr(t) for t in TASKS)}.")


def _is_number(series: pd.Series) -> bool:
    return bool(
        pd.api.types.is_numeric_dtype(series)
        and not pd.api.types.is_bool_dtype(series)
        and not pd.api.types.is_complex_dtype(series)
    )


def _check_complete(series: pd.Series, what: str) -> None:
    missing = series.isna().to_numpy(dtype=bool)
    if _is_number(series):
        missing = missing | ~np.isfinite(series.to_numpy(dtype=np.float64, na_value=np.nan))
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise DataError(
            f"{what} has missing or infinite values in {int(missing.sum())} row(s) "
            f'(first at row index {first}). Set `data.missing: drop` (`missing="drop"` in '
            "Python) to drop those rows, or fill in the values before loading."
        )


def missing_target(series: pd.Series, *, task: str) -> np.ndarray:
    """Rows whose target is missing, infinite or, for ``task: regression``, not a number.

    These are the rows ``data.missing: drop`` drops.
    """
    missing = series.isna().to_numpy(dtype=bool)
    if _is_number(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return missing | ~np.isfinite(values)
    if task == "regression" and not (
        pd.api.types.is_bool_dtype(series) or pd.api.types.is_complex_dtype(series)
    ):
        try:
            coerced = pd.to_numeric(series, errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
        except (TypeError, ValueError, OverflowError):  # values pandas cannot convert
            return missing
        return missing | ~np.isfinite(coerced)
    return missing


def _resolve(series: pd.Series, task: str) -> Task:
    if task == "classification":
        return "classification"
    if task == "regression":
        return "regression"
    if not _is_number(series):
        return "classification"
    values = series.to_numpy(dtype=np.float64)
    integral = bool(np.all(values == np.floor(values)))
    if integral and np.unique(values).size <= MAX_AUTO_CLASSES:
        return "classification"
    return "regression"


def _regression_values(series: pd.Series, what: str) -> np.ndarray:
    if _is_number(series) or pd.api.types.is_bool_dtype(series):
        return _float32(series.to_numpy(dtype=np.float64), what)
    if pd.api.types.is_complex_dtype(series):
        raise DataError(
            f"{what} holds complex numbers, which cannot be a regression target. Predict the "
            "real and imaginary parts (or the magnitude) as separate targets."
        )
    coerced = pd.to_numeric(series, errors="coerce")
    bad = coerced.isna().to_numpy(dtype=bool) & series.notna().to_numpy(dtype=bool)
    if bad.any():
        example = series.iloc[int(np.flatnonzero(bad)[0])]
        raise DataError(
            f"{what} has non-numeric values in {int(bad.sum())} row(s) (e.g. {example!r}), but "
            "the task is regression. Set `task: classification` (or `auto`) to predict it as "
            'classes, set `data.missing: drop` (`missing="drop"` in Python) to drop those '
            "rows, or fix those values."
        )
    values = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.all(np.isfinite(values)):
        _check_complete(pd.Series(values), what)
    return _float32(values, what)


def _float32(values: np.ndarray, what: str) -> np.ndarray:
    """The target as float32; values beyond its range (about 3.4e38) are refused."""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(values, dtype=np.float32)
    if not np.all(np.isfinite(out)):
        example = values[int(np.flatnonzero(~np.isfinite(out))[0])]
        raise DataError(
            f"{what} has values too large for float32 (e.g. {float(example):g}), but the task is "
            "regression. Rescale the target (e.g. divide by a constant or take a log) "
            "before loading."
        )
    return out


def _class_values(series: pd.Series) -> np.ndarray:
    """Values whose ``np.unique`` order is the natural order of the labels."""
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=bool)
    if _is_number(series):
        values = series.to_numpy(dtype=np.float64)
        # Integral values become int64 labels only where int64 holds them exactly.
        if np.all(values == np.floor(values)) and np.all(np.abs(values) < 2.0**63):
            return values.astype(np.int64)
        return values
    return np.asarray(as_text(series).astype(str))


def as_text(series: pd.Series) -> np.ndarray:
    """The values as text (an object array), as pandas writes them.

    Bytes that are not UTF-8, which pandas cannot decode, are written as
    Python writes them (``b'\\x80'``).
    """
    try:
        return series.astype(str).to_numpy(dtype=object)
    except UnicodeDecodeError:
        return np.array([str(v) for v in series], dtype=object)


def encode_target(
    y: pd.Series,
    *,
    task: str,
    what: str,
    classes: Sequence[str] | None = None,
) -> Target:
    """Resolve the task and encode the target.

    Args:
        y: The raw target, one value per row.
        task: ``auto``, ``classification`` or ``regression``.
        what: How messages name the target, e.g. ``"target column 'price'"``.
        classes: For targets that are already class indices ``0..k-1``, the
            names of those classes; the task is then classification.

    Returns:
        The encoded target.

    Raises:
        DataError: If the target has missing values, or is not numeric for a
            regression task.
    """
    check_task(task)
    _check_complete(y, what)
    if classes is not None:
        if task == "regression":
            raise DataError(
                f"{what} holds class labels, so it cannot be a regression target. "
                "Set `task: classification` (or `auto`)."
            )
        codes = y.to_numpy(dtype=np.int64)
        return Target(np.ascontiguousarray(codes), "classification", tuple(classes), tuple(classes))
    resolved = _resolve(y, task)
    if resolved == "regression":
        return Target(_regression_values(y, what), "regression", None)
    values = _class_values(y)
    uniques, codes = np.unique(values, return_inverse=True)
    names = tuple(str(u) for u in uniques.tolist())
    codes = np.ascontiguousarray(codes.astype(np.int64).ravel())
    return Target(codes, "classification", names, tuple(uniques.tolist()))
