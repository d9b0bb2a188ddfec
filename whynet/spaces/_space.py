"""The search space: which networks and training settings a search may try."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from whynet.exceptions import ConfigError
from whynet.spaces._domains import (
    Choice,
    Domain,
    Fixed,
    FloatRange,
    IntRange,
    Suggester,
    is_finite_number,
)

__all__ = ["PARAMETERS", "ParamDef", "SearchSpace", "TrialParams"]

ACTIVATIONS = ("relu", "sigmoid", "tanh", "gelu", "elu", "selu", "swish", "leaky_relu")
REGULARIZATIONS = ("none", "l1", "l2", "l1_l2", "dropout")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
ARCHITECTURES = ("mlp", "cnn")
POOLINGS = ("max", "avg", "none")


@dataclass(frozen=True)
class ParamDef:
    """One parameter of the vocabulary: its kind, its bounds and its default.

    Attributes:
        kind: ``"str"``, ``"int"`` or ``"float"``.
        default: The domain of the default space.
        allowed: For ``"str"`` parameters, every value the trainer understands.
        low: The smallest value allowed for numbers (inclusive).
        high: The largest value allowed for numbers (inclusive), or ``None``.
        high_exclusive: Whether ``high`` itself is excluded.
        help: What the parameter controls and when it applies.
    """

    kind: Literal["str", "int", "float"]
    default: Domain
    help: str
    allowed: tuple[str, ...] = ()
    low: float = 0
    high: float | None = None
    high_exclusive: bool = False

    def describe_rule(self) -> str:
        if self.kind == "str":
            return f"one of {list(self.allowed)}"
        noun = "an integer" if self.kind == "int" else "a number"
        if self.high is None:
            return f"{noun} >= {self.low:g}"
        upper = "<" if self.high_exclusive else "<="
        return f"{noun} with {self.low:g} <= value {upper} {self.high:g}"


MAX_MLP_LAYERS = 8
MAX_CNN_BLOCKS = 5

PARAMETERS: dict[str, ParamDef] = {
    "architecture": ParamDef(
        "str",
        Choice(("mlp", "cnn")),
        "Network family; cnn applies to image data only.",
        allowed=ARCHITECTURES,
    ),
    "mlp_layers": ParamDef(
        "int", IntRange(1, 4), "Dense hidden layers of an MLP.", low=1, high=MAX_MLP_LAYERS
    ),
    "mlp_units": ParamDef(
        "int",
        IntRange(16, 512, log=True),
        "Width of each MLP hidden layer (sampled per layer).",
        low=1,
        high=8192,
    ),
    "cnn_blocks": ParamDef(
        "int",
        IntRange(1, 3),
        "Conv blocks of a CNN (conv, activation, pooling).",
        low=1,
        high=MAX_CNN_BLOCKS,
    ),
    "cnn_filters": ParamDef(
        "int",
        Choice((16, 32, 64, 128)),
        "Filters of each conv block (sampled per block).",
        low=1,
        high=4096,
    ),
    "cnn_kernel_size": ParamDef("int", Choice((3, 5)), "Conv kernel size.", low=1, high=15),
    "cnn_pooling": ParamDef(
        "str", Choice(("max", "avg")), "Pooling after each conv block.", allowed=POOLINGS
    ),
    "cnn_dense_units": ParamDef(
        "int",
        IntRange(32, 256, log=True),
        "Width of the dense layer of a CNN's head.",
        low=1,
        high=8192,
    ),
    "activation": ParamDef(
        "str",
        Choice(("relu", "sigmoid", "tanh", "gelu", "elu", "selu")),
        "Activation of every hidden layer.",
        allowed=ACTIVATIONS,
    ),
    "regularization": ParamDef(
        "str", Choice(REGULARIZATIONS), "Weight penalty or dropout.", allowed=REGULARIZATIONS
    ),
    "l1": ParamDef(
        "float",
        FloatRange(1e-6, 1e-2, log=True),
        "L1 strength (regularization l1 or l1_l2).",
        low=0,
        high=1,
    ),
    "l2": ParamDef(
        "float",
        FloatRange(1e-6, 1e-2, log=True),
        "L2 strength (regularization l2 or l1_l2).",
        low=0,
        high=1,
    ),
    "dropout": ParamDef(
        "float",
        FloatRange(0.05, 0.5),
        "Dropout rate (regularization dropout).",
        low=0,
        high=1,
        high_exclusive=True,
    ),
    "optimizer": ParamDef("str", Choice(OPTIMIZERS), "Optimizer.", allowed=OPTIMIZERS),
    "learning_rate": ParamDef(
        "float",
        FloatRange(1e-4, 1e-1, log=True),
        "Learning rate of the optimizer.",
        low=1e-12,
        high=10,
    ),
    "momentum": ParamDef(
        "float",
        FloatRange(0.5, 0.99),
        "Momentum (optimizer sgd).",
        low=0,
        high=1,
        high_exclusive=True,
    ),
    "batch_size": ParamDef(
        "int", Choice((32, 128, 512)), "Training batch size.", low=1, high=1 << 20
    ),
    "epochs": ParamDef(
        "int",
        Fixed(20),
        "Epoch budget of a trial (defaults to training.max_epochs).",
        low=1,
        high=10_000,
    ),
}


@dataclass(frozen=True)
class TrialParams:
    """The settings of one trial: plain values, nothing live.

    Attributes:
        architecture: ``"mlp"`` or ``"cnn"``.
        activation: Activation of the hidden layers.
        units: MLP hidden widths, one per layer (empty for a CNN).
        filters: CNN filters, one per conv block (empty for an MLP).
        kernel_size: CNN kernel size, else ``None``.
        pooling: CNN pooling (``max``, ``avg``, ``none``), else ``None``.
        dense_units: CNN head width, else ``None``.
        regularization: ``none``, ``l1``, ``l2``, ``l1_l2`` or ``dropout``.
        l1: L1 strength (0 when unused).
        l2: L2 strength (0 when unused).
        dropout: Dropout rate (0 when unused).
        optimizer: ``adam``, ``adamw``, ``sgd`` or ``rmsprop``.
        learning_rate: The optimizer's learning rate.
        momentum: SGD momentum, else ``None``.
        batch_size: Training batch size.
        epochs: Epoch budget.
    """

    architecture: str = "mlp"
    activation: str = "relu"
    units: tuple[int, ...] = (64,)
    filters: tuple[int, ...] = ()
    kernel_size: int | None = None
    pooling: str | None = None
    dense_units: int | None = None
    regularization: str = "none"
    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float | None = None
    batch_size: int = 32
    epochs: int = 20

    def to_dict(self) -> dict[str, Any]:
        """Plain values, with layer tuples as lists."""
        out = asdict(self)
        out["units"] = list(self.units)
        out["filters"] = list(self.filters)
        return out

    def to_flat_dict(self) -> dict[str, Any]:
        """Values for logging: only what applies, one key per layer."""
        out: dict[str, Any] = {"architecture": self.architecture, "activation": self.activation}
        if self.architecture == "mlp":
            out["mlp_layers"] = len(self.units)
            out.update({f"mlp_units_{i}": u for i, u in enumerate(self.units)})
        else:
            out["cnn_blocks"] = len(self.filters)
            out.update({f"cnn_filters_{i}": f for i, f in enumerate(self.filters)})
            out.update(
                cnn_kernel_size=self.kernel_size,
                cnn_pooling=self.pooling,
                cnn_dense_units=self.dense_units,
            )
        out["regularization"] = self.regularization
        if self.regularization in ("l1", "l1_l2"):
            out["l1"] = self.l1
        if self.regularization in ("l2", "l1_l2"):
            out["l2"] = self.l2
        if self.regularization == "dropout":
            out["dropout"] = self.dropout
        out.update(optimizer=self.optimizer, learning_rate=self.learning_rate)
        if self.momentum is not None:
            out["momentum"] = self.momentum
        out.update(batch_size=self.batch_size, epochs=self.epochs)
        return out

    def short_name(self) -> str:
        """A few words a person can scan, e.g. ``cnn relu l2``."""
        shape = (
            "x".join(str(u) for u in self.units)
            if self.architecture == "mlp"
            else "-".join(str(f) for f in self.filters)
        )
        return f"{self.architecture} {shape} {self.activation} {self.regularization}"


@dataclass(frozen=True)
class SearchSpace:
    """A search space: one domain per parameter of :data:`PARAMETERS`.

    Parameters that are not given keep their default domain. The space is
    checked when it is built: every key must be known and every domain must be
    samplable within the parameter's bounds.

    Example:
        >>> space = SearchSpace.from_config({"activation": ["relu", "gelu"], "batch_size": 128})
        >>> space.domains["batch_size"]
        Fixed(value=128)
    """

    domains: Mapping[str, Domain] = field(default_factory=dict)

    def __post_init__(self) -> None:
        merged: dict[str, Domain] = {k: p.default for k, p in PARAMETERS.items()}
        for key, domain in self.domains.items():
            _check_key(key)
            _check_domain(key, domain)
            merged[key] = domain
        object.__setattr__(self, "domains", merged)

    # Construction -----------------------------------------------------------

    @classmethod
    def default(cls, *, max_epochs: int = 20) -> SearchSpace:
        """The default space: every parameter searched, epochs fixed."""
        return cls({"epochs": Fixed(max_epochs)})

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, max_epochs: int = 20) -> SearchSpace:
        """Build a space from plain data, as written in YAML.

        Each key maps to a fixed value (``batch_size: 128``), a list of
        choices (``activation: [relu, gelu]``) or a range
        (``learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}``).

        Raises:
            ConfigError: Naming the key, the bad value and what is allowed.
        """
        if not isinstance(config, Mapping):
            raise ConfigError(
                f"invalid value for 'space': expected a mapping of parameter names to values, "
                f"got {_shown(config)}. Known parameters: {', '.join(PARAMETERS)}."
            )
        domains: dict[str, Domain] = {"epochs": Fixed(max_epochs)}
        for key, raw in config.items():
            _check_key(key)
            domains[key] = _parse_domain(key, raw)
        return cls(domains)

    def to_config(self) -> dict[str, Any]:
        """Plain data that :meth:`from_config` reads back to an equal space."""
        return {k: d.to_config() for k, d in self.domains.items()}

    def fix(self, **values: Any) -> SearchSpace:
        """Return a copy with the given parameters held at one value each."""
        return self._replace({k: _parse_domain(k, v, fixed=True) for k, v in values.items()})

    def narrow(self, **ranges: Any) -> SearchSpace:
        """Return a copy with new choices or ranges for the given parameters.

        Example:
            >>> SearchSpace().narrow(learning_rate=(1e-3, 1e-2)).domains["learning_rate"]
            FloatRange(low=0.001, high=0.01, log=True)
        """
        parsed: dict[str, Domain] = {}
        for key, value in ranges.items():
            _check_key(key)
            if isinstance(value, tuple) and len(value) == 2:
                old = self.domains[key]
                log = bool(getattr(old, "log", False))
                value = {"low": value[0], "high": value[1], "log": log}
            parsed[key] = _parse_domain(key, value)
        return self._replace(parsed)

    def _replace(self, new: Mapping[str, Domain]) -> SearchSpace:
        for key in new:
            _check_key(key)
        return SearchSpace({**self.domains, **new})

    # Use --------------------------------------------------------------------

    def for_input(self, *, is_image: bool, input_shape: tuple[int, ...]) -> SearchSpace:
        """Restrict the space to what applies to data of this shape.

        A CNN is offered only for image-shaped input. When the user asked
        for nothing but CNNs on non-image data, this says so.

        Raises:
            ConfigError: If no architecture in the space applies.
        """
        arch = self.domains["architecture"]
        options = arch.values()
        if is_image or "cnn" not in options:
            return self
        remaining = [a for a in options if a != "cnn"]
        if not remaining:
            raise ConfigError(
                "invalid value for 'space.architecture': 'cnn' needs image-shaped input "
                f"(height, width, channels) but the data has samples of shape {input_shape}. "
                "Use `architecture: mlp`."
            )
        domain: Domain = Fixed(remaining[0]) if len(remaining) == 1 else Choice(tuple(remaining))
        return SearchSpace({**self.domains, "architecture": domain})

    def sample(self, suggester: Suggester) -> TrialParams:
        """Sample one trial's parameters; conditional ones only when they apply."""
        d = self.domains
        arch = str(d["architecture"].sample(suggester, "architecture"))
        units: tuple[int, ...] = ()
        filters: tuple[int, ...] = ()
        kernel_size = pooling = dense_units = None
        if arch == "mlp":
            n = int(d["mlp_layers"].sample(suggester, "mlp_layers"))
            units = tuple(int(d["mlp_units"].sample(suggester, f"mlp_units_{i}")) for i in range(n))
        else:
            n = int(d["cnn_blocks"].sample(suggester, "cnn_blocks"))
            filters = tuple(
                int(d["cnn_filters"].sample(suggester, f"cnn_filters_{i}")) for i in range(n)
            )
            kernel_size = int(d["cnn_kernel_size"].sample(suggester, "cnn_kernel_size"))
            pooling = str(d["cnn_pooling"].sample(suggester, "cnn_pooling"))
            dense_units = int(d["cnn_dense_units"].sample(suggester, "cnn_dense_units"))
        activation = str(d["activation"].sample(suggester, "activation"))
        reg = str(d["regularization"].sample(suggester, "regularization"))
        l1 = float(d["l1"].sample(suggester, "l1")) if reg in ("l1", "l1_l2") else 0.0
        l2 = float(d["l2"].sample(suggester, "l2")) if reg in ("l2", "l1_l2") else 0.0
        dropout = float(d["dropout"].sample(suggester, "dropout")) if reg == "dropout" else 0.0
        optimizer = str(d["optimizer"].sample(suggester, "optimizer"))
        lr = float(d["learning_rate"].sample(suggester, "learning_rate"))
        momentum = (
            float(d["momentum"].sample(suggester, "momentum")) if optimizer == "sgd" else None
        )
        batch_size = int(d["batch_size"].sample(suggester, "batch_size"))
        epochs = int(d["epochs"].sample(suggester, "epochs"))
        return TrialParams(
            architecture=arch,
            activation=activation,
            units=units,
            filters=filters,
            kernel_size=kernel_size,
            pooling=pooling,
            dense_units=dense_units,
            regularization=reg,
            l1=l1,
            l2=l2,
            dropout=dropout,
            optimizer=optimizer,
            learning_rate=lr,
            momentum=momentum,
            batch_size=batch_size,
            epochs=epochs,
        )

    def grid_points(self) -> list[dict[str, Any]]:
        """Every distinct trial of the space once, for a grid sampler.

        The points are enumerated along the same conditional choices that
        :meth:`sample` makes, so each holds only the Optuna parameters that
        apply to it: a one-layer MLP has no ``mlp_units_1``, an MLP no CNN
        settings, Adam no momentum. No two points give the same
        :class:`TrialParams`; a Cartesian product over every per-layer width
        would repeat a network once for each width of a layer it does not have.

        Returns:
            One mapping of Optuna parameter names to values per distinct trial
            (fixed parameters are not suggested, so they are not in it).

        Raises:
            ConfigError: If an applicable parameter is a float range (a grid
                needs choices) or has too many values, or the grid has more
                than 10,000 points.

        Example:
            >>> space = SearchSpace.from_config({"architecture": "mlp", "mlp_layers": [1, 2],
            ...     "mlp_units": [16, 32], "activation": "relu", "regularization": "none",
            ...     "optimizer": "adam", "learning_rate": 0.01, "batch_size": 32})
            >>> len(space.grid_points())  # 2 one-layer + 4 two-layer networks
            6
        """
        points: list[dict[str, Any]] = []
        path: list[int] = []
        while True:
            walker = _GridWalker(path)
            self.sample(walker)
            points.append(walker.point)
            if len(points) > MAX_GRID_POINTS:
                raise ConfigError(
                    f"the grid sampler would enumerate more than {MAX_GRID_POINTS} distinct "
                    "trials. Give fewer choices, fix some parameters, or use the tpe sampler."
                )
            # The next path in depth-first order: advance the last choice that
            # has options left and drop the choices after it.
            path = walker.path
            i = len(path) - 1
            while i >= 0 and path[i] + 1 >= walker.sizes[i]:
                i -= 1
            if i < 0:
                return points
            path = [*path[:i], path[i] + 1]

    def describe(self) -> dict[str, Any]:
        """The space as plain data, for storing with a study and comparing."""
        return self.to_config()


MAX_GRID_POINTS = 10_000
_MAX_GRID_VALUES = 1000


class _GridWalker:
    """A suggester that takes a given path of choices, then the first option.

    It records every choice :meth:`SearchSpace.sample` asks for, with its
    number of options, so that the space's conditional tree can be walked.
    """

    def __init__(self, path: list[int]) -> None:
        self.path = list(path)
        self.sizes: list[int] = []
        self.point: dict[str, Any] = {}

    def _take(self, name: str, values: list[Any]) -> Any:
        if len(values) > _MAX_GRID_VALUES:
            key = name if name in PARAMETERS else name.rsplit("_", 1)[0]
            raise ConfigError(
                f"the grid sampler would enumerate {len(values)} values of 'space.{key}'. "
                "Give a short list of choices instead."
            )
        depth = len(self.sizes)
        if depth == len(self.path):
            self.path.append(0)
        self.sizes.append(len(values))
        value = values[self.path[depth]]
        self.point[name] = value
        return value

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._take(name, list(choices))

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        count = (high - low) // step + 1
        if count > _MAX_GRID_VALUES:
            return int(self._take(name, [None] * count))  # raises, naming the parameter
        return int(self._take(name, list(range(low, high + 1, step))))

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        shown: dict[str, Any] = {"low": low, "high": high, **({"log": True} if log else {})}
        raise ConfigError(
            f"the grid sampler needs a list of values for every parameter, but "
            f"'space.{name}' is a range {shown}. Give choices, e.g. "
            f"`{name}: [{low:g}, {high:g}]`, or fix it."
        )


def _shown(value: Any) -> str:
    """A value's repr for a one-line message: on one line, and shortened."""
    text = repr(value)
    if not text.isprintable():
        text = " ".join(text.split())
    return text if len(text) <= 200 else text[:197] + "..."


def _check_key(key: str) -> None:
    if key not in PARAMETERS:
        text = str(key)
        close = difflib.get_close_matches(text, list(PARAMETERS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"unknown key {'space.' + text!r}.{hint} Known parameters: {', '.join(PARAMETERS)}."
        )


def _coerce_number(key: str, kind: str, value: Any) -> Any:
    """Numbers as YAML gives them: PyYAML reads ``1e-4`` (no dot) as a string."""
    if isinstance(value, str) and kind in ("int", "float"):
        try:
            number = float(value)
        except ValueError:
            return value
        if kind == "int" and number.is_integer():
            return int(number)
        return number
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # too large for a float; rejected as out of range
            return value
    return value


def _check_value(key: str, value: Any) -> None:
    p = PARAMETERS[key]
    bad = False
    if p.kind == "str":
        bad = not isinstance(value, str) or value not in p.allowed
    elif p.kind == "int":
        bad = not (isinstance(value, int) and not isinstance(value, bool))
    else:
        bad = not is_finite_number(value)
    if not bad and p.kind != "str":
        bad = value < p.low or (
            p.high is not None and (value >= p.high if p.high_exclusive else value > p.high)
        )
    if bad:
        raise ConfigError(
            f"invalid value for 'space.{key}': expected {p.describe_rule()}, got {_shown(value)}."
        )


def _parse_domain(key: str, raw: Any, *, fixed: bool = False) -> Domain:
    _check_key(key)
    p = PARAMETERS[key]
    if isinstance(raw, Fixed | Choice | IntRange | FloatRange):
        _check_domain(key, raw)
        return raw
    if isinstance(raw, Mapping):
        if fixed:
            raise ConfigError(
                f"invalid value for 'space.{key}': expected one value, got {_shown(raw)}."
            )
        return _parse_range(key, raw)
    if isinstance(raw, list | tuple):
        if fixed:
            raise ConfigError(
                f"invalid value for 'space.{key}': expected one value, got {_shown(raw)}."
            )
        values = tuple(_coerce_number(key, p.kind, v) for v in raw)
        if not values:
            raise ConfigError(
                f"invalid value for 'space.{key}': the list of choices is empty; give at least "
                f"one value ({p.describe_rule()})."
            )
        for value in values:
            _check_value(key, value)
        if len(set(values)) != len(values):
            raise ConfigError(
                f"invalid value for 'space.{key}': the choices {list(values)} repeat a value."
            )
        domain: Domain = Fixed(values[0]) if len(values) == 1 else Choice(values)
    else:
        domain = Fixed(_coerce_number(key, p.kind, raw))
    _check_domain(key, domain)
    return domain


def _parse_range(key: str, raw: Mapping[str, Any]) -> Domain:
    p = PARAMETERS[key]
    if p.kind == "str":
        raise ConfigError(
            f"invalid value for 'space.{key}': a range applies to numbers only; give one of "
            f"{list(p.allowed)} or a list of them."
        )
    allowed_keys = {"low", "high", "log"} | ({"step"} if p.kind == "int" else set())
    unknown = set(raw) - allowed_keys
    if unknown or not {"low", "high"} <= set(raw):
        raise ConfigError(
            f"invalid value for 'space.{key}': a range needs 'low' and 'high' "
            f"(and optionally {', '.join(sorted(allowed_keys - {'low', 'high'}))}), got keys "
            f"{sorted(str(k) for k in raw)}."
        )
    low = _coerce_number(key, p.kind, raw["low"])
    high = _coerce_number(key, p.kind, raw["high"])
    log = raw.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(
            f"invalid value for 'space.{key}.log': expected true or false, got {_shown(log)}."
        )
    domain: Domain
    if p.kind == "int":
        step = _coerce_number(key, "int", raw.get("step", 1))
        if not isinstance(step, int) or isinstance(step, bool) or step < 1:
            raise ConfigError(
                f"invalid value for 'space.{key}.step': expected an integer >= 1, "
                f"got {_shown(step)}."
            )
        if log and step != 1:
            raise ConfigError(
                f"invalid value for 'space.{key}': a log-scale range needs step 1, got {step}."
            )
        domain = IntRange(low, high, log=log, step=step)
    else:
        domain = FloatRange(low, high, log=log)
    _check_domain(key, domain)
    return domain


def _check_domain(key: str, domain: Domain) -> None:
    if isinstance(domain, Fixed):
        _check_value(key, domain.value)
    elif isinstance(domain, Choice):
        if not domain.options:
            raise ConfigError(f"invalid value for 'space.{key}': the list of choices is empty.")
        for value in domain.options:
            _check_value(key, value)
    elif isinstance(domain, IntRange | FloatRange):
        if PARAMETERS[key].kind == "str":
            raise ConfigError(
                f"invalid value for 'space.{key}': a range applies to numbers only; give one "
                f"of {list(PARAMETERS[key].allowed)}."
            )
        if isinstance(domain, IntRange) and PARAMETERS[key].kind == "float":
            domain = FloatRange(float(domain.low), float(domain.high), log=domain.log)
        _check_value(key, domain.low)
        _check_value(key, domain.high)
        if not domain.low <= domain.high:
            raise ConfigError(
                f"invalid value for 'space.{key}': `low <= high` must hold, but got "
                f"(low={domain.low!r}, high={domain.high!r})."
            )
        if domain.log and domain.low <= 0:
            raise ConfigError(
                f"invalid value for 'space.{key}': a log-scale range needs low > 0, but got "
                f"low={domain.low!r}. Set `log: false` or raise `low`."
            )
    else:
        raise ConfigError(
            f"invalid value for 'space.{key}': expected a value, a list of choices or a range, "
            f"got {_shown(domain)}."
        )
