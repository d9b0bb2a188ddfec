"""One-factor-at-a-time ablations of a selected configuration, as resumable studies.

An ablation asks "does this choice matter?": the selected configuration is
trained again with only one factor changed (the activation, the
regularization, the learning rate, the batch size, the architecture or the
size of the training set), each level repeated on ``R`` repeated splits. Repeat
``r`` uses split seed = training seed = ``config.seed + r`` for every level, so
the levels' scores are paired (see :mod:`whynet.reports._repeats`).

Each factor is an Optuna study with a grid over (level, repeat): a run that
is stopped (Ctrl-C) or killed resumes where it stopped and never trains a
finished cell again. Every fit stops early on the validation split and is
scored once on the test split; the test split chooses nothing.

Fits run inside the calling process, one after another, with whynet's Keras
trainer (the same one a search uses); an ablation does not start workers.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from whynet.exceptions import ConfigError, TrialFailedError
from whynet.reports._repeats import LONG_COLUMNS
from whynet.spaces import TrialParams

if TYPE_CHECKING:
    import pandas as pd

    from whynet.config import RunConfig
    from whynet.data import Dataset, DatasetSpec, TrainingData

__all__ = [
    "BUDGETS",
    "COLUMNS",
    "Budget",
    "Factor",
    "FactorPlan",
    "Level",
    "get_budget",
    "plan_factors",
    "planned_fits",
    "run_ablations",
    "run_network_repeats",
    "subset_train",
]

COLUMNS = LONG_COLUMNS
"""The long results frame's columns, in order (extra columns follow them)."""

NETWORK_LEVEL = "network (tuned)"


@dataclass(frozen=True)
class Budget:
    """How much an explanation measures.

    Attributes:
        repeats: Repeated splits per level.
        max_epochs: The epoch budget of each ablation fit is capped at this
            (``None``: the selected configuration's own epochs).
        extended: Also measure the extra levels (more activations, learning
            rates, batch sizes and training-set sizes).
    """

    repeats: int
    max_epochs: int | None
    extended: bool


BUDGETS: dict[str, Budget] = {
    "small": Budget(repeats=3, max_epochs=10, extended=False),
    "medium": Budget(repeats=5, max_epochs=20, extended=False),
    "full": Budget(repeats=10, max_epochs=None, extended=True),
}


def get_budget(name: str) -> Budget:
    """The :class:`Budget` called ``name``.

    Raises:
        ConfigError: If there is no such budget.
    """
    if name not in BUDGETS:
        raise ConfigError(
            f"invalid budget {name!r}: expected one of {', '.join(BUDGETS)} "
            "(small: 3 repeats, medium: 5, full: 10 and every level)."
        )
    return BUDGETS[name]


@dataclass(frozen=True)
class Level:
    """One level of a factor.

    Attributes:
        label: How the level is shown, e.g. ``relu``, ``0.01``, ``30%``.
        params: The selected parameters with only this factor changed.
        train_fraction: The share of the training split this level trains on
            (a seeded, stratified subset; validation and test are unchanged).
        selected: Whether this is the selected configuration's own level.
    """

    label: str
    params: TrialParams
    train_fraction: float = 1.0
    selected: bool = False


@dataclass(frozen=True)
class Factor:
    """A factor of an ablation and its levels (labels are unique)."""

    name: str
    levels: tuple[Level, ...]

    def __post_init__(self) -> None:
        labels = [level.label for level in self.levels]
        if len(set(labels)) != len(labels):
            raise ValueError(f"factor {self.name!r} repeats a level label: {labels}")
        if not labels:
            raise ValueError(f"factor {self.name!r} has no levels")


class FactorPlan(list[Factor]):
    """The factors :func:`plan_factors` chose, with notes on what it left out.

    It is a plain list of :class:`Factor`; ``notes`` says, e.g., that the
    architecture factor was skipped because a CNN needs image data.
    """

    def __init__(self, factors: Iterable[Factor] = (), notes: Sequence[str] = ()) -> None:
        super().__init__(factors)
        self.notes: tuple[str, ...] = tuple(notes)


# Planning ------------------------------------------------------------------

_ACTIVATIONS = ("sigmoid", "relu", "tanh")
_ACTIVATIONS_FULL = ("gelu", "elu", "selu")
_LEARNING_RATES = (0.001, 0.01, 0.1)
_LEARNING_RATES_FULL = (0.0001, 0.003, 0.03)
_BATCH_SIZES = (32, 128, 512)
_BATCH_SIZES_FULL = (16, 64, 256)
_FRACTIONS = (0.1, 0.3, 1.0)
_FRACTIONS_FULL = (0.5,)
_SIZES = (1_000, 10_000, 100_000)
_SMALL_DATA = 10_000
# Strengths for a regularization the search did not select: mild enough not
# to cripple a small network (Keras' default of 0.01 often does).
_L1, _L2, _DROPOUT = 1e-4, 1e-4, 0.2
# Networks for the architecture factor when the selected one is the other kind.
_CNN = {"filters": (32, 64), "kernel_size": 3, "pooling": "max", "dense_units": 64}
_MLP_UNITS = (128,)


def _number(value: float) -> str:
    return f"{value:.3g}"


def _with_selected(levels: list[Level], base: TrialParams, label: str) -> list[Level]:
    """Mark the selected configuration's level, adding it when it is not listed.

    A listed level shown like the selected value (``0.01`` for a selected
    0.0100003) becomes exactly the selected configuration.
    """
    if any(level.label == label for level in levels):
        return [
            Level(label, base, selected=True) if level.label == label else level for level in levels
        ]
    return [*levels, Level(label, base, selected=True)]


def plan_factors(spec: DatasetSpec, selected: TrialParams, *, budget: str) -> FactorPlan:
    """The factors and levels an explanation measures for this data.

    Every level is ``selected`` with one factor changed (and, with a budget
    that caps epochs, the epoch budget capped for every level alike). Each
    factor has exactly one level with ``selected=True``: the selected
    configuration's own, added when it is not among the usual levels.

    Args:
        spec: The data: its task, shape and training-set size.
        selected: The configuration to explain (a search's best trial).
        budget: ``small``, ``medium`` or ``full`` (see :data:`BUDGETS`);
            ``full`` adds levels.

    Returns:
        The factors in order: activation, regularization, learning_rate,
        batch_size, architecture (image data only; otherwise its absence is
        in ``notes``), train_size.

    Raises:
        ConfigError: If the budget is unknown.

    Example:
        >>> from whynet.config import DataConfig
        >>> from whynet.data import load_dataset
        >>> spec = load_dataset(DataConfig(source="iris"), seed=0).spec
        >>> plan = plan_factors(spec, TrialParams(activation="gelu"), budget="small")
        >>> [level.label for level in plan[0].levels]
        ['sigmoid', 'relu', 'tanh', 'gelu']
        >>> [f.name for f in plan]  # iris is tabular: no CNN
        ['activation', 'regularization', 'learning_rate', 'batch_size', 'train_size']
        >>> plan.notes[-1][:40]
        'architecture: not measured: a CNN needs '
    """
    chosen = get_budget(budget)
    base = selected
    if chosen.max_epochs is not None and base.epochs > chosen.max_epochs:
        base = replace(base, epochs=chosen.max_epochs)
    factors: list[Factor] = []
    notes: list[str] = []

    # Activation.
    names = list(_ACTIVATIONS) + (list(_ACTIVATIONS_FULL) if chosen.extended else [])
    levels = [Level(a, replace(base, activation=a)) for a in names]
    levels = _with_selected(levels, base, base.activation)
    factors.append(Factor("activation", tuple(levels)))

    # Regularization, each at the selected strength when it was selected.
    def reg(kind: str) -> Level:
        l1 = (base.l1 or _L1) if kind in ("l1", "l1_l2") else 0.0
        l2 = (base.l2 or _L2) if kind in ("l2", "l1_l2") else 0.0
        dropout = (base.dropout or _DROPOUT) if kind == "dropout" else 0.0
        params = replace(base, regularization=kind, l1=l1, l2=l2, dropout=dropout)
        if kind == "none":
            label = "none"
        elif kind == "dropout":
            label = f"dropout {_number(dropout)}"
        elif kind == "l1_l2":
            label = f"l1_l2 {_number(l1)}/{_number(l2)}"
        else:
            label = f"{kind} {_number(l1 if kind == 'l1' else l2)}"
        return Level(label, params, selected=kind == base.regularization)

    kinds = ["none", "l1", "l2", "dropout"] + (["l1_l2"] if chosen.extended else [])
    if base.regularization not in kinds:
        kinds.append(base.regularization)
    factors.append(Factor("regularization", tuple(reg(k) for k in kinds)))

    # Learning rate.
    rates = sorted(set(_LEARNING_RATES) | (set(_LEARNING_RATES_FULL) if chosen.extended else set()))
    levels = [Level(_number(lr), replace(base, learning_rate=lr)) for lr in rates]
    levels = _with_selected(levels, base, _number(base.learning_rate))
    levels.sort(key=lambda level: level.params.learning_rate)
    factors.append(Factor("learning_rate", tuple(levels)))

    # Batch size, capped at the training set (a larger batch is the whole set).
    n_train = max(1, spec.n_train)
    sizes = sorted(set(_BATCH_SIZES) | (set(_BATCH_SIZES_FULL) if chosen.extended else set()))
    capped = sorted({min(b, n_train) for b in sizes})
    levels = [Level(str(b), replace(base, batch_size=b)) for b in capped]
    levels = _with_selected(levels, base, str(base.batch_size))
    levels.sort(key=lambda level: level.params.batch_size)
    if any(b > n_train for b in sizes):
        notes.append(
            f"batch_size: levels above the {n_train} training rows are measured as {n_train} "
            "(the whole training set in one batch)."
        )
    factors.append(Factor("batch_size", tuple(levels)))

    # Architecture: a CNN needs image-shaped input.
    if spec.is_image:
        mlp = replace(
            base,
            architecture="mlp",
            units=base.units or _MLP_UNITS,
            filters=(),
            kernel_size=None,
            pooling=None,
            dense_units=None,
        )
        cnn = replace(
            base,
            architecture="cnn",
            units=(),
            filters=base.filters or _CNN["filters"],  # type: ignore[arg-type]
            kernel_size=base.kernel_size or _CNN["kernel_size"],  # type: ignore[arg-type]
            pooling=base.pooling or _CNN["pooling"],  # type: ignore[arg-type]
            dense_units=base.dense_units or _CNN["dense_units"],  # type: ignore[arg-type]
        )
        factors.append(
            Factor(
                "architecture",
                (
                    Level("mlp", mlp, selected=base.architecture == "mlp"),
                    Level("cnn", cnn, selected=base.architecture == "cnn"),
                ),
            )
        )
    else:
        notes.append(
            "architecture: not measured: a CNN needs image data (height, width, channels), "
            f"and these samples have shape {spec.input_shape}."
        )

    # Training-set size: fractions for small data, absolute sizes for large.
    if n_train < _SMALL_DATA:
        fractions = sorted(set(_FRACTIONS) | (set(_FRACTIONS_FULL) if chosen.extended else set()))
        levels = [Level(f"{f:.0%}", base, train_fraction=f, selected=f == 1.0) for f in fractions]
    else:
        counts = sorted({min(s, n_train) for s in _SIZES})
        levels = [
            Level(
                f"{c:,}" + (" (all)" if c == n_train else ""),
                base,
                train_fraction=c / n_train,
                selected=c == n_train,
            )
            for c in counts
        ]
        if n_train not in counts:
            levels.append(Level(f"{n_train:,} (all)", base, selected=True))
    factors.append(Factor("train_size", tuple(levels)))
    return FactorPlan(factors, notes)


def subset_train(data: TrainingData, fraction: float, *, seed: int) -> TrainingData:
    """A seeded subset of the training split; validation is unchanged.

    Classification keeps every class's share (at least one row per class);
    the subsets of one seed are nested (30 % holds the 10 %).

    Args:
        data: The train and validation splits.
        fraction: The share of training rows to keep, in (0, 1].
        seed: Fixes which rows are kept.

    Returns:
        The same data with fewer training rows, in their original order.

    Raises:
        ValueError: If ``fraction`` is not in (0, 1].
    """
    from whynet.data import Split, TrainingData

    if not 0 < fraction <= 1:
        raise ValueError(f"`fraction` must be in (0, 1], but got {fraction}")
    if fraction == 1:
        return data
    y = data.train.y
    rng = np.random.default_rng(seed)
    if data.spec.task == "classification":
        keep: list[np.ndarray] = []
        for label in np.unique(y):
            rows = rng.permutation(np.flatnonzero(y == label))
            keep.append(rows[: max(1, round(fraction * len(rows)))])
        index = np.sort(np.concatenate(keep))
    else:
        n = len(y)
        index = np.sort(rng.permutation(n)[: max(2, round(fraction * n))])
    train = Split(np.asarray(data.train.x)[index], np.asarray(y)[index])
    spec = replace(data.spec, n_train=len(index))
    return TrainingData(spec=spec, train=train, val=data.val)


# Running -------------------------------------------------------------------

_RETRY_REASONS = ("interrupted", "stale")


def _cell_key(config: RunConfig, *, group: str, factor: str, level: Level, repeat: int) -> str:
    """What a cell's result depends on: a finished trial with this key is reused."""
    payload = {
        "group": group,
        "factor": factor,
        "level": level.label,
        "params": level.params.to_dict(),
        "train_fraction": level.train_fraction,
        "data": config.data.model_dump(mode="json"),
        "seed": int(config.seed) + repeat,
        "patience": config.training.early_stopping_patience,
        "backend": config.training.backend,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cell_sampler(labels: list[str], repeats: int) -> Any:
    """A grid sampler over (level, repeat) whose next cell whynet chooses.

    The grid's values are the level's index and the repeat, both integers:
    Optuna refuses categorical choices that change between the trials of a
    study, and a later run may plan other levels or more repeats (its cells
    are told apart by their key, see :func:`_cell_key`; the label is a user
    attribute). Optuna's ``GridSampler`` picks a random unvisited cell and
    counts a failed trial as visited. Here the caller names the next cell (in repeat-major
    order, so that a stopped run leaves whole repeats, which stay paired), and
    a cell whose fit was interrupted is trained again. ``after_trial`` does
    not call ``study.stop()``, which only works inside ``study.optimize``.
    """
    import optuna

    class CellGridSampler(optuna.samplers.GridSampler):
        def __init__(self) -> None:
            super().__init__(
                {"level": list(range(len(labels))), "repeat": list(range(repeats))}, seed=0
            )
            self.labels = labels
            self.next_cell: tuple[str, int] | None = None

        def before_trial(self, study: Any, trial: Any) -> None:
            if self.next_cell is None:
                super().before_trial(study, trial)
                return
            label, repeat = self.next_cell
            grid_id = self._all_grids.index((self.labels.index(label), repeat))
            study._storage.set_trial_system_attr(
                trial._trial_id, "search_space", self._search_space
            )
            study._storage.set_trial_system_attr(trial._trial_id, "grid_id", grid_id)

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            return None

    return CellGridSampler()


def _open_grid_study(
    storage: str, study_name: str, *, labels: list[str], repeats: int, maximize: bool
) -> tuple[Any, Any]:
    import optuna

    from whynet.search._factories import make_storage

    sampler = _cell_sampler(labels, repeats)
    study = optuna.create_study(
        study_name=study_name,
        storage=make_storage(storage),
        sampler=sampler,
        direction="maximize" if maximize else "minimize",
        load_if_exists=True,
    )
    return study, sampler


def _finished(
    study: Any, keys: Mapping[str, tuple[str, int]], host: str
) -> tuple[dict[tuple[str, int], dict[str, Any]], set[tuple[str, int]]]:
    """The cells with a result (their rows), and those running in a live process.

    Trials a killed run left RUNNING on this host are failed as ``stale`` so
    that their cells are trained again.
    """
    import psutil
    from optuna.trial import TrialState

    from whynet.search._loop import _alive_since, fail_running_trial

    done: dict[tuple[str, int], dict[str, Any]] = {}
    running: set[tuple[str, int]] = set()
    for trial in study.get_trials(deepcopy=False):
        cell = keys.get(trial.user_attrs.get("whynet_cell", ""))
        if cell is None:
            continue
        attrs = trial.user_attrs
        if trial.state == TrialState.RUNNING:
            pid = int(attrs.get("pid", 0) or 0)
            if attrs.get("host", host) != host or (
                pid and _alive_since(psutil, pid, trial.datetime_start)
            ):
                running.add(cell)
            else:
                fail_running_trial(study, trial._trial_id, "stale")
            continue
        if "whynet_row" not in attrs:
            continue
        if trial.state == TrialState.COMPLETE or (
            trial.state == TrialState.FAIL and attrs.get("fail_reason") not in _RETRY_REASONS
        ):
            done[cell] = dict(attrs["whynet_row"])
    return done, running


def _prepare() -> Any:
    from whynet.search._runner import quiet_libraries
    from whynet.trainers._backend import import_keras

    quiet_libraries()
    return import_keras()


def _default_trainer(config: RunConfig) -> Any:
    from whynet.trainers import KerasTrainer

    return KerasTrainer(
        early_stopping_patience=config.training.early_stopping_patience, device="in-process"
    )


def fit_cell(
    trainer: Any,
    params: TrialParams,
    dataset: Dataset,
    *,
    train_fraction: float,
    seed: int,
) -> dict[str, Any]:
    """Train one fit on a repeat's split and score it once on the test split.

    The trainer sees only the training (possibly subset) and validation
    splits; it stops early on validation and keeps its best epoch's weights.
    The test split is predicted once, afterwards.

    Returns:
        The fit's measures: ``score`` (test), ``val_score``, ``fit_seconds``,
        ``predict_seconds_per_1k``, ``n_params``, ``best_epoch``,
        ``epochs_run``, ``seconds_to_best`` (time from the start of the fit,
        building the model included, to the end of the best epoch),
        ``samples_per_second`` (training rows per second over the epochs
        after the first, which also builds and traces the model),
        ``n_train`` and ``device``.

    Raises:
        TrialFailedError: If training fails (e.g. the loss becomes NaN).
    """
    from whynet.search._runner import _evaluate_test

    data = subset_train(dataset.training_data(), train_fraction, seed=seed)
    epoch_ends: list[float] = []
    start = time.perf_counter()

    def report(epoch: int, metrics: Mapping[str, float]) -> None:
        epoch_ends.append(time.perf_counter() - start)

    trained = trainer.fit(params, data, report=report, seed=seed)
    fit_s = time.perf_counter() - start  # on the clock of the epoch times
    result = trained.result
    try:
        t0 = time.perf_counter()
        test = _evaluate_test(trained.model, dataset)
        predict_s = time.perf_counter() - t0
    finally:
        del trained
        trainer.release()
    metric = "test_accuracy" if dataset.spec.task == "classification" else "test_rmse"
    n_train = len(data.train)
    best = result.best_epoch
    return {
        "score": float(test[metric]),
        "metric": metric,
        "val_score": float(result.score),
        "fit_seconds": fit_s,
        "predict_seconds_per_1k": predict_s / max(1, len(dataset.test)) * 1000.0,
        "n_params": float(result.n_params),
        "best_epoch": int(best),
        "epochs_run": int(result.epochs_run),
        "seconds_to_best": float(epoch_ends[best - 1]) if len(epoch_ends) >= best else fit_s,
        "samples_per_second": _throughput(n_train, epoch_ends, fit_s),
        "n_train": n_train,
        "device": str(result.device),
        "shared_fit": "",
    }


_MEASURES = (
    "score",
    "metric",
    "val_score",
    "fit_seconds",
    "predict_seconds_per_1k",
    "n_params",
    "best_epoch",
    "epochs_run",
    "seconds_to_best",
    "samples_per_second",
    "n_train",
    "device",
)


def _throughput(n_train: int, epoch_ends: Sequence[float], fit_seconds: float) -> float:
    """Training rows per second, in the steady state when there is one.

    The first epoch also builds the model and traces its graph; with two or
    more epochs the rate is taken over the epochs after it.
    """
    if len(epoch_ends) >= 2 and epoch_ends[-1] > epoch_ends[0]:
        return n_train * (len(epoch_ends) - 1) / (epoch_ends[-1] - epoch_ends[0])
    if fit_seconds > 0:
        return n_train * max(1, len(epoch_ends)) / fit_seconds
    return math.nan


RepeatData = Callable[[int], tuple[Any, str]]


def run_factor(
    config: RunConfig,
    factor: Factor,
    *,
    group: str,
    repeats: int,
    storage: str,
    study_name: str,
    fit: Callable[[Level, int, Any], dict[str, Any]],
    repeat_data: RepeatData,
    on_fit: Callable[[dict[str, Any]], None] | None = None,
    progress: Callable[[str], None] | None = None,
    variant: str = "",
) -> list[dict[str, Any]]:
    """Measure every (level, repeat) cell of one factor in its study; resume.

    Args:
        config: The run config (its seed is the base seed).
        factor: The factor and its levels.
        group: The rows' ``group`` column.
        repeats: Repeats per level.
        storage: The Optuna storage (path or URL).
        study_name: The factor's study.
        fit: ``fit(level, repeat, dataset) -> measures`` (see :func:`fit_cell`).
        repeat_data: ``repeat_data(r) -> (dataset, split_id)``.
        on_fit: Called with each new row (not with rows a resumed run reuses).
        progress: Called with one line per fit.
        variant: The rows' ``variant`` column.

    Returns:
        One row per cell, in repeat-major order.
    """
    from optuna.trial import TrialState

    if repeats < 1:
        raise ConfigError(f"invalid value for `repeats`: expected an integer >= 1, got {repeats}.")
    say = progress or (lambda message: None)
    host = socket.gethostname()
    labels = [level.label for level in factor.levels]
    by_label = {level.label: level for level in factor.levels}
    cells = [(label, r) for r in range(repeats) for label in labels]
    keys = {
        _cell_key(config, group=group, factor=factor.name, level=by_label[label], repeat=r): (
            label,
            r,
        )
        for label, r in cells
    }
    key_of = {cell: key for key, cell in keys.items()}
    maximize = repeat_data(0)[0].spec.task == "classification"
    study, sampler = _open_grid_study(
        storage, study_name, labels=labels, repeats=repeats, maximize=maximize
    )
    if study.user_attrs.get("whynet_kind") != group:
        study.set_user_attr("whynet_kind", group)  # ablation, baseline or compute
        study.set_user_attr("whynet_factor", factor.name)
    done, running = _finished(study, keys, host)
    reused = len(done)
    if reused:
        say(
            f"{factor.name}: resuming study {study_name!r}: {reused} of {len(cells)} fits "
            "already done."
        )
    for label, r in cells:
        if (label, r) in done or (label, r) in running:
            continue
        level = by_label[label]
        seed = int(config.seed) + r
        dataset, split = repeat_data(r)  # before the trial: a data error leaves none behind
        sampler.next_cell = (label, r)
        trial = study.ask()
        sampler.next_cell = None
        got = (
            labels[trial.suggest_int("level", 0, len(labels) - 1)],
            trial.suggest_int("repeat", 0, repeats - 1),
        )
        if got != (label, r):  # never expected: the grid gives the cell it was told
            raise RuntimeError(f"the grid sampler gave cell {got}, expected {(label, r)}")
        for name, value in (
            ("whynet_cell", key_of[(label, r)]),
            ("host", host),
            ("pid", os.getpid()),
            ("factor", factor.name),
            ("level", label),
        ):
            trial.set_user_attr(name, value)
        row: dict[str, Any] = {
            "group": group,
            "factor": factor.name,
            "level": label,
            "repeat": r,
            "seed": seed,
            "selected": bool(level.selected),
            "variant": variant,
            "split_id": split,
            "train_fraction": float(level.train_fraction),
            "trial": trial.number,
        }
        try:
            measures = fit(level, r, dataset)
        except TrialFailedError as exc:
            metric = "test_accuracy" if dataset.spec.task == "classification" else "test_rmse"
            row.update(
                score=math.nan,
                metric=metric,
                val_score=math.nan,
                fit_seconds=math.nan,
                predict_seconds_per_1k=math.nan,
                n_params=math.nan,
                status=f"failed: {exc.reason}",
            )
            trial.set_user_attr("whynet_row", row)
            trial.set_user_attr("fail_reason", exc.reason)
            study.tell(trial, state=TrialState.FAIL)
            say(f"{factor.name} = {label}, repeat {r + 1}/{repeats}: failed ({exc}).")
        except BaseException as exc:
            from whynet.search._loop import fail_running_trial

            # The cell has no row, so the next run trains it again.
            stopped = isinstance(exc, KeyboardInterrupt | SystemExit)
            reason = "interrupted" if stopped else f"error: {type(exc).__name__}"
            fail_running_trial(study, trial._trial_id, reason)
            raise
        else:
            row.update(measures, status="ok")
            trial.set_user_attr("whynet_row", row)
            study.tell(trial, float(row["val_score"]))
            say(
                f"{factor.name} = {label}, repeat {r + 1}/{repeats}: {row['metric']} "
                f"{row['score']:.4g} (validation {row['val_score']:.4g}, "
                f"{row['fit_seconds']:.1f} s)."
            )
        done[(label, r)] = row
        if on_fit is not None:
            on_fit(dict(row))
    if running:
        say(
            f"{factor.name}: {len(running)} fit(s) are running in another process; "
            "their rows are left out. Run again when it has finished."
        )
    return [done[cell] for cell in cells if cell in done]


def _repeat_loader(config: RunConfig) -> RepeatData:
    """``repeat_data(r)``: each repeat's data set, loaded once."""
    from whynet.reports._repeats import repeat_dataset

    cache: dict[int, tuple[Any, str]] = {}

    def load(r: int) -> tuple[Any, str]:
        if r not in cache:
            cache[r] = repeat_dataset(config, r)
        return cache[r]

    return load


def frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The long results frame of ``rows``: :data:`COLUMNS` first, extras after."""
    import pandas as pd

    table = pd.DataFrame(list(rows))
    if table.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    extra = [c for c in table.columns if c not in COLUMNS]
    table = table.reindex(columns=[*COLUMNS, *extra])
    for column in ("score", "val_score", "fit_seconds", "predict_seconds_per_1k", "n_params"):
        table[column] = table[column].astype(float)
    table["repeat"] = table["repeat"].astype(int)
    table["seed"] = table["seed"].astype(int)
    table["selected"] = table["selected"].astype(bool)
    return table


def planned_fits(factors: Sequence[Factor], repeats: int) -> int:
    """How many fits :func:`run_ablations` trains from scratch (for a progress bar).

    The selected configuration, a level of every factor, counts once per repeat.

    Example:
        >>> base = TrialParams()
        >>> factors = [Factor("a", (Level("x", base, selected=True),
        ...     Level("y", TrialParams(activation="tanh")))),
        ...     Factor("b", (Level("z", base, selected=True),))]
        >>> planned_fits(factors, repeats=3)
        6
    """
    distinct = {
        json.dumps([level.params.to_dict(), level.train_fraction], sort_keys=True)
        for factor in factors
        for level in factor.levels
    }
    return len(distinct) * repeats


def run_ablations(
    config: RunConfig,
    selected: TrialParams,
    *,
    factors: Sequence[Factor],
    repeats: int,
    storage: str,
    study_prefix: str,
    on_fit: Callable[[dict[str, Any]], None] | None = None,
    progress: Callable[[str], None] | None = None,
    trainer_factory: Callable[[RunConfig], Any] | None = None,
) -> pd.DataFrame:
    """Train every level of every factor on ``repeats`` paired splits.

    Each factor is the Optuna study ``f"{study_prefix}-ablation-{factor}"`` in
    ``storage``, with a grid sampler over (level, repeat). Cells are trained in
    repeat-major order; a run that is stopped or killed resumes and never
    trains a finished cell again (a cell counts as finished for the same
    parameters, data, seed and patience; change any of them and it is trained
    anew). A fit whose training fails (a NaN loss at a high learning rate) is
    a result too: its row has a NaN score and ``status`` ``failed: <reason>``.

    The selected configuration is a level of every factor; with the same
    parameters, seed and split it is trained once per repeat and its result
    shared by those levels (column ``shared_fit`` names the cell that
    trained it; empty for a cell's own fit).

    Repeat ``r`` trains with seed ``config.seed + r`` on the split of
    :func:`whynet.reports._repeats.repeat_dataset`; ``train_size`` levels
    train on a seeded subset of that training split. Fits run in this
    process, one at a time.

    Args:
        config: The run config: data, base seed, early-stopping patience,
            backend.
        selected: The configuration being explained (the levels' params
            already hold it; kept for the record).
        factors: From :func:`plan_factors`.
        repeats: Repeated splits per level.
        storage: Optuna storage: a journal file path or a database URL.
        study_prefix: Prefix of the studies' names.
        on_fit: Called with each new row.
        progress: Called with a line per fit.
        trainer_factory: ``factory(config) -> trainer`` (whynet's Keras
            trainer by default).

    Returns:
        The long results frame (group ``ablation``), with extra columns
        ``split_id``, ``train_fraction``, ``n_train``, ``best_epoch``,
        ``epochs_run``, ``seconds_to_best``, ``samples_per_second``,
        ``device``, ``shared_fit``, ``status`` and ``trial``. ``.attrs`` holds ``repeats``,
        ``studies``, ``notes`` (e.g. why a factor was not measured),
        ``selected`` and ``failed`` (fits whose training failed).

    Raises:
        ConfigError: If ``repeats`` is below 1.
        DataError: If the data cannot be loaded.
    """
    from whynet.search._runner import prepare_backend

    prepare_backend(config.training.backend)
    _prepare()
    trainer = (trainer_factory or _default_trainer)(config)
    repeat_data = _repeat_loader(config)

    # The selected configuration is a level of every factor: with the same
    # parameters, seed and split it is one fit, trained once and shared.
    shared: dict[str, dict[str, Any]] = {}

    def same_fit(level: Level, r: int) -> str:
        return json.dumps([level.params.to_dict(), level.train_fraction, r], sort_keys=True)

    def fit(level: Level, r: int, dataset: Any) -> dict[str, Any]:
        known = shared.get(same_fit(level, r))
        if known is not None:
            return dict(known)
        return fit_cell(
            trainer,
            level.params,
            dataset,
            train_fraction=level.train_fraction,
            seed=int(config.seed) + r,
        )

    rows: list[dict[str, Any]] = []
    studies: list[str] = []
    for factor in factors:
        name = f"{study_prefix}-ablation-{factor.name}"
        studies.append(name)
        got = run_factor(
            config,
            factor,
            group="ablation",
            repeats=repeats,
            storage=storage,
            study_name=name,
            fit=fit,
            repeat_data=repeat_data,
            on_fit=on_fit,
            progress=progress,
        )
        by_label = {level.label: level for level in factor.levels}
        for row in got:
            key = same_fit(by_label[row["level"]], int(row["repeat"]))
            if row.get("status") == "ok" and key not in shared:
                measures = {k: row[k] for k in _MEASURES if k in row}
                shared[key] = {
                    **measures,
                    "shared_fit": row.get("shared_fit") or (f"{factor.name}={row['level']}"),
                }
        rows += got
    table = frame(rows)
    table.attrs.update(
        repeats=repeats,
        studies=studies,
        notes=list(getattr(factors, "notes", ())),
        selected=selected.to_dict(),
        failed=int((table["status"] != "ok").sum()) if "status" in table else 0,
    )
    return table


def run_network_repeats(
    config: RunConfig,
    selected: TrialParams,
    *,
    repeats: int,
    storage: str,
    study_prefix: str,
    on_fit: Callable[[dict[str, Any]], None] | None = None,
    progress: Callable[[str], None] | None = None,
    trainer_factory: Callable[[RunConfig], Any] | None = None,
) -> pd.DataFrame:
    """The selected network on every repeat's split, for the baseline leaderboard.

    The network trains exactly as selected (its own epochs), on the same
    splits and seeds as the classical models, in the study
    ``f"{study_prefix}-baseline-network"`` (resumable like an ablation).

    Returns:
        Rows with group ``baseline``, factor ``model``, level
        ``network (tuned)``, ``selected`` True and variant ``tuned``.
    """
    from whynet.search._runner import prepare_backend

    prepare_backend(config.training.backend)
    _prepare()
    trainer = (trainer_factory or _default_trainer)(config)
    factor = Factor("model", (Level(NETWORK_LEVEL, selected, selected=True),))

    def fit(level: Level, r: int, dataset: Any) -> dict[str, Any]:
        return fit_cell(trainer, level.params, dataset, train_fraction=1.0, seed=config.seed + r)

    rows = run_factor(
        config,
        factor,
        group="baseline",
        repeats=repeats,
        storage=storage,
        study_name=f"{study_prefix}-baseline-network",
        fit=fit,
        repeat_data=_repeat_loader(config),
        on_fit=on_fit,
        progress=progress,
        variant="tuned",
    )
    table = frame(rows)
    table.attrs.update(repeats=repeats, studies=[f"{study_prefix}-baseline-network"])
    return table
