"""Explanations: ablations, classical baselines, importance, statistics and the report.

The public path of everything ``whynet explain`` measures::

    from whynet.reports import explain, Explanation, write_report
    from whynet.reports import summarize_levels, verdict, leaderboard, beats_simpler

Names are imported on first use, so importing this package imports no
TensorFlow, Keras, MLflow, matplotlib or scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from whynet.reports._ablations import (
        Factor,
        Level,
        plan_factors,
        run_ablations,
        run_network_repeats,
    )
    from whynet.reports._baselines import run_baselines
    from whynet.reports._compute import run_compute
    from whynet.reports._explain import BUDGETS, Explanation, explain
    from whynet.reports._importance import importance, plot_importance
    from whynet.reports._report import write_report
    from whynet.reports._stats import beats_simpler, leaderboard, summarize_levels, verdict

_WHERE = {
    "BUDGETS": "_explain",
    "Explanation": "_explain",
    "explain": "_explain",
    "write_report": "_report",
    "Factor": "_ablations",
    "Level": "_ablations",
    "plan_factors": "_ablations",
    "run_ablations": "_ablations",
    "run_network_repeats": "_ablations",
    "run_compute": "_compute",
    "run_baselines": "_baselines",
    "importance": "_importance",
    "plot_importance": "_importance",
    "beats_simpler": "_stats",
    "leaderboard": "_stats",
    "summarize_levels": "_stats",
    "verdict": "_stats",
}

__all__ = [
    "BUDGETS",
    "Explanation",
    "Factor",
    "Level",
    "beats_simpler",
    "explain",
    "importance",
    "leaderboard",
    "plan_factors",
    "plot_importance",
    "run_ablations",
    "run_baselines",
    "run_compute",
    "run_network_repeats",
    "summarize_levels",
    "verdict",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'whynet.reports' has no attribute {name!r}")
    return getattr(importlib.import_module(f"whynet.reports.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
