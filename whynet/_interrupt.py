"""Ctrl-C and SIGTERM that take effect where stopping is safe.

Python's default Ctrl-C raises ``KeyboardInterrupt`` wherever the main thread
happens to be. In a search that may be in the middle of a storage write that
holds Optuna's journal lock, of a queue hand-off to the MLflow thread, or of
saving the best model, and the clean-up that follows can then wait on a lock
nobody will release. While :func:`deferred_signals` is active, a first signal
only records the request; the search raises ``KeyboardInterrupt`` itself at
the next safe point: between training batches (see :func:`raise_if_requested`
in the Keras trainer), after an epoch is reported, or before the next trial.
A second signal raises at once, for a user who does not want to wait.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

_pending = False  # a stop was asked for and not yet acted on
_signals = 0  # stop signals received while deferred_signals is active
_active = False  # deferred_signals is in force (an inner block changes nothing)


def requested() -> bool:
    """Whether a stop was asked for and not yet acted on."""
    return _pending


def raise_if_requested() -> None:
    """Raise ``KeyboardInterrupt`` here if a stop was asked for (once)."""
    global _pending
    if _pending:
        _pending = False
        raise KeyboardInterrupt


def request_stop(signum: int = signal.SIGINT, frame: Any = None) -> None:
    """A signal handler: the first signal asks to stop, a second one forces it."""
    global _pending, _signals
    _signals += 1
    if _signals > 1:
        _pending = False
        raise KeyboardInterrupt
    _pending = True


def _reset() -> None:
    global _pending, _signals
    _pending = False
    _signals = 0


@contextlib.contextmanager
def deferred_signals(
    signums: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM),
) -> Iterator[None]:
    """Within the block, ``signums`` ask to stop instead of raising anywhere.

    Signal handlers can only be set from the main thread; elsewhere (a
    search started from a thread) the block changes nothing, and so does a
    block inside another.
    """
    global _active
    if _active or threading.current_thread() is not threading.main_thread():
        yield
        return
    _active = True
    _reset()
    previous = {signum: signal.getsignal(signum) for signum in signums}
    for signum in signums:
        signal.signal(signum, request_stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _active = False
        # A request that came after the last safe point found nothing left
        # to stop: the work it would have interrupted is done.
        _reset()
