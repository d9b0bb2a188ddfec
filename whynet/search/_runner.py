"""Run a search: the ask/tell loop, the best model, the test evaluation."""

from __future__ import annotations

import math
import os
import shutil
import socket
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from whynet._progress import NullProgress, SearchProgress
from whynet._urls import mask_url
from whynet.config import RunConfig
from whynet.data import Dataset, load_dataset
from whynet.exceptions import (
    ConfigError,
    FatalSearchError,
    TrialFailedError,
    TrialPrunedSignal,
    UserError,
)
from whynet.search._factories import check_storage, make_pruner, make_sampler, make_storage
from whynet.search._result import SearchResult, trials_frame
from whynet.search._study import open_study
from whynet.spaces import SearchSpace, TrialParams
from whynet.tracking import BaseTracker, NullTracker, SearchInfo, SearchSummary, TrialRecord
from whynet.trainers import KerasTrainer, score_metric
from whynet.trainers._backend import import_keras

__all__ = ["prepare_backend", "run_search"]


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


def _quiet_libraries() -> None:
    """Keep the libraries' per-trial chatter out of the user's terminal."""
    import logging

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # MLflow sets its loggers' levels from this variable when it is imported.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _check_output_dir(path: Path) -> None:
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise UserError(
            f"cannot write the output folder {str(path)!r}: {str(probe)!r} is not a writable "
            "folder. Set `output_dir` to a writable place."
        )


def _check_tracking(uri: str) -> None:
    if uri.startswith("sqlite:///"):
        from whynet.search._factories import _check_writable_file

        _check_writable_file(Path(uri[len("sqlite:///") :]), "MLflow store")
    elif "://" not in uri or uri.startswith("file:"):
        path = Path(uri[len("file:") :] if uri.startswith("file:") else uri)
        _check_output_dir(path)


def _make_tracker(config: RunConfig) -> BaseTracker:
    if not config.tracking.enabled:
        return NullTracker()
    from whynet.tracking import MLflowTracker

    return MLflowTracker(
        tracking_uri=config.tracking.uri,
        experiment=config.tracking.experiment or config.study_name,
    )


def _is_better(value: float, best: float | None, maximize: bool) -> bool:
    return best is None or (value >= best if maximize else value <= best)


def _best_complete(study: Any, maximize: bool) -> Any:
    """The selected trial: best validation score, then fewer parameters."""
    from optuna.trial import TrialState

    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if not complete:
        return None
    sign = -1.0 if maximize else 1.0
    return min(
        complete,
        key=lambda t: (sign * t.values[0], t.user_attrs.get("n_params", 0), t.number),
    )


def run_search(
    config: RunConfig,
    *,
    dataset: Dataset | None = None,
    progress: bool = True,
    stream: Any = None,
) -> SearchResult:
    """Run the search that ``config`` describes. See :func:`whynet.search`."""
    prepare_backend(config.training.backend)
    _quiet_libraries()
    # Everything the user can get wrong is checked before anything is written.
    data = dataset if dataset is not None else load_dataset(config.data, seed=config.seed)
    spec = data.spec
    space = SearchSpace.from_config(config.space, max_epochs=config.training.max_epochs).for_input(
        is_image=spec.is_image, input_shape=spec.input_shape
    )
    sampler = make_sampler(config.search.sampler, seed=config.seed, space=space)
    pruner = make_pruner(config.search.pruner, max_epochs=config.training.max_epochs)
    check_storage(config.search.storage)
    _check_output_dir(config.output_path)
    if config.tracking.enabled:
        _check_tracking(config.tracking.uri)

    score_name, direction = score_metric(spec.task)
    maximize = direction == "maximize"
    multi = len(config.search.objectives) > 1
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
    out_dir = config.output_path
    (out_dir / "models").mkdir(parents=True, exist_ok=True)

    reporter_cls = SearchProgress if progress else NullProgress
    reporter = reporter_cls(
        total=config.search.trials,
        timeout=config.search.timeout,
        score_name=score_name,
        stream=stream,
    )
    if opened.resumed:
        reporter.message(
            f"Resuming study {config.study_name!r} ({opened.existing_trials} earlier trials) "
            f"in {mask_url(config.search.storage)}; adding {config.search.trials} trials."
        )
    else:
        reporter.message(
            f"New study {config.study_name!r} in {mask_url(config.search.storage)}: "
            f"{config.search.trials} trials on {spec.name} ({spec.n_train} train / "
            f"{spec.n_val} validation / {spec.n_test} test rows)."
        )

    tracker = _make_tracker(config)
    _quiet_libraries()  # again: importing MLflow resets its loggers
    import_keras()
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
        )
    )
    trainer = KerasTrainer(early_stopping_patience=config.training.early_stopping_patience)
    placement = {
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "host": socket.gethostname(),
        "backend": config.training.backend,
        "device": trainer.device,
    }
    training_data = data.training_data()
    counts = {"complete": 0, "pruned": 0, "failed": 0}
    best = _best_complete(study, maximize)
    best_value: float | None = best.values[0] if best is not None else None
    deadline = (
        time.monotonic() + config.search.timeout if config.search.timeout is not None else None
    )
    status = "finished"
    consecutive_failures = 0
    with reporter:
        try:
            for _ in range(config.search.trials):
                if deadline is not None and time.monotonic() >= deadline:
                    reporter.message("Time budget reached; no new trials are started.")
                    break
                if hasattr(sampler, "is_exhausted") and sampler.is_exhausted(study):
                    reporter.message("Every point of the grid has been tried; the search ends.")
                    break
                state, best_value = _run_one_trial(
                    study=study,
                    space=space,
                    trainer=trainer,
                    data=training_data,
                    tracker=tracker,
                    reporter=reporter,
                    placement=placement,
                    seed=config.seed,
                    multi=multi,
                    maximize=maximize,
                    best_value=best_value,
                    models_dir=out_dir / "models",
                )
                counts[state] += 1
                consecutive_failures = consecutive_failures + 1 if state == "failed" else 0
                if consecutive_failures >= config.search.max_consecutive_failures:
                    status = "failed"
                    raise FatalSearchError(
                        f"{consecutive_failures} trials failed in a row; the search stops. "
                        "See the fail reasons in the results table or MLflow, then fix the "
                        "space (e.g. lower the learning rate range) or the data."
                    )
        except KeyboardInterrupt:
            status = "killed"
            raise
        finally:
            result = _finish(
                config=config,
                study=study,
                data=data,
                tracker=tracker,
                reporter=reporter,
                counts=counts,
                maximize=maximize,
                score_name=score_name,
                resumed=opened.resumed,
                status=status,
            )
    return result


def _run_one_trial(
    *,
    study: Any,
    space: SearchSpace,
    trainer: KerasTrainer,
    data: Any,
    tracker: BaseTracker,
    reporter: SearchProgress,
    placement: Mapping[str, str],
    seed: int,
    multi: bool,
    maximize: bool,
    best_value: float | None,
    models_dir: Path,
) -> tuple[str, float | None]:
    from optuna.trial import TrialState

    trial = study.ask()
    params = space.sample(trial)
    number = trial.number
    trial.set_user_attr("whynet_params", params.to_dict())
    for key, value in placement.items():
        trial.set_user_attr(key, value)
    tracker.start_trial(number, params, placement)
    reporter.trial_started(number, params.short_name())
    history: list[dict[str, float]] = []
    score_name = score_metric(data.spec.task)[0]

    def report(epoch: int, metrics: Mapping[str, float]) -> None:
        history.append(dict(metrics))
        if multi:
            return
        trial.report(metrics[score_name], step=epoch)
        if trial.should_prune():
            raise TrialPrunedSignal(epoch)

    start = time.perf_counter()
    record_kwargs: dict[str, Any] = {}
    try:
        trained = trainer.fit(params, data, report=report, seed=seed + number)
    except TrialPrunedSignal as signal:
        state = "pruned"
        trial.set_user_attr("whynet_state", state)
        trial.set_user_attr("epochs_run", signal.epoch)
        study.tell(trial, state=TrialState.PRUNED)
    except KeyboardInterrupt:
        trial.set_user_attr("whynet_state", "failed")
        trial.set_user_attr("fail_reason", "interrupted")
        study.tell(trial, state=TrialState.FAIL)
        tracker.end_trial(
            TrialRecord(
                number=number,
                params=params,
                state="interrupted",
                history=history,
                duration_s=time.perf_counter() - start,
                reason="interrupted",
                placement=placement,
            )
        )
        raise
    except Exception as exc:
        state = "failed"
        reason = exc.reason if isinstance(exc, TrialFailedError) else "error"
        message = f"{type(exc).__name__}: {exc}"
        trial.set_user_attr("whynet_state", state)
        trial.set_user_attr("fail_reason", reason)
        trial.set_user_attr("error", message[:2000])
        study.tell(trial, state=TrialState.FAIL)
        record_kwargs = {
            "reason": reason,
            "message": message,
            "traceback": traceback.format_exc(),
        }
    else:
        result = trained.result
        values = (result.score, float(result.n_params)) if multi else (result.score,)
        attrs: tuple[tuple[str, Any], ...] = (
            ("best_epoch", result.best_epoch),
            ("epochs_run", result.epochs_run),
            ("train_seconds", round(result.train_seconds, 3)),
            ("n_params", result.n_params),
            ("score_name", result.score_name),
            ("whynet_state", "complete"),
        )
        for key, value in attrs:
            trial.set_user_attr(key, value)
        if _is_better(result.score, best_value, maximize):
            # Saved before the trial is told, so that whichever trial the
            # study ranks best always has its model on disk.
            path = models_dir / f"trial-{number:05d}.keras"
            trained.model.save(path)
            trial.set_user_attr("model_path", str(path))
            best_value = result.score
        study.tell(trial, values=list(values))
        state = "complete"
        record_kwargs = {"result": result, "values": values}
    finally:
        trainer.release()
    duration = time.perf_counter() - start
    tracker.end_trial(
        TrialRecord(
            number=number,
            params=params,
            state=state,  # type: ignore[arg-type]
            history=history,
            duration_s=duration,
            placement=placement,
            **record_kwargs,
        )
    )
    if state == "complete":
        detail = f"{score_name}={record_kwargs['result'].score:.4f} in {duration:.1f}s"
    elif state == "pruned":
        detail = f"after {len(history)} epochs"
    else:
        detail = f"{record_kwargs['reason']}: {record_kwargs['message'][:200]}"
    reporter.trial_finished(number, state, f"{params.short_name()} {detail}", best_value)
    return state, best_value


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
    reporter: SearchProgress,
    counts: dict[str, int],
    maximize: bool,
    score_name: str,
    resumed: bool,
    status: str,
) -> SearchResult:
    """Select the best trial, test it once, write and log the outputs."""
    import keras

    out_dir = config.output_path
    best = _best_complete(study, maximize)
    test_metrics: dict[str, float] = {}
    best_model_path: Path | None = None
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
            tracker.log_best_model(model, trial_number=best.number, input_example=data.test.x[:5])
            del model
            keras.backend.clear_session(free_memory=False)
        # Only the selected model is kept; other candidates were best once.
        keep = Path(candidate).name if candidate else None
        for path in (out_dir / "models").glob("trial-*.keras"):
            if path.name != keep:
                path.unlink(missing_ok=True)
    table = trials_frame(study)
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
    )


def _markdown(table: Any) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join("" if v is None else str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"
