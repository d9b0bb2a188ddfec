"""Run a search: the ask/tell loop, the best model, the test evaluation."""

from __future__ import annotations

import math
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from whynet._interrupt import deferred_signals
from whynet._progress import NullProgress, SearchProgress
from whynet._urls import mask_url
from whynet.config import RunConfig
from whynet.data import Dataset, load_dataset
from whynet.exceptions import ConfigError, FatalSearchError
from whynet.search._factories import (
    check_storage,
    check_writable_dir,
    check_writable_file,
    make_pruner,
    make_sampler,
    make_storage,
)
from whynet.search._launcher import Launcher
from whynet.search._loop import Dispatcher, TrialLoop, best_complete, recover_stale_trials
from whynet.search._result import SearchResult, trials_frame
from whynet.search._study import open_study
from whynet.search._sync import sync_tracking
from whynet.search._worker import default_trainer, error_line
from whynet.spaces import SearchSpace, TrialParams
from whynet.tracking import (
    BackgroundTracker,
    BaseTracker,
    NullTracker,
    SearchInfo,
    SearchSummary,
)
from whynet.trainers import score_metric
from whynet.trainers._backend import import_keras
from whynet.trainers._devices import plan_slots

__all__ = ["check_backend", "prepare_backend", "quiet_libraries", "run_search"]


def prepare_backend(backend: str) -> None:
    """Select the Keras backend before Keras is imported.

    Raises:
        ConfigError: If Keras was already imported with another backend.
    """
    if "keras" in sys.modules:
        import keras

        active = keras.backend.backend()
        if active != backend:
            raise ConfigError(
                f"Keras is already imported with the {active!r} backend, but the config asks "
                f"for {backend!r}. Set KERAS_BACKEND={backend} before importing Keras, or use "
                "the command line."
            )
        return
    os.environ["KERAS_BACKEND"] = backend


# The module each backend needs, its name, and how to install it.
_BACKENDS = {
    "tensorflow": ("tensorflow", "TensorFlow", "pip install tensorflow"),
    "jax": ("jax", "JAX", "pip install 'whynet[jax]'"),
    "torch": ("torch", "PyTorch", "pip install 'whynet[torch]'"),
}


def check_backend(backend: str) -> None:
    """Check that the Keras backend's framework is installed, without importing it.

    Raises:
        ConfigError: Naming the extra to install.
    """
    import importlib.util

    module, name, install = _BACKENDS[backend]
    if importlib.util.find_spec(module) is None:
        other = "" if backend == "tensorflow" else " (or set training.backend: tensorflow)"
        raise ConfigError(
            f"training.backend is {backend!r}, but {name} is not installed. Install it with: "
            f"{install}{other}."
        )


def quiet_libraries() -> None:
    """Keep the libraries' per-trial chatter out of the user's terminal."""
    import logging

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # MLflow sets its loggers' levels from this variable when it is imported.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _check_tracking(uri: str) -> None:
    if uri.startswith("sqlite:///"):
        check_writable_file(Path(uri[len("sqlite:///") :]), "MLflow store")
    elif "://" not in uri or uri.startswith("file:"):
        path = Path(uri[len("file:") :] if uri.startswith("file:") else uri)
        check_writable_dir(path, "MLflow store")


def _make_tracker(config: RunConfig) -> BaseTracker:
    if not config.tracking.enabled:
        return NullTracker()
    from whynet.tracking import MLflowTracker

    return MLflowTracker(
        tracking_uri=config.tracking.uri,
        experiment=config.tracking.experiment or config.study_name,
        timeout_s=config.tracking.timeout_s,
    )


def _in_process(config: RunConfig, slots: list[Any]) -> bool:
    mode = config.execution.in_process
    if mode == "auto":
        limit = config.execution.recycle_after_trials
        short = limit is None or config.search.trials <= limit
        return len(slots) == 1 and slots[0].kind == "cpu" and short
    return bool(mode)


def run_search(
    config: RunConfig,
    *,
    dataset: Dataset | None = None,
    progress: bool = True,
    stream: Any = None,
    trainer_factory: Callable[..., Any] | None = None,
) -> SearchResult:
    """Run the search that ``config`` describes. See :func:`whynet.search`.

    Args:
        config: The validated run config.
        dataset: Data to use instead of ``config.data``.
        progress: Show progress (a live display on a terminal).
        stream: Where progress goes (standard error by default).
        trainer_factory: ``factory(config, slot) -> trainer``, a module-level
            function when workers run in their own processes.
    """
    # Everything the user can get wrong is checked before anything is written.
    check_backend(config.training.backend)
    prepare_backend(config.training.backend)
    quiet_libraries()
    data = dataset if dataset is not None else load_dataset(config.data, seed=config.seed)
    spec = data.spec
    space = SearchSpace.from_config(config.space, max_epochs=config.training.max_epochs).for_input(
        is_image=spec.is_image, input_shape=spec.input_shape
    )
    sampler = make_sampler(config.search.sampler, seed=config.seed, space=space)
    pruner = make_pruner(config.search.pruner, max_epochs=config.training.max_epochs)
    slots = plan_slots(config.execution, trials=config.search.trials, timeout=config.search.timeout)
    check_storage(config.search.storage)
    check_writable_dir(config.output_path, "output folder")
    if config.tracking.enabled:
        _check_tracking(config.tracking.uri)

    score_name, direction = score_metric(spec.task)
    maximize = direction == "maximize"
    opened = open_study(
        storage=make_storage(config.search.storage),
        study_name=config.study_name,
        spec=spec,
        space=space,
        objectives=config.search.objectives,
        sampler=sampler,
        pruner=pruner,
    )
    study = opened.study
    # Before any new trial: trials that a killed search left RUNNING here.
    stale = recover_stale_trials(study, host=socket.gethostname()) if opened.resumed else []
    out_dir = config.output_path
    (out_dir / "models").mkdir(parents=True, exist_ok=True)

    reporter = (SearchProgress if progress else NullProgress)(
        total=config.search.trials,
        timeout=config.search.timeout,
        score_name=score_name,
        stream=stream,
    )
    where = mask_url(config.search.storage)
    if opened.resumed:
        reporter.message(
            f"Resuming study {config.study_name!r} ({opened.existing_trials} earlier trials) "
            f"in {where}; adding {config.search.trials} trials."
        )
    else:
        reporter.message(
            f"New study {config.study_name!r} in {where}: {config.search.trials} trials on "
            f"{spec.name} ({spec.n_train} train / {spec.n_val} validation / {spec.n_test} "
            "test rows)."
        )
    for note in data.notes:  # what loading did: imputed values, dropped rows, image size
        reporter.message(note)
    if stale:
        reporter.message(
            f"Recovered {len(stale)} trial(s) left running by a search that was killed "
            f"({', '.join(map(str, stale))}): marked failed (stale) and queued again."
        )
    in_process = _in_process(config, slots)
    if not in_process:
        reporter.message(
            f"{len(slots)} workers: " + ", ".join(f"w{s.index} on {s.label}" for s in slots)
        )

    tracker = _make_tracker(config)
    quiet_libraries()  # again: importing MLflow resets its loggers
    tracker.start_search(
        SearchInfo(
            study_name=config.study_name,
            experiment=config.tracking.experiment or config.study_name,
            config=config.to_dict(),
            config_yaml=config.to_yaml(),
            data_name=spec.name,
            data_fingerprint=spec.fingerprint,
            data_sizes={"train": spec.n_train, "val": spec.n_val, "test": spec.n_test},
            resumed=opened.resumed,
            existing_trials=opened.existing_trials,
            storage=config.search.storage,
            stale_trials=tuple(stale),
            data_notes=data.notes,
            data_details=dict(data.details),
        )
    )
    start_error = getattr(tracker, "start_error", None)
    if start_error:
        reporter.message(
            f"MLflow at {tracker.location} did not answer ({start_error}); the search goes on. "
            "Every trial is kept in the study and mirrored when MLflow answers."
        )
    elif opened.resumed:
        # Runs a killed or disconnected search left behind are caught up.
        sync_tracking(study, tracker)
    dispatcher = Dispatcher(
        tracker=BackgroundTracker(tracker),
        reporter=reporter,
        score_name=score_name,
        max_consecutive_failures=config.search.max_consecutive_failures,
    )
    deadline = time.time() + config.search.timeout if config.search.timeout else None
    status = "finished"
    # Ctrl-C and SIGTERM stop the search at a safe point, and the clean-up
    # after them (ending runs, saving results) is not itself cut short.
    with deferred_signals(), reporter:
        try:
            if in_process:
                _run_in_process(
                    config=config,
                    slot=slots[0],
                    study=study,
                    sampler=sampler,
                    space=space,
                    data=data,
                    dispatcher=dispatcher,
                    deadline=deadline,
                    trainer_factory=trainer_factory,
                )
            else:
                Launcher(
                    config=config,
                    slots=slots,
                    dataset=data,
                    study=study,
                    dispatcher=dispatcher,
                    deadline=deadline,
                    trainer_factory=trainer_factory,
                    on_message=reporter.message,
                ).run()
                if any(e.reason == "exhausted" for e in dispatcher.exits.values()):
                    reporter.message(GRID_DONE)
            if deadline is not None and time.time() >= deadline:
                reporter.message("Time budget reached; no new trials were started after it.")
        except KeyboardInterrupt:
            status = "killed"
            raise
        except FatalSearchError:
            status = "failed"
            raise
        finally:
            dispatcher.tracker.close()  # type: ignore[attr-defined]
            result = _finish(
                config=config,
                study=study,
                data=data,
                tracker=tracker,
                counts=dispatcher.counts,
                maximize=maximize,
                score_name=score_name,
                resumed=opened.resumed,
                status=status,
                hide_gpus=not in_process,
                on_message=reporter.message,
            )
    return result


def _run_in_process(
    *,
    config: RunConfig,
    slot: Any,
    study: Any,
    sampler: Any,
    space: SearchSpace,
    data: Dataset,
    dispatcher: Dispatcher,
    deadline: float | None,
    trainer_factory: Callable[..., Any] | None,
) -> None:
    """One CPU worker inside this process: no start-up cost, no isolation.

    Raises:
        FatalSearchError: If the framework or the trainer cannot start, with
            its error line (as a worker process that cannot start does).
    """
    try:
        import_keras()
        trainer = (trainer_factory or default_trainer)(config, slot)
    except Exception as exc:
        raise FatalSearchError(f"the trainer could not start: {error_line(exc)}") from exc
    left = [config.search.trials]

    def claim() -> bool:
        if left[0] <= 0:
            return False
        left[0] -= 1
        return True

    loop = TrialLoop.for_worker(
        config,
        worker="w0",
        slot=slot,
        study=study,
        sampler=sampler,
        space=space,
        trainer=trainer,
        data=data.training_data(),
        emit=dispatcher.handle,
        claim=claim,
        deadline=deadline,
    )
    try:
        reason = loop.run()
    except KeyboardInterrupt:
        loop.abandon("interrupted")
        raise
    if reason == "exhausted":
        dispatcher.reporter.message(GRID_DONE)


GRID_DONE = "Every point of the grid has been tried; the search ends."


def _evaluate_test(model: Any, data: Dataset) -> dict[str, float]:
    """The selected model's metrics on the test split, computed once."""
    x, y = data.test.x, data.test.y
    pred = model.predict(x, verbose=0, batch_size=1024)
    if data.spec.task == "classification":
        labels = np.argmax(pred, axis=1)
        eps = 1e-7
        p_true = np.clip(pred[np.arange(len(y)), y], eps, 1.0)
        return {
            "test_accuracy": float(np.mean(labels == y)),
            "test_loss": float(-np.mean(np.log(p_true))),
        }
    err = pred.reshape(-1) - y.astype(np.float64)
    return {
        "test_rmse": float(math.sqrt(np.mean(err**2))),
        "test_mae": float(np.mean(np.abs(err))),
    }


def _finish(
    *,
    config: RunConfig,
    study: Any,
    data: Dataset,
    tracker: BaseTracker,
    counts: dict[str, int],
    maximize: bool,
    score_name: str,
    resumed: bool,
    status: str,
    hide_gpus: bool,
    on_message: Callable[[str], None],
) -> SearchResult:
    """Select the best trial, test it once, write and log the outputs."""
    if hide_gpus and "keras" not in sys.modules:
        # Workers trained on the GPUs; testing one model here needs none, and
        # the framework would otherwise reserve GPU memory in this process.
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    # Only a model to test needs the framework (whose start may be what failed).
    keras: Any = import_keras() if best_complete(study, maximize) is not None else None

    out_dir = config.output_path
    best = best_complete(study, maximize, n_val=data.spec.n_val)
    test_metrics: dict[str, float] = {}
    best_model_path: Path | None = None
    model_path: Path | None = None
    best_params: TrialParams | None = None
    best_metrics: dict[str, float] = {}
    if best is not None:
        from whynet.search._result import _params_from_attr

        best_params = TrialParams(**_params_from_attr(best.user_attrs["whynet_params"]))
        best_metrics = {
            score_name: float(best.values[0]),
            "n_params": float(best.user_attrs["n_params"]),
        }
        candidate = best.user_attrs.get("model_path")
        final = out_dir / "best_model.keras"
        if candidate and Path(candidate).is_file():
            shutil.copyfile(candidate, final)
        if final.is_file():
            best_model_path = final
            model = keras.models.load_model(final, safe_mode=True)
            test_metrics = _evaluate_test(model, data)
            tracker.tag_test_metrics(best.number, test_metrics)
            package = _save_raw_model(model, final, data, out_dir / "best_model", on_message)
            if package is not None:
                model_path = out_dir / "best_model"
                tracker.log_best_model(
                    package, trial_number=best.number, input_example=package.input_example
                )
            del model
            keras.backend.clear_session(free_memory=False)
        # Only the selected model is kept; other candidates were best once.
        keep = Path(candidate).name if candidate else None
        for path in (out_dir / "models").glob("trial-*.keras"):
            if path.name != keep:
                path.unlink(missing_ok=True)
    table = trials_frame(study, n_val=data.spec.n_val)
    table_csv = table.to_csv(index=False)
    table.to_csv(out_dir / "trials.csv", index=False)
    summary = SearchSummary(
        best_trial_number=best.number if best is not None else None,
        best_metrics=best_metrics,
        test_metrics=test_metrics,
        results_table_csv=table_csv,
        results_table_markdown=_markdown(table),
        best_model_path=best_model_path,
        counts=counts,
        status=status,  # type: ignore[arg-type]
    )
    if getattr(tracker, "behind", None):
        tracker.retry_now()  # type: ignore[attr-defined]
        report = sync_tracking(study, tracker)
        if report.behind:
            on_message(
                f"MLflow at {tracker.location} did not answer: {report.behind} trial run(s) are "
                "not mirrored yet (the study has them). When it is back, run: whynet sync "
                f"{config.study_name} --storage {mask_url(config.search.storage)} "
                f"--tracking-uri {tracker.location}"
            )
        else:
            on_message(f"MLflow answered again; caught up {report.created + report.ended} run(s).")
    tracker.end_search(summary)
    return SearchResult(
        study_name=config.study_name,
        resumed=resumed,
        best_trial=best.number if best is not None else None,
        best_params=best_params,
        best_score=best.values[0] if best is not None else None,
        score_name=score_name,
        test_metrics=test_metrics,
        best_model_path=best_model_path,
        trials=table,
        counts=counts,
        tracking_uri=tracker.location,
        parent_run_id=getattr(tracker, "parent_run_id", None),
        model_path=model_path,
        model_uri=getattr(tracker, "best_model_uri", None),
    )


def _save_raw_model(
    model: Any, keras_path: Path, data: Dataset, path: Path, on_message: Callable[[str], None]
) -> Any:
    """Save the model that takes raw rows (see :mod:`whynet.models`) in ``path``.

    Returns:
        Its package for MLflow, or ``None`` if it could not be made (said in
        the output: the search's results stand).
    """
    if data.preprocessor is None:  # a Dataset built by hand, without raw rows
        return None
    try:
        from whynet.models._pyfunc import package_model, save_package

        package = package_model(model, keras_path, data)
        save_package(package, path)
    except Exception as exc:  # the search's own results must not be lost to it
        on_message(f"Could not save the raw-data model in {path}: {exc}")
        return None
    return package


def _markdown(table: Any) -> str:
    import pandas as pd

    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in table.itertuples(index=False):
        lines.append(
            "| " + " | ".join("" if v is None or pd.isna(v) else str(v) for v in row) + " |"
        )
    return "\n".join(lines) + "\n"
