"""The scikit-learn trainer: classical models on the same splits as the network.

Each model of :data:`CLASSICAL_MODELS` has scikit-learn's default settings
(plus the few fixed choices noted per model) and a small search space
(:func:`suggest`) for tuning it with Optuna on the validation split. The
trainer, like the Keras one, sees only :class:`~whynet.data.TrainingData`:
the test split cannot choose anything. Images are flattened to one row of
pixels per sample, since these models take 2-D input.

scikit-learn is imported inside the functions, so importing this module
stays light.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from whynet.data import Split, TrainingData
from whynet.exceptions import ConfigError
from whynet.spaces import Suggester

__all__ = [
    "CLASSICAL_MODELS",
    "ClassicalModel",
    "SklearnTrainer",
    "check_models",
    "flatten",
    "models_for",
    "suggest",
]

_BOTH = ("classification", "regression")


def _random_forest(task: str, params: Mapping[str, Any], seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
    return cls(random_state=seed, **params)


def _knn(task: str, params: Mapping[str, Any], seed: int) -> Any:
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    cls = KNeighborsClassifier if task == "classification" else KNeighborsRegressor
    return cls(**params)


def _naive_bayes(task: str, params: Mapping[str, Any], seed: int) -> Any:
    from sklearn.naive_bayes import GaussianNB

    return GaussianNB(**params)


def _svm(task: str, params: Mapping[str, Any], seed: int) -> Any:
    from sklearn.svm import SVC, SVR

    if task == "classification":
        return SVC(kernel="rbf", random_state=seed, **params)
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import StandardScaler

    # SVR's epsilon (0.1) and C (1.0) assume a target of unit scale; the
    # target is standardized on the training split so that they mean that.
    return TransformedTargetRegressor(
        regressor=SVR(kernel="rbf", **params), transformer=StandardScaler()
    )


def _decision_tree(task: str, params: Mapping[str, Any], seed: int) -> Any:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    cls = DecisionTreeClassifier if task == "classification" else DecisionTreeRegressor
    return cls(random_state=seed, **params)


def _linear(task: str, params: Mapping[str, Any], seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "classification":
        # 1,000 iterations instead of 100: lbfgs often needs more on real data.
        return LogisticRegression(max_iter=1000, random_state=seed, **params)
    return Ridge(**params)


def _hist_gradient_boosting(task: str, params: Mapping[str, Any], seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if task == "classification":
        return HistGradientBoostingClassifier(random_state=seed, **params)
    return HistGradientBoostingRegressor(random_state=seed, **params)


def _dummy(task: str, params: Mapping[str, Any], seed: int) -> Any:
    from sklearn.dummy import DummyClassifier, DummyRegressor

    if task == "classification":
        return DummyClassifier(strategy="most_frequent", **params)
    return DummyRegressor(strategy="mean", **params)


def _space_random_forest(trial: Suggester, task: str) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 300, step=50),
        "max_depth": trial.suggest_int("max_depth", 2, 32, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 10, log=True),
        "max_features": trial.suggest_categorical("max_features", ["sqrt", "log2", 1.0]),
    }


def _space_knn(trial: Suggester, task: str) -> dict[str, Any]:
    return {
        "n_neighbors": trial.suggest_int("n_neighbors", 1, 50, log=True),
        "weights": trial.suggest_categorical("weights", ["uniform", "distance"]),
        "p": trial.suggest_int("p", 1, 2),
    }


def _space_naive_bayes(trial: Suggester, task: str) -> dict[str, Any]:
    return {"var_smoothing": trial.suggest_float("var_smoothing", 1e-12, 1e-1, log=True)}


def _space_svm(trial: Suggester, task: str) -> dict[str, Any]:
    return {
        "C": trial.suggest_float("C", 1e-2, 1e3, log=True),
        "gamma": trial.suggest_float("gamma", 1e-4, 1e1, log=True),
    }


def _space_decision_tree(trial: Suggester, task: str) -> dict[str, Any]:
    return {
        "max_depth": trial.suggest_int("max_depth", 1, 32, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 20, log=True),
    }


def _space_linear(trial: Suggester, task: str) -> dict[str, Any]:
    if task == "classification":
        return {"C": trial.suggest_float("C", 1e-4, 1e4, log=True)}
    return {"alpha": trial.suggest_float("alpha", 1e-4, 1e4, log=True)}


def _space_hist_gradient_boosting(trial: Suggester, task: str) -> dict[str, Any]:
    # Early stopping on a tenth of the TRAINING split (never the validation
    # or test split) keeps each tuning fit short; the default row keeps
    # scikit-learn's "auto" (on above 10,000 rows only).
    return {
        "early_stopping": True,
        "max_iter": trial.suggest_int("max_iter", 50, 300, step=50),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.5, log=True),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 4, 64, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 2, 50, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 10.0, log=True),
    }


def _space_none(trial: Suggester, task: str) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ClassicalModel:
    """One classical model: how to build it and what to tune.

    Attributes:
        name: The registry key, e.g. ``random_forest``.
        label: A readable name, e.g. ``random forest``.
        tasks: The tasks it handles.
        make: ``make(task, params, seed)`` returns an unfitted estimator.
        space: ``space(suggester, task)`` returns the params of one tuning
            trial; an empty dict means there is nothing to tune.
        tunable: Whether it has a search space (the dummy floor has none).
    """

    name: str
    label: str
    tasks: tuple[str, ...]
    make: Callable[[str, Mapping[str, Any], int], Any]
    space: Callable[[Suggester, str], dict[str, Any]]
    tunable: bool = True


CLASSICAL_MODELS: dict[str, ClassicalModel] = {
    m.name: m
    for m in (
        ClassicalModel(
            "random_forest", "random forest", _BOTH, _random_forest, _space_random_forest
        ),
        ClassicalModel("knn", "k-nearest neighbours", _BOTH, _knn, _space_knn),
        ClassicalModel(
            "naive_bayes",
            "Gaussian naive Bayes",
            ("classification",),
            _naive_bayes,
            _space_naive_bayes,
        ),
        ClassicalModel("svm", "SVM (RBF kernel)", _BOTH, _svm, _space_svm),
        ClassicalModel(
            "decision_tree", "decision tree", _BOTH, _decision_tree, _space_decision_tree
        ),
        ClassicalModel("linear", "logistic / ridge regression", _BOTH, _linear, _space_linear),
        ClassicalModel(
            "hist_gradient_boosting",
            "histogram gradient boosting",
            _BOTH,
            _hist_gradient_boosting,
            _space_hist_gradient_boosting,
        ),
        ClassicalModel("dummy", "dummy (majority class / mean)", _BOTH, _dummy, _space_none, False),
    )
}
"""The classical models, by name, in the order the leaderboard lists them."""


def models_for(task: str) -> tuple[str, ...]:
    """The names of the classical models that handle ``task``.

    Example:
        >>> "naive_bayes" in models_for("classification"), "naive_bayes" in models_for("regression")
        (True, False)
    """
    return tuple(name for name, model in CLASSICAL_MODELS.items() if task in model.tasks)


def check_models(models: Any, task: str) -> tuple[str, ...]:
    """Validate a list of model names for ``task``; ``None`` means all that apply.

    Raises:
        ConfigError: If a name is unknown or its model does not handle the task.
    """
    if models is None:
        return models_for(task)
    if isinstance(models, str):
        models = [models]
    names = tuple(models)
    if not names:
        raise ConfigError(
            "`models` is empty: give at least one of " + ", ".join(models_for(task)) + "."
        )
    for name in names:
        if name not in CLASSICAL_MODELS:
            import difflib

            close = difflib.get_close_matches(str(name), CLASSICAL_MODELS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown classical model {name!r}.{hint} Use one of "
                + ", ".join(CLASSICAL_MODELS)
                + "."
            )
        if task not in CLASSICAL_MODELS[name].tasks:
            raise ConfigError(
                f"model {name!r} ({CLASSICAL_MODELS[name].label}) handles "
                f"{' and '.join(CLASSICAL_MODELS[name].tasks)} only, and this data is "
                f"{task}. Leave it out of `models`."
            )
    return tuple(dict.fromkeys(names))


def suggest(model_name: str, trial: Suggester, *, task: str = "classification") -> dict[str, Any]:
    """Sample the params of one tuning trial of ``model_name``.

    Args:
        model_name: A key of :data:`CLASSICAL_MODELS`.
        trial: An Optuna trial, or anything with its ``suggest_*`` methods.
        task: ``classification`` or ``regression`` (the linear model tunes
            ``C`` of logistic regression or ``alpha`` of ridge regression).

    Returns:
        Keyword arguments for the estimator, on top of its defaults.

    Example:
        >>> import optuna
        >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        >>> sorted(suggest("svm", study.ask()))
        ['C', 'gamma']
    """
    check_models([model_name], task)
    return CLASSICAL_MODELS[model_name].space(trial, task)


def flatten(x: np.ndarray) -> np.ndarray:
    """Samples as rows: images ``(n, H, W, C)`` become ``(n, H * W * C)``."""
    return x.reshape(x.shape[0], -1) if x.ndim != 2 else x


class SklearnTrainer:
    """Fits a classical model on the training split and scores it on validation.

    The score is accuracy for classification and RMSE for regression, the
    same metrics the network is scored on.

    Args:
        threads: The threads each fit and prediction may use (OpenMP and
            BLAS, through ``threadpoolctl``): ``1`` by default, so every
            model is timed on one core and none oversubscribes a busy
            machine (gradient boosting's OpenMP threads slowed a digits fit
            from 2 s to 37 s on two loaded cores); ``None`` keeps
            scikit-learn's defaults.

    Example:
        >>> from whynet.data import load_dataset
        >>> from whynet.config import DataConfig
        >>> data = load_dataset(DataConfig(source="iris"), seed=0)
        >>> model, val_accuracy, seconds = SklearnTrainer().fit(
        ...     "decision_tree", {"max_depth": 3}, data.training_data(), seed=0
        ... )
        >>> 0.5 < val_accuracy <= 1.0
        True
    """

    def __init__(self, *, threads: int | None = 1) -> None:
        if threads is not None and int(threads) < 1:
            raise ConfigError(f"`threads` must be 1 or more (or None), but got {threads}.")
        self.threads = threads

    def _limits(self) -> Any:
        import contextlib

        if self.threads is None:
            return contextlib.nullcontext()
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=int(self.threads))

    def fit(
        self,
        model_name: str,
        params: Mapping[str, Any],
        data: TrainingData,
        *,
        seed: int,
    ) -> tuple[Any, float, float]:
        """Fit ``model_name`` with ``params`` on ``data.train``.

        Args:
            model_name: A key of :data:`CLASSICAL_MODELS`.
            params: Keyword arguments on top of the model's defaults
                (``{}`` for its default settings).
            data: The training and validation splits (never the test split).
            seed: Seeds the estimator's randomness.

        Returns:
            The fitted estimator, its validation score and the fit time in
            seconds.

        Raises:
            ConfigError: If the model is unknown or does not handle the task.
        """
        task = data.spec.task
        check_models([model_name], task)
        params = dict(params)
        if model_name == "knn" and "n_neighbors" in params:
            # More neighbours than training rows is an error in scikit-learn.
            params["n_neighbors"] = min(int(params["n_neighbors"]), len(data.train))
        estimator = CLASSICAL_MODELS[model_name].make(task, params, int(seed) % 2**32)
        x, y = flatten(data.train.x), data.train.y
        with self._limits(), warnings.catch_warnings():
            # A model that does not converge in its budget is scored as it is.
            warnings.filterwarnings("ignore", message=".*(converge|ConvergenceWarning).*")
            start = time.perf_counter()
            estimator.fit(x, y)
            seconds = time.perf_counter() - start
        return estimator, self.score(estimator, data.val, task=task), seconds

    def score(self, estimator: Any, split: Split, *, task: str) -> float:
        """Accuracy (classification) or RMSE (regression) of a fitted model on ``split``."""
        with self._limits():
            predicted = np.asarray(estimator.predict(flatten(split.x)))
        if task == "classification":
            return float(np.mean(predicted == split.y))
        diff = predicted.astype(np.float64).ravel() - split.y.astype(np.float64).ravel()
        return float(np.sqrt(np.mean(diff**2)))

    def predict_seconds_per_1k(self, estimator: Any, split: Split) -> float:
        """Seconds a fitted model takes to predict 1,000 rows, timed on ``split``."""
        if len(split) == 0:
            return float("nan")
        x = flatten(split.x)
        with self._limits():
            start = time.perf_counter()
            estimator.predict(x)
            return (time.perf_counter() - start) / len(split) * 1000.0
