"""Fingerprints: a short digest of the raw data and the split settings."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

RawPart = np.ndarray | pd.DataFrame | pd.Series | str


def _update_array(h: hashlib._Hash, array: np.ndarray) -> None:
    h.update(f"array{array.shape}{array.dtype.str}".encode())
    if array.dtype.hasobject:
        # Object arrays hold pointers; hash their values instead.
        values = np.asarray(array, dtype=object).ravel()
        try:
            hashed = pd.util.hash_array(values)
        except (TypeError, ValueError):  # values pandas cannot hash, e.g. non-ASCII bytes
            hashed = pd.util.hash_array(np.array([_text(v) for v in values], dtype=object))
        h.update(np.ascontiguousarray(hashed).tobytes())
    else:
        h.update(np.ascontiguousarray(array).tobytes())


def _update_frame(h: hashlib._Hash, frame: pd.DataFrame) -> None:
    header = [(str(c), str(t)) for c, t in frame.dtypes.items()]
    h.update(f"frame{frame.shape}{header}".encode())
    try:
        hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except (TypeError, ValueError):  # values pandas cannot hash, e.g. non-ASCII bytes
        hashed = pd.util.hash_pandas_object(frame.map(_text), index=False).to_numpy()
    h.update(np.ascontiguousarray(hashed).tobytes())


def _text(value: object) -> str:
    return f"{type(value).__name__}:{value!r}"


def fingerprint(parts: Iterable[RawPart], settings: Mapping[str, object]) -> str:
    """A 16-hex-digit sha256 digest of raw data and settings.

    Args:
        parts: The raw data, before any preprocessing: arrays (their bytes,
            shapes and dtypes count), frames (their values, column names and
            dtypes count) and strings.
        settings: Split settings and the task; must be JSON-serializable.

    Returns:
        The first 16 hex digits of the digest.
    """
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.DataFrame):
            _update_frame(h, part)
        elif isinstance(part, pd.Series):
            _update_frame(h, part.to_frame())
        elif isinstance(part, str):
            h.update(f"text{len(part)}:{part}".encode())
        else:
            _update_array(h, np.asarray(part))
    h.update(json.dumps(dict(settings), sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]
