"""Search: studies, samplers, pruners and the trial loop.

This package is also the function ``whynet.search(...)``: calling the module
runs :func:`whynet.search._api.search`, so that the top-level API and the
subpackage can share their natural name.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from whynet.search._api import search
from whynet.search._factories import make_pruner, make_sampler, make_storage
from whynet.search._result import SearchResult, trials_frame
from whynet.search._runner import prepare_backend, run_search
from whynet.search._study import open_study
from whynet.search._sync import SyncReport, sync_study, sync_tracking

__all__ = [
    "SearchResult",
    "SyncReport",
    "make_pruner",
    "make_sampler",
    "make_storage",
    "open_study",
    "prepare_backend",
    "run_search",
    "search",
    "sync_study",
    "sync_tracking",
    "trials_frame",
]


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> SearchResult:
        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
