"""The result of a search, and the table of its trials."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from whynet.spaces import TrialParams

__all__ = ["SearchResult", "trials_frame"]

_COLUMNS = [
    "number",
    "state",
    "score",
    "n_params",
    "architecture",
    "summary",
    "activation",
    "regularization",
    "optimizer",
    "learning_rate",
    "batch_size",
    "best_epoch",
    "epochs_run",
    "train_seconds",
    "fail_reason",
]


def trials_frame(study: Any) -> pd.DataFrame:
    """One row per trial of the study, with the columns people compare."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        attrs = t.user_attrs
        p = attrs.get("whynet_params")
        params = TrialParams(**_params_from_attr(p)) if p else None
        rows.append(
            {
                "number": t.number,
                "state": attrs.get("whynet_state", t.state.name.lower()),
                "score": t.values[0] if t.values else None,
                "n_params": attrs.get("n_params"),
                "architecture": params.architecture if params else None,
                "summary": params.short_name() if params else None,
                "activation": params.activation if params else None,
                "regularization": params.regularization if params else None,
                "optimizer": params.optimizer if params else None,
                "learning_rate": params.learning_rate if params else None,
                "batch_size": params.batch_size if params else None,
                "best_epoch": attrs.get("best_epoch"),
                "epochs_run": attrs.get("epochs_run"),
                "train_seconds": attrs.get("train_seconds"),
                "fail_reason": attrs.get("fail_reason"),
            }
        )
    return pd.DataFrame(rows, columns=_COLUMNS)


def _params_from_attr(p: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(p)
    out["units"] = tuple(out.get("units", ()))
    out["filters"] = tuple(out.get("filters", ()))
    return out


@dataclass(frozen=True)
class SearchResult:
    """What a search found.

    Attributes:
        study_name: The Optuna study (and MLflow experiment) name.
        resumed: Whether this invocation continued an existing study.
        best_trial: Number of the selected trial (chosen on validation only).
        best_params: Its parameters.
        best_score: Its validation score.
        score_name: The metric of the score, e.g. ``val_accuracy``.
        test_metrics: The selected model evaluated once on the test split.
        best_model_path: The selected model in the ``.keras`` format.
        trials: One row per trial of the study.
        counts: Trials of this invocation by state.
        tracking_uri: Where MLflow mirrors the study (password masked).
        parent_run_id: The MLflow run of this invocation.
        model_path: The selected model as a saved MLflow pyfunc model that takes
            raw rows and returns the original labels (``<output>/best_model``).
        model_uri: The same model logged to MLflow (``models:/<model id>``;
            ``runs:/<parent_run_id>/best_model`` names it too), when tracked.
    """

    study_name: str
    resumed: bool
    best_trial: int | None
    best_params: TrialParams | None
    best_score: float | None
    score_name: str
    test_metrics: Mapping[str, float]
    best_model_path: Path | None
    trials: pd.DataFrame = field(repr=False)
    counts: Mapping[str, int] = field(default_factory=dict)
    tracking_uri: str | None = None
    parent_run_id: str | None = None
    model_path: Path | None = None
    model_uri: str | None = None

    @property
    def best_model(self) -> Any:
        """The selected Keras model, loaded from disk with ``safe_mode`` on."""
        if self.best_model_path is None:
            raise ValueError("the search has no completed trial, so there is no best model")
        import keras

        return keras.models.load_model(self.best_model_path, safe_mode=True)

    def load_model(self) -> Any:
        """The selected model that takes raw rows: a :class:`whynet.models.Predictor`."""
        if self.model_path is None:
            if self.best_model_path is not None:
                raise ValueError(
                    "the search's data carried no fitted preprocessing (a Dataset built by "
                    "hand), so only the bare network was saved: use result.best_model on "
                    "preprocessed features"
                )
            raise ValueError("the search has no completed trial, so there is no best model")
        from whynet.models import load_model

        return load_model(self.model_path)

    def predict(self, data: Any) -> pd.DataFrame:
        """Predict raw data with the selected model.

        Args:
            data: A DataFrame with the original feature columns, a NumPy array
                of raw samples, or a path to such data (see
                :meth:`whynet.models.Predictor.predict`).

        Returns:
            A ``prediction`` column with the original labels (or values) and,
            for classification, one ``proba_<label>`` column per class.
        """
        return self.load_model().predict(data)
