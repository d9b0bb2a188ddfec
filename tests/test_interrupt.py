"""Ctrl-C and SIGTERM are deferred to safe points, and a second one forces."""

from __future__ import annotations

import os
import signal
import time

import pytest

from whynet import _interrupt


def _signal_self(signum: int) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(0.05)  # the handler runs at the next bytecode boundary


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_is_held_until_the_next_safe_point(signum: int) -> None:
    before = signal.getsignal(signum)
    with _interrupt.deferred_signals():
        _signal_self(signum)  # nothing raised here
        assert _interrupt.requested()
        with pytest.raises(KeyboardInterrupt):
            _interrupt.raise_if_requested()
        assert not _interrupt.requested()
        _interrupt.raise_if_requested()  # acted on once, not again
    assert signal.getsignal(signum) is before


def test_a_second_signal_raises_at_once() -> None:
    with _interrupt.deferred_signals():
        _signal_self(signal.SIGTERM)
        with pytest.raises(KeyboardInterrupt):
            _signal_self(signal.SIGTERM)


def test_an_inner_block_keeps_the_outer_request() -> None:
    with _interrupt.deferred_signals():
        _signal_self(signal.SIGTERM)
        with _interrupt.deferred_signals():
            assert _interrupt.requested()
        assert _interrupt.requested()
    assert not _interrupt.requested()  # leaving the outer block clears it
