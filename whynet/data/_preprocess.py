"""Preprocessors: checked on all rows, fitted on the training rows only.

Missing values (``data.missing``): tabular preprocessors impute them with
scikit-learn's ``SimpleImputer`` fitted on the training rows (numbers: the
median plus a missing-indicator column; text: a ``"missing"`` category).
Infinite numbers count as missing. Images cannot be imputed.
"""

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

    @property
    def can_impute(self) -> bool:
        """Whether ``fit`` and ``transform`` fill in missing values."""
        ...

    def missing_mask(self, x: Any) -> tuple[np.ndarray, tuple[str, ...]]:
        """Missing (or infinite) cells: a ``(rows, columns)`` bool array and the column names."""
        ...

    def validate(self, x: Any) -> None:
        """Raise a :class:`DataError` if ``x`` has missing values (``data.missing: error``)."""
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
        f'first at row index {first}. Set `data.missing: impute` (`missing="impute"` in '
        "Python) to fill them in from the training split, `data.missing: drop` to drop those "
        "rows, or fix them before loading."
    )


def _nonfinite(x: np.ndarray) -> np.ndarray:
    """Per row and feature: whether the value is NaN or infinite (never for integers)."""
    flat = x.reshape(len(x), -1)
    if not np.issubdtype(flat.dtype, np.floating):
        return np.zeros(flat.shape, dtype=bool)
    return ~np.isfinite(flat)


def _imputing_scaler() -> Any:
    """Median imputation with missing-indicator columns, then standardization."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    # keep_empty_features: a column with no value in the training rows stays a
    # column (filled with 0), so every input column keeps its output column.
    imputer = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
    return Pipeline([("impute", imputer), ("scale", StandardScaler())])


def _indicator_names(pipeline: Any, names: Sequence[str]) -> list[str]:
    """``<column>_missing`` for each column that had missing values in the training rows."""
    indicator = pipeline.named_steps["impute"].indicator_
    return [f"{names[int(i)]}_missing" for i in indicator.features_]


def _as_missing_float(x: Any) -> np.ndarray:
    """The values as float64 with infinities read as missing (NaN)."""
    out = np.array(x, dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    return out


class ImageScaler:
    """Divides pixel values by a fixed scale (255 for 8-bit images)."""

    def __init__(self, scale: float, *, name: str) -> None:
        self.scale = float(scale)
        self.name = name

    @property
    def feature_names(self) -> None:
        return None

    @property
    def can_impute(self) -> bool:
        return False

    def missing_mask(self, x: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
        if not np.issubdtype(np.asarray(x).dtype, np.floating):  # integer pixels: never missing
            return np.zeros((len(x), 1), dtype=bool), ("pixels",)
        return np.asarray(_nonfinite(x).any(axis=1, keepdims=True)), ("pixels",)

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
    """Standardizes each column of a 2-D array with training statistics.

    Missing (NaN or infinite) values are imputed with the training median, and
    each column that had missing training values gets an indicator column
    ``<name>_missing``.
    """

    def __init__(self, feature_names: Sequence[str], *, name: str) -> None:
        self.input_names = tuple(feature_names)
        self._names = self.input_names
        self.name = name
        self._scaler: Any = None

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self._names

    @property
    def can_impute(self) -> bool:
        return True

    def missing_mask(self, x: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
        return _nonfinite(np.asarray(x)), self.input_names

    def validate(self, x: np.ndarray) -> None:
        _finite_rows(x, self.name, per_feature=True)

    def fit(self, x: np.ndarray) -> None:
        self._scaler = _imputing_scaler().fit(_as_missing_float(x))
        self._names = (*self.input_names, *_indicator_names(self._scaler, self.input_names))

    def transform(self, x: np.ndarray) -> np.ndarray:
        out = self._scaler.transform(_as_missing_float(x))
        return np.ascontiguousarray(out, dtype=np.float32)


def _as_float(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


class FrameEncoder:
    """Standardizes numeric columns and one-hot encodes the others, imputing gaps.

    Everything is fitted on the training rows only, as one scikit-learn
    ``ColumnTransformer`` (picklable, and applied later to raw rows as the
    user has them):

    - numeric columns: ``SimpleImputer(strategy="median", add_indicator=True)``
      (missing or infinite values get the training median, and a column
      ``<name>_missing`` marks them for each column that had gaps in the
      training rows), then ``StandardScaler``;
    - other columns (text, categorical, bool):
      ``SimpleImputer(strategy="constant", fill_value="missing")`` (a
      ``"missing"`` category), then ``OneHotEncoder``; categories first seen
      in validation or test rows encode as all zeros.

    ``transform`` reads the feature columns by name; other columns of the
    frame (e.g. the target) are ignored.
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

    @property
    def can_impute(self) -> bool:
        return True

    def _column(self, x: pd.DataFrame, col: str) -> pd.Series:
        if col in x.columns:
            return x[col]
        by_text = {str(c): c for c in x.columns}
        if col in by_text:
            return x[by_text[col]]
        lacking = [c for c in (*self.numeric, *self.categorical) if c not in by_text]
        raise DataError(
            f"the rows given have no column(s) {', '.join(map(repr, lacking))} of {self.name}. "
            "Give rows with the feature columns the model was trained on."
        )

    def missing_mask(self, x: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
        masks = [~np.isfinite(_as_float(self._column(x, c))) for c in self.numeric]
        masks += [self._column(x, c).isna().to_numpy(dtype=bool) for c in self.categorical]
        names = (*self.numeric, *self.categorical)
        if not masks:
            return np.zeros((len(x), 0), dtype=bool), names
        return np.stack(masks, axis=1), names

    def validate(self, x: pd.DataFrame) -> None:
        mask, names = self.missing_mask(x)
        counts = mask.sum(axis=0)
        problems = [f"{names[i]!r} ({int(c)} row(s))" for i, c in enumerate(counts) if c]
        if problems:
            raise DataError(
                f"{self.name} has missing or infinite values in column(s) "
                f'{", ".join(problems)}. Set `data.missing: impute` (`missing="impute"` in '
                "Python) to fill them in from the training split, `data.missing: drop` to drop "
                "those rows, or fix them before loading."
            )

    def _clean(self, x: pd.DataFrame) -> pd.DataFrame:
        # Positional names: user column names may be any hashable, and
        # scikit-learn reads integer column keys as positions.
        data: dict[str, np.ndarray] = {}
        for i, col in enumerate(self.numeric):
            data[f"n{i}"] = _as_missing_float(_as_float(self._column(x, col)))
        for i, col in enumerate(self.categorical):
            series = self._column(x, col)
            text = as_text(series)
            # np.nan (not pd.NA, not the text "nan") is what SimpleImputer fills.
            text[series.isna().to_numpy(dtype=bool)] = np.nan
            data[f"c{i}"] = text
        return pd.DataFrame(data, index=pd.RangeIndex(len(x)))

    def fit(self, x: pd.DataFrame) -> None:
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder

        parts: list[tuple[str, Any, list[str]]] = []
        if self.numeric:
            parts.append(("num", _imputing_scaler(), [f"n{i}" for i in range(len(self.numeric))]))
        if self.categorical:
            categorical = Pipeline(
                [
                    (
                        "impute",
                        SimpleImputer(
                            strategy="constant", fill_value="missing", keep_empty_features=True
                        ),
                    ),
                    ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                ]
            )
            parts.append(("cat", categorical, [f"c{i}" for i in range(len(self.categorical))]))
        self._transformer = ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)
        self._transformer.fit(self._clean(x))
        names = [str(col) for col in self.numeric]
        if self.numeric:
            names += _indicator_names(self._transformer.named_transformers_["num"], self.numeric)
        if self.categorical:
            onehot = self._transformer.named_transformers_["cat"].named_steps["onehot"]
            for col, cats in zip(self.categorical, onehot.categories_, strict=True):
                names.extend(f"{col}_{cat}" for cat in cats)
        self._names = tuple(names)

    def transform(self, x: pd.DataFrame) -> np.ndarray:
        out = self._transformer.transform(self._clean(x))
        return np.ascontiguousarray(out, dtype=np.float32)
