"""What ``whynet explain`` prints: the answer, every table, the report's path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table

from whynet.reports._report import (
    FACTOR_COLUMNS,
    IMPORTANCE_COLUMNS,
    LEADERBOARD_COLUMNS,
    format_table,
)

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from whynet.reports._explain import Explanation

__all__ = ["print_explanation"]


def _rich_table(
    title: str, frame: pd.DataFrame, columns: Sequence[tuple[str, str]] | None
) -> Table:
    headers, rows = format_table(frame, columns)
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def print_explanation(why: Explanation, console: Console) -> None:
    """Print an explanation as ``whynet explain`` does."""

    def say(text: Any) -> None:
        console.print(text, highlight=False, soft_wrap=True, markup=False)

    say("")
    say(why.answer)
    for factor, table in why.tables.items():
        console.print(_rich_table(f"{factor}", table, FACTOR_COLUMNS))
        if factor in why.verdicts:
            say(why.verdicts[factor])
    console.print(
        _rich_table(
            "leaderboard (test metric over shared splits)", why.leaderboard, LEADERBOARD_COLUMNS
        )
    )
    if why.importance.empty:
        say(f"importance: none ({why.importance.attrs.get('reason', 'no search study')}).")
    else:
        console.print(
            _rich_table(
                "hyperparameter importance of the search (pruned trials not counted)",
                why.importance,
                IMPORTANCE_COLUMNS,
            )
        )
    note = why.compute.attrs.get("note")
    if not why.compute.empty:
        console.print(_rich_table("compute resources", why.compute, None))
    if note:
        say(f"compute: {note}")
    if "compute" in why.verdicts:
        say(why.verdicts["compute"])
    if why.report_html is not None:
        say(f"Report: {why.report_html}")
        say(f"Markdown: {why.report_markdown} (PNG plots beside it)")
    if why.parent_run_id:
        say(f"MLflow: explain run {why.parent_run_id} (report attached as artifacts).")
