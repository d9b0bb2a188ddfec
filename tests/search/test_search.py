"""Real tiny searches through Keras, Optuna and MLflow, checked in the stores."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import optuna
import pytest
from mlflow import MlflowClient

import whynet
from whynet.config import parse_config
from whynet.data import load_dataset
from whynet.exceptions import ResumeError
from whynet.testing import tiny_config


def _client(workdir: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")


def _study(workdir: Path, name: str = "tiny") -> optuna.Study:
    from whynet.search import make_storage

    return optuna.load_study(study_name=name, storage=make_storage(str(workdir / "whynet.journal")))


def test_search_fills_the_study_and_mirrors_it_in_mlflow(workdir: Path) -> None:
    result = whynet.search(tiny_config(), progress=False)

    study = _study(workdir)
    assert len(study.trials) == 3
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert study.user_attrs["data_fingerprint"]
    assert result.counts == {"complete": 3, "pruned": 0, "failed": 0}
    assert list(result.trials["number"]) == [0, 1, 2]

    client = _client(workdir)
    [exp] = [e for e in client.search_experiments() if e.name == "tiny"]
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("whynet.kind") == "search"]
    children = [r for r in runs if r.data.tags.get("whynet.kind") == "trial"]
    assert len(parents) == 1 and len(children) == 3
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.params["data.source"] == "digits"
    assert parent.data.tags["whynet.data_fingerprint"] == study.user_attrs["data_fingerprint"]
    assert "test_accuracy" in parent.data.metrics
    assert parent.data.metrics["best_val_accuracy"] == pytest.approx(result.best_score)
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.status == "FINISHED"
        assert child.data.tags["whynet.state"] == "complete"
        assert child.info.run_name.startswith(
            f"trial-00{child.data.tags['whynet.trial_number']} mlp"
        )
        assert child.data.params["activation"] in {"relu", "sigmoid", "tanh", "gelu", "elu", "selu"}
        curve = client.get_metric_history(child.info.run_id, "val_accuracy")
        assert [m.step for m in curve] == [1, 2]
        assert "duration_seconds" in child.data.metrics and "n_params" in child.data.metrics
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"config.yaml", "results"} <= artifacts

    # The logged best model loads from MLflow and predicts raw rows like the
    # saved network predicts their preprocessed features.
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    [logged] = mlflow.search_logged_models(experiment_ids=[exp.experiment_id], output_format="list")
    assert logged.source_run_id == parent.info.run_id
    assert result.model_uri == logged.model_uri
    loaded = mlflow.pyfunc.load_model(logged.model_uri)
    data = load_dataset(parse_config(tiny_config()).data, seed=0)
    pred = loaded.predict(data.raw_example)
    probs = pred[[f"proba_{k}" for k in data.labels]].to_numpy()
    expected = result.best_model.predict(data.train.x[: len(pred)], verbose=0)
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-6)


def test_best_model_is_selected_on_validation_and_tested_once(workdir: Path) -> None:
    result = whynet.search(tiny_config(search__trials=4), progress=False)
    study = _study(workdir)
    complete = [t for t in study.trials if t.values]
    best_val = max(t.values[0] for t in complete)
    assert result.best_score == best_val
    assert study.trials[result.best_trial].values[0] == best_val
    # The trainer is only ever given train and validation splits.
    assert not hasattr(
        load_dataset(parse_config(tiny_config()).data, seed=0).training_data(), "test"
    )
    # The test metrics are of the saved model on the test split, and logged on its trial.
    data = load_dataset(parse_config(tiny_config()).data, seed=0)
    model = result.best_model
    acc = float(np.mean(model.predict(data.test.x, verbose=0).argmax(axis=1) == data.test.y))
    assert result.test_metrics["test_accuracy"] == pytest.approx(acc)
    client = _client(workdir)
    tested = client.search_runs(
        [client.get_experiment_by_name("tiny").experiment_id],
        filter_string="tags.`whynet.best` = 'true'",
    )
    assert [r.data.tags["whynet.trial_number"] for r in tested] == [str(result.best_trial)]
    assert "test_accuracy" in tested[0].data.metrics
    others = client.search_runs(
        [client.get_experiment_by_name("tiny").experiment_id],
        filter_string="tags.`whynet.kind` = 'trial'",
    )
    assert sum("test_accuracy" in r.data.metrics for r in others) == 1
    # Only the selected model stays on disk, and it reloads to the same predictions.
    models = sorted(p.name for p in (workdir / "whynet-runs" / "tiny" / "models").iterdir())
    assert models == [f"trial-{result.best_trial:05d}.keras"]
    import keras

    again = keras.models.load_model(result.best_model_path, safe_mode=True)
    np.testing.assert_array_equal(
        again.predict(data.test.x, verbose=0), model.predict(data.test.x, verbose=0)
    )


def test_running_again_resumes_and_says_so(workdir: Path) -> None:
    first = whynet.search(tiny_config(search__trials=2), progress=False)
    assert not first.resumed
    stream = io.StringIO()
    from whynet.search import run_search

    second = run_search(parse_config(tiny_config(search__trials=2)), stream=stream)
    assert second.resumed
    assert "Resuming study 'tiny' (2 earlier trials)" in stream.getvalue()
    study = _study(workdir)
    assert [t.number for t in study.trials] == [0, 1, 2, 3]
    client = _client(workdir)
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id])
    assert sum(r.data.tags.get("whynet.kind") == "search" for r in runs) == 2
    assert sum(r.data.tags.get("whynet.kind") == "trial" for r in runs) == 4


def test_resume_with_changed_space_or_data_is_refused_before_writing(workdir: Path) -> None:
    whynet.search(tiny_config(search__trials=1), progress=False)
    before = (workdir / "whynet.journal").read_bytes()
    with pytest.raises(ResumeError) as info:
        whynet.search(tiny_config(search__trials=1, space__activation="tanh"), progress=False)
    assert "activation changed" in str(info.value) and "study='NEW_NAME'" in str(info.value)
    with pytest.raises(ResumeError, match="data fingerprint changed"):
        whynet.search(tiny_config(search__trials=1, data__n_samples=300), progress=False)
    assert (workdir / "whynet.journal").read_bytes() == before


@pytest.mark.parametrize(
    ("sampler", "pruner", "extra"),
    [
        ("random", "median", {}),
        ("cmaes", "successive_halving", {}),
        ("tpe", "hyperband", {}),
        ("nsga2", "none", {"search__objectives": ["score", "n_params"]}),
        (
            "grid",
            "none",
            {
                "space__learning_rate": [0.01, 0.02],
                "space__mlp_units": [16],
                "space__activation": ["relu"],
                "space__regularization": "none",
            },
        ),
    ],
)
def test_samplers_and_pruners(workdir: Path, sampler: str, pruner: str, extra: dict) -> None:
    cfg = tiny_config(search__sampler=sampler, search__pruner=pruner, search__trials=2, **extra)
    result = whynet.search(cfg, progress=False)
    assert sum(result.counts.values()) == 2
    study = _study(workdir)
    assert len(study.trials) == 2
    if sampler == "nsga2":
        assert len(study.directions) == 2
        assert all(len(t.values) == 2 for t in study.trials if t.values)
    if sampler == "grid":
        assert sorted(t.params["learning_rate"] for t in study.trials) == [0.01, 0.02]


def test_timeout_stops_starting_trials(workdir: Path) -> None:
    result = whynet.search(tiny_config(search__trials=50, search__timeout=0.5), progress=False)
    assert 1 <= sum(result.counts.values()) < 50


def test_arrays_through_the_api_with_tracking_off(workdir: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype("float32")
    y = (x[:, 0] > 0).astype(int)
    cfg = tiny_config(tracking__enabled=False, data__n_samples=None)
    result = whynet.search(cfg, x=x, y=y, progress=False)
    assert result.best_params is not None and result.best_params.architecture == "mlp"
    assert result.tracking_uri is None
    assert not (workdir / "mlflow.db").exists()


def test_repeated_consecutive_failures_stop_the_search(workdir: Path) -> None:
    from whynet.exceptions import FatalSearchError

    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3)).astype("float32")
    y = (rng.normal(size=100) * 1e30).astype("float32")
    cfg = tiny_config(
        search__trials=10,
        search__max_consecutive_failures=2,
        data__n_samples=None,
        data__task="regression",
    )
    with pytest.raises(FatalSearchError, match="2 trials failed in a row"):
        whynet.search(cfg, x=x, y=y, progress=False)
    study = _study(workdir)
    assert [t.user_attrs["fail_reason"] for t in study.trials] == ["nan_loss", "nan_loss"]
    client = _client(workdir)
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    failed = [r for r in runs if r.data.tags.get("whynet.kind") == "trial"]
    assert {r.info.status for r in failed} == {"FAILED"}
    assert {r.data.tags["whynet.fail_reason"] for r in failed} == {"nan_loss"}
    [parent] = [r for r in runs if r.data.tags.get("whynet.kind") == "search"]
    assert parent.info.status == "FAILED"
