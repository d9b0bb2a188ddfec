"""The statistics of an explanation on planted data: what is noise, what is real."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from whynet.reports._stats import (
    LEADERBOARD_COLUMNS,
    SUMMARY_COLUMNS,
    beats_simpler,
    holm,
    leaderboard,
    paired_test,
    summarize_levels,
    verdict,
)


def _factor(
    means: dict[str, float],
    *,
    repeats: int = 5,
    split_sd: float = 0.02,
    noise_sd: float = 0.004,
    seed: int = 0,
    selected: str | None = None,
    factor: str = "activation",
    metric: str = "test_accuracy",
) -> pd.DataFrame:
    """A factor's rows: each repeat's split moves every level alike, plus small noise."""
    rng = np.random.default_rng(seed)
    split = rng.normal(0.0, split_sd, repeats)
    rows = []
    for level, mean in means.items():
        for r in range(repeats):
            rows.append(
                {
                    "group": "ablation",
                    "factor": factor,
                    "level": level,
                    "repeat": r,
                    "seed": 42 + r,
                    "score": mean + split[r] + rng.normal(0.0, noise_sd),
                    "metric": metric,
                    "selected": level == selected,
                }
            )
    return pd.DataFrame(rows)


def _cells(table: pd.DataFrame) -> dict[str, str]:
    return dict(zip(table["level"], table["verdict_cell"], strict=True))


# --- no effect, large effect -------------------------------------------------


def test_a_factor_with_no_effect_is_within_noise() -> None:
    frame = _factor({"relu": 0.95, "tanh": 0.95, "sigmoid": 0.95}, selected="relu")
    table = summarize_levels(frame, higher_is_better=True)
    assert list(table.columns) == SUMMARY_COLUMNS
    assert _cells(table) == {"relu": "reference", "tanh": "within noise", "sigmoid": "within noise"}
    assert not table["significant"].any()
    line = verdict(table, factor="activation", metric="test_accuracy", higher_is_better=True)
    assert line.startswith("The activation makes no difference beyond noise here: ")
    assert "relu (selected), tanh and sigmoid are within noise" in line
    compute = _factor({"CPU only": 0.9, "1 GPU": 0.9}, factor="compute", selected="CPU only")
    line = verdict(
        summarize_levels(compute, higher_is_better=True),
        factor="compute",
        metric="test_accuracy",
        higher_is_better=True,
    )
    assert line.startswith("The compute resources make no difference beyond noise here: ")


def test_no_effect_is_rarely_called_real_holm_keeps_the_family_error_rate() -> None:
    # 500 factors with four identical levels, 5 paired repeats each: Holm
    # bounds the chance that ANY of a table's three comparisons is called
    # real by alpha = 0.05 (binomial sd here: 1 point).
    rng = np.random.default_rng(7)
    corrected = uncorrected = 0
    for _ in range(500):
        split = rng.normal(0.0, 0.02, 5)
        ref, *others = (0.9 + split + rng.normal(0.0, 0.004, 5) for _ in range(4))
        p = [paired_test(o, ref)[0] for o in others]
        corrected += min(holm(p)) < 0.05
        uncorrected += min(p) < 0.05
    assert corrected / 500 <= 0.075
    assert uncorrected / 500 > 0.09  # without the correction: about 1 - 0.95**3


def test_a_planted_large_effect_is_significant_and_in_points() -> None:
    frame = _factor({"relu": 0.95, "tanh": 0.951, "sigmoid": 0.92}, selected="relu")
    table = summarize_levels(frame, higher_is_better=True)
    assert _cells(table) == {"relu": "reference", "tanh": "within noise", "sigmoid": "worse"}
    sig = table.set_index("level").loc["sigmoid"]
    assert sig["significant"] and sig["p_holm"] < 0.05
    assert sig["diff"] == pytest.approx(-0.03, abs=0.006)
    line = verdict(table, factor="activation", metric="test_accuracy", higher_is_better=True)
    points = f"{abs(sig['diff']) * 100:.1f}"
    assert "relu (selected) and tanh are within noise" in line
    assert f"sigmoid is {points} points worse (p = " in line and "Holm)" in line
    assert line.index("within noise") < line.index("sigmoid is")


def test_the_pairing_finds_a_difference_that_the_split_noise_hides() -> None:
    # The split moves scores by ~5 points from repeat to repeat; the level
    # is 2 points worse on every split. Its interval overlaps the reference's,
    # so comparing means alone would call it noise; the paired test does not.
    frame = _factor({"a": 0.90, "b": 0.88}, split_sd=0.05, noise_sd=0.002, selected="a")
    table = summarize_levels(frame, higher_is_better=True).set_index("level")
    assert table.loc["b", "ci_high"] > table.loc["a", "ci_low"]
    unpaired = stats.ttest_ind(frame[frame.level == "a"].score, frame[frame.level == "b"].score)
    assert unpaired.pvalue > 0.05
    assert table.loc["b", "verdict_cell"] == "worse"


def test_regression_lower_rmse_is_better_and_said_in_its_units() -> None:
    frame = _factor(
        {"0.01": 1.00, "0.1": 1.25, "0.001": 0.999},
        split_sd=0.1,
        noise_sd=0.01,
        factor="learning_rate",
        metric="test_rmse",
        selected="0.01",
    )
    table = summarize_levels(frame, higher_is_better=False)
    assert _cells(table) == {"0.01": "reference", "0.1": "worse", "0.001": "within noise"}
    line = verdict(table, factor="learning_rate", metric="test_rmse", higher_is_better=False)
    diff = table.set_index("level").loc["0.1", "diff"]
    assert f"0.1 is worse by {abs(diff):.3g} in RMSE" in line
    # Lower RMSE by a real margin is "better".
    better = _factor({"base": 1.0, "less": 0.7}, factor="x", metric="test_rmse", selected="base")
    assert _cells(summarize_levels(better, higher_is_better=False))["less"] == "better"


# --- the numbers themselves against scipy and by hand -----------------------


def test_holm_matches_a_hand_computed_example() -> None:
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    out = holm([0.2, math.nan, 0.01])  # NaN is no comparison: m = 2
    assert out[0] == pytest.approx(0.2) and math.isnan(out[1]) and out[2] == pytest.approx(0.02)
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([]) == []


def test_summary_p_values_are_scipy_paired_tests_then_holm() -> None:
    frame = _factor({"ref": 0.9, "b": 0.895, "c": 0.88, "d": 0.902}, repeats=4, selected="ref")
    table = summarize_levels(frame, higher_is_better=True).set_index("level")
    wide = frame.pivot(index="repeat", columns="level", values="score")
    raw = {lv: stats.ttest_rel(wide[lv], wide["ref"]).pvalue for lv in ("b", "c", "d")}
    for lv, p in raw.items():
        assert table.loc[lv, "p_value"] == pytest.approx(p)
        assert table.loc[lv, "diff"] == pytest.approx((wide[lv] - wide["ref"]).mean())
    order = sorted(raw, key=raw.__getitem__)
    expected, running = {}, 0.0
    for i, lv in enumerate(order):  # Holm by hand: (m - i) * p, non-decreasing
        running = max(running, min(1.0, (3 - i) * raw[lv]))
        expected[lv] = running
    for lv in raw:
        assert table.loc[lv, "p_holm"] == pytest.approx(expected[lv])
    assert table.attrs["tests"] == ["paired t-test"]
    assert table.attrs["friedman_p"] == pytest.approx(
        stats.friedmanchisquare(*(wide[lv] for lv in ("ref", "b", "c", "d"))).pvalue
    )


def test_ci_and_std_match_scipy_student_t_interval() -> None:
    frame = _factor({"a": 0.9, "b": 0.8}, repeats=4)
    table = summarize_levels(frame, higher_is_better=True, alpha=0.05).set_index("level")
    for lv in ("a", "b"):
        x = frame.loc[frame.level == lv, "score"].to_numpy()
        low, high = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
        assert table.loc[lv, "ci_low"] == pytest.approx(low)
        assert table.loc[lv, "ci_high"] == pytest.approx(high)
        assert table.loc[lv, "std"] == pytest.approx(np.std(x, ddof=1))
        assert table.loc[lv, "mean"] == pytest.approx(x.mean())
        assert table.loc[lv, "n"] == 4
    # alpha sets the interval's level too: 90 % is narrower.
    narrow = summarize_levels(frame, higher_is_better=True, alpha=0.1).set_index("level")
    assert narrow.loc["a", "ci_high"] - narrow.loc["a", "ci_low"] < (
        table.loc["a", "ci_high"] - table.loc["a", "ci_low"]
    )


def test_an_accuracy_interval_ends_at_one_and_an_rmse_interval_at_zero() -> None:
    acc = pd.DataFrame({"level": "a", "repeat": [0, 1, 2], "score": [1.0, 0.9, 1.0]})
    raw = stats.t.interval(0.95, 2, loc=acc.score.mean(), scale=stats.sem(acc.score))
    assert raw[1] > 1.0  # Student's interval runs past a perfect score
    row = summarize_levels(acc.assign(metric="test_accuracy"), higher_is_better=True).iloc[0]
    assert row["ci_high"] == 1.0 and row["ci_low"] == pytest.approx(raw[0])
    rmse = pd.DataFrame({"level": "a", "repeat": [0, 1, 2], "score": [0.01, 0.2, 0.02]})
    row = summarize_levels(rmse.assign(metric="test_rmse"), higher_is_better=False).iloc[0]
    assert row["ci_low"] == 0.0


def test_ten_repeats_use_the_wilcoxon_test() -> None:
    frame = _factor({"a": 0.9, "b": 0.89}, repeats=10, selected="a")
    table = summarize_levels(frame, higher_is_better=True).set_index("level")
    wide = frame.pivot(index="repeat", columns="level", values="score")
    assert table.loc["b", "p_value"] == pytest.approx(stats.wilcoxon(wide["b"], wide["a"]).pvalue)
    assert table.attrs["tests"] == ["Wilcoxon signed-rank"]
    assert table.attrs["weak"] is False


def test_equal_differences_on_every_split_are_not_called_certain() -> None:
    # One test row more right on each of 3 splits: the t-test's variance is 0
    # (p = 0), which would be a lie with 3 pairs; the exact test says 0.25.
    p, test = paired_test([0.9, 0.8, 0.7], [0.9 - 1 / 30, 0.8 - 1 / 30, 0.7 - 1 / 30])
    assert test == "Wilcoxon signed-rank" and p == pytest.approx(0.25)
    assert paired_test([0.5, 0.6], [0.5, 0.6]) == (1.0, "identical")
    p, test = paired_test([0.5], [0.4])
    assert math.isnan(p) and test == ""


# --- few repeats, missing scores, the reference ---------------------------


def test_few_repeats_say_the_test_is_weak() -> None:
    three = summarize_levels(_factor({"a": 0.9, "b": 0.9}, repeats=3), higher_is_better=True)
    assert three.attrs["weak"] is True
    line = verdict(three, factor="batch_size", metric="test_accuracy", higher_is_better=True)
    assert line.endswith("With 3 repeats the test is weak.")
    five = summarize_levels(_factor({"a": 0.9, "b": 0.9}, repeats=5), higher_is_better=True)
    assert five.attrs["weak"] is False
    assert "weak" not in verdict(five, factor="x", metric="test_accuracy", higher_is_better=True)


def test_one_repeat_gives_no_std_no_interval_and_no_test() -> None:
    frame = _factor({"a": 0.9, "b": 0.5}, repeats=1, selected="a")
    table = summarize_levels(frame, higher_is_better=True).set_index("level")
    assert table[["std", "ci_low", "ci_high", "p_value", "p_holm"]].isna().all().all()
    assert table.loc["b", "verdict_cell"] == "not tested"  # not "within noise": nothing was tested
    assert math.isnan(table.attrs["friedman_p"])
    line = verdict(table.reset_index(), factor="x", metric="test_accuracy", higher_is_better=True)
    assert "b has fewer than 2 shared repeats and could not be tested" in line
    assert "With 1 repeat the test is weak." in line


def test_a_failed_fit_is_left_out_and_pairs_only_shared_repeats() -> None:
    frame = _factor({"a": 0.9, "b": 0.85}, repeats=4, selected="a")
    frame.loc[(frame.level == "b") & (frame.repeat == 2), "score"] = np.nan
    table = summarize_levels(frame, higher_is_better=True).set_index("level")
    assert table.loc["a", "n"] == 4 and table.loc["b", "n"] == 3
    wide = frame.pivot(index="repeat", columns="level", values="score").dropna()
    assert table.loc["b", "p_value"] == pytest.approx(stats.ttest_rel(wide["b"], wide["a"]).pvalue)
    assert table.attrs["min_pairs"] == 3


def test_reference_is_the_selected_level_else_the_best_mean() -> None:
    frame = _factor({"low": 0.8, "high": 0.9, "mid": 0.85})
    best = summarize_levels(frame, higher_is_better=True)
    assert best.attrs["reference"] == "high" and best.attrs["reference_reason"] == "best mean"
    assert summarize_levels(frame, higher_is_better=False).attrs["reference"] == "low"
    frame["selected"] = frame["level"] == "mid"
    chosen = summarize_levels(frame, higher_is_better=True)
    assert chosen.attrs["reference"] == "mid" and chosen.attrs["reference_reason"] == "selected"
    assert _cells(chosen) == {"low": "worse", "high": "better", "mid": "reference"}
    given = summarize_levels(frame, higher_is_better=True, reference="low")
    assert given.attrs["reference_reason"] == "given"
    assert given.set_index("level").loc["low", "diff"] == 0.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(factor=["a", "b"] * (len(f) // 2)), "one factor at a time"),
        (lambda f: pd.concat([f, f.iloc[[0]]]), "one score per level and repeat"),
        (lambda f: f.drop(columns="repeat"), "missing: repeat"),
        (lambda f: f.iloc[0:0], "empty frame"),
        (lambda f: f.assign(metric=["test_accuracy", "test_rmse"] * 2), "one metric"),
        (lambda f: f.assign(selected=True), "only one level can be the selected"),
    ],
)
def test_bad_frames_are_refused_with_the_rule(change: object, message: str) -> None:
    frame = _factor({"a": 0.9, "b": 0.8}, repeats=2)
    with pytest.raises(ValueError, match=message):
        summarize_levels(change(frame), higher_is_better=True)  # type: ignore[operator]
    with pytest.raises(ValueError, match="reference must be one of the levels a, b"):
        summarize_levels(frame, higher_is_better=True, reference="c")


# --- the leaderboard and the opening answer --------------------------------


def _baselines(
    means: dict[str, float], *, network: float, repeats: int = 5, metric: str = "test_accuracy"
) -> pd.DataFrame:
    models = {"network (tuned)": network, **means}
    frame = _factor(models, repeats=repeats, factor="model", metric=metric, seed=3)
    frame["group"] = "baseline"
    frame["selected"] = frame["level"] == "network (tuned)"
    frame["variant"] = frame["level"].str.extract(r"\((\w+)\)$")[0]
    frame["fit_seconds"] = frame["level"].map(lambda lv: 10.0 if "network" in lv else 0.5)
    frame["fit_seconds"] += frame["repeat"] * 0.1
    frame["predict_seconds_per_1k"] = 0.002
    # Ablation rows in the same frame must not reach the leaderboard.
    other = _factor({"relu": 0.1}, repeats=repeats)
    return pd.concat([frame, other], ignore_index=True)


def test_leaderboard_ranks_the_network_among_the_classical_models() -> None:
    frame = _baselines(
        {
            "hist_gradient_boosting (tuned)": 0.97,
            "hist_gradient_boosting (default)": 0.955,
            "dummy (default)": 0.33,
        },
        network=0.95,
    )
    board = leaderboard(frame, higher_is_better=True)
    assert list(board.columns) == LEADERBOARD_COLUMNS
    assert board["model"].tolist() == [
        "hist_gradient_boosting",
        "hist_gradient_boosting",
        "network",
        "dummy",
    ]
    assert board["variant"].tolist() == ["tuned", "default", "tuned", "default"]
    assert board["mean"].is_monotonic_decreasing
    net = board.set_index("model").loc["network"]
    assert net["verdict_cell"] == "reference" and net["diff_vs_network"] == 0.0
    assert net["fit_seconds"] == pytest.approx(10.0 + 0.1 * (0 + 1 + 2 + 3 + 4) / 5)
    cells = dict(zip(board["model"] + " " + board["variant"], board["verdict_cell"], strict=True))
    assert cells["hist_gradient_boosting tuned"] == "better"
    assert cells["dummy default"] == "worse"
    assert board["n"].tolist() == [5, 5, 5, 5]
    assert board.attrs["network"] == "network (tuned)"
    assert board.attrs["metric"] == "test_accuracy"


def test_leaderboard_refuses_a_frame_without_the_network() -> None:
    frame = _baselines({"dummy (default)": 0.3}, network=0.9)
    frame = frame[frame.level != "network (tuned)"]
    with pytest.raises(ValueError, match="no network row"):
        leaderboard(frame, higher_is_better=True)
    with pytest.raises(ValueError, match="no baseline rows"):
        leaderboard(_factor({"relu": 0.9}), higher_is_better=True)


def test_the_answer_says_no_when_a_classical_model_wins() -> None:
    frame = _baselines(
        {"hist_gradient_boosting (tuned)": 0.97, "random_forest (tuned)": 0.94}, network=0.95
    )
    board = leaderboard(frame, higher_is_better=True)
    answer = beats_simpler(board, higher_is_better=True)
    hgb = board.iloc[0]
    assert answer.startswith("Does the network beat a simpler model here? No: ")
    assert f"histogram gradient boosting (tuned) scores {hgb['mean']:.3f} ± " in answer
    assert "the simpler model is " in answer and "points better (p = " in answer


def test_the_answer_says_no_when_the_simpler_model_is_within_noise() -> None:
    frame = _baselines({"random_forest (tuned)": 0.953, "dummy (default)": 0.3}, network=0.95)
    board = leaderboard(frame, higher_is_better=True)
    forest = board.set_index("model").loc["random_forest"]
    assert forest["verdict_cell"] == "within noise" and forest["diff_vs_network"] > 0
    answer = beats_simpler(board, higher_is_better=True)
    assert "No: random forest (tuned) scores" in answer
    assert "within noise" in answer and "the simpler model is as good" in answer
    # Also when the network's mean is a hair higher: within noise is no win.
    frame = _baselines({"random_forest (tuned)": 0.948}, network=0.951)
    board = leaderboard(frame, higher_is_better=True)
    forest = board.set_index("model").loc["random_forest"]
    assert forest["verdict_cell"] == "within noise" and forest["diff_vs_network"] < 0
    answer = beats_simpler(board, higher_is_better=True)
    assert "Not measurably: the network scores" in answer and "as good" in answer


def test_the_answer_says_yes_only_when_the_network_is_really_better() -> None:
    frame = _baselines({"random_forest (tuned)": 0.90, "dummy (default)": 0.3}, network=0.95)
    answer = beats_simpler(leaderboard(frame, higher_is_better=True), higher_is_better=True)
    assert answer.startswith("Does the network beat a simpler model here? Yes: the network")
    assert "random forest (tuned), the best simpler model" in answer
    assert "the network is " in answer and "points better (p " in answer


def test_on_linear_data_a_linear_model_is_as_good_or_better() -> None:
    # Planted regression results: linear regression reaches the noise floor.
    frame = _baselines(
        {"linear (tuned)": 0.50, "random_forest (tuned)": 0.80, "dummy (default)": 3.0},
        network=0.52,
        metric="test_rmse",
    )
    board = leaderboard(frame, higher_is_better=False)
    assert board["model"].iloc[0] == "linear" and board["mean"].is_monotonic_increasing
    answer = beats_simpler(board, higher_is_better=False)
    linear = board.iloc[0]
    assert f"No: linear (tuned) scores {linear['mean']:.4g} ± {linear['std']:.2g}" in answer
    assert "so the simpler model is as good" in answer or "the simpler model is better by" in answer


def test_the_answer_with_few_repeats_says_the_test_is_weak() -> None:
    frame = _baselines({"random_forest (tuned)": 0.95}, network=0.95, repeats=3)
    answer = beats_simpler(leaderboard(frame, higher_is_better=True), higher_is_better=True)
    assert answer.endswith("With 3 repeats the test is weak.")
    assert "(mean ± std over 3 shared splits)" in answer


def test_importing_the_statistics_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "import whynet.reports, whynet.reports._stats, whynet.reports._importance\n"
        "heavy = ('tensorflow', 'keras', 'mlflow', 'matplotlib', 'sklearn', 'scipy', 'optuna')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
