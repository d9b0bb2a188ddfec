"""The launcher: one worker process per device slot, supervised.

Workers share the study through its storage. The launcher hands out trial
tickets, receives the workers' events (and mirrors them through the
dispatcher), replaces a worker that is recycled or ran out of memory, and
fails and retries the trial of a worker that died.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whynet._interrupt import deferred_signals, raise_if_requested, requested
from whynet.config import RunConfig
from whynet.data import Dataset
from whynet.exceptions import FatalSearchError
from whynet.search._loop import (
    Dispatcher,
    TrialStarted,
    WorkerExited,
    end_abandoned_trial,
    requeue_once,
)
from whynet.search._worker import WorkerSpec, save_training_data, start_log_path, worker_main
from whynet.trainers._devices import DeviceSlot

__all__ = ["Launcher"]

_POLL_S = 0.2
_STOP_GRACE_S = 30.0
# A slot whose worker dies this many times in a row before it starts a trial
# stops the search: a missing framework or a broken device does not heal.
MAX_STARTUP_DEATHS = 3


@dataclass
class _Slot:
    slot: DeviceSlot
    incarnation: int = 0
    process: Any = None
    name: str = ""
    finished: bool = False
    died: list[str] = field(default_factory=list)
    startup_deaths: int = 0


class Launcher:
    """Runs ``config.search.trials`` trials over worker processes.

    Args:
        config: The run config.
        slots: One slot per worker.
        dataset: The loaded data (its train and validation splits are shared
            with the workers through files they map).
        study: The study, for failing a dead worker's trial and re-queueing it.
        dispatcher: Receives every event.
        deadline: A ``time.time()`` after which no trial starts.
        trainer_factory: Builds a worker's trainer; picklable (module level).
        on_message: Prints a line for the user.
    """

    def __init__(
        self,
        *,
        config: RunConfig,
        slots: list[DeviceSlot],
        dataset: Dataset,
        study: Any,
        dispatcher: Dispatcher,
        deadline: float | None,
        trainer_factory: Callable[..., Any] | None = None,
        on_message: Callable[[str], None] = print,
    ) -> None:
        self.config = config
        self.slots = [_Slot(slot=s) for s in slots]
        self.dataset = dataset
        self.study = study
        self.dispatcher = dispatcher
        self.deadline = deadline
        self.trainer_factory = trainer_factory
        self.on_message = on_message
        self.ctx = mp.get_context("spawn")
        self.retried: set[int] = set()
        self.began: set[str] = set()  # workers (by name) that started a trial

    # Lifecycle ---------------------------------------------------------------

    def run(self) -> None:
        """Start the workers and supervise them until every ticket is used."""
        self.events = self.ctx.Queue()
        self.tickets = self.ctx.Value("i", self.config.search.trials)
        data_dir = Path(tempfile.mkdtemp(prefix="whynet-data-"))
        with deferred_signals():
            try:
                save_training_data(self.dataset.training_data(), data_dir)
                self.data_dir = str(data_dir)
                for s in self.slots:
                    self._start(s)
                self._supervise()  # until done, or until a stop is requested
                raise_if_requested()
            except BaseException:
                self._stop_all()
                raise
            finally:
                shutil.rmtree(data_dir, ignore_errors=True)
                with contextlib.suppress(Exception):
                    self.events.close()

    def _start(self, s: _Slot) -> None:
        s.name = f"w{s.slot.index}" + (f".{s.incarnation}" if s.incarnation else "")
        spec = WorkerSpec(
            worker=s.name,
            slot=s.slot,
            config=self.config.to_dict(),
            data_dir=self.data_dir,
            spec=self.dataset.spec,
            deadline=self.deadline,
            seed_offset=7919 * (s.slot.index + 1) + 104729 * s.incarnation,
            trainer_factory=self.trainer_factory,
        )
        s.process = self.ctx.Process(
            target=worker_main, args=(spec, self.events, self.tickets), name=s.name, daemon=True
        )
        s.process.start()

    def _supervise(self) -> None:
        while any(not s.finished for s in self.slots) and not requested():
            self._drain(timeout=_POLL_S)
            for s in self.slots:
                if s.finished or s.process.is_alive():
                    continue
                s.process.join()
                self._drain(timeout=0.2, until_empty=True)
                self._after_exit(s)

    def _drain(self, *, timeout: float, until_empty: bool = False) -> None:
        """Handle the queued events, waiting up to ``timeout`` for the first.

        With ``until_empty``, keep waiting briefly for more: a worker that
        just exited may still have events in flight.
        """
        wait = timeout
        while True:
            try:
                event = self.events.get(timeout=wait) if wait > 0 else self.events.get_nowait()
            except queue.Empty:
                return
            if isinstance(event, TrialStarted):
                self.began.add(event.worker)
            self.dispatcher.handle(event)
            wait = 0.05 if until_empty else 0.0

    def _tickets_left(self) -> int:
        with self.tickets.get_lock():
            return int(self.tickets.value)

    def _after_exit(self, s: _Slot) -> None:
        exited = self.dispatcher.exits.pop(s.name, None)
        reason = exited.reason if exited is not None else None
        if reason == "fatal" and exited is not None:
            raise FatalSearchError(f"worker {s.name}: {exited.error}")
        if reason is None:
            self._worker_died(s)
            reason = "died"
        if s.name in self.began:
            s.startup_deaths = 0
        elif reason in ("died", "startup_error"):
            self._startup_death(s, exited)
        out_of_time = self.deadline is not None and time.time() >= self.deadline
        restart = ("recycle", "oom", "died", "startup_error")
        if reason in restart and self._tickets_left() > 0 and not out_of_time:
            if reason == "recycle" and exited is not None:
                self.on_message(
                    f"Worker {s.name} recycled after {exited.trials} trials "
                    f"({exited.rss_mb:.0f} MiB resident); starting a fresh one."
                )
            elif reason == "oom":
                self.on_message(
                    f"Worker {s.name} ran out of memory; replacing it with a fresh process."
                )
            s.incarnation += 1
            self._start(s)
        else:
            s.finished = True

    def _startup_death(self, s: _Slot, exited: WorkerExited | None) -> None:
        """A worker ended before its first trial: try again, a bounded number of times.

        Raises:
            FatalSearchError: After ``MAX_STARTUP_DEATHS`` in a row on one slot,
                with the worker's own error line.
        """
        s.startup_deaths += 1
        if exited is not None and exited.error:
            line = exited.error.rstrip(".")
        else:
            line = f"the process ended with exit code {s.process.exitcode}"
            last = self._last_output(s.name)
            if last:
                line += f"; its last output: {last}"
        where = ""
        if exited is not None and exited.detail:
            path = self.config.output_path / f"worker-{s.slot.index}-error.txt"
            with contextlib.suppress(OSError):
                path.write_text(exited.detail)
                where = f" Its traceback is in {path}."
        if s.startup_deaths >= MAX_STARTUP_DEATHS:
            raise FatalSearchError(
                f"worker w{s.slot.index} ({s.slot.label}) could not start {s.startup_deaths} "
                f"times in a row, so the search stops. Its error: {line}.{where} Fix that "
                "(e.g. install the backend's extra, check the GPU driver), then run the same "
                "command again."
            )
        self.on_message(
            f"Worker {s.name} could not start ({line}); starting it again "
            f"(attempt {s.startup_deaths + 1} of {MAX_STARTUP_DEATHS})."
        )

    def _last_output(self, name: str) -> str | None:
        """The last line a worker printed while it started, if any."""
        try:
            text = start_log_path(self.data_dir, name).read_text(errors="replace")
        except OSError:
            return None
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1][:500] if lines else None

    def _worker_died(self, s: _Slot) -> None:
        """A worker ended without saying so: fail its trial, retry it once."""
        code = s.process.exitcode
        started = self.dispatcher.running.get(s.name)
        self.on_message(f"Worker {s.name} died (exit code {code}).")
        if started is None:
            return
        message = f"the worker process {s.name} died (exit code {code}) during the trial"
        if not end_abandoned_trial(
            self.study, started, reason="worker_died", message=message, emit=self.dispatcher.handle
        ):
            return
        # The trial did not finish through any fault of its parameters: give
        # its ticket back, and run the same parameters once more.
        with self.tickets.get_lock():
            self.tickets.value += 1
        frozen = self.study._storage.get_trial(started.trial_id)
        if started.number not in self.retried and requeue_once(self.study, frozen):
            self.retried.add(started.number)
            self.on_message(
                f"Trial {started.number} failed (worker_died); retrying its parameters."
            )

    def _stop_all(self) -> None:
        """Ask every worker to stop (SIGTERM), then kill what is left."""
        alive = [s for s in self.slots if s.process is not None and s.process.is_alive()]
        for s in alive:
            s.process.terminate()
        end = time.monotonic() + _STOP_GRACE_S
        for s in alive:
            s.process.join(timeout=max(0.0, end - time.monotonic()))
        # Events sent while stopping (interrupted trials) still reach MLflow.
        with contextlib.suppress(Exception):
            self._drain(timeout=0.1, until_empty=True)
        for s in alive:
            if s.process.is_alive():
                s.process.kill()
                s.process.join()
            started = self.dispatcher.running.pop(s.name, None)
            if started is not None:
                end_abandoned_trial(
                    self.study,
                    started,
                    reason="interrupted",
                    message="the search was interrupted",
                    emit=self.dispatcher.handle,
                )
