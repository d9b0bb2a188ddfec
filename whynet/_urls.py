"""Helpers for storage and tracking URLs."""

from __future__ import annotations

import re

_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):(?P<secret>[^@\s]*)@")


def mask_url(url: str) -> str:
    """Hide the password of a URL, e.g. ``postgresql://u:***@host/db``.

    Example:
        >>> mask_url("postgresql://alice:s3cret@db:5432/whynet")
        'postgresql://alice:***@db:5432/whynet'
    """
    return _PASSWORD.sub(lambda m: f"{m.group('head')}:***@", url)
