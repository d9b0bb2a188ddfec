"""User files: NPZ arrays and folders of images."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from whynet.data._arrays import raw_from_arrays
from whynet.data._build import RawData, shown
from whynet.data._preprocess import ImageScaler
from whynet.exceptions import DataError

IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".bmp", ".gif")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _tf_reason(exc: BaseException) -> str:
    """The readable part of a TensorFlow op error (drops node and op names)."""
    text = re.sub(r"\{\{.*?\}\}|\[\[.*?\]\]|\[Op:[^\]]*\]|name:\s*\S*", " ", str(exc))
    return " ".join(text.split()).strip(" .") or type(exc).__name__


def read_npz(path: Path) -> RawData:
    """Read features ``x`` (or ``X``) and targets ``y`` (or ``Y``) from an NPZ file.

    Raises:
        DataError: If the file is empty, unreadable or lacks an array.
    """
    where = shown(path)
    if path.stat().st_size == 0:
        raise DataError(
            f"{where} is empty (0 bytes). Save the arrays with np.savez(path, x=x, y=y)."
        )
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataError(
                f"{where} holds a single NumPy array (.npy format), not an NPZ archive of "
                "arrays. Save the features and the targets together with "
                "np.savez(path, x=x, y=y)."
            )
        with loaded as archive:
            found = list(archive.files)
            arrays = {}
            for names in (("x", "X"), ("y", "Y")):
                key = next((k for k in names if k in found), None)
                if key is None:
                    listed = ", ".join(repr(f) for f in found) or "none"
                    raise DataError(
                        f"{where} has no array {names[0]!r} (arrays found: {listed}). Save the "
                        "features as 'x' (or 'X') and the targets as 'y', e.g. "
                        "np.savez(path, x=x, y=y)."
                    )
                arrays[names[0]] = archive[key]
    except DataError:
        raise
    except Exception as exc:  # numpy, zipfile and zlib raise many types for damaged files
        raise DataError(
            f"cannot read {where} as NPZ: {_one_line(exc)}. Save the arrays with "
            "np.savez(path, x=x, y=y) using numeric or text dtypes (not objects)."
        ) from None
    return raw_from_arrays(arrays["x"], arrays["y"], name=shown(path.name))


def read_image_folder(path: Path, *, image_size: tuple[int, int]) -> RawData:
    """Read a folder with one sub-folder of images per class.

    Images are resized to ``image_size`` and read as RGB; the sub-folder names,
    sorted, are the class names.

    Raises:
        DataError: If the folder has no class sub-folders or no images.
    """
    where = shown(path)
    classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(
            f"image folder {where} has no sub-folders: it needs one sub-folder of images per "
            f"class (e.g. {shown(path / 'cats')}/*.png and {shown(path / 'dogs')}/*.png)."
        )
    # Keras walks every class folder recursively: a folder that is not an
    # image data set (say, "/") would be walked whole before failing.
    without = [c for c in classes if not _holds_images(path / c)]
    if len(without) == len(classes):
        raise DataError(
            f"image folder {where} is empty: its sub-folders "
            f"({', '.join(map(shown, classes))}) hold no images. Put "
            f"{', '.join(IMAGE_EXTENSIONS)} files in one sub-folder per class."
        )
    if without:
        listed = ", ".join(map(shown, without[:5])) + (" ..." if len(without) > 5 else "")
        raise DataError(
            f"{where} is not an image folder: its sub-folder(s) {listed} hold no images. "
            f"Each sub-folder is a class and holds that class's "
            f"{', '.join(IMAGE_EXTENSIONS)} files directly."
        )
    import keras

    try:
        images: Any = keras.utils.image_dataset_from_directory(
            str(path),
            labels="inferred",
            label_mode="int",
            class_names=classes,
            color_mode="rgb",
            image_size=tuple(image_size),
            batch_size=64,
            shuffle=False,
            verbose=False,
        )
    except ValueError as exc:  # an empty folder was caught above
        raise DataError(
            f"cannot read image folder {where}: {_one_line(exc)}. Check the images and "
            "the folder layout (one sub-folder per class)."
        ) from None
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    try:
        for batch_x, batch_y in images.as_numpy_iterator():
            xs.append(np.asarray(batch_x, dtype=np.float32))
            ys.append(np.asarray(batch_y, dtype=np.int64))
    except Exception as exc:  # TensorFlow raises its own error types for bad images
        raise DataError(
            f"cannot decode the images in {where}: {_tf_reason(exc)}. Remove or re-save the "
            "broken image files."
        ) from None
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    name = shown(path.name)
    return RawData(
        name=name,
        x=x,
        y=pd.Series(y),
        preprocessor=ImageScaler(255.0, name=name),
        raw_parts=[x, y, "|".join(classes)],
        target_what=f"the class labels of {name}",
        classes=tuple(classes),
    )


def _holds_images(folder: Path) -> bool:
    """Whether ``folder`` has an image file directly in it."""
    try:
        return any(
            entry.is_file() and entry.suffix.lower() in IMAGE_EXTENSIONS
            for entry in folder.iterdir()
        )
    except OSError:
        return False
