"""Data: built-in and user data sets, preprocessed on train only, with fixed splits.

Every source ends in a :class:`Dataset`: float32 features, int64 class indices
(classification) or float32 targets (regression), train/validation/test splits
fixed by the seed (stratified for classification), and a :class:`DatasetSpec`
whose fingerprint digests the raw data and the split settings.

Sources: the built-in sets in :data:`BUILTIN_DATASETS` (scikit-learn's work
offline; ``mnist``, ``fashion_mnist`` and ``cifar10`` come from the Keras
cache or a download), ``.csv``, ``.parquet`` and ``.npz`` files, folders of
images with one sub-folder per class, NumPy arrays and pandas tables.
Importing this package does not import Keras or TensorFlow.
"""

from __future__ import annotations

from whynet.data._arrays import from_arrays
from whynet.data._builtin import BUILTIN_DATASETS
from whynet.data._dataset import Dataset, DatasetSpec, Split, TrainingData
from whynet.data._files import load_image
from whynet.data._load import load_dataset
from whynet.data._tabular import from_frame

__all__ = [
    "BUILTIN_DATASETS",
    "Dataset",
    "DatasetSpec",
    "Split",
    "TrainingData",
    "from_arrays",
    "from_frame",
    "load_dataset",
    "load_image",
]
