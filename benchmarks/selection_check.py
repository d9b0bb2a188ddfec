"""Does a validation-loss tie-break pick models that test better? An offline check.

Trains ``--configs`` random networks of the benchmark space on one split,
each to 20 epochs with early stopping (patience 5 on validation accuracy, as
every tool in the harness), recording every epoch's validation accuracy,
validation loss and *test* accuracy. Then it replays selection on random
30-trial subsets of those networks with three rules and prints the mean test
accuracy of the model each rule selects:

- ``accuracy``: best validation accuracy; first such epoch; ties between
  trials to fewer parameters (whynet before 2026-11-29),
- ``accuracy+loss``: best validation accuracy; ties (epochs and trials) to the
  lower validation loss (whynet since),
- ``loss``: lowest validation loss alone (for comparison).

    python -m benchmarks.selection_check collect --seed 0 --configs 45
    python -m benchmarks.selection_check analyze selection-*.json

Test accuracy is used here only to judge the rules, never to select.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

RULES = ("accuracy", "accuracy+loss", "loss")


def collect(seed: int, configs: int, dataset: str, out: Path) -> None:
    import keras
    import optuna

    from benchmarks._space import EARLY_STOPPING_PATIENCE, build_model, sample_optuna
    from whynet.config import DataConfig
    from whynet.data import load_dataset

    data = load_dataset(DataConfig(source=dataset), seed=seed)
    spec = data.spec
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed + 100))

    class Record(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[dict[str, float]] = []

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            test = self.model.evaluate(data.test.x, data.test.y, verbose=0, return_dict=True)
            self.rows.append(
                {
                    "val_acc": float(logs["val_accuracy"]),
                    "val_loss": float(logs["val_loss"]),
                    "test_acc": float(test["accuracy"]),
                }
            )

    trials: list[dict[str, Any]] = []
    for i in range(configs):
        trial = study.ask()
        net = sample_optuna(trial, is_image=spec.is_image)
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed * 1000 + i)
        model = build_model(net, input_shape=spec.input_shape, n_classes=int(spec.n_classes or 2))
        record = Record()
        start = time.perf_counter()
        model.fit(
            data.train.x,
            data.train.y,
            batch_size=net.batch_size,
            epochs=20,
            validation_data=(data.val.x, data.val.y),
            verbose=0,
            callbacks=[
                record,
                keras.callbacks.EarlyStopping(
                    monitor="val_accuracy", mode="max", patience=EARLY_STOPPING_PATIENCE
                ),
            ],
        )
        trials.append({"i": i, "params": int(model.count_params()), "epochs": record.rows})
        study.tell(trial, max(r["val_acc"] for r in record.rows))
        print(f"config {i}: {time.perf_counter() - start:.1f} s", flush=True)
        out.write_text(json.dumps(trials))


def _selected_test_accuracy(trials: list[dict[str, Any]], rule: str) -> float:
    def epoch(t: dict[str, Any]) -> dict[str, float]:
        rows = t["epochs"]
        if rule == "loss":
            return min(rows, key=lambda r: r["val_loss"])
        if rule == "accuracy":
            return max(enumerate(rows), key=lambda ir: (ir[1]["val_acc"], -ir[0]))[1]
        return max(rows, key=lambda r: (r["val_acc"], -r["val_loss"]))

    picks = [(t, epoch(t)) for t in trials]
    if rule == "loss":
        return min(picks, key=lambda p: p[1]["val_loss"])[1]["test_acc"]
    if rule == "accuracy":
        key = lambda p: (p[1]["val_acc"], -p[0]["params"], -p[0]["i"])  # noqa: E731
    else:
        key = lambda p: (p[1]["val_acc"], -p[1]["val_loss"])  # noqa: E731
    return max(picks, key=key)[1]["test_acc"]


def analyze(paths: list[Path], subset: int = 30, draws: int = 3000) -> None:
    for path in paths:
        trials = json.loads(path.read_text())
        rng = random.Random(0)
        scores: dict[str, list[float]] = {rule: [] for rule in RULES}
        for _ in range(draws):
            sample = rng.sample(trials, min(subset, len(trials)))
            for rule in RULES:
                scores[rule].append(_selected_test_accuracy(sample, rule))
        means = ", ".join(f"{r} {statistics.mean(v):.4f}" for r, v in scores.items())
        print(f"{path.name} ({len(trials)} configs, {draws} draws of {subset}): {means}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.selection_check")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--configs", type=int, default=45)
    c.add_argument("--dataset", default="digits")
    c.add_argument("--out", type=Path)
    a = sub.add_parser("analyze")
    a.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args()
    if args.command == "collect":
        out = args.out or Path(f"selection-{args.dataset}-{args.seed}.json")
        collect(args.seed, args.configs, args.dataset, out)
    else:
        analyze(args.paths)


if __name__ == "__main__":
    main()
