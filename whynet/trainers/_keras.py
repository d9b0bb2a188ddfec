"""The Keras trainer: compile, fit with per-epoch reporting, free the model."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from whynet._interrupt import raise_if_requested
from whynet.data import Split, TrainingData
from whynet.exceptions import ConfigError, TrialFailedError
from whynet.spaces import TrialParams
from whynet.trainers._base import ReportFn, TrainedModel, TrialResult
from whynet.trainers._builders import build_model, build_optimizer

__all__ = ["KerasTrainer", "score_metric"]


def score_metric(task: str) -> tuple[str, Literal["maximize", "minimize"]]:
    """The validation metric a trial is scored on, and its direction."""
    if task == "classification":
        return "val_accuracy", "maximize"
    return "val_rmse", "minimize"


def _make_callback(
    *,
    score_name: str,
    maximize: bool,
    patience: int,
    report: ReportFn,
) -> Any:
    """One callback for the per-epoch work, so the epoch loop stays lean.

    It reports each epoch (which may prune), fails the trial on a NaN or
    infinite loss, keeps the best weights, and stops early. Epochs of equal
    score (validation accuracy on a few hundred rows ties often) are told
    apart by validation loss, as trials are (see ``best_complete``).
    """
    import keras

    class _EpochCallback(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.history: list[dict[str, float]] = []
            self.best_score = -math.inf if maximize else math.inf
            self.best_loss = math.inf
            self.best_epoch = 0
            self.best_weights: list[Any] | None = None
            self.wait = 0

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            # A Ctrl-C or SIGTERM stops the trial here, between two batches
            # (a begin hook keeps Keras' asynchronous batch dispatch on).
            raise_if_requested()

        def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
            metrics = {k: float(v) for k, v in (logs or {}).items()}
            self.history.append(metrics)
            step = epoch + 1
            loss = metrics.get("loss", math.nan)
            if not math.isfinite(loss):
                raise TrialFailedError(
                    "nan_loss",
                    f"the training loss became {loss} at epoch {step}; the learning rate "
                    "may be too high for this network",
                )
            score = metrics.get(score_name, math.nan)
            if not math.isfinite(score):
                raise TrialFailedError(
                    "nan_metric", f"the validation metric {score_name} was {score} at epoch {step}"
                )
            val_loss = metrics.get("val_loss", math.inf)
            better = (score > self.best_score) if maximize else (score < self.best_score)
            if better or (score == self.best_score and val_loss < self.best_loss):
                self.best_score = score
                self.best_loss = val_loss
                self.best_epoch = step
                self.best_weights = self.model.get_weights()
                self.wait = 0
            else:
                self.wait += 1
            report(step, metrics)
            if patience and self.wait >= patience:
                self.model.stop_training = True

    return _EpochCallback()


class KerasTrainer:
    """Trains one trial's network with Keras on the active backend.

    Args:
        early_stopping_patience: Epochs without improvement before a trial
            stops; ``0`` turns early stopping off.
        device: A label of the device this trainer's process uses.
        distribute: Train data-parallel over the process's devices:
            ``tf.distribute.MirroredStrategy`` on TensorFlow,
            ``keras.distribution.DataParallel`` on JAX. The global batch is
            the sampled batch size and the learning rate is left as sampled.
        devices: The devices to spread over (e.g. ``["/cpu:0", "/cpu:1"]``
            on TensorFlow, ``["cpu:0", "cpu:1"]`` on JAX); all visible
            devices when ``None``.
        callbacks: Makes extra Keras callbacks for each fit (e.g. TensorBoard).

    Example:
        >>> trainer = KerasTrainer(early_stopping_patience=5)
        >>> trained = trainer.fit(params, data, report=lambda e, m: None, seed=0)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        early_stopping_patience: int = 5,
        device: str = "cpu",
        distribute: bool = False,
        devices: Sequence[str] | None = None,
        callbacks: Callable[[], list[Any]] | None = None,
    ) -> None:
        self.early_stopping_patience = early_stopping_patience
        self.device = device
        self.distribute = distribute
        self.devices = list(devices) if devices is not None else None
        self._strategy: Any = None
        self.callbacks = callbacks

    def _distribution_scope(self) -> Any:
        """A context in which to build and compile a data-parallel model."""
        if not self.distribute:
            return contextlib.nullcontext()
        import keras

        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            if self._strategy is None:
                self._strategy = tf.distribute.MirroredStrategy(devices=self.devices)
            return self._strategy.scope()
        if backend == "jax":
            devices = self.devices or keras.distribution.list_devices()
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
            return contextlib.nullcontext()
        raise ConfigError(
            f"training one trial over several devices is supported on the tensorflow and jax "
            f"backends, not on {backend!r}. Set `execution.gpus_per_trial: 1`."
        )

    @property
    def replicas(self) -> int:
        """Devices one trial trains on."""
        if not self.distribute:
            return 1
        if self._strategy is not None:
            return int(self._strategy.num_replicas_in_sync)
        import keras

        return len(self.devices or keras.distribution.list_devices())

    def fit(
        self,
        params: TrialParams,
        data: TrainingData,
        *,
        report: ReportFn,
        seed: int,
    ) -> TrainedModel:
        """Build, compile and fit the network of ``params``.

        Args:
            params: The trial's parameters.
            data: Training and validation splits (never the test split).
            report: Called after every epoch; may raise a prune signal.
            seed: Seeds weight initialization, shuffling and dropout.

        Returns:
            The trained model (best epoch's weights) and its plain result.

        Raises:
            TrialFailedError: On a NaN or infinite loss, or an out-of-memory error.
            TrialPrunedSignal: When ``report`` prunes the trial.
        """
        import keras

        start = time.perf_counter()
        keras.utils.set_random_seed(seed)
        spec = data.spec
        score_name, direction = score_metric(spec.task)
        with self._distribution_scope():
            if spec.task == "classification":
                loss = "sparse_categorical_crossentropy"
                metrics: list[Any] = ["accuracy"]
                model = build_model(params, spec)
            else:
                loss = "mse"
                metrics = [keras.metrics.RootMeanSquaredError(name="rmse")]
                y = data.train.y.astype(np.float64)
                std = float(y.std()) or 1.0
                model = build_model(params, spec, target_mean=float(y.mean()), target_std=std)
            model.compile(optimizer=build_optimizer(params), loss=loss, metrics=metrics)
        callback = _make_callback(
            score_name=score_name,
            maximize=direction == "maximize",
            patience=self.early_stopping_patience,
            report=report,
        )
        train, val = data.train, data.val
        replicas = self.replicas
        if replicas > 1:
            train, val = self._shardable(params, train, val, replicas)
        try:
            model.fit(
                train.x,
                train.y,
                batch_size=params.batch_size,
                epochs=params.epochs,
                validation_data=(val.x, val.y),
                callbacks=[callback, *(self.callbacks() if self.callbacks else [])],
                shuffle=True,
                verbose=0,
            )
        except MemoryError as exc:
            raise TrialFailedError("oom", f"out of host memory: {exc}") from exc
        except Exception as exc:
            if _is_oom(exc):
                raise TrialFailedError(
                    "oom", f"out of device memory ({type(exc).__name__}): {exc}"
                ) from exc
            raise
        if callback.best_weights is not None:
            model.set_weights(callback.best_weights)
        history = tuple(callback.history)
        best = history[callback.best_epoch - 1]
        result = TrialResult(
            score=callback.best_score,
            score_name=score_name,
            metrics=dict(best),
            best_epoch=callback.best_epoch,
            epochs_run=len(history),
            train_seconds=time.perf_counter() - start,
            n_params=int(model.count_params()),
            history=history,
            device=self.device,
        )
        return TrainedModel(result=result, model=model)

    @staticmethod
    def _shardable(
        params: TrialParams, train: Split, val: Split, replicas: int
    ) -> tuple[Split, Split]:
        """Make every batch divisible by the devices, as sharding needs.

        The sampled batch size is the global batch and is never changed: a
        batch size the devices cannot share fails the trial. The last few rows
        (fewer than the number of devices) are left out, so that the last,
        partial batch divides too.
        """
        if params.batch_size % replicas:
            raise TrialFailedError(
                "bad_combination",
                f"batch size {params.batch_size} cannot be split over {replicas} devices; "
                "use batch sizes that are multiples of the devices per trial",
            )

        def trim(split: Split) -> Split:
            n = len(split) - len(split) % replicas
            return Split(split.x[:n], split.y[:n])

        return trim(train), trim(val)

    def release(self) -> None:
        """Free the framework's graph and memory between trials."""
        import keras

        keras.backend.clear_session(free_memory=False)


def _is_oom(exc: BaseException) -> bool:
    """Whether the framework's error means the device ran out of memory."""
    name = type(exc).__name__
    text = str(exc)
    return (
        name in ("ResourceExhaustedError", "OutOfMemoryError")
        or "RESOURCE_EXHAUSTED" in text
        or "out of memory" in text.lower()
    )
