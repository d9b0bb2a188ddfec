"""What a search reports: table order, grid, Pareto front and names, on real studies."""

from __future__ import annotations

import io
import math
import pickle
import shlex
import subprocess
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial
from rich.console import Console

import whynet
from whynet.config import parse_config
from whynet.exceptions import ResumeError, UserError
from whynet.search import SearchResult, make_storage, run_search, trials_frame
from whynet.search._selection import best_complete, may_be_selected
from whynet.spaces import SearchSpace, TrialParams
from whynet.testing import tiny_config


def _journal(workdir: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=make_storage(str(workdir / "whynet.journal")))


def _add(study: optuna.Study, attrs: dict, *, values: list[float] | None, state=None) -> None:
    """A trial written the way whynet's loop writes it (params and user attributes)."""
    attrs = dict(attrs)
    params = TrialParams(units=(attrs.pop("units", 64),), batch_size=64)
    attrs["whynet_params"] = params.to_dict()
    study.add_trial(
        create_trial(
            state=state or TrialState.COMPLETE,
            params={"mlp_units_0": params.units[0]},
            distributions={"mlp_units_0": CategoricalDistribution([16, 64, 256])},
            values=values,
            user_attrs=attrs,
            intermediate_values={1: 0.5} if state == TrialState.PRUNED else None,
        )
    )


def _complete(units: int, score: float, val_loss: float, n_params: int) -> dict:
    return {
        "units": units,
        "whynet_state": "complete",
        "val_loss": val_loss,
        "n_params": n_params,
        "best_epoch": 2,
        "epochs_run": 2,
        "train_seconds": 1.5,
        "score_name": "val_accuracy",
    }


# Point 7: one order, one truth ------------------------------------------------


def test_the_table_lists_the_selected_trial_first_with_whole_numbers(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from whynet import cli

    study = optuna.create_study(
        study_name="tied", storage=make_storage("whynet.journal"), direction="maximize"
    )
    # Equal scores: the smaller network has the higher validation loss. The
    # selection takes the lower loss; a table sorted by score, then size,
    # showed the other one first.
    _add(study, _complete(16, 0.9, 0.50, 1_000), values=[0.9])
    _add(study, _complete(256, 0.9, 0.20, 90_000), values=[0.9])
    _add(
        study,
        {"units": 64, "whynet_state": "pruned", "epochs_run": 1},
        values=None,
        state=TrialState.PRUNED,
    )
    _add(
        study,
        {"units": 64, "whynet_state": "failed", "fail_reason": "nan_loss"},
        values=None,
        state=TrialState.FAIL,
    )
    _add(
        study,
        {"units": 64, "whynet_state": "failed", "fail_reason": "oom"},
        values=None,
        state=TrialState.FAIL,
    )

    best = best_complete(study, maximize=True)
    assert best.number == 1
    frame = trials_frame(study)
    assert str(frame["n_params"].dtype) == "Int64" and str(frame["batch_size"].dtype) == "Int64"
    assert frame["rank"].iloc[:2].tolist() == [2, 1] and frame["rank"].iloc[2:].isna().all()

    result = SearchResult(
        study_name="tied",
        resumed=False,
        best_trial=best.number,
        best_params=TrialParams(**_params(best.user_attrs["whynet_params"])),
        best_score=0.9,
        score_name="val_accuracy",
        test_metrics={},
        best_model_path=None,
        trials=frame,
    )
    assert result.ranking["number"].iloc[0] == best.number
    shown = io.StringIO()
    monkeypatch.setattr(cli, "out", Console(file=shown, width=200))
    cli._print_results(result, parse_config({"study": "tied"}))
    text = shown.getvalue()
    rows = [line.split("│") for line in text.splitlines() if line.startswith("│")]
    assert [r[1].strip() for r in rows] == ["1", "0"]  # the selected trial first
    # batch_size, n_params and epochs_run print as whole numbers, not 64.0.
    assert [cell.strip() for cell in rows[0][6:9]] == ["64", "90000", "2"]
    assert "Not in the table: 1 pruned, 2 failed trial(s)" in text
    frame.to_csv(workdir / "trials.csv", index=False)
    assert ",90000," in (workdir / "trials.csv").read_text()


def test_the_printed_mlflow_command_runs_as_printed(workdir: Path) -> None:
    from whynet.cli import mlflow_ui_command

    command = mlflow_ui_command("sqlite:///mlflow.db")
    assert command is not None
    words = shlex.split(command)
    program = Path(words[0])
    assert program.is_absolute() and program.is_file()
    if program.name.startswith("python"):
        assert words[1:3] == ["-m", "mlflow"]
    shown = subprocess.run([*words, "--help"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and "--backend-store-uri" in shown.stdout
    uri = words[words.index("--backend-store-uri") + 1]
    assert uri == f"sqlite:///{workdir.resolve() / 'mlflow.db'}"
    file_store = shlex.split(mlflow_ui_command("mlruns") or "")[-1]
    assert file_store == str(workdir.resolve() / "mlruns")
    assert mlflow_ui_command("http://127.0.0.1:5000") is None


# Point 8: a grid without duplicates -------------------------------------------


def test_a_grid_runs_each_distinct_network_once_and_says_it_is_exhausted(workdir: Path) -> None:
    space = {
        "architecture": "mlp",
        "mlp_layers": [1, 2],
        "mlp_units": [16, 32],
        "activation": "relu",
        "regularization": "none",
        "optimizer": "adam",
        "learning_rate": 0.01,
        "batch_size": 64,
    }
    # 2 one-layer and 4 two-layer networks; a product over both widths had 8 points.
    assert len(SearchSpace.from_config(space).grid_points()) == 6
    config = tiny_config(
        search__sampler="grid",
        search__trials=20,
        execution__workers=1,
        tracking__enabled=False,
        training__max_epochs=1,
    )
    config["space"] = space
    stream = io.StringIO()
    result = run_search(parse_config(config), stream=stream)
    assert sum(result.counts.values()) == 6
    trials = _journal(workdir, "tiny").trials
    networks = [TrialParams(**_params(t.user_attrs["whynet_params"])) for t in trials]
    assert len(networks) == len(set(networks)) == 6
    assert sorted(n.units for n in networks) == [
        (16,),
        (16, 16),
        (16, 32),
        (32,),
        (32, 16),
        (32, 32),
    ]
    assert "Every point of the grid has been tried" in stream.getvalue()


def _params(p: dict) -> dict:
    return {**p, "units": tuple(p["units"]), "filters": tuple(p["filters"])}


# Point 9: two objectives mean a trade-off -------------------------------------


def _two_objective_study(rows: list[tuple[float, int, float]], n_val: int) -> optuna.Study:
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.set_user_attr("n_val", n_val)
    for score, n_params, loss in rows:
        _add(study, _complete(64, score, loss, n_params), values=[score, float(n_params)])
    return study


def test_two_objectives_select_the_smallest_network_within_one_standard_error() -> None:
    # n_val=100, best accuracy 0.95: one standard error is sqrt(0.95 * 0.05 / 100) = 0.0218,
    # so every score from 0.9282 up counts as as good as the best.
    study = _two_objective_study(
        [
            (0.95, 50_000, 0.10),  # 0: the best score, the largest network
            (0.93, 4_000, 0.20),  # 1: within one standard error, smaller: selected
            (0.92, 1_000, 0.30),  # 2: smaller still, but outside the noise
            (0.90, 8_000, 0.30),  # 3: dominated by 1
        ],
        n_val=100,
    )
    assert best_complete(study, maximize=True).number == 1
    frame = trials_frame(study)
    assert list(frame["pareto"]) == [True, True, True, False]
    front = frame[frame["pareto"]].sort_values("rank")
    assert list(front["number"]) == [1, 0, 2]  # the selected member first
    # Without noise (n_val unknown) the rule is the best score, then size.
    assert best_complete(study, maximize=True, n_val=0).number == 0
    # A model is kept for every trial on the front so far, and for no other.
    assert may_be_selected(study, score=0.91, val_loss=0.1, n_params=500, number=4, maximize=True)
    assert not may_be_selected(
        study, score=0.91, val_loss=0.1, n_params=5_000, number=4, maximize=True
    )


def test_a_two_objective_search_saves_the_documented_member_of_its_pareto_front(
    workdir: Path,
) -> None:
    import keras

    config = tiny_config(
        search__sampler="nsga2",
        search__objectives=["score", "n_params"],
        search__trials=4,
        execution__workers=1,
        tracking__enabled=False,
        training__max_epochs=1,
        space__mlp_units=[8, 64],
        space__mlp_layers=[1, 2],
    )
    result = whynet.search(config, progress=False)
    study = _journal(workdir, "tiny")
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    front = result.pareto_front
    assert len(front) >= 1
    points = [(t.values[0], t.values[1]) for t in complete]
    for _, row in front.iterrows():
        assert not any(
            s >= row.score and n <= row.n_params and (s > row.score or n < row.n_params)
            for s, n in points
        )
    # The documented rule: the smallest network within one standard error of the best score.
    n_val = study.user_attrs["n_val"]
    assert n_val == 80  # 400 digits, 20 % for validation
    best = max(s for s, _ in points)
    threshold = best - math.sqrt(best * (1 - best) / n_val)
    smallest = min(int(n) for s, n in points if s >= threshold)
    assert front["number"].iloc[0] == result.best_trial
    assert front["n_params"].iloc[0] == smallest
    model = keras.models.load_model(result.best_model_path, safe_mode=True)
    assert model.count_params() == smallest
    kept = [p.name for p in (workdir / "whynet-runs" / "tiny" / "models").iterdir()]
    assert kept == [f"trial-{result.best_trial:05d}.keras"]


# Point 10: names in the Python API --------------------------------------------


def _frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(120, 3))
    return pd.DataFrame(
        {"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": np.where(x[:, 0] > 0, "yes", "no")}
    )


def test_data_frames_get_studies_and_experiments_named_after_the_data(workdir: Path) -> None:
    config = tiny_config(search__trials=1, training__max_epochs=1, data__n_samples=None)
    del config["study"], config["data"]  # the data comes as frames and arrays
    first = whynet.search(config, frame=_frame(0), target="label", progress=False)
    second = whynet.search(config, frame=_frame(1), target="label", progress=False)
    assert first.study_name.startswith("whynet-frame-") and len(first.study_name) == 21
    assert second.study_name.startswith("whynet-frame-")
    assert first.study_name != second.study_name
    again = whynet.search(config, frame=_frame(0), target="label", progress=False)
    assert again.study_name == first.study_name and again.resumed
    x = np.random.default_rng(2).normal(size=(120, 3))
    arrays = whynet.search(config, x=x, y=(x[:, 0] > 0).astype(int), progress=False)
    assert arrays.study_name.startswith("whynet-arrays-")

    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    for result, source in ((first, "frame"), (second, "frame"), (arrays, "arrays")):
        experiment = client.get_experiment_by_name(result.study_name)
        assert experiment is not None
        [parent, *_] = client.search_runs(
            [experiment.experiment_id], filter_string="tags.`whynet.kind` = 'search'"
        )
        assert parent.data.params["data.source"] == source


def test_errors_raised_in_python_name_python_arguments(workdir: Path) -> None:
    from whynet.search import sync_study

    config = tiny_config(search__trials=1, training__max_epochs=1, tracking__enabled=False)
    whynet.search(config, progress=False)
    config["space"]["activation"] = "tanh"
    with pytest.raises(ResumeError) as info:
        whynet.search(config, progress=False)
    assert "study='NEW_NAME'" in str(info.value) and "--study" not in str(info.value)
    assert "--study NEW_NAME" in info.value.cli_message
    with pytest.raises(UserError) as missing:
        sync_study("nope", storage="whynet.journal", tracking_uri="sqlite:///mlflow.db")
    assert "storage=" in str(missing.value) and "--storage" not in str(missing.value)
    assert "--storage" in missing.value.cli_message
    # The command-line wording survives a trip between processes.
    copy = pickle.loads(pickle.dumps(info.value))
    assert str(copy) == str(info.value) and copy.cli_message == info.value.cli_message
