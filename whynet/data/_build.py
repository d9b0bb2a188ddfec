"""Assembly: from raw features and target to a split, preprocessed Dataset."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from whynet.data._dataset import Dataset, DatasetSpec, Split
from whynet.data._fingerprint import RawPart, fingerprint
from whynet.data._preprocess import BasePreprocessor, Features
from whynet.data._split import (
    check_classes,
    check_total,
    min_rows_per_class,
    split_indices,
    stratified_subsample,
    subsample_rows,
)
from whynet.data._target import MAX_AUTO_CLASSES, encode_target, missing_target
from whynet.exceptions import DataError


def shown(text: object) -> str:
    """A name or path for a one-line message: as is when printable, else escaped."""
    text = str(text)
    return text if text.isprintable() else repr(text)


def _check_finite(x: np.ndarray, names: Sequence[str] | None, name: str) -> None:
    """Features that overflow float32 once preprocessed (e.g. 1e300) cannot be trained on."""
    flat = x.reshape(len(x), -1)
    bad = ~np.isfinite(flat).all(axis=0)
    if not bad.any():
        return
    cols = np.flatnonzero(bad)
    if names is not None and len(names) == flat.shape[1]:
        where = ", ".join(repr(names[int(c)]) for c in cols[:10])
    else:
        where = "at index " + ", ".join(str(int(c)) for c in cols[:10])
    more = ", ..." if len(cols) > 10 else ""
    raise DataError(
        f"{name} has feature values too large for whynet to scale in float32 (features "
        f"{where}{more}). Rescale those features (e.g. divide by a constant or take a log) "
        "before loading."
    )


@dataclass(frozen=True)
class RawData:
    """What a source hands to :func:`assemble`.

    Attributes:
        name: The data set's readable name, also used in messages.
        x: Raw features, one row per sample (array or frame).
        y: Raw target, one value per row.
        preprocessor: Checks and transforms ``x``.
        raw_parts: What the fingerprint digests (the raw data).
        target_what: How messages name the target.
        classes: Names of the classes when ``y`` already holds indices ``0..k-1``.
        fixed_size: The source made exactly the rows asked for (synthetic
            sets), so ``n_samples`` is not applied again.
        notes: Lines for the user about how the source was read.
        details: The same as ``(key, value)`` pairs for the tracker.
    """

    name: str
    x: Features
    y: pd.Series
    preprocessor: BasePreprocessor
    raw_parts: Sequence[RawPart]
    target_what: str = "the target"
    classes: tuple[str, ...] | None = None
    fixed_size: bool = False
    notes: tuple[str, ...] = ()
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SplitSettings:
    """How rows are sampled and split, and how missing values are handled.

    All of it is part of the fingerprint (``missing`` only when the data has
    missing values: otherwise every mode gives the same data).
    """

    task: str
    val_fraction: float
    test_fraction: float
    seed: int
    n_samples: int | None
    missing: str = "impute"


MISSING_MODES = ("impute", "drop", "error")


def check_missing(missing: object) -> None:
    """Raise a :class:`DataError` unless ``missing`` is a known mode."""
    if missing not in MISSING_MODES:
        raise DataError(
            f"unknown missing-value mode {missing!r}: use one of "
            f"{', '.join(repr(m) for m in MISSING_MODES)}."
        )


@dataclass(frozen=True)
class _Missing:
    """What :func:`_handle_missing` found and did."""

    any: bool
    notes: tuple[str, ...] = ()
    details: tuple[tuple[str, str], ...] = ()
    # With ``drop``: the source row index of each row kept (rows after the
    # drop index into these), else None.
    kept: np.ndarray | None = None


def _handle_missing(raw: RawData, settings: SplitSettings) -> tuple[RawData, _Missing]:
    """Drop rows with missing values (``drop``), or refuse them where they cannot be used.

    Imputation itself happens in the preprocessor, fitted on the training rows.
    """
    check_missing(settings.missing)
    cells, _ = raw.preprocessor.missing_mask(raw.x)
    bad_x = cells.any(axis=1) if cells.size else np.zeros(len(raw.y), dtype=bool)
    bad_y = missing_target(raw.y, task=settings.task)
    if not (bad_x.any() or bad_y.any()):
        return raw, _Missing(any=False)
    if settings.missing == "error":
        raw.preprocessor.validate(raw.x)
        return raw, _Missing(any=True)  # the target's own check names its rows
    if settings.missing == "impute":
        if bad_x.any() and not raw.preprocessor.can_impute:
            raise DataError(
                f"{raw.name} has NaN or infinite values in {int(bad_x.sum())} image(s) (first "
                f"at row index {int(np.flatnonzero(bad_x)[0])}), which whynet cannot impute. "
                'Set `data.missing: drop` (`missing="drop"` in Python) to drop them, or fix '
                "them before loading."
            )
        return raw, _Missing(any=True)
    drop = bad_x | bad_y
    n = len(drop)
    if drop.all():
        raise DataError(
            f"every one of the {n} rows of {raw.name} has a missing value (in the features or "
            "the target), so `data.missing: drop` leaves nothing to train on. Set "
            "`data.missing: impute` to fill in missing features, or fill in the values."
        )
    keep = np.flatnonzero(~drop)
    x = raw.x.iloc[keep].reset_index(drop=True) if isinstance(raw.x, pd.DataFrame) else raw.x[keep]
    y = raw.y.iloc[keep].reset_index(drop=True)
    count = int(drop.sum())
    why = []
    if bad_x.any():
        why.append(f"{int(bad_x.sum())} with missing features")
    if bad_y.any():
        why.append(f"{int(bad_y.sum())} with a missing or unusable target")
    note = (
        f"Dropped {count} of {n} rows with missing values ({', '.join(why)}): `data.missing: drop`."
    )
    return replace(raw, x=x, y=y), _Missing(
        any=True, notes=(note,), details=(("data.dropped_rows", str(count)),), kept=keep
    )


def _imputed(raw: RawData, rows: np.ndarray) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The note on what was imputed in the rows used, and its tracker detail."""
    cells, names = raw.preprocessor.missing_mask(_take(raw.x, rows))
    counts = cells.sum(axis=0) if cells.size else np.zeros(0, dtype=int)
    found = [(str(names[i]), int(c)) for i, c in enumerate(counts) if c]
    if not found:
        return (), ()
    listed = ", ".join(f"{name}: {count}" for name, count in found)
    shown_list = listed if len(listed) <= 500 else listed[:497] + "..."
    note = (
        f"Imputed missing values in {raw.name}, fitted on the training split (missing cells "
        f"per column: {shown_list}; infinite numbers count as missing)."
    )
    return (note,), (("data.imputed", listed),)


def _take(x: Features, index: np.ndarray) -> Features:
    if isinstance(x, pd.DataFrame):
        return x.iloc[index]
    return x[index]


def assemble(raw: RawData, settings: SplitSettings) -> Dataset:
    """Encode the target, sample and split the rows, and preprocess the features.

    Raises:
        DataError: If the data cannot be used (see the messages).
    """
    n = len(raw.y)
    if n == 0:
        raise DataError(
            f"{raw.name} is empty: it has no rows. Give a data set with rows to train on."
        )
    if len(raw.x) != n:
        raise DataError(
            f"the features and the target of {raw.name} have different lengths: "
            f"{len(raw.x)} rows of features, {n} target values. Give one target per row."
        )
    raw, missing = _handle_missing(raw, settings)
    n = len(raw.y)  # fewer with `data.missing: drop`
    target = encode_target(raw.y, task=settings.task, what=raw.target_what, classes=raw.classes)
    digest = fingerprint(
        raw.raw_parts,
        {
            "task": target.task,
            "seed": int(settings.seed),
            "val_fraction": float(settings.val_fraction),
            "test_fraction": float(settings.test_fraction),
            "n_samples": None if settings.n_samples is None else int(settings.n_samples),
            **({"missing": settings.missing} if missing.any else {}),
        },
    )
    vf, tf = settings.val_fraction, settings.test_fraction
    keep = settings.n_samples
    if keep is not None and (keep >= n or raw.fixed_size):
        keep = None
    labels: np.ndarray | None = None
    rows = np.arange(n)
    if target.task == "classification":
        names = target.class_names or ()
        hint = ""
        if len(names) > MAX_AUTO_CLASSES and settings.task == "classification":
            hint = (
                f" (the target has {len(names)} distinct values: if it is a quantity, "
                "set `task: regression`)"
            )
        check_classes(target.y, names, name=raw.name, val_fraction=vf, test_fraction=tf, hint=hint)
        if keep is not None:
            rows = stratified_subsample(
                target.y,
                int(keep),
                seed=settings.seed,
                k=len(names),
                name=raw.name,
                min_per_class=min_rows_per_class(vf, tf),
            )
        labels = target.y[rows]
    elif keep is not None:
        rows = subsample_rows(n, int(keep), seed=settings.seed)
    check_total(len(rows), name=raw.name, val_fraction=vf, test_fraction=tf)
    parts = split_indices(
        len(rows), labels, val_fraction=vf, test_fraction=tf, seed=settings.seed, name=raw.name
    )
    train_rows, val_rows, test_rows = (rows[p] for p in parts)

    raw.preprocessor.fit(_take(raw.x, train_rows))
    splits = [
        Split(
            x=raw.preprocessor.transform(_take(raw.x, r)),
            y=np.ascontiguousarray(target.y[r]),
        )
        for r in (train_rows, val_rows, test_rows)
    ]
    for split in splits:
        _check_finite(split.x, raw.preprocessor.feature_names, raw.name)
    spec = DatasetSpec(
        name=raw.name,
        task=target.task,
        input_shape=tuple(int(d) for d in splits[0].x.shape[1:]),
        n_classes=None if target.class_names is None else len(target.class_names),
        class_names=target.class_names,
        feature_names=raw.preprocessor.feature_names,
        n_train=len(splits[0]),
        n_val=len(splits[1]),
        n_test=len(splits[2]),
        fingerprint=digest,
    )
    notes, details = raw.notes + missing.notes, raw.details + missing.details
    if missing.any and settings.missing == "impute":
        imputed = _imputed(raw, rows)
        notes, details = notes + imputed[0], details + imputed[1]
    return Dataset(
        spec=spec,
        train=splits[0],
        val=splits[1],
        test=splits[2],
        preprocessor=raw.preprocessor,
        rows={
            name: _positions(raw.x, r) if missing.kept is None else missing.kept[r]
            for name, r in zip(
                ("train", "val", "test"), (train_rows, val_rows, test_rows), strict=True
            )
        },
        labels=target.labels,
        raw_example=_take(raw.x, train_rows[:5]),
        notes=notes,
        details=details,
    )


def _positions(x: Features, index: np.ndarray) -> np.ndarray:
    """Positions in the user's table (a frame's index holds them; it is reset when read)."""
    if isinstance(x, pd.DataFrame):
        return np.asarray(x.index[index], dtype=np.int64)
    return np.asarray(index, dtype=np.int64)
