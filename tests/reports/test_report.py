"""The report of an explanation, written from a planted Explanation (no training)."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from whynet.reports._cli import print_explanation
from whynet.reports._explain import Explanation
from whynet.reports._report import format_table, write_report
from whynet.reports._stats import beats_simpler, leaderboard, summarize_levels, verdict

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVIL = "<script>alert('x')</script>"


def _long(group: str, factor: str, levels: dict[str, list[float]], selected: str) -> pd.DataFrame:
    rows = []
    for level, scores in levels.items():
        for r, score in enumerate(scores):
            rows.append(
                {
                    "group": group,
                    "factor": factor,
                    "level": level,
                    "repeat": r,
                    "seed": r,
                    "score": score,
                    "metric": "test_accuracy",
                    "val_score": score,
                    "fit_seconds": 1.0 + r,
                    "predict_seconds_per_1k": 0.01,
                    "n_params": 1000.0,
                    "selected": level == selected,
                    "variant": level.rsplit("(", 1)[-1].rstrip(")") if "(" in level else "",
                }
            )
    return pd.DataFrame(rows)


def planted() -> Explanation:
    activation = _long(
        "ablation",
        "activation",
        {
            "relu": [0.95, 0.96, 0.94],
            "tanh": [0.951, 0.955, 0.945],
            "sigmoid": [0.80, 0.815, 0.785],
        },
        "relu",
    )
    lr = _long(
        "ablation",
        "learning_rate",
        {"0.01": [0.95, 0.96, 0.94], f"{EVIL}": [0.90, 0.91, 0.89]},
        "0.01",
    )
    baselines = _long(
        "baseline",
        "model",
        {
            "network (tuned)": [0.95, 0.96, 0.94],
            "random_forest (tuned)": [0.97, 0.975, 0.965],
            "random_forest (default)": [0.96, 0.965, 0.955],
            "dummy (default)": [0.1, 0.11, 0.09],
        },
        "network (tuned)",
    )
    compute = pd.DataFrame(
        {"level": ["CPU only"], "n": [3], "mean_score": [0.95], "samples_per_second": [5000.0]}
    )
    compute.attrs["note"] = "No GPU on this machine: only CPU measured."
    importance = pd.DataFrame(
        {
            "parameter": ["learning_rate", "activation", "batch_size"],
            "ped_anova": [0.6, 0.3, 0.1],
            "fanova": [0.5, 0.4, 0.1],
        }
    )
    importance.attrs.update(n_trials=12, n_pruned_excluded=4)
    raw = pd.concat([activation, lr, baselines], ignore_index=True)
    tables = {}
    verdicts = {}
    for factor in ("activation", "learning_rate"):
        rows = raw[raw["factor"] == factor]
        tables[factor] = summarize_levels(rows, higher_is_better=True)
        verdicts[factor] = verdict(
            tables[factor], factor=factor, metric="test_accuracy", higher_is_better=True
        )
    board = leaderboard(raw, higher_is_better=True)
    return Explanation(
        answer=beats_simpler(board, higher_is_better=True),
        tables=tables,
        verdicts=verdicts,
        leaderboard=board,
        importance=importance,
        compute=compute,
        raw=raw,
        meta={
            "study": "planted",
            "data": f"digits {EVIL}",
            "task": "classification",
            "is_image": True,
            "split": "1078 / 359 / 360",
            "metric": "test_accuracy",
            "budget": "small",
            "repeats": 3,
            "seeds": [0, 1, 2],
            "trials_per_model": 5,
            "machine": {"cpu": "Planted CPU", "cores": 2, "gpus": 0},
            "versions": {"whynet": "0.1.0"},
            "duration_s": 12.5,
        },
    )


def test_report_html_is_self_contained_and_holds_every_table(tmp_path: Path) -> None:
    why = planted()
    html_path, _ = write_report(why, tmp_path / "report")
    page = html_path.read_text(encoding="utf-8")
    # The answer first, then every section.
    assert page.index("Does the network beat a simpler model here?") < page.index("activation")
    assert "random forest (tuned)" in why.answer and "No" in why.answer
    for factor in why.tables:
        assert f"<h3>{factor}</h3>" in page
    for text in why.verdicts.values():
        assert html.escape(text) in page
    for needed in (
        "Leaderboard",
        "PED-ANOVA",
        "pruned trials are not counted",
        "4 excluded",
        "No GPU on this machine",
        "Planted CPU",
        "seeds",
        "0, 1, 2",
        "95% CI",
        "p (Holm)",
        "within noise",
        "worse",
    ):
        assert needed in page, needed
    # Plots are embedded: one per factor, the leaderboard and the importance.
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(why.tables) + 2
    assert all(base64.b64decode(i).startswith(PNG_MAGIC) for i in images)
    # Self-contained: nothing fetched from anywhere; user strings escaped.
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_report_markdown_has_tables_and_png_files_beside_it(tmp_path: Path) -> None:
    why = planted()
    _, md_path = write_report(why, tmp_path)
    text = md_path.read_text(encoding="utf-8")
    assert text.startswith("# whynet explain: planted")
    assert "## Does the network beat a simpler model here?" in text
    assert "| level | n | mean | std | 95% CI | diff vs reference | p (Holm) | verdict |" in text
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(linked) == len(why.tables) + 2
    for name in linked:
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC)
    assert "| sigmoid | 3 |" in text and "| worse |" in text
    assert "network" in text and "dummy" in text
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_format_table_formats_intervals_p_values_and_differences() -> None:
    table = planted().tables["activation"]
    headers, rows = format_table(
        table, [("level", "level"), ("ci", "95% CI"), ("diff", "d"), ("p_holm", "p")]
    )
    assert headers == ["level", "95% CI", "d", "p"]
    relu = rows[0]
    assert relu[0] == "relu" and " to " in relu[1] and relu[3] == ""
    sigmoid = rows[2]
    assert sigmoid[2].startswith("-")
    low, high = (float(v) for v in sigmoid[1].split(" to "))
    assert low < float(table["mean"].iloc[2]) < high


def test_report_says_why_importance_is_missing(tmp_path: Path) -> None:
    why = planted()
    empty = pd.DataFrame(columns=["parameter", "ped_anova", "fanova"])
    empty.attrs["reason"] = "fewer than 2 complete trials"
    from dataclasses import replace

    html_path, _ = write_report(replace(why, importance=empty), tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert "No importance table: fewer than 2 complete trials." in page
    assert len(re.findall(r"data:image/png;base64", page)) == len(why.tables) + 1


def test_cli_printout_shows_answer_tables_and_paths(tmp_path: Path) -> None:
    why = planted()
    html_path, md_path = write_report(why, tmp_path)
    from dataclasses import replace

    why = replace(why, report_html=html_path, report_markdown=md_path)
    console = Console(record=True, width=200)
    print_explanation(why, console)
    text = console.export_text()
    assert text.strip().startswith("Does the network beat a simpler model here?")
    for needed in (
        "activation",
        "learning_rate",
        "sigmoid",
        "leaderboard",
        "random_forest",
        "PED-ANOVA",
        "No GPU on this machine",
        str(html_path),
    ):
        assert needed in text, needed


@pytest.mark.parametrize("n", [1])
def test_a_single_repeat_has_no_interval_and_the_report_still_writes(
    tmp_path: Path, n: int
) -> None:
    frame = _long("ablation", "activation", {"relu": [0.9] * n, "tanh": [0.8] * n}, "relu")
    table = summarize_levels(frame, higher_is_better=True)
    why = planted()
    from dataclasses import replace

    html_path, _ = write_report(replace(why, tables={"activation": table}), tmp_path)
    assert np.isnan(table["ci_low"]).all()
    assert "<h3>activation</h3>" in html_path.read_text(encoding="utf-8")
