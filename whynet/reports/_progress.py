"""Progress of an explanation: fits done of the planned total, and the time left."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from rich.console import Console

__all__ = ["ExplainProgress"]


class ExplainProgress:
    """A live bar over every planned fit on a terminal, plain lines elsewhere.

    The estimate of time left is the mean time per fit so far times the fits
    left (Rich's estimate over recent fits); fits that a resumed explanation
    finds already done in its studies are counted as done when their stage
    ends.

    Args:
        total: The fits the explanation plans (ablations, the network's
            repeats, compute, classical baselines).
        enabled: Show anything at all (``progress=False`` shows nothing).
        stream: Where to write (standard error by default).
        live: Force the live bar on or off (default: on a terminal).
    """

    def __init__(
        self,
        *,
        total: int,
        enabled: bool = True,
        stream: IO[str] | None = None,
        live: bool | None = None,
    ) -> None:
        self.console = Console(file=stream or sys.stderr)
        self.enabled = enabled
        self.live = enabled and (self.console.is_terminal if live is None else live)
        self.total = max(1, total)
        self.done = 0
        self.stage = ""
        self.start = time.monotonic()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> ExplainProgress:
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]fits"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
                console=self.console,
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("explain", total=self.total, status="")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None

    def time_left(self) -> float | None:
        """Seconds left at the mean pace so far, or ``None`` before the first fit."""
        if self.done == 0:
            return None
        per_fit = (time.monotonic() - self.start) / self.done
        return max(0.0, per_fit * (self.total - self.done))

    def message(self, text: str) -> None:
        """A line for the user, above the live display if there is one."""
        if self.enabled:
            self.console.print(text, highlight=False, markup=False, soft_wrap=True)

    def set_stage(self, stage: str) -> None:
        """Name the stage now running (ablations, baselines, ...)."""
        self.stage = stage
        if self._progress is not None:
            self._progress.update(self._task, status=stage)

    def fit_done(self, row: dict[str, Any]) -> None:
        """One fit ended (a row of the long results frame)."""
        self._set(self.done + 1)
        if self.enabled and not self.live:
            left = self.time_left()
            eta = "" if left is None else f", about {left:.0f} s left"
            self.console.print(
                f"[whynet] {self.done}/{self.total} fits done ({self.stage}{eta})",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )

    def stage_done(self, planned_so_far: int) -> None:
        """A stage ended: fits a resumed study had already done count as done."""
        self._set(max(self.done, min(planned_so_far, self.total)))

    def _set(self, done: int) -> None:
        self.done = min(done, self.total)
        if self._progress is not None:
            self._progress.update(self._task, completed=self.done)
