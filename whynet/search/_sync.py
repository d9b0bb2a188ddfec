"""Rebuild MLflow's mirror of a study from the study, its source of truth.

Runs after a search (to catch up what an unreachable tracking server missed),
when a study is resumed (to end the runs a killed search left RUNNING), and
on demand as ``whynet sync``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from whynet.search._result import _params_from_attr
from whynet.spaces import TrialParams
from whynet.tracking import TrialRecord
from whynet.trainers import TrialResult

__all__ = ["SyncReport", "record_from_trial", "sync_study", "sync_tracking"]


@dataclass(frozen=True)
class SyncReport:
    """What a sync did: runs created, runs ended, trials still not mirrored."""

    created: int
    ended: int
    behind: int


def record_from_trial(trial: Any) -> TrialRecord | None:
    """A tracker record rebuilt from a finished trial's stored values."""
    from optuna.trial import TrialState

    attrs = trial.user_attrs
    raw = attrs.get("whynet_params")
    if raw is None or trial.state == TrialState.RUNNING or trial.state == TrialState.WAITING:
        return None
    params = TrialParams(**_params_from_attr(raw))
    history = tuple(attrs.get("history", ()))
    duration = (
        (trial.datetime_complete - trial.datetime_start).total_seconds()
        if trial.datetime_complete and trial.datetime_start
        else 0.0
    )
    placement = {
        k: str(attrs[k]) for k in ("worker", "host", "pid", "backend", "device") if k in attrs
    }
    if trial.state == TrialState.COMPLETE:
        best_epoch = int(attrs.get("best_epoch", len(history)) or 1)
        metrics = dict(history[best_epoch - 1]) if 0 < best_epoch <= len(history) else {}
        result = TrialResult(
            score=float(trial.values[0]),
            score_name=str(attrs.get("score_name", "score")),
            metrics=metrics,
            best_epoch=best_epoch,
            epochs_run=int(attrs.get("epochs_run", len(history))),
            train_seconds=float(attrs.get("train_seconds", 0.0)),
            n_params=int(attrs.get("n_params", 0)),
            history=history,
            device=str(attrs.get("device", "")),
        )
        return TrialRecord(
            number=trial.number,
            params=params,
            state="complete",
            history=history,
            duration_s=duration,
            result=result,
            values=tuple(trial.values),
            placement=placement,
        )
    if trial.state == TrialState.PRUNED:
        return TrialRecord(
            number=trial.number,
            params=params,
            state="pruned",
            history=history,
            duration_s=duration,
            placement=placement,
        )
    reason = str(attrs.get("fail_reason", "error"))
    return TrialRecord(
        number=trial.number,
        params=params,
        state="interrupted" if reason == "interrupted" else "failed",
        history=history,
        duration_s=duration,
        reason=reason,
        message=attrs.get("error"),
        placement=placement,
    )


def sync_tracking(study: Any, tracker: Any) -> SyncReport:
    """Give every finished trial of ``study`` a finished run in the tracker.

    Trials with no run get one (under the tracker's current parent run);
    runs left RUNNING for trials the study has finished are completed and
    ended. Runs that are already finished are left as they are.

    Returns:
        What was done, and how many trials are still not mirrored (the
        tracking server did not answer).
    """
    if not hasattr(tracker, "trial_runs"):
        return SyncReport(0, 0, 0)
    try:
        runs = tracker.trial_runs()
    except Exception:
        behind = len(getattr(tracker, "behind", ())) or len(study.trials)
        return SyncReport(0, 0, behind)
    created = ended = 0
    for trial in study.get_trials(deepcopy=False):
        record = record_from_trial(trial)
        if record is None:
            continue
        found = runs.get(trial.number)
        if found is not None and found[1] != "RUNNING":
            continue
        if found is None:
            tracker.start_trial(trial.number, record.params, record.placement)
            created += 1
        else:
            tracker.adopt_run(trial.number, found[0])
            ended += 1
        tracker.end_trial(record)
    behind = len(getattr(tracker, "behind", ()))
    return SyncReport(created=created, ended=ended, behind=behind)


def sync_study(
    study_name: str,
    *,
    storage: str,
    tracking_uri: str,
    experiment: str | None = None,
    timeout_s: float = 10.0,
) -> SyncReport:
    """Rebuild the MLflow mirror of a stored study (``whynet sync``).

    Runs created here hang under a new parent run named ``sync <time>``.

    Raises:
        UserError: If the study does not exist in ``storage``.
        TrackingError: If MLflow does not answer (nothing is synced).
    """
    import optuna

    from whynet.exceptions import TrackingError, UserError
    from whynet.search._factories import check_storage, make_storage
    from whynet.search._runner import quiet_libraries
    from whynet.tracking import MLflowTracker, SearchInfo

    quiet_libraries()
    check_storage(storage)
    store = make_storage(storage)
    names = [s.study_name for s in store.get_all_studies()]
    if study_name not in names:
        from whynet._urls import mask_url

        problem = (
            f"study {study_name!r} is not in {mask_url(storage)} (studies there: "
            f"{', '.join(names) or 'none'}). Give the name and "
        )
        raise UserError(
            problem + "storage= of an existing study.",
            cli_message=problem + "--storage of an existing study.",
        )
    study = optuna.load_study(study_name=study_name, storage=store)
    tracker = MLflowTracker(
        tracking_uri=tracking_uri, experiment=experiment or study_name, timeout_s=timeout_s
    )
    attrs = study.user_attrs
    tracker.start_search(
        SearchInfo(
            study_name=study_name,
            experiment=experiment or study_name,
            config={"sync": True},
            config_yaml="sync: true\n",
            data_name=str(attrs.get("data_name", "")),
            data_fingerprint=str(attrs.get("data_fingerprint", "")),
            data_sizes={},
            resumed=True,
            existing_trials=len(study.trials),
            storage=storage,
            kind="sync",
        )
    )
    if tracker.start_error is not None:
        raise TrackingError(
            f"MLflow at {tracker.location} did not answer ({tracker.start_error}), so nothing "
            "was synced. Start the tracking server (or check --tracking-uri), then run the same "
            "command again."
        )
    report = sync_tracking(study, tracker)
    from whynet.tracking import SearchSummary

    tracker.end_search(
        SearchSummary(
            best_trial_number=None,
            best_metrics={},
            test_metrics={},
            results_table_csv="",
            results_table_markdown="",
            best_model_path=None,
            counts={"created": report.created, "ended": report.ended},
        )
    )
    return report
