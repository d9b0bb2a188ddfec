"""The tracker seam: study, trial and epoch events in, a mirror for people out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from whynet.spaces import TrialParams
from whynet.trainers import TrialResult

__all__ = ["BaseTracker", "NullTracker", "SearchInfo", "SearchSummary", "TrialRecord"]

TrialState = Literal["complete", "pruned", "failed", "interrupted"]


@dataclass(frozen=True)
class SearchInfo:
    """What a tracker is told when a search invocation starts."""

    study_name: str
    experiment: str
    config: Mapping[str, Any]
    config_yaml: str
    data_name: str
    data_fingerprint: str
    data_sizes: Mapping[str, int]
    resumed: bool
    existing_trials: int
    storage: str
    stale_trials: tuple[int, ...] = ()
    kind: str = "search"
    # What loading did (imputed values, dropped rows, image size), as lines
    # for people and as parameters (e.g. ``data.imputed``).
    data_notes: tuple[str, ...] = ()
    data_details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial, as plain values."""

    number: int
    params: TrialParams
    state: TrialState
    history: Sequence[Mapping[str, float]]
    duration_s: float
    result: TrialResult | None = None
    values: tuple[float, ...] = ()
    reason: str | None = None
    message: str | None = None
    traceback: str | None = None
    placement: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchSummary:
    """What a tracker is told when a search invocation ends."""

    best_trial_number: int | None
    best_metrics: Mapping[str, float]
    test_metrics: Mapping[str, float]
    results_table_csv: str
    results_table_markdown: str
    best_model_path: Path | None
    counts: Mapping[str, int]
    status: Literal["finished", "failed", "killed"] = "finished"


class BaseTracker:
    """Receives the events of a search. Every method is optional to override.

    A tracker never imports Keras or Optuna and never changes the search: its
    failures are reported, not raised into the training loop.
    """

    def start_search(self, info: SearchInfo) -> None:
        """A search invocation starts."""

    def start_trial(self, number: int, params: TrialParams, placement: Mapping[str, str]) -> None:
        """A trial starts, with its sampled parameters and where it runs."""

    def end_trial(self, record: TrialRecord) -> None:
        """A trial ended (complete, pruned, failed or interrupted)."""

    def log_best_model(self, model: Any, *, trial_number: int, input_example: Any) -> None:
        """The selected model, trained on the training split.

        ``model`` is a :class:`whynet.models._pyfunc.ModelPackage`: the Keras
        network with the preprocessing fitted on train, taking raw rows.
        """

    def end_search(self, summary: SearchSummary) -> None:
        """The search invocation ends."""

    def tag_test_metrics(self, trial_number: int, metrics: Mapping[str, float]) -> None:
        """Test metrics of the selected model, logged on its trial."""

    @property
    def location(self) -> str | None:
        """Where people can look at what was tracked, if anywhere."""
        return None


class NullTracker(BaseTracker):
    """Tracks nothing (``tracking.enabled: false``)."""
