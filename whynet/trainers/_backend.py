"""Import the Keras backend once, quietly, in the process that trains."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

__all__ = ["import_keras"]


@contextlib.contextmanager
def _stderr_to_file() -> Iterator[Any]:
    """Send file descriptor 2 to a temporary file, and restore it after.

    TensorFlow's C++ runtime writes start-up notes (oneDNN, CUDA probing)
    straight to the descriptor, before any Python logging applies.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield None
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield sink
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)


def import_keras() -> Any:
    """Import Keras and initialize its backend without start-up noise.

    Returns:
        The ``keras`` module.

    Raises:
        ImportError: With what the backend printed, if the import failed.
    """
    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _stderr_to_file() as sink:
        try:
            import keras

            # The first operation initializes the devices, which logs too.
            keras.ops.convert_to_numpy(keras.ops.zeros((1,)))
        except Exception as exc:
            detail = ""
            if sink is not None:
                sink.seek(0)
                detail = sink.read().decode(errors="replace")[-2000:]
            raise ImportError(f"could not import Keras: {exc}\n{detail}") from exc
    return keras
