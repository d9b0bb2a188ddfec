"""The result of a search, and the table of its trials."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from whynet.search._selection import pareto_numbers, trial_ranker
from whynet.spaces import TrialParams

__all__ = ["SearchResult", "trials_frame"]

_COLUMNS = [
    "number",
    "state",
    "rank",
    "score",
    "val_loss",
    "n_params",
    "pareto",
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
# Whole numbers stay whole in the table and in trials.csv (no "64.0"),
# also in columns where pruned or failed trials have no value.
_INT_COLUMNS = ["number", "rank", "n_params", "batch_size", "best_epoch", "epochs_run"]


def trials_frame(study: Any, *, n_val: int | None = None) -> pd.DataFrame:
    """One row per trial of the study, with the columns people compare.

    Args:
        study: The Optuna study of a search.
        n_val: Validation rows, for the noise of a score with two objectives;
            defaults to the study's ``n_val`` attribute.

    Returns:
        One row per trial, in trial order. ``rank`` is the order of selection
        (1 is the selected trial; empty unless complete), from the same key
        the search selects with; ``pareto`` marks the non-dominated trials of
        a two-objective study (score against ``n_params``).
    """
    from optuna.trial import TrialState

    direction = study.directions[0].name.lower()
    maximize = direction == "maximize"
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    key = trial_ranker(study, complete, maximize, n_val=n_val)
    ranks = {t.number: i for i, t in enumerate(sorted(complete, key=key), start=1)}
    front = pareto_numbers(study, maximize)
    rows = []
    for t in trials:
        attrs = t.user_attrs
        p = attrs.get("whynet_params")
        params = TrialParams(**_params_from_attr(p)) if p else None
        rows.append(
            {
                "number": t.number,
                "state": attrs.get("whynet_state", t.state.name.lower()),
                "rank": ranks.get(t.number),
                "score": t.values[0] if t.values else None,
                "val_loss": attrs.get("val_loss"),
                "n_params": attrs.get("n_params"),
                "pareto": t.number in front,
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
    frame = pd.DataFrame(rows, columns=_COLUMNS)
    for column in _INT_COLUMNS:
        frame[column] = pd.array(
            [None if pd.isna(v) else int(v) for v in frame[column]], dtype="Int64"
        )
    frame["pareto"] = frame["pareto"].astype(bool)
    return frame


def _params_from_attr(p: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(p)
    out["units"] = tuple(int(u) for u in out.get("units", ()))
    out["filters"] = tuple(int(f) for f in out.get("filters", ()))
    return out


@dataclass(frozen=True)
class SearchResult:
    """What a search found.

    Attributes:
        study_name: The Optuna study (and MLflow experiment) name.
        resumed: Whether this invocation continued an existing study.
        best_trial: Number of the selected trial (chosen on validation only;
            with two objectives, the smallest network within one standard
            error of the best score, see :mod:`whynet.search._selection`).
        best_params: Its parameters.
        best_score: Its validation score.
        score_name: The metric of the score, e.g. ``val_accuracy``.
        test_metrics: The selected model evaluated once on the test split.
        best_model_path: The selected model in the ``.keras`` format.
        trials: One row per trial of the study, in trial order (its
            ``rank`` column is the order of selection).
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
    def ranking(self) -> pd.DataFrame:
        """The complete trials in the order of selection: the first is the selected one."""
        ranked = self.trials[self.trials["rank"].notna()]
        return ranked.sort_values("rank", kind="stable").reset_index(drop=True)

    @property
    def pareto_front(self) -> pd.DataFrame:
        """The non-dominated trials (score against ``n_params``), in the order of selection.

        Only a search with ``objectives: [score, n_params]`` has one; with one
        objective the frame is empty. Its first row is the selected trial.
        """
        ranking = self.ranking
        return ranking[ranking["pareto"]].reset_index(drop=True)

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
