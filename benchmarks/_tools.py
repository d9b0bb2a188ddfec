"""One search per tool: whynet, KerasTuner, and hand-written Optuna loops.

Each function runs one whole search in the current process (the runner gives
every call its own process and working directory) and returns plain figures:
trials by state, epochs trained, the selected trial's validation accuracy and
its model's test accuracy. The clock covers the search, the selection and the
test evaluation; library imports happen before it starts, for every tool.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._measure import epoch_counter, epochs_trained, test_accuracy
from benchmarks._space import (
    EARLY_STOPPING_PATIENCE,
    NetConfig,
    build_model,
    sample_kerastuner,
    sample_optuna,
    whynet_space,
)


@dataclass(frozen=True)
class SearchTask:
    """What one search run does: the same data, space and budget for every tool."""

    tool: str
    dataset: str
    seed: int
    trials: int
    max_epochs: int
    workdir: Path


BAYESIAN_INITIAL_POINTS = 10


def load_data(task: SearchTask) -> Any:
    """The data set every tool gets: whynet's loader, so the split is identical."""
    from whynet.config import DataConfig
    from whynet.data import load_dataset

    return load_dataset(DataConfig(source=task.dataset), seed=task.seed)


def workers_available() -> bool:
    """Whether this whynet has the ``execution.workers`` option yet."""
    from whynet.config import RunConfig

    return "execution" in RunConfig.model_fields


# whynet ---------------------------------------------------------------------


def whynet_config(task: SearchTask, *, is_image: bool, workers: int | None) -> dict[str, Any]:
    """The whynet run config of a benchmark search."""
    config: dict[str, Any] = {
        "study": f"bench-{task.dataset}-{task.seed}",
        "seed": task.seed,
        "data": {"source": task.dataset},
        "space": whynet_space(is_image=is_image),
        "training": {
            "max_epochs": task.max_epochs,
            "early_stopping_patience": EARLY_STOPPING_PATIENCE,
        },
        "search": {
            "trials": task.trials,
            "sampler": "tpe",
            "pruner": "hyperband",
            "storage": str(task.workdir / "whynet.journal"),
        },
        "tracking": {"uri": f"sqlite:///{task.workdir / 'mlflow.db'}"},
        "output_dir": str(task.workdir / "whynet-runs"),
    }
    if workers is not None:
        config["execution"] = {"workers": workers}
    return config


def run_whynet(task: SearchTask, *, workers: int | None = None) -> dict[str, Any]:
    """whynet with its defaults (TPE, Hyperband), optionally with several workers."""
    if workers is not None and not workers_available():
        return {
            "status": "not_available",
            "note": "whynet has no `execution.workers` option yet",
        }
    import optuna

    import whynet
    from whynet.config import RunConfig
    from whynet.search import make_storage
    from whynet.trainers._devices import plan_slots

    data = load_data(task)
    config = whynet_config(task, is_image=data.spec.is_image, workers=workers)
    validated = RunConfig.model_validate(config)
    slots = plan_slots(validated.execution, trials=task.trials, timeout=validated.search.timeout)
    start = time.perf_counter()
    result = whynet.search(config, progress=False)
    wall = time.perf_counter() - start
    table = result.trials
    study = optuna.load_study(
        study_name=result.study_name, storage=make_storage(config["search"]["storage"])
    )
    fingerprint = study.user_attrs.get("data_fingerprint")
    return {
        "status": "ok",
        "wall_s": wall,
        "complete": int((table["state"] == "complete").sum()),
        "pruned": int((table["state"] == "pruned").sum()),
        "failed": int((table["state"] == "failed").sum()),
        "epochs": int(table["epochs_run"].fillna(0).sum()),
        "best_val_accuracy": result.best_score,
        "test_accuracy": result.test_metrics.get("test_accuracy"),
        "best": result.best_params.short_name() if result.best_params else None,
        "same_split": fingerprint == data.spec.fingerprint,
        "workers": len(slots),
    }


# KerasTuner -----------------------------------------------------------------


def run_kerastuner(task: SearchTask, *, kind: str) -> dict[str, Any]:
    """KerasTuner ``RandomSearch``, ``Hyperband`` or ``BayesianOptimization``."""
    import keras
    import keras_tuner as kt

    data = load_data(task)
    spec = data.spec
    n_classes = int(spec.n_classes or 2)

    class BenchHyperModel(kt.HyperModel):
        def build(self, hp: Any) -> Any:
            net = sample_kerastuner(hp, is_image=spec.is_image)
            return build_model(net, input_shape=spec.input_shape, n_classes=n_classes)

        def fit(self, hp: Any, model: Any, *args: Any, **kwargs: Any) -> Any:
            return model.fit(*args, batch_size=hp.get("batch_size"), **kwargs)

    keras.utils.set_random_seed(task.seed)
    common: dict[str, Any] = {
        "hypermodel": BenchHyperModel(),
        "objective": "val_accuracy",
        "seed": task.seed,
        "directory": str(task.workdir / "kerastuner"),
        "project_name": kind,
        "overwrite": True,
    }
    start = time.perf_counter()
    tuner: Any
    if kind == "random":
        tuner = kt.RandomSearch(max_trials=task.trials, **common)
    elif kind == "bayesian":
        # Its default start-up is 3 random trials per hyperparameter (over 30
        # in this space), which would make all 30 trials random search; the
        # issue's reference used 10.
        tuner = kt.BayesianOptimization(
            max_trials=task.trials, num_initial_points=BAYESIAN_INITIAL_POINTS, **common
        )
    elif kind == "hyperband":
        # Hyperband has no trial budget of its own: run brackets until the
        # same number of trials as every other tool has started.
        tuner = kt.Hyperband(
            max_epochs=task.max_epochs, factor=3, hyperband_iterations=None, **common
        )
        tuner.oracle.max_trials = task.trials
    else:
        raise ValueError(f"unknown KerasTuner kind {kind!r}")
    tuner.search(
        data.train.x,
        data.train.y,
        epochs=task.max_epochs,
        validation_data=(data.val.x, data.val.y),
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", mode="max", patience=EARLY_STOPPING_PATIENCE
            ),
            epoch_counter(),
        ],
        verbose=0,
    )
    best_trial = tuner.oracle.get_best_trials(1)[0]
    model = tuner.get_best_models(1)[0]
    test = test_accuracy(model, data.test.x, data.test.y)
    wall = time.perf_counter() - start
    states = [str(t.status) for t in tuner.oracle.trials.values()]
    net = sample_kerastuner(best_trial.hyperparameters, is_image=spec.is_image)
    return {
        "status": "ok",
        "wall_s": wall,
        "complete": states.count("COMPLETED"),
        "pruned": None,  # KerasTuner stops no trial early; its Hyperband resumes the best
        "failed": len(states) - states.count("COMPLETED"),
        "epochs": epochs_trained(),
        "best_val_accuracy": float(best_trial.score),
        "test_accuracy": test,
        "best": _short_name(net),
        "same_split": True,
    }


# Hand-written Optuna + Keras + MLflow ----------------------------------------


def run_optuna(task: SearchTask, *, sampler: str, prune: bool) -> dict[str, Any]:
    """The loop a user writes: Optuna study, Keras fit, MLflow nested runs."""
    import keras
    import mlflow
    import optuna

    data = load_data(task)
    spec = data.spec
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.perf_counter()
    mlflow.set_tracking_uri(f"sqlite:///{task.workdir / 'mlflow.db'}")
    mlflow.set_experiment(f"optuna-{task.dataset}-{task.seed}")
    study = optuna.create_study(
        study_name=f"optuna-{task.dataset}-{task.seed}",
        storage=f"sqlite:///{task.workdir / 'optuna.db'}",
        direction="maximize",
        sampler=(
            optuna.samplers.TPESampler(seed=task.seed)
            if sampler == "tpe"
            else optuna.samplers.RandomSampler(seed=task.seed)
        ),
        pruner=(
            optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
            if prune
            else optuna.pruners.NopPruner()
        ),
    )
    model_path = task.workdir / "best.keras"
    objective = optuna_objective(
        data,
        sample=lambda trial: sample_optuna(trial, is_image=spec.is_image),
        seed=task.seed,
        epochs=task.max_epochs,
        prune=prune,
        early_stopping=True,
        model_path=model_path,
    )
    with mlflow.start_run(run_name="search"):
        study.optimize(objective, n_trials=task.trials)
        model = keras.models.load_model(model_path)
        test = test_accuracy(model, data.test.x, data.test.y)
        mlflow.log_metric("test_accuracy", test)
    wall = time.perf_counter() - start
    states = [t.state.name for t in study.trials]
    return {
        "status": "ok",
        "wall_s": wall,
        "complete": states.count("COMPLETE"),
        "pruned": states.count("PRUNED"),
        "failed": states.count("FAIL"),
        "epochs": epochs_trained(),
        "best_val_accuracy": study.best_value,
        "test_accuracy": test,
        "best": _short_name(sample_optuna(study.best_trial, is_image=spec.is_image)),
        "same_split": True,
    }


def optuna_objective(
    data: Any,
    *,
    sample: Callable[[Any], NetConfig],
    seed: int,
    epochs: int,
    prune: bool,
    early_stopping: bool,
    model_path: Path,
) -> Callable[[Any], float]:
    """The objective of a hand-written loop: one MLflow child run per trial.

    The best model so far is saved to ``model_path`` so that the selected
    trial's model can be tested once at the end, as whynet does.
    """
    import keras
    import mlflow
    import optuna
    from optuna_integration import KerasPruningCallback

    spec = data.spec
    n_classes = int(spec.n_classes or 2)
    best = {"score": -math.inf}

    def objective(trial: optuna.Trial) -> float:
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed + trial.number)
        net = sample(trial)
        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
            mlflow.log_params(trial.params)
            model = build_model(net, input_shape=spec.input_shape, n_classes=n_classes)
            callbacks: list[Any] = [epoch_counter(), mlflow_epoch_logger()]
            if early_stopping:
                callbacks.append(
                    keras.callbacks.EarlyStopping(
                        monitor="val_accuracy",
                        mode="max",
                        patience=EARLY_STOPPING_PATIENCE,
                        restore_best_weights=True,
                    )
                )
            if prune:
                callbacks.append(KerasPruningCallback(trial, "val_accuracy"))
            try:
                history = model.fit(
                    data.train.x,
                    data.train.y,
                    batch_size=net.batch_size,
                    epochs=epochs,
                    validation_data=(data.val.x, data.val.y),
                    callbacks=callbacks,
                    verbose=0,
                )
            except optuna.TrialPruned:
                mlflow.set_tag("state", "pruned")
                raise
            score = float(max(history.history["val_accuracy"]))
            mlflow.log_metric("best_val_accuracy", score)
            if score > best["score"]:
                model.save(model_path)
                best["score"] = score
            return score

    return objective


def mlflow_epoch_logger() -> Any:
    """A Keras callback that logs each epoch's metrics to the active MLflow run."""
    import keras
    import mlflow

    class MlflowEpochLogger(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            mlflow.log_metrics({k: float(v) for k, v in (logs or {}).items()}, step=epoch + 1)

    return MlflowEpochLogger()


def _short_name(net: Any) -> str:
    shape = (
        "x".join(map(str, net.units))
        if net.architecture == "mlp"
        else "-".join(map(str, net.filters))
    )
    return f"{net.architecture} {shape} {net.activation} {net.regularization}"


# Registry ---------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    """A row of the comparison: a name people read and the function that runs it."""

    key: str
    label: str
    run: Callable[[SearchTask], dict[str, Any]]
    workers: bool = False  # trains in worker processes, not in the calling one


TOOLS: dict[str, Tool] = {
    t.key: t
    for t in (
        # Its default `workers: auto` starts one worker per core for a
        # search of this size on a CPU-only machine (two here).
        Tool(
            "whynet", "whynet (defaults: TPE + Hyperband, workers auto)", run_whynet, workers=True
        ),
        Tool(
            "whynet_1worker",
            "whynet, 1 worker (in process)",
            lambda task: run_whynet(task, workers=1),
        ),
        Tool(
            "whynet_2workers",
            "whynet, 2 workers",
            lambda task: run_whynet(task, workers=2),
            workers=True,
        ),
        Tool(
            "kerastuner_random",
            "KerasTuner RandomSearch",
            lambda task: run_kerastuner(task, kind="random"),
        ),
        Tool(
            "kerastuner_hyperband",
            "KerasTuner Hyperband",
            lambda task: run_kerastuner(task, kind="hyperband"),
        ),
        Tool(
            "kerastuner_bayesian",
            "KerasTuner BayesianOptimization",
            lambda task: run_kerastuner(task, kind="bayesian"),
        ),
        Tool(
            "optuna_tpe_median",
            "Optuna by hand: TPE + median pruner + MLflow",
            lambda task: run_optuna(task, sampler="tpe", prune=True),
        ),
        Tool(
            "optuna_random",
            "Optuna by hand: random, no pruning + MLflow",
            lambda task: run_optuna(task, sampler="random", prune=False),
        ),
    )
}
