"""Ablations: the plan adapts to the data, levels are paired, the test split chooses nothing,
and a stopped run resumes without training a finished cell again."""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from whynet.config import RunConfig
from whynet.data import TrainingData, load_dataset
from whynet.exceptions import ConfigError, TrialFailedError
from whynet.reports._ablations import (
    COLUMNS,
    Factor,
    Level,
    plan_factors,
    run_ablations,
    run_network_repeats,
    subset_train,
)
from whynet.reports._repeats import repeat_dataset
from whynet.spaces import TrialParams

SELECTED = TrialParams(units=(16,), activation="relu", learning_rate=0.01, batch_size=32, epochs=2)


def _changed(a: TrialParams, b: TrialParams) -> set[str]:
    return {f.name for f in fields(TrialParams) if getattr(a, f.name) != getattr(b, f.name)}


def test_plan_for_tabular_data_has_no_cnn_and_says_so() -> None:
    spec = load_dataset(RunConfig(data={"source": "iris"}).data, seed=0).spec
    selected = TrialParams(
        activation="gelu", regularization="l2", l2=1e-3, learning_rate=0.02, epochs=10
    )
    plan = plan_factors(spec, selected, budget="small")
    names = [f.name for f in plan]
    assert names == ["activation", "regularization", "learning_rate", "batch_size", "train_size"]
    assert any("architecture: not measured" in note for note in plan.notes)
    for factor in plan:
        assert sum(level.selected for level in factor.levels) == 1, factor.name
        for level in factor.levels:
            assert level.params.architecture == "mlp"
            # Only this factor changes (the activation of a level, its strength, ...).
            allowed = {
                "activation": {"activation"},
                "regularization": {"regularization", "l1", "l2", "dropout"},
                "learning_rate": {"learning_rate"},
                "batch_size": {"batch_size"},
                "train_size": set(),
            }[factor.name]
            assert _changed(level.params, selected) <= allowed, (factor.name, level.label)
    by_name = {f.name: f for f in plan}
    assert [lv.label for lv in by_name["activation"].levels] == ["sigmoid", "relu", "tanh", "gelu"]
    reg = {lv.label: lv for lv in by_name["regularization"].levels}
    assert reg["l2 0.001"].selected and reg["l2 0.001"].params.l2 == 1e-3  # its own strength
    assert reg["l1 0.0001"].params.l1 == 1e-4 and reg["l1 0.0001"].params.l2 == 0.0
    assert reg["dropout 0.2"].params.dropout == 0.2
    assert [lv.label for lv in by_name["learning_rate"].levels] == ["0.001", "0.01", "0.02", "0.1"]
    # iris has 90 training rows: a batch of 128 or 512 is the whole training set.
    assert spec.n_train < 128
    assert [lv.label for lv in by_name["batch_size"].levels] == ["32", str(spec.n_train)]
    assert [(lv.label, lv.train_fraction) for lv in by_name["train_size"].levels] == [
        ("10%", 0.1),
        ("30%", 0.3),
        ("100%", 1.0),
    ]


def test_plan_for_images_switches_mlp_and_cnn_to_valid_networks() -> None:
    from whynet.trainers._builders import build_model

    spec = load_dataset(RunConfig(data={"source": "digits", "n_samples": 300}).data, seed=0).spec
    assert spec.is_image
    plan = plan_factors(spec, SELECTED, budget="small")
    arch = {f.name: f for f in plan}["architecture"]
    mlp, cnn = arch.levels
    assert (mlp.label, mlp.selected, cnn.label, cnn.selected) == ("mlp", True, "cnn", False)
    assert cnn.params.units == () and cnn.params.filters and cnn.params.kernel_size
    assert _changed(cnn.params, SELECTED) <= {
        "architecture",
        "units",
        "filters",
        "kernel_size",
        "pooling",
        "dense_units",
    }
    model = build_model(cnn.params, spec)
    assert any("conv" in layer.name for layer in model.layers)
    # And back: a selected CNN gets an MLP level that builds.
    back = {f.name: f for f in plan_factors(spec, cnn.params, budget="small")}["architecture"]
    assert back.levels[1].selected and back.levels[0].params.filters == ()
    build_model(back.levels[0].params, spec)


def test_budgets_cap_epochs_add_levels_and_reject_unknown_names() -> None:
    spec = load_dataset(RunConfig(data={"source": "iris"}).data, seed=0).spec
    long = TrialParams(epochs=50)
    small = plan_factors(spec, long, budget="small")
    assert {lv.params.epochs for f in small for lv in f.levels} == {10}
    full = plan_factors(spec, long, budget="full")
    assert {lv.params.epochs for f in full for lv in f.levels} == {50}
    full_acts = [lv.label for lv in full[0].levels]
    assert len(full_acts) > len(small[0].levels) and "selu" in full_acts
    # A selected value shown like a usual level is that level, exactly.
    close = TrialParams(learning_rate=0.0100003, epochs=10)
    rates = {f.name: f for f in plan_factors(spec, close, budget="small")}["learning_rate"]
    assert [lv.label for lv in rates.levels] == ["0.001", "0.01", "0.1"]
    assert rates.levels[1].selected and rates.levels[1].params == close
    with pytest.raises(ConfigError, match=r"invalid budget 'huge'.*small, medium, full"):
        plan_factors(spec, long, budget="huge")


def test_large_data_gets_absolute_training_sizes() -> None:
    from dataclasses import replace

    spec = replace(load_dataset(RunConfig(data={"source": "iris"}).data, seed=0).spec)
    spec = replace(spec, n_train=25_000)
    sizes = {f.name: f for f in plan_factors(spec, SELECTED, budget="small")}["train_size"]
    assert [(lv.label, lv.selected) for lv in sizes.levels] == [
        ("1,000", False),
        ("10,000", False),
        ("25,000 (all)", True),
    ]
    assert sizes.levels[0].train_fraction == pytest.approx(1_000 / 25_000)


def test_train_size_subsets_only_the_training_split() -> None:
    data = load_dataset(RunConfig(data={"source": "wine"}).data, seed=3).training_data()
    small = subset_train(data, 0.3, seed=3)
    assert small.val is data.val  # validation unchanged
    assert not hasattr(small, "test")
    assert small.spec.n_train == len(small.train) == pytest.approx(0.3 * len(data.train), abs=3)
    # Stratified: every class keeps about its share.
    full_counts = np.bincount(data.train.y)
    small_counts = np.bincount(small.train.y, minlength=len(full_counts))
    assert np.all(np.abs(small_counts - 0.3 * full_counts) <= 1)
    # Rows come from the training split; seeded; nested (10% is inside 30%).
    train_rows = {row.tobytes() for row in data.train.x}
    assert all(row.tobytes() in train_rows for row in small.train.x)
    again = subset_train(data, 0.3, seed=3)
    np.testing.assert_array_equal(again.train.x, small.train.x)
    tiny = subset_train(data, 0.1, seed=3)
    small_rows = {row.tobytes() for row in small.train.x}
    assert all(row.tobytes() in small_rows for row in tiny.train.x)
    assert subset_train(data, 1.0, seed=3) is data
    with pytest.raises(ValueError, match="fraction"):
        subset_train(data, 0.0, seed=3)


class _Recording:
    """The real Keras trainer, recording what each fit was given."""

    def __init__(self, config: RunConfig, *, interrupt_at: int | None = None) -> None:
        from whynet.trainers import KerasTrainer

        self.inner = KerasTrainer(early_stopping_patience=config.training.early_stopping_patience)
        self.calls: list[dict[str, Any]] = []
        self.interrupt_at = interrupt_at

    def fit(self, params: TrialParams, data: Any, *, report: Any, seed: int) -> Any:
        if self.interrupt_at is not None and len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        self.calls.append(
            {
                "type": type(data),
                "seed": seed,
                "n_train": len(data.train),
                "val": data.val.x.tobytes(),
                "rows": {row.tobytes() for row in (*data.train.x, *data.val.x)},
                "activation": params.activation,
            }
        )
        return self.inner.fit(params, data, report=report, seed=seed)

    def release(self) -> None:
        self.inner.release()


def _two_factors(config: RunConfig) -> list[Factor]:
    return [
        Factor(
            "activation",
            (
                Level("relu", SELECTED, selected=True),
                Level("tanh", TrialParams(**{**SELECTED.to_dict(), "activation": "tanh"})),
            ),
        ),
        Factor(
            "train_size",
            (Level("30%", SELECTED, train_fraction=0.3), Level("100%", SELECTED, selected=True)),
        ),
    ]


def test_ablation_is_paired_uses_no_test_rows_and_resumes(tmp_path: Path) -> None:
    config = RunConfig(
        seed=5,
        data={"source": "iris"},
        training={"max_epochs": 2, "early_stopping_patience": 1},
    )
    factors = _two_factors(config)
    storage = str(tmp_path / "explain.log")
    fitted: list[dict[str, Any]] = []

    def run(trainer: _Recording) -> Any:
        return run_ablations(
            config,
            SELECTED,
            factors=factors,
            repeats=2,
            storage=storage,
            study_prefix="t",
            on_fit=fitted.append,
            trainer_factory=lambda c: trainer,
        )

    # A Ctrl-C during the third fit stops the run; the two finished cells stay.
    first = _Recording(config, interrupt_at=2)
    with pytest.raises(KeyboardInterrupt):
        run(first)
    assert len(first.calls) == 2 and len(fitted) == 2
    import optuna

    from whynet.search._factories import make_storage

    study = optuna.load_study(study_name="t-ablation-activation", storage=make_storage(storage))
    assert study.user_attrs == {"whynet_kind": "ablation", "whynet_factor": "activation"}
    states = sorted(t.state.name for t in study.trials)
    assert states == ["COMPLETE", "COMPLETE", "FAIL"]
    assert [t.user_attrs.get("fail_reason") for t in study.trials if t.state.name == "FAIL"] == [
        "interrupted"
    ]

    # Resuming trains only the cells left, the interrupted one included; the
    # selected configuration (relu = 100%) is one fit per repeat, shared.
    second = _Recording(config)
    table = run(second)
    assert len(second.calls) == 4 and len(fitted) == 8
    full_rows = table[(table["factor"] == "train_size") & (table["level"] == "100%")]
    relu_rows = table[(table["factor"] == "activation") & (table["level"] == "relu")]
    assert list(full_rows["shared_fit"]) == ["activation=relu"] * 2
    assert list(full_rows["score"]) == list(relu_rows["score"])
    assert set(relu_rows["shared_fit"]) == {""}
    assert list(table.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert len(table) == 8
    assert set(table["group"]) == {"ablation"} and set(table["metric"]) == {"test_accuracy"}
    assert table["score"].between(0, 1).all() and table["val_score"].between(0, 1).all()
    assert (table["status"] == "ok").all()
    assert table.attrs["studies"] == ["t-ablation-activation", "t-ablation-train_size"]

    # The pairing: in each repeat, every level of every factor trained with
    # seed 5 + r on the same split (the same test rows, the same validation rows).
    for r in (0, 1):
        rows = table[table["repeat"] == r]
        assert set(rows["seed"]) == {5 + r}
        assert rows["split_id"].nunique() == 1
        assert rows["split_id"].iloc[0] == repeat_dataset(config, r)[1]
    assert table.groupby("repeat")["split_id"].first().nunique() == 2
    calls = first.calls + second.calls
    assert {c["seed"] for c in calls} == {5, 6}
    for seed in (5, 6):
        vals = {c["val"] for c in calls if c["seed"] == seed}
        assert len(vals) == 1  # every level validated on the same rows
    # Each level has one row per repeat, and one level per factor is selected.
    assert table.groupby(["factor", "level"]).size().to_dict() == {
        ("activation", "relu"): 2,
        ("activation", "tanh"): 2,
        ("train_size", "100%"): 2,
        ("train_size", "30%"): 2,
    }
    assert table.groupby(["factor", "repeat"])["selected"].sum().eq(1).all()

    # The test split chose nothing: trainers got TrainingData (no test split)
    # and not one test row was among the rows they saw.
    assert all(c["type"] is TrainingData for c in calls)
    for c in calls:
        test = repeat_dataset(config, c["seed"] - 5)[0].test
        assert not c["rows"] & {row.tobytes() for row in test.x}
    # train_size subsets the training split only.
    full = repeat_dataset(config, 0)[0]
    sizes = table[table["factor"] == "train_size"].set_index(["level", "repeat"])["n_train"]
    assert sizes[("100%", 0)] == full.spec.n_train
    assert sizes[("30%", 0)] == pytest.approx(0.3 * full.spec.n_train, abs=3)

    # A third run trains nothing and returns the same table.
    third = _Recording(config)
    again = run(third)
    assert third.calls == [] and len(fitted) == 8
    cols = ["factor", "level", "repeat", "seed", "score", "val_score", "split_id"]
    assert again[cols].equals(table[cols])

    # A different configuration is not served from these cells.
    other = RunConfig(seed=6, data={"source": "iris"}, training={"max_epochs": 2})
    fourth = _Recording(other)
    run_ablations(
        other,
        SELECTED,
        factors=factors[:1],
        repeats=1,
        storage=storage,
        study_prefix="t",
        trainer_factory=lambda c: fourth,
    )
    assert len(fourth.calls) == 2


class _Diverges:
    def __init__(self) -> None:
        self.calls = 0

    def fit(self, params: TrialParams, data: Any, *, report: Any, seed: int) -> Any:
        self.calls += 1
        raise TrialFailedError("nan_loss", "the training loss became nan at epoch 1")

    def release(self) -> None:
        pass


def test_a_failed_fit_is_a_result_and_is_not_retried(tmp_path: Path) -> None:
    config = RunConfig(data={"source": "iris"}, training={"max_epochs": 1})
    factor = Factor("learning_rate", (Level("0.1", SELECTED, selected=True),))
    storage = f"sqlite:///{tmp_path / 'explain.db'}"  # an RDB storage keeps the NaN row too
    trainer = _Diverges()
    kwargs: dict[str, Any] = dict(
        factors=[factor],
        repeats=1,
        storage=storage,
        study_prefix="f",
        trainer_factory=lambda c: trainer,
    )
    table = run_ablations(config, SELECTED, **kwargs)
    assert trainer.calls == 1
    row = table.iloc[0]
    assert math.isnan(row["score"]) and row["status"] == "failed: nan_loss"
    assert table.attrs["failed"] == 1
    run_ablations(config, SELECTED, **kwargs)
    assert trainer.calls == 1


def test_network_repeats_give_the_leaderboard_row(tmp_path: Path) -> None:
    config = RunConfig(
        seed=2,
        data={"source": "synthetic_regression", "n_samples": 200, "n_features": 5},
        training={"max_epochs": 1},
    )
    params = TrialParams(units=(8,), epochs=1)
    seen: list[dict[str, Any]] = []
    table = run_network_repeats(
        config,
        params,
        repeats=2,
        storage=str(tmp_path / "explain.log"),
        study_prefix="n",
        on_fit=seen.append,
    )
    assert len(seen) == 2
    assert list(table["level"]) == ["network (tuned)"] * 2
    assert set(table["group"]) == {"baseline"} and set(table["factor"]) == {"model"}
    assert table["selected"].all() and set(table["variant"]) == {"tuned"}
    assert list(table["seed"]) == [2, 3]
    assert list(table["split_id"]) == [repeat_dataset(config, r)[1] for r in (0, 1)]
    assert (table["predict_seconds_per_1k"] > 0).all() and (table["n_params"] > 0).all()
    # Regression: the test RMSE, and a study that minimizes the validation RMSE.
    assert set(table["metric"]) == {"test_rmse"} and (table["score"] > 0).all()
    import optuna

    from whynet.search._factories import make_storage

    study = optuna.load_study(
        study_name="n-baseline-network", storage=make_storage(str(tmp_path / "explain.log"))
    )
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert sorted(t.value for t in study.trials) == sorted(table["val_score"])


_CHILD = """
import sys, time
from whynet.config import RunConfig
from whynet.reports._ablations import Factor, Level, run_ablations
from whynet.spaces import TrialParams

class Hangs:
    def fit(self, params, data, *, report, seed):
        print("fitting", flush=True)
        time.sleep(600)

    def release(self):
        pass

config = RunConfig(data={"source": "iris"}, training={"max_epochs": 1})
factor = Factor("activation", (Level("relu", TrialParams(epochs=1), selected=True),))
run_ablations(config, TrialParams(epochs=1), factors=[factor], repeats=1,
              storage=sys.argv[1], study_prefix="k", trainer_factory=lambda c: Hangs())
"""


def test_a_killed_run_leaves_a_stale_cell_that_the_next_run_trains(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    import optuna

    from whynet.search._factories import make_storage

    storage = str(tmp_path / "explain.log")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, storage], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "fitting"
    finally:
        child.kill()  # SIGKILL: nothing is cleaned up
        child.wait(timeout=30)
    study = optuna.load_study(study_name="k-ablation-activation", storage=make_storage(storage))
    assert [t.state.name for t in study.trials] == ["RUNNING"]

    config = RunConfig(data={"source": "iris"}, training={"max_epochs": 1})
    factor = Factor("activation", (Level("relu", TrialParams(epochs=1), selected=True),))
    trainer = _Diverges()
    table = run_ablations(
        config,
        TrialParams(epochs=1),
        factors=[factor],
        repeats=1,
        storage=storage,
        study_prefix="k",
        trainer_factory=lambda c: trainer,
    )
    assert trainer.calls == 1 and len(table) == 1
    trials = optuna.load_study(
        study_name="k-ablation-activation", storage=make_storage(storage)
    ).trials
    assert [(t.state.name, t.user_attrs.get("fail_reason")) for t in trials] == [
        ("FAIL", "stale"),
        ("FAIL", "nan_loss"),
    ]
