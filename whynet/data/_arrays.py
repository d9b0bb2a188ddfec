"""Data sets from NumPy arrays."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from whynet.data._build import RawData, SplitSettings, assemble, check_missing, shown
from whynet.data._dataset import Dataset
from whynet.data._preprocess import ArrayStandardizer, BasePreprocessor, ImageScaler
from whynet.data._split import check_settings
from whynet.data._target import check_task
from whynet.exceptions import DataError


def _image_scale(x: np.ndarray) -> float:
    """255 for integer pixels that fit 8 bits; the dtype's maximum for wider ones."""
    if x.dtype == np.bool_ or np.issubdtype(x.dtype, np.floating):
        return 1.0
    if x.size == 0 or int(x.max()) <= 255:
        return 255.0
    return float(np.iinfo(x.dtype).max)


def _features(x: np.ndarray, name: str) -> tuple[np.ndarray, BasePreprocessor]:
    """Shape the features and choose their preprocessing from the sample shape."""
    if x.ndim == 0:
        raise DataError(
            f"x of {name} is a scalar; give an array with one row per sample, shape (n, ...)."
        )
    if x.dtype.kind not in "biuf":
        if x.dtype.kind == "O":
            # Values that are not all numbers stay objects and are refused below.
            with contextlib.suppress(TypeError, ValueError, OverflowError):
                x = x.astype(np.float64)
        if x.dtype.kind not in "biuf":
            raise DataError(
                f"x of {name} must be numeric, but has dtype {x.dtype}. Encode text as "
                "numbers first, or pass a table with text columns to from_frame."
            )
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim > 1 and int(np.prod(x.shape[1:])) == 0:
        raise DataError(
            f"x of {name} has no features: each sample has shape {x.shape[1:]}. "
            "Give at least one feature per sample."
        )
    if x.ndim == 2:
        names = [f"x{i}" for i in range(x.shape[1])]
        return x, ArrayStandardizer(names, name=name)
    if x.ndim == 3:
        # (n, H, W) grayscale images get a channel axis.
        x = x[..., None]
    if x.ndim == 4:
        return x, ImageScaler(_image_scale(x), name=name)
    return x, ImageScaler(1.0, name=name)


def _as_array(values: ArrayLike, what: str) -> np.ndarray:
    try:
        return np.asarray(values)
    except (TypeError, ValueError, OverflowError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(
            f"{what} cannot be read as an array: {reason}. Give a NumPy array, or lists whose "
            "rows all have the same length."
        ) from None


def raw_from_arrays(x: ArrayLike, y: ArrayLike, *, name: str) -> RawData:
    """Check arrays and wrap them for :func:`assemble`.

    Raises:
        DataError: If the arrays cannot be used.
    """
    x_arr = _as_array(x, f"x of {name}")
    y_arr = _as_array(y, f"y of {name}")
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = y_arr[:, 0]
    if y_arr.ndim != 1:
        raise DataError(
            f"y of {name} must have one value per row (shape (n,)), but has shape "
            f"{y_arr.shape}. For one-hot labels pass y.argmax(axis=1)."
        )
    if x_arr.ndim >= 1 and len(x_arr) != len(y_arr):
        raise DataError(
            f"x and y of {name} have different lengths: x has {len(x_arr)} rows, y has "
            f"{len(y_arr)}. Give one target value per row of x."
        )
    raw_parts = [x_arr, y_arr]
    features, preprocessor = _features(x_arr, name)
    return RawData(
        name=name,
        x=features,
        y=pd.Series(y_arr),
        preprocessor=preprocessor,
        raw_parts=raw_parts,
        target_what=f"y of {name}",
    )


def from_arrays(
    x: ArrayLike,
    y: ArrayLike,
    *,
    task: str = "auto",
    name: str = "arrays",
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    n_samples: int | None = None,
    missing: str = "impute",
) -> Dataset:
    """Build a data set from NumPy arrays.

    The sample shape decides the preprocessing: rows of numbers ``(n, d)`` are
    standardized with training statistics; images ``(n, H, W, C)`` or
    ``(n, H, W)`` (a channel axis is added) are scaled to ``[0, 1]`` when
    integer (divided by 255) and kept as given when float. NaN or infinite
    values in rows of numbers are imputed by default (the training median
    plus an indicator column ``x<i>_missing``); images with NaN are refused
    unless ``missing="drop"``.

    Args:
        x: Features, shape ``(n, ...)``.
        y: Targets, shape ``(n,)``: class labels of any type, or numbers.
        task: ``auto`` (infer from ``y``), ``classification`` or ``regression``.
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
        DataError: If the arrays or the settings cannot be used; the message
            names the problem and the fix.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(100, 3))
        >>> ds = from_arrays(x, np.arange(100) % 2, seed=0)
        >>> ds.spec.task, ds.spec.input_shape, ds.spec.n_train
        ('classification', (3,), 60)
    """
    check_task(task)
    check_settings(
        val_fraction=val_fraction, test_fraction=test_fraction, seed=seed, n_samples=n_samples
    )
    raw = raw_from_arrays(x, y, name=shown(name))
    check_missing(missing)
    settings = SplitSettings(task, val_fraction, test_fraction, int(seed), n_samples, missing)
    return assemble(raw, settings)
