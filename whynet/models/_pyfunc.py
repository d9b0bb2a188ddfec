"""The selected model as an MLflow pyfunc model that takes raw rows.

:class:`RawDataModel` wraps the preprocessor fitted on the training split and
the Keras model (``best_model.keras``, an artifact). It takes rows as the user
has them (a table with the original columns, or raw image/feature arrays) and
returns the original labels, with one probability column per class.

Importing this module imports neither MLflow nor Keras: the class, an MLflow
``PythonModel``, is made on first use (``RawDataModel`` is looked up by name,
so pickles of it load as usual), and Keras is imported when a model is loaded.
"""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from whynet.exceptions import DataError

__all__ = ["ModelPackage", "RawDataLogic", "package_model", "quiet_mlflow", "save_package"]

KERAS_ARTIFACT = "keras_model"


@contextmanager
def quiet_mlflow() -> Iterator[None]:
    """Keep MLflow's advice on saving models (cloudpickle, input examples) out of the output.

    The model is pickled with cloudpickle on purpose: it is whynet's own class,
    loaded where whynet is installed.
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    log = logging.getLogger("mlflow.pyfunc")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        log.setLevel(level)


def _missing_columns(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    have = {str(c) for c in frame.columns}
    return [c for c in columns if c not in have]


class RawDataLogic:
    """Raw rows in, original labels (and class probabilities) out.

    The body of :class:`RawDataModel`, which adds MLflow's ``PythonModel`` as a
    base class.

    Args:
        preprocessor: The preprocessing fitted on the training split; its
            ``transform`` takes raw rows.
        task: ``classification`` or ``regression``.
        labels: The original class values in label order (classification).
        columns: The raw feature columns, for table data; ``None`` for arrays.
        numeric: Those of ``columns`` that are numbers.
        sample_shape: The shape of one raw sample, for array data.
        dtype: The dtype of raw array samples, e.g. ``uint8``.
    """

    def __init__(
        self,
        *,
        preprocessor: Any,
        task: str,
        labels: tuple[Any, ...] | None,
        columns: list[str] | None,
        numeric: list[str] | None = None,
        sample_shape: tuple[int, ...] | None = None,
        dtype: str | None = None,
    ) -> None:
        self.preprocessor = preprocessor
        self.task = task
        self.labels = labels
        self.columns = columns
        self.numeric = numeric or []
        self.sample_shape = sample_shape
        self.dtype = dtype
        self._keras_model: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_keras_model"] = None  # the Keras model travels as an artifact
        return state

    @property
    def is_table(self) -> bool:
        """Whether the model takes a table (else arrays)."""
        return self.columns is not None

    @property
    def is_image(self) -> bool:
        """Whether raw samples are images (height, width, channels)."""
        return self.sample_shape is not None and len(self.sample_shape) == 3

    def load_context(self, context: Any) -> None:
        """Load the Keras model artifact (``safe_mode`` on)."""
        self.load_keras(context.artifacts[KERAS_ARTIFACT])

    def load_keras(self, path: str | os.PathLike[str]) -> None:
        """Load the Keras model from ``path`` (``safe_mode`` on)."""
        from whynet.trainers._backend import import_keras

        keras = import_keras()  # quietly: no native start-up lines before the predictions
        self._keras_model = keras.models.load_model(path, safe_mode=True)

    def features(self, data: Any) -> np.ndarray:
        """The model's input for raw rows: checked, then preprocessed.

        Raises:
            DataError: If a column is missing, the shape is wrong, or a value
                cannot be used.
        """
        if self.is_table:
            assert self.columns is not None
            if not isinstance(data, pd.DataFrame):
                raise DataError(
                    "this model takes a table (a pandas DataFrame) with the columns "
                    f"{', '.join(map(repr, self.columns))}, but got {type(data).__name__}."
                )
            missing = _missing_columns(data, self.columns)
            if missing:
                raise DataError(
                    f"the data lacks the column(s) {', '.join(map(repr, missing))} that the "
                    f"model was trained on. Give every feature column: "
                    f"{', '.join(map(repr, self.columns))} (other columns are ignored)."
                )
            frame = data.set_axis([str(c) for c in data.columns], axis=1)
            frame = frame.loc[:, ~frame.columns.duplicated()][self.columns]
            raw: Any = frame.reset_index(drop=True)
        else:
            raw = self.as_array(data)
        try:
            x = self.preprocessor.transform(raw)
        except DataError:
            raise
        except (TypeError, ValueError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise DataError(f"cannot preprocess the data for this model: {reason}.") from None
        self._check_finite(x, raw)
        return np.asarray(x, dtype=np.float32)

    def as_array(self, data: Any) -> np.ndarray:
        """Raw array rows of the shape the model takes (a channel axis is added)."""
        return raw_array(data, tuple(self.sample_shape or ()))

    @property
    def description(self) -> dict[str, Any]:
        """What the model takes and returns, for the MLmodel file's metadata.

        :func:`whynet.load_model` reads it to check data before Keras is loaded.
        """
        return {
            "task": self.task,
            "labels": None if self.labels is None else list(self.labels),
            "columns": self.columns,
            "numeric": self.numeric,
            "sample_shape": None if self.sample_shape is None else list(self.sample_shape),
            "dtype": self.dtype,
        }

    def _check_finite(self, x: np.ndarray, raw: Any) -> None:
        flat = np.asarray(x).reshape(len(x), -1)
        bad_rows = ~np.isfinite(flat).all(axis=1)
        if not bad_rows.any():
            return
        where = ""
        if isinstance(raw, pd.DataFrame):
            cols = [
                c
                for c in self.numeric
                if c in raw
                and (~np.isfinite(raw[c].to_numpy(dtype=np.float64, na_value=np.nan))).any()
            ]
            if cols:
                where = f" in column(s) {', '.join(map(repr, cols))}"
        raise DataError(
            f"{int(bad_rows.sum())} row(s) have missing or infinite values{where} "
            f"(first at row {int(np.flatnonzero(bad_rows)[0])}), which this model cannot "
            "use. Fill in those values or drop those rows."
        )

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Predict raw rows: a ``prediction`` column (original labels or units).

        ``model_input`` is a table, or an array for array and image models (the
        hint is a DataFrame only because MLflow reads it: a DataFrame hint makes
        MLflow validate inputs by the signature alone). Classification adds
        one ``proba_<label>`` column per class.
        """
        if self._keras_model is None:
            raise RuntimeError("the Keras model is not loaded; load the model with MLflow")
        x = self.features(model_input)
        out = np.asarray(self._keras_model.predict(x, verbose=0, batch_size=1024))
        return self.decode(out)

    def decode(self, out: np.ndarray) -> pd.DataFrame:
        """The prediction frame for the network's outputs."""
        if self.task != "classification":
            return pd.DataFrame({"prediction": out.reshape(len(out), -1)[:, 0].astype(np.float64)})
        labels = list(self.labels or ())
        index = np.argmax(out, axis=1)
        values = np.empty(len(labels), dtype=object)
        values[:] = labels
        column = pd.Series(values[index], dtype=object).infer_objects()
        frame = pd.DataFrame({"prediction": column})
        for k, label in enumerate(labels):
            frame[f"proba_{label}"] = out[:, k].astype(np.float64)
        return frame


_CLASS: type | None = None


def _model_class() -> type:
    """``RawDataModel``: :class:`RawDataLogic` on MLflow's ``PythonModel``, made once."""
    global _CLASS
    if _CLASS is None:
        with quiet_mlflow():  # its advice on type hints (of `predict`, of its own types)
            import mlflow.pyfunc

            _CLASS = type(
                "RawDataModel",
                (RawDataLogic, mlflow.pyfunc.PythonModel),
                {"__module__": __name__, "__qualname__": "RawDataModel"},
            )
    return _CLASS


def __getattr__(name: str) -> Any:
    if name == "RawDataModel":
        return _model_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def raw_array(data: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``data`` as raw samples of ``shape`` (a missing channel axis of 1 is added).

    Raises:
        DataError: If the samples have another shape or are not numbers.
    """
    if isinstance(data, pd.DataFrame):
        data = data.to_numpy()
    x = np.asarray(data)
    if x.ndim == len(shape) and shape[-1:] == (1,) and x.shape[1:] == shape[:-1]:
        x = x[..., None]
    if tuple(x.shape[1:]) != shape:
        raise DataError(
            f"this model takes samples of shape {shape}, but the data has samples of "
            f"shape {tuple(x.shape[1:])}. Give an array of shape (n, "
            f"{', '.join(map(str, shape))})."
        )
    if x.dtype.kind not in "biuf":
        raise DataError(f"the data must be numeric, but has dtype {x.dtype}.")
    return x


@dataclass(frozen=True)
class ModelPackage:
    """Everything MLflow needs to save or log the raw-data model.

    Attributes:
        python_model: The pyfunc model.
        keras_path: The ``.keras`` file, saved as an artifact.
        signature: The MLflow signature (raw columns in, predictions out).
        input_example: A few raw training rows.
        pip_requirements: Pinned requirements (whynet among them).
    """

    python_model: Any
    keras_path: Path
    signature: Any
    input_example: Any
    pip_requirements: list[str]

    @property
    def artifacts(self) -> dict[str, str]:
        """The artifacts of the pyfunc model."""
        return {KERAS_ARTIFACT: str(self.keras_path)}

    @property
    def metadata(self) -> dict[str, Any]:
        """The MLmodel file's metadata: what the model takes and returns."""
        return {"whynet": self.python_model.description}


def _example_frame(frame: pd.DataFrame, numeric: list[str]) -> pd.DataFrame:
    """Raw rows with the types the signature declares: the columns' own.

    Integer columns stay integers and other numbers become doubles (MLflow
    then refuses a double where the training file had integers, as it checks
    types strictly; ``whynet predict`` converts them), bools stay bools and
    the other columns are strings.
    """
    from whynet.data._target import as_text

    out = {}
    for col in frame.columns:
        values = frame[col]
        if col in numeric:
            if pd.api.types.is_integer_dtype(values.dtype) and not values.isna().any():
                out[col] = values.to_numpy(dtype=np.int64)
            else:
                out[col] = values.to_numpy(dtype=np.float64, na_value=np.nan)
        elif pd.api.types.is_bool_dtype(values.dtype):
            out[col] = values.to_numpy(dtype=bool)
        else:
            out[col] = as_text(values.fillna(""))
    return pd.DataFrame(out)


def pip_requirements() -> list[str]:
    """Pinned requirements of the model, given so MLflow need not infer them."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    names = [
        "whynet",
        "keras",
        "numpy",
        "pandas",
        "scikit-learn",
        {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend, backend),
    ]
    reqs = []
    for name in names:
        try:
            reqs.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            reqs.append(name)
    return reqs


def package_model(keras_model: Any, keras_path: Path, dataset: Any) -> ModelPackage:
    """Wrap the selected Keras model and the data set's preprocessor.

    Args:
        keras_model: The loaded Keras model (to infer the output signature).
        keras_path: Its ``.keras`` file.
        dataset: The :class:`whynet.data.Dataset` it was trained on.

    Raises:
        ValueError: If the data set does not carry its fitted preprocessor.
    """
    from mlflow.models import infer_signature

    if dataset.preprocessor is None or dataset.raw_example is None:
        raise ValueError("the data set does not carry its fitted preprocessor")
    spec = dataset.spec
    example = dataset.raw_example
    if isinstance(example, pd.DataFrame):
        columns = [str(c) for c in example.columns]
        numeric = [
            c
            for c in columns
            if pd.api.types.is_numeric_dtype(example[c].dtype)
            and not pd.api.types.is_bool_dtype(example[c].dtype)
        ]
        model = _model_class()(
            preprocessor=dataset.preprocessor,
            task=spec.task,
            labels=dataset.labels if spec.task == "classification" else None,
            columns=columns,
            numeric=numeric,
        )
        example = _example_frame(example.set_axis(columns, axis=1), numeric)
    else:
        example = np.asarray(example)
        model = _model_class()(
            preprocessor=dataset.preprocessor,
            task=spec.task,
            labels=dataset.labels if spec.task == "classification" else None,
            columns=None,
            sample_shape=tuple(int(d) for d in example.shape[1:]),
            dtype=str(example.dtype),
        )
    x = model.features(example)
    output = model.decode(np.asarray(keras_model.predict(x, verbose=0)))
    with quiet_mlflow():  # its hint on integer columns is answered in _example_frame
        signature = infer_signature(example, output)
    return ModelPackage(
        python_model=model,
        keras_path=Path(keras_path),
        signature=signature,
        input_example=example,
        pip_requirements=pip_requirements(),
    )


def save_package(package: ModelPackage, path: Path) -> Path:
    """Save the pyfunc model in the folder ``path`` (replacing an earlier one)."""
    import mlflow.pyfunc

    if path.exists():
        shutil.rmtree(path)
    with quiet_mlflow():
        mlflow.pyfunc.save_model(
            path=str(path),
            python_model=package.python_model,
            artifacts=package.artifacts,
            signature=package.signature,
            pip_requirements=package.pip_requirements,
            metadata=package.metadata,
        )
    return path
