from __future__ import annotations

import numpy as np
import pytest

from whynet.data import from_arrays
from whynet.exceptions import TrialFailedError, TrialPrunedSignal
from whynet.spaces import TrialParams
from whynet.trainers import KerasTrainer, build_model


def _blobs(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 4)) + y[:, None] * 2.0
    return from_arrays(x.astype("float32"), y, seed=seed)


def test_mlp_learns_and_reports_every_epoch() -> None:
    data = _blobs().training_data()
    seen: list[tuple[int, dict]] = []
    trained = KerasTrainer(early_stopping_patience=0).fit(
        TrialParams(units=(16,), epochs=4, batch_size=32, learning_rate=0.01),
        data,
        report=lambda e, m: seen.append((e, dict(m))),
        seed=0,
    )
    result = trained.result
    assert [e for e, _ in seen] == [1, 2, 3, 4]
    assert all("val_accuracy" in m and "loss" in m for _, m in seen)
    assert result.score_name == "val_accuracy" and result.score > 0.8
    assert result.epochs_run == 4 and 1 <= result.best_epoch <= 4
    assert result.n_params == 4 * 16 + 16 + 16 * 3 + 3
    # The model keeps the best epoch's weights: its validation accuracy is the score.
    pred = trained.model.predict(data.val.x, verbose=0).argmax(axis=1)
    assert np.mean(pred == data.val.y) == pytest.approx(result.score, abs=1e-6)
    KerasTrainer().release()


def test_prune_signal_from_report_stops_training() -> None:
    data = _blobs().training_data()

    def report(epoch: int, metrics: object) -> None:
        if epoch == 2:
            raise TrialPrunedSignal(epoch)

    with pytest.raises(TrialPrunedSignal) as info:
        KerasTrainer().fit(TrialParams(units=(8,), epochs=10), data, report=report, seed=0)
    assert info.value.epoch == 2


def test_infinite_loss_fails_the_trial_with_a_reason() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3)).astype("float32")
    y = (rng.normal(size=120) * 1e30).astype("float32")  # squared error overflows float32
    data = from_arrays(x, y, task="regression").training_data()
    with pytest.raises(TrialFailedError) as info:
        KerasTrainer().fit(
            TrialParams(units=(4,), epochs=3), data, report=lambda e, m: None, seed=0
        )
    assert info.value.reason == "nan_loss"


def test_regression_predicts_in_the_data_units_and_early_stops() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 5)).astype("float32")
    y = (x @ np.array([3.0, -2.0, 1.0, 0.5, 0.0]) * 100 + 500).astype("float32")
    data = from_arrays(x, y, task="regression").training_data()
    trained = KerasTrainer(early_stopping_patience=2).fit(
        TrialParams(units=(32,), epochs=60, learning_rate=0.01, batch_size=32),
        data,
        report=lambda e, m: None,
        seed=0,
    )
    result = trained.result
    assert result.score_name == "val_rmse"
    assert result.score < 0.25 * float(np.std(data.val.y))  # far better than the mean
    assert result.epochs_run <= 60
    pred = trained.model.predict(data.val.x, verbose=0).reshape(-1)
    assert abs(float(np.mean(pred)) - float(np.mean(data.val.y))) < 0.25 * float(np.std(y))


@pytest.mark.parametrize("pooling", ["max", "avg", "none"])
def test_cnn_builds_for_small_images_with_every_regularizer(pooling: str) -> None:
    from whynet.config import DataConfig
    from whynet.data import load_dataset

    spec = load_dataset(DataConfig(source="digits", n_samples=200), seed=0).spec
    for reg in ("none", "l1", "l2", "l1_l2", "dropout"):
        params = TrialParams(
            architecture="cnn",
            units=(),
            filters=(8, 8, 8),
            kernel_size=3,
            pooling=pooling,
            dense_units=16,
            regularization=reg,
            l1=1e-4,
            l2=1e-4,
            dropout=0.2,
            activation="selu",
        )
        model = build_model(params, spec)
        assert model.output_shape == (None, 10)
    KerasTrainer().release()


def test_epochs_of_equal_accuracy_are_told_apart_by_validation_loss() -> None:
    # Well separated blobs: validation accuracy reaches 1.0 within a few epochs
    # and stays there while the loss keeps falling.
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    x = (rng.normal(size=(300, 4)) + y[:, None] * 6.0).astype("float32")
    data = from_arrays(x, y, seed=1).training_data()
    seen: list[dict] = []
    trained = KerasTrainer(early_stopping_patience=0).fit(
        TrialParams(units=(16,), epochs=8, batch_size=32, learning_rate=0.01),
        data,
        report=lambda e, m: seen.append(dict(m)),
        seed=0,
    )
    result = trained.result
    top = max(m["val_accuracy"] for m in seen)
    tied = [i for i, m in enumerate(seen) if m["val_accuracy"] == top]
    assert len(tied) >= 2, "the data should give several epochs of equal accuracy"
    expected = min(tied, key=lambda i: seen[i]["val_loss"]) + 1
    assert result.best_epoch == expected
    assert result.metrics["val_loss"] == pytest.approx(seen[expected - 1]["val_loss"])
    # The model holds that epoch's weights.
    loss = trained.model.evaluate(data.val.x, data.val.y, verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(seen[expected - 1]["val_loss"], rel=1e-4)
    KerasTrainer().release()
