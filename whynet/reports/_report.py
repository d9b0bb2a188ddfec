"""The report of an explanation: a self-contained HTML page and a Markdown file.

Both hold the same content, in the same order: the answer to "does the
network beat a simpler model here?", one table and one verdict per ablated
factor, the leaderboard of classical models against the network, the
hyperparameter importance of the search, the compute table, and what it was
all measured on. Plots are drawn with matplotlib (Agg backend): embedded as
base64 PNG in the HTML page, written as PNG files beside the Markdown file.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from whynet.reports._explain import Explanation

__all__ = ["format_table", "write_report"]

# Columns shown per table, in order, with their headers; absent ones are skipped.
FACTOR_COLUMNS: tuple[tuple[str, str], ...] = (
    ("level", "level"),
    ("n", "n"),
    ("mean", "mean"),
    ("std", "std"),
    ("ci", "95% CI"),
    ("diff", "diff vs reference"),
    ("p_holm", "p (Holm)"),
    ("verdict_cell", "verdict"),
)
LEADERBOARD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("model", "model"),
    ("variant", "variant"),
    ("n", "n"),
    ("mean", "mean"),
    ("std", "std"),
    ("ci", "95% CI"),
    ("fit_seconds", "fit s"),
    ("predict_seconds_per_1k", "predict s / 1k rows"),
    ("diff_vs_network", "diff vs network"),
    ("p_holm", "p (Holm)"),
    ("verdict_cell", "verdict"),
)
IMPORTANCE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("parameter", "parameter"),
    ("ped_anova", "PED-ANOVA"),
    ("fanova", "fANOVA"),
)
_P_COLUMNS = {"p_value", "p_holm", "friedman_p"}
_INT_COLUMNS = {"n", "repeats", "n_fits"}


def _format_value(column: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        number = float(value)
        if math.isnan(number):
            return ""
        if column in _INT_COLUMNS or (isinstance(value, int) and not isinstance(value, bool)):
            return f"{int(number):d}" if number.is_integer() else f"{number:.4g}"
        if column in _P_COLUMNS:
            return "< 0.001" if number < 0.001 else f"{number:.3f}"
        if column.startswith("diff"):
            return f"{number:+.4f}"
        if abs(number) >= 1000:
            return f"{number:,.0f}"
        return f"{number:.4f}" if abs(number) < 10 else f"{number:.2f}"
    return str(value)


def format_table(
    frame: pd.DataFrame, columns: Sequence[tuple[str, str]] | None = None
) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted cells of a table, as the report and the CLI show it.

    Args:
        frame: A summary table (see :func:`whynet.reports.summarize_levels`).
        columns: ``(column, header)`` pairs to show, in order; ``ci`` joins
            ``ci_low`` and ``ci_high``. Defaults to every column.

    Returns:
        The headers and one list of strings per row.
    """
    if columns is None:
        columns = [(str(c), str(c)) for c in frame.columns]
    shown = [
        (c, h)
        for c, h in columns
        if c in frame.columns or (c == "ci" and {"ci_low", "ci_high"} <= set(frame.columns))
    ]
    rows: list[list[str]] = []
    for record in frame.to_dict("records"):
        cells = []
        for column, _ in shown:
            if column == "ci":
                low = _format_value("mean", record.get("ci_low"))
                high = _format_value("mean", record.get("ci_high"))
                cells.append(f"{low} to {high}" if low and high else "")
            else:
                cells.append(_format_value(column, record.get(column)))
        rows.append(cells)
    return [h for _, h in shown], rows


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "plot"


# Plots --------------------------------------------------------------------


def _interval_plot(
    frame: pd.DataFrame,
    *,
    label_column: str,
    title: str,
    xlabel: str,
    path: Path,
    highlight: Sequence[bool] | None = None,
) -> Path | None:
    """Means with their 95% confidence intervals, one row per level."""
    if frame.empty or "mean" not in frame.columns:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [str(v) for v in frame[label_column]]
    means = frame["mean"].astype(float).to_numpy()
    lows = frame.get("ci_low")
    highs = frame.get("ci_high")
    # The Agg canvas without pyplot: no display, and no change to the
    # backend of a notebook that calls this.
    fig = Figure(figsize=(7.0, 0.45 * len(labels) + 1.4), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ys = list(range(len(labels)))[::-1]
    for i, (y, mean) in enumerate(zip(ys, means, strict=True)):
        color = "#c0392b" if highlight is not None and highlight[i] else "#2c3e50"
        err = None
        if lows is not None and highs is not None:
            low, high = float(lows.iloc[i]), float(highs.iloc[i])
            if math.isfinite(low) and math.isfinite(high):
                err = [[mean - low], [high - mean]]
        ax.errorbar([mean], [y], xerr=err, fmt="o", color=color, capsize=4)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    return path


def _plots(explanation: Explanation, out_dir: Path) -> dict[str, Path]:
    """Every plot of the report, as PNG files in ``out_dir``: key -> path."""
    metric = str(explanation.meta.get("metric", "score"))
    plots: dict[str, Path] = {}
    for factor, table in explanation.tables.items():
        highlight = [str(v) == "reference" for v in table.get("verdict_cell", [])] or None
        path = _interval_plot(
            table,
            label_column="level",
            title=f"{factor}: mean test score, 95% CI",
            xlabel=f"{metric} (red: the searched level)",
            path=out_dir / f"factor-{_slug(factor)}.png",
            highlight=highlight,
        )
        if path is not None:
            plots[f"factor:{factor}"] = path
    board = explanation.leaderboard
    if not board.empty and "model" in board.columns:
        labels = board.copy()
        if "variant" in labels.columns:
            labels["label"] = [
                m if (not v or f"({v})" in str(m)) else f"{m} ({v})"
                for m, v in zip(labels["model"], labels["variant"], strict=True)
            ]
        else:
            labels["label"] = labels["model"]
        highlight = [str(m).startswith("network") for m in labels["model"]]
        path = _interval_plot(
            labels,
            label_column="label",
            title="Leaderboard: mean test score, 95% CI",
            xlabel=f"{metric} (red: the network)",
            path=out_dir / "leaderboard.png",
            highlight=highlight,
        )
        if path is not None:
            plots["leaderboard"] = path
    if not explanation.importance.empty:
        from whynet.reports._importance import plot_importance

        plots["importance"] = plot_importance(explanation.importance, out_dir / "importance.png")
    return plots


# Text blocks --------------------------------------------------------------


def _factor_note(table: pd.DataFrame) -> str:
    attrs = table.attrs
    parts = []
    friedman = attrs.get("friedman_p")
    if isinstance(friedman, float) and math.isfinite(friedman):
        parts.append(f"Friedman test over all levels: p = {_format_value('friedman_p', friedman)}.")
    if attrs.get("weak"):
        parts.append("Fewer than 5 repeats: the paired test has little power.")
    return " ".join(parts)


def _importance_note(explanation: Explanation) -> str:
    attrs = explanation.importance.attrs
    if explanation.importance.empty:
        reason = attrs.get("reason") or "no search study to read"
        return f"No importance table: {reason}."
    n = attrs.get("n_trials")
    pruned = attrs.get("n_pruned_excluded", 0)
    return (
        f"From {n} complete trials of the search; pruned trials are not counted "
        f"({pruned} excluded) and neither are failed ones. Each column sums to 1."
    )


def _compute_note(explanation: Explanation) -> str:
    return str(explanation.compute.attrs.get("note", ""))


_META_LABELS = (
    ("study", "study"),
    ("data", "data"),
    ("task", "task"),
    ("split", "split (train / validation / test rows)"),
    ("metric", "metric reported (test split)"),
    ("budget", "budget"),
    ("repeats", "repeats"),
    ("seeds", "seeds (split and training seed per repeat)"),
    ("max_epochs", "epochs per fit (at most)"),
    ("trials_per_model", "tuning trials per classical model"),
    ("baseline_budget", "tuning of the classical models"),
    ("selected", "configuration explained"),
    ("n_fits", "new fits in this invocation (fits a resumed study held are not counted)"),
    ("machine", "machine"),
    ("versions", "versions"),
    ("started", "started (UTC)"),
    ("duration_s", "duration (s)"),
    ("storage", "studies in"),
    ("study_prefix", "explain studies"),
)


def _meta_items(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    items = []
    for key, label in _META_LABELS:
        if key not in meta:
            continue
        value = meta[key]
        if isinstance(value, Mapping):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, float):
            value = f"{value:.1f}"
        items.append((label, str(value)))
    for note in meta.get("notes", ()):
        items.append(("note", str(note)))
    return items


# HTML ---------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5rem 0 0.5rem; font-size: 0.92rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.55rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
.answer { font-size: 1.15rem; background: #eef5ff; border-left: 4px solid #2c6fbb;
          padding: 0.7rem 1rem; }
.verdict { font-weight: 600; }
.note { color: #555; font-size: 0.9rem; }
img { max-width: 100%; }
"""


def _html_table(frame: pd.DataFrame, columns: Sequence[tuple[str, str]] | None) -> str:
    headers, rows = format_table(frame, columns)
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_image(path: Path | None, alt: str) -> str:
    if path is None:
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></p>'


def _html(explanation: Explanation, plots: Mapping[str, Path]) -> str:
    esc = html.escape
    meta = explanation.meta
    title = f"whynet explain: {meta.get('study', '')} on {meta.get('data', '')}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        "<h2>Does the network beat a simpler model here?</h2>",
        f'<p class="answer">{esc(explanation.answer)}</p>',
        "<h2>Which choices matter</h2>",
        '<p class="note">One factor at a time, everything else as the search selected it; '
        "every level ran on the same splits with the same seeds (paired). The reference is "
        "the searched configuration's own level; differences are paired tests over the "
        "shared repeats, Holm-corrected within each factor.</p>",
    ]
    if not explanation.tables:
        parts.append('<p class="note">No ablation was run.</p>')
    for factor, table in explanation.tables.items():
        parts.append(f"<h3>{esc(factor)}</h3>")
        parts.append(_html_table(table, FACTOR_COLUMNS))
        verdict = explanation.verdicts.get(factor, "")
        if verdict:
            parts.append(f'<p class="verdict">{esc(verdict)}</p>')
        note = _factor_note(table)
        if note:
            parts.append(f'<p class="note">{esc(note)}</p>')
        note = str(table.attrs.get("note", ""))
        if note:
            parts.append(f'<p class="note">{esc(note)}</p>')
        parts.append(_html_image(plots.get(f"factor:{factor}"), f"{factor} plot"))
    for note in meta.get("skipped_factors", ()):
        parts.append(f'<p class="note">{esc(str(note))}</p>')
    parts.append("<h2>Leaderboard: classical models and the network</h2>")
    parts.append(f'<p class="note">{esc(_leaderboard_note(explanation))}</p>')
    parts.append(_html_table(explanation.leaderboard, LEADERBOARD_COLUMNS))
    parts.append(_html_image(plots.get("leaderboard"), "leaderboard plot"))
    parts.append("<h2>Hyperparameter importance of the search</h2>")
    parts.append(f'<p class="note">{esc(_importance_note(explanation))}</p>')
    if not explanation.importance.empty:
        parts.append(_html_table(explanation.importance, IMPORTANCE_COLUMNS))
        parts.append(_html_image(plots.get("importance"), "importance plot"))
    parts.append("<h2>Compute resources</h2>")
    note = _compute_note(explanation)
    if note:
        parts.append(f'<p class="note">{esc(note)}</p>')
    if not explanation.compute.empty:
        parts.append(_html_table(explanation.compute, None))
    parts.append("<h2>Measured on</h2><table><tbody>")
    for label, value in _meta_items(meta):
        parts.append(f"<tr><td>{esc(label)}</td><td>{esc(value)}</td></tr>")
    parts.append("</tbody></table></body></html>")
    return "\n".join(p for p in parts if p)


def _leaderboard_note(explanation: Explanation) -> str:
    meta = explanation.meta
    trials = meta.get("trials_per_model")
    text = (
        "Every model ran on the same repeated splits as the network; the test split scored "
        "each fit once and chose nothing (tuning used the validation split)."
    )
    if trials is not None:
        text += f" Tuned: {trials} Optuna trials per model and repeat; default: library defaults."
    if meta.get("is_image"):
        text += " Images were flattened to one row of pixels for the classical models."
    text += " The dummy model (majority class or mean) is the floor; it has nothing to tune."
    return text


# Markdown -----------------------------------------------------------------


def _md_text(text: str) -> str:
    # Markdown viewers pass raw HTML through: user strings are escaped here too.
    return html.escape(text, quote=False)


def _md_cell(text: str) -> str:
    return _md_text(text).replace("|", "\\|").replace("\n", " ")


def _md_table(frame: pd.DataFrame, columns: Sequence[tuple[str, str]] | None) -> str:
    headers, rows = format_table(frame, columns)
    lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |"]
    lines.append("|" + "---|" * len(headers))
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _markdown(explanation: Explanation, plots: Mapping[str, Path]) -> str:
    meta = explanation.meta
    lines = [
        _md_text(f"# whynet explain: {meta.get('study', '')} on {meta.get('data', '')}"),
        "",
        "## Does the network beat a simpler model here?",
        "",
        f"**{_md_text(explanation.answer)}**",
        "",
        "## Which choices matter",
        "",
        "One factor at a time, everything else as the search selected it; every level ran "
        "on the same splits with the same seeds (paired). The reference is the searched "
        "configuration's own level; differences are paired tests over the shared repeats, "
        "Holm-corrected within each factor.",
        "",
    ]
    for factor, table in explanation.tables.items():
        lines += [f"### {_md_text(factor)}", "", _md_table(table, FACTOR_COLUMNS), ""]
        verdict = explanation.verdicts.get(factor, "")
        if verdict:
            lines += [f"**{_md_text(verdict)}**", ""]
        for note in (_factor_note(table), str(table.attrs.get("note", ""))):
            if note:
                lines += [f"_{_md_text(note)}_", ""]
        if f"factor:{factor}" in plots:
            lines += [f"![{factor}]({plots[f'factor:{factor}'].name})", ""]
    for note in meta.get("skipped_factors", ()):
        lines += [f"_{_md_text(str(note))}_", ""]
    lines += [
        "## Leaderboard: classical models and the network",
        "",
        _leaderboard_note(explanation),
        "",
        _md_table(explanation.leaderboard, LEADERBOARD_COLUMNS),
        "",
    ]
    if "leaderboard" in plots:
        lines += [f"![leaderboard]({plots['leaderboard'].name})", ""]
    lines += ["## Hyperparameter importance of the search", "", _importance_note(explanation), ""]
    if not explanation.importance.empty:
        lines += [_md_table(explanation.importance, IMPORTANCE_COLUMNS), ""]
        if "importance" in plots:
            lines += [f"![importance]({plots['importance'].name})", ""]
    lines += ["## Compute resources", ""]
    note = _compute_note(explanation)
    if note:
        lines += [_md_text(note), ""]
    if not explanation.compute.empty:
        lines += [_md_table(explanation.compute, None), ""]
    lines += ["## Measured on", "", "| | |", "|---|---|"]
    lines += [f"| {_md_cell(k)} | {_md_cell(v)} |" for k, v in _meta_items(meta)]
    return "\n".join(lines) + "\n"


def write_report(explanation: Explanation, out_dir: Path) -> tuple[Path, Path]:
    """Write the report of an explanation: ``report.html`` and ``report.md``.

    Args:
        explanation: What :func:`whynet.explain` measured.
        out_dir: The folder to write to (created). The PNG plots go beside
            ``report.md``; ``report.html`` embeds them and needs nothing else.

    Returns:
        The paths of the HTML page and of the Markdown file.

    Example:
        >>> import pandas as pd
        >>> from whynet.reports import Explanation
        >>> empty = pd.DataFrame()
        >>> why = Explanation(answer="Does the network beat a simpler model here? No.",
        ...     tables={}, verdicts={}, leaderboard=empty, importance=empty,
        ...     compute=empty, raw=empty, meta={"study": "demo", "data": "digits"})
        >>> html_path, md_path = write_report(why, Path("report"))
        >>> md_path.read_text().splitlines()[0]
        '# whynet explain: demo on digits'
        >>> "simpler model here? No." in html_path.read_text()
        True
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = _plots(explanation, out_dir)
    html_path = out_dir / "report.html"
    md_path = out_dir / "report.md"
    html_path.write_text(_html(explanation, plots), encoding="utf-8")
    md_path.write_text(_markdown(explanation, plots), encoding="utf-8")
    return html_path, md_path
