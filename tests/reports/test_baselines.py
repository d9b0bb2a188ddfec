"""Classical baselines: real scikit-learn fits, real Optuna journal studies, tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from whynet.config import RunConfig
from whynet.exceptions import ConfigError, ResumeError
from whynet.reports._baselines import COLUMNS, run_baselines, tuned_study_name
from whynet.reports._repeats import repeat_dataset
from whynet.search._factories import make_storage
from whynet.trainers._sklearn import CLASSICAL_MODELS, SklearnTrainer, models_for

SCHEMA = (
    "group",
    "factor",
    "level",
    "repeat",
    "seed",
    "score",
    "metric",
    "val_score",
    "fit_seconds",
    "predict_seconds_per_1k",
    "n_params",
    "selected",
    "variant",
)


@pytest.fixture(scope="module", params=["iris", "synthetic_regression"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    config = RunConfig(seed=3, data={"source": request.param, "n_samples": 150, "n_features": 5})
    storage = str(tmp_path_factory.mktemp("baselines") / "b.journal")
    frame = run_baselines(config, repeats=2, trials_per_model=2, storage=storage, study_prefix="t")
    return config, storage, frame


def test_every_model_appears_default_and_tuned_for_its_task(run: tuple) -> None:
    config, _, frame = run
    task = "classification" if config.data.source == "iris" else "regression"
    assert tuple(frame.columns[: len(SCHEMA)]) == SCHEMA
    assert list(frame.columns) == list(COLUMNS)
    expected = set()
    for name in models_for(task):
        expected.add(f"{name} (default)")
        if CLASSICAL_MODELS[name].tunable:
            expected.add(f"{name} (tuned)")
    assert set(frame["level"]) == expected
    assert ("naive_bayes (default)" in expected) == (task == "classification")
    assert len(frame) == 2 * len(expected)  # every level in both repeats
    assert set(frame["group"]) == {"baseline"} and set(frame["factor"]) == {"model"}
    assert set(frame["variant"]) == {"default", "tuned"}
    assert not frame["selected"].any()
    metric = "test_accuracy" if task == "classification" else "test_rmse"
    assert set(frame["metric"]) == {metric}
    assert frame["score"].notna().all() and frame["val_score"].notna().all()
    assert (frame["fit_seconds"] > 0).all() and (frame["predict_seconds_per_1k"] > 0).all()
    tuned = frame[frame["variant"] == "tuned"]
    assert (tuned["tuning_trials"] == 2).all()
    assert frame.attrs["trials_per_model"] == 2 and frame.attrs["repeats"] == 2
    assert "2 TPE trials per repeat on the validation split" in frame.attrs["budget"]


def test_every_model_of_a_repeat_saw_the_same_split(run: tuple) -> None:
    config, _, frame = run
    for repeat, rows in frame.groupby("repeat"):
        assert set(rows["seed"]) == {config.seed + int(repeat)}
        assert set(rows["split_id"]) == {repeat_dataset(config, int(repeat))[1]}
    assert frame.groupby("repeat")["split_id"].first().nunique() == 2


def test_tuning_objective_is_the_validation_score(run: tuple) -> None:
    config, storage, frame = run
    optuna_storage = make_storage(storage)
    trainer = SklearnTrainer()
    for repeat in (0, 1):
        dataset, _ = repeat_dataset(config, repeat)
        for name in ("decision_tree", "knn"):
            study = optuna.load_study(
                study_name=tuned_study_name("t", name, repeat), storage=optuna_storage
            )
            complete = [t for t in study.trials if t.state.name == "COMPLETE"]
            assert len(complete) == 2
            # Each trial's value is the validation score of those params,
            # refitted from TrainingData (which has no test split).
            for trial in complete:
                _, val_score, _ = trainer.fit(
                    name, trial.params, dataset.training_data(), seed=config.seed + repeat
                )
                assert trial.value == pytest.approx(val_score)
            row = frame[(frame["level"] == f"{name} (tuned)") & (frame["repeat"] == repeat)]
            assert json.loads(row["params"].iloc[0]) == study.best_trial.params
            assert row["val_score"].iloc[0] == pytest.approx(study.best_value)
        hgb = optuna.load_study(
            study_name=tuned_study_name("t", "hist_gradient_boosting", repeat),
            storage=optuna_storage,
        )
        row = frame[
            (frame["level"] == "hist_gradient_boosting (tuned)") & (frame["repeat"] == repeat)
        ]
        # The refit uses the best trial's params plus the space's fixed choices.
        assert json.loads(row["params"].iloc[0]) == {
            **hgb.best_trial.params,
            "early_stopping": True,
        }


def test_resume_skips_completed_studies_and_finishes_interrupted_ones(tmp_path: Path) -> None:
    config = RunConfig(data={"source": "wine", "n_samples": 120})
    storage = str(tmp_path / "b.journal")
    kwargs = {
        "repeats": 1,
        "trials_per_model": 2,
        "models": ["decision_tree", "knn"],
        "storage": storage,
        "study_prefix": "resume",
    }
    fits: list[str] = []

    def stop_after_first_tuned(row: dict) -> None:
        fits.append(row["level"])
        if row["level"] == "decision_tree (tuned)":
            raise KeyboardInterrupt  # as Ctrl-C between two fits

    with pytest.raises(KeyboardInterrupt):
        run_baselines(config, on_fit=stop_after_first_tuned, **kwargs)
    assert fits == ["decision_tree (default)", "decision_tree (tuned)"]

    fits.clear()
    first = run_baselines(config, on_fit=lambda row: fits.append(row["level"]), **kwargs)
    assert fits == ["knn (default)", "knn (tuned)"]  # decision_tree is not fitted again

    fits.clear()
    again = run_baselines(config, on_fit=lambda row: fits.append(row["level"]), **kwargs)
    assert fits == []  # every study is complete: nothing is tuned or fitted
    pd.testing.assert_frame_equal(first, again)

    # A larger budget adds only the missing trial, then refits the tuned model.
    fits.clear()
    more = run_baselines(
        config, on_fit=lambda row: fits.append(row["level"]), **{**kwargs, "trials_per_model": 3}
    )
    assert fits == ["decision_tree (tuned)", "knn (tuned)"]
    assert set(more.loc[more["variant"] == "tuned", "tuning_trials"]) == {3}
    # The tuning time counts the earlier trials of the resumed study too.
    tuned = more["variant"] == "tuned"
    assert (
        more.loc[tuned, "tuning_seconds"].to_numpy()
        >= first.loc[first["variant"] == "tuned", "tuning_seconds"].to_numpy()
    ).all()
    study = optuna.load_study(
        study_name=tuned_study_name("resume", "knn", 0), storage=make_storage(storage)
    )
    assert len(study.trials) == 3


def test_linear_data_ranks_linear_regression_among_the_best(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 4))
    y = x @ np.array([3.0, -2.0, 1.5, 0.5]) + 1.0 + rng.normal(scale=0.1, size=240)
    path = tmp_path / "linear.csv"
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(y=y)
    frame.to_csv(path, index=False)
    config = RunConfig(data={"source": str(path), "target": "y", "task": "regression"})
    result = run_baselines(
        config,
        repeats=2,
        trials_per_model=2,
        storage=str(tmp_path / "b.journal"),
        study_prefix="lin",
    )
    means = result.groupby("level")["score"].mean().sort_values()
    assert means.index[0].startswith("linear ("), means
    assert means["linear (default)"] < 0.5 * means["dummy (default)"]


def test_bad_models_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    storage = tmp_path / "b.journal"
    regression = RunConfig(data={"source": "synthetic_regression", "n_samples": 60})
    with pytest.raises(ConfigError, match=r"'naive_bayes'.*classification only.*regression"):
        run_baselines(
            regression, repeats=1, models=["naive_bayes"], storage=str(storage), study_prefix="x"
        )
    with pytest.raises(ConfigError, match="Did you mean 'random_forest'"):
        run_baselines(
            regression,
            repeats=1,
            models=["random_forrest"],
            storage=str(storage),
            study_prefix="x",
        )
    with pytest.raises(ConfigError, match="`trials_per_model` must be 1 or more"):
        run_baselines(regression, trials_per_model=0, storage=str(storage), study_prefix="x")
    assert not storage.exists()


def test_a_study_tuned_on_another_split_is_not_resumed(tmp_path: Path) -> None:
    storage = str(tmp_path / "b.journal")
    kwargs = {"repeats": 1, "trials_per_model": 1, "models": ["knn"], "storage": storage}
    first = run_baselines(
        RunConfig(seed=0, data={"source": "digits", "n_samples": 150}), study_prefix="s", **kwargs
    )
    assert first.attrs["notes"] == [
        "Images (8x8x1) were flattened to rows of pixels for the classical models."
    ]
    fits: list[dict] = []
    with pytest.raises(ResumeError, match="tuned on another split"):
        run_baselines(
            RunConfig(seed=1, data={"source": "digits", "n_samples": 150}),
            study_prefix="s",
            on_fit=fits.append,
            **kwargs,
        )
    assert fits == []


def test_trainer_caps_neighbours_at_the_training_rows() -> None:
    dataset, _ = repeat_dataset(RunConfig(data={"source": "iris", "n_samples": 30}), 0)
    data = dataset.training_data()
    model, val_accuracy, seconds = SklearnTrainer().fit("knn", {"n_neighbors": 500}, data, seed=0)
    assert model.n_neighbors == len(data.train) and 0.0 <= val_accuracy <= 1.0 and seconds > 0
    assert not hasattr(data, "test")


def test_trainer_fits_on_one_thread_by_default() -> None:
    from threadpoolctl import threadpool_info

    def threads() -> list[int]:
        return [info["num_threads"] for info in threadpool_info()]

    outside = threads()
    with SklearnTrainer()._limits():
        assert set(threads()) == {1}
    with SklearnTrainer(threads=None)._limits():
        assert threads() == outside
    with pytest.raises(ConfigError, match="`threads` must be 1 or more"):
        SklearnTrainer(threads=0)


def test_importing_the_baselines_imports_no_framework() -> None:
    import subprocess
    import sys

    code = (
        "import sys, whynet.reports._baselines, whynet.trainers\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'mlflow', 'sklearn', 'matplotlib')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
