"""``load_dataset``: one entry point for every data source."""

from __future__ import annotations

import os
from pathlib import Path

from whynet.config import DataConfig
from whynet.data._build import RawData, SplitSettings, assemble, shown
from whynet.data._builtin import BUILTIN_DATASETS, read_builtin, unknown_source_message
from whynet.data._dataset import Dataset
from whynet.data._files import read_image_folder, read_npz
from whynet.data._split import check_settings
from whynet.data._tabular import raw_from_frame, read_table
from whynet.exceptions import DataError

FILE_TYPES = (".csv", ".parquet", ".npz")

_VALID = (
    f"a built-in data set ({', '.join(BUILTIN_DATASETS)}), the path to a .csv, .parquet "
    "or .npz file, or a folder of images with one sub-folder per class"
)


def _read_path(path: Path, config: DataConfig) -> RawData:
    if path.is_dir():
        return read_image_folder(path, image_size=config.image_size, color_mode=config.color_mode)
    suffix = path.suffix.lower()
    if suffix not in FILE_TYPES:
        raise DataError(
            f"cannot read {shown(path)}: unsupported file type {path.suffix or '(none)'!r}. whynet "
            "reads .csv, .parquet and .npz files and folders of images with one sub-folder "
            "per class; convert the file to one of these."
        )
    if suffix == ".npz":
        return read_npz(path)
    return raw_from_frame(read_table(path), target=config.target, name=shown(path.name))


def load_dataset(config: DataConfig, *, seed: int) -> Dataset:
    """Load, split and preprocess the data a config names.

    Args:
        config: Where the data comes from (``source``) and how it is split.
        seed: Fixes the subsample, the splits and synthetic data.

    Returns:
        The data set with fixed train, validation and test splits.

    Raises:
        DataError: If the data cannot be found, read or used; the message
            names the problem and the fix.

    Example:
        >>> from whynet.config import DataConfig
        >>> ds = load_dataset(DataConfig(source="iris"), seed=0)
        >>> ds.spec.input_shape, ds.spec.n_classes
        ((4,), 3)
    """
    check_settings(
        val_fraction=config.val_fraction,
        test_fraction=config.test_fraction,
        seed=seed,
        n_samples=config.n_samples,
    )
    source = config.source
    if source in BUILTIN_DATASETS:
        raw = read_builtin(
            source,
            task=config.task,
            n_samples=config.n_samples,
            n_features=config.n_features,
            seed=seed,
        )
    else:
        try:
            path = Path(source).expanduser()
        except RuntimeError:  # "~name/..." of a user that does not exist
            path = Path(source)
        if path.exists():
            raw = _read_path(path, config)
        elif path.suffix or os.sep in source or "/" in source:
            raise DataError(
                f"data file or folder {str(path.absolute())!r} does not exist. Check "
                f"`data.source`: give {_VALID}."
            )
        else:
            raise DataError(unknown_source_message(source))
    settings = SplitSettings(
        config.task,
        config.val_fraction,
        config.test_fraction,
        int(seed),
        config.n_samples,
        config.missing,
    )
    return assemble(raw, settings)
