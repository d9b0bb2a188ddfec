"""Trainers: turn a trial's parameters and the data into a trained model.

:class:`KerasTrainer` trains the networks; :class:`SklearnTrainer` fits the
classical baselines of :data:`CLASSICAL_MODELS`.
"""

from __future__ import annotations

from whynet.trainers._base import BaseTrainer, ReportFn, TrainedModel, TrialResult
from whynet.trainers._builders import build_model, build_optimizer
from whynet.trainers._keras import KerasTrainer, score_metric
from whynet.trainers._sklearn import CLASSICAL_MODELS, SklearnTrainer

__all__ = [
    "CLASSICAL_MODELS",
    "BaseTrainer",
    "KerasTrainer",
    "ReportFn",
    "SklearnTrainer",
    "TrainedModel",
    "TrialResult",
    "build_model",
    "build_optimizer",
    "score_metric",
]
