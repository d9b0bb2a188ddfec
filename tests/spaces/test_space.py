from __future__ import annotations

import optuna
import pytest

from whynet.exceptions import ConfigError
from whynet.spaces import Choice, Fixed, FloatRange, IntRange, SearchSpace, TrialParams

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _sample_many(space: SearchSpace, n: int = 60, seed: int = 0) -> list[tuple[TrialParams, dict]]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        params = space.sample(trial)
        out.append((params, dict(trial.params)))
        study.tell(trial, 0.0)
    return out


def test_default_space_covers_every_family() -> None:
    samples = _sample_many(SearchSpace.default(), n=200)
    seen = {
        key: {getattr(p, key) for p, _ in samples}
        for key in ("architecture", "activation", "regularization", "optimizer", "batch_size")
    }
    assert seen["architecture"] == {"mlp", "cnn"}
    assert {"relu", "sigmoid", "tanh", "gelu", "elu", "selu"} <= seen["activation"]
    assert seen["regularization"] == {"none", "l1", "l2", "l1_l2", "dropout"}
    assert seen["optimizer"] == {"adam", "adamw", "sgd", "rmsprop"}
    assert seen["batch_size"] == {32, 128, 512}
    rates = [p.learning_rate for p, _ in samples]
    assert min(rates) >= 1e-4 and max(rates) <= 1e-1
    assert all(1 <= len(p.units) <= 4 for p, _ in samples if p.architecture == "mlp")
    assert all(1 <= len(p.filters) <= 3 for p, _ in samples if p.architecture == "cnn")


def test_conditional_parameters_are_sampled_only_when_they_apply() -> None:
    for params, raw in _sample_many(SearchSpace.default(), n=150):
        assert ("momentum" in raw) == (params.optimizer == "sgd")
        assert ("dropout" in raw) == (params.regularization == "dropout")
        assert ("l1" in raw) == (params.regularization in ("l1", "l1_l2"))
        assert ("l2" in raw) == (params.regularization in ("l2", "l1_l2"))
        if params.architecture == "mlp":
            assert not any(k.startswith("cnn_") for k in raw)
            assert sum(k.startswith("mlp_units_") for k in raw) == raw["mlp_layers"]
        else:
            assert not any(k.startswith("mlp_") for k in raw)
            assert sum(k.startswith("cnn_filters_") for k in raw) == raw["cnn_blocks"]


def test_fix_and_narrow() -> None:
    space = (
        SearchSpace.default()
        .fix(activation="gelu", batch_size=128)
        .narrow(learning_rate=(1e-3, 1e-2), mlp_layers=[2, 3])
    )
    assert space.domains["activation"] == Fixed("gelu")
    assert space.domains["learning_rate"] == FloatRange(1e-3, 1e-2, log=True)
    assert space.domains["mlp_layers"] == Choice((2, 3))
    for params, _ in _sample_many(space, n=40):
        assert params.activation == "gelu" and params.batch_size == 128
        assert 1e-3 <= params.learning_rate <= 1e-2
        if params.architecture == "mlp":
            assert len(params.units) in (2, 3)


def test_yaml_style_config_round_trips_and_reads_numbers_written_as_strings() -> None:
    # PyYAML reads 1e-4 (no dot) as a string; the space reads it as a number.
    space = SearchSpace.from_config(
        {
            "learning_rate": {"low": "1e-4", "high": "1e-2", "log": True},
            "mlp_units": {"low": 16, "high": 64, "step": 16},
            "optimizer": ["adam", "sgd"],
        }
    )
    assert space.domains["learning_rate"] == FloatRange(1e-4, 1e-2, log=True)
    assert space.domains["mlp_units"] == IntRange(16, 64, step=16)
    assert SearchSpace.from_config(space.to_config()) == space


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"activaton": "relu"}, "unknown key 'space.activaton'. Did you mean 'activation'?"),
        ({"activation": "softmaxx"}, "expected one of ['relu'"),
        ({"learning_rate": {"low": 0.1, "high": 0.01}}, "`low <= high` must hold"),
        ({"l2": {"low": 0.0, "high": 0.01, "log": True}}, "needs low > 0"),
        ({"dropout": 1.0}, "0 <= value < 1"),
        ({"batch_size": 0}, "an integer with 1 <= value"),
        ({"mlp_layers": 2.5}, "expected an integer"),
        ({"optimizer": []}, "the list of choices is empty"),
        ({"optimizer": {"low": 1, "high": 2}}, "a range applies to numbers only"),
        ({"batch_size": {"low": 1}}, "a range needs 'low' and 'high'"),
        ({"mlp_units": {"low": 8, "high": 64, "stp": 8}}, "a range needs 'low' and 'high'"),
        ({"activation": ["relu", "relu"]}, "repeat a value"),
    ],
)
def test_bad_spaces_fail_naming_key_and_rule(config: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        SearchSpace.from_config(config)
    assert needle in str(info.value)


def test_cnn_is_offered_only_for_images() -> None:
    space = SearchSpace.default()
    tabular = space.for_input(is_image=False, input_shape=(13,))
    assert tabular.domains["architecture"] == Fixed("mlp")
    assert space.for_input(is_image=True, input_shape=(8, 8, 1)) == space
    with pytest.raises(ConfigError, match="'cnn' needs image-shaped input"):
        space.fix(architecture="cnn").for_input(is_image=False, input_shape=(13,))


def test_grid_needs_choices() -> None:
    with pytest.raises(ConfigError, match="grid sampler needs a list of values"):
        SearchSpace.default().grid_points()
    wide = SearchSpace.from_config({"architecture": "mlp", "mlp_units": {"low": 1, "high": 5000}})
    with pytest.raises(ConfigError, match=r"enumerate 5000 values of 'space\.mlp_units'"):
        wide.grid_points()


def test_grid_points_are_the_distinct_trials_of_a_conditional_space() -> None:
    space = SearchSpace.from_config(
        {
            "architecture": "mlp",
            "mlp_layers": [1, 2],
            "mlp_units": [8, 16],
            "activation": ["relu", "tanh"],
            "regularization": ["none", "l2"],
            "l2": [0.001],
            "optimizer": ["adam", "sgd"],
            "momentum": [0.9],
            "learning_rate": [0.01],
            "batch_size": 32,
        }
    )
    points = space.grid_points()
    # (2 + 4 networks) x 2 activations x 2 regularizations x 2 optimizers; a
    # product over both widths (mlp_units_1 also for one-layer networks) had 64.
    assert len(points) == 6 * 2 * 2 * 2 == 48
    assert {"mlp_units_1"} & set(points[0]) == set()  # a one-layer network has one width
    assert all(("mlp_units_1" in p) == (p["mlp_layers"] == 2) for p in points)
    # Parameters no combination uses stay out of the grid; conditional ones appear where used.
    assert not any(k.startswith("cnn_") for p in points for k in p)
    assert {k for p in points for k in p} >= {"regularization", "optimizer"}

    class Replay:
        def __init__(self, point: dict) -> None:
            self.point = point

        def suggest_categorical(self, name, choices):
            return self.point[name]

        def suggest_int(self, name, low, high, *, step=1, log=False):
            return self.point[name]

        def suggest_float(self, name, low, high, *, log=False):
            return self.point[name]

    trials = [space.sample(Replay(p)) for p in points]
    assert len(set(trials)) == len(trials)


def test_trial_params_logging_views() -> None:
    p = TrialParams(
        architecture="cnn",
        units=(),
        filters=(16, 32),
        kernel_size=3,
        pooling="max",
        dense_units=64,
        regularization="l2",
        l2=1e-4,
    )
    flat = p.to_flat_dict()
    assert flat["cnn_filters_1"] == 32 and flat["l2"] == 1e-4 and "l1" not in flat
    assert p.short_name() == "cnn 16-32 relu l2"
