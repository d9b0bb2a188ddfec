"""Errors raised by whynet.

One base class, :class:`WhynetError`. User errors (a bad config, bad data, a
study that cannot be resumed as asked) also derive from :class:`ValueError`
and make the command line exit with code 2. Trial-level errors end one trial
and the search goes on; fatal errors stop the search.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "FatalSearchError",
    "ResumeError",
    "TrackingError",
    "TrialFailedError",
    "TrialPrunedSignal",
    "UserError",
    "WhynetError",
]


class WhynetError(Exception):
    """Base class of every error whynet raises on purpose."""


class UserError(WhynetError, ValueError):
    """The user asked for something that cannot be done as given.

    The message names the problem and the fix. The command line prints it on
    one line and exits with code 2; nothing has been written to the study or
    to MLflow when it is raised.

    Args:
        message: The message, in the terms of the Python API (``study=``).
        cli_message: The same message in the terms of the command line
            (``--study``), where the two differ; the command line prints it.
    """

    def __init__(self, message: str, *, cli_message: str | None = None) -> None:
        super().__init__(message)
        self.cli_message = message if cli_message is None else cli_message

    def __reduce__(self) -> tuple[object, ...]:
        # Keeps ``cli_message`` when the error crosses a process boundary.
        return (type(self), (str(self),), {"cli_message": self.cli_message})


class ConfigError(UserError):
    """A run config or search space is invalid."""


class DataError(UserError):
    """A data set cannot be loaded or is unusable for training."""


class ResumeError(UserError):
    """An existing study cannot be resumed with this config or data."""


class TrialFailedError(WhynetError):
    """One trial failed; the search goes on.

    Args:
        reason: A short machine-readable reason such as ``"nan_loss"`` or
            ``"oom"``, stored on the trial and tagged in MLflow.
        message: A human-readable explanation.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class TrialPrunedSignal(WhynetError):
    """Raised by a trainer's ``report`` callable when the pruner stops a trial.

    Trainers never import Optuna; the search turns this into a pruned trial.
    """

    def __init__(self, epoch: int) -> None:
        super().__init__(f"pruned after epoch {epoch}")
        self.epoch = epoch


class FatalSearchError(WhynetError):
    """The search cannot go on (for example, storage is gone)."""


class TrackingError(WhynetError):
    """The tracking server (MLflow) did not answer where an answer is needed.

    A search never raises it (training goes on without MLflow); ``whynet
    sync``, whose whole job is to write to MLflow, does. The command line
    exits with code 1.
    """
