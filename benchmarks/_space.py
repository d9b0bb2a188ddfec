"""The one search space every tool searches, and the network every peer builds.

whynet gets the space as its ``space`` config; KerasTuner and the hand-written
Optuna loops sample it through their own APIs into a :class:`NetConfig`, and
:func:`build_model` turns that into the same Keras network whynet's builder
makes (same layers, initializers, regularizers, pooling rule and head), so
that the tools differ in how they search, not in what they train.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

ACTIVATIONS = ("relu", "sigmoid", "tanh")
REGULARIZATIONS = ("none", "l1", "l2", "dropout")
BATCH_SIZES = (32, 128, 512)
MLP_LAYERS = (1, 3)
MLP_UNITS = (32, 256)  # log scale
CNN_BLOCKS = (1, 2)
CNN_FILTERS = (16, 32, 64)
# Fixed CNN details: whynet would search them by default; the peers' spaces
# do not have them, so every tool uses the same fixed values.
CNN_KERNEL_SIZE = 3
CNN_POOLING = "max"
CNN_DENSE_UNITS = 64
PENALTY = (1e-6, 1e-2)  # l1 / l2 strength, log scale
DROPOUT = (0.05, 0.5)
LEARNING_RATE = (1e-4, 1e-1)  # log scale
OPTIMIZER = "adam"
EARLY_STOPPING_PATIENCE = 5


@dataclass(frozen=True)
class NetConfig:
    """One sampled network and its training settings, tool-independent."""

    architecture: str = "mlp"
    units: tuple[int, ...] = (128,)
    filters: tuple[int, ...] = ()
    activation: str = "relu"
    regularization: str = "none"
    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    learning_rate: float = 1e-3
    batch_size: int = 32


def whynet_space(*, is_image: bool) -> dict[str, Any]:
    """The benchmark space as whynet's ``space`` config."""
    space: dict[str, Any] = {
        "architecture": ["mlp", "cnn"] if is_image else "mlp",
        "mlp_layers": {"low": MLP_LAYERS[0], "high": MLP_LAYERS[1]},
        "mlp_units": {"low": MLP_UNITS[0], "high": MLP_UNITS[1], "log": True},
        "activation": list(ACTIVATIONS),
        "regularization": list(REGULARIZATIONS),
        "l1": {"low": PENALTY[0], "high": PENALTY[1], "log": True},
        "l2": {"low": PENALTY[0], "high": PENALTY[1], "log": True},
        "dropout": {"low": DROPOUT[0], "high": DROPOUT[1]},
        "optimizer": OPTIMIZER,
        "learning_rate": {"low": LEARNING_RATE[0], "high": LEARNING_RATE[1], "log": True},
        "batch_size": list(BATCH_SIZES),
    }
    if is_image:
        space.update(
            cnn_blocks={"low": CNN_BLOCKS[0], "high": CNN_BLOCKS[1]},
            cnn_filters=list(CNN_FILTERS),
            cnn_kernel_size=CNN_KERNEL_SIZE,
            cnn_pooling=CNN_POOLING,
            cnn_dense_units=CNN_DENSE_UNITS,
        )
    return space


class OptunaTrialLike(Protocol):
    """The part of ``optuna.Trial`` the sampler below uses."""

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = ...) -> int: ...

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = ...) -> float: ...


def sample_optuna(trial: OptunaTrialLike, *, is_image: bool) -> NetConfig:
    """Sample the space with an Optuna trial, as a hand-written loop would."""
    arch = trial.suggest_categorical("architecture", ["mlp", "cnn"]) if is_image else "mlp"
    units: tuple[int, ...] = ()
    filters: tuple[int, ...] = ()
    if arch == "mlp":
        n = trial.suggest_int("mlp_layers", *MLP_LAYERS)
        units = tuple(trial.suggest_int(f"mlp_units_{i}", *MLP_UNITS, log=True) for i in range(n))
    else:
        n = trial.suggest_int("cnn_blocks", *CNN_BLOCKS)
        filters = tuple(
            int(trial.suggest_categorical(f"cnn_filters_{i}", list(CNN_FILTERS))) for i in range(n)
        )
    reg = str(trial.suggest_categorical("regularization", list(REGULARIZATIONS)))
    return NetConfig(
        architecture=str(arch),
        units=units,
        filters=filters,
        activation=str(trial.suggest_categorical("activation", list(ACTIVATIONS))),
        regularization=reg,
        l1=trial.suggest_float("l1", *PENALTY, log=True) if reg == "l1" else 0.0,
        l2=trial.suggest_float("l2", *PENALTY, log=True) if reg == "l2" else 0.0,
        dropout=trial.suggest_float("dropout", *DROPOUT) if reg == "dropout" else 0.0,
        learning_rate=trial.suggest_float("learning_rate", *LEARNING_RATE, log=True),
        batch_size=int(trial.suggest_categorical("batch_size", list(BATCH_SIZES))),
    )


def sample_kerastuner(hp: Any, *, is_image: bool) -> NetConfig:
    """Sample the space with KerasTuner ``HyperParameters`` (conditional by control flow)."""
    arch = hp.Choice("architecture", ["mlp", "cnn"]) if is_image else "mlp"
    units: tuple[int, ...] = ()
    filters: tuple[int, ...] = ()
    if arch == "mlp":
        n = hp.Int("mlp_layers", *MLP_LAYERS)
        units = tuple(hp.Int(f"mlp_units_{i}", *MLP_UNITS, sampling="log") for i in range(int(n)))
    else:
        n = hp.Int("cnn_blocks", *CNN_BLOCKS)
        filters = tuple(hp.Choice(f"cnn_filters_{i}", list(CNN_FILTERS)) for i in range(int(n)))
    reg = hp.Choice("regularization", list(REGULARIZATIONS))
    return NetConfig(
        architecture=str(arch),
        units=tuple(int(u) for u in units),
        filters=tuple(int(f) for f in filters),
        activation=str(hp.Choice("activation", list(ACTIVATIONS))),
        regularization=str(reg),
        l1=float(hp.Float("l1", *PENALTY, sampling="log")) if reg == "l1" else 0.0,
        l2=float(hp.Float("l2", *PENALTY, sampling="log")) if reg == "l2" else 0.0,
        dropout=float(hp.Float("dropout", *DROPOUT)) if reg == "dropout" else 0.0,
        learning_rate=float(hp.Float("learning_rate", *LEARNING_RATE, sampling="log")),
        batch_size=int(hp.Choice("batch_size", list(BATCH_SIZES))),
    )


def build_model(net: NetConfig, *, input_shape: tuple[int, ...], n_classes: int) -> Any:
    """Build and compile the Keras classifier ``net`` describes.

    Mirrors ``whynet/trainers/_builders.py`` for the benchmark space: conv
    blocks (same padding, pooling while the map is at least 2 pixels,
    dropout), a dense head, softmax output; Adam at the sampled rate.
    """
    import keras
    from keras import layers

    reg: Any = None
    if net.regularization == "l1":
        reg = keras.regularizers.L1(net.l1)
    elif net.regularization == "l2":
        reg = keras.regularizers.L2(net.l2)
    dropout = net.dropout if net.regularization == "dropout" else 0.0
    inputs = keras.Input(shape=input_shape)
    x = inputs
    if net.architecture == "cnn":
        for filters in net.filters:
            x = layers.Conv2D(
                filters,
                CNN_KERNEL_SIZE,
                padding="same",
                activation=net.activation,
                kernel_regularizer=reg,
            )(x)
            if min(x.shape[1], x.shape[2]) >= 2:
                x = layers.MaxPooling2D(2)(x)
            if dropout:
                x = layers.Dropout(dropout)(x)
        x = layers.Flatten()(x)
        hidden: tuple[int, ...] = (CNN_DENSE_UNITS,)
    else:
        if len(input_shape) > 1:
            x = layers.Flatten()(x)
        hidden = net.units
    for units in hidden:
        x = layers.Dense(units, activation=net.activation, kernel_regularizer=reg)(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=net.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
