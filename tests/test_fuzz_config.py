"""Fuzzed configs: either a valid config or one ConfigError line, and nothing written.

Property-based tests (hypothesis) on every way a config comes in: YAML files
(arbitrary documents, text and bytes), plain Python data, dotted overrides and
search-space mappings. Valid inputs may succeed; everything else must raise a
:class:`~whynet.exceptions.ConfigError` whose message is one line. No other
exception type may escape, and loading must not create files.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whynet.config import (
    DataConfig,
    ExecutionConfig,
    RunConfig,
    SearchConfig,
    TrackingConfig,
    TrainingConfig,
    load_config,
    parse_config,
)
from whynet.exceptions import ConfigError, UserError
from whynet.spaces import PARAMETERS, SearchSpace

T = TypeVar("T")

# No example database: it would be written into the working directory, which
# these tests require to stay empty.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SECTIONS: dict[str, Any] = {
    "data": DataConfig,
    "training": TrainingConfig,
    "search": SearchConfig,
    "tracking": TrackingConfig,
    "execution": ExecutionConfig,
}
TOP_KEYS = sorted(RunConfig.model_fields)

# Values that are valid somewhere in the schema, so that examples reach the
# deeper checks (cross-field validators, the search space) and not only types.
PLAUSIBLE: list[Any] = [
    0, 1, 2, 3, 5, 10, 20, 64, 100, 2**31, 0.1, 0.2, 0.25, 0.5, 0.7, 0.9, 1.5, 1e-4, "1e-4",
    True, False, None, "auto", "cpu", "tpe", "random", "grid", "cmaes", "gp", "nsga2",
    "hyperband", "median", "successive_halving", "none", "classification", "regression",
    "digits", "iris", "data.csv", "sqlite:///x.db", "tensorflow", "jax", "torch",
    ["score"], ["score", "n_params"], ["n_params"], [0, 1], [0, 0], [64, 64], [], {},
    "relu", "gelu", "mlp", "cnn", "adam", "sgd", "l1_l2", "dropout", "max",
]  # fmt: skip

HUGE = [10**30, -(10**30), 2**63, 2**64 + 1, 1e308, -1e308, 5e-324, 1e-308]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.binary(max_size=8),
    st.dates(),
    st.sampled_from(PLAUSIBLE),
)
keys = st.one_of(st.text(max_size=10), st.integers(), st.booleans(), st.none(), st.floats())
garbage = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)


def _field_value() -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(PLAUSIBLE), garbage)


def _section(model: Any) -> st.SearchStrategy[Any]:
    names = sorted(model.model_fields)
    known = st.dictionaries(st.sampled_from(names), _field_value(), max_size=len(names))
    extra = st.dictionaries(st.text(max_size=10), _field_value(), max_size=2)
    mapping = st.builds(lambda a, b: {**b, **a}, known, extra | st.just({}))
    return st.one_of(mapping, mapping, mapping, garbage)


space_keys = st.one_of(st.sampled_from(sorted(PARAMETERS)), st.text(max_size=10), st.integers())
space_scalars = st.one_of(
    st.sampled_from(PLAUSIBLE),
    st.sampled_from(HUGE),
    st.integers(min_value=-10, max_value=10_000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1e-4", "1e3", "nan", "inf", "-inf", "0x10", "1_000", " 3 ", "", "3.0"]),
)
range_keys = st.one_of(st.sampled_from(["low", "high", "log", "step"]), keys)
space_values = st.one_of(
    space_scalars,
    st.lists(st.one_of(space_scalars, garbage), max_size=5),
    st.dictionaries(range_keys, st.one_of(space_scalars, garbage), max_size=5),
    st.fixed_dictionaries(
        {"low": space_scalars, "high": space_scalars},
        optional={"log": st.one_of(st.booleans(), space_scalars), "step": space_scalars},
    ),
    garbage,
)
spaces = st.one_of(
    st.dictionaries(space_keys, space_values, max_size=6),
    st.dictionaries(st.sampled_from(sorted(PARAMETERS)), space_values, max_size=6),
    garbage,
)


@st.composite
def config_docs(draw: st.DrawFn) -> Any:
    """Mostly config-shaped mappings with garbage in places; sometimes anything."""
    if draw(st.integers(0, 9)) == 0:
        return draw(garbage)
    doc: dict[Any, Any] = {}
    for key in draw(st.lists(st.sampled_from(TOP_KEYS), unique=True, max_size=len(TOP_KEYS))):
        if key in SECTIONS:
            doc[key] = draw(_section(SECTIONS[key]))
        elif key == "space":
            doc[key] = draw(spaces)
        else:
            doc[key] = draw(_field_value())
    doc.update(draw(st.dictionaries(keys, garbage, max_size=2)))
    return doc


def check_config_outcome(fn: Callable[[], T]) -> T | None:
    """Run ``fn``: a result, or a one-line ConfigError; any other exception fails."""
    try:
        return fn()
    except ConfigError as error:
        assert isinstance(error, UserError)
        message = str(error)
        assert message.strip(), "empty message"
        assert message.splitlines() == [message], f"multi-line message: {message!r}"
        # No chained library traceback behind the message.
        assert error.__cause__ is None
        assert error.__suppress_context__ or error.__context__ is None
        return None


@pytest.fixture
def empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory; the test checks it stays empty."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield cwd
    assert list(cwd.iterdir()) == []


def _assert_untouched(cwd: Path, inputs: Path, written: set[str]) -> None:
    assert list(cwd.iterdir()) == [], f"loading wrote {list(cwd.iterdir())}"
    assert {p.name for p in inputs.iterdir()} == written


def _inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    return folder


def _check_valid(config: RunConfig) -> None:
    """A loaded config validates again, and round-trips through YAML."""
    assert isinstance(config, RunConfig)
    again = parse_config(yaml.safe_load(config.to_yaml()))
    assert again == config
    SearchSpace.from_config(config.space, max_epochs=config.training.max_epochs)


@FUZZ
@given(doc=config_docs())
def test_load_config_yaml_documents(doc: Any, tmp_path: Path, empty_cwd: Path) -> None:
    inputs = _inputs(tmp_path)
    path = inputs / "config.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    config = check_config_outcome(lambda: load_config(path))
    if config is not None:
        _check_valid(config)
    _assert_untouched(empty_cwd, inputs, {"config.yaml"})


YAML_TOKENS = [
    "study: x\n", "seed: ", "data:\n", "  source: ", "  target: ", "search:\n", "  trials: ",
    "space:\n", "  activation: ", "  learning_rate: {low: 1e-4, high: ", "- ", ": ", "? ",
    "[", "]", "{", "}", ",", "\n", "  ", "\t", "'", '"', "&a ", "*a", "!!python/object:os.system",
    "!!binary ", "!!float ", "!!int ", "!!set ", "!!omap ", "%YAML 1.1\n", "---\n", "...\n",
    "#", "|", ">", "~", ".inf", ".nan", "-.inf", "0x1F", "0o17", "1_000", "1e400", "2001-12-14",
    "yes", "no", "null", "\\x00", "\\u2028", "\u2028", "\x85", "\r", "\ufeff", "é", "🙂",
]  # fmt: skip


@FUZZ
@given(
    text=st.one_of(
        st.lists(st.sampled_from(YAML_TOKENS) | st.text(max_size=4), max_size=30).map("".join),
        st.text(max_size=60),
    )
)
def test_load_config_yaml_text(text: str, tmp_path: Path, empty_cwd: Path) -> None:
    inputs = _inputs(tmp_path)
    path = inputs / "config.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    config = check_config_outcome(lambda: load_config(path))
    if config is not None:
        assert isinstance(config, RunConfig)
    _assert_untouched(empty_cwd, inputs, {"config.yaml"})


@FUZZ
@given(data=st.binary(max_size=200))
def test_load_config_binary_bytes(data: bytes, tmp_path: Path, empty_cwd: Path) -> None:
    inputs = _inputs(tmp_path)
    path = inputs / "config.yaml"
    path.write_bytes(data)
    config = check_config_outcome(lambda: load_config(path))
    if config is not None:
        assert isinstance(config, RunConfig)
    _assert_untouched(empty_cwd, inputs, {"config.yaml"})


@settings(FUZZ, max_examples=30)
@given(name=st.text(max_size=20))
def test_load_config_odd_paths(name: str, tmp_path: Path, empty_cwd: Path) -> None:
    inputs = _inputs(tmp_path)
    check_config_outcome(lambda: load_config(name))
    check_config_outcome(lambda: load_config(inputs / name) if name else None)
    _assert_untouched(empty_cwd, inputs, set())


@pytest.mark.parametrize("depth", [50, 300, 700])
def test_load_config_deeply_nested_yaml(depth: int, tmp_path: Path, empty_cwd: Path) -> None:
    lists, maps = "[" * depth + "]" * depth, "{a: " * depth + "1" + "}" * depth
    inputs = _inputs(tmp_path)
    path = inputs / "deep.yaml"
    for text in (
        f"space:\n  activation: {lists}",
        f"space: {{activation: {maps}}}",
        f"space: {maps}",
        f"seed: {lists}",
        f"data: {maps}",
        "[" * depth,
    ):
        path.write_text(text)
        assert check_config_outcome(lambda: load_config(path)) is None
    _assert_untouched(empty_cwd, inputs, {"deep.yaml"})


python_values = st.recursive(
    st.one_of(
        scalars,
        st.complex_numbers(),
        # Values from Python whose repr spans lines or is long.
        st.sampled_from([np.zeros((2, 2)), np.arange(3), np.arange(5000), object()]),
        st.sampled_from([math.nan, math.inf, -math.inf]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.frozensets(st.integers() | st.text(max_size=4), max_size=3),
        st.dictionaries(keys, inner, max_size=4),
    ),
    max_leaves=10,
)


@FUZZ
@given(
    data=st.one_of(
        config_docs(),
        python_values,
        st.dictionaries(st.sampled_from(TOP_KEYS), python_values, max_size=4),
        st.fixed_dictionaries({"space": st.dictionaries(space_keys, python_values, max_size=4)}),
    )
)
def test_parse_config_python_values(data: Any, empty_cwd: Path) -> None:
    config = check_config_outcome(lambda: parse_config(data))
    if config is not None:
        assert isinstance(config, RunConfig)
        SearchSpace.from_config(config.space, max_epochs=config.training.max_epochs)


def _dotted_keys() -> st.SearchStrategy[str]:
    valid = [f"{s}.{f}" for s, m in SECTIONS.items() for f in sorted(m.model_fields)]
    odd = [
        "seed", "study", "space", "output_dir", "seed.x", "data.source.x", "space.activation",
        "space.learning_rate.low", "nope", "nope.deeper", "", ".", "..", "data.", ".data",
        "data..source", "search.trials.0", "execution.devices.0",
    ]  # fmt: skip
    return st.one_of(st.sampled_from(valid + odd), st.text(max_size=12))


@FUZZ
@given(
    overrides=st.dictionaries(
        _dotted_keys(), st.one_of(st.sampled_from(PLAUSIBLE), python_values), max_size=4
    )
)
def test_with_overrides(overrides: dict[str, Any], empty_cwd: Path) -> None:
    base = RunConfig()
    config = check_config_outcome(lambda: base.with_overrides(**overrides))
    if config is not None:
        assert isinstance(config, RunConfig)
    assert base == RunConfig(), "with_overrides changed the original config"


@FUZZ
@given(
    space=st.one_of(spaces, python_values, st.dictionaries(space_keys, python_values, max_size=3)),
    max_epochs=st.integers(1, 10_000),
)
def test_search_space_from_config(space: Any, max_epochs: int, empty_cwd: Path) -> None:
    result = check_config_outcome(lambda: SearchSpace.from_config(space, max_epochs=max_epochs))
    if result is not None:
        assert isinstance(result, SearchSpace)
        assert set(result.domains) == set(PARAMETERS)
        # A valid space reads back from its own config as the same space.
        assert SearchSpace.from_config(result.to_config()) == result
        written = yaml.safe_dump(result.to_config(), allow_unicode=True)
        assert SearchSpace.from_config(yaml.safe_load(written)) == result
