"""Classical baselines on the network's own splits, default and tuned.

For every repeat ``r`` (split and training seed ``config.seed + r``, see
:mod:`whynet.reports._repeats`) and every classical model of
:data:`~whynet.trainers._sklearn.CLASSICAL_MODELS` that handles the task:

- the model with its default settings is fitted on the training split and
  scored once on the test split;
- the model is tuned by a small Optuna study (TPE, seeded with the repeat's
  seed, ``trials_per_model`` trials) whose objective is the VALIDATION score;
  the best trial's params are refitted on the training split and scored once
  on the test split. The test split never feeds the tuning.

Each (model, repeat) is one Optuna study, ``{study_prefix}-baseline-{model}-r{r}``,
in the given storage; the finished rows are kept in its user attributes, so a
re-run (after Ctrl-C, say) resumes: a completed study is neither tuned nor
fitted again, and an interrupted one adds only its missing trials. The dummy
floor has nothing to tune and only has a default row.

Fits run in this process, one after another, with scikit-learn's threading
defaults (``n_jobs`` unset; gradient boosting uses its OpenMP threads).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from whynet._interrupt import raise_if_requested
from whynet.config import RunConfig
from whynet.data import Dataset, Split, TrainingData
from whynet.exceptions import ResumeError
from whynet.reports._repeats import LONG_COLUMNS, repeat_dataset, repeat_seed
from whynet.trainers._sklearn import CLASSICAL_MODELS, SklearnTrainer, check_models

__all__ = ["COLUMNS", "run_baselines", "tuned_study_name"]

COLUMNS = (
    *LONG_COLUMNS,
    "model",
    "split_id",
    "params",
    "tuning_trials",
    "tuning_seconds",
    "study",
)
"""The columns of the frame :func:`run_baselines` returns (the long schema first)."""

_ROWS_ATTR = "whynet_baseline_rows"
# Kernel SVMs fit in time that grows with the square of the training rows.
_QUADRATIC = ("svm",)
_MANY_ROWS = 20_000


def tuned_study_name(study_prefix: str, model: str, repeat: int) -> str:
    """The name of the Optuna study that tunes ``model`` in ``repeat``."""
    return f"{study_prefix}-baseline-{model}-r{repeat}"


def _metric(task: str) -> tuple[str, str, bool]:
    if task == "classification":
        return "test_accuracy", "val_accuracy", True
    return "test_rmse", "val_rmse", False


def _plain(value: Any) -> Any:
    # NaN is not valid JSON in every storage; keep it as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in row.items()}


def _restored(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("score", "val_score", "fit_seconds", "predict_seconds_per_1k", "n_params"):
        if out.get(key) is None:
            out[key] = float("nan")
    return out


class _Repeat:
    """One repeat's data, as the baselines use it."""

    def __init__(self, config: RunConfig, repeat: int) -> None:
        dataset, split_id = repeat_dataset(config, repeat)
        self.dataset: Dataset = dataset
        self.split_id = split_id
        self.repeat = repeat
        self.seed = repeat_seed(config, repeat)
        self.training: TrainingData = dataset.training_data()
        self.test: Split = dataset.test
        self.task = dataset.spec.task


def _row(
    rep: _Repeat,
    trainer: SklearnTrainer,
    *,
    model: str,
    variant: str,
    params: dict[str, Any],
    estimator: Any,
    val_score: float,
    fit_seconds: float,
    tuning_trials: int,
    tuning_seconds: float,
    study: str,
) -> dict[str, Any]:
    metric, _, _ = _metric(rep.task)
    # The test split is used here, once, after everything is chosen.
    score = trainer.score(estimator, rep.test, task=rep.task)
    return {
        "group": "baseline",
        "factor": "model",
        "level": f"{model} ({variant})",
        "repeat": rep.repeat,
        "seed": rep.seed,
        "score": score,
        "metric": metric,
        "val_score": float(val_score),
        "fit_seconds": float(fit_seconds),
        "predict_seconds_per_1k": trainer.predict_seconds_per_1k(estimator, rep.test),
        "n_params": float("nan"),
        "selected": False,
        "variant": variant,
        "model": model,
        "split_id": rep.split_id,
        "params": json.dumps(params, sort_keys=True),
        "tuning_trials": int(tuning_trials),
        "tuning_seconds": float(tuning_seconds),
        "study": study,
    }


def _check_resumable(
    storage: Any, reps: Sequence[_Repeat], names: Sequence[str], study_prefix: str
) -> None:
    """Refuse, before anything is fitted, to resume a study tuned on another split."""
    existing = {s.study_name: s.user_attrs for s in storage.get_all_studies()}
    for rep in reps:
        for name in names:
            study_name = tuned_study_name(study_prefix, name, rep.repeat)
            old = existing.get(study_name, {}).get("split_id")
            if old is not None and old != rep.split_id:
                raise ResumeError(
                    f"baseline study {study_name!r} exists but was tuned on another split "
                    f"(split id {old}, now {rep.split_id}: different data, seed or split "
                    "fractions). Use the same config to resume it, or choose another "
                    "study name."
                )


def _open(storage: Any, name: str, rep: _Repeat, *, maximize: bool, model: str) -> Any:
    import optuna

    existing = {s.study_name for s in storage.get_all_studies()}
    sampler = optuna.samplers.TPESampler(seed=rep.seed)
    if name in existing:
        return optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        sampler=sampler,
        direction="maximize" if maximize else "minimize",
        load_if_exists=True,
    )
    study.set_user_attr("whynet_kind", "baseline")
    study.set_user_attr("model", model)
    study.set_user_attr("repeat", rep.repeat)
    study.set_user_attr("seed", rep.seed)
    study.set_user_attr("split_id", rep.split_id)
    study.set_user_attr("data_fingerprint", rep.dataset.spec.fingerprint)
    study.set_user_attr("task", rep.task)
    return study


def _tune(
    study: Any,
    model: str,
    rep: _Repeat,
    trainer: SklearnTrainer,
    *,
    trials: int,
    n_startup: int,
) -> tuple[int, float]:
    """Add trials until ``trials`` are complete; return (complete trials, seconds)."""
    import optuna
    from optuna.trial import TrialState

    study.sampler = optuna.samplers.TPESampler(seed=rep.seed, n_startup_trials=n_startup)

    def complete() -> int:
        return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

    failures = 0
    while complete() < trials and failures < max(3, trials):
        raise_if_requested()
        trial = study.ask()
        try:
            params = CLASSICAL_MODELS[model].space(trial, rep.task)
            # The objective is the validation score: the trainer never sees test rows.
            _, val_score, _ = trainer.fit(model, params, rep.training, seed=rep.seed)
        except (KeyboardInterrupt, SystemExit):
            study.tell(trial, state=TrialState.FAIL)
            raise
        except Exception as error:  # a bad combination fails one trial, not the baselines
            trial.set_user_attr("error", f"{type(error).__name__}: {error}"[:500])
            study.tell(trial, state=TrialState.FAIL)
            failures += 1
            continue
        if not math.isfinite(val_score):
            trial.set_user_attr("error", f"non-finite validation score {val_score}")
            study.tell(trial, state=TrialState.FAIL)
            failures += 1
            continue
        study.tell(trial, val_score)
    # Summed over the trials, so that a resumed study counts its earlier ones too.
    seconds = sum(
        (t.datetime_complete - t.datetime_start).total_seconds()
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
        if t.datetime_start is not None and t.datetime_complete is not None
    )
    return complete(), float(seconds)


def run_baselines(
    config: RunConfig,
    *,
    repeats: int = 3,
    trials_per_model: int = 10,
    models: Sequence[str] | None = None,
    storage: str | None = None,
    study_prefix: str,
    on_fit: Callable[[dict[str, Any]], None] | None = None,
    progress: Callable[[str], None] | None = None,
    threads: int | None = 1,
) -> pd.DataFrame:
    """Fit and tune the classical models on each repeat's split.

    Args:
        config: The run config: its data, base ``seed`` and (when ``storage``
            is not given) ``search.storage``.
        repeats: Repeated splits; repeat ``r`` uses seed ``config.seed + r``.
        trials_per_model: The tuning budget: TPE trials per model and repeat,
            each scored on the validation split.
        models: Names from :data:`~whynet.trainers._sklearn.CLASSICAL_MODELS`;
            ``None`` runs every model that handles the task.
        storage: The Optuna storage of the tuning studies (a journal file path
            or a database URL); defaults to ``config.search.storage``.
        study_prefix: The studies are named ``{study_prefix}-baseline-{model}-r{r}``.
        on_fit: Called after each new fit with its row (not for rows that a
            completed study already held).
        progress: Called with a short line of text per step.
        threads: Threads per fit (OpenMP and BLAS): one by default, so that
            every model is timed on one core; ``None`` keeps scikit-learn's
            defaults (see :class:`~whynet.trainers._sklearn.SklearnTrainer`).

    Returns:
        A pandas DataFrame in the long schema (:data:`COLUMNS`), one row per
        model, variant and repeat, with ``group="baseline"`` and
        ``factor="model"``. Its ``attrs`` state the budget: ``repeats``,
        ``trials_per_model``, ``sampler``, ``models``, ``budget`` (a sentence)
        and ``notes``.

    Raises:
        ConfigError: If a model name is unknown or does not handle the task,
            or ``repeats`` or ``trials_per_model`` is below 1.
        DataError: If the data cannot be loaded.
        ResumeError: If a study of that name was tuned on another split.
        UserError: If the storage cannot be written.

    Example:
        >>> from whynet.config import RunConfig
        >>> frame = run_baselines(
        ...     RunConfig(data={"source": "iris"}), repeats=1, trials_per_model=1,
        ...     models=["dummy", "decision_tree"], storage="sqlite:///:memory:",
        ...     study_prefix="doc",
        ... )
        >>> sorted(frame["level"])
        ['decision_tree (default)', 'decision_tree (tuned)', 'dummy (default)']
    """
    import optuna

    from whynet.exceptions import ConfigError
    from whynet.search._factories import check_storage, make_storage

    if int(repeats) < 1:
        raise ConfigError(f"`repeats` must be 1 or more, but got {repeats}.")
    if int(trials_per_model) < 1:
        raise ConfigError(f"`trials_per_model` must be 1 or more, but got {trials_per_model}.")
    say = progress or (lambda _line: None)
    storage_url = storage or config.search.storage
    check_storage(storage_url)
    reps = [_Repeat(config, r) for r in range(int(repeats))]  # loads (and checks) the data first
    task = reps[0].task
    names = check_models(models, task)
    metric, val_metric, maximize = _metric(task)
    optuna_storage = make_storage(storage_url)
    _check_resumable(optuna_storage, reps, names, study_prefix)
    n_startup = max(1, min(10, int(trials_per_model) // 2))
    notes: list[str] = []
    if reps[0].dataset.spec.is_image:
        shape = "x".join(str(s) for s in reps[0].dataset.spec.input_shape)
        notes.append(f"Images ({shape}) were flattened to rows of pixels for the classical models.")
    n_train = reps[0].dataset.spec.n_train
    slow = [n for n in names if n in _QUADRATIC]
    if n_train > _MANY_ROWS and slow:
        notes.append(
            f"{' and '.join(slow)} fit in time that grows with the square of the training "
            f"rows ({n_train:,} here); leave {' and '.join(slow)} out of `models` to save time."
        )
        say(notes[-1])
    trainer = SklearnTrainer(threads=threads)
    rows: list[dict[str, Any]] = []
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        for rep in reps:
            for name in names:
                raise_if_requested()
                study_name = tuned_study_name(study_prefix, name, rep.repeat)
                study = _open(optuna_storage, study_name, rep, maximize=maximize, model=name)
                stored = study.user_attrs.get(_ROWS_ATTR) or {}
                tunable = CLASSICAL_MODELS[name].tunable
                default_row = stored.get("default")
                if default_row is None:
                    estimator, val_score, seconds = trainer.fit(
                        name, {}, rep.training, seed=rep.seed
                    )
                    default_row = _row(
                        rep,
                        trainer,
                        model=name,
                        variant="default",
                        params={},
                        estimator=estimator,
                        val_score=val_score,
                        fit_seconds=seconds,
                        tuning_trials=0,
                        tuning_seconds=0.0,
                        study=study_name,
                    )
                    stored = {**stored, "default": _stored(default_row)}
                    study.set_user_attr(_ROWS_ATTR, stored)
                    if on_fit is not None:
                        on_fit(dict(default_row))
                    say(
                        f"baseline {name} (default), repeat {rep.repeat}: {metric} "
                        f"{default_row['score']:.4g}"
                    )
                rows.append(_restored(default_row))
                if not tunable:
                    continue
                tuned_row = stored.get("tuned")
                if tuned_row is not None and tuned_row["tuning_trials"] >= trials_per_model:
                    rows.append(_restored(tuned_row))
                    continue
                raise_if_requested()
                say(
                    f"baseline {name}, repeat {rep.repeat}: tuning, {trials_per_model} trials "
                    f"on {val_metric}"
                )
                done, tuning_seconds = _tune(
                    study, name, rep, trainer, trials=int(trials_per_model), n_startup=n_startup
                )
                if done == 0:
                    notes.append(
                        f"{name}, repeat {rep.repeat}: every tuning trial failed; no tuned row."
                    )
                    continue
                # The space again, so that fixed choices (not Optuna params) come back too.
                params = CLASSICAL_MODELS[name].space(
                    optuna.trial.FixedTrial(dict(study.best_trial.params)), rep.task
                )
                estimator, val_score, seconds = trainer.fit(
                    name, params, rep.training, seed=rep.seed
                )
                tuned_row = _row(
                    rep,
                    trainer,
                    model=name,
                    variant="tuned",
                    params=params,
                    estimator=estimator,
                    val_score=val_score,
                    fit_seconds=seconds,
                    tuning_trials=done,
                    tuning_seconds=tuning_seconds,
                    study=study_name,
                )
                study.set_user_attr(_ROWS_ATTR, {**stored, "tuned": _stored(tuned_row)})
                if on_fit is not None:
                    on_fit(dict(tuned_row))
                say(
                    f"baseline {name} (tuned), repeat {rep.repeat}: {metric} "
                    f"{tuned_row['score']:.4g} ({done} trials, {tuning_seconds:.1f} s)"
                )
                rows.append(tuned_row)
    finally:
        optuna.logging.set_verbosity(previous)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["repeat"] = frame["repeat"].astype(int)
    frame["seed"] = frame["seed"].astype(int)
    frame["selected"] = frame["selected"].astype(bool)
    frame.attrs.update(
        {
            "repeats": int(repeats),
            "trials_per_model": int(trials_per_model),
            "sampler": f"TPE (seeded with each repeat's seed, {n_startup} random start trials)",
            "models": list(names),
            "metric": metric,
            "budget": (
                f"Each classical model is tuned by {trials_per_model} TPE trials per repeat on "
                f"the validation split ({val_metric}), then refitted on the training split and "
                f"scored once on the test split; {repeats} repeated splits shared by every model."
            ),
            "notes": notes,
            "threads": threads,
        }
    )
    return frame
