"""The trial loop a worker runs, and the events it sends to whoever watches.

A worker owns its loop (Optuna's ask/tell): it asks the shared study for a
trial, samples the space, trains, tells the study the outcome and sends two
plain events, :class:`TrialStarted` and :class:`TrialEnded`. Whoever receives
them (the :class:`Dispatcher`, in the launcher process or in the same process)
mirrors them into MLflow and the progress display, so that only one process
writes to MLflow and a slow tracking server never slows training.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whynet._interrupt import raise_if_requested
from whynet._progress import SearchProgress
from whynet.data import TrainingData
from whynet.exceptions import FatalSearchError, TrialFailedError, TrialPrunedSignal
from whynet.search._selection import best_complete, may_be_selected
from whynet.spaces import SearchSpace, TrialParams
from whynet.tracking import BaseTracker, TrialRecord
from whynet.trainers import BaseTrainer, score_metric

if TYPE_CHECKING:
    from whynet.config import RunConfig
    from whynet.trainers._devices import DeviceSlot

__all__ = [
    "Dispatcher",
    "TrialEnded",
    "TrialLoop",
    "TrialStarted",
    "WorkerExited",
    "best_complete",
    "end_abandoned_trial",
    "fail_running_trial",
    "recover_stale_trials",
    "requeue_once",
]


@dataclass(frozen=True)
class TrialStarted:
    """A worker began a trial."""

    worker: str
    number: int
    trial_id: int
    params: TrialParams
    placement: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialEnded:
    """A worker finished a trial (in any state)."""

    worker: str
    record: TrialRecord
    best_value: float | None


@dataclass(frozen=True)
class WorkerExited:
    """A worker left its loop; ``reason`` says why (done, recycle, oom, ...)."""

    worker: str
    reason: str
    trials: int = 0
    rss_mb: float = 0.0
    error: str | None = None  # with ``startup_error`` and ``fatal``: the error's line
    detail: str | None = None  # and its traceback


Event = TrialStarted | TrialEnded | WorkerExited


def _save_history(trial: Any, history: list[dict[str, float]]) -> None:
    """Keep the per-epoch metrics in the study, the source of truth.

    ``whynet sync`` rebuilds MLflow's per-epoch curves from them.
    """
    if history:
        trial.set_user_attr(
            "history", [{k: float(f"{v:.6g}") for k, v in m.items()} for m in history]
        )


class TrialLoop:
    """Runs trials of one study in this process until told to stop.

    Args:
        study: The Optuna study (shared through its storage).
        sampler: The study's sampler (asked whether a grid is used up).
        space: The search space, already fitted to the data's shape.
        trainer: Trains one trial.
        data: Training and validation splits.
        seed: Trial ``n`` trains with seed ``seed + n``.
        multi_objective: Whether the study also minimizes the parameter count.
        models_dir: Where a trial's model is saved when it is the best so far.
        placement: Worker, host, backend and device, recorded on every trial.
        emit: Receives the events.
        claim: Returns whether another trial may start (takes a ticket).
        deadline: A ``time.time()`` after which no trial starts.
        worker: This worker's name.
    """

    def __init__(
        self,
        *,
        study: Any,
        sampler: Any,
        space: SearchSpace,
        trainer: BaseTrainer,
        data: TrainingData,
        seed: int,
        multi_objective: bool,
        models_dir: Path,
        placement: Mapping[str, str],
        emit: Callable[[Event], None],
        claim: Callable[[], bool],
        deadline: float | None = None,
        worker: str = "main",
    ) -> None:
        self.study = study
        self.sampler = sampler
        self.space = space
        self.trainer = trainer
        self.data = data
        self.seed = seed
        self.multi = multi_objective
        self.models_dir = models_dir
        self.placement = dict(placement)
        self.emit = emit
        self.claim = claim
        self.deadline = deadline
        self.worker = worker
        self.score_name, direction = score_metric(data.spec.task)
        self.maximize = direction == "maximize"
        self.trials_run = 0
        self._asked: Any = None
        self._started: TrialStarted | None = None

    @classmethod
    def for_worker(
        cls,
        config: RunConfig,
        *,
        worker: str,
        slot: DeviceSlot,
        study: Any,
        sampler: Any,
        space: SearchSpace,
        trainer: BaseTrainer,
        data: TrainingData,
        emit: Callable[[Event], None],
        claim: Callable[[], bool],
        deadline: float | None,
    ) -> TrialLoop:
        """The loop of worker ``worker`` on ``slot``, set up from the run config.

        The same for a worker process and for the in-process worker, so that
        both record the same placement and save models to the same place.
        """
        placement = {
            "worker": worker,
            "host": socket.gethostname(),
            "pid": str(os.getpid()),
            "backend": config.training.backend,
            "device": slot.label,
        }
        return cls(
            study=study,
            sampler=sampler,
            space=space,
            trainer=trainer,
            data=data,
            seed=config.seed,
            multi_objective=len(config.search.objectives) > 1,
            models_dir=config.output_path / "models",
            placement=placement,
            emit=emit,
            claim=claim,
            deadline=deadline,
            worker=worker,
        )

    def stop_reason(self) -> str | None:
        """Why no further trial should start, if so."""
        if self.deadline is not None and time.time() >= self.deadline:
            return "deadline"
        if hasattr(self.sampler, "is_exhausted") and self.sampler.is_exhausted(self.study):
            return "exhausted"
        return None

    def run(
        self,
        *,
        max_trials: int | None = None,
        should_recycle: Callable[[], bool] | None = None,
        stop_on_oom: bool = False,
    ) -> str:
        """Run trials until there is no ticket left or a limit is reached.

        Returns:
            Why the loop ended: ``done``, ``deadline``, ``exhausted``,
            ``recycle`` or ``oom``.
        """
        while True:
            raise_if_requested()  # a Ctrl-C or SIGTERM that came between trials
            reason = self.stop_reason()
            if reason is not None:
                return reason
            if not self.claim():
                return "done"
            try:
                _, fail_reason = self.run_one()
            except Exception as exc:
                # A fatal error (or any error outside the trainer) ends the
                # trial it came from as failed, so that none stays RUNNING.
                self.fail_current(exc)
                raise
            self.trials_run += 1
            if stop_on_oom and fail_reason == "oom":
                return "oom"
            if max_trials is not None and self.trials_run >= max_trials:
                return "recycle"
            if should_recycle is not None and should_recycle():
                return "recycle"

    def _best_value(self) -> float | None:
        best = best_complete(self.study, self.maximize, n_val=self.data.spec.n_val)
        return float(best.values[0]) if best is not None else None

    def run_one(self) -> tuple[str, str | None]:
        """Ask, train, tell and report one trial; returns its state and fail reason."""
        from optuna.trial import TrialState

        trial = self.study.ask()
        self._asked = trial
        params = self.space.sample(trial)
        number = trial.number
        # Announced before anything else is written, so that an interruption
        # from here on leaves a tracked (killed) run, not a silent failure.
        started = TrialStarted(self.worker, number, trial._trial_id, params, self.placement)
        self._started = started
        self.emit(started)
        trial.set_user_attr("whynet_params", params.to_dict())
        for key, value in self.placement.items():
            trial.set_user_attr(key, value)
        history: list[dict[str, float]] = []
        score_name = self.score_name

        def report(epoch: int, metrics: Mapping[str, float]) -> None:
            history.append(dict(metrics))
            if self.multi:
                return
            trial.report(metrics[score_name], step=epoch)
            if trial.should_prune():
                raise TrialPrunedSignal(epoch)
            raise_if_requested()  # every trainer reports; a safe point after each epoch

        start = time.perf_counter()
        extra: dict[str, Any] = {}
        state = "failed"
        try:
            trained = self.trainer.fit(params, self.data, report=report, seed=self.seed + number)
        except FatalSearchError:
            raise  # the search stops; run() ends this trial as failed
        except TrialPrunedSignal as signal:
            state = "pruned"
            trial.set_user_attr("whynet_state", state)
            trial.set_user_attr("epochs_run", signal.epoch)
            _save_history(trial, history)
            self.study.tell(trial, state=TrialState.PRUNED)
        except KeyboardInterrupt:
            trial.set_user_attr("whynet_state", "failed")
            trial.set_user_attr("fail_reason", "interrupted")
            self.study.tell(trial, state=TrialState.FAIL)
            record = TrialRecord(
                number=number,
                params=params,
                state="interrupted",
                history=history,
                duration_s=time.perf_counter() - start,
                reason="interrupted",
                message="the search was interrupted",
                placement=self.placement,
            )
            self._asked = self._started = None
            self.emit(TrialEnded(self.worker, record, self._best_value()))
            raise
        except Exception as exc:
            reason = exc.reason if isinstance(exc, TrialFailedError) else "error"
            message = f"{type(exc).__name__}: {exc}"
            trial.set_user_attr("whynet_state", "failed")
            trial.set_user_attr("fail_reason", reason)
            trial.set_user_attr("error", message[:2000])
            _save_history(trial, history)
            self.study.tell(trial, state=TrialState.FAIL)
            extra = {"reason": reason, "message": message, "traceback": traceback.format_exc()}
        else:
            result = trained.result
            if not math.isfinite(result.score):
                raise FatalSearchError(f"trial {number} returned a non-finite score")
            values = (result.score, float(result.n_params)) if self.multi else (result.score,)
            attrs: tuple[tuple[str, Any], ...] = (
                ("best_epoch", result.best_epoch),
                ("epochs_run", result.epochs_run),
                ("train_seconds", round(result.train_seconds, 3)),
                ("n_params", result.n_params),
                ("val_loss", result.metrics.get("val_loss")),
                ("score_name", result.score_name),
                ("device", result.device),
                ("whynet_state", "complete"),
            )
            for key, value in attrs:
                trial.set_user_attr(key, value)
            if may_be_selected(
                self.study,
                score=result.score,
                val_loss=result.metrics.get("val_loss"),
                n_params=result.n_params,
                number=number,
                maximize=self.maximize,
            ):
                # Saved before the trial is told, and only when it may be
                # selected: so the selected trial always has its model on disk.
                path = self.models_dir / f"trial-{number:05d}.keras"
                trained.model.save(path)
                trial.set_user_attr("model_path", str(path))
            _save_history(trial, history)
            self.study.tell(trial, values=list(values))
            state = "complete"
            extra = {"result": result, "values": values}
        finally:
            self.trainer.release()
        record = TrialRecord(
            number=number,
            params=params,
            state=state,  # type: ignore[arg-type]
            history=history,
            duration_s=time.perf_counter() - start,
            placement=self.placement,
            **extra,
        )
        self._asked = self._started = None
        self.emit(TrialEnded(self.worker, record, self._best_value()))
        return state, extra.get("reason")

    def fail_current(self, exc: BaseException) -> None:
        """End the trial an error escaped from as failed, with the error on it.

        A :class:`FatalSearchError` gives the reason ``fatal``; any other
        error ``error``. The trial's ``error`` attribute says why.
        """
        trial, started = self._asked, self._started
        self._asked = self._started = None
        reason = "fatal" if isinstance(exc, FatalSearchError) else "error"
        message = f"{type(exc).__name__}: {exc}"[:2000]
        # The original error is the one to report, not one of this clean-up.
        with contextlib.suppress(Exception):
            if started is not None:
                end_abandoned_trial(
                    self.study, started, reason=reason, message=message, emit=self.emit
                )
            elif trial is not None:
                fail_running_trial(self.study, trial._trial_id, reason, message=message)

    def abandon(self, reason: str = "interrupted") -> None:
        """Fail the trial this loop was in when it was interrupted, if any.

        Training itself handles an interruption; this covers the moments
        around it (sampling, saving), so that no trial stays RUNNING.
        """
        trial, started = self._asked, self._started
        self._asked = self._started = None
        if started is not None:
            message = "the search was interrupted"
            end_abandoned_trial(self.study, started, reason=reason, message=message, emit=self.emit)
        elif trial is not None:
            fail_running_trial(self.study, trial._trial_id, reason)


def end_abandoned_trial(
    study: Any,
    started: TrialStarted,
    *,
    reason: str,
    message: str,
    emit: Callable[[Event], None],
) -> bool:
    """Fail a trial its worker can no longer end, and report it as ended.

    Returns:
        Whether the trial was still running (and is now failed and reported).
    """
    if not fail_running_trial(study, started.trial_id, reason, message=message):
        return False
    record = TrialRecord(
        number=started.number,
        params=started.params,
        state="interrupted" if reason == "interrupted" else "failed",
        history=(),
        duration_s=0.0,
        reason=reason,
        message=message,
        placement=started.placement,
    )
    emit(TrialEnded(started.worker, record, None))
    return True


def requeue_once(study: Any, trial: Any) -> bool:
    """Queue a failed trial's parameters again, unless it was itself a retry."""
    if trial.user_attrs.get("whynet_retry_of") is not None or not trial.params:
        return False
    study.enqueue_trial(
        dict(trial.params), user_attrs={"whynet_retry_of": trial.number}, skip_if_exists=False
    )
    return True


def recover_stale_trials(study: Any, *, host: str) -> list[int]:
    """Fail and re-queue the trials a killed search left RUNNING on this host.

    A trial is stale when it was started on this host by a process that no
    longer exists (its ``pid`` user attribute). Trials of other hosts, and of
    live processes, are left alone: they may still be running.

    Returns:
        The numbers of the trials that were recovered.
    """
    import psutil
    from optuna.trial import TrialState

    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if attrs.get("host", host) != host:
            continue
        pid = int(attrs.get("pid", 0) or 0)
        if pid and _alive_since(psutil, pid, trial.datetime_start):
            continue
        if fail_running_trial(study, trial._trial_id, "stale"):
            recovered.append(trial.number)
            requeue_once(study, trial)
    return recovered


def _alive_since(psutil: Any, pid: int, started: Any) -> bool:
    """Whether process ``pid`` exists and is older than the trial (not a reused pid)."""
    try:
        created = psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return started is None or created <= started.timestamp() + 1.0


def fail_running_trial(
    study: Any, trial_id: int, reason: str, *, message: str | None = None
) -> bool:
    """Mark a trial that its worker left RUNNING as failed with ``reason``.

    ``message``, when given, is stored as the trial's ``error`` attribute.

    Returns:
        Whether the trial was still running (and is now failed).
    """
    from optuna.trial import TrialState

    storage = study._storage
    try:
        if storage.get_trial(trial_id).state != TrialState.RUNNING:
            return False
        storage.set_trial_user_attr(trial_id, "whynet_state", "failed")
        storage.set_trial_user_attr(trial_id, "fail_reason", reason)
        if message:
            storage.set_trial_user_attr(trial_id, "error", message[:2000])
        return bool(storage.set_trial_state_values(trial_id, TrialState.FAIL))
    except RuntimeError:
        # Another process finished it in between.
        return False


class Dispatcher:
    """Receives worker events: mirrors them to the tracker and the display.

    It also counts outcomes and stops the search after too many failures in
    a row, by raising :class:`FatalSearchError`.
    """

    def __init__(
        self,
        *,
        tracker: BaseTracker,
        reporter: SearchProgress,
        score_name: str,
        max_consecutive_failures: int,
    ) -> None:
        self.tracker = tracker
        self.reporter = reporter
        self.score_name = score_name
        self.max_consecutive_failures = max_consecutive_failures
        self.counts = {"complete": 0, "pruned": 0, "failed": 0}
        self.consecutive_failures = 0
        self.running: dict[str, TrialStarted] = {}
        self.exits: dict[str, WorkerExited] = {}

    def handle(self, event: Event) -> None:
        """Process one event."""
        if isinstance(event, TrialStarted):
            self.running[event.worker] = event
            self.tracker.start_trial(event.number, event.params, event.placement)
            self.reporter.trial_started(event.number, event.params.short_name(), event.worker)
        elif isinstance(event, TrialEnded):
            self._ended(event)
        else:
            self.exits[event.worker] = event

    def _ended(self, event: TrialEnded) -> None:
        self.running.pop(event.worker, None)
        record = event.record
        self.tracker.end_trial(record)
        state = "failed" if record.state == "interrupted" else record.state
        self.counts[state] += 1
        if record.state == "complete" and record.result is not None:
            detail = f"{self.score_name}={record.result.score:.4f} in {record.duration_s:.1f}s"
        elif record.state == "pruned":
            detail = f"after {len(record.history)} epochs"
        else:
            detail = f"{record.reason}: {(record.message or '')[:200]}"
        self.reporter.trial_finished(
            record.number,
            record.state,
            f"{record.params.short_name()} {detail}",
            event.best_value,
            event.worker,
        )
        if record.state == "failed" and record.reason != "worker_died":
            self.consecutive_failures += 1
        elif record.state in ("complete", "pruned"):
            self.consecutive_failures = 0
        if self.consecutive_failures >= self.max_consecutive_failures:
            raise FatalSearchError(
                f"{self.consecutive_failures} trials failed in a row; the search stops. "
                "See the fail reasons in the results table or MLflow, then fix the space "
                "(e.g. lower the learning rate range) or the data."
            )
