"""Models: the selected network as a model that takes raw data.

A search saves (``<output>/<study>/best_model``) and logs to MLflow (the
parent run's ``best_model``) an MLflow pyfunc model that wraps the
preprocessing fitted on the training split and the Keras network: it takes
rows as the user has them and returns the original labels, with one
probability column per class. Loading it needs whynet installed.

Importing this package does not import MLflow, Keras or TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from whynet.models._predict import Predictor, load_model, predict

__all__ = ["Predictor", "load_model", "predict"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from whynet.models import _predict

        return getattr(_predict, name)
    raise AttributeError(f"module 'whynet.models' has no attribute {name!r}")
