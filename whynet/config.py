"""The run config: one validated, frozen record for a whole search.

A config comes from YAML (``whynet run CONFIG.yaml``) or from Python
(``RunConfig(...)`` or keyword arguments to :func:`whynet.search`). Every key is
checked once, here: unknown keys are rejected with the nearest valid name, and
each error names the key, the bad value and what is allowed. A config written
out with :meth:`RunConfig.to_yaml` and read back is the same config.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from whynet.exceptions import ConfigError

__all__ = [
    "DataConfig",
    "ExecutionConfig",
    "RunConfig",
    "SearchConfig",
    "TrackingConfig",
    "TrainingConfig",
    "load_config",
]

SAMPLERS = ("tpe", "random", "grid", "cmaes", "gp", "nsga2")
PRUNERS = ("hyperband", "median", "successive_halving", "none")
OBJECTIVES = ("score", "n_params")
DEFAULT_STORAGE = "whynet.journal"
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# Height or width, in pixels, that images from a folder are resized to.
_ImageSide = Annotated[int, Field(ge=8, le=4096)]


class DataConfig(_Model):
    """Where the data comes from and how it is split.

    Attributes:
        source: A built-in data set name (``digits``, ``iris``, ``wine``,
            ``breast_cancer``, ``synthetic_classification``,
            ``synthetic_regression``, ``mnist``, ``fashion_mnist``, ``cifar10``)
            or a path to a ``.csv``, ``.parquet`` or ``.npz`` file or to a
            folder of images (one sub-folder per class).
        target: The target column of a CSV or Parquet file.
        task: ``classification``, ``regression``, or ``auto`` to infer it.
        val_fraction: Share of the rows held out for validation (model selection).
        test_fraction: Share of the rows held out for the final test.
        n_samples: Use at most this many rows (a seeded, stratified subsample),
            or the size of a synthetic set.
        n_features: Number of features of a synthetic set.
        image_size: ``auto`` (the images' own size, when all images of a
            folder share one), or ``[height, width]`` that images from a
            folder are resized to (8 to 4096 pixels each).
        color_mode: Channels of images from a folder: ``grayscale`` (one
            channel), ``rgb`` (three), or ``auto`` (grayscale when every image
            is single-channel, else rgb).
        missing: Missing (empty, NaN or infinite) feature values: ``impute``
            them (fitted on the training split: numbers get the median and a
            ``<column>_missing`` indicator column, other columns a
            ``"missing"`` category), ``drop`` the rows that have any (rows
            with a missing or, for regression, non-numeric target too), or
            ``error``. A missing target is an error unless ``drop``.
    """

    source: str = "digits"
    target: str | None = None
    task: Literal["auto", "classification", "regression"] = "auto"
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    n_samples: int | None = Field(None, ge=10)
    n_features: int = Field(20, ge=1, le=10_000)
    image_size: Literal["auto"] | tuple[_ImageSide, _ImageSide] = "auto"
    color_mode: Literal["auto", "grayscale", "rgb"] = "auto"
    missing: Literal["impute", "drop", "error"] = "impute"

    @field_validator("image_size", mode="wrap")
    @classmethod
    def _image_size_is_auto_or_two_sides(cls, value: Any, handler: Any) -> Any:
        if isinstance(value, str) and value == "auto":
            return "auto"
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(
                "`image_size` must be 'auto' (the images' own size) or [height, width] with "
                "each side from 8 to 4096 pixels"
            ) from None

    @model_validator(mode="after")
    def _fractions_leave_training_rows(self) -> DataConfig:
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ValueError(
                "`val_fraction + test_fraction` must be below 0.9 so that rows are left "
                f"to train on, but got {self.val_fraction} + {self.test_fraction}"
            )
        return self


class TrainingConfig(_Model):
    """How each trial trains.

    Attributes:
        max_epochs: The epoch budget of one trial (the ``epochs`` parameter
            of the search space defaults to it).
        early_stopping_patience: Epochs without improvement of the validation
            metric before a trial stops; ``0`` turns early stopping off.
        backend: The Keras backend of the trainers.
    """

    max_epochs: int = Field(20, ge=1, le=10_000)
    early_stopping_patience: int = Field(5, ge=0)
    backend: Literal["tensorflow", "jax", "torch"] = "tensorflow"


class SearchConfig(_Model):
    """The Optuna side of the search.

    Attributes:
        trials: Trials to add in this invocation (a resumed study keeps its
            earlier trials and adds this many).
        timeout: Stop starting new trials after this many seconds.
        sampler: One of ``tpe``, ``random``, ``grid``, ``cmaes``, ``gp``, ``nsga2``.
        pruner: One of ``hyperband``, ``median``, ``successive_halving``, ``none``.
        objectives: ``[score]`` (validation accuracy, or RMSE for regression),
            or ``[score, n_params]`` to trade accuracy against model size.
        storage: Optuna storage: a file path (Optuna's journal file storage,
            safe for several processes on one host) or a database URL
            (``sqlite:///...``, ``postgresql://...``).
        max_consecutive_failures: Stop the search after this many failed
            trials in a row.
    """

    trials: int = Field(20, ge=1)
    timeout: float | None = Field(None, gt=0)
    sampler: Literal["tpe", "random", "grid", "cmaes", "gp", "nsga2"] = "tpe"
    pruner: Literal["hyperband", "median", "successive_halving", "none"] = "hyperband"
    objectives: tuple[Literal["score", "n_params"], ...] = ("score",)
    storage: str = DEFAULT_STORAGE
    max_consecutive_failures: int = Field(5, ge=1)

    @field_validator("objectives")
    @classmethod
    def _objectives_shape(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or value[0] != "score" or len(set(value)) != len(value):
            raise ValueError(
                "`objectives` must start with 'score' and list each objective once "
                f"(allowed: {list(OBJECTIVES)}), but got {list(value)}"
            )
        return value

    @model_validator(mode="after")
    def _sampler_fits_objectives(self) -> SearchConfig:
        multi = len(self.objectives) > 1
        if multi and self.pruner != "none":
            raise ValueError(
                "Optuna cannot prune multi-objective trials: with objectives "
                f"{list(self.objectives)} set `pruner: none` (got {self.pruner!r})"
            )
        if multi and self.sampler in ("cmaes", "gp"):
            raise ValueError(
                f"sampler {self.sampler!r} optimizes one objective; with objectives "
                f"{list(self.objectives)} use 'nsga2', 'tpe' or 'random'"
            )
        if self.sampler == "nsga2" and not multi:
            raise ValueError(
                "sampler 'nsga2' is for two objectives: set `objectives: [score, n_params]` "
                "or use sampler 'tpe'"
            )
        return self


class ExecutionConfig(_Model):
    """Where trials run: worker processes pinned to device slots.

    Attributes:
        workers: Worker processes. ``auto`` is one per device slot: every GPU
            (times ``trials_per_gpu``); without a GPU, one per CPU core (at
            most 8, 2 GiB of free memory each) when the search has at least
            8 trials per worker and no time limit under 2 minutes, else one
            worker using all cores. A number on a CPU-only machine splits the
            cores between that many workers.
        devices: ``auto`` (every GPU, else the CPU), ``cpu``, or a list of
            GPU ids (as ``nvidia-smi`` numbers them, in PCI bus order).
        trials_per_gpu: Small trials packed on one GPU, each in its own worker
            (GPU memory grows on demand instead of being preallocated).
        gpus_per_trial: GPUs one trial spans, data-parallel
            (``tf.distribute.MirroredStrategy`` on TensorFlow,
            ``keras.distribution.DataParallel`` on JAX).
        threads_per_worker: CPU threads of each worker; by default the cores
            divided by the workers.
        recycle_after_trials: A worker process is replaced by a fresh one after
            this many trials (frameworks leak memory from trial to trial).
        recycle_memory_growth: ... or when its resident memory exceeds this
            multiple of its memory after its first trial.
        recycle_memory_mb: ... or when its resident memory exceeds this many MiB.
        in_process: Run a single CPU worker inside the calling process. It
            starts faster (no second framework start-up) but is never
            recycled; ``auto`` does so for one CPU worker and at most
            ``recycle_after_trials`` trials, where memory growth stays small.
    """

    workers: int | Literal["auto"] = "auto"
    devices: Literal["auto", "cpu"] | tuple[int, ...] = "auto"
    trials_per_gpu: int = Field(1, ge=1, le=64)
    gpus_per_trial: int = Field(1, ge=1, le=64)
    threads_per_worker: int | None = Field(None, ge=1)
    recycle_after_trials: int | None = Field(50, ge=1)
    recycle_memory_growth: float | None = Field(1.2, gt=1.0)
    recycle_memory_mb: float | None = Field(None, gt=0)
    in_process: bool | Literal["auto"] = "auto"

    @field_validator("workers")
    @classmethod
    def _workers_positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"`workers` must be a positive integer or 'auto', but got {value}")
        return value

    @field_validator("devices")
    @classmethod
    def _gpu_ids(cls, value: Any) -> Any:
        if isinstance(value, tuple) and (
            not value or len(set(value)) != len(value) or min(value) < 0
        ):
            raise ValueError(
                "`devices` must be 'auto', 'cpu' or a list of distinct GPU ids >= 0, "
                f"but got {list(value)}"
            )
        return value

    @model_validator(mode="after")
    def _packing_or_spanning(self) -> ExecutionConfig:
        if self.trials_per_gpu > 1 and self.gpus_per_trial > 1:
            raise ValueError(
                "`trials_per_gpu` packs several trials on one GPU and `gpus_per_trial` spreads "
                "one trial over several; set one of them to 1 "
                f"(got trials_per_gpu={self.trials_per_gpu}, gpus_per_trial={self.gpus_per_trial})"
            )
        return self


class TrackingConfig(_Model):
    """Where MLflow mirrors the study.

    Attributes:
        enabled: Log to MLflow at all.
        uri: An MLflow tracking URI; by default a SQLite store in the
            working directory.
        experiment: Experiment name; defaults to the study name.
        timeout_s: Longest wait for one call to a tracking server. While the
            server is unreachable, logging is skipped (training goes on) and
            caught up from the study when it answers again.
    """

    enabled: bool = True
    uri: str = DEFAULT_TRACKING_URI
    experiment: str | None = None
    timeout_s: float = Field(10.0, gt=0, le=600)


_STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class RunConfig(_Model):
    """A whole search, validated and frozen.

    Attributes:
        study: The study name; re-running with the same name resumes it.
            Defaults to ``whynet-<data source>``.
        seed: Seeds the data split, the sampler and the trainers.
        data: See :class:`DataConfig`.
        space: The search space: fixed values, choices or ranges per parameter,
            on top of the default space (see :mod:`whynet.spaces`).
        training: See :class:`TrainingConfig`.
        search: See :class:`SearchConfig`.
        tracking: See :class:`TrackingConfig`.
        execution: See :class:`ExecutionConfig`.
        output_dir: Where the best model and the results table are written.
    """

    study: str | None = None
    seed: int = Field(0, ge=0, lt=2**32)
    data: DataConfig = DataConfig()
    space: dict[str, Any] = Field(default_factory=dict)
    training: TrainingConfig = TrainingConfig()
    search: SearchConfig = SearchConfig()
    tracking: TrackingConfig = TrackingConfig()
    execution: ExecutionConfig = ExecutionConfig()
    output_dir: str = "whynet-runs"

    @field_validator("study")
    @classmethod
    def _study_name(cls, value: str | None) -> str | None:
        if value is not None and not _STUDY_NAME.match(value):
            raise ValueError(
                "`study` must be 1 to 128 letters, digits, '.', '_' or '-', starting with a "
                f"letter or digit, but got {value!r}"
            )
        return value

    @property
    def study_name(self) -> str:
        """The study name, derived from the data source when not given."""
        if self.study:
            return self.study
        stem = Path(self.data.source).stem or self.data.source
        safe = re.sub(r"[^A-Za-z0-9._-]", "-", stem)[:100]
        return f"whynet-{safe}"

    @property
    def output_path(self) -> Path:
        """The folder of this study's outputs."""
        return Path(self.output_dir) / self.study_name

    def to_dict(self) -> dict[str, Any]:
        """Return the config as plain Python data (lists, dicts, scalars)."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        """Return the config as YAML that :func:`load_config` reads back equal."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def with_overrides(self, **overrides: Any) -> RunConfig:
        """Return a copy with dotted keys replaced, validated again.

        Example:
            >>> RunConfig().with_overrides(**{"search.trials": 3}).search.trials
            3
        """
        data = self.to_dict()
        for dotted, value in overrides.items():
            if value is None:
                continue
            node = data
            *parents, leaf = dotted.split(".")
            for i, part in enumerate(parents):
                # A missing section is created, so that validation names the unknown key.
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    where = ".".join(parents[: i + 1])
                    raise ConfigError(
                        f"cannot override {dotted!r}: {where!r} is a single value "
                        f"({_shown(child)}), not a section with keys. Override {where!r} itself."
                    )
                node = child
            node[leaf] = value
        return parse_config(data)


def _format_error(error: ValidationError, source: str) -> str:
    """One line per problem: the key, the bad value, what is allowed."""
    lines = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "<root>"
        if item["type"] == "extra_forbidden":
            parent_model = _model_at(item["loc"][:-1])
            allowed = sorted(parent_model.model_fields) if parent_model else []
            close = difflib.get_close_matches(str(item["loc"][-1]), allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            lines.append(f"unknown key {loc!r}.{hint} Allowed keys here: {', '.join(allowed)}.")
            continue
        msg = item["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        got = item.get("input")
        shown = "" if isinstance(got, dict) else f" Got {_shown(got)}."
        lines.append(f"invalid value for {loc!r}: {msg}.{shown}")
    return f"invalid config {source}: " + " ".join(lines)


def _shown(value: Any) -> str:
    """A value's repr for a one-line message: on one line, and shortened."""
    text = repr(value)
    if not text.isprintable():
        text = " ".join(text.split())
    return text if len(text) <= 200 else text[:197] + "..."


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = RunConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None or not (
            isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        ):
            return None
        model = field.annotation
    return model


def parse_config(data: dict[str, Any], *, source: str = "") -> RunConfig:
    """Validate plain data into a :class:`RunConfig`.

    Raises:
        ConfigError: With every problem, each naming its key.
    """
    if not isinstance(data, dict):
        raise ConfigError(
            f"invalid config {source}: expected a mapping of keys to values at the top level, "
            f"got {type(data).__name__}. See examples/quickstart.yaml."
        )
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, source or "(from Python)")) from None
    # The space is checked here too, so that a space that cannot be sampled
    # fails when the config is loaded, before anything is written.
    from whynet.spaces import SearchSpace

    SearchSpace.from_config(config.space, max_epochs=config.training.max_epochs)
    return config


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML run config.

    Args:
        path: The YAML file.

    Returns:
        The validated config.

    Raises:
        ConfigError: If the file is missing, is not YAML, or is not a valid config.

    Example:
        >>> cfg = load_config("examples/quickstart.yaml")
        >>> cfg.study, cfg.search.sampler, cfg.search.trials
        ('quickstart-digits', 'tpe', 30)
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist. Check the path.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text.") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {str(path)!r}: {exc.strerror or exc}. Check the path "
            "and its permissions."
        ) from None
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(
            f"config file {str(path)!r} is nested too deeply to read. Write the config as "
            "plain keys and values (see examples/quickstart.yaml)."
        ) from None
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {reason}") from None
    except Exception as exc:  # PyYAML's constructors raise plain errors for bad `!!int ""`
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ConfigError(
            f"config file {str(path)!r} is not valid YAML: a tagged value cannot be read "
            f"({reason}). Fix or remove explicit tags such as `!!int` or `!!float`."
        ) from None
    if data is None:
        data = {}
    return parse_config(data, source=repr(str(path)))
