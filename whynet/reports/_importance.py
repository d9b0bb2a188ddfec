"""Hyperparameter importance of a search, by Optuna's evaluators, and its plot.

Two evaluators from :mod:`optuna.importance`, on the search's COMPLETE trials
only (pruned trials stopped early and have no final score; failed ones have
none at all, so neither is counted, and the table says how many were left out):

- PED-ANOVA (:class:`optuna.importance.PedAnovaImportanceEvaluator`, Optuna's
  default): how much each parameter's distribution among the best trials
  differs from its distribution among all of them. It handles conditional
  parameters (``mlp_units_1`` exists only for networks of two or more layers).
  Optuna advises at least 5 trials in the "best" quantile; the quantile is
  therefore ``5 / n`` of ``n`` complete trials, at least Optuna's 10 % and at
  most 50 % (``attrs["ped_anova_quantile"]``).
- fANOVA (:class:`optuna.importance.FanovaImportanceEvaluator`, seeded): the
  share of the score's variance each parameter explains in a random forest
  fitted to the trials. It only assesses parameters present in every complete
  trial; conditional ones get NaN in its column.

Both columns are fractions that sum to 1 over the parameters they assess.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import optuna

__all__ = ["EVALUATORS", "importance", "plot_importance"]

EVALUATORS = ("ped_anova", "fanova")
"""The evaluators :func:`importance` knows, by the name of their column."""

_LABELS = {"ped_anova": "PED-ANOVA", "fanova": "fANOVA"}
_MIN_TOP_TRIALS = 5  # Optuna's advice for PED-ANOVA's top quantile


def _empty(columns: list[str], attrs: dict[str, Any], reason: str) -> pd.DataFrame:
    table = pd.DataFrame(
        {c: pd.Series(dtype=object if c == "parameter" else float) for c in columns}
    )
    table.attrs.update(attrs)
    table.attrs["reason"] = reason
    return table


def _first_value(trial: Any) -> float:
    values = trial.values
    return float(values[0]) if values else math.nan


def importance(study: optuna.Study, *, evaluators: tuple[str, ...] = EVALUATORS) -> pd.DataFrame:
    """Hyperparameter importance of a search's parameters.

    Args:
        study: The search's Optuna study (one objective, or two with the
            score first: importance is then that of the score).
        evaluators: Which evaluators to run, among :data:`EVALUATORS`; each
            gives a column.

    Returns:
        One row per parameter that a complete trial suggested, most important
        first (by the first evaluator), with the columns ``parameter`` and one
        per evaluator (fractions; NaN where an evaluator does not assess the
        parameter). ``attrs``: ``n_trials`` (complete trials used),
        ``n_pruned_excluded``, ``n_failed_excluded``, ``evaluators``,
        ``ped_anova_quantile``, ``notes`` (what the reader should know, in
        words) and ``reason``: None, or why the table is empty (fewer than 2
        complete trials, or no parameter that varies).

    Raises:
        ValueError: An evaluator is not one of :data:`EVALUATORS`.

    Example:
        >>> import optuna
        >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
        >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        >>> study.optimize(
        ...     lambda t: t.suggest_float("x", -1, 1) ** 2 + 0.01 * t.suggest_float("y", -1, 1),
        ...     n_trials=30,
        ... )
        >>> table = importance(study)
        >>> table["parameter"].tolist(), table.attrs["n_trials"]
        (['x', 'y'], 30)
    """
    unknown = [e for e in evaluators if e not in EVALUATORS]
    if unknown or not evaluators:
        raise ValueError(
            f"evaluators must be a non-empty tuple among {', '.join(EVALUATORS)}; "
            f"got {tuple(evaluators)!r}"
        )
    from optuna.importance import (
        BaseImportanceEvaluator,
        FanovaImportanceEvaluator,
        PedAnovaImportanceEvaluator,
        get_param_importances,
    )
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    complete = [
        t for t in trials if t.state == TrialState.COMPLETE and math.isfinite(_first_value(t))
    ]
    n_done = sum(t.state == TrialState.COMPLETE for t in trials)
    columns = ["parameter", *evaluators]
    quantile = min(0.5, max(0.1, _MIN_TOP_TRIALS / max(len(complete), 1)))
    attrs: dict[str, Any] = {
        "n_trials": len(complete),
        "n_pruned_excluded": sum(t.state == TrialState.PRUNED for t in trials),
        "n_failed_excluded": sum(t.state == TrialState.FAIL for t in trials)
        + (n_done - len(complete)),
        "evaluators": tuple(evaluators),
        "ped_anova_quantile": quantile,
        "notes": [],
        "reason": None,
    }
    if len(complete) < 2:
        return _empty(
            columns,
            attrs,
            f"importance needs at least 2 complete trials and the study has {len(complete)}; "
            "run more trials (whynet run) and explain again",
        )
    distributions: dict[str, list[Any]] = {}
    for t in complete:
        for name, dist in t.distributions.items():
            distributions.setdefault(name, []).append(dist)
    varying = [n for n, ds in distributions.items() if any(not d.single() for d in ds)]
    if not varying:
        return _empty(
            columns,
            attrs,
            "no parameter varies between the complete trials (each has a single value), "
            "so no parameter can explain a difference",
        )

    maximize = study.directions[0] == StudyDirection.MAXIMIZE
    multi = len(study.directions) > 1
    # PED-ANOVA assumes lower is better when given a target; fANOVA explains
    # variance, where the sign does not matter.
    targets: dict[str, Callable[[Any], float] | None] = {
        "ped_anova": (lambda t: -t.values[0] if maximize else t.values[0]) if multi else None,
        "fanova": (lambda t: t.values[0]) if multi else None,
    }
    results: dict[str, dict[str, float]] = {}
    for name in evaluators:
        evaluator: BaseImportanceEvaluator
        if name == "ped_anova":
            evaluator = PedAnovaImportanceEvaluator(target_quantile=quantile)
        else:
            evaluator = FanovaImportanceEvaluator(seed=0)
        with warnings.catch_warnings():
            # Optuna warns about small samples and experimental arguments;
            # the table's notes say what matters in words instead.
            warnings.simplefilter("ignore")
            results[name] = get_param_importances(study, evaluator=evaluator, target=targets[name])

    names = sorted(distributions)
    first = results[evaluators[0]]
    names.sort(key=lambda n: -first[n] if n in first else math.inf)
    table = pd.DataFrame(
        {
            "parameter": names,
            **{e: [float(results[e].get(n, math.nan)) for n in names] for e in evaluators},
        }
    )
    notes = attrs["notes"]
    if attrs["n_pruned_excluded"] or attrs["n_failed_excluded"]:
        notes.append(
            f"Pruned trials ({attrs['n_pruned_excluded']}) and failed trials "
            f"({attrs['n_failed_excluded']}) are not counted: only the "
            f"{len(complete)} complete trials have a final score."
        )
    else:
        notes.append(
            f"Computed on the {len(complete)} complete trials (pruned ones would not count)."
        )
    if "fanova" in evaluators:
        left_out = [n for n in names if n not in results["fanova"]]
        if left_out:
            notes.append(
                "fANOVA assesses only parameters present in every complete trial; "
                f"conditional ones have no fANOVA value: {', '.join(left_out)}."
            )
    if "ped_anova" in evaluators and len(complete) * quantile < _MIN_TOP_TRIALS:
        notes.append(
            f"With {len(complete)} complete trials PED-ANOVA sees fewer than "
            f"{_MIN_TOP_TRIALS} top trials: its importances are rough."
        )
    if multi:
        notes.append("Two objectives: importance is that of the score (the first objective).")
    table.attrs.update(attrs)
    return table


def plot_importance(table: pd.DataFrame, path: Path) -> Path:
    """Plot an importance table as horizontal bars, one colour per evaluator.

    Args:
        table: A table from :func:`importance` (an empty one gives a figure
            that states its ``attrs["reason"]``).
        path: Where to write the PNG; its folder is created.

    Returns:
        ``path``.

    Example:
        >>> import pandas as pd
        >>> table = pd.DataFrame({"parameter": ["x", "y"], "ped_anova": [0.9, 0.1]})
        >>> table.attrs["n_pruned_excluded"] = 2
        >>> plot_importance(table, Path("importance.png")).read_bytes()[:4]
        b'\\x89PNG'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = [c for c in EVALUATORS if c in table.columns]
    n = len(table)
    fig = Figure(figsize=(7.0, max(2.5, 0.45 * n + 1.5)), dpi=100)
    FigureCanvasAgg(fig)  # the Agg canvas, without pyplot's global state
    ax = fig.add_subplot()
    if n == 0 or not columns:
        reason = table.attrs.get("reason") or "no importance to show"
        ax.text(0.5, 0.5, str(reason), ha="center", va="center", wrap=True, fontsize=10)
        ax.set_axis_off()
    else:
        height = 0.8 / len(columns)
        rows = list(range(n))
        for k, col in enumerate(columns):
            values = table[col].astype(float).fillna(0.0).tolist()
            offsets = [r - 0.4 + height * (k + 0.5) for r in rows]
            ax.barh(offsets, values, height=height, label=_LABELS.get(col, col))
        ax.set_yticks(rows, [str(p) for p in table["parameter"]])
        ax.invert_yaxis()  # most important on top
        ax.set_xlabel("importance (fraction)")
        ax.legend(loc="lower right")
        ax.grid(axis="x", alpha=0.3)
    pruned = table.attrs.get("n_pruned_excluded")
    title = "Hyperparameter importance"
    if pruned is not None:
        title += f" ({pruned} pruned trials not counted)"
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path
