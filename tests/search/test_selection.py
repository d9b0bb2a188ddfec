"""Which complete trial a search selects, on a real Optuna study."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from whynet.search._loop import best_complete


def _study(rows: list[tuple[float, dict]], *, direction: str = "maximize") -> optuna.Study:
    study = optuna.create_study(direction=direction)
    for value, attrs in rows:
        study.add_trial(
            create_trial(
                params={"x": 0.5},
                distributions={"x": FloatDistribution(0, 1)},
                value=value,
                user_attrs=attrs,
            )
        )
    study.add_trial(create_trial(state=TrialState.PRUNED, intermediate_values={1: 0.99}))
    return study


def test_best_score_wins_over_everything_else() -> None:
    study = _study([(0.95, {"val_loss": 0.01, "n_params": 1}), (0.97, {"val_loss": 0.5})])
    assert best_complete(study, maximize=True).number == 1


def test_equal_scores_go_to_the_lower_validation_loss_then_fewer_parameters() -> None:
    study = _study(
        [
            (0.97, {"val_loss": 0.20, "n_params": 10}),
            (0.97, {"val_loss": 0.08, "n_params": 9000}),
            (0.97, {"val_loss": 0.08, "n_params": 500}),
            (0.96, {"val_loss": 0.01, "n_params": 1}),
        ]
    )
    assert best_complete(study, maximize=True).number == 2


@pytest.mark.parametrize("missing", [{}, {"val_loss": None}, {"val_loss": float("nan")}])
def test_a_trial_without_a_validation_loss_loses_ties(missing: dict) -> None:
    study = _study([(0.97, {**missing, "n_params": 1}), (0.97, {"val_loss": 3.0})])
    assert best_complete(study, maximize=True).number == 1


def test_minimized_scores_and_no_complete_trial() -> None:
    study = _study([(2.0, {"val_loss": 4.0}), (1.5, {"val_loss": 2.25})], direction="minimize")
    assert best_complete(study, maximize=False).number == 1
    assert best_complete(optuna.create_study(), maximize=True) is None


def tied_trainer(config, slot):
    """A Keras trainer that trains for real but reports one score for every trial,
    so that only the validation loss tells the trials apart."""
    import dataclasses

    from whynet.trainers import KerasTrainer, TrainedModel

    class Trainer(KerasTrainer):
        def fit(self, params, data, *, report, seed):
            trained = super().fit(params, data, report=lambda epoch, metrics: None, seed=seed)
            return TrainedModel(dataclasses.replace(trained.result, score=0.5), trained.model)

    return Trainer(early_stopping_patience=0, device=slot.label)


def test_a_model_is_saved_only_when_its_trial_would_be_selected(workdir: Path) -> None:
    from whynet.config import parse_config
    from whynet.search import make_storage, run_search
    from whynet.testing import tiny_config

    result = run_search(
        parse_config(tiny_config(search__trials=5, execution__workers=1)),
        progress=False,
        trainer_factory=tied_trainer,
    )
    storage = make_storage(str(workdir / "whynet.journal"))
    study = optuna.load_study(study_name="tiny", storage=storage)
    trials = sorted(study.trials, key=lambda t: t.number)
    losses = [t.user_attrs["val_loss"] for t in trials]
    assert len(set(losses)) == 5  # real training: five different losses
    # In order, a trial beats the selected one exactly when its loss is the lowest so far.
    expected = [n for n, loss in enumerate(losses) if loss < min(losses[:n], default=math.inf)]
    saved = [t.number for t in trials if "model_path" in t.user_attrs]
    assert saved == expected
    assert result.best_trial == min(range(5), key=losses.__getitem__)
    assert result.best_model_path is not None and result.best_model_path.is_file()
    # The candidates that were once selected are removed at the end; the selected one is kept.
    kept = [p.name for p in (workdir / "whynet-runs" / "tiny" / "models").iterdir()]
    assert kept == [f"trial-{result.best_trial:05d}.keras"]
