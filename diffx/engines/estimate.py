"""The result every engine returns: a value with its error estimate and its cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Estimate"]


@dataclass(frozen=True)
class Estimate:
    """A derivative with what it cost and how far it may be off.

    ``value``: float or ndarray (shape of the derivative asked for). ``error``: an estimate of
    the absolute error of each entry (same shape), or ``None`` for methods that are exact up to
    rounding (those whose registry record says ``exact``: ``diffx.engines.methods(exact=True)``).
    ``evaluations``: function evaluations used (``None`` where the notion does not apply).
    ``step``: the finite-difference step used, if any.
    """

    value: Any
    error: Any = None
    evaluations: int | None = None
    step: float | None = None
    method: str | None = None
