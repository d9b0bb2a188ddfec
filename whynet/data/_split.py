"""Seeded subsamples and train/validation/test splits, stratified by class."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from whynet.exceptions import DataError


def check_settings(
    *, val_fraction: float, test_fraction: float, seed: int, n_samples: int | None
) -> None:
    """Check split settings given from Python (a :class:`DataConfig` checks its own).

    Raises:
        DataError: If a fraction, the seed or ``n_samples`` is out of range.
    """
    for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise DataError(f"`{key}` must be a number between 0 and 1, but got {value!r}.")
    if val_fraction + test_fraction >= 0.9:
        raise DataError(
            "`val_fraction + test_fraction` must be below 0.9 so that rows are left to train "
            f"on, but got {val_fraction} + {test_fraction}."
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**32:
        raise DataError(f"`seed` must be an integer from 0 to 2**32 - 1, but got {seed!r}.")
    if n_samples is not None and (
        isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer) or n_samples < 1
    ):
        raise DataError(f"`n_samples` must be a positive integer or None, but got {n_samples!r}.")


def split_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """Rows in (train, validation, test): each fraction of ``n``, rounded to nearest."""
    n_test = max(1, math.floor(test_fraction * n + 0.5))
    n_val = max(1, math.floor(val_fraction * n + 0.5))
    return n - n_test - n_val, n_val, n_test


def min_total_rows(val_fraction: float, test_fraction: float) -> int:
    """The fewest rows that give every split at least one row."""
    n = 3
    while min(split_sizes(n, val_fraction, test_fraction)) < 1:
        n += 1
    return n


def min_rows_per_class(val_fraction: float, test_fraction: float) -> int:
    """The fewest rows of a class so that each split gets about one of them.

    A class needs at least ``1 / fraction`` rows for the smallest split to
    receive one of its rows; never fewer than three (one per split).
    """
    fractions = (1.0 - val_fraction - test_fraction, val_fraction, test_fraction)
    return max(3, *(math.ceil(1.0 / f - 1e-9) for f in fractions))


def check_classes(
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    name: str,
    val_fraction: float,
    test_fraction: float,
    hint: str = "",
) -> None:
    """Check that every class is large enough for the stratified split.

    Raises:
        DataError: If there is a single class, or a class is too small.
    """
    k = len(class_names)
    counts = np.bincount(labels, minlength=k)
    present = int(np.count_nonzero(counts))
    if k < 2 or present < 2:
        only = class_names[int(np.argmax(counts))] if k else "?"
        raise DataError(
            f"{name} has a single class ({only!r}), and classification needs at least two. "
            "Add rows of other classes, or use a different target."
        )
    needed = min_rows_per_class(val_fraction, test_fraction)
    small = int(np.argmin(counts))
    if counts[small] < needed:
        raise DataError(
            f"class {class_names[small]!r} of {name} has {int(counts[small])} row(s), but the "
            f"stratified split (val_fraction={val_fraction}, test_fraction={test_fraction}) "
            f"needs at least {needed} rows per class so that train, validation and test each "
            f"get one. Remove that class or collect more rows of it{hint}."
        )


def check_total(n: int, *, name: str, val_fraction: float, test_fraction: float) -> None:
    """Check that ``n`` rows give each of the three splits at least one row.

    Raises:
        DataError: If they do not.
    """
    needed = min_total_rows(val_fraction, test_fraction)
    if n < needed:
        raise DataError(
            f"{name} has {n} row(s), too few to split into train, validation and test "
            f"(val_fraction={val_fraction}, test_fraction={test_fraction}): it needs at least "
            f"{needed}. Collect more rows."
        )


def _allocate(counts: np.ndarray, n: int, floor: np.ndarray) -> np.ndarray:
    """Rows per class: proportional to ``counts``, at least ``floor``, summing to ``n``."""
    quota = counts * (n / counts.sum())
    alloc = np.clip(np.floor(quota).astype(np.int64), floor, counts)
    while (diff := n - int(alloc.sum())) != 0:
        gap = quota - alloc
        if diff > 0:
            gap[alloc >= counts] = -np.inf
            alloc[int(np.argmax(gap))] += 1
        else:
            gap[alloc <= floor] = np.inf
            alloc[int(np.argmin(gap))] -= 1
    return alloc


def stratified_subsample(
    labels: np.ndarray,
    n_samples: int,
    *,
    seed: int,
    k: int,
    name: str = "the data",
    min_per_class: int = 1,
) -> np.ndarray:
    """Sorted row indices of a seeded, stratified subsample of ``n_samples`` rows.

    Classes keep their shares (largest remainders round up), and every class
    keeps at least ``min_per_class`` rows.

    Raises:
        DataError: If ``n_samples`` cannot hold ``min_per_class`` rows per class.
    """
    rng = np.random.default_rng(seed)
    counts = np.bincount(labels, minlength=k)
    floor = np.minimum(counts, min_per_class)
    if n_samples < int(floor.sum()):
        raise DataError(
            f"`n_samples` = {n_samples} is too small for the {k} classes of {name}: the "
            f"stratified split needs at least {min_per_class} rows per class, so set "
            f"`n_samples` to at least {int(floor.sum())} (or leave it unset)."
        )
    alloc = _allocate(counts, n_samples, floor)
    picks = [rng.permutation(np.flatnonzero(labels == c))[: alloc[c]] for c in range(k) if alloc[c]]
    return np.sort(np.concatenate(picks))


def subsample_rows(n: int, n_samples: int, *, seed: int) -> np.ndarray:
    """Sorted row indices of a seeded (unstratified) subsample."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=n_samples, replace=False))


def split_indices(
    n: int,
    labels: np.ndarray | None,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    name: str = "the data",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of the train, validation and test splits.

    The test rows are split off first, then the validation rows from the rest;
    both splits are stratified by ``labels`` when given, and fixed by ``seed``.

    Raises:
        DataError: If scikit-learn cannot split the rows as asked.
    """
    from sklearn.model_selection import train_test_split

    _, n_val, n_test = split_sizes(n, val_fraction, test_fraction)
    index = np.arange(n)
    try:
        rest, test = train_test_split(index, test_size=n_test, random_state=seed, stratify=labels)
        train, val = train_test_split(
            rest,
            test_size=n_val,
            random_state=seed,
            stratify=None if labels is None else labels[rest],
        )
    except ValueError as exc:
        reason = " ".join(str(exc).split())
        raise DataError(
            f"cannot split {name} into train, validation and test: {reason} "
            "Collect more rows, or lower `val_fraction` / `test_fraction`."
        ) from None
    return np.asarray(train), np.asarray(val), np.asarray(test)
