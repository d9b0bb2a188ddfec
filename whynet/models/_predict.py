"""Load a model a search saved or logged, and predict raw data with it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from whynet._urls import absolute_sqlite, mask_url
from whynet.exceptions import DataError, UserError

__all__ = ["Predictor", "load_model", "predict", "read_data"]

IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".bmp", ".gif")
_SCHEMES = ("models:/", "runs:/", "file:", "s3://", "gs://", "http://", "https://", "dbfs:/")
_FORMS = (
    "a saved model folder (e.g. whynet-runs/<study>/best_model), runs:/<run id>/best_model, "
    "or models:/<name>/<version>"
)


def _one_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return mask_url(" ".join(lines[0].split()) if lines else type(exc).__name__)[:400]


@contextmanager
def _tracking(uri: str | None) -> Iterator[None]:
    import mlflow

    if uri is None:
        yield
        return
    previous = mlflow.get_tracking_uri()
    previous_registry = mlflow.get_registry_uri()
    mlflow.set_tracking_uri(absolute_sqlite(uri))
    mlflow.set_registry_uri(absolute_sqlite(uri))
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)
        mlflow.set_registry_uri(previous_registry)


class Predictor:
    """A whynet model: raw rows in, original labels out.

    Use :func:`load_model` to get one. What the model takes is read from its
    MLmodel file, so data is checked before the network (and Keras) is loaded,
    on the first prediction.

    Attributes:
        source: Where the model was loaded from (password masked).
        task: ``classification`` or ``regression``.
        columns: The raw feature columns (table models), else ``None``.
        numeric: Those of ``columns`` that hold numbers.
        classes: The original class values (classification), else ``None``.
        sample_shape: The raw sample shape (array and image models), else ``None``.
        dtype: The dtype of raw samples (array and image models), else ``None``.
    """

    def __init__(
        self, uri: str, description: dict[str, Any], *, source: str, tracking_uri: str | None
    ) -> None:
        self.uri = uri
        self.source = source
        self.tracking_uri = tracking_uri
        self.task: str = description["task"]
        self.columns: list[str] | None = description.get("columns")
        self.numeric: list[str] = list(description.get("numeric") or [])
        labels = description.get("labels")
        self.classes: tuple[Any, ...] | None = None if labels is None else tuple(labels)
        shape = description.get("sample_shape")
        self.sample_shape: tuple[int, ...] | None = None if shape is None else tuple(shape)
        self.dtype: str | None = description.get("dtype")
        self._pyfunc_model: Any = None

    def __repr__(self) -> str:
        return f"Predictor({self.source!r}, task={self.task!r})"

    @property
    def pyfunc_model(self) -> Any:
        """The MLflow pyfunc model, loaded (with its Keras network) on first use.

        Raises:
            UserError: If it cannot be loaded.
        """
        if self._pyfunc_model is None:
            import mlflow.pyfunc

            try:
                with _tracking(self.tracking_uri):
                    self._pyfunc_model = mlflow.pyfunc.load_model(self.uri)
            except Exception as exc:  # MLflow raises many types
                raise UserError(f"cannot load the model {self.source}: {_one_line(exc)}.") from None
        return self._pyfunc_model

    @property
    def raw_model(self) -> Any:
        """The whynet pyfunc model inside (a :class:`whynet.models._pyfunc.RawDataModel`)."""
        from whynet.models._pyfunc import RawDataModel

        raw = self.pyfunc_model.unwrap_python_model()
        if not isinstance(raw, RawDataModel):
            raise UserError(f"{self.source} is not a model whynet saved. Give {_FORMS}.")
        return raw

    def predict(self, data: Any) -> pd.DataFrame:
        """Predict raw data.

        Args:
            data: A pandas DataFrame with the original feature columns (others,
                such as the target, are ignored), a NumPy array of raw samples,
                or a path: a CSV or Parquet file, an NPZ file (array ``x``), an
                image file or a folder of images.

        Returns:
            A ``prediction`` column with the original labels (or values, for
            regression) and, for classification, one ``proba_<label>`` column
            per class. Predictions of image files start with a ``file`` column.

        Raises:
            DataError: If the data cannot be read or does not fit the model.
        """
        files: list[Path] | None = None
        if isinstance(data, str | os.PathLike):
            data, files = read_data(Path(data), self)
        if self.columns is not None:
            inputs: Any = self._table(data)
        else:
            inputs = self._array(data)
        # The model itself, past MLflow's type checks: they refuse e.g. a float
        # column (one with a missing cell) where training had integers, which
        # the preprocessing takes; the columns and shapes were checked here.
        frame = self.raw_model.predict(None, inputs).reset_index(drop=True)
        if files is not None:
            frame.insert(0, "file", [str(f) for f in files])
        return frame

    def _table(self, data: Any) -> pd.DataFrame:
        """The model's columns of ``data``, with the types its signature declares."""
        if isinstance(data, np.ndarray) or not isinstance(data, pd.DataFrame):
            raise DataError(
                "this model takes a table with the columns "
                f"{', '.join(map(repr, self.columns or []))}; give a DataFrame or a CSV or "
                f"Parquet file, not {type(data).__name__}."
            )
        frame = data.set_axis([str(c) for c in data.columns], axis=1)
        frame = frame.loc[:, ~frame.columns.duplicated()].reset_index(drop=True)
        missing = [c for c in self.columns or [] if c not in frame.columns]
        if missing:
            raise DataError(
                f"the data lacks the column(s) {', '.join(map(repr, missing))} that the model "
                f"was trained on. Give every feature column: "
                f"{', '.join(map(repr, self.columns or []))} (other columns are ignored)."
            )
        out: dict[str, Any] = {}
        for col in self.columns or []:
            values = frame[col]
            if col in self.numeric:
                try:
                    out[col] = pd.to_numeric(values, errors="raise").astype(np.float64)
                except (TypeError, ValueError):
                    bad = values[pd.to_numeric(values, errors="coerce").isna() & values.notna()]
                    example = bad.iloc[0] if len(bad) else None
                    raise DataError(
                        f"column {col!r} must hold numbers, as when the model was trained, but "
                        f"holds {example!r}. Fix those values."
                    ) from None
            elif pd.api.types.is_bool_dtype(values.dtype) or values.dtype == object:
                out[col] = values
            else:
                out[col] = values.astype(object).where(values.notna(), np.nan)
        return pd.DataFrame(out)

    def _array(self, data: Any) -> np.ndarray:
        from whynet.models._pyfunc import raw_array

        x = raw_array(data, self.sample_shape or ())
        dtype = np.dtype(self.dtype or x.dtype)
        if x.dtype != dtype:
            cast = x.astype(dtype)
            if not np.array_equal(cast, x):
                raise DataError(
                    f"the data has dtype {x.dtype}, but the model takes {dtype} values and "
                    f"these do not convert exactly. Give {dtype} values as in training."
                )
            x = cast
        return x


def load_model(model: str | os.PathLike[str], *, tracking_uri: str | None = None) -> Predictor:
    """Load a model that a whynet search saved or logged.

    Args:
        model: A saved model folder (``whynet-runs/<study>/best_model``), an
            MLflow run's model (``runs:/<run id>/best_model``), a registered
            model (``models:/<name>/<version>`` or ``models:/<name>@<alias>``)
            or a logged model (``models:/<model id>``).
        tracking_uri: The MLflow tracking URI of a ``runs:/`` or ``models:/``
            URI (default: MLflow's, i.e. ``MLFLOW_TRACKING_URI``).

    Returns:
        The model, ready to :meth:`~Predictor.predict` raw data.

    Raises:
        UserError: If there is no such model or it is not a whynet model.

    Example:
        ``load_model("whynet-runs/my-study/best_model").predict("new_rows.csv")``;
        where there is no model, the error says what to give:

        >>> load_model("no/such/folder")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        whynet.exceptions.UserError: no saved model at no/such/folder: give a saved model folder
    """
    text = os.fspath(model)
    shown = mask_url(text)
    is_uri = text.startswith(_SCHEMES)
    if not is_uri:
        path = Path(text).expanduser()
        if path.is_file() and path.suffix == ".keras":
            raise UserError(
                f"{shown} is the bare Keras network, which takes preprocessed tensors. Give the "
                f"folder {shown_path(path.with_suffix(''))} next to it: it takes raw rows."
            )
        if not (path / "MLmodel").is_file():
            raise UserError(f"no saved model at {shown}: give {_FORMS}.")
        text = str(path)
    if is_uri and tracking_uri is not None:
        _check_store(tracking_uri, shown)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow.models import get_model_info

    uri_tracking = tracking_uri if is_uri else None
    try:
        with _tracking(uri_tracking):
            info = get_model_info(text)
    except Exception as exc:  # MLflow raises many types for missing models
        where = f" in {mask_url(absolute_sqlite(tracking_uri))}" if is_uri and tracking_uri else ""
        raise UserError(
            f"cannot load the model {shown}{where}: {_one_line(exc)}. Give {_FORMS}"
            + (" and the tracking URI it was logged to (--tracking-uri)." if is_uri else ".")
        ) from None
    description = (info.metadata or {}).get("whynet")
    if not isinstance(description, dict) or "task" not in description:
        raise UserError(
            f"{shown} is an MLflow model, but not one whynet saved (raw rows in, labels out). "
            f"Give {_FORMS}."
        )
    return Predictor(text, description, source=shown, tracking_uri=uri_tracking)


def _check_store(tracking_uri: str, shown: str) -> None:
    """A SQLite store that does not exist is an error (MLflow would create it)."""
    uri = absolute_sqlite(tracking_uri)
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///") :])
        if not path.is_file():
            raise UserError(
                f"cannot load the model {shown}: there is no MLflow store at {shown_path(path)}. "
                "Give the tracking URI the model was logged to (--tracking-uri)."
            )


def shown_path(path: Path) -> str:
    """A path for a message."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def predict(
    model: str | os.PathLike[str] | Predictor,
    data: Any,
    *,
    tracking_uri: str | None = None,
) -> pd.DataFrame:
    """Predict raw data with a model a whynet search saved or logged.

    Args:
        model: A :class:`Predictor`, or where to load one from (see
            :func:`load_model`).
        data: A DataFrame with the original columns, a NumPy array, or a path
            (CSV, Parquet, NPZ, an image file or a folder of images).
        tracking_uri: The MLflow tracking URI of a ``runs:/`` or ``models:/`` URI.

    Returns:
        The predictions (see :meth:`Predictor.predict`).

    Raises:
        UserError: If the model cannot be loaded or the data does not fit it.
    """
    if not isinstance(model, Predictor):
        model = load_model(model, tracking_uri=tracking_uri)
    return model.predict(data)


def read_data(path: Path, model: Predictor) -> tuple[Any, list[Path] | None]:
    """Read ``path`` as the model takes it: a table, an array or images.

    Returns:
        The data, and the image files read (else ``None``).

    Raises:
        DataError: If the file cannot be read.
    """
    where = shown_path(path)
    if not path.exists():
        raise DataError(f"data file or folder {where} does not exist.")
    suffix = path.suffix.lower()
    if model.columns is not None:
        if path.is_dir() or suffix not in (".csv", ".parquet"):
            raise DataError(
                f"cannot read {where} for this model: it takes a table; give a .csv or "
                ".parquet file with the columns " + ", ".join(map(repr, model.columns)) + "."
            )
        from whynet.data._tabular import read_table

        return read_table(path), None
    if suffix in (".npz", ".npy"):
        return _read_array(path), None
    if path.is_dir() or suffix in IMAGE_EXTENSIONS:
        if len(model.sample_shape or ()) != 3:
            raise DataError(
                f"cannot read {where} for this model: it takes arrays of shape "
                f"{model.sample_shape}, not images; give an .npz file with an array 'x'."
            )
        files = _image_files(path)
        return np.stack([_load_image(f, model.sample_shape or ()) for f in files]), files
    raise DataError(
        f"cannot read {where}: unsupported file type {path.suffix or '(none)'!r}. Give an "
        ".npz or .npy file, an image file or a folder of images."
    )


def _read_array(path: Path) -> np.ndarray:
    where = shown_path(path)
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return loaded
        with loaded:
            key = next((k for k in ("x", "X") if k in loaded.files), None)
            if key is None:
                raise DataError(
                    f"{where} has no array 'x' (arrays found: "
                    f"{', '.join(map(repr, loaded.files)) or 'none'}). Save the samples as 'x'."
                )
            return np.asarray(loaded[key])
    except DataError:
        raise
    except Exception as exc:  # numpy and zipfile raise many types
        raise DataError(f"cannot read {where} as NumPy arrays: {_one_line(exc)}.") from None


def _image_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(
        p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not files:
        raise DataError(
            f"{shown_path(path)} holds no images ({', '.join(IMAGE_EXTENSIONS)} files)."
        )
    return files


def _load_image(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """One image as the model's raw samples: resized to its size, with its channels."""
    height, width, channels = (int(d) for d in shape)
    color_mode = "grayscale" if channels == 1 else "rgba" if channels == 4 else "rgb"
    from whynet.data import _files

    loader = getattr(_files, "load_image", None)
    if loader is not None:
        return np.asarray(loader(path, size=(height, width), color_mode=color_mode))
    return _read_image(path, size=(height, width), color_mode=color_mode)


def _read_image(path: Path, *, size: tuple[int, int], color_mode: str) -> np.ndarray:
    """Read an image with Pillow as uint8 ``(height, width, channels)``."""
    from PIL import Image

    mode = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}[color_mode]
    try:
        with Image.open(path) as opened:
            image = opened.convert(mode)
            if image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.uint8)
    except Exception as exc:  # Pillow raises many types for broken files
        raise DataError(
            f"cannot read the image {shown_path(path)}: {_one_line(exc)}. Remove or re-save it."
        ) from None
    return array.reshape(size[0], size[1], -1)
