"""The sampler and pruner whynet builds by default, on real Optuna studies."""

from __future__ import annotations

import importlib.abc
import statistics
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest

import whynet
from whynet.exceptions import ConfigError
from whynet.search import make_pruner, make_sampler, make_storage
from whynet.spaces import SearchSpace
from whynet.testing import tiny_config, written_files


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


@pytest.mark.parametrize("name", ["tpe", "random", "cmaes"])
def test_samplers_are_seeded(name: str) -> None:
    space = SearchSpace.from_config({})
    first = make_sampler(name, seed=7, space=space)
    second = make_sampler(name, seed=7, space=space)
    a = _run(optuna.pruners.NopPruner(), first, trials=12, epochs=1)
    b = _run(optuna.pruners.NopPruner(), second, trials=12, epochs=1)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def _study(workdir: Path, name: str = "tiny") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=make_storage(str(workdir / "whynet.journal")))


# A space with one learning rate that cannot learn in a few epochs (1e-6) and
# one that learns at once; seed 1 was checked to give pruned trials with both
# pruners, by a wide margin (their score at the pruning epoch is 0.15-0.3 below
# the trials they were compared with).
_BAD_OR_GOOD_LR = [1e-6, 0.02]


@pytest.mark.parametrize(
    ("pruner", "trials", "epochs"), [("median", 7, 3), ("successive_halving", 5, 2)]
)
def test_median_and_successive_halving_really_prune_a_tiny_search(
    workdir: Path, pruner: str, trials: int, epochs: int
) -> None:
    cfg = tiny_config(
        seed=1,
        search__sampler="random",
        search__pruner=pruner,
        search__trials=trials,
        training__max_epochs=epochs,
        space__learning_rate=_BAD_OR_GOOD_LR,
        tracking__enabled=False,
        execution__workers=1,
    )
    result = whynet.search(cfg, progress=False)
    study = _study(workdir)
    assert len(study.trials) == trials
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, [t.intermediate_values for t in study.trials]
    assert result.counts["pruned"] == len(pruned)
    assert result.counts["complete"] == trials - len(pruned)
    for trial in pruned:
        step = trial.last_step
        assert step is not None and step < epochs
        assert trial.user_attrs["whynet_state"] == "pruned"
        assert trial.user_attrs["epochs_run"] == step
        earlier = [
            t.intermediate_values[step]
            for t in study.trials[: trial.number]
            if step in t.intermediate_values
        ]
        if pruner == "median":
            # whynet's median pruner: 5 start-up trials, then prune from epoch 2
            # a trial below the median of the earlier trials at that epoch.
            assert trial.number >= 5 and step == 2
            assert trial.intermediate_values[step] < statistics.median(earlier)
        else:
            # Successive halving (reduction factor 3) stops a trial after its
            # first epoch unless it is in the top third of the trials so far.
            assert step == 1
            assert trial.intermediate_values[step] < max(earlier)


def test_nsga2_searches_score_and_size_as_two_objectives(workdir: Path) -> None:
    cfg = tiny_config(
        search__sampler="nsga2",
        search__objectives=["score", "n_params"],
        search__trials=4,
        training__max_epochs=1,
        space__mlp_units=[8, 64],
        tracking__enabled=False,
        execution__workers=1,
    )
    result = whynet.search(cfg, progress=False)
    study = _study(workdir)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert result.counts == {"complete": 4, "pruned": 0, "failed": 0}
    for trial in study.trials:
        score, size = trial.values
        assert 0.0 <= score <= 1.0
        assert size == trial.user_attrs["n_params"] and size > 0
        # The sampler that drew the trial was Optuna's NSGA-II: it tags every
        # trial with its generation (all four are in the first population).
        assert trial.system_attrs["NSGAIISampler:generation"] == 0
    # Two widths, two sizes: both objectives were really measured per trial.
    widths = {t.params["mlp_units_0"] for t in study.trials}
    assert len({t.values[1] for t in study.trials}) == len(widths)


class _NoTorch(importlib.abc.MetaPathFinder):
    """An import finder for which torch is not installed."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def test_gp_sampler_without_torch_is_one_error_naming_the_extra(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # torch is not installed in the default test environment; where it is,
    # it is hidden, so that this test runs (and can fail) everywhere.
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoTorch(), *sys.meta_path])
    with pytest.raises(ConfigError) as info:
        whynet.search(tiny_config(search__sampler="gp"), progress=False)
    message = str(info.value)
    assert "'gp' sampler" in message and "'torch'" in message and "not installed" in message
    assert "pip install 'whynet[gp]'" in message
    assert written_files(workdir) == []


@pytest.mark.gp
def test_gp_sampler_fits_a_gaussian_process_after_its_start_up_trials(workdir: Path) -> None:
    # Run by `.ci/run` after installing torch and the `gp` extra (`pytest -m gp`);
    # without torch this fails, it does not skip.
    import torch  # noqa: F401

    assert isinstance(
        make_sampler("gp", seed=0, space=SearchSpace.from_config({})), optuna.samplers.GPSampler
    )
    # Optuna's GPSampler samples its first 10 trials at random; the 11th and
    # 12th are chosen by the Gaussian process (its optuna._gp modules load then).
    cfg = tiny_config(
        search__sampler="gp",
        search__trials=12,
        training__max_epochs=1,
        tracking__enabled=False,
        execution__workers=1,
    )
    result = whynet.search(cfg, progress=False)
    assert result.counts == {"complete": 12, "pruned": 0, "failed": 0}
    assert "optuna._gp.gp" in sys.modules and "optuna._gp.acqf" in sys.modules
    study = _study(workdir)
    assert all(0.003 <= t.params["learning_rate"] <= 0.03 for t in study.trials)
