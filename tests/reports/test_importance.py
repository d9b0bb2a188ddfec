"""Hyperparameter importance on real Optuna studies with a known objective."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial
from PIL import Image

from whynet.reports._importance import importance, plot_importance

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _x_matters(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -1.0, 1.0)
    trial.suggest_float("y", -1.0, 1.0)  # suggested, never used: noise
    kind = trial.suggest_categorical("kind", ["a", "b"])
    return 1.0 - x**2 + (0.001 if kind == "a" else 0.0)


def _study(n_trials: int = 40, **kwargs: object) -> optuna.Study:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1), **kwargs)  # type: ignore[arg-type]
    study.optimize(_x_matters, n_trials=n_trials)
    return study


def test_the_parameter_that_matters_comes_first_for_both_evaluators() -> None:
    table = importance(_study(direction="maximize"))
    assert list(table.columns) == ["parameter", "ped_anova", "fanova"]
    assert table["parameter"].iloc[0] == "x"
    row = table.set_index("parameter")
    for col in ("ped_anova", "fanova"):
        assert row.loc["x", col] > row.loc["y", col]
        assert row.loc["x", col] > row.loc["kind", col]
        assert table[col].sum() == pytest.approx(1.0)
    assert row.loc["x", "fanova"] > 0.8  # x explains nearly all of the variance
    assert table.attrs["n_trials"] == 40 and table.attrs["reason"] is None


def test_ped_anova_looks_at_the_best_trials_in_the_study_direction() -> None:
    # The best trials all have small x (y anywhere); the worst all have large y.
    # Importance "to reach the best" is x's, whichever way the study points;
    # read the wrong way round it would be y's.
    def objective(trial: optuna.Trial, sign: float) -> float:
        x, y = trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1)
        good = float(x < 0.15) - float(y > 0.85) + 0.001 * (trial.number % 7)
        return sign * good

    for direction, sign in (("maximize", 1.0), ("minimize", -1.0)):
        study = optuna.create_study(
            direction=direction, sampler=optuna.samplers.RandomSampler(seed=2)
        )
        study.optimize(lambda t, s=sign: objective(t, s), n_trials=150)  # type: ignore[misc]
        row = importance(study, evaluators=("ped_anova",)).set_index("parameter")
        assert row.loc["x", "ped_anova"] > row.loc["y", "ped_anova"], direction


def test_two_objective_studies_explain_the_score() -> None:
    # whynet's [score, n_params] search: maximize the score, minimize the size.
    study = optuna.create_study(
        directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=3)
    )

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        x, y = trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1)
        return (float(x < 0.15) - float(y > 0.85), 1000 * y)

    study.optimize(objective, n_trials=150)
    table = importance(study)
    row = table.set_index("parameter")
    assert row.loc["x", "ped_anova"] > row.loc["y", "ped_anova"]
    assert row.loc["x", "fanova"] > 0.0 and row.loc["y", "fanova"] > 0.0  # both move the score
    assert any("first objective" in note for note in table.attrs["notes"])


def test_pruned_and_failed_trials_are_excluded_and_counted() -> None:
    study = _study(n_trials=30, direction="maximize")
    only_complete = optuna.create_study(direction="maximize")
    only_complete.add_trials(study.get_trials())
    rng = np.random.default_rng(0)
    for _ in range(5):  # pruned trials with params, as a search leaves them
        trial = study.ask()
        trial.suggest_float("x", -1, 1)
        trial.suggest_float("y", -1, 1)
        trial.suggest_categorical("kind", ["a", "b"])
        trial.report(float(rng.uniform()), step=1)
        study.tell(trial, state=TrialState.PRUNED)
    failed = study.ask()
    failed.suggest_float("x", -1, 1)
    study.tell(failed, state=TrialState.FAIL)

    table = importance(study)
    assert table.attrs["n_trials"] == 30
    assert table.attrs["n_pruned_excluded"] == 5
    assert table.attrs["n_failed_excluded"] == 1
    assert any(
        "Pruned trials (5)" in note and "not counted" in note for note in table.attrs["notes"]
    )
    # The same numbers as on the complete trials alone: the pruned ones did not count.
    alone = importance(only_complete)
    for col in ("ped_anova", "fanova"):
        assert table.set_index("parameter")[col].to_dict() == pytest.approx(
            alone.set_index("parameter")[col].to_dict()
        )


def test_too_few_trials_give_an_empty_table_with_the_reason() -> None:
    one = _study(n_trials=1)
    table = importance(one)
    assert table.empty and list(table.columns) == ["parameter", "ped_anova", "fanova"]
    assert "at least 2 complete trials and the study has 1" in table.attrs["reason"]
    empty = importance(optuna.create_study())
    assert empty.empty and "has 0" in empty.attrs["reason"]
    assert empty.attrs["n_pruned_excluded"] == 0


def test_a_study_whose_parameters_never_vary_gives_the_reason() -> None:
    study = optuna.create_study()
    for value in (0.1, 0.2, 0.3):
        study.add_trial(
            create_trial(
                params={"x": 1.0}, distributions={"x": FloatDistribution(1.0, 1.0)}, value=value
            )
        )
    table = importance(study)
    assert table.empty and "no parameter varies" in table.attrs["reason"]


def test_conditional_parameters_have_ped_anova_but_no_fanova_value() -> None:
    def objective(trial: optuna.Trial) -> float:
        layers = trial.suggest_int("mlp_layers", 1, 2)
        width = trial.suggest_int("mlp_units_0", 8, 64)
        if layers == 2:
            trial.suggest_int("mlp_units_1", 8, 64)  # only for two layers
        return width / 64

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=4))
    study.optimize(objective, n_trials=40)
    table = importance(study).set_index("parameter")
    assert not math.isnan(table.loc["mlp_units_1", "ped_anova"])
    assert math.isnan(table.loc["mlp_units_1", "fanova"])
    assert table.index[0] == "mlp_units_0"
    assert any("mlp_units_1" in note for note in table.attrs["notes"])


def test_unknown_evaluators_are_refused() -> None:
    with pytest.raises(ValueError, match="among ped_anova, fanova; got \\('shap',\\)"):
        importance(_study(n_trials=3), evaluators=("shap",))


def test_the_plot_is_a_png_with_a_bar_per_parameter_and_evaluator(tmp_path: Path) -> None:
    study = _study(n_trials=20, direction="maximize")
    out = plot_importance(importance(study), tmp_path / "plots" / "importance.png")
    assert out == tmp_path / "plots" / "importance.png"
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size[0] >= 600
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 10  # there is something drawn on it
    empty = plot_importance(importance(_study(n_trials=1)), tmp_path / "empty.png")
    with Image.open(empty) as image:
        assert image.format == "PNG"
