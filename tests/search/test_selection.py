"""Which complete trial a search selects, on a real Optuna study."""

from __future__ import annotations

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
