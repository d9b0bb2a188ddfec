"""Tables: pandas frames, CSV and Parquet files."""

from __future__ import annotations

import difflib
from pathlib import Path

import pandas as pd

from whynet.data._build import RawData, SplitSettings, assemble, check_missing, shown
from whynet.data._dataset import Dataset
from whynet.data._preprocess import FrameEncoder
from whynet.data._split import check_settings
from whynet.data._target import check_task
from whynet.exceptions import DataError


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _columns(frame: pd.DataFrame) -> str:
    names = [str(c) for c in frame.columns]
    shown = ", ".join(repr(c) for c in names[:30])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 30 else "")


def _find_target(frame: pd.DataFrame, target: str | None, name: str) -> object:
    if target is None:
        raise DataError(
            f"{name} is a table, so whynet needs to know which column to predict: set "
            f"`data.target` (or `target=`) to one of its columns: {_columns(frame)}."
        )
    try:
        found = target in frame.columns
    except TypeError:  # an unhashable target, e.g. a list of names
        found = False
    if found:
        return target
    by_text = {str(c): c for c in frame.columns}
    if isinstance(target, str) and target in by_text:
        return by_text[target]
    close = difflib.get_close_matches(str(target), list(by_text), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise DataError(
        f"target column {target!r} is not in {name}.{hint} Set `data.target` to one of its "
        f"columns: {_columns(frame)}."
    )


def _column_kinds(frame: pd.DataFrame, name: str) -> tuple[list[object], list[object]]:
    numeric: list[object] = []
    categorical: list[object] = []
    for col, dtype in frame.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            categorical.append(col)
        elif pd.api.types.is_complex_dtype(dtype):
            raise DataError(
                f"column {str(col)!r} of {name} holds complex numbers, which whynet cannot "
                "use. Split it into real and imaginary columns, or drop it."
            )
        elif pd.api.types.is_numeric_dtype(dtype):
            numeric.append(col)
        elif (
            pd.api.types.is_object_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)
        ):
            categorical.append(col)
        else:
            raise DataError(
                f"column {str(col)!r} of {name} has dtype {dtype}, which whynet cannot use "
                "(it reads numeric, text, categorical and bool columns). Convert it to "
                "numbers (e.g. a timestamp) or drop it."
            )
    return numeric, categorical


def raw_from_frame(frame: pd.DataFrame, *, target: str | None, name: str) -> RawData:
    """Check a table and wrap it for :func:`assemble`.

    Raises:
        DataError: If the table cannot be used.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"{name} must be a pandas DataFrame, but got {type(frame).__name__}. "
            "Use from_arrays for NumPy arrays."
        )
    # Compared as text: columns are read by their text names (2 and '2' clash).
    texts = pd.Index([str(c) for c in frame.columns])
    duplicated = texts[texts.duplicated()].unique()
    if len(duplicated):
        raise DataError(
            f"{name} has duplicate column names: {', '.join(repr(c) for c in duplicated)}."
            " Rename the columns so each name is used once."
        )
    col = _find_target(frame, target, name)
    frame = frame.reset_index(drop=True)
    features = frame.drop(columns=[col])
    if features.shape[1] == 0:
        raise DataError(
            f"{name} has no feature columns besides the target {str(col)!r}. Add columns "
            "to predict it from."
        )
    numeric, categorical = _column_kinds(features, name)
    encoder = FrameEncoder([str(c) for c in numeric], [str(c) for c in categorical], name=name)
    # The encoder reads columns by their text names.
    features = features.set_axis([str(c) for c in features.columns], axis=1)
    return RawData(
        name=name,
        x=features,
        y=frame[col],
        preprocessor=encoder,
        raw_parts=[frame, f"target={col!s}"],
        target_what=f"target column {str(col)!r}",
    )


def from_frame(
    df: pd.DataFrame,
    *,
    target: str,
    task: str = "auto",
    name: str = "frame",
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    n_samples: int | None = None,
    missing: str = "impute",
) -> Dataset:
    """Build a data set from a pandas table.

    Numeric columns are standardized and the other columns (text, categorical,
    bool) one-hot encoded, both fitted on the training split only; categories
    first seen in the validation or test split encode as all zeros. Missing
    values are imputed by default (numbers: the training median plus a
    ``<column>_missing`` indicator column; other columns: a ``"missing"``
    category); a missing target is an error unless ``missing="drop"``.

    Args:
        df: The table, one row per sample.
        target: The column to predict.
        task: ``auto`` (infer from the target), ``classification`` or ``regression``.
        name: A readable name for the data set.
        val_fraction: Share of the rows held out for validation.
        test_fraction: Share of the rows held out for the final test.
        seed: Fixes the subsample and the splits.
        n_samples: Use at most this many rows (a seeded, stratified subsample).
        missing: Missing (NaN, None or infinite) feature values: ``impute``
            (fitted on the training split), ``drop`` the rows that have any
            (also rows with a missing target), or ``error``.

    Returns:
        The data set with fixed train, validation and test splits.

    Raises:
        DataError: If the table or the settings cannot be used; the message
            names the problem and the fix.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"size": range(20), "color": ["red", "blue"] * 10,
        ...                    "label": ["a", "b"] * 10})
        >>> ds = from_frame(df, target="label", seed=0)
        >>> ds.spec.feature_names
        ('size', 'color_blue', 'color_red')
    """
    check_task(task)
    check_settings(
        val_fraction=val_fraction, test_fraction=test_fraction, seed=seed, n_samples=n_samples
    )
    raw = raw_from_frame(df, target=target, name=shown(name))
    check_missing(missing)
    settings = SplitSettings(task, val_fraction, test_fraction, int(seed), n_samples, missing)
    return assemble(raw, settings)


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file.

    Raises:
        DataError: If the file is empty, has no rows, or cannot be parsed.
    """
    kind = "CSV" if path.suffix.lower() == ".csv" else "Parquet"
    where = shown(path)
    if path.stat().st_size == 0:
        raise DataError(
            f"{where} is empty (0 bytes). Give a {kind} file with a header and data rows."
        )
    try:
        frame = pd.read_csv(path, low_memory=False) if kind == "CSV" else pd.read_parquet(path)
        if kind == "Parquet":
            # A damaged file can hold text that is not UTF-8, which fails only when used.
            for _, column in frame.items():
                if pd.api.types.is_string_dtype(column.dtype):
                    column.to_numpy()
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{where} is empty (no header and no rows). Give a {kind} file with a header "
            "and data rows."
        ) from None
    except Exception as exc:  # pandas and pyarrow raise many types for bad files
        raise DataError(
            f"cannot read {where} as {kind}: {_one_line(exc)}. Check that the file is a "
            f"valid {kind} file (export it again if needed)."
        ) from None
    if len(frame) == 0:
        what = "a header" if kind == "CSV" else "columns"
        raise DataError(
            f"{where} has {what} but no rows (columns: {_columns(frame)}). Add data rows "
            "to the file."
        )
    # Parquet may carry a meaningful index; keep it as columns only if named.
    if kind == "Parquet" and any(n is not None for n in frame.index.names):
        try:
            frame = frame.reset_index()
        except ValueError:  # an index level named like a column
            names = ", ".join(repr(str(n)) for n in frame.index.names)
            raise DataError(
                f"{where} has an index named {names} and a column of the same name, so "
                f"whynet cannot keep both (columns: {_columns(frame)}). Rename the index or "
                "the column, or save the table with index=False."
            ) from None
    return frame
