"""The records the data stage hands to the rest of whynet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class DatasetSpec:
    """What a trainer needs to know about the data, and nothing more.

    Attributes:
        name: A readable name (``digits``, ``train.csv``, ...).
        task: ``classification`` or ``regression``.
        input_shape: The shape of one sample, e.g. ``(8, 8, 1)`` or ``(64,)``.
        n_classes: Number of classes (classification), else ``None``.
        class_names: Class labels as strings, in label order (classification).
        feature_names: Column names after preprocessing (tabular data).
        n_train: Rows in the training split.
        n_val: Rows in the validation split.
        n_test: Rows in the test split.
        fingerprint: A hex digest of the raw data and the split settings.
    """

    name: str
    task: Task
    input_shape: tuple[int, ...]
    n_classes: int | None
    class_names: tuple[str, ...] | None
    feature_names: tuple[str, ...] | None
    n_train: int
    n_val: int
    n_test: int
    fingerprint: str

    @property
    def is_image(self) -> bool:
        """Whether samples are images (height, width, channels), so CNNs apply."""
        return len(self.input_shape) == 3


@dataclass(frozen=True)
class Split:
    """Features and targets of one split.

    ``x`` is float32; ``y`` is int64 class indices for classification and
    float32 for regression.
    """

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class TrainingData:
    """The training and validation splits: all a trainer ever sees.

    The test split is deliberately absent so that no trainer can use it to
    choose anything.
    """

    spec: DatasetSpec
    train: Split
    val: Split


@dataclass(frozen=True)
class Dataset:
    """A loaded, preprocessed data set with fixed train/validation/test splits.

    Attributes:
        spec: What the data is.
        train: The training split.
        val: The validation split (model selection).
        test: The test split (the selected model is tested once).
        preprocessor: The preprocessing fitted on the training split, which
            turns raw rows (as the user has them) into ``x``.
        rows: Per split (``train``, ``val``, ``test``), the positions of its
            rows in the user's original table or array.
        labels: The original class values in label order (classification).
        raw_example: A few raw training rows, as the preprocessor takes them.
        notes: Lines for the user about what loading did (values imputed,
            rows dropped, the image size and channels used).
        details: The same as ``(key, value)`` pairs for the MLflow parent run,
            e.g. ``("data.imputed", "age: 12, color: 3")``.
    """

    spec: DatasetSpec
    train: Split
    val: Split
    test: Split
    preprocessor: Any = field(default=None, repr=False, compare=False)
    rows: Mapping[str, np.ndarray] | None = field(default=None, repr=False, compare=False)
    labels: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)
    raw_example: Any = field(default=None, repr=False, compare=False)
    notes: tuple[str, ...] = ()
    details: tuple[tuple[str, str], ...] = ()

    def training_data(self) -> TrainingData:
        """The splits a trainer may see (train and validation, never test)."""
        return TrainingData(spec=self.spec, train=self.train, val=self.val)
