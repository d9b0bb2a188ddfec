"""Render ``docs/benchmarks.md`` from the JSON results of a benchmark run."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks._runner import PARTS, RESULTS_DIR, ROOT, Settings
from benchmarks._space import (
    ACTIVATIONS,
    BATCH_SIZES,
    CNN_BLOCKS,
    CNN_DENSE_UNITS,
    CNN_FILTERS,
    CNN_KERNEL_SIZE,
    CNN_POOLING,
    DROPOUT,
    EARLY_STOPPING_PATIENCE,
    LEARNING_RATE,
    MLP_LAYERS,
    MLP_UNITS,
    PENALTY,
    REGULARIZATIONS,
)
from benchmarks._tools import TOOLS

NOTES = ROOT / "benchmarks" / "notes.md"

DOC_PATH = ROOT / "docs" / "benchmarks.md"
PEERS = (
    "kerastuner_random",
    "kerastuner_hyperband",
    "kerastuner_bayesian",
    "optuna_tpe_median",
    "optuna_random",
)
# The reference figures: 2 cores, 30 trials, 3 seeds, digits.
REFERENCE = {
    "kerastuner_random": (107, 0.972),
    "kerastuner_hyperband": (69, 0.973),
    "kerastuner_bayesian": (184, 0.956),
    "optuna_tpe_median": (94, 0.974),
    "optuna_random": (107, 0.968),
}
REFERENCE_OVERHEAD = {"kerastuner": 1.20, "optuna": 1.08}
# The plain fit of the overhead config (MLP 2x128, 20 epochs) on its machine.
REFERENCE_PLAIN_FIT_S = 3.0


def machine_speed(data: dict[str, Any]) -> dict[str, float]:
    """How much slower this run's machine was than the issue's, by two yardsticks.

    Shared cloud machines differ from day to day (CPU steal, neighbours), so
    times are compared within one run only; these factors say how a run's
    absolute times (the harness's total among them) relate to the issue's.
    """
    factors: dict[str, float] = {}
    base = _mean(_values(_ok(_search_runs(data, "digits", "kerastuner_random")), "wall_s"))
    if base:
        factors["kerastuner_random"] = base / REFERENCE["kerastuner_random"][0]
    over = _overhead(data)
    if over is not None and over.get("status") == "ok":
        plain = over["summary"].get("plain.total_s", {}).get("median_s")
        if plain:
            factors["plain_fit"] = plain / REFERENCE_PLAIN_FIT_S
    return factors


def default_results() -> Path | None:
    """The full run's results if there are any, else the quick run's."""
    for name in ("full.json", "quick.json"):
        path = RESULTS_DIR / name
        if path.is_file():
            return path
    return None


def write_report(results: Path, doc: Path) -> None:
    data = json.loads(results.read_text())
    try:
        source = results.resolve().relative_to(ROOT)
    except ValueError:
        source = results
    doc.parent.mkdir(parents=True, exist_ok=True)
    main_page = doc.resolve() == DOC_PATH.resolve()
    doc.write_text(render(data, source=str(source), notes=main_page))


# Formatting -------------------------------------------------------------------


def _values(runs: Iterable[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in runs if r.get(key) is not None]


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _pm(values: Sequence[float], fmt: str = "{:.1f}") -> str:
    """Mean ± sample standard deviation (just the value when there is one)."""
    if not values:
        return "-"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.fmean(values))} ± {fmt.format(statistics.stdev(values))}"


def _num(value: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


# Sections ---------------------------------------------------------------------


def _why_not(run: dict[str, Any]) -> str:
    """Why a run has no figures, in a few words."""
    status = run.get("status")
    if status == "not_available":
        return "not available yet"
    if status == "skipped":
        return "skipped: time budget used up"
    return f"error: {str(run.get('error'))[:80]}"


def _search_runs(data: dict[str, Any], dataset: str, tool: str) -> list[dict[str, Any]]:
    return [
        r
        for r in data["runs"]
        if r["kind"] == "search" and r["dataset"] == dataset and r["tool"] == tool
    ]


def _ok(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs if r.get("status") == "ok"]


def _datasets(data: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    for r in data["runs"]:
        if r["kind"] == "search" and r["dataset"] not in seen:
            seen.append(r["dataset"])
    return seen


def _search_table(data: dict[str, Any], dataset: str) -> str:
    base = _mean(_values(_ok(_search_runs(data, dataset, "kerastuner_random")), "wall_s"))
    rows = []
    for key, tool in TOOLS.items():
        runs = _search_runs(data, dataset, key)
        if not runs:
            continue
        ok = _ok(runs)
        if not ok:
            rows.append([tool.label, _why_not(runs[0]), *["-"] * 7])
            continue
        wall = _values(ok, "wall_s")
        mean_wall = _mean(wall)
        ratio = f"{mean_wall / base:.2f}x" if base and mean_wall is not None else "-"
        counts = " / ".join(
            _num(_mean(_values(ok, k)), "{:.1f}") for k in ("complete", "pruned", "failed")
        )
        missing = [r for r in runs if r.get("status") != "ok"]
        note = f" ({len(missing)} runs: {_why_not(missing[0])})" if missing else ""
        rows.append(
            [
                tool.label + note,
                _pm(wall),
                ratio,
                counts,
                _pm(_values(ok, "epochs"), "{:.0f}"),
                _pm(_values(ok, "best_val_accuracy"), "{:.3f}"),
                _pm(_values(ok, "test_accuracy"), "{:.3f}"),
                _pm(_values(ok, "peak_rss_mb"), "{:.0f}"),
                str(len(ok)),
            ]
        )
    header = [
        "tool",
        "wall time (s)",
        "time vs KerasTuner RandomSearch",
        "trials complete / pruned / failed",
        "epochs trained",
        "best validation accuracy",
        "test accuracy of the selected model",
        "peak RSS (MiB)",
        "seeds",
    ]
    return _table(header, rows)


def _split_check(data: dict[str, Any], dataset: str) -> str:
    """Whether whynet's own data loading gave the split every peer used."""
    checked = [
        r
        for r in data["runs"]
        if r["kind"] == "search"
        and r["dataset"] == dataset
        and r.get("status") == "ok"
        and r["tool"].startswith("whynet")
    ]
    if not checked:
        return ""
    auto = sorted({r["workers"] for r in checked if r["tool"] == "whynet" and "workers" in r})
    note = (
        f"\nwhynet's default `workers: auto` started {' or '.join(map(str, auto))} worker(s) "
        "on this machine.\n"
        if auto
        else ""
    )
    bad = [r for r in checked if not r.get("same_split")]
    if not bad:
        return note + (
            f"\nIn all {len(checked)} whynet runs the study's data fingerprint was that of "
            "the split the peers were given.\n"
        )
    which = ", ".join(f"{r['tool']} seed {r['seed']}" for r in bad)
    return f"\n**Warning**: whynet's data fingerprint differed from the peers' split in: {which}.\n"


def _overhead(data: dict[str, Any]) -> dict[str, Any] | None:
    runs = [r for r in data["runs"] if r["kind"] == "overhead"]
    return runs[-1] if runs else None


_OVERHEAD_ROWS: tuple[tuple[str, str], ...] = (
    ("plain.total_s", "plain `model.fit` (build, compile, fit with validation)"),
    ("whynet.trial_s", "whynet: the trial in the study (ask to tell)"),
    ("whynet.mlflow_trial_s", "whynet: the trial's `duration_seconds` in MLflow"),
    ("whynet.train_s", "whynet: the trainer's fit alone (`train_seconds`)"),
    ("whynet.total_s", "whynet: the whole `whynet.search` call (1 trial)"),
    ("kerastuner.total_s", "KerasTuner: a one-trial `RandomSearch` (whole call)"),
    ("optuna.trial_s", "Optuna by hand: the trial in the study (ask to tell)"),
    ("optuna.total_s", "Optuna by hand: study + MLflow parent run + the trial"),
)


def _overhead_section(data: dict[str, Any]) -> str:
    run = _overhead(data)
    if run is None:
        return "Not run.\n"
    if run.get("status") != "ok":
        return f"No figures: {_why_not(run)}.\n"
    summary = run["summary"]
    rows = []
    for key, label in _OVERHEAD_ROWS:
        s = summary.get(key)
        if s is None:
            continue
        contender = key.split(".")[0]
        ref = REFERENCE_OVERHEAD.get(contender)
        rows.append(
            [
                label,
                f"{s['median_s']:.2f}",
                f"{s['median_ratio']:.3f}x",
                f"{ref:.2f}x" if ref and key.endswith("total_s") else "",
                str(s["n"]),
            ]
        )
    header = ["what is timed", "median (s)", "median ratio to plain fit", "measured elsewhere", "n"]
    text = (
        f"One fixed network (MLP 2x128, relu, adam at 1e-3, batch 32, {run['epochs']} epochs, "
        "digits), trained in one process as a plain `model.fit` and as one trial of each tool, "
        f"{run['reps']} interleaved repetitions (the order rotates) after one warm-up round "
        "that is not counted. Ratios are taken per repetition against that repetition's plain "
        "fit; the table shows their median. No early stopping, no pruning (whynet: "
        "`pruner: none`, `early_stopping_patience: 0`; Optuna's median pruner never prunes a "
        "study's first trial).\n\n"
    )
    store = run.get("mlflow_store_s")
    if store is not None:
        text_after = (
            f"\nCreating a fresh MLflow SQLite store (its schema migrations) took {store:.1f} s "
            "in this process; every search that tracks to a new store pays it once.\n"
        )
    else:
        text_after = ""
    return text + _table(header, rows) + text_after


def _scaling_section(data: dict[str, Any]) -> str:
    runs = [r for r in data["runs"] if r["kind"] == "scaling"]
    if not runs:
        return "Not run.\n"
    one = next((r for r in runs if r["workers"] == 1 and r.get("status") == "ok"), None)
    rows = []
    for r in runs:
        if r.get("status") != "ok":
            rows.append([str(r["workers"]), _why_not(r), *["-"] * 7])
            continue
        speed = speed_span = "-"
        if one is not None:
            speed = f"{r['trials_per_hour'] / one['trials_per_hour']:.2f}x"
            if r.get("trials_per_hour_span") and one.get("trials_per_hour_span"):
                speed_span = f"{r['trials_per_hour_span'] / one['trials_per_hour_span']:.2f}x"
        rows.append(
            [
                str(r["workers"]),
                str(r.get("workers_seen", "-")),
                str(r["trials"]),
                f"{r['wall_s']:.1f}",
                f"{r['trials_per_hour']:.0f} ({speed})",
                _num(r.get("trials_span_s"), "{:.1f}"),
                f"{_num(r.get('trials_per_hour_span'), '{:.0f}')} ({speed_span})",
                f"{r['peak_rss_mb']:.0f}",
                f"{r['process_wall_s']:.1f}",
            ]
        )
    header = [
        "workers",
        "workers that ran trials",
        "trials",
        "`whynet.search` call (s)",
        "trials/hour, whole call (vs 1 worker)",
        "first trial start to last trial end (s)",
        "trials/hour, trials only (vs 1 worker)",
        "peak RSS, all processes (MiB)",
        "process incl. start-up (s)",
    ]
    first = runs[0]
    text = (
        f"{first.get('trials', '?')} identical trials (MLP 2x128, batch 32, "
        f"{first.get('epochs', '?')} epochs, no pruning, no early stopping, MLflow on) on "
        "digits, with `execution.workers` 1 and 2 on the same machine. The whole-call rate "
        "includes importing Keras (in the calling process with 1 worker, in each worker "
        "process with 2), starting the workers and the final selection; the trials-only "
        "rate is the steady state, from the study's own start and end times.\n\n"
    )
    return text + _table(header, rows)


def _memory_runs(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r.get("mode", "in_process"): r for r in data["runs"] if r["kind"] == "memory"}


def _memory(data: dict[str, Any]) -> dict[str, Any] | None:
    """The run the target is judged on: the launcher's worker, else the in-process loop."""
    runs = _memory_runs(data)
    for mode in ("launcher", "in_process"):
        run = runs.get(mode)
        if run is not None and run.get("status") == "ok" and run.get("growth") is not None:
            return run
    return None


_MEMORY_MODES = {
    "in_process": (
        "whynet's default for one CPU worker: trials run inside the calling process, which "
        "is therefore the worker, and nothing recycles it"
    ),
    "launcher": (
        "one worker process under whynet's launcher (`execution: {workers: 1, in_process: "
        "false}`) with its default recycling (`recycle_after_trials: 50`, "
        "`recycle_memory_growth: 1.2`); the worker's RSS is that of the largest child process, "
        "so a drop marks a recycled worker"
    ),
}


def _memory_section(data: dict[str, Any]) -> str:
    runs = _memory_runs(data)
    if not runs:
        return "Not run.\n"
    first = next(iter(runs.values()))
    text = (
        f"One `whynet.search` of {first.get('trials', '?')} small trials (MLP 1x32, batch 128, "
        f"{first.get('epochs', '?')} epoch, no pruning, MLflow on) on digits, per mode below. A "
        "thread samples RSS every 50 ms; a trial's figure is the first sample after the study "
        "recorded the trial as finished.\n"
    )
    for mode, run in runs.items():
        text += f"\n**{mode.replace('_', '-')}**: {_MEMORY_MODES.get(mode, mode)}.\n\n"
        if run.get("status") != "ok":
            text += f"{_why_not(run)}.\n"
            continue
        series = run["series"]
        ref_trial = run["reference_trial"]
        ref = next((s for s in series if s["trial"] == ref_trial), None)
        n = len(series)
        wanted = {1, ref_trial, n} | {max(1, round(n * k / 10)) for k in range(1, 10)}
        rows = []
        for s in series:
            if s["trial"] in wanted:
                growth = f"{s['worker_mb'] / ref['worker_mb']:.3f}x" if ref else "-"
                rows.append(
                    [str(s["trial"]), f"{s['worker_mb']:.0f}", f"{s['total_mb']:.0f}", growth]
                )
        text += _table(
            [
                "after trial",
                "worker RSS (MiB)",
                "all processes (MiB)",
                f"worker vs trial {ref_trial}",
            ],
            rows,
        )
    return text


def _targets(data: dict[str, Any]) -> str:
    rows: list[list[str]] = []
    over = _overhead(data)
    if over is not None and over.get("status") == "ok":
        s = over["summary"]
        trial = s.get("whynet.trial_s", {}).get("median_ratio")
        total = s.get("whynet.total_s", {}).get("median_ratio")
        rows.append(
            [
                "whynet trial overhead ≤ 1.03x plain fit",
                f"trial (ask to tell) {_num(trial, '{:.3f}')}x; "
                f"whole call {_num(total, '{:.3f}')}x",
                _verdict(None if trial is None else trial <= 1.03),
            ]
        )
    if "digits" in _datasets(data):
        rows += _digits_targets(data)
    scaling = {
        r["workers"]: r for r in data["runs"] if r["kind"] == "scaling" and r.get("status") == "ok"
    }
    if 1 in scaling and 2 in scaling:
        span = [scaling[w].get("trials_per_hour_span") for w in (1, 2)]
        whole = scaling[2]["trials_per_hour"] / scaling[1]["trials_per_hour"]
        steady = span[1] / span[0] if span[0] and span[1] else None
        rows.append(
            [
                "2 workers ≥ 1.6x trials/hour of 1",
                f"trials only {_num(steady)}x; whole call {whole:.2f}x",
                _verdict(None if steady is None else steady >= 1.6),
            ]
        )
    elif "scaling" in data["settings"].get("parts", PARTS):
        rows.append(["2 workers ≥ 1.6x trials/hour of 1", "2 workers not available", "n/a"])
    mem = _memory(data)
    if mem is not None:
        others = [
            f"; {mode.replace('_', '-')} {r['growth']:.3f}x"
            for mode, r in _memory_runs(data).items()
            if r is not mem and r.get("status") == "ok" and r.get("growth") is not None
        ]
        rows.append(
            [
                f"worker RSS at trial {mem['last_trial']} ≤ 1.15x "
                f"at trial {mem['reference_trial']}",
                f"{mem['mode'].replace('_', '-')}: {mem['rss_last_mb']:.0f} / "
                f"{mem['rss_reference_mb']:.0f} MiB = {mem['growth']:.3f}x" + "".join(others),
                _verdict(mem["growth"] <= 1.15),
            ]
        )
    total_min = data.get("total_s", 0) / 60
    skipped = [r for r in data["runs"] if r.get("status") == "skipped"]
    full = Settings.full()
    whole = set(data["settings"].get("parts", PARTS)) == set(PARTS) and [
        name for name, _ in data["settings"].get("searches", [])
    ] == [name for name, _ in full.searches]
    end_to_end = data["mode"] == "full" and whole and not skipped
    what = f"{data['mode']} mode" if whole else "a subset of the harness"
    if skipped:
        what += f"; {len(skipped)} measurement(s) skipped by the time guard"
    estimate = ""
    speed = machine_speed(data)
    if speed and max(speed.values()) > 1.05:
        low, high = total_min / max(speed.values()), total_min / min(speed.values())
        estimate = f"; {low:.0f}-{high:.0f} min at the issue's machine speed (estimate: Machine)"
    rows.append(
        [
            "whole harness < 60 min on 2 cores",
            f"{total_min:.1f} min ({what}){estimate}",
            _verdict(total_min < 60 if end_to_end else None),
        ]
    )
    return _table(["target", "measured", "verdict"], rows)


def _digits_targets(data: dict[str, Any]) -> list[list[str]]:
    def mean_of(tool: str, key: str) -> float | None:
        return _mean(_values(_ok(_search_runs(data, "digits", tool)), key))

    rows = []
    ours = mean_of("whynet", "test_accuracy")
    peers = {p: mean_of(p, "test_accuracy") for p in PEERS}
    scored = {p: v for p, v in peers.items() if v is not None}
    if ours is not None and scored:
        best_peer = max(scored, key=lambda p: scored[p])
        rows.append(
            [
                "digits: whynet mean test accuracy ≥ best peer's",
                f"{ours:.3f} vs {scored[best_peer]:.3f} ({TOOLS[best_peer].label})",
                _verdict(ours >= scored[best_peer]),
            ]
        )
    wall = mean_of("whynet", "wall_s")
    base = mean_of("kerastuner_random", "wall_s")
    if wall is not None and base:
        rows.append(
            [
                "digits: whynet wall time ≤ 0.5x KerasTuner RandomSearch",
                f"{wall:.1f} s vs {base:.1f} s = {wall / base:.2f}x",
                _verdict(wall / base <= 0.5),
            ]
        )
    return rows


def _protocol(data: dict[str, Any]) -> str:
    s = data["settings"]
    filters = "/".join(map(str, CNN_FILTERS))
    return f"""\
- **Data**: each data set through whynet's own loader,
  `whynet.data.load_dataset(DataConfig(source=NAME), seed=SEED)`, for every tool:
  a fixed, stratified 60/20/20 train/validation/test split per seed (whynet gets the
  same config; the harness checks that its study's data fingerprint is the one the
  peers used). digits: 1,797 8x8 images; breast_cancer: 569 rows, 30 features,
  standardized on the training split.
- **Space** (as near as each tool allows; the same Keras network for the same choices):
  architecture mlp ({MLP_LAYERS[0]}-{MLP_LAYERS[1]} dense layers, {MLP_UNITS[0]}-{MLP_UNITS[1]}
  units per layer, log scale) or, on images only, cnn ({CNN_BLOCKS[0]}-{CNN_BLOCKS[1]} conv
  blocks, filters {filters} per block, kernel {CNN_KERNEL_SIZE}, {CNN_POOLING} pooling,
  a {CNN_DENSE_UNITS}-unit dense head); activation {"/".join(ACTIVATIONS)}; regularization
  {"/".join(REGULARIZATIONS)} (l1, l2 {PENALTY[0]:g}-{PENALTY[1]:g} log; dropout
  {DROPOUT[0]}-{DROPOUT[1]}); optimizer adam for every tool; learning rate
  {LEARNING_RATE[0]:g}-{LEARNING_RATE[1]:g} log; batch size {"/".join(map(str, BATCH_SIZES))}.
  whynet gets this as its `space` config (see `benchmarks/_space.py`).
- **Budget**: {s["trials"]} trials, at most {s["max_epochs"]} epochs per trial, early stopping
  on validation accuracy with patience {EARLY_STOPPING_PATIENCE} for every tool, seeds
  {", ".join(map(str, s["seeds"]))}.
- **Tools per data set**: {_tools_per_dataset(s)}.
- **Selection**: on validation accuracy only; the selected model is evaluated once on the
  test split.
- **whynet**: `whynet.search` with its defaults: multivariate TPE, Hyperband pruner
  (1 to {s["max_epochs"]} epochs, factor 3), journal storage and MLflow (SQLite) in the run's
  folder, best model logged to MLflow, and `execution.workers: auto`, which on a machine
  without a GPU starts one worker process per core for a search of at least 8 trials per
  worker (two here). "1 worker" sets `execution.workers: 1` (one worker using both cores,
  inside the calling process); "2 workers" sets `execution.workers: 2`.
- **KerasTuner** {_version(data, "keras-tuner")}: `RandomSearch` and `BayesianOptimization` with
  `max_trials={s["trials"]}` (`BayesianOptimization` with 10 initial random trials, as
  in the issue's reference; runs before 2026-11-29 11:35, the whole runs of that day
  included, left KerasTuner's default of 3 per hyperparameter, over 30 here, so all
  their trials were random, as their rows, equal to RandomSearch's, show);
  `Hyperband(max_epochs={s["max_epochs"]}, factor=3)` run until
  {s["trials"]} trials (its own budget is in brackets, so `oracle.max_trials` is set);
  `EarlyStopping` callback; the best model from `get_best_models`. No MLflow.
- **Optuna by hand**: the loop people write: `TPESampler(seed)` with
  `MedianPruner(n_startup_trials=5, n_warmup_steps=2)` through optuna-integration's
  `KerasPruningCallback` (it works with Keras 3: optuna-integration
  {_version(data, "optuna-integration")} subclasses `keras.callbacks.Callback`), or
  `RandomSampler` without pruning; `EarlyStopping(restore_best_weights=True)`; an MLflow
  parent run with a nested run per trial (parameters, per-epoch metrics); SQLite storage;
  the best model so far saved to disk.
- **Isolation**: every (tool, data set, seed) runs in its own Python process and its own
  temporary working directory (MLflow store, Optuna storage, KerasTuner project inside
  it), with `TF_CPP_MIN_LOG_LEVEL=3`. Runs go seed by seed, tools interleaved.
- **Wall time**: from after the libraries are imported to after the selected model's
  test evaluation (creating MLflow's SQLite store, a few seconds, is inside it for the
  tools that use MLflow). Process start-up is in the JSON (`process_wall_s`). whynet
  with worker processes (its default here) is the exception: its workers import TensorFlow
  when they start, and its calling process imports Keras only at the end to test the
  selected model, so both are inside its wall time (importing Keras in the calling
  process up front would also add a worker's worth of memory to it).
- **Peak RSS**: the larger of `getrusage(RUSAGE_SELF).ru_maxrss` and the sampled sum
  of the process's and its descendants' RSS (workers run at the same time).
- **Epochs trained**: epochs actually run over all trials (whynet: `epochs_run` in the
  trials table; peers: a counting callback). KerasTuner's Hyperband continues promoted
  trials from their checkpoint, so it counts only their new epochs.
"""


def _tools_per_dataset(settings: dict[str, Any]) -> str:
    parts = []
    for dataset, tools in settings.get("searches", []):
        names = (
            "all seven" if set(tools) == set(TOOLS) else ", ".join(TOOLS[t].label for t in tools)
        )
        parts.append(f"{dataset}: {names}")
    text = "; ".join(parts)
    if settings.get("mode") == "full":
        text += (
            " (the tabular set runs only whynet, the time baseline and the best peer of the "
            "issue's reference figures, so that the whole harness stays under an hour on 2 cores)"
        )
    return text


def _version(data: dict[str, Any], name: str) -> str:
    return str(data.get("versions", {}).get(name, "?"))


def _reference_table() -> str:
    rows = [[TOOLS[k].label, str(t), f"{a:.3f}"] for k, (t, a) in REFERENCE.items()]
    return _table(["tool", "wall time (s)", "test accuracy"], rows)


def render(data: dict[str, Any], *, source: str, notes: bool = True) -> str:
    quick = data["mode"] != "full"
    m = data["machine"]
    v = data["versions"]
    parts: list[str] = ["# Benchmarks: whynet, KerasTuner and hand-written Optuna loops\n"]
    if quick:
        parts.append(
            "> **Smoke numbers only.** This page was rendered from a `--quick` run "
            f"({len(data['settings']['seeds'])} seed, {data['settings']['trials']} trials, "
            f"{data['settings']['max_epochs']} epochs per trial). It shows that the harness "
            "works end to end; the figures say nothing about which tool is better. Run "
            "`python -m benchmarks run` for the real numbers.\n"
        )
    parts.append(
        "Users choose between whynet, KerasTuner, and a hand-written Optuna + Keras + MLflow "
        "loop. This page compares them on the same data, the same search space and the same "
        "trial budget, with numbers anyone can reproduce.\n\n"
        f"Generated by `{data.get('command', 'python -m benchmarks run')}` on "
        f"{data['created']} in {data.get('total_s', 0) / 60:.1f} minutes; results in "
        f"`{source}`. Re-render with `python -m benchmarks report`.\n"
    )
    if data.get("relabeled"):
        parts.append(f"> **Rows renamed since the run.** {data['relabeled']}.\n")
    parts.append("## Against the targets\n")
    parts.append(_targets(data))
    parts.append("\n## Machine and versions\n")
    parts.append(
        _table(
            ["", ""],
            [
                ["CPU", f"{m['cpu']}, {m['cores']} cores usable, no GPU used"],
                ["memory", f"{m['memory_gib']} GiB"],
                ["platform", m["platform"]],
                *[[k, val] for k, val in v.items()],
            ],
        )
    )
    parts.append(_speed_note(data))
    parts.append("\n## How the searches were run\n")
    parts.append(_protocol(data))
    for dataset in _datasets(data):
        parts.append(f"\n## Search results: {dataset}\n")
        parts.append(
            "Mean ± standard deviation over seeds. Trial counts are means per run; "
            "KerasTuner stops no trial early, so it has no pruned count.\n\n"
        )
        parts.append(_search_table(data, dataset))
        parts.append(_split_check(data, dataset))
    parts.append("\nReference figures from the issue (digits, 2 cores, 30 trials, 3 seeds):\n\n")
    parts.append(_reference_table())
    parts.append("\n## Overhead of one trial\n")
    parts.append(_overhead_section(data))
    parts.append("\n## Scaling: trials per hour with 1 and 2 workers\n")
    parts.append(_scaling_section(data))
    parts.append("\n## Worker memory over many trials\n")
    parts.append(_memory_section(data))
    parts.append("\n## What the numbers mean\n")
    parts.append(_meaning())
    parts.append("\n## Reproduce\n")
    parts.append(_reproduce())
    # What a table cannot say (the GPU check's status, why a target was
    # missed and the plan) is written by hand and kept across re-renders.
    if notes and NOTES.exists():
        parts.append("\n" + NOTES.read_text())
    return "\n".join(p.rstrip("\n") + "\n" for p in parts)


def _speed_note(data: dict[str, Any]) -> str:
    speed = machine_speed(data)
    if not speed:
        return ""
    bits = []
    if "kerastuner_random" in speed:
        bits.append(
            f"KerasTuner RandomSearch on digits took {speed['kerastuner_random']:.2f}x the "
            f"issue's {REFERENCE['kerastuner_random'][0]} s"
        )
    if "plain_fit" in speed:
        bits.append(
            f"the plain fit of the overhead part {speed['plain_fit']:.2f}x its "
            f"{REFERENCE_PLAIN_FIT_S:.1f} s"
        )
    return (
        "\n**Machine speed.** Against the issue's reference machine (also 2 cores): "
        + "; ".join(bits)
        + ". Shared machines vary from day to day, so every comparison on this page is "
        "within this run; these factors only relate its absolute times to the issue's.\n"
    )


def _meaning() -> str:
    return """\
- *Wall time* is what a user waits for one search, library imports excluded. On 2 cores
  the machine is saturated by one training at a time, so tools differ mostly in how many
  epochs they train (pruning, early stopping) and in their fixed cost per trial
  (building, checkpointing, logging).
- *Best validation accuracy* is what each tool optimized and used to select a model;
  *test accuracy* is that model on data no tool saw. Only the second compares tools
  fairly; a tool that overfits its selection to validation shows a gap between them.
- With 30 trials and 3 seeds, differences of ±0.005 in accuracy are within seed-to-seed
  noise (see the standard deviations); wall-time differences of a few percent are too.
- *Overhead* isolates the per-trial cost of each tool on one fixed network, so that the
  search strategy plays no part. whynet's "whole call" also opens the study, creates
  the MLflow experiment and parent run, reloads the selected model, tests it and logs
  it to MLflow; with one trial that fixed cost is counted against a single fit.
- *Scaling* on a 2-core machine: two workers each get one core instead of one worker
  using both, which pays off when a single small network cannot keep two cores busy.
- *Memory*: growth from trial to trial in one process is what the launcher's worker
  recycling (`execution.recycle_*`) exists to bound; the full run measures one launcher
  worker (the issue's "worker memory"); `--memory-modes launcher,in_process` adds the
  in-process loop, which nothing recycles.
"""


def _reproduce() -> str:
    return """\
```bash
make bench                                  # installs the extra below, then `run`
.venv/bin/pip install -e '.[bench]'        # keras-tuner, tensorboard, optuna-integration
.venv/bin/python -m benchmarks run          # everything; no new measurement after 57 min
.venv/bin/python -m benchmarks run --max-minutes 0  # all of it, however long it takes
.venv/bin/python -m benchmarks run --quick  # smoke test: a few minutes
.venv/bin/python -m benchmarks report       # re-render this page from benchmarks/results/
```

Subsets: `--tools whynet,kerastuner_random`, `--datasets digits`, `--seeds 0,1`,
`--parts search,overhead,scaling,memory`; `--keep-workdirs` keeps each run's folder
(MLflow store, Optuna storage, logs). See `benchmarks/README.md`.
"""
