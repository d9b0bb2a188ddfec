"""Search spaces: which networks and training settings a search may try.

The vocabulary of parameters is fixed (:data:`PARAMETERS`); a space gives each
one a domain: a fixed value, a list of choices or a range. Spaces know Optuna
only through the :class:`Suggester` protocol.
"""

from __future__ import annotations

from whynet.spaces._domains import Choice, Fixed, FloatRange, IntRange, Suggester
from whynet.spaces._space import PARAMETERS, ParamDef, SearchSpace, TrialParams

__all__ = [
    "PARAMETERS",
    "Choice",
    "Fixed",
    "FloatRange",
    "IntRange",
    "ParamDef",
    "SearchSpace",
    "Suggester",
    "TrialParams",
]
