"""Preprocessors: checked on all rows, fitted on the training rows only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from whynet.data._target import as_text
from whynet.exceptions import DataError

Features = np.ndarray | pd.DataFrame


class BasePreprocessor(Protocol):
    """Turns raw features into float32 arrays.

    ``validate`` sees all rows before the split; ``fit`` sees the training rows
    only; ``transform`` is applied to every split.
    """

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        """Names of the output features (tabular data), else ``None``."""
        ...

    def validate(self, x: Any) -> None:
        """Raise a :class:`DataError` if ``x`` cannot be used."""
        ...

    def fit(self, x: Any) -> None:
        """Learn statistics from the training rows."""
        ...

    def transform(self, x: Any) -> np.ndarray:
        """Return the features as a contiguous float32 array."""
        ...


def _finite_rows(x: np.ndarray, name: str, per_feature: bool) -> None:
    if not np.issubdtype(x.dtype, np.floating):
        return
    flat = x.reshape(len(x), -1)
    bad = ~np.isfinite(flat)
    if not bad.any():
        return
    rows = bad.any(axis=1)
    first = int(np.flatnonzero(rows)[0])
    where = ""
    if per_feature:
        cols = np.flatnonzero(bad.any(axis=0))
        shown = ", ".join(str(int(c)) for c in cols[:10]) + (", ..." if len(cols) > 10 else "")
        where = f" at feature index(es) {shown};"
    raise DataError(
        f"{name} has NaN or infinite feature values in {int(rows.sum())} row(s){where} "
        f"first at row index {first}. Impute them (e.g. with the column mean) or drop those "
        "rows before loading."
    )


class ImageScaler:
    """Divides pixel values by a fixed scale (255 for 8-bit images)."""

    def __init__(self, scale: float, *, name: str) -> None:
        self.scale = float(scale)
        self.name = name

    @property
    def feature_names(self) -> None:
        return None

    def validate(self, x: np.ndarray) -> None:
        _finite_rows(x, self.name, per_feature=False)

    def fit(self, x: np.ndarray) -> None:
        pass

    def transform(self, x: np.ndarray) -> np.ndarray:
        out = np.asarray(x, dtype=np.float32)
        if self.scale != 1.0:
            out = out / np.float32(self.scale)
        return np.ascontiguousarray(out, dtype=np.float32)


class ArrayStandardizer:
    """Standardizes each column of a 2-D array with training statistics."""

    def __init__(self, feature_names: Sequence[str], *, name: str) -> None:
        self._names = tuple(feature_names)
        self.name = name
        self._scaler: Any = None

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self._names

    def validate(self, x: np.ndarray) -> None:
        _finite_rows(x, self.name, per_feature=True)

    def fit(self, x: np.ndarray) -> None:
        from sklearn.preprocessing import StandardScaler

        self._scaler = StandardScaler().fit(np.asarray(x, dtype=np.float64))

    def transform(self, x: np.ndarray) -> np.ndarray:
        out = self._scaler.transform(np.asarray(x, dtype=np.float64))
        return np.ascontiguousarray(out, dtype=np.float32)


def _as_float(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


class FrameEncoder:
    """Standardizes numeric columns and one-hot encodes the others.

    Both are fitted on the training rows only (a scikit-learn
    ``ColumnTransformer``); categories first seen in validation or test rows
    encode as all zeros.
    """

    def __init__(self, numeric: Sequence[str], categorical: Sequence[str], *, name: str) -> None:
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.name = name
        self._transformer: Any = None
        self._names: tuple[str, ...] | None = None

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        return self._names

    def validate(self, x: pd.DataFrame) -> None:
        problems = []
        for col in self.numeric:
            count = int((~np.isfinite(_as_float(x[col]))).sum())
            if count:
                problems.append(f"{col!r} ({count} row(s))")
        for col in self.categorical:
            count = int(x[col].isna().sum())
            if count:
                problems.append(f"{col!r} ({count} row(s))")
        if problems:
            raise DataError(
                f"{self.name} has missing or infinite values in column(s) "
                f"{', '.join(problems)}. Impute them (e.g. with the column mean or most "
                "frequent value) or drop those rows before loading."
            )

    def _clean(self, x: pd.DataFrame) -> pd.DataFrame:
        # Positional names: user column names may be any hashable, and
        # scikit-learn reads integer column keys as positions.
        data: dict[str, np.ndarray] = {}
        for i, col in enumerate(self.numeric):
            data[f"n{i}"] = _as_float(x[col])
        for i, col in enumerate(self.categorical):
            data[f"c{i}"] = as_text(x[col])
        return pd.DataFrame(data, index=pd.RangeIndex(len(x)))

    def fit(self, x: pd.DataFrame) -> None:
        from sklearn.compose import ColumnTransformer
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        parts: list[tuple[str, Any, list[str]]] = []
        if self.numeric:
            parts.append(("num", StandardScaler(), [f"n{i}" for i in range(len(self.numeric))]))
        if self.categorical:
            encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
            parts.append(("cat", encoder, [f"c{i}" for i in range(len(self.categorical))]))
        self._transformer = ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)
        self._transformer.fit(self._clean(x))
        names = [str(col) for col in self.numeric]
        if self.categorical:
            categories = self._transformer.named_transformers_["cat"].categories_
            for col, cats in zip(self.categorical, categories, strict=True):
                names.extend(f"{col}_{cat}" for cat in cats)
        self._names = tuple(names)

    def transform(self, x: pd.DataFrame) -> np.ndarray:
        out = self._transformer.transform(self._clean(x))
        return np.ascontiguousarray(out, dtype=np.float32)
