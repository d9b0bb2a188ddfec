"""Mirror an explanation into MLflow: one explain parent run, a child run per fit.

The explanation's studies (ablations, baselines) are the source of truth, as a
search's study is; MLflow is the mirror people browse. An MLflow store that
does not answer never stops an explanation: the first failure is warned about
once and every later call is skipped.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from whynet._urls import absolute_sqlite, mask_url

__all__ = ["ExplainTracker", "NullExplainTracker"]

logger = logging.getLogger("whynet.reports")

_PARAMS = (
    "group",
    "factor",
    "level",
    "repeat",
    "seed",
    "variant",
    "split_id",
    "shared_fit",
    "status",
    "device",
)
_METRICS = ("score", "val_score", "fit_seconds", "predict_seconds_per_1k", "n_params")


class NullExplainTracker:
    """Logs nothing (tracking disabled)."""

    parent_run_id: str | None = None
    location: str | None = None
    children = 0

    def start(self, *, study: str, tags: Mapping[str, str], params: Mapping[str, Any]) -> None:
        """Start the explain parent run."""

    def log_fit(self, row: Mapping[str, Any]) -> None:
        """Log one fit (a row of the long results frame) as a child run."""

    def log_artifacts(self, paths: Iterable[Path], *, folder: str = "report") -> None:
        """Attach files to the parent run."""

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Log summary metrics on the parent run."""

    def set_tag(self, key: str, value: str) -> None:
        """Tag the parent run."""

    def end(self, status: str = "FINISHED") -> None:
        """End the parent run (``FINISHED``, ``FAILED`` or ``KILLED``)."""


class ExplainTracker(NullExplainTracker):
    """The explain parent run and its child runs, in the study's experiment.

    Args:
        tracking_uri: Any MLflow tracking URI.
        experiment: The experiment (the study's, so that the explanation sits
            beside the search it explains).
        timeout_s: Longest wait for one call to a tracking server.
    """

    def __init__(self, *, tracking_uri: str, experiment: str, timeout_s: float = 10.0) -> None:
        # As for a search: bound every call, so a dead server costs seconds.
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, round(timeout_s)))
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "1"
        os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "1"
        self.tracking_uri = absolute_sqlite(tracking_uri)
        self.location = mask_url(self.tracking_uri)
        self.experiment_name = experiment
        self.client: Any = None
        self.experiment_id: str | None = None
        self.parent_run_id: str | None = None
        self.down = False
        self.warned = False
        self.children = 0

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self.down:
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # MLflow raises many types; none may stop the explanation.
            self.down = True
            if self.warned:
                return None
            self.warned = True
            first = (mask_url(str(exc)).splitlines() or [type(exc).__name__])[0][:300]
            logger.warning(
                "MLflow at %s: could not %s; the explanation goes on without logging to "
                "MLflow (its tables and report are still written): %s",
                self.location,
                what,
                first,
            )
            return None

    def _connect(self) -> None:
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        exp = self.client.get_experiment_by_name(self.experiment_name)
        if exp is None:
            self.experiment_id = self.client.create_experiment(self.experiment_name)
        else:
            self.experiment_id = exp.experiment_id

    def start(self, *, study: str, tags: Mapping[str, str], params: Mapping[str, Any]) -> None:
        self._call("open the experiment", self._connect)
        if self.experiment_id is None:
            return
        from mlflow.entities import Param

        all_tags = {
            "whynet.kind": "explain",
            "whynet.study": study,
            "whynet.host": socket.gethostname(),
            "whynet.pid": str(os.getpid()),
            **tags,
        }
        run = self._call(
            "start the explain run",
            self.client.create_run,
            self.experiment_id,
            run_name=f"explain {time.strftime('%Y-%m-%d %H:%M:%S')}",
            tags=all_tags,
        )
        if run is None:
            return
        self.parent_run_id = run.info.run_id
        items = [Param(k, mask_url(str(v))[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self._call(
                "log the explain run's settings",
                self.client.log_batch,
                self.parent_run_id,
                params=items[i : i + 100],
            )

    def log_fit(self, row: Mapping[str, Any]) -> None:
        if self.parent_run_id is None or self.down:
            return
        from mlflow.entities import Metric, Param

        group = str(row.get("group", ""))
        name = f"{group} {row.get('factor', '')}={row.get('level', '')} r{row.get('repeat', '')}"
        tags = {
            "mlflow.parentRunId": self.parent_run_id,
            "whynet.kind": "explain-fit",
            "whynet.group": group,
        }
        run = self._call(
            "start a fit's run",
            self.client.create_run,
            self.experiment_id,
            run_name=name,
            tags=tags,
        )
        if run is None:
            return
        now = int(time.time() * 1000)
        params = [
            Param(k, str(row[k])[:6000])
            for k in _PARAMS
            if k in row and row[k] is not None and str(row[k]) != ""
        ]
        metrics = []
        for key in _METRICS:
            value = row.get(key)
            if isinstance(value, int | float) and math.isfinite(float(value)):
                metrics.append(Metric(key, float(value), now, 0))
        self._call(
            "log a fit", self.client.log_batch, run.info.run_id, params=params, metrics=metrics
        )
        self._call("end a fit's run", self.client.set_terminated, run.info.run_id)
        self.children += 1

    def log_artifacts(self, paths: Iterable[Path], *, folder: str = "report") -> None:
        if self.parent_run_id is None:
            return
        for path in paths:
            self._call(
                f"log {path.name}", self.client.log_artifact, self.parent_run_id, str(path), folder
            )

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        if self.parent_run_id is None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, 0) for k, v in metrics.items() if math.isfinite(float(v))]
        if items:
            self._call(
                "log the explanation's metrics",
                self.client.log_batch,
                self.parent_run_id,
                metrics=items,
            )

    def set_tag(self, key: str, value: str) -> None:
        if self.parent_run_id is None:
            return
        self._call(
            "tag the explain run", self.client.set_tag, self.parent_run_id, key, value[:5000]
        )

    def end(self, status: str = "FINISHED") -> None:
        if self.parent_run_id is None:
            return
        if self.down:
            # Try once more: a run left RUNNING misleads whoever browses the store.
            self.down = False
        self._call(
            "end the explain run", self.client.set_terminated, self.parent_run_id, status=status
        )
