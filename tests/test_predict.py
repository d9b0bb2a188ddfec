"""The best model works on raw data: loaded in a fresh process, it predicts the original labels.

A real tiny search on a CSV with string categories and a "yes"/"no" target
logs its model to a real MLflow store; a fresh Python process loads it by URI
(and from the saved folder) and predicts the raw test rows of the original
file, which must give the labels of the search's own test evaluation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import whynet
from whynet.config import DataConfig
from whynet.data import load_dataset
from whynet.exceptions import DataError, UserError
from whynet.testing import tiny_config

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
# TODO(lead): missing values are imputed once the `data.missing` work (branch
# h-data) is merged; the survey then has missing cells, with no other change
# to these tests.
IMPUTES = "missing" in DataConfig.model_fields


def _survey(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """A survey-like table: numbers, text categories, and a "yes"/"no" answer."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    region = rng.choice(["north", "south", "east", "west"], n)
    income = rng.normal(50.0, 12.0, n).round(1)
    answer = np.where((age > 45) ^ np.isin(region, ["north", "east"]), "yes", "no")
    frame = pd.DataFrame({"age": age, "region": region, "income": income, "answer": answer})
    if IMPUTES:
        # A few missing cells, as in a real survey: imputed by the search and
        # inside the model alike.
        frame.loc[[3, 50, 120, 200], "income"] = np.nan
        frame.loc[[7, 90, 150], "age"] = np.nan
        frame.loc[[11, 170], "region"] = np.nan
    return frame


def _config(root: Path, source: Path, target: str, study: str) -> dict[str, Any]:
    config = tiny_config(search__trials=1)
    config["study"] = study
    config["data"] = {"source": str(source), "target": target}
    config["search"]["storage"] = str(root / "whynet.journal")
    config["tracking"] = {"uri": f"sqlite:///{root / 'mlflow.db'}"}
    config["output_dir"] = str(root / "runs")
    config["space"]["mlp_units"] = 16
    return config


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300
    )


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "whynet", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One search on the survey CSV, and the labels of its own test evaluation."""
    root = tmp_path_factory.mktemp("survey")
    source = root / "survey.csv"
    _survey().to_csv(source, index=False)
    result = whynet.search(_config(root, source, "answer", "survey"), progress=False)
    data = load_dataset(DataConfig(source=str(source), target="answer"), seed=0)
    assert data.labels == ("no", "yes") and data.rows is not None
    probs = result.best_model.predict(data.test.x, verbose=0)
    expected = [data.labels[int(k)] for k in np.argmax(probs, axis=1)]
    # The same labels give the search's own test accuracy.
    accuracy = float(np.mean(np.argmax(probs, axis=1) == data.test.y))
    assert accuracy == pytest.approx(result.test_metrics["test_accuracy"])
    # The raw test rows of the original file, target column and all.
    test_rows = pd.read_csv(source).iloc[data.rows["test"]]
    assert list(test_rows["answer"]) == [data.labels[int(k)] for k in data.test.y]
    test_rows.to_csv(root / "test_rows.csv", index=False)
    # The search does not register the model; a user may, and load it by name.
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    try:
        version = mlflow.register_model(result.model_uri, "survey-model").version
        mlflow.MlflowClient().set_registered_model_alias("survey-model", "champion", version)
    finally:
        mlflow.set_tracking_uri(previous)
    return {
        "root": root,
        "result": result,
        "expected": expected,
        "probs": probs,
        "version": version,
    }


def test_model_logged_to_mlflow_predicts_raw_rows_in_a_fresh_process(
    survey: dict[str, Any],
) -> None:
    root, result = survey["root"], survey["result"]
    assert result.model_uri and result.parent_run_id and result.model_path
    assert (result.model_path / "MLmodel").is_file()
    assert result.best_model_path.is_file()  # the bare network is still saved
    uris = [
        result.model_uri,
        f"runs:/{result.parent_run_id}/best_model",
        f"models:/survey-model/{survey['version']}",
        str(result.model_path),
    ]
    code = f"""
import json, sys
import mlflow, pandas as pd
mlflow.set_tracking_uri({f"sqlite:///{root / 'mlflow.db'}"!r})
rows = pd.read_csv("test_rows.csv")
out = {{}}
for uri in {uris!r}:
    model = mlflow.pyfunc.load_model(uri)  # plain MLflow: no whynet call
    pred = model.predict(rows)
    out[uri] = {{
        "labels": pred["prediction"].tolist(),
        "columns": list(pred.columns),
        "proba_yes": pred["proba_yes"].tolist(),
        "inputs": model.metadata.get_input_schema().input_names(),
        "types": [str(t) for t in model.metadata.get_input_schema().input_types()],
    }}
print(json.dumps(out))
"""
    proc = _python(code, root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    raw = pd.read_csv(root / "test_rows.csv")
    for uri in uris:
        got = out[uri]
        assert got["labels"] == survey["expected"], uri
        assert got["columns"] == ["prediction", "proba_no", "proba_yes"]
        np.testing.assert_allclose(got["proba_yes"], survey["probs"][:, 1], rtol=1e-5, atol=1e-6)
        # The signature names the raw columns, with their raw types.
        assert got["inputs"] == ["age", "region", "income"]
        assert "string" in got["types"][1]
        accuracy = float(np.mean(np.asarray(got["labels"]) == raw["answer"].to_numpy()))
        assert accuracy == pytest.approx(result.test_metrics["test_accuracy"])


def test_whynet_predict_command_writes_csv_and_refuses_a_missing_column(
    survey: dict[str, Any],
) -> None:
    root, result = survey["root"], survey["result"]
    proc = _cli(
        "predict",
        f"runs:/{result.parent_run_id}/best_model",
        "test_rows.csv",
        "--output",
        "pred.csv",
        "--tracking-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        cwd=root,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    written = pd.read_csv(root / "pred.csv")
    assert written["prediction"].tolist() == survey["expected"]
    assert list(written.columns) == ["prediction", "proba_no", "proba_yes"]

    pd.read_csv(root / "test_rows.csv").drop(columns=["region"]).to_csv(
        root / "no_region.csv", index=False
    )
    bad = _cli("predict", str(result.model_path), "no_region.csv", cwd=root)
    assert bad.returncode == 2
    # One line: the data is checked against the MLmodel file before Keras loads.
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "'region'" in lines[0], lines
    assert "Traceback" not in bad.stderr and bad.stdout == ""

    # A URI with a store that does not exist: one line, and no store is created.
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    missing = _cli("predict", f"runs:/{result.parent_run_id}/best_model", "x.csv", cwd=elsewhere)
    assert missing.returncode == 2 and "x.csv does not exist" in missing.stderr
    (elsewhere / "x.csv").write_text("age\n1\n")
    missing = _cli("predict", f"runs:/{result.parent_run_id}/best_model", "x.csv", cwd=elsewhere)
    assert missing.returncode == 2 and "no MLflow store at" in missing.stderr, missing.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == ["x.csv"]


def test_predict_api_on_raw_frame_and_its_errors(survey: dict[str, Any]) -> None:
    root, result = survey["root"], survey["result"]
    rows = pd.read_csv(root / "test_rows.csv")
    # Columns in another order, the target dropped: the same predictions.
    shuffled = rows[["income", "region", "age"]]
    assert result.predict(shuffled)["prediction"].tolist() == survey["expected"]
    model = whynet.load_model(result.model_path)
    assert model.task == "classification" and model.classes == ("no", "yes")
    assert model.columns == ["age", "region", "income"]
    champion = whynet.load_model(
        "models:/survey-model@champion", tracking_uri=f"sqlite:///{root / 'mlflow.db'}"
    )
    assert champion.predict(rows)["prediction"].tolist() == survey["expected"]
    with pytest.raises(DataError, match="'income'"):
        model.predict(rows.drop(columns=["income"]))
    with pytest.raises(DataError, match="'age' must hold numbers"):
        model.predict(rows.assign(age="old"))
    with pytest.raises(UserError, match="no saved model at"):
        whynet.load_model(root / "nowhere")
    with pytest.raises(UserError, match="bare Keras network"):
        whynet.predict(result.best_model_path, rows)
    with pytest.raises(UserError, match="cannot load the model runs:/0123/best_model"):
        whynet.load_model("runs:/0123/best_model", tracking_uri=f"sqlite:///{root / 'mlflow.db'}")


def test_regression_model_predicts_in_the_original_units(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 200
    rooms = rng.integers(1, 8, n)
    city = rng.choice(["a", "b", "c"], n)
    visits = (120.0 * rooms + np.where(city == "a", 400.0, 0.0) + rng.normal(0, 20, n)).round()
    source = tmp_path / "counts.csv"
    pd.DataFrame({"rooms": rooms, "city": city, "visits": visits}).to_csv(source, index=False)
    config = _config(tmp_path, source, "visits", "counts")
    config["data"]["task"] = "regression"
    config["tracking"] = {"enabled": False}
    result = whynet.search(config, progress=False)
    data = load_dataset(DataConfig(source=str(source), target="visits", task="regression"), seed=0)
    assert data.rows is not None
    rows = pd.read_csv(source).iloc[data.rows["test"]]
    pred = whynet.predict(result.model_path, rows)
    assert list(pred.columns) == ["prediction"]
    expected = result.best_model.predict(data.test.x, verbose=0).reshape(-1)
    np.testing.assert_allclose(pred["prediction"], expected, rtol=1e-5, atol=1e-3)
    rmse = float(np.sqrt(np.mean((pred["prediction"] - rows["visits"].to_numpy()) ** 2)))
    assert rmse == pytest.approx(result.test_metrics["test_rmse"], rel=1e-4)


def test_image_model_takes_raw_uint8_arrays_and_image_files(tmp_path: Path) -> None:
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images[:300] * 16).clip(0, 255).astype(np.uint8)  # (n, 8, 8) raw pixels
    y = digits.target[:300]
    config = _config(tmp_path, tmp_path / "unused", "unused", "pixels")
    del config["data"]
    config["tracking"] = {"enabled": False}
    result = whynet.search(config, x=x, y=y, progress=False)
    data = whynet.data.from_arrays(x, y, name="pixels", seed=0)
    assert data.rows is not None
    test_x = x[data.rows["test"]]
    expected = np.argmax(result.best_model.predict(data.test.x, verbose=0), axis=1)
    pred = result.predict(test_x)
    assert pred["prediction"].tolist() == expected.tolist()  # the original int labels
    assert pred["prediction"].dtype == np.int64
    assert [c for c in pred.columns if c.startswith("proba_")] == [f"proba_{k}" for k in range(10)]
    # With MLflow alone: its signature is the raw array's shape and dtype.
    import mlflow

    plain = mlflow.pyfunc.load_model(str(result.model_path))
    [spec] = plain.metadata.get_input_schema().inputs
    assert spec.shape == (-1, 8, 8, 1) and spec.type == np.dtype("uint8")
    assert plain.predict(test_x[..., None])["prediction"].tolist() == expected.tolist()
    # The same images as grayscale PNG files, read at the model's size.
    folder = tmp_path / "new"
    folder.mkdir()
    for i, image in enumerate(test_x[:4]):
        Image.fromarray(image).save(folder / f"img{i}.png")
    from_files = whynet.predict(result.model_path, folder)
    assert from_files["file"].map(lambda f: Path(f).name).tolist() == [
        f"img{i}.png" for i in range(4)
    ]
    assert from_files["prediction"].tolist() == expected[:4].tolist()


def test_image_folder_model_predicts_the_image_files(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(2)
    folder = tmp_path / "shapes"
    for label, rows in (("bottom", slice(4, 8)), ("top", slice(0, 4))):
        (folder / label).mkdir(parents=True)
        for i in range(40):
            pixels = rng.integers(0, 60, (8, 8))
            pixels[rows] += 180
            Image.fromarray(pixels.astype(np.uint8)).save(folder / label / f"{i:03d}.png")
    config = _config(tmp_path, folder, "unused", "shapes")
    del config["data"]["target"]
    config["data"]["image_size"] = [8, 8]
    config["tracking"] = {"enabled": False}
    result = whynet.search(config, progress=False)
    data = load_dataset(DataConfig(source=str(folder), image_size=(8, 8)), seed=0)
    assert data.rows is not None and data.labels == ("bottom", "top")
    expected = [
        data.labels[int(k)]
        for k in np.argmax(result.best_model.predict(data.test.x, verbose=0), axis=1)
    ]
    pred = whynet.predict(result.model_path, folder)  # every image, in the folder's order
    assert len(pred) == 80
    test = pred.iloc[data.rows["test"]]
    assert test["prediction"].tolist() == expected
    accuracy = float(np.mean(test["file"].map(lambda f: Path(f).parent.name) == test["prediction"]))
    assert accuracy == pytest.approx(result.test_metrics["test_accuracy"])


def test_split_rows_point_into_the_original_table_also_when_rows_are_dropped() -> None:
    frame = _survey()
    frame.loc[[5, 17, 60], "income"] = np.nan
    for missing in ("impute", "drop"):
        data = whynet.data.from_frame(frame, target="answer", missing=missing, seed=0)
        assert data.rows is not None and data.labels is not None
        taken = np.concatenate([data.rows[k] for k in ("train", "val", "test")])
        kept = frame.index if missing == "impute" else frame.dropna().index
        assert sorted(taken.tolist()) == kept.tolist()
        for name, split in (("train", data.train), ("val", data.val), ("test", data.test)):
            answers = frame["answer"].iloc[data.rows[name]].tolist()
            assert answers == [data.labels[int(k)] for k in split.y], (missing, name)
