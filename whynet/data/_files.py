"""User files: NPZ arrays and folders of images.

Images are read with Pillow, so reading an image folder does not import
TensorFlow (nor print its start-up log lines).
"""

from __future__ import annotations

from collections.abc import Sequence
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


# Pillow modes of single-channel images (``auto`` reads them as grayscale).
_GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
# Loaded at their own size, images beyond this (as float32 features) need a size.
_AUTO_SIZE_LIMIT_BYTES = 8 * 2**30
COLOR_MODES = ("auto", "grayscale", "rgb")


def _image_reason(exc: BaseException) -> str:
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return "not an image file Pillow can read"
    return _one_line(exc)


def _pixels(image: Any, size: tuple[int, int], color_mode: str) -> np.ndarray:
    """An opened Pillow image as uint8 ``(height, width, channels)`` pixels."""
    import warnings

    from PIL import Image

    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # Wide grayscale (16-bit PNG, 32-bit integer or float): scaled to 8 bits.
        wide = np.asarray(image, dtype=np.float64)
        if image.mode != "F":
            wide = wide / 257.0
        image = Image.fromarray(np.clip(np.rint(wide), 0, 255).astype(np.uint8), mode="L")
    target = "L" if color_mode == "grayscale" else "RGB"
    if image.mode != target:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # palette images with transparency
            image = image.convert(target)
    height, width = size
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    out = np.asarray(image, dtype=np.uint8)
    return out[..., None] if out.ndim == 2 else out


def load_image(path: Path, *, size: tuple[int, int], color_mode: str) -> np.ndarray:
    """Read one image file the way whynet reads the images of a folder.

    Args:
        path: The image file (PNG, JPEG, BMP or GIF; the first frame of an
            animation).
        size: ``(height, width)`` to resize to (bilinear) when it differs.
        color_mode: ``grayscale`` (one channel) or ``rgb`` (three channels).

    Returns:
        Float32 pixel values from 0 to 255, shape ``(height, width, channels)``
        (the data set's preprocessing then scales them to [0, 1]).

    Raises:
        DataError: If the file cannot be read as an image, or ``color_mode``
            is not ``grayscale`` or ``rgb``.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> path = Path(tempfile.mkdtemp()) / "7.png"
        >>> Image.new("L", (8, 8), color=200).save(path)
        >>> pixels = load_image(path, size=(16, 16), color_mode="rgb")
        >>> pixels.shape, float(pixels.max())
        ((16, 16, 3), 200.0)
    """
    if color_mode not in ("grayscale", "rgb"):
        raise DataError(
            f"unknown color mode {color_mode!r} for load_image: use 'grayscale' or 'rgb'."
        )
    from PIL import Image

    path = Path(path)
    try:
        with Image.open(path) as image:
            return _pixels(image, tuple(size), color_mode).astype(np.float32)  # type: ignore[arg-type]
    except Exception as exc:  # Pillow raises many types for broken files
        raise DataError(
            f"cannot read image {shown(path)}: {_image_reason(exc)}. Remove the file or re-save "
            "it as a valid PNG or JPEG."
        ) from None


def _image_files(path: Path, classes: Sequence[str]) -> list[tuple[int, Path]]:
    """``(class index, file)`` for every image under each class folder, in sorted order."""
    files = []
    for label, name in enumerate(classes):
        folder = path / name
        for file in sorted(folder.rglob("*")):
            hidden = any(part.startswith(".") for part in file.relative_to(folder).parts)
            if not hidden and file.suffix.lower() in IMAGE_EXTENSIONS and file.is_file():
                files.append((label, file))
    return files


def _broken(path: Path, file: Path, exc: BaseException) -> DataError:
    return DataError(
        f"cannot read image {shown(file.relative_to(path))} in image folder {shown(path)}: "
        f"{_image_reason(exc)}. Remove the file or re-save it as a valid PNG or JPEG."
    )


def _own_size(
    path: Path, files: Sequence[Path], sizes: Sequence[tuple[int, int]]
) -> tuple[int, int]:
    """The one size all images share; else a DataError that asks for ``image_size``."""
    by_size: dict[tuple[int, int], list[Path]] = {}
    for file, size in zip(files, sizes, strict=True):
        by_size.setdefault(size, []).append(file)
    if len(by_size) > 1:
        common = sorted(by_size.items(), key=lambda item: -len(item[1]))
        examples = ", ".join(
            f"{h}x{w} ({len(found)} image(s), e.g. {shown(found[0].relative_to(path))})"
            for (h, w), found in common[:3]
        )
        more = f", and {len(common) - 3} more" if len(common) > 3 else ""
        h, w = common[0][0]
        raise DataError(
            f"the images in {shown(path)} have {len(common)} different sizes (height x width: "
            f"{examples}{more}), so whynet cannot use their own size. Set "
            f"`data.image_size: [height, width]` (e.g. [{h}, {w}]) to resize them all to one size."
        )
    return next(iter(by_size))


def read_image_folder(
    path: Path, *, image_size: str | tuple[int, int] = "auto", color_mode: str = "auto"
) -> RawData:
    """Read a folder with one sub-folder of images per class, with Pillow.

    Args:
        path: The folder; its sub-folder names, sorted, are the class names.
        image_size: ``auto`` keeps the images' own size (they must all share
            one), or ``(height, width)`` to resize every image to (bilinear).
        color_mode: ``grayscale`` (one channel), ``rgb`` (three), or ``auto``:
            grayscale when every image is single-channel, else rgb.

    Raises:
        DataError: If the folder has no class sub-folders or no images, an
            image cannot be read (the message names it), or the images have
            different sizes and ``image_size`` is ``auto``.
    """
    where = shown(path)
    classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(
            f"image folder {where} has no sub-folders: it needs one sub-folder of images per "
            f"class (e.g. {shown(path / 'cats')}/*.png and {shown(path / 'dogs')}/*.png)."
        )
    # Every class folder is walked recursively: a folder that is not an image
    # data set (say, "/") would be walked whole before failing.
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
    if color_mode not in COLOR_MODES:
        raise DataError(
            f"unknown color mode {color_mode!r}: use one of {', '.join(map(repr, COLOR_MODES))}."
        )
    from PIL import Image

    found = _image_files(path, classes)
    files = [file for _, file in found]
    sizes: list[tuple[int, int]] = []
    gray = True
    for file in files:  # headers only: sizes and modes
        try:
            with Image.open(file) as image:
                sizes.append((image.height, image.width))
                gray = gray and image.mode in _GRAY_MODES
        except Exception as exc:  # Pillow raises many types for broken files
            raise _broken(path, file, exc) from None
    mode = color_mode if color_mode != "auto" else ("grayscale" if gray else "rgb")
    channels = 1 if mode == "grayscale" else 3
    if image_size == "auto":
        height, width = _own_size(path, files, sizes)
        need = len(files) * height * width * channels * 4
        if need > _AUTO_SIZE_LIMIT_BYTES:
            raise DataError(
                f"the images in {where} are {height}x{width}: at their own size the "
                f"{len(files)} images need {need / 2**30:.1f} GiB as float32. Set "
                "`data.image_size: [height, width]` to a smaller size (e.g. [128, 128])."
            )
        how = "their own size"
    else:
        height, width = (int(side) for side in image_size)
        how = "resized with `data.image_size`"
    x = np.empty((len(files), height, width, channels), dtype=np.uint8)
    for i, file in enumerate(files):
        try:
            with Image.open(file) as image:
                x[i] = _pixels(image, (height, width), mode)
        except Exception as exc:  # truncated or damaged image data
            raise _broken(path, file, exc) from None
    y = np.array([label for label, _ in found], dtype=np.int64)
    name = shown(path.name)
    kind = "1 channel (grayscale)" if channels == 1 else "3 channels (RGB)"
    note = f"Images: {height}x{width}, {kind}, {how}."
    return RawData(
        name=name,
        x=x,
        y=pd.Series(y),
        preprocessor=ImageScaler(255.0, name=name),
        raw_parts=[x, y, "|".join(classes)],
        target_what=f"the class labels of {name}",
        classes=tuple(classes),
        notes=(note,),
        details=(("data.images", f"{height}x{width}x{channels} {mode}, {how}"),),
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
