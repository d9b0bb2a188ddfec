"""Statistics of an explanation: level summaries, paired tests and verdicts.

Every comparison is *paired*: repeat ``r`` of every level (and of every model
on the leaderboard) ran on the same split with the same seed, so two levels are
compared by their differences repeat by repeat, which removes the noise of the
split itself. The tests come from :mod:`scipy.stats`:

- fewer than :data:`WILCOXON_MIN_PAIRS` shared repeats: the paired t-test
  (:func:`scipy.stats.ttest_rel`). Below ten pairs the exact Wilcoxon test is
  too coarse to be useful (its smallest two-sided p-value is ``2 / 2**n``:
  0.25 with 3 pairs, 0.031 with 6), so it could never report a real
  difference once corrected for several comparisons;
- from :data:`WILCOXON_MIN_PAIRS` shared repeats on: the Wilcoxon signed-rank
  test (:func:`scipy.stats.wilcoxon`), which does not assume that the paired
  differences are normal (the test TabZilla uses);
- differences that are all equal and not zero make the t-test degenerate
  (zero variance: p = 0 whatever the number of pairs); they are tested with
  the Wilcoxon test instead, which is honest about how few pairs there are;
- differences that are all zero: p = 1.

The p-values of one table (each level against the reference) are corrected
for multiple comparisons with Holm's step-down method (:func:`holm`), and a
difference is called real only when its corrected p-value is below ``alpha``.
With fewer than :data:`WEAK_BELOW_REPEATS` repeats a paired test has little
power; the summary says so (``attrs["weak"]``) and so does every verdict.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = [
    "LEADERBOARD_COLUMNS",
    "SUMMARY_COLUMNS",
    "WEAK_BELOW_REPEATS",
    "WILCOXON_MIN_PAIRS",
    "beats_simpler",
    "holm",
    "leaderboard",
    "paired_test",
    "summarize_levels",
    "verdict",
]

WILCOXON_MIN_PAIRS = 10
"""From this many shared repeats on, levels are compared by the Wilcoxon test."""

WEAK_BELOW_REPEATS = 5
"""Below this many shared repeats a verdict says that the test is weak."""

SUMMARY_COLUMNS = [
    "level",
    "n",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "diff",
    "p_value",
    "p_holm",
    "significant",
    "verdict_cell",
]

LEADERBOARD_COLUMNS = [
    "model",
    "variant",
    "n",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "fit_seconds",
    "predict_seconds_per_1k",
    "diff_vs_network",
    "p_holm",
    "verdict_cell",
]

NETWORK_MODEL = "network"

_NAMES = {
    "train_size": "training-set size",
    "learning_rate": "learning rate",
    "batch_size": "batch size",
    "compute": "compute resources",
}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down correction of p-values for multiple comparisons.

    scipy.stats has no Holm correction (it has Benjamini-Hochberg in
    :func:`scipy.stats.false_discovery_control`, which controls a weaker
    error rate), hence these few lines. Holm controls the family-wise error
    rate, like Bonferroni, but rejects more: the ``i``-th smallest of ``m``
    p-values is multiplied by ``m - i`` (``i`` from 0), the results are made
    non-decreasing in that order and capped at 1.

    Args:
        p_values: The p-values of one family of comparisons. NaN (a
            comparison that could not be made) stays NaN and does not count
            as a comparison.

    Returns:
        The corrected p-values, in the order given.

    Example:
        >>> holm([0.01, 0.04, 0.03])
        [0.03, 0.06, 0.06]
    """
    values = [float(p) for p in p_values]
    order = sorted((i for i, p in enumerate(values) if not math.isnan(p)), key=lambda i: values[i])
    m = len(order)
    out = [math.nan] * len(values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * values[i]))
        out[i] = round(running, 15)  # 3 * 0.01 is 0.030000000000000002
    return out


def paired_test(scores: ArrayLike, reference: ArrayLike) -> tuple[float, str]:
    """Two-sided paired test of a level's scores against the reference's.

    Args:
        scores: The level's scores, one per shared repeat.
        reference: The reference's scores on the same repeats, in the same
            order.

    Returns:
        ``(p_value, test)``: the p-value and the name of the test that gave
        it (see the module's docstring for which test is used when).
        ``(nan, "")`` with fewer than two pairs: there is no test.

    Example:
        >>> p, test = paired_test([0.90, 0.92, 0.91], [0.80, 0.83, 0.81])
        >>> test, p < 0.01
        ('paired t-test', True)
    """
    from scipy import stats

    a = np.asarray(scores, dtype=float)
    b = np.asarray(reference, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired scores must have the same length, got {a.size} and {b.size}")
    if a.size < 2:
        return math.nan, ""
    d = a - b
    scale = max(float(np.abs(a).max()), float(np.abs(b).max()), 1e-300)
    biggest = float(np.abs(d).max())
    if biggest <= 1e-12 * scale:
        return 1.0, "identical"
    constant = float(np.ptp(d)) <= 1e-9 * biggest
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if a.size >= WILCOXON_MIN_PAIRS or constant:
            return float(stats.wilcoxon(a, b).pvalue), "Wilcoxon signed-rank"
        return float(stats.ttest_rel(a, b).pvalue), "paired t-test"


def _check_frame(frame: pd.DataFrame, where: str) -> None:
    missing = [c for c in ("level", "repeat", "score") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{where} needs the columns level, repeat and score of the long results "
            f"frame; missing: {', '.join(missing)}"
        )
    if frame.empty:
        raise ValueError(f"{where} got an empty frame: there is nothing to summarize")
    if "factor" in frame.columns and frame["factor"].nunique() > 1:
        factors = ", ".join(sorted(map(str, frame["factor"].unique())))
        raise ValueError(
            f"{where} summarizes one factor at a time, got several: {factors}; "
            "select one, e.g. frame[frame.factor == 'activation']"
        )
    if "metric" in frame.columns and frame["metric"].nunique() > 1:
        metrics = ", ".join(sorted(map(str, frame["metric"].unique())))
        raise ValueError(
            f"{where} compares scores of one metric, got several: {metrics}; "
            "summarize each metric's rows on their own"
        )
    dup = frame.duplicated(["level", "repeat"])
    if dup.any():
        first = frame[dup].iloc[0]
        raise ValueError(
            f"{where} needs one score per level and repeat, got several for level "
            f"{first['level']!r} repeat {first['repeat']!r}: the pairing would be ambiguous"
        )


def _selected_level(frame: pd.DataFrame) -> str | None:
    if "selected" not in frame.columns:
        return None
    chosen = frame.loc[frame["selected"].fillna(False).astype(bool), "level"].unique()
    if len(chosen) > 1:
        raise ValueError(
            "only one level can be the selected configuration, got "
            f"{', '.join(map(str, chosen))}: fix the selected column or pass reference="
        )
    return str(chosen[0]) if len(chosen) else None


def _best(means: dict[str, float], higher_is_better: bool) -> str:
    finite = {k: v for k, v in means.items() if not math.isnan(v)}
    if not finite:
        return next(iter(means))
    pick = max if higher_is_better else min
    return pick(finite, key=lambda k: finite[k])


def _metric_range(metric: str) -> tuple[float, float]:
    """The values a metric can take: an interval is cut to them."""
    name = metric.lower()
    if "accuracy" in name:
        return 0.0, 1.0
    if any(k in name for k in ("rmse", "mae", "mse")):
        return 0.0, math.inf
    return -math.inf, math.inf


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """Standard deviation and Student t interval of the mean."""
    from scipy import stats

    n = values.size
    if n < 2:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    std = float(values.std(ddof=1))
    if std == 0.0:
        return std, mean, mean  # every repeat gave the same score
    low, high = stats.t.interval(confidence, n - 1, loc=mean, scale=std / math.sqrt(n))
    return std, float(low), float(high)


def summarize_levels(
    frame: pd.DataFrame,
    *,
    higher_is_better: bool,
    reference: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Summarize the levels of one factor and test each against a reference.

    Args:
        frame: Rows of the long results frame for ONE factor, with at least
            the columns ``level``, ``repeat`` and ``score`` (``selected``
            marks the searched configuration's level). A NaN score (a fit
            that failed) is left out of its level and of its pairs.
        higher_is_better: Whether a higher score is better (accuracy) or a
            lower one (RMSE).
        reference: The level every other level is compared with. Defaults to
            the level whose rows have ``selected`` true, else to the level
            with the best mean.
        alpha: The level of the tests (a difference is real when its
            Holm-corrected p-value is below it); the intervals are
            ``1 - alpha`` confidence intervals (95 % by default).

    Returns:
        One row per level, in the order the levels first appear, with the
        columns :data:`SUMMARY_COLUMNS`: ``n`` (repeats with a score),
        ``mean``, ``std`` (sample standard deviation), ``ci_low`` /
        ``ci_high`` (Student t interval of the mean, cut to the metric's range:
        an accuracy interval ends at 1; NaN, like ``std``, with fewer than 2
        repeats), ``diff`` (the mean paired difference
        level minus reference, in metric units), ``p_value`` (paired test
        against the reference over the shared repeats; NaN for the reference
        and with fewer than 2 pairs), ``p_holm`` (Holm-corrected over the
        table's comparisons), ``significant`` (``p_holm < alpha``) and
        ``verdict_cell``: ``"reference"``, ``"within noise"``, ``"better"``,
        ``"worse"`` or ``"not tested"`` (fewer than 2 shared repeats).
        ``attrs`` holds ``reference``, ``reference_reason`` (``"given"``,
        ``"selected"`` or ``"best mean"``), ``alpha``, ``confidence``,
        ``higher_is_better``, ``tests`` (the tests used), ``repeats``
        (distinct repeats), ``min_pairs``, ``weak`` (fewer than
        :data:`WEAK_BELOW_REPEATS` pairs), ``friedman_p`` (Friedman test over
        all levels on the repeats where every level has a score, with at
        least 3 levels and 2 such repeats; else NaN), and ``factor`` /
        ``metric`` when the frame has those columns.

    Raises:
        ValueError: The frame lacks a column, is empty, holds several
            factors or metrics, holds two scores for one level and repeat, or the
            reference is not one of its levels.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({
        ...     "level": ["relu"] * 3 + ["sigmoid"] * 3,
        ...     "repeat": [0, 1, 2] * 2,
        ...     "score": [0.95, 0.96, 0.94, 0.80, 0.82, 0.79],
        ...     "selected": [True] * 3 + [False] * 3,
        ... })
        >>> table = summarize_levels(frame, higher_is_better=True)
        >>> table[["level", "n", "verdict_cell"]].to_string(index=False)
        '  level  n verdict_cell\\n   relu  3    reference\\nsigmoid  3        worse'
        >>> bool(table.attrs["weak"])
        True
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    _check_frame(frame, "summarize_levels")
    data = frame.assign(level=frame["level"].astype(str))
    levels = list(dict.fromkeys(data["level"]))
    wide = data.pivot(index="repeat", columns="level", values="score").astype(float)[levels]
    means = {lv: float(wide[lv].mean()) if wide[lv].notna().any() else math.nan for lv in levels}

    if reference is not None:
        reference = str(reference)
        if reference not in levels:
            raise ValueError(
                f"reference must be one of the levels {', '.join(levels)}; got {reference!r}"
            )
        reason = "given"
    else:
        reference = _selected_level(data)
        reason = "selected"
        if reference is None:
            reference, reason = _best(means, higher_is_better), "best mean"

    confidence = 1.0 - alpha
    metric = str(frame["metric"].iloc[0]) if "metric" in frame.columns else ""
    floor, ceiling = _metric_range(metric)
    rows: list[dict[str, Any]] = []
    tests: set[str] = set()
    pairs_seen: list[int] = []
    for level in levels:
        values = wide[level].dropna().to_numpy()
        std, low, high = _interval(values, confidence)
        if not math.isnan(low):
            low, high = max(low, floor), min(high, ceiling)
        diff = p = math.nan
        if level == reference:
            diff = 0.0
        else:
            pairs = wide[[level, reference]].dropna()
            pairs_seen.append(len(pairs))
            if len(pairs):
                diff = float((pairs[level] - pairs[reference]).mean())
            p, test = paired_test(pairs[level].to_numpy(), pairs[reference].to_numpy())
            if test:
                tests.add(test)
        rows.append(
            {
                "level": level,
                "n": int(values.size),
                "mean": means[level],
                "std": std,
                "ci_low": low,
                "ci_high": high,
                "diff": diff,
                "p_value": p,
            }
        )
    corrected = holm([r["p_value"] for r in rows])
    for row, p_holm in zip(rows, corrected, strict=True):
        row["p_holm"] = p_holm
        row["significant"] = bool(p_holm < alpha)  # NaN compares False
        if row["level"] == reference:
            cell = "reference"
        elif math.isnan(p_holm):
            cell = "not tested"
        elif not row["significant"]:
            cell = "within noise"
        else:
            cell = "better" if (row["diff"] > 0) == higher_is_better else "worse"
        row["verdict_cell"] = cell

    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    complete = wide.dropna()
    friedman = math.nan
    if len(levels) >= 3 and len(complete) >= 2:
        from scipy import stats

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            friedman = float(stats.friedmanchisquare(*(complete[lv] for lv in levels)).pvalue)
    min_pairs = min(pairs_seen) if pairs_seen else int(wide[reference].notna().sum())
    summary.attrs.update(
        {
            "reference": reference,
            "reference_reason": reason,
            "alpha": alpha,
            "confidence": confidence,
            "higher_is_better": higher_is_better,
            "tests": sorted(tests),
            "repeats": int(wide.index.nunique()),
            "min_pairs": int(min_pairs),
            "weak": bool(min_pairs < WEAK_BELOW_REPEATS),
            "friedman_p": friedman,
        }
    )
    for key in ("factor", "metric"):
        if key in frame.columns and frame[key].nunique() == 1:
            summary.attrs[key] = str(frame[key].iloc[0])
    return summary


def _format_p(p: float) -> str:
    if math.isnan(p):
        return "p = n/a"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def _is_accuracy(metric: str) -> bool:
    return "accuracy" in metric.lower()


def _metric_words(metric: str) -> str:
    name = metric.lower().removeprefix("test_").removeprefix("val_")
    return name.upper() if name in {"rmse", "mae", "mse"} else name.replace("_", " ")


def _amount(diff: float, metric: str, better: bool) -> str:
    word = "better" if better else "worse"
    if _is_accuracy(metric):
        return f"{abs(diff) * 100:.1f} points {word}"
    return f"{word} by {abs(diff):.3g} in {_metric_words(metric)}"


def _join(names: Sequence[str]) -> str:
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _weak_sentence(summary: pd.DataFrame) -> str:
    pairs = summary.attrs.get("min_pairs")
    if pairs is None:  # attrs lost on the way: count from the table
        pairs = int(summary["n"].min())
    weak = summary.attrs.get("weak", pairs < WEAK_BELOW_REPEATS)
    if not weak:
        return ""
    noun = "repeat" if pairs == 1 else "repeats"
    return f" With {pairs} {noun} the test is weak."


def verdict(summary: pd.DataFrame, *, factor: str, metric: str, higher_is_better: bool) -> str:
    """The one-line verdict of a factor's table, in words.

    Args:
        summary: A table from :func:`summarize_levels`.
        factor: The factor's name (``"activation"``, ``"train_size"``...).
        metric: The metric of the scores (``"test_accuracy"``: differences
            in points, i.e. x100; otherwise in the metric's units).
        higher_is_better: Whether a higher score is better.

    Returns:
        The levels within noise of the reference, then each real difference
        with its Holm-corrected p-value, then, with fewer than
        :data:`WEAK_BELOW_REPEATS` repeats, that the test is weak.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({
        ...     "level": ["relu"] * 3 + ["tanh"] * 3 + ["sigmoid"] * 3,
        ...     "repeat": [0, 1, 2] * 3,
        ...     "score": [0.95, 0.96, 0.94, 0.951, 0.955, 0.947, 0.80, 0.82, 0.79],
        ...     "selected": [True] * 3 + [False] * 6,
        ... })
        >>> table = summarize_levels(frame, higher_is_better=True)
        >>> print(verdict(table, factor="activation", metric="test_accuracy",
        ...               higher_is_better=True))
        relu (selected) and tanh are within noise (p = 0.80, Holm); sigmoid is 14.7 points
        worse (p = 0.001, Holm). With 3 repeats the test is weak.
    """
    del higher_is_better  # the table's verdict cells already carry the direction
    rows: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in summary.to_dict("records")
    ]
    refs = [r for r in rows if r["verdict_cell"] == "reference"]
    ref = str(refs[0]["level"]) if refs else str(summary.attrs.get("reference"))
    marker = {"selected": " (selected)", "best mean": " (best)"}.get(
        str(summary.attrs.get("reference_reason", "")), ""
    )
    weak = _weak_sentence(summary)
    if len(rows) == 1:
        return f"Only {ref} was measured: there is nothing to compare it with."

    same = [r for r in rows if r["verdict_cell"] == "within noise"]
    differ = [r for r in rows if r["verdict_cell"] in ("better", "worse")]
    untested = [str(r["level"]) for r in rows if r["verdict_cell"] == "not tested"]
    same_names = [ref + marker, *(str(r["level"]) for r in same)]
    p_same = ""
    if same:
        smallest = min(float(r["p_holm"]) for r in same)
        p_same = _format_p(smallest).replace("=", "≥") if len(same) > 1 else _format_p(smallest)
        p_same = f" ({p_same}, Holm)"
    if not differ and not untested:
        name = _NAMES.get(factor, factor.replace("_", " "))
        return (
            f"The {name} {'make' if name.endswith('resources') else 'makes'} no difference "
            "beyond noise here: "
            f"{_join(same_names)} are within noise{p_same}.{weak}"
        )
    clauses = []
    if same:
        clauses.append(f"{_join(same_names)} are within noise{p_same}")
    for r in differ:
        amount = _amount(float(r["diff"]), metric, r["verdict_cell"] == "better")
        clauses.append(f"{r['level']} is {amount} ({_format_p(float(r['p_holm']))}, Holm)")
    if untested:
        verb = "has" if len(untested) == 1 else "have"
        clauses.append(
            f"{_join(untested)} {verb} fewer than 2 shared repeats and could not be tested"
        )
    text = "; ".join(clauses)
    if not same:
        text = f"Against {ref}{marker}: {text}"
    return f"{text}.{weak}"


def _split_label(level: str, variant: str) -> str:
    suffix = f" ({variant})"
    return level[: -len(suffix)] if variant and level.endswith(suffix) else level


def leaderboard(frame: pd.DataFrame, *, higher_is_better: bool) -> pd.DataFrame:
    """The leaderboard of the network against the classical models.

    Args:
        frame: The long results frame; its rows with ``group == "baseline"``
            and ``factor == "model"`` are used: one level per model and
            variant (``"random_forest (tuned)"``), and the network's own
            row, the level with ``selected`` true (else the level whose name
            starts with ``"network"``). Every model ran on the same splits.
        higher_is_better: Whether a higher score is better.

    Returns:
        One row per level, best mean first, with the columns
        :data:`LEADERBOARD_COLUMNS`: ``model`` (the level without its
        variant; ``"network"`` for the network), ``variant`` (``"default"``,
        ``"tuned"``), the statistics of :func:`summarize_levels`, the mean
        ``fit_seconds`` and ``predict_seconds_per_1k``, ``diff_vs_network``
        (mean paired difference model minus network), ``p_holm`` (paired
        test against the network, Holm-corrected over all the models) and
        ``verdict_cell`` (``"better"`` when the model beats the network,
        ``"reference"`` for the network). ``attrs`` holds those of the
        summary, plus ``network`` (its level) and ``metric``.

    Raises:
        ValueError: There is no baseline row, or no network row.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({
        ...     "group": "baseline", "factor": "model",
        ...     "level": ["network (tuned)"] * 3 + ["dummy (default)"] * 3,
        ...     "variant": ["tuned"] * 3 + ["default"] * 3,
        ...     "repeat": [0, 1, 2] * 2, "score": [0.95, 0.97, 0.96, 0.31, 0.33, 0.30],
        ...     "metric": "test_accuracy", "fit_seconds": 1.0,
        ...     "predict_seconds_per_1k": 0.01, "selected": [True] * 3 + [False] * 3,
        ... })
        >>> leaderboard(frame, higher_is_better=True)[["model", "variant", "verdict_cell"]]
             model  variant verdict_cell
        0  network    tuned    reference
        1    dummy  default        worse
    """
    needed = [c for c in ("group", "factor") if c not in frame.columns]
    if needed:
        raise ValueError(f"leaderboard needs the columns group and factor; missing: {needed}")
    rows = frame[(frame["group"] == "baseline") & (frame["factor"] == "model")]
    if rows.empty:
        raise ValueError(
            "leaderboard found no baseline rows (group 'baseline', factor 'model'): "
            "run the classical baselines first"
        )
    rows = rows.assign(level=rows["level"].astype(str))
    network = _selected_level(rows)
    if network is None:
        named = [lv for lv in dict.fromkeys(rows["level"]) if lv.startswith(NETWORK_MODEL)]
        if not named:
            raise ValueError(
                "leaderboard found no network row among the baselines: add the network's "
                "repeats (level 'network (tuned)', selected True)"
            )
        network = named[0]
    summary = summarize_levels(rows, higher_is_better=higher_is_better, reference=network)
    first = rows.groupby("level", sort=False).first()
    timing = rows.groupby("level", sort=False)[
        [c for c in ("fit_seconds", "predict_seconds_per_1k") if c in rows.columns]
    ].mean()
    out = summary.rename(columns={"diff": "diff_vs_network"})
    variants = [
        str(first.loc[lv, "variant"]) if "variant" in first.columns else "" for lv in out["level"]
    ]
    out["variant"] = [v if v != "nan" else "" for v in variants]
    out["model"] = [
        NETWORK_MODEL if lv == network else _split_label(lv, v)
        for lv, v in zip(out["level"], out["variant"], strict=True)
    ]
    for col in ("fit_seconds", "predict_seconds_per_1k"):
        out[col] = [
            float(timing.loc[lv, col]) if col in timing else math.nan for lv in out["level"]
        ]
    out = out.sort_values("mean", ascending=not higher_is_better, na_position="last", kind="stable")
    board = out[LEADERBOARD_COLUMNS].reset_index(drop=True)
    board.attrs.update(summary.attrs)
    board.attrs["network"] = network
    if "metric" in rows.columns and rows["metric"].nunique() == 1:
        board.attrs["metric"] = str(rows["metric"].iloc[0])
    return board


_MODEL_NAMES = {
    "hist_gradient_boosting": "histogram gradient boosting",
    "hgb": "histogram gradient boosting",
    "knn": "k-nearest neighbours",
    "k_nearest_neighbors": "k-nearest neighbours",
    "k_nearest_neighbours": "k-nearest neighbours",
    "naive_bayes": "Gaussian naive Bayes",
    "gaussian_nb": "Gaussian naive Bayes",
    "svm": "SVM (RBF)",
    "svc": "SVM (RBF)",
    "svr": "SVM (RBF)",
}


def _display(model: str, variant: str) -> str:
    name = _MODEL_NAMES.get(model, model.replace("_", " "))
    return f"{name} ({variant})" if variant else name


def beats_simpler(leaderboard: pd.DataFrame, *, higher_is_better: bool) -> str:
    """The report's opening answer: does the network beat a simpler model here?

    The network is compared with the best classical model of the leaderboard
    by the leaderboard's own paired test over the shared splits (Holm-corrected
    over all the models, since the best one was picked after seeing them).
    A difference within noise is answered "No": a simpler model is as good.

    Args:
        leaderboard: A table from :func:`leaderboard`.
        higher_is_better: Whether a higher score is better.

    Returns:
        The question and its answer, with both scores (mean ± standard
        deviation over the shared splits), the difference and its p-value.

    Example:
        >>> import pandas as pd
        >>> board = pd.DataFrame({
        ...     "model": ["random_forest", "network"], "variant": ["tuned", "tuned"],
        ...     "n": [3, 3], "mean": [0.962, 0.958], "std": [0.004, 0.006],
        ...     "diff_vs_network": [0.004, 0.0], "p_holm": [0.41, float("nan")],
        ...     "verdict_cell": ["within noise", "reference"],
        ... })
        >>> print(beats_simpler(board, higher_is_better=True))
        Does the network beat a simpler model here? No: random forest (tuned) scores 0.962 ±
        0.004 against the network's 0.958 ± 0.006 (mean ± std over 3 shared splits); the
        difference is within noise (p = 0.41, Holm), so the simpler model is as good.
    """
    question = "Does the network beat a simpler model here?"
    rows: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in leaderboard.to_dict("records")
    ]
    nets = [r for r in rows if r["model"] == NETWORK_MODEL]
    if not nets:
        return f"{question} Unknown: the network was not measured on the same splits."
    classical = [r for r in rows if r["model"] != NETWORK_MODEL and not math.isnan(r["mean"])]
    if not classical:
        return f"{question} Unknown: no classical model was measured."
    net = nets[0]
    pick = max if higher_is_better else min
    best = pick(classical, key=lambda r: float(r["mean"]))
    metric = str(
        leaderboard.attrs.get("metric", "test_accuracy" if higher_is_better else "test_rmse")
    )

    def score(row: dict[str, Any]) -> str:
        digits, spread = (".3f", ".3f") if _is_accuracy(metric) else (".4g", ".2g")
        text = f"{row['mean']:{digits}}"
        if not math.isnan(float(row["std"])):
            text += f" ± {row['std']:{spread}}"
        return text

    name = _display(str(best["model"]), str(best["variant"]))
    n = int(min(best["n"], net["n"]))
    where = f"(mean ± std over {n} shared split{'s' if n != 1 else ''})"
    p = _format_p(float(best["p_holm"]))
    diff = float(best["diff_vs_network"])
    cell = str(best["verdict_cell"])
    weak = _weak_sentence(leaderboard) if "min_pairs" in leaderboard.attrs else ""
    if cell == "not tested":
        return (
            f"{question} Cannot tell: {name} scores {score(best)} against the network's "
            f"{score(net)}, but with fewer than 2 shared splits there is no test."
        )
    if cell == "better":
        return (
            f"{question} No: {name} scores {score(best)} against the network's {score(net)} "
            f"{where}; the simpler model is {_amount(diff, metric, True)} ({p}, Holm).{weak}"
        )
    if cell == "worse":
        return (
            f"{question} Yes: the network scores {score(net)} against {score(best)} for {name}, "
            f"the best simpler model {where}; the network is "
            f"{_amount(diff, metric, True)} ({p}, Holm).{weak}"
        )
    simpler_ahead = diff >= 0 if higher_is_better else diff <= 0
    if simpler_ahead:
        return (
            f"{question} No: {name} scores {score(best)} against the network's {score(net)} "
            f"{where}; the difference is within noise ({p}, Holm), so the simpler model is "
            f"as good.{weak}"
        )
    return (
        f"{question} Not measurably: the network scores {score(net)} against {score(best)} "
        f"for {name}, the best simpler model {where}; the difference is within noise "
        f"({p}, Holm), so the simpler model is as good.{weak}"
    )
