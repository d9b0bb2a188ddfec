"""Trainers: turn a trial's parameters and the data into a trained model."""

from __future__ import annotations

from whynet.trainers._base import BaseTrainer, ReportFn, TrainedModel, TrialResult
from whynet.trainers._builders import build_model, build_optimizer
from whynet.trainers._keras import KerasTrainer, score_metric

__all__ = [
    "BaseTrainer",
    "KerasTrainer",
    "ReportFn",
    "TrainedModel",
    "TrialResult",
    "build_model",
    "build_optimizer",
    "score_metric",
]
