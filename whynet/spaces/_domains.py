"""Domains: the values one parameter may take."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Choice", "Domain", "Fixed", "FloatRange", "IntRange", "Suggester"]


class Suggester(Protocol):
    """What a search space needs from Optuna: its three ``suggest_*`` calls.

    ``optuna.trial.Trial`` satisfies it; so does anything else with the same
    three methods, which keeps :mod:`whynet.spaces` free of Optuna.
    """

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        """Pick one of ``choices``."""

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        """Pick an integer in ``[low, high]``."""

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        """Pick a float in ``[low, high]``."""


@dataclass(frozen=True)
class Fixed:
    """A parameter held at one value."""

    value: Any

    def sample(self, suggester: Suggester, name: str) -> Any:
        # Not suggested: a one-value choice would cost a storage write per
        # trial and tell the sampler nothing. The trial's full parameters are
        # stored with it, and the study stores the space it searches.
        return self.value

    def values(self) -> list[Any]:
        return [self.value]

    def to_config(self) -> Any:
        return self.value


@dataclass(frozen=True)
class Choice:
    """A parameter that takes one of a list of values."""

    options: tuple[Any, ...]

    def sample(self, suggester: Suggester, name: str) -> Any:
        return suggester.suggest_categorical(name, list(self.options))

    def values(self) -> list[Any]:
        return list(self.options)

    def to_config(self) -> Any:
        return list(self.options)


@dataclass(frozen=True)
class IntRange:
    """An integer parameter in ``[low, high]``."""

    low: int
    high: int
    log: bool = False
    step: int = 1

    def sample(self, suggester: Suggester, name: str) -> int:
        return int(suggester.suggest_int(name, self.low, self.high, step=self.step, log=self.log))

    def values(self) -> list[Any]:
        return list(range(self.low, self.high + 1, self.step))

    def to_config(self) -> Any:
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step != 1:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class FloatRange:
    """A float parameter in ``[low, high]``, optionally on a log scale."""

    low: float
    high: float
    log: bool = False

    def sample(self, suggester: Suggester, name: str) -> float:
        return float(suggester.suggest_float(name, self.low, self.high, log=self.log))

    def values(self) -> list[Any]:
        raise TypeError("a float range has no finite list of values")

    def to_config(self) -> Any:
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        return out


Domain = Fixed | Choice | IntRange | FloatRange


def is_finite_number(value: Any) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False
