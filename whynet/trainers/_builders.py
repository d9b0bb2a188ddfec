"""Keras models from sampled parameters and the data's spec."""

from __future__ import annotations

from typing import Any

from whynet.data import DatasetSpec
from whynet.spaces import TrialParams

__all__ = ["build_model", "build_optimizer"]


def _regularizer(params: TrialParams) -> Any:
    import keras

    if params.regularization == "l1":
        return keras.regularizers.L1(params.l1)
    if params.regularization == "l2":
        return keras.regularizers.L2(params.l2)
    if params.regularization == "l1_l2":
        return keras.regularizers.L1L2(l1=params.l1, l2=params.l2)
    return None


def build_optimizer(params: TrialParams) -> Any:
    """The Keras optimizer of ``params``, at exactly the sampled learning rate."""
    import keras

    lr = params.learning_rate
    if params.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    if params.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr)
    if params.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=params.momentum or 0.0)
    if params.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr)
    raise ValueError(f"unknown optimizer {params.optimizer!r}")


def build_model(
    params: TrialParams,
    spec: DatasetSpec,
    *,
    target_mean: float = 0.0,
    target_std: float = 1.0,
) -> Any:
    """Build (not compile) the Keras model that ``params`` describe.

    Args:
        params: The sampled architecture and regularization.
        spec: Input shape and task of the data.
        target_mean: Regression only: the training targets' mean. The output
            layer is rescaled so that the network learns standardized targets
            while the model predicts in the data's own units.
        target_std: Regression only: the training targets' standard deviation.

    Returns:
        A functional ``keras.Model``.

    Example:
        >>> from whynet.config import DataConfig
        >>> from whynet.data import load_dataset
        >>> spec = load_dataset(DataConfig(source="iris"), seed=0).spec
        >>> model = build_model(TrialParams(units=(32,)), spec)
        >>> model.input_shape, model.output_shape
        ((None, 4), (None, 3))
    """
    import keras
    from keras import layers

    reg = _regularizer(params)
    dropout = params.dropout if params.regularization == "dropout" else 0.0
    act = params.activation
    init = "lecun_normal" if act == "selu" else "glorot_uniform"
    inputs = keras.Input(shape=spec.input_shape, name="features")
    x = inputs
    if params.architecture == "cnn":
        if not spec.is_image:
            raise ValueError(f"a CNN needs image input, got shape {spec.input_shape}")
        for i, filters in enumerate(params.filters):
            x = layers.Conv2D(
                filters,
                params.kernel_size or 3,
                padding="same",
                activation=act,
                kernel_initializer=init,
                kernel_regularizer=reg,
                name=f"conv_{i}",
            )(x)
            # Pool only while the feature map is large enough: 8x8 digits
            # with three blocks would otherwise shrink to nothing.
            if params.pooling in ("max", "avg") and min(x.shape[1], x.shape[2]) >= 2:
                pool = layers.MaxPooling2D if params.pooling == "max" else layers.AveragePooling2D
                x = pool(2, name=f"pool_{i}")(x)
            if dropout:
                x = layers.Dropout(dropout, name=f"conv_dropout_{i}")(x)
        x = layers.Flatten(name="flatten")(x)
        hidden: tuple[int, ...] = (params.dense_units or 64,)
    else:
        if len(spec.input_shape) > 1:
            x = layers.Flatten(name="flatten")(x)
        hidden = params.units
    for i, units in enumerate(hidden):
        x = layers.Dense(
            units,
            activation=act,
            kernel_initializer=init,
            kernel_regularizer=reg,
            name=f"dense_{i}",
        )(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    if spec.task == "classification":
        outputs = layers.Dense(spec.n_classes or 2, activation="softmax", name="probabilities")(x)
    else:
        x = layers.Dense(1, name="standardized_output")(x)
        outputs = layers.Rescaling(scale=target_std, offset=target_mean, name="prediction")(x)
    name = f"{params.architecture}_{act}_{params.regularization}"
    return keras.Model(inputs, outputs, name=name)
