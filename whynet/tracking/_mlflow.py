"""Mirror a search into MLflow: a parent run per invocation, a child per trial.

Logging is batched: a trial costs one ``create_run``, one ``log_batch`` (more
only past MLflow's limits of 1000 values per call) and one ``set_terminated``,
whatever its number of epochs; and the calls run on a background thread (see
:class:`BackgroundTracker`), so training never waits for them. The best model
(raw rows in, labels out: see :mod:`whynet.models`) is logged with explicit pip
requirements, since inferring them costs seconds per call.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterable, Mapping
from typing import Any

from whynet._urls import absolute_sqlite, mask_url
from whynet.spaces import TrialParams
from whynet.tracking._base import BaseTracker, SearchInfo, SearchSummary, TrialRecord

__all__ = ["MLflowTracker"]

logger = logging.getLogger("whynet.tracking")

_MAX_METRICS, _MAX_PARAMS, _MAX_TAGS = 1000, 100, 100
_PARAM_VALUE_LIMIT = 6000
_PAUSE_AFTER_FAILURE_S = 15.0
_STATUS = {
    "complete": "FINISHED",
    "pruned": "FINISHED",
    "failed": "FAILED",
    "interrupted": "KILLED",
}


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = str(value)[:_PARAM_VALUE_LIMIT]
    return out


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _batches(params: list[Any], metrics: list[Any], tags: list[Any]) -> list[dict[str, Any]]:
    """As few ``log_batch`` calls as MLflow's limits allow (one for most trials)."""
    if (
        len(params) <= _MAX_PARAMS
        and len(tags) <= _MAX_TAGS
        and (len(params) + len(metrics) + len(tags) <= _MAX_METRICS)
    ):
        return [{"params": params, "metrics": metrics, "tags": tags}]
    out: list[dict[str, Any]] = [{"params": c} for c in _chunks(params, _MAX_PARAMS)]
    out += [{"metrics": c} for c in _chunks(metrics, _MAX_METRICS)]
    out += [{"tags": c} for c in _chunks(tags, _MAX_TAGS)]
    return out


def _why(exc: BaseException) -> str:
    """A failed MLflow call in a few words (its messages run to many lines)."""
    text = mask_url(str(exc))
    for needle, short in (
        ("Connection refused", "connection refused"),
        ("timed out", "timed out"),
        ("Name or service not known", "unknown host"),
        ("Temporary failure in name resolution", "unknown host"),
    ):
        if needle in text:
            return short
    return (text.splitlines() or [type(exc).__name__])[0][:300]


def run_name(number: int, params: TrialParams) -> str:
    """A run name a person can read, e.g. ``trial-007 cnn 32-64 relu l2``."""
    return f"trial-{number:03d} {params.short_name()}"


class MLflowTracker(BaseTracker):
    """Mirrors the study into an MLflow experiment.

    Args:
        tracking_uri: Any MLflow tracking URI.
        experiment: The experiment name (one experiment per study).

    Example:
        >>> tracker = MLflowTracker(tracking_uri="sqlite:///mlflow.db", experiment="demo")
    """

    def __init__(self, *, tracking_uri: str, experiment: str, timeout_s: float = 10.0) -> None:
        # Bound every call to a tracking server: MLflow's defaults (120 s,
        # seven retries with backoff) would stall a search for minutes.
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, round(timeout_s)))
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "1"
        os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "1"
        from mlflow import MlflowClient

        self.tracking_uri = absolute_sqlite(tracking_uri)
        self.experiment_name = experiment
        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        self.experiment_id: str | None = None
        self.parent_run_id: str | None = None
        self._trial_runs: dict[int, str] = {}
        self.failed_calls = 0
        self.skipped_calls = 0
        self._down_until = 0.0
        self.behind: set[int] = set()
        self.best_model_uri: str | None = None
        # Why the search's parent run could not be started (MLflow did not
        # answer at the start); None once it is started.
        self.start_error: str | None = None
        self._info: SearchInfo | None = None

    @property
    def location(self) -> str:
        return mask_url(self.tracking_uri)

    @property
    def reachable(self) -> bool:
        """False while calls are paused after a failure."""
        return time.monotonic() >= self._down_until

    def _guard(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one MLflow call; a failure is counted and warned about, not raised.

        After a failure, calls are skipped for a while instead of each waiting
        for a timeout; what they would have logged is caught up from the study
        (see :func:`whynet.search.sync_tracking`).
        """
        if not self.reachable:
            self.skipped_calls += 1
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # MLflow raises many types; none may stop training.
            self.failed_calls += 1
            self._down_until = time.monotonic() + _PAUSE_AFTER_FAILURE_S
            first = (mask_url(str(exc)).splitlines() or [type(exc).__name__])[0][:300]
            logger.warning(
                "MLflow: could not %s (pausing logging for %.0f s): %s",
                what,
                _PAUSE_AFTER_FAILURE_S,
                first,
            )
            return None

    def retry_now(self) -> None:
        """Try the server again at the next call, whatever the pause.

        If the search's run could not be started, it is started now when the
        server answers.
        """
        self._down_until = 0.0
        self._ensure_started()

    # Search ----------------------------------------------------------------

    def start_search(self, info: SearchInfo) -> None:
        """Start the search's parent run; an unreachable server does not raise.

        When MLflow does not answer, :attr:`start_error` says why, every trial
        counts as behind, and the run is started at a later call once the
        server answers (what it missed is caught up from the study).
        """
        self._info = info
        self._start_or_defer(info)
        if self.start_error is not None:
            logger.debug("MLflow did not answer at the start: %s", self.start_error)

    def _ensure_started(self) -> None:
        if self.parent_run_id is None and self._info is not None and self.reachable:
            self._start_or_defer(self._info)

    def _start_or_defer(self, info: SearchInfo) -> None:
        try:
            self._start_search(info)
        except Exception as exc:  # MLflow raises many types; none may stop training.
            self.failed_calls += 1
            self._down_until = time.monotonic() + _PAUSE_AFTER_FAILURE_S
            self.start_error = _why(exc)
            if self.parent_run_id is None:
                self.experiment_id = None  # trials wait for the parent run
        else:
            self.start_error = None

    def _start_search(self, info: SearchInfo) -> None:
        exp = self.client.get_experiment_by_name(self.experiment_name)
        if exp is None:
            self.experiment_id = self.client.create_experiment(
                self.experiment_name, tags={"whynet.study": info.study_name}
            )
        else:
            self.experiment_id = exp.experiment_id
        name = f"{info.kind} {time.strftime('%Y-%m-%d %H:%M:%S')}"
        tags = {
            "whynet.kind": info.kind,
            "whynet.study": info.study_name,
            "whynet.data": info.data_name,
            "whynet.data_fingerprint": info.data_fingerprint,
            "whynet.resumed": str(info.resumed).lower(),
            "whynet.existing_trials": str(info.existing_trials),
            "whynet.storage": mask_url(info.storage),
            "whynet.host": socket.gethostname(),
            "whynet.pid": str(os.getpid()),
        }
        if info.data_notes:
            tags["whynet.data_notes"] = " ".join(info.data_notes)[:5000]
        self._end_dead_runs()
        run = self.client.create_run(self.experiment_id, run_name=name, tags=tags)
        self.parent_run_id = run.info.run_id
        from mlflow.entities import Param

        params = _flatten(info.config)
        params.update({f"data.n_{k}": str(v) for k, v in info.data_sizes.items()})
        params["data.fingerprint"] = info.data_fingerprint
        params.update({k: v[:_PARAM_VALUE_LIMIT] for k, v in info.data_details.items()})
        for chunk in _chunks([Param(k, mask_url(v)) for k, v in params.items()], _MAX_PARAMS):
            self.client.log_batch(self.parent_run_id, params=chunk)
        self.client.log_text(self.parent_run_id, mask_url(info.config_yaml), "config.yaml")

    def _end_dead_runs(self) -> None:
        """End the parent runs a killed search on this host left RUNNING.

        Its trial runs are ended from the study (see ``sync_tracking``).
        """
        import psutil

        host = socket.gethostname()
        running = self._guard(
            "look for runs left running",
            self.client.search_runs,
            [self.experiment_id],
            filter_string="attributes.status = 'RUNNING'",
            max_results=1000,
        )
        for run in running or []:
            tags = run.data.tags
            if tags.get("whynet.kind") == "trial":
                continue
            pid = int(tags.get("whynet.pid", "0") or 0)
            if tags.get("whynet.host") == host and not psutil.pid_exists(pid):
                rid = run.info.run_id
                self._guard(
                    "tag a dead run", self.client.set_tag, rid, "whynet.fail_reason", "stale"
                )
                self._guard("end a dead run", self.client.set_terminated, rid, status="KILLED")

    def end_search(self, summary: SearchSummary) -> None:
        if self.parent_run_id is None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(f"best_{k}", float(v), now, 0) for k, v in summary.best_metrics.items()]
        metrics += [Metric(k, float(v), now, 0) for k, v in summary.test_metrics.items()]
        metrics += [Metric(f"trials_{k}", float(v), now, 0) for k, v in summary.counts.items()]
        run = self.parent_run_id
        if metrics:
            self._guard("log the search's metrics", self.client.log_batch, run, metrics=metrics)
        if summary.best_trial_number is not None:
            self._guard(
                "tag the best trial",
                self.client.set_tag,
                run,
                "whynet.best_trial",
                str(summary.best_trial_number),
            )
        self._guard(
            "log the results table",
            self.client.log_text,
            run,
            summary.results_table_csv,
            "results/trials.csv",
        )
        self._guard(
            "log the results table",
            self.client.log_text,
            run,
            summary.results_table_markdown,
            "results/trials.md",
        )
        status = {"finished": "FINISHED", "failed": "FAILED", "killed": "KILLED"}[summary.status]
        self._guard("end the search run", self.client.set_terminated, run, status=status)

    # Trials ----------------------------------------------------------------

    def start_trial(self, number: int, params: TrialParams, placement: Mapping[str, str]) -> None:
        self._ensure_started()
        if self.experiment_id is None:
            self.behind.add(number)  # MLflow has not answered since the start
            return
        tags = {
            "mlflow.parentRunId": self.parent_run_id or "",
            "whynet.kind": "trial",
            "whynet.trial_number": str(number),
            **{f"whynet.{k}": v for k, v in placement.items()},
        }
        run = self._guard(
            f"start the run of trial {number}",
            self.client.create_run,
            self.experiment_id,
            run_name=run_name(number, params),
            tags=tags,
        )
        if run is not None:
            self._trial_runs[number] = run.info.run_id
        else:
            self.behind.add(number)

    def trial_run_id(self, number: int) -> str | None:
        """The MLflow run id of a trial started by this tracker."""
        return self._trial_runs.get(number)

    def end_trial(self, record: TrialRecord) -> None:
        run_id = self._trial_runs.get(record.number)
        if run_id is None:
            self.behind.add(record.number)
            return
        before = self.failed_calls + self.skipped_calls
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        params = [Param(k, str(v)) for k, v in record.params.to_flat_dict().items()]
        metrics = [
            Metric(name, value, now, epoch)
            for epoch, epoch_metrics in enumerate(record.history, start=1)
            for name, value in epoch_metrics.items()
        ]
        tags = [RunTag("whynet.state", record.state)]
        result = record.result
        if result is not None:
            final = {
                "score": result.score,
                **{f"best_{k}": v for k, v in result.metrics.items()},
                "best_epoch": result.best_epoch,
                "epochs_run": result.epochs_run,
                "train_seconds": result.train_seconds,
                "n_params": result.n_params,
            }
            metrics += [Metric(k, float(v), now, 0) for k, v in final.items()]
        metrics.append(Metric("duration_seconds", record.duration_s, now, 0))
        if record.reason:
            tags.append(RunTag("whynet.fail_reason", record.reason))
        if record.message:
            tags.append(RunTag("whynet.error", record.message[:5000]))
        for batch in _batches(params, metrics, tags):
            self._guard(f"log trial {record.number}", self.client.log_batch, run_id, **batch)
        if record.traceback:
            self._guard(
                "log the traceback", self.client.log_text, run_id, record.traceback, "traceback.txt"
            )
        self._guard(
            f"end the run of trial {record.number}",
            self.client.set_terminated,
            run_id,
            status=_STATUS[record.state],
        )
        if self.failed_calls + self.skipped_calls > before:
            self.behind.add(record.number)
        else:
            self.behind.discard(record.number)

    def adopt_run(self, number: int, run_id: str) -> None:
        """Use an existing run (e.g. left RUNNING by a killed search) for a trial."""
        self._trial_runs[number] = run_id

    def trial_runs(self) -> dict[int, tuple[str, str]]:
        """Every trial run of the experiment: number -> (run id, status).

        Raises:
            RuntimeError: If MLflow has not answered since the start (the
                experiment is not known).
        """
        if self.experiment_id is None:
            if self.start_error is not None:
                raise RuntimeError(f"MLflow did not answer: {self.start_error}")
            return {}
        from mlflow.entities import ViewType

        out: dict[int, tuple[str, str]] = {}
        token = None
        while True:
            page = self.client.search_runs(
                [self.experiment_id],
                filter_string="tags.`whynet.kind` = 'trial'",
                run_view_type=ViewType.ACTIVE_ONLY,
                max_results=1000,
                order_by=["attributes.start_time ASC"],
                page_token=token,
            )
            for run in page:
                number = int(run.data.tags["whynet.trial_number"])
                out[number] = (run.info.run_id, run.info.status)
            token = page.token
            if not token:
                return out

    def tag_test_metrics(self, trial_number: int, metrics: Mapping[str, float]) -> None:
        run_id = self._trial_runs.get(trial_number) or self._find_trial_run(trial_number)
        if run_id is None:
            return
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        self._guard(
            "log the test metrics",
            self.client.log_batch,
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
            tags=[RunTag("whynet.best", "true")],
        )

    def _find_trial_run(self, number: int) -> str | None:
        """A trial's run from an earlier invocation of the same study."""
        if self.experiment_id is None:
            return None
        runs = self._guard(
            "find an earlier trial run",
            self.client.search_runs,
            [self.experiment_id],
            filter_string=f"tags.`whynet.trial_number` = '{number}'",
            max_results=1,
            order_by=["attributes.start_time DESC"],
        )
        return runs[0].info.run_id if runs else None

    # Models ----------------------------------------------------------------

    def log_best_model(self, model: Any, *, trial_number: int, input_example: Any) -> None:
        """Log the raw-data model (a :class:`whynet.models._pyfunc.ModelPackage`).

        It is logged as ``best_model`` of the parent run; its URI is kept in
        :attr:`best_model_uri`.
        """
        if self.parent_run_id is None:
            return
        import mlflow
        import mlflow.pyfunc

        from whynet.models._pyfunc import quiet_mlflow

        previous = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(self.tracking_uri)
        try:
            with quiet_mlflow(), mlflow.start_run(run_id=self.parent_run_id):
                info = mlflow.pyfunc.log_model(
                    name="best_model",
                    python_model=model.python_model,
                    artifacts=model.artifacts,
                    signature=model.signature,
                    pip_requirements=model.pip_requirements,
                    metadata=model.metadata,
                    tags={"whynet.trial_number": str(trial_number)},
                )
            self.best_model_uri = info.model_uri
        except Exception as exc:
            self.failed_calls += 1
            logger.warning("MLflow: could not log the best model: %s", mask_url(str(exc)))
        finally:
            mlflow.set_tracking_uri(previous)
            # start_run(run_id=...) ends the run on exit; end_search sets the
            # parent's final status afterwards.
