"""Run a tracker's trial events on a background thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any

from whynet.spaces import TrialParams
from whynet.tracking._base import BaseTracker, SearchInfo, SearchSummary, TrialRecord

__all__ = ["BackgroundTracker"]


class BackgroundTracker(BaseTracker):
    """Sends trial events to ``inner`` on one background thread, in order.

    The search loop hands an event over and goes on training; a slow or
    unreachable tracking server never holds it up. Everything else (start,
    end, the best model) runs after :meth:`flush`, on the caller's thread.

    Args:
        inner: The tracker that does the work.
    """

    def __init__(self, inner: BaseTracker) -> None:
        self.inner = inner
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="whynet-tracker", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                job()
            except Exception:  # the inner tracker reports its own failures
                pass
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Wait until every queued event has been handled."""
        self._queue.join()

    def close(self) -> None:
        """Handle what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def __getattr__(self, name: str) -> Any:
        # Anything that is not an event (run ids, counters) comes from the
        # inner tracker once the queue is empty.
        self.flush()
        return getattr(self.inner, name)

    @property
    def location(self) -> str | None:
        return self.inner.location

    def start_search(self, info: SearchInfo) -> None:
        self.inner.start_search(info)

    def start_trial(self, number: int, params: TrialParams, placement: Mapping[str, str]) -> None:
        self._queue.put(lambda: self.inner.start_trial(number, params, placement))

    def end_trial(self, record: TrialRecord) -> None:
        self._queue.put(lambda: self.inner.end_trial(record))

    def tag_test_metrics(self, trial_number: int, metrics: Mapping[str, float]) -> None:
        self.flush()
        self.inner.tag_test_metrics(trial_number, metrics)

    def log_best_model(self, model: Any, *, trial_number: int, input_example: Any) -> None:
        self.flush()
        self.inner.log_best_model(model, trial_number=trial_number, input_example=input_example)

    def end_search(self, summary: SearchSummary) -> None:
        self.flush()
        self.inner.end_search(summary)
        self.close()
