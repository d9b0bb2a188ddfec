"""Lazy optional imports with messages that name the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from whynet.exceptions import ConfigError


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise a :class:`ConfigError` naming the extra.

    Args:
        module: Dotted module name, e.g. ``"torch"``.
        extra: The ``pip install whynet[extra]`` that provides it.
        purpose: What the caller needs it for, for the message.

    Returns:
        The imported module.

    Raises:
        ConfigError: If the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"{purpose} needs the package {module!r}, which is not installed "
            f"({exc}). Install it with: pip install 'whynet[{extra}]'."
        ) from None
