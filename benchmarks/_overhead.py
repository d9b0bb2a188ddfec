"""Overhead: one fixed network trained plainly and as one trial of each tool.

All contenders run in one process, interleaved (the order rotates each
repetition), after one warm-up round that is not counted: the first fit in a
process pays for graph tracing and the first MLflow call creates the store.
Each contender's time is divided by the plain fit of the same repetition and
the median of those ratios is reported.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks._space import NetConfig, build_model

# The fixed configuration: MLP 2x128, adam, batch 32, digits.
FIXED = NetConfig(
    architecture="mlp",
    units=(128, 128),
    activation="relu",
    regularization="none",
    learning_rate=1e-3,
    batch_size=32,
)
CONTENDERS = ("plain", "whynet", "kerastuner", "optuna")
MEASURES = ("total_s", "trial_s", "mlflow_trial_s", "train_s")


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


class Overhead:
    """The four contenders, sharing one data set and one working directory."""

    def __init__(self, *, workdir: Path, epochs: int) -> None:
        from whynet.config import DataConfig
        from whynet.data import load_dataset

        self.workdir = workdir
        self.epochs = epochs
        self.data = load_dataset(DataConfig(source="digits"), seed=0)
        self.spec = self.data.spec
        self.mlflow_uri = f"sqlite:///{workdir / 'mlflow.db'}"

    def plain(self, rep: str) -> dict[str, float | None]:
        """``model.fit`` of the fixed network, with validation each epoch like every tool."""
        import keras

        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        start = time.perf_counter()
        model = build_model(FIXED, input_shape=self.spec.input_shape, n_classes=10)
        model.fit(
            self.data.train.x,
            self.data.train.y,
            batch_size=FIXED.batch_size,
            epochs=self.epochs,
            validation_data=(self.data.val.x, self.data.val.y),
            verbose=0,
        )
        return {"total_s": time.perf_counter() - start}

    def whynet(self, rep: str) -> dict[str, float | None]:
        """``whynet.search`` with the space fixed to the network: one trial, no pruning."""
        import optuna
        from mlflow import MlflowClient

        import whynet
        from whynet.search import make_storage

        storage = str(self.workdir / "whynet.journal")
        study = f"overhead-{rep}"
        config = {
            "study": study,
            "data": {"source": "digits"},
            "space": {
                "architecture": "mlp",
                "mlp_layers": 2,
                "mlp_units": 128,
                "activation": "relu",
                "regularization": "none",
                "optimizer": "adam",
                "learning_rate": FIXED.learning_rate,
                "batch_size": FIXED.batch_size,
            },
            "training": {"max_epochs": self.epochs, "early_stopping_patience": 0},
            "search": {"trials": 1, "pruner": "none", "storage": storage},
            "tracking": {"uri": self.mlflow_uri},
            "output_dir": str(self.workdir / "whynet-runs"),
        }
        start = time.perf_counter()
        whynet.search(config, progress=False)
        total = time.perf_counter() - start
        trial = optuna.load_study(study_name=study, storage=make_storage(storage)).trials[0]
        client = MlflowClient(tracking_uri=self.mlflow_uri)
        experiment = client.get_experiment_by_name(study)
        mlflow_duration = None
        if experiment is not None:
            runs = client.search_runs(
                [experiment.experiment_id], filter_string="tags.`whynet.kind` = 'trial'"
            )
            if runs:
                mlflow_duration = runs[0].data.metrics.get("duration_seconds")
        return {
            "total_s": total,
            "trial_s": _seconds(trial.datetime_start, trial.datetime_complete),
            "mlflow_trial_s": mlflow_duration,
            "train_s": trial.user_attrs.get("train_seconds"),
        }

    def kerastuner(self, rep: str) -> dict[str, float | None]:
        """A one-trial ``RandomSearch`` whose hypermodel is the fixed network."""
        import keras_tuner as kt

        def build(hp: Any) -> Any:
            return build_model(FIXED, input_shape=self.spec.input_shape, n_classes=10)

        start = time.perf_counter()
        tuner = kt.RandomSearch(
            build,
            objective="val_accuracy",
            max_trials=1,
            seed=0,
            directory=str(self.workdir / "kerastuner"),
            project_name=f"overhead-{rep}",
            overwrite=True,
        )
        tuner.search(
            self.data.train.x,
            self.data.train.y,
            batch_size=FIXED.batch_size,
            epochs=self.epochs,
            validation_data=(self.data.val.x, self.data.val.y),
            verbose=0,
        )
        return {"total_s": time.perf_counter() - start}

    def optuna(self, rep: str) -> dict[str, float | None]:
        """One trial of the hand-written loop (pruning callback, MLflow child run)."""
        import mlflow
        import optuna

        from benchmarks._tools import optuna_objective

        start = time.perf_counter()
        mlflow.set_tracking_uri(self.mlflow_uri)
        mlflow.set_experiment("overhead-optuna")
        study = optuna.create_study(
            study_name=f"overhead-{rep}",
            storage=f"sqlite:///{self.workdir / 'optuna.db'}",
            direction="maximize",
            pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2),
        )
        objective = optuna_objective(
            self.data,
            sample=lambda trial: FIXED,
            seed=0,
            epochs=self.epochs,
            prune=True,
            early_stopping=False,
            model_path=self.workdir / f"optuna-{rep}.keras",
        )
        with mlflow.start_run(run_name=f"overhead-{rep}"):
            study.optimize(objective, n_trials=1)
        total = time.perf_counter() - start
        trial = study.trials[0]
        return {
            "total_s": total,
            "trial_s": _seconds(trial.datetime_start, trial.datetime_complete),
        }


def run_overhead(*, workdir: Path, epochs: int, reps: int) -> dict[str, Any]:
    """Warm up, then time every contender ``reps`` times, interleaved."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bench = Overhead(workdir=workdir, epochs=epochs)
    store_s = mlflow_store_seconds(workdir / "probe.db")
    for name in CONTENDERS:
        getattr(bench, name)("warmup")
    rows: list[dict[str, Any]] = []
    for rep in range(reps):
        order = CONTENDERS[rep % len(CONTENDERS) :] + CONTENDERS[: rep % len(CONTENDERS)]
        for name in order:
            timings = getattr(bench, name)(str(rep))
            rows.append({"rep": rep, "contender": name, **timings})
    return {
        "status": "ok",
        "epochs": epochs,
        "reps": reps,
        "rows": rows,
        "summary": summarize(rows),
        "mlflow_store_s": store_s,
    }


def mlflow_store_seconds(path: Path) -> float:
    """Seconds to create an MLflow SQLite store (its schema migrations), MLflow imported."""
    from mlflow import MlflowClient

    start = time.perf_counter()
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return time.perf_counter() - start


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Median seconds and median ratio to the same repetition's plain fit, per measure."""
    plain = {r["rep"]: r["total_s"] for r in rows if r["contender"] == "plain"}
    seconds: dict[str, list[float]] = defaultdict(list)
    ratios: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        for measure in MEASURES:
            value = row.get(measure)
            if value is not None:
                key = f"{row['contender']}.{measure}"
                seconds[key].append(value)
                ratios[key].append(value / plain[row["rep"]])
    return {
        key: {
            "median_s": statistics.median(seconds[key]),
            "median_ratio": statistics.median(ratios[key]),
            "n": len(seconds[key]),
        }
        for key in seconds
    }
