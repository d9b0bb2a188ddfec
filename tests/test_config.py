from __future__ import annotations

from pathlib import Path

import pytest

from whynet.config import RunConfig, load_config, parse_config
from whynet.exceptions import ConfigError

REPO = Path(__file__).resolve().parent.parent


def test_defaults_are_valid_and_round_trip_through_yaml(tmp_path: Path) -> None:
    cfg = parse_config({"data": {"source": "iris"}, "space": {"activation": ["relu", "tanh"]}})
    path = tmp_path / "c.yaml"
    path.write_text(cfg.to_yaml())
    assert load_config(path) == cfg
    assert cfg.study_name == "whynet-iris"
    assert cfg.search.storage == "whynet.journal"
    assert cfg.tracking.uri == "sqlite:///mlflow.db"


def test_quickstart_example_loads() -> None:
    cfg = load_config(REPO / "examples" / "quickstart.yaml")
    assert cfg.data.source == "digits"
    assert cfg.search.sampler == "tpe" and cfg.search.pruner == "hyperband"


def test_unknown_key_names_the_key_and_the_nearest_valid_one() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"search": {"trails": 3}})
    msg = str(info.value)
    assert "'search.trails'" in msg and "Did you mean 'trials'?" in msg


def test_wrong_type_names_key_and_value() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"search": {"trials": "many"}})
    msg = str(info.value)
    assert "'search.trials'" in msg and "'many'" in msg


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_config({"seed": -1})


@pytest.mark.parametrize(
    ("search", "needle"),
    [
        ({"sampler": "nsga2"}, "two objectives"),
        ({"objectives": ["score", "n_params"]}, "cannot prune"),
        ({"objectives": ["n_params"]}, "must start with 'score'"),
        ({"objectives": ["score", "n_params"], "pruner": "none", "sampler": "gp"}, "one objective"),
    ],
)
def test_sampler_and_objectives_must_fit(search: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        parse_config({"search": search})


def test_bad_space_fails_when_loaded(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("space:\n  learning_rate: {low: 0.1, high: 0.001}\n")
    with pytest.raises(ConfigError, match=r"space.learning_rate.*low <= high"):
        load_config(path)


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("search: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(listy)


def test_overrides_are_validated() -> None:
    cfg = RunConfig().with_overrides(**{"search.trials": 7, "study": "abc"})
    assert cfg.search.trials == 7 and cfg.study_name == "abc"
    with pytest.raises(ConfigError, match=r"'search\.trials'"):
        RunConfig().with_overrides(**{"search.trials": 0})
    with pytest.raises(ConfigError, match="'study'"):
        RunConfig().with_overrides(study="has space")


def test_fractions_must_leave_training_rows() -> None:
    with pytest.raises(ConfigError, match="val_fraction \\+ test_fraction"):
        parse_config({"data": {"val_fraction": 0.5, "test_fraction": 0.45}})


@pytest.mark.parametrize("size", [[-5, 0], [64, 2], [64, 100_000], "big", [16, 16, 3]])
def test_image_size_must_be_a_real_picture(size: list[int]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"data": {"image_size": size}})
    message = str(info.value)
    assert "'data.image_size" in message and "'auto' (the images' own size) or [height" in message


def test_data_defaults_images_at_their_own_size_and_missing_values_imputed() -> None:
    data = parse_config({}).data
    assert (data.image_size, data.color_mode, data.missing) == ("auto", "auto", "impute")
    config = parse_config({"data": {"image_size": [16, 20], "color_mode": "grayscale"}})
    assert config.data.image_size == (16, 20)
    assert parse_config(config.to_dict()) == config
    for key, bad in (("color_mode", "gray"), ("missing", "fill")):
        with pytest.raises(ConfigError, match=f"'data.{key}'"):
            parse_config({"data": {key: bad}})
