"""Which complete trial a search selects: one order, used everywhere.

The selected trial, the model saved as the best, the order of the results
table and of the Pareto front all come from :func:`selection_key`, so that
the first row of a table is always the selected trial.

With one objective, the best validation score wins; ties go to the lower
validation loss, then to fewer parameters, then to the earlier trial.

With two objectives (``search.objectives: [score, n_params]``) the search
trades score for size: the selected trial is the *smallest* network whose
validation score is within one standard error of the best score (see
:func:`score_threshold`), the "one standard error rule" of Breiman et al.
(1984). It is always a member of the Pareto front.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "best_complete",
    "dominated",
    "may_be_selected",
    "pareto_numbers",
    "score_noise",
    "score_threshold",
    "selection_key",
    "trial_ranker",
]

SelectionKey = tuple[int, float, float, float, int]


def selection_key(
    score: float,
    val_loss: Any,
    n_params: Any,
    number: int,
    *,
    maximize: bool,
    threshold: float | None = None,
) -> SelectionKey:
    """The order in which trials are selected: lowest key first.

    Args:
        score: The trial's validation score.
        val_loss: Its validation loss at the best epoch (missing loses ties).
        n_params: Its parameter count.
        number: The trial number (the earlier trial wins a full tie).
        maximize: Whether a higher score is better.
        threshold: With two objectives, the score a trial must reach to be
            "as good as the best" (:func:`score_threshold`); ``None`` with one.

    Returns:
        With one objective: best validation score, then lower validation
        loss (at the best epoch), then fewer parameters, then the earlier
        trial. Validation accuracy on a few hundred rows ties often; the
        loss, a finer measure of the same predictions, tells tied trials
        apart. With two objectives, the trials that reach ``threshold`` come
        first, smallest first (then better score, lower loss, earlier); the
        others follow in the one-objective order.
    """
    sign = -1.0 if maximize else 1.0
    params = float(n_params) if isinstance(n_params, int | float) else 0.0
    signed = sign * float(score)
    loss = _finite_or_inf(val_loss)
    if threshold is None:
        return (0, signed, loss, params, number)
    if signed <= sign * threshold:
        return (0, params, signed, loss, number)
    return (1, signed, loss, params, number)


def score_noise(score: float, *, n_val: int | None, maximize: bool) -> float:
    """One standard error of a validation score measured on ``n_val`` rows.

    Accuracy (maximized) is a proportion: ``sqrt(p * (1 - p) / n_val)``.
    RMSE (minimized) is a standard deviation of the errors: ``rmse /
    sqrt(2 * n_val)``. Without a validation size the noise is 0.
    """
    if not n_val or n_val <= 0 or not math.isfinite(score):
        return 0.0
    if maximize:
        p = min(max(float(score), 0.0), 1.0)
        return math.sqrt(p * (1.0 - p) / n_val)
    return abs(float(score)) / math.sqrt(2.0 * n_val)


def score_threshold(best_score: float, *, n_val: int | None, maximize: bool) -> float:
    """The worst score within one standard error of ``best_score``."""
    noise = score_noise(best_score, n_val=n_val, maximize=maximize)
    return best_score - noise if maximize else best_score + noise


def _finite_or_inf(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else math.inf


def _is_multi(study: Any) -> bool:
    return len(study.directions) > 1


def _n_val(study: Any, n_val: int | None) -> int | None:
    if n_val is not None:
        return n_val
    stored = study.user_attrs.get("n_val")
    return int(stored) if isinstance(stored, int | float) else None


def _complete(study: Any) -> list[Any]:
    from optuna.trial import TrialState

    return list(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def trial_ranker(
    study: Any, trials: Sequence[Any], maximize: bool, *, n_val: int | None = None
) -> Callable[[Any], SelectionKey]:
    """The selection key of each of ``trials`` (complete trials of ``study``).

    Args:
        study: The study (its number of objectives decides the rule).
        trials: Its complete trials; with two objectives the best score among
            them sets the threshold.
        maximize: Whether a higher score is better.
        n_val: Validation rows; defaults to the study's ``n_val`` attribute.
    """
    threshold = None
    if _is_multi(study) and trials:
        scores = [float(t.values[0]) for t in trials]
        best = max(scores) if maximize else min(scores)
        threshold = score_threshold(best, n_val=_n_val(study, n_val), maximize=maximize)

    def key(trial: Any) -> SelectionKey:
        attrs = trial.user_attrs
        return selection_key(
            trial.values[0],
            attrs.get("val_loss"),
            attrs.get("n_params", 0),
            trial.number,
            maximize=maximize,
            threshold=threshold,
        )

    return key


def best_complete(study: Any, maximize: bool, *, n_val: int | None = None) -> Any:
    """The selected trial: the complete trial of lowest :func:`selection_key`.

    Args:
        study: The study.
        maximize: Whether a higher score is better.
        n_val: Validation rows (the noise of a score, with two objectives);
            defaults to the study's ``n_val`` attribute.

    Returns:
        The selected trial, or ``None`` when no trial is complete.
    """
    complete = _complete(study)
    if not complete:
        return None
    return min(complete, key=trial_ranker(study, complete, maximize, n_val=n_val))


def dominated(
    point: tuple[float, float], others: Sequence[tuple[float, float]], *, maximize: bool
) -> bool:
    """Whether ``(score, n_params)`` is dominated by one of ``others``.

    A point dominates another when it is at least as good in both (score,
    fewer parameters) and better in one.
    """
    sign = -1.0 if maximize else 1.0
    s, n = sign * point[0], point[1]
    for other in others:
        os_, on = sign * other[0], other[1]
        if os_ <= s and on <= n and (os_ < s or on < n):
            return True
    return False


def _objectives(trial: Any) -> tuple[float, float]:
    return float(trial.values[0]), float(trial.user_attrs.get("n_params", trial.values[-1]))


def pareto_numbers(study: Any, maximize: bool) -> set[int]:
    """Numbers of the complete trials no other complete trial dominates.

    Empty for a study with one objective.
    """
    if not _is_multi(study):
        return set()
    complete = _complete(study)
    points = [_objectives(t) for t in complete]
    return {
        t.number
        for t, p in zip(complete, points, strict=True)
        if not dominated(p, points, maximize=maximize)
    }


def may_be_selected(
    study: Any,
    *,
    score: float,
    val_loss: Any,
    n_params: int,
    number: int,
    maximize: bool,
) -> bool:
    """Whether a trial that is about to complete may end up selected.

    Its model is saved exactly then, so that the selected trial always has
    its model on disk. With one objective: when it would be selected now (a
    trial that merely ties the best saves nothing). With two objectives the
    threshold moves as better scores come in, so any trial on the Pareto
    front so far may be selected at the end: its model is kept until then.
    """
    complete = _complete(study)
    if not complete:
        return True
    if _is_multi(study):
        others = [_objectives(t) for t in complete]
        return not dominated((float(score), float(n_params)), others, maximize=maximize)
    key = trial_ranker(study, complete, maximize)
    rank = selection_key(score, val_loss, n_params, number, maximize=maximize)
    return rank < min(key(t) for t in complete)
