"""Progress of a search: a live display on a terminal, log lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from rich.console import Console

__all__ = ["NullProgress", "SearchProgress"]


class SearchProgress:
    """Shows trials done, pruned and failed, the best so far and time left.

    Args:
        total: Trials this invocation will run.
        timeout: The wall-clock budget in seconds, if any.
        score_name: The metric the best score is in.
        stream: Where to write (standard error by default). On a terminal a
            live bar is drawn; elsewhere one plain line per trial.
    """

    def __init__(
        self,
        *,
        total: int,
        timeout: float | None,
        score_name: str,
        stream: IO[str] | None = None,
        live: bool | None = None,
    ) -> None:
        self.console = Console(file=stream or sys.stderr)
        self.live = self.console.is_terminal if live is None else live
        self.total = total
        self.timeout = timeout
        self.score_name = score_name
        self.counts = {"complete": 0, "pruned": 0, "failed": 0}
        self.best: float | None = None
        self.start = time.monotonic()
        self._progress: Any = None
        self._task: Any = None
        self.running: dict[str, str] = {}

    def __enter__(self) -> SearchProgress:
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("[bold]trials"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                console=self.console,
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("search", total=self.total, status=self._status())
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def message(self, text: str) -> None:
        """A line for the user, above the live display if there is one."""
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)

    def _time_left(self) -> str:
        if self.timeout is None:
            return ""
        left = max(0.0, self.timeout - (time.monotonic() - self.start))
        return f" | {left:.0f}s left"

    def _status(self) -> str:
        c = self.counts
        best = "-" if self.best is None else f"{self.best:.4f}"
        running = (
            " | " + "; ".join(f"{w}: {t}" for w, t in self.running.items())
            if (self.running)
            else ""
        )
        return (
            f"done {c['complete']} pruned {c['pruned']} failed {c['failed']} | "
            f"best {self.score_name} {best}{self._time_left()}{running}"
        )

    def trial_started(self, number: int, summary: str, worker: str = "main") -> None:
        """A worker began a trial."""
        self.running[worker] = f"trial {number} {summary}"
        if self._progress is not None:
            self._progress.update(self._task, status=self._status())

    def trial_finished(
        self,
        number: int,
        state: str,
        detail: str,
        best: float | None,
        worker: str = "main",
    ) -> None:
        """A trial ended in ``state`` (complete, pruned, failed)."""
        self.running.pop(worker, None)
        key = state if state in self.counts else "failed"
        self.counts[key] += 1
        self.best = best
        if self._progress is not None:
            self._progress.update(self._task, advance=1, status=self._status())
        else:
            done = sum(self.counts.values())
            self.console.print(
                f"[whynet] trial {number} {state}: {detail} ({done}/{self.total}; "
                f"{self._status()})",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )


class NullProgress(SearchProgress):
    """Shows nothing (``progress=False`` in the API)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs, live=False)

    def message(self, text: str) -> None:
        return None

    def trial_finished(self, *args: Any, **kwargs: Any) -> None:
        return None
