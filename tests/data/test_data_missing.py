"""Missing values (`data.missing`): imputed on the training split, dropped, or refused."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from whynet.config import DataConfig, parse_config
from whynet.data import Dataset, from_arrays, from_frame, load_dataset
from whynet.data._preprocess import FrameEncoder
from whynet.exceptions import DataError
from whynet.testing import tiny_config

N = 120
MISSING_AGE = (3, 10, 17, 29, 44, 58, 71, 95)  # 8 of 120 cells: under 7 %
MISSING_COLOR = (5, 22, 40, 63, 88)


def _survey(n: int = N) -> pd.DataFrame:
    """A survey: numbers, string categories and a yes/no answer, some cells empty."""
    rng = np.random.default_rng(3)
    answer = np.array(["yes", "no"])[np.arange(n) % 2]
    frame = pd.DataFrame(
        {
            "age": np.round(rng.normal(40.0, 12.0, size=n) + (answer == "yes") * 15.0, 1),
            "hours": rng.integers(10, 60, size=n),
            "color": np.array(["red", "blue", "green"])[rng.integers(0, 3, size=n)],
            "answer": answer,
        }
    )
    frame["age"] = frame["age"].astype(float)
    frame.loc[list(MISSING_AGE), "age"] = np.nan
    frame["color"] = frame["color"].astype(object)
    frame.loc[list(MISSING_COLOR), "color"] = None
    return frame


@pytest.fixture
def survey_csv(tmp_path: Path) -> Path:
    path = tmp_path / "survey.csv"
    _survey().to_csv(path, index=False)  # empty cells where values are missing
    assert ",," in path.read_text() or ",\n" in path.read_text()
    return path


def _load(path: Path, **config: object) -> Dataset:
    return load_dataset(DataConfig(source=str(path), target="answer", **config), seed=0)  # type: ignore[arg-type]


def test_missing_cells_are_imputed_by_default_and_reported(survey_csv: Path) -> None:
    ds = _load(survey_csv)
    names = ds.spec.feature_names
    assert names == (
        "age",
        "hours",
        "age_missing",
        "color_blue",
        "color_green",
        "color_missing",
        "color_red",
    )
    for split in (ds.train, ds.val, ds.test):
        assert np.isfinite(split.x).all()
    assert ds.spec.n_train + ds.spec.n_val + ds.spec.n_test == N  # no row dropped
    assert dict(ds.details)["data.imputed"] == "age: 8, color: 5"
    [note] = ds.notes
    assert "Imputed missing values in survey.csv" in note and "age: 8, color: 5" in note
    assert "fitted on the training split" in note
    # Every row with an empty color cell is in the 'missing' category.
    everything = np.concatenate([ds.train.x, ds.val.x, ds.test.x])
    assert int(everything[:, names.index("color_missing")].sum()) == len(MISSING_COLOR)


def test_the_imputer_is_fitted_on_the_training_split_only(survey_csv: Path) -> None:
    ds = _load(survey_csv)
    names = ds.spec.feature_names
    assert names is not None
    age = ds.train.x[:, names.index("age")]
    flag = ds.train.x[:, names.index("age_missing")]
    gaps = flag > flag.min()  # the indicator is standardized too
    assert 0 < gaps.sum() < len(MISSING_AGE)  # some empty cells fell in train, not all
    # The filled-in value is the median of the training rows' known ages (in the
    # standardized units), and the scaler is fitted on the same rows.
    filled = np.unique(age[gaps])
    assert len(filled) == 1
    assert filled[0] == pytest.approx(np.median(age[~gaps]), abs=1e-5)
    assert age.mean() == pytest.approx(0.0, abs=1e-5)
    # Validation and test rows with an empty age get that same training median.
    for split in (ds.val, ds.test):
        other = split.x[:, names.index("age_missing")] > flag.min()
        np.testing.assert_allclose(split.x[other, names.index("age")], filled[0], atol=1e-6)
    # ... which is not the median of all rows (that would leak validation and test).
    everything = np.concatenate([ds.train.x, ds.val.x, ds.test.x])[:, names.index("age")]
    known = np.concatenate([ds.train.x, ds.val.x, ds.test.x])[:, names.index("age_missing")]
    all_rows_median = np.median(everything[known == known.min()])
    assert all_rows_median != pytest.approx(filled[0], abs=1e-3)


def test_the_fitted_encoder_transforms_raw_rows_with_gaps() -> None:
    frame = _survey()
    encoder = FrameEncoder(["age", "hours"], ["color"], name="survey")
    train = frame.iloc[:80]
    encoder.fit(train.drop(columns="answer"))
    known = train["age"].dropna()
    imputed = train["age"].fillna(known.median())
    expected = (known.median() - imputed.mean()) / imputed.std(ddof=0)
    # A raw frame as a user has it: other column order, the target still in it.
    rows = pd.DataFrame(
        {"answer": ["yes", "no"], "color": [None, "purple"], "hours": [20, 30], "age": [np.nan, 50]}
    )
    out = pickle.loads(pickle.dumps(encoder)).transform(rows)
    assert out.shape == (2, len(encoder.feature_names or ()))
    names = encoder.feature_names
    assert names is not None
    assert out[0, names.index("age")] == pytest.approx(expected, rel=1e-5)
    assert out[0, names.index("age_missing")] > out[1, names.index("age_missing")]
    assert out[0, names.index("color_missing")] == 1.0  # an empty cell is the 'missing' category
    assert out[1, [i for i, n in enumerate(names) if n.startswith("color_")]].sum() == 0.0
    with pytest.raises(DataError, match=r"no column\(s\) 'hours'"):
        encoder.transform(rows.drop(columns="hours"))


def test_drop_drops_rows_with_gaps_and_says_how_many(survey_csv: Path) -> None:
    ds = _load(survey_csv, missing="drop")
    dropped = len(set(MISSING_AGE) | set(MISSING_COLOR))
    assert ds.spec.n_train + ds.spec.n_val + ds.spec.n_test == N - dropped
    assert ds.spec.feature_names is not None and "age_missing" not in ds.spec.feature_names
    assert ds.notes == (
        f"Dropped {dropped} of {N} rows with missing values ({dropped} with missing features): "
        "`data.missing: drop`.",
    )
    assert dict(ds.details) == {"data.dropped_rows": str(dropped)}
    # Another mode is other data: a study cannot resume across it.
    assert ds.spec.fingerprint != _load(survey_csv).spec.fingerprint


def test_the_mode_does_not_change_complete_data(tmp_path: Path) -> None:
    path = tmp_path / "complete.csv"
    _survey().dropna().to_csv(path, index=False)
    prints = {_load(path, missing=mode).spec.fingerprint for mode in ("impute", "drop", "error")}
    assert len(prints) == 1
    assert _load(path).notes == ()


def test_error_refuses_and_names_impute(survey_csv: Path) -> None:
    with pytest.raises(DataError) as info:
        _load(survey_csv, missing="error")
    message = str(info.value)
    assert "'age' (8 row(s)), 'color' (5 row(s))" in message
    assert "`data.missing: impute`" in message and "`data.missing: drop`" in message


def test_a_missing_target_is_an_error_unless_drop() -> None:
    frame = _survey().dropna()
    frame.loc[frame.index[[4, 8]], "answer"] = None
    for mode in ("impute", "error"):
        with pytest.raises(DataError) as info:
            from_frame(frame, target="answer", missing=mode)
        message = str(info.value)
        assert "target column 'answer' has missing or infinite values in 2 row(s)" in message
        assert "`data.missing: drop`" in message
    ds = from_frame(frame, target="answer", missing="drop", name="survey")
    assert ds.spec.n_train + ds.spec.n_val + ds.spec.n_test == len(frame) - 2
    assert "Dropped 2 of" in ds.notes[0] and "2 with a missing or unusable target" in ds.notes[0]


def test_a_non_numeric_regression_target_is_dropped_only_with_drop() -> None:
    frame = _survey().dropna().drop(columns="answer")
    frame["price"] = np.linspace(1.0, 9.0, len(frame)).astype(object)
    frame.loc[frame.index[[1, 2, 7]], "price"] = "n/a"
    with pytest.raises(DataError) as info:
        from_frame(frame, target="price", task="regression")
    message = str(info.value)
    assert "non-numeric values in 3 row(s) (e.g. 'n/a')" in message
    assert "`data.missing: drop`" in message
    ds = from_frame(frame, target="price", task="regression", missing="drop")
    assert ds.spec.task == "regression"
    assert ds.spec.n_train + ds.spec.n_val + ds.spec.n_test == len(frame) - 3
    assert "Dropped 3 of" in ds.notes[0]


def test_nan_in_numeric_arrays_is_imputed_and_in_images_refused() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    x[[2, 9], 1] = np.nan
    x[5, 2] = np.inf
    ds = from_arrays(x, np.arange(60) % 2)
    names = ds.spec.feature_names
    assert names is not None and names[:3] == ("x0", "x1", "x2")
    # An indicator for each column with gaps in the training rows.
    assert set(names[3:]) <= {"x1_missing", "x2_missing"} and len(names) > 3
    assert ds.spec.input_shape == (len(names),)
    assert np.isfinite(ds.train.x).all() and np.isfinite(ds.test.x).all()
    assert dict(ds.details)["data.imputed"] == "x1: 2, x2: 1"
    images = rng.random(size=(40, 4, 4, 1))
    images[7, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match=r"cannot impute\. Set `data\.missing: drop`"):
        from_arrays(images, np.arange(40) % 2)
    ds = from_arrays(images, np.arange(40) % 2, missing="drop")
    assert ds.spec.n_train + ds.spec.n_val + ds.spec.n_test == 39
    with pytest.raises(DataError, match="unknown missing-value mode 'fill'"):
        from_arrays(x, np.arange(60) % 2, missing="fill")


def test_a_search_on_a_csv_with_gaps_trains_and_records_the_imputation(
    survey_csv: Path, workdir: Path
) -> None:
    from mlflow import MlflowClient

    from whynet.search._runner import run_search

    config = tiny_config(
        study="survey",
        data={"source": str(survey_csv), "target": "answer"},
        search__trials=1,
        training__max_epochs=1,
    )
    stream = io.StringIO()
    result = run_search(parse_config(config), stream=stream)
    assert result.counts["complete"] == 1
    out = " ".join(stream.getvalue().split())
    assert "New study 'survey'" in out
    assert "Imputed missing values in survey.csv" in out and "age: 8, color: 5" in out
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    [exp] = [e for e in client.search_experiments() if e.name == "survey"]
    [parent] = [
        r
        for r in client.search_runs([exp.experiment_id])
        if r.data.tags.get("whynet.kind") == "search"
    ]
    assert parent.data.params["data.missing"] == "impute"
    assert parent.data.params["data.imputed"] == "age: 8, color: 5"
    assert "Imputed missing values" in parent.data.tags["whynet.data_notes"]
