"""Tracking: mirror a study into MLflow for people to compare runs."""

from __future__ import annotations

from whynet.tracking._background import BackgroundTracker
from whynet.tracking._base import (
    BaseTracker,
    NullTracker,
    SearchInfo,
    SearchSummary,
    TrialRecord,
)
from whynet.tracking._mlflow import MLflowTracker, run_name

__all__ = [
    "BackgroundTracker",
    "BaseTracker",
    "MLflowTracker",
    "NullTracker",
    "SearchInfo",
    "SearchSummary",
    "TrialRecord",
    "run_name",
]
