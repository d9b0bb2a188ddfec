"""Import the Keras backend once, quietly, in the process that trains."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from importlib.util import find_spec
from typing import Any

__all__ = ["import_keras", "quiet_native_logs", "stderr_to_file"]

# Set (unless the user set them) before TensorFlow, JAX or gRPC is imported:
# level 3 keeps the C++ runtime's INFO, WARNING and ERROR lines (CUDA probing,
# cuDNN factory registration) off the terminal; the errors that matter reach
# whynet as Python exceptions. TF_CPP_MIN_LOG_LEVEL=0 shows them all again.
_QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "GRPC_VERBOSITY": "ERROR",
    "GLOG_minloglevel": "2",
}


def quiet_native_logs() -> None:
    """Quiet the frameworks' C++ logging, keeping what the user set."""
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)


@contextlib.contextmanager
def stderr_to_file(path: str | os.PathLike[str] | None = None) -> Iterator[Any]:
    """Send file descriptor 2 to a file, and restore it after.

    TensorFlow's C++ runtime writes start-up notes (oneDNN, CUDA probing)
    straight to the descriptor, before any Python logging applies.

    Args:
        path: A file to append to, which outlives the process (a worker's
            launcher reads it if the worker dies); a temporary file if None.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield None
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with contextlib.ExitStack() as stack:
        if path is not None:
            sink = stack.enter_context(open(path, "a+b"))
        else:
            sink = stack.enter_context(tempfile.TemporaryFile(mode="w+b"))
        os.dup2(sink.fileno(), fd)
        try:
            yield sink
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)


def import_keras(*, log_path: str | os.PathLike[str] | None = None) -> Any:
    """Import Keras and initialize its backend without start-up noise.

    Args:
        log_path: Where what the import prints goes (a temporary file if None).

    Returns:
        The ``keras`` module.

    Raises:
        ImportError: With what the backend printed, if the import failed.
    """
    if "keras" in sys.modules:
        return sys.modules["keras"]
    quiet_native_logs()
    # Some lines (absl's "All log messages before absl::InitializeLog() is
    # called are written to STDERR", oneDNN, "Could not find cuda drivers")
    # are written before any log level applies: only this redirect stops them.
    with stderr_to_file(log_path) as sink:
        try:
            import keras

            # The first operation initializes the devices, which logs too.
            keras.ops.convert_to_numpy(keras.ops.zeros((1,)))
            if keras.backend.backend() != "tensorflow" and find_spec("tensorflow") is not None:
                # Keras imports TensorFlow on other backends too, where it is
                # installed (``keras.utils.set_random_seed`` seeds it): here,
                # quietly, rather than loudly in the first trial.
                import tensorflow  # noqa: F401
        except Exception as exc:
            detail = ""
            if sink is not None:
                sink.seek(0)
                detail = sink.read().decode(errors="replace")[-2000:]
            raise ImportError(f"could not import Keras: {exc}\n{detail}") from exc
    return keras
