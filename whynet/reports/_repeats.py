"""Repeated splits: repeat ``r`` of an explanation uses seed ``config.seed + r``.

Every model and every level of an explanation in repeat ``r`` sees the same
train/validation/test split, so their scores are paired across repeats. The
``split_id`` names that split so that the pairing can be checked afterwards.
"""

from __future__ import annotations

import hashlib

from whynet.config import RunConfig
from whynet.data import Dataset, Split, load_dataset

__all__ = ["LONG_COLUMNS", "repeat_dataset", "repeat_seed", "split_id"]

LONG_COLUMNS = (
    "group",
    "factor",
    "level",
    "repeat",
    "seed",
    "score",
    "metric",
    "val_score",
    "fit_seconds",
    "predict_seconds_per_1k",
    "n_params",
    "selected",
    "variant",
)
"""The long results frame's columns, in order, shared by every producer (extras follow)."""


def repeat_seed(config: RunConfig, repeat: int) -> int:
    """The split and training seed of ``repeat`` (0-based): ``config.seed + repeat``."""
    if repeat < 0:
        raise ValueError(f"`repeat` must be 0 or more, but got {repeat}")
    return int(config.seed) + int(repeat)


def split_id(test: Split) -> str:
    """A short hex digest of a test split's rows (features and targets).

    Two fits scored on the same test rows, in the same order and with the
    same preprocessing, share it; any other split gives another one.
    """
    digest = hashlib.sha256()
    for array in (test.x, test.y):
        digest.update(str(array.dtype).encode())
        digest.update(repr(array.shape).encode())
        digest.update(array.tobytes(order="C"))
    return digest.hexdigest()[:12]


def repeat_dataset(config: RunConfig, repeat: int) -> tuple[Dataset, str]:
    """Load the data set of one repeat and the id of its split.

    Args:
        config: The run config; its ``data`` section says what to load and
            its ``seed`` is the base seed.
        repeat: The 0-based repeat; the data is split with seed
            ``config.seed + repeat``.

    Returns:
        The data set and its ``split_id`` (a short hash of the test rows).

    Raises:
        DataError: If the data cannot be loaded.
        ValueError: If ``repeat`` is negative.

    Example:
        >>> from whynet.config import RunConfig
        >>> config = RunConfig(data={"source": "iris"})
        >>> first, id0 = repeat_dataset(config, 0)
        >>> again, id0_again = repeat_dataset(config, 0)
        >>> other, id1 = repeat_dataset(config, 1)
        >>> id0 == id0_again, id0 == id1
        (True, False)
    """
    dataset = load_dataset(config.data, seed=repeat_seed(config, repeat))
    return dataset, split_id(dataset.test)
