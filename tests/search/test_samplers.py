"""The sampler and pruner whynet builds by default, on real Optuna studies."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from whynet.search import make_pruner, make_sampler
from whynet.spaces import SearchSpace


class _Watching(optuna.samplers.RandomSampler):
    """Random sampling that records how many trials the sampler is shown."""

    def __init__(self) -> None:
        super().__init__(seed=0)
        self.shown: list[tuple[int, int]] = []

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        self.shown.append((trial.number, len(study.get_trials(deepcopy=False))))
        return super().infer_relative_search_space(study, trial)


def _run(pruner: Any, sampler: Any, trials: int = 40, epochs: int = 20) -> optuna.Study:
    study = optuna.create_study(
        study_name="whynet-test", direction="maximize", sampler=sampler, pruner=pruner
    )
    for _ in range(trials):
        trial = study.ask()
        quality = trial.suggest_float("x", 0.0, 1.0)
        for epoch in range(1, epochs + 1):
            trial.report(quality * epoch / epochs, epoch)
            if trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, quality)
    return study


def test_hyperband_prunes_by_bracket_but_the_sampler_sees_every_trial() -> None:
    sampler = _Watching()
    study = _run(make_pruner("hyperband", max_epochs=20), sampler)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.PRUNED) >= 10
    # Optuna's own HyperbandPruner shows each bracket's sampler only that
    # bracket's trials; whynet's shows all of them (the running one included).
    assert sampler.shown and all(seen == number + 1 for number, seen in sampler.shown)


def test_plain_optuna_hyperband_hides_other_brackets_from_the_sampler() -> None:
    # The behaviour whynet's wrapper exists to avoid; if Optuna changes it,
    # the wrapper can go.
    sampler = _Watching()
    pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=20, reduction_factor=3)
    _run(pruner, sampler)
    assert any(seen < number + 1 for number, seen in sampler.shown)


def test_hyperband_stops_the_same_trials_as_optunas() -> None:
    ours = _run(make_pruner("hyperband", max_epochs=20), optuna.samplers.RandomSampler(seed=3))
    theirs = _run(
        optuna.pruners.HyperbandPruner(min_resource=1, max_resource=20, reduction_factor=3),
        optuna.samplers.RandomSampler(seed=3),
    )
    assert [t.state for t in ours.trials] == [t.state for t in theirs.trials]
    assert [t.last_step for t in ours.trials] == [t.last_step for t in theirs.trials]


@pytest.mark.parametrize("name", ["tpe", "random", "cmaes", "nsga2"])
def test_samplers_are_seeded(name: str) -> None:
    space = SearchSpace.from_config({})
    first = make_sampler(name, seed=7, space=space)
    second = make_sampler(name, seed=7, space=space)
    a = _run(optuna.pruners.NopPruner(), first, trials=12, epochs=1)
    b = _run(optuna.pruners.NopPruner(), second, trials=12, epochs=1)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
