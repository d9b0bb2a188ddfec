"""Helpers for storage and tracking URLs."""

from __future__ import annotations

import re
from pathlib import Path

_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):(?P<secret>[^@\s]*)@")


def mask_url(url: str) -> str:
    """Hide the password of a URL, e.g. ``postgresql://u:***@host/db``.

    Example:
        >>> mask_url("postgresql://alice:s3cret@db:5432/whynet")
        'postgresql://alice:***@db:5432/whynet'
    """
    return _PASSWORD.sub(lambda m: f"{m.group('head')}:***@", url)


def absolute_sqlite(uri: str) -> str:
    """Make a relative ``sqlite:///file.db`` URI absolute.

    Libraries cache engines by URI, so a relative path would keep pointing at
    the working directory of the first use.
    """
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        rest = uri[len(prefix) :]
        path, sep, query = rest.partition("?")
        if path and path != ":memory:":
            return f"{prefix}{Path(path).resolve()}{sep}{query}"
    return uri
