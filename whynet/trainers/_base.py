"""The trainer seam: params and data in, a plain result out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from whynet.data import TrainingData
from whynet.spaces import TrialParams

__all__ = ["BaseTrainer", "ReportFn", "TrainedModel", "TrialResult"]

ReportFn = Callable[[int, Mapping[str, float]], None]
"""Called after each epoch with the 1-based epoch and its metrics.

It may raise :class:`whynet.exceptions.TrialPrunedSignal` to stop the trial.
"""


@dataclass(frozen=True)
class TrialResult:
    """What one trial achieved, as plain values.

    Attributes:
        score: The validation objective at the best epoch (accuracy for
            classification, RMSE for regression).
        score_name: The metric ``score`` holds, e.g. ``val_accuracy``.
        metrics: Training and validation metrics at the best epoch.
        best_epoch: The 1-based epoch whose weights the model keeps.
        epochs_run: Epochs actually trained (early stopping may cut them).
        train_seconds: Wall time of building, compiling and fitting.
        n_params: Trainable and non-trainable parameters of the model.
        history: Metrics of every epoch, in order.
        device: Where it trained, e.g. ``cpu`` or ``gpu:0``.
    """

    score: float
    score_name: str
    metrics: Mapping[str, float]
    best_epoch: int
    epochs_run: int
    train_seconds: float
    n_params: int
    history: tuple[Mapping[str, float], ...] = field(default=(), repr=False)
    device: str = "cpu"


@dataclass(frozen=True)
class TrainedModel:
    """A result with the trained model it describes (the model is live)."""

    result: TrialResult
    model: Any = field(repr=False)


class BaseTrainer(Protocol):
    """Trains one trial. Never sees an Optuna trial, nor the test split."""

    def fit(
        self,
        params: TrialParams,
        data: TrainingData,
        *,
        report: ReportFn,
        seed: int,
    ) -> TrainedModel:
        """Train a model for ``params`` on ``data`` and return it with its result.

        Call ``report(epoch, metrics)`` after every epoch: it may raise to
        prune the trial, and it is where a Ctrl-C or SIGTERM stops a trainer
        (the Keras trainer also stops between batches). Let both propagate.
        """
        ...

    def release(self) -> None:
        """Free what the last trial left behind (graphs, device memory)."""
        ...
