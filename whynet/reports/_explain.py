"""``whynet.explain``: why the selected network works, measured on the user's data.

The explanation takes the configuration a search selected (or one given) and
measures, on R repeated splits shared by everything it trains:

- one-factor-at-a-time ablations (x-ablate's :func:`run_ablations`), each
  factor a study with a grid over (level, repeat);
- the network itself and classical models, default and tuned, on the same
  splits (:func:`run_network_repeats`, :func:`run_baselines`);
- the same configuration on the machine's devices (:func:`run_compute`);
- the hyperparameter importance of the search (:func:`importance`);

then summarizes every factor with paired tests (:mod:`whynet.reports._stats`)
and writes the report. Every study lives in the search's storage under one
prefix, so running the same explanation again resumes it: completed cells
and tuned models are not trained again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import platform
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whynet.config import RunConfig, load_config
from whynet.exceptions import ConfigError, UserError

if TYPE_CHECKING:
    import pandas as pd

    from whynet.data import Dataset
    from whynet.spaces import TrialParams

__all__ = ["BUDGETS", "Explanation", "explain"]


@dataclass(frozen=True)
class Budget:
    """What a budget name stands for.

    Attributes:
        repeats: Repeated splits (and seeds) per level and model.
        trials_per_model: Optuna trials tuning each classical model per repeat.
        max_epochs: Cap on each network fit's epochs (``None``: the config's).
    """

    repeats: int
    trials_per_model: int
    max_epochs: int | None


BUDGETS: dict[str, Budget] = {
    "small": Budget(repeats=3, trials_per_model=5, max_epochs=10),
    "medium": Budget(repeats=5, trials_per_model=10, max_epochs=20),
    "full": Budget(repeats=10, trials_per_model=25, max_epochs=None),
}

_OVERRIDES = {
    "storage": "search.storage",
    "tracking_uri": "tracking.uri",
    "seed": "seed",
    "max_epochs": "training.max_epochs",
    "output_dir": "output_dir",
    "backend": "training.backend",
    "n_samples": "data.n_samples",
}


@dataclass(frozen=True)
class Explanation:
    """What :func:`whynet.explain` measured.

    Attributes:
        answer: The opening answer: does the network beat a simpler model here?
        tables: Per ablated factor, its summary: one row per level with
            ``n, mean, std, ci_low, ci_high, diff, p_value, p_holm,
            significant, verdict_cell``.
        verdicts: Per factor, its verdict in one line of words.
        leaderboard: Classical models (default and tuned) and the network,
            best first, with fit and prediction times.
        importance: Hyperparameter importance of the search (PED-ANOVA,
            fANOVA); empty, with ``attrs["reason"]``, when it cannot be computed.
        compute: Per device level (CPU only, 1 GPU, all GPUs), the means of the
            fits on it; ``attrs["note"]`` says what was not measured.
        raw: Every fit, one row each (the long results frame).
        meta: The data, split, budget, seeds, machine and versions it was
            measured with.
        report_html: The self-contained HTML report.
        report_markdown: The Markdown report (its PNG plots beside it).
        parent_run_id: The explain parent run in MLflow, if tracked.
    """

    answer: str
    tables: dict[str, pd.DataFrame]
    verdicts: dict[str, str]
    leaderboard: pd.DataFrame = field(repr=False)
    importance: pd.DataFrame = field(repr=False)
    compute: pd.DataFrame = field(repr=False)
    raw: pd.DataFrame = field(repr=False)
    meta: dict[str, Any] = field(default_factory=dict)
    report_html: Path | None = None
    report_markdown: Path | None = None
    parent_run_id: str | None = None


# Inputs -------------------------------------------------------------------


def _resolve_config(
    config: str | Path | Mapping[str, Any] | RunConfig | None, overrides: Mapping[str, Any]
) -> RunConfig:
    from whynet.config import parse_config

    if isinstance(config, RunConfig):
        cfg = config
    elif config is None:
        cfg = RunConfig()
    elif isinstance(config, Mapping):
        cfg = parse_config(dict(config))
    else:
        cfg = load_config(config)
    unknown = sorted(set(overrides) - set(_OVERRIDES))
    if unknown:
        raise ConfigError(
            f"unknown keyword argument(s) {unknown} for whynet.explain; allowed: "
            f"{sorted(_OVERRIDES)}, besides study, params, budget, repeats, "
            "trials_per_model and progress. Other keys go in the config."
        )
    return cfg.with_overrides(**{_OVERRIDES[k]: v for k, v in overrides.items()})


def _check_budget(budget: str, repeats: int | None, trials_per_model: int | None) -> Budget:
    if budget not in BUDGETS:
        raise ConfigError(
            f"`budget` must be one of {sorted(BUDGETS)}, but got {budget!r}.",
            cli_message=f"--budget must be one of {', '.join(BUDGETS)}, but got {budget!r}.",
        )
    chosen = BUDGETS[budget]
    if repeats is not None:
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 2:
            raise ConfigError(
                f"`repeats` must be an integer of at least 2 (one repeat has no spread and "
                f"allows no test), but got {repeats!r}.",
                cli_message=f"--repeats must be at least 2 (one repeat has no spread and "
                f"allows no test), but got {repeats!r}.",
            )
        chosen = dataclasses.replace(chosen, repeats=repeats)
    if trials_per_model is not None:
        if (
            isinstance(trials_per_model, bool)
            or not isinstance(trials_per_model, int)
            or trials_per_model < 1
        ):
            raise ConfigError(
                f"`trials_per_model` must be a positive integer, but got {trials_per_model!r}.",
                cli_message=f"--trials-per-model must be a positive integer, but got "
                f"{trials_per_model!r}.",
            )
        chosen = dataclasses.replace(chosen, trials_per_model=trials_per_model)
    return chosen


def _params_from_mapping(params: Mapping[str, Any]) -> TrialParams:
    from whynet.search._result import _params_from_attr
    from whynet.spaces import TrialParams

    allowed = {f.name for f in dataclasses.fields(TrialParams)}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {unknown} in `params`; allowed: {sorted(allowed)}."
        )
    return TrialParams(**_params_from_attr(params))


def _open_search_study(config: RunConfig, study_name: str, *, required: bool) -> Any:
    """The search's study, loaded without writing anything; ``None`` if absent and optional."""
    import optuna

    from whynet._urls import mask_url
    from whynet.search._factories import _is_url, make_storage

    storage_url = config.search.storage
    where = mask_url(storage_url)
    run_first = "Run the search first (whynet run CONFIG, or whynet.search), or give `params`."
    cli_run_first = "Run the search first: whynet run CONFIG (or give --study NAME)."
    if not _is_url(storage_url) and not Path(storage_url).is_file():
        if not required:
            return None
        raise UserError(
            f"no study storage at {where}, so there is no study {study_name!r} to explain. "
            + run_first,
            cli_message=f"no study storage at {where}, so there is no study {study_name!r} "
            "to explain. " + cli_run_first,
        )
    if storage_url.startswith("sqlite:///"):
        path = Path(storage_url[len("sqlite:///") :].partition("?")[0])
        if not path.is_file():
            if not required:
                return None
            raise UserError(
                f"no study storage at {where}. " + run_first,
                cli_message=f"no study storage at {where}. " + cli_run_first,
            )
    storage = make_storage(storage_url)
    names = [s.study_name for s in storage.get_all_studies()]
    if study_name not in names:
        if not required:
            return None
        shown = ", ".join(sorted(names)[:10]) or "none"
        raise UserError(
            f"no study {study_name!r} in {where} (studies there: {shown}). " + run_first,
            cli_message=f"no study {study_name!r} in {where} (studies there: {shown}). "
            + cli_run_first,
        )
    return optuna.load_study(study_name=study_name, storage=storage)


def _selected_params(study: Any, study_name: str) -> TrialParams:
    from whynet.search._result import _params_from_attr
    from whynet.search._selection import best_complete
    from whynet.spaces import TrialParams

    maximize = study.directions[0].name.lower() == "maximize"
    best = best_complete(study, maximize)
    if best is None or "whynet_params" not in best.user_attrs:
        message = (
            f"study {study_name!r} has no completed trial, so there is no selected "
            "configuration to explain. Run `whynet run` first (the same config adds trials), "
            "then explain."
        )
        raise UserError(message)
    return TrialParams(**_params_from_attr(best.user_attrs["whynet_params"]))


# Stages -------------------------------------------------------------------


def _prefix(
    study_name: str, selected: TrialParams, spec: Any, budget: Budget, budget_name: str
) -> str:
    """The explanation's studies' common name: the same inputs resume the same studies."""
    key = json.dumps(
        {
            "params": selected.to_dict(),
            "data": spec.fingerprint,
            "budget": budget_name,
            "repeats": budget.repeats,
            "trials_per_model": budget.trials_per_model,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    return f"{study_name}-explain-{digest}"


def _choose_factors(plan: Any, names: Sequence[str] | None) -> Any:
    """The planned factors, or those named (an unknown name is an error)."""
    if names is None:
        return plan
    if isinstance(names, str):
        names = [names]
    available = [f.name for f in plan]
    unknown = [n for n in names if n not in available]
    if unknown:
        why = " ".join(n for n in getattr(plan, "notes", ()) if n.split(":", 1)[0] in set(unknown))
        raise ConfigError(
            f"unknown or unavailable factor(s) {unknown} for this data; available: "
            f"{', '.join(available)}." + (f" {why}" if why else ""),
            cli_message=f"--factor {unknown[0]!r} is not available for this data; "
            f"choose among {', '.join(available)}." + (f" {why}" if why else ""),
        )
    chosen = [f for f in plan if f.name in set(names)]
    if not hasattr(plan, "notes"):
        return chosen
    # Notes name their factor first ("batch_size: ..."): keep the chosen ones'.
    notes = [n for n in plan.notes if n.split(":", 1)[0] in set(names)]
    return type(plan)(chosen, notes)


def _planned_compute_levels() -> int:
    from whynet.trainers._devices import detect_gpus

    gpus = len(detect_gpus())
    return 1 + (1 if gpus >= 1 else 0) + (1 if gpus >= 2 else 0)


def _planned_baseline_fits(task: str, repeats: int) -> int:
    from whynet.trainers._sklearn import CLASSICAL_MODELS, models_for

    names = models_for(task)
    return sum(2 if CLASSICAL_MODELS[n].tunable else 1 for n in names) * repeats


def _compute_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per compute level: n and the mean of every measured number."""
    import pandas as pd

    if frame.empty:
        out = pd.DataFrame(columns=["level", "n"])
        out.attrs.update(frame.attrs)
        return out
    skip = {"repeat", "seed", "selected"}
    numeric = [
        c
        for c in frame.columns
        if c not in skip
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]
    order = list(dict.fromkeys(frame["level"]))
    grouped = frame.groupby("level", sort=False)
    out = grouped[numeric].mean().reindex(order).reset_index()
    out.insert(1, "n", grouped.size().reindex(order).to_numpy())
    out = out.rename(columns={c: f"mean_{c}" if c == "score" else c for c in numeric})
    out.attrs.update(frame.attrs)
    return out


def _machine() -> dict[str, Any]:
    import psutil

    from whynet.trainers._devices import detect_gpus

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity else os.cpu_count()
    return {
        "cpu": cpu or platform.machine(),
        "cores": cores,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "gpus": len(detect_gpus()),
        "os": f"{platform.system()} {platform.release()}",
    }


def _versions() -> dict[str, str]:
    from importlib import metadata

    from whynet import __version__

    out = {"whynet": __version__, "python": platform.python_version()}
    for name in ("keras", "tensorflow", "optuna", "scikit-learn", "scipy", "mlflow"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _make_tracker(config: RunConfig) -> Any:
    from whynet.reports._tracking import ExplainTracker, NullExplainTracker

    if not config.tracking.enabled:
        return NullExplainTracker()
    return ExplainTracker(
        tracking_uri=config.tracking.uri,
        experiment=config.tracking.experiment or config.study_name,
        timeout_s=config.tracking.timeout_s,
    )


def explain(
    config: str | Path | Mapping[str, Any] | RunConfig | None = None,
    *,
    study: str | None = None,
    params: TrialParams | Mapping[str, Any] | None = None,
    budget: str = "small",
    repeats: int | None = None,
    trials_per_model: int | None = None,
    factors: Sequence[str] | None = None,
    progress: bool = True,
    report_dir: str | Path | None = None,
    **overrides: Any,
) -> Explanation:
    """Explain why the selected network works: ablations, baselines, importance.

    Trains in this process (one fit at a time, on every core). Interrupted
    (Ctrl-C), the same call resumes: each ablation and each tuned model is a
    study in the search's storage, and completed cells are not trained again.

    Args:
        config: The run config of the search (a YAML path, a mapping, a
            :class:`RunConfig`, or ``None`` for the defaults).
        study: The search study whose selected configuration is explained
            (default: the config's study).
        params: A configuration to explain instead of the study's selected one.
        budget: ``small`` (3 repeats, 5 tuning trials per classical model, at
            most 10 epochs per fit), ``medium`` (5, 10, 20) or ``full`` (10, 25,
            the config's epochs and all levels).
        repeats: Repeated splits per level and model, instead of the budget's.
        trials_per_model: Tuning trials per classical model and repeat,
            instead of the budget's.
        factors: Ablate only these factors (names such as ``activation``,
            ``learning_rate``, ``train_size``); default: every factor the data allows.
        progress: Show a progress display with the time left on standard error.
        report_dir: The report's folder (default ``<output_dir>/<study>/explain``).
        **overrides: ``storage``, ``tracking_uri``, ``seed``, ``max_epochs``,
            ``output_dir``, ``backend``, ``n_samples``.

    Returns:
        The tables, verdicts, leaderboard and report paths.

    Raises:
        ConfigError: If the config or a setting is invalid.
        DataError: If the data cannot be used.
        UserError: If the study does not exist or has no completed trial.

    Example:
        After ``whynet run examples/quickstart.yaml``,
        ``why = whynet.explain("examples/quickstart.yaml")`` and ``print(why.answer)``
        ("Does the network beat a simpler model here? ..."). The budgets:

        >>> BUDGETS["small"]
        Budget(repeats=3, trials_per_model=5, max_epochs=10)
    """
    from whynet.data import load_dataset
    from whynet.search._factories import check_writable_dir
    from whynet.search._runner import _check_tracking, prepare_backend, quiet_libraries
    from whynet.spaces import TrialParams
    from whynet.trainers import score_metric

    started = time.time()
    # Everything the user can get wrong is checked before anything is written.
    cfg = _resolve_config(config, overrides)
    chosen = _check_budget(budget, repeats, trials_per_model)
    study_name = study or cfg.study_name
    if study is not None:
        cfg = cfg.with_overrides(study=study)
    prepare_backend(cfg.training.backend)
    quiet_libraries()
    search_study = _open_search_study(cfg, study_name, required=params is None)
    if params is None:
        selected = _selected_params(search_study, study_name)
    elif isinstance(params, TrialParams):
        selected = params
    else:
        selected = _params_from_mapping(params)
    data = load_dataset(cfg.data, seed=cfg.seed)
    spec = data.spec
    out_dir = Path(report_dir) if report_dir is not None else cfg.output_path / "explain"
    check_writable_dir(out_dir, "report folder")
    if cfg.tracking.enabled:
        _check_tracking(cfg.tracking.uri)
    cap = chosen.max_epochs
    if cap is not None and selected.epochs > cap:
        selected = dataclasses.replace(selected, epochs=cap)
    higher = score_metric(spec.task)[1] == "maximize"
    metric = "test_accuracy" if spec.task == "classification" else "test_rmse"
    prefix = _prefix(study_name, selected, spec, chosen, budget)

    from whynet.reports._ablations import plan_factors

    plan_all = plan_factors(spec, selected, budget=budget)
    chosen_factors = _choose_factors(plan_all, factors)
    n_r = chosen.repeats
    plan = {
        "network": n_r,
        "baselines": _planned_baseline_fits(spec.task, n_r),
        "ablations": sum(len(f.levels) for f in chosen_factors) * n_r,
        "compute": _planned_compute_levels() * n_r,
    }
    tracker = _make_tracker(cfg)
    from whynet.reports._progress import ExplainProgress

    reporter = ExplainProgress(total=sum(plan.values()), enabled=progress)
    quiet_libraries()  # importing MLflow resets its loggers
    return _run(
        cfg=cfg,
        data=data,
        selected=selected,
        factors=chosen_factors,
        search_study=search_study,
        study_name=study_name,
        budget_name=budget,
        budget=chosen,
        prefix=prefix,
        plan=plan,
        tracker=tracker,
        reporter=reporter,
        higher=higher,
        metric=metric,
        out_dir=out_dir,
        started=started,
    )


def _run(
    *,
    cfg: RunConfig,
    data: Dataset,
    selected: TrialParams,
    factors: list[Any],
    search_study: Any,
    study_name: str,
    budget_name: str,
    budget: Budget,
    prefix: str,
    plan: dict[str, int],
    tracker: Any,
    reporter: Any,
    higher: bool,
    metric: str,
    out_dir: Path,
    started: float,
) -> Explanation:
    import pandas as pd

    from whynet._interrupt import deferred_signals
    from whynet._urls import mask_url
    from whynet.reports._ablations import run_ablations, run_network_repeats
    from whynet.reports._baselines import run_baselines
    from whynet.reports._compute import run_compute
    from whynet.reports._importance import importance
    from whynet.reports._stats import beats_simpler, leaderboard, summarize_levels, verdict
    from whynet.trainers._backend import import_keras

    spec = data.spec
    storage = cfg.search.storage
    n_fits = [0]

    def on_fit(row: dict[str, Any]) -> None:
        n_fits[0] += 1
        tracker.log_fit(row)
        reporter.fit_done(row)

    base_params = {
        "study": study_name,
        "budget": budget_name,
        "repeats": budget.repeats,
        "trials_per_model": budget.trials_per_model,
        "max_epochs": selected.epochs,
        "seed": cfg.seed,
        "study_prefix": prefix,
        "data": spec.name,
        "data.fingerprint": spec.fingerprint,
        **{f"selected.{k}": v for k, v in selected.to_flat_dict().items()},
    }
    tracker.start(
        study=study_name,
        tags={
            "whynet.data": spec.name,
            "whynet.budget": budget_name,
            "whynet.explain_prefix": prefix,
        },
        params=base_params,
    )
    where = mask_url(storage)
    frames: list[pd.DataFrame] = []
    import_keras()
    # Keras retraces its predict function for each new model: TensorFlow's
    # warning about it says nothing about the explanation.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    status = "FINISHED"
    # Ctrl-C and SIGTERM stop at the next safe point (between batches, between
    # fits), never inside a write to a study, as in a search.
    with deferred_signals(), reporter:
        reporter.message(
            f"Explaining {selected.short_name()} of study {study_name!r} on {spec.name} "
            f"({spec.n_train} train / {spec.n_val} validation / {spec.n_test} test rows): "
            f"budget {budget_name}, {budget.repeats} repeats, {budget.trials_per_model} tuning "
            f"trials per classical model, about {sum(plan.values())} fits; studies "
            f"{prefix}-* in {where} (the same command resumes)."
        )
        try:
            done = 0
            reporter.set_stage("network")
            frames.append(
                run_network_repeats(
                    cfg,
                    selected,
                    repeats=budget.repeats,
                    storage=storage,
                    study_prefix=prefix,
                    on_fit=on_fit,
                    progress=reporter.message,
                )
            )
            done += plan["network"]
            reporter.stage_done(done)
            reporter.set_stage("classical baselines")
            frames.append(
                run_baselines(
                    cfg,
                    repeats=budget.repeats,
                    trials_per_model=budget.trials_per_model,
                    storage=storage,
                    study_prefix=prefix,
                    on_fit=on_fit,
                    progress=reporter.message,
                )
            )
            done += plan["baselines"]
            reporter.stage_done(done)
            reporter.set_stage("ablations")
            frames.append(
                run_ablations(
                    cfg,
                    selected,
                    factors=factors,
                    repeats=budget.repeats,
                    storage=storage,
                    study_prefix=prefix,
                    on_fit=on_fit,
                    progress=reporter.message,
                )
            )
            done += plan["ablations"]
            reporter.stage_done(done)
            reporter.set_stage("compute")
            compute_raw = run_compute(
                cfg,
                selected,
                repeats=budget.repeats,
                storage=storage,
                study_prefix=prefix,
                on_fit=on_fit,
                progress=reporter.message,
            )
            frames.append(compute_raw)
            done += plan["compute"]
            reporter.stage_done(done)
        except KeyboardInterrupt:
            tracker.end("KILLED")
            raise
        except BaseException:
            tracker.end("FAILED")
            raise

    raw = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    ablation = raw[raw["group"] == "ablation"]
    tables: dict[str, pd.DataFrame] = {}
    verdicts: dict[str, str] = {}
    for factor in dict.fromkeys(ablation["factor"]):
        rows = ablation[ablation["factor"] == factor]
        table = summarize_levels(rows, higher_is_better=higher)
        tables[str(factor)] = table
        verdicts[str(factor)] = verdict(
            table, factor=str(factor), metric=metric, higher_is_better=higher
        )
    compute = _compute_table(compute_raw)
    if compute_raw["level"].nunique() >= 2:
        compute_summary = summarize_levels(compute_raw, higher_is_better=higher)
        verdicts["compute"] = verdict(
            compute_summary, factor="compute", metric=metric, higher_is_better=higher
        )
        compute.attrs["verdict"] = verdicts["compute"]
    board = leaderboard(raw, higher_is_better=higher)
    answer = beats_simpler(board, higher_is_better=higher)
    if search_study is not None:
        imp = importance(search_study)
    else:
        imp = pd.DataFrame(columns=["parameter", "ped_anova", "fanova"])
        imp.attrs["reason"] = "the configuration was given as params, without a search study"

    notes: list[str] = []
    for frame in frames:
        if frame.attrs.get("note"):
            notes.append(str(frame.attrs["note"]))
        notes += [str(n) for n in frame.attrs.get("notes", ()) or ()]
    plan_notes = [str(n) for n in getattr(factors, "notes", ())]
    baseline_budget = next(
        (str(f.attrs["budget"]) for f in frames if isinstance(f.attrs.get("budget"), str)), ""
    )
    meta: dict[str, Any] = {
        "study": study_name,
        "data": spec.name,
        "data_fingerprint": spec.fingerprint,
        "task": spec.task,
        "is_image": spec.is_image,
        "split": f"{spec.n_train} / {spec.n_val} / {spec.n_test}",
        "split_sizes": {"train": spec.n_train, "val": spec.n_val, "test": spec.n_test},
        "metric": metric,
        "higher_is_better": higher,
        "budget": budget_name,
        "repeats": budget.repeats,
        "seeds": [cfg.seed + r for r in range(budget.repeats)],
        "max_epochs": selected.epochs,
        "trials_per_model": budget.trials_per_model,
        "baseline_budget": baseline_budget,
        "selected": selected.short_name(),
        "n_fits": n_fits[0],
        "machine": _machine(),
        "versions": _versions(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started)),
        "duration_s": round(time.time() - started, 1),
        "storage": where,
        "study_prefix": prefix,
        "notes": [n for n in dict.fromkeys(notes) if n not in plan_notes],
        "skipped_factors": plan_notes,
    }
    explanation = Explanation(
        answer=answer,
        tables=tables,
        verdicts=verdicts,
        leaderboard=board,
        importance=imp,
        compute=compute,
        raw=raw,
        meta=meta,
        parent_run_id=tracker.parent_run_id,
    )
    from whynet.reports._report import write_report

    html_path, md_path = write_report(explanation, out_dir)
    raw.to_csv(out_dir / "raw.csv", index=False)
    tracker.log_artifacts([*sorted(out_dir.glob("*.png")), html_path, md_path, out_dir / "raw.csv"])
    if {"model", "variant", "mean"} <= set(board.columns):
        tracker.log_metrics(
            {
                "leaderboard/" + re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{m}_{v}").strip("_"): float(x)
                for m, v, x in zip(board["model"], board["variant"], board["mean"], strict=True)
                if _finite(x)
            }
        )
    tracker.set_tag("whynet.answer", answer)
    tracker.end(status)
    reporter.message(f"Report: {html_path} (and {md_path.name} with its plots beside it).")
    return dataclasses.replace(explanation, report_html=html_path, report_markdown=md_path)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
