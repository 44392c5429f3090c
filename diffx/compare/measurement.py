"""Measure one method on one prepared function at one point: value, time, errors vs the reference.

This is the measuring loop every comparison in diffx shares — :func:`diffx.compare.compare`
runs it for each method, the explorer (:mod:`diffx.explore`) for each row of its table, the
timing and scaling studies through :func:`samples`.

    >>> import numpy as np
    >>> from diffx import parse
    >>> from diffx.reference import reference_derivative
    >>> fn = parse("x**3")
    >>> row = measure(fn, np.array([2.0]), "dual", reference=reference_derivative(fn, 2.0))
    >>> row.value, row.digits, row.status
    (12.0, 16.0, 'ok')

Errors are always measured against the 50-digit reference (:mod:`diffx.reference`), never
against another engine. Times are medians over repeated warm calls after a first (cold) call;
the cold call's extra time — SymPy's ``diff`` + ``lambdify``, TensorFlow's tracing — is
``setup_seconds``.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from diffx import engines
from diffx.engines import FAMILIES, METHODS, Estimate, engine
from diffx.errors import DiffxError
from diffx.functions import Function
from diffx.reference import to_float

__all__ = [
    "MAX_DIGITS",
    "ComparisonRow",
    "Progress",
    "correct_digits",
    "errors_against",
    "measure",
    "no_progress",
    "samples",
    "score",
    "warm_up",
]

MAX_DIGITS = 16.0  # float64 carries 15.95 decimal digits; an exact result is shown as 16
Progress = Callable[[str], None]  # called once per finished unit of work, with a description


def no_progress(description: str) -> None:
    """The default progress callback: do nothing."""


def correct_digits(rel_error: float) -> float:
    """−log10 of the relative error, clipped to [0, 16] (NaN for a failed method)."""
    if math.isnan(rel_error):
        return math.nan
    if rel_error == 0:
        return MAX_DIGITS
    return float(min(max(-math.log10(rel_error), 0.0), MAX_DIGITS)) + 0.0  # never -0.0


@dataclass
class ComparisonRow:
    """One method's result. ``value`` is a float (derivative) or ndarray (gradient/Jacobian).

    Errors are against the 50-digit reference (NaN when not scored); ``seconds`` is the median
    of ``repeats`` warm calls, ``setup_seconds`` the first call's extra time; ``step`` the
    finite-difference step actually used (None for the exact methods).
    """

    method: str
    family: str
    value: Any
    abs_error: float
    rel_error: float
    digits: float
    seconds: float
    setup_seconds: float
    evaluations: int | None
    error_estimate: float | None
    repeats: int
    status: str = "ok"  # or the error message of a method that could not run
    step: float | None = None

    @classmethod
    def failed(cls, method: str, status: str) -> ComparisonRow:
        """The row of a method that gave no value; ``status`` says why."""
        return cls(method, FAMILIES[method], math.nan, math.nan, math.nan, math.nan, math.nan,
                   math.nan, None, None, 0, status=status)


def errors_against(value: Any, reference: Any) -> tuple[float, float]:
    """(absolute, relative) error of ``value`` against the 50-digit ``reference`` (a number or
    an array of mpmath numbers, same shape; arrays by the 2-norm), rounded to float at the end.

    >>> errors_against(0.5, 0.25)
    (0.25, 1.0)
    """
    value = np.asarray(value, dtype=float)
    ref = np.asarray(to_float(reference), dtype=float)
    if isinstance(reference, np.ndarray):
        diff = np.array([float(abs(r - v)) for r, v in zip(reference.ravel(), value.ravel())])
        abs_error = float(np.linalg.norm(diff))
    else:
        abs_error = float(abs(reference - float(value)))
    scale = float(np.linalg.norm(ref))
    rel_error = abs_error / scale if scale > 0 else abs_error
    return abs_error, rel_error


def samples(call: Callable[[], Any], repeats: int | None = None, min_time: float = 0.05,
            min_repeats: int = 3, max_repeats: int = 100) -> tuple[Any, float, list[float]]:
    """Cold call, then warm calls: exactly ``repeats`` of them, or (``repeats`` None) until
    ``min_time`` seconds have passed and at least ``min_repeats`` ran, at most ``max_repeats``.

    Returns the cold call's result, its time, and the warm calls' times.

    >>> result, cold, times = samples(lambda: 42, repeats=4)
    >>> result, len(times)
    (42, 4)
    """
    start = time.perf_counter()
    result = call()
    cold = time.perf_counter() - start
    times: list[float] = []
    budget_start = time.perf_counter()
    while True:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
        if repeats is not None:
            if len(times) >= repeats:
                break
        elif (len(times) >= min_repeats and time.perf_counter() - budget_start >= min_time) \
                or len(times) >= max_repeats:
            break
    return result, cold, times


def warm_up(methods: Sequence[str]) -> None:
    """Run the registry's ``warm_up`` hook of each of ``methods`` (TensorFlow's import for the
    tape methods) up front: a one-off import (seconds) is not the setup cost of any method,
    and must not fall inside a time limit. Names that are not registered are skipped."""
    for name in dict.fromkeys(methods):
        if name in METHODS and engine(name).warm_up is not None:
            engine(name).warm_up()


def measure(fn: Function, point: np.ndarray, method: str, *, kind: str = "derivative",
            order: int = 1, step: float | None = None, reference: Any = None,
            repeats: int | None = None, min_time: float = 0.05, min_repeats: int = 3,
            max_repeats: int = 100) -> ComparisonRow:
    """Run ``method`` of ``diffx.METHODS`` on ``fn`` at ``point`` (shape (n,)) and time it.

    ``kind`` is "derivative" (``order``-th, n = 1), "gradient" or "jacobian"; ``step`` is the
    finite-difference step (numeric methods only; None: each method's own). The calls follow
    :func:`samples`. Without ``reference`` the errors are NaN (:func:`score` adds them later);
    a method that raises DiffxError keeps a row with the message as ``status``. ``fn`` is used
    as given: pass ``fn.fresh()`` (:meth:`diffx.Function.fresh`) for the setup to be paid again.
    """
    record = engine(method)
    family = record.family
    options = {"step": step} if step is not None and "step" in record.options else {}

    def call() -> Estimate:
        if kind == "derivative":
            return engines.derivative(fn, point[0], method, order, full_output=True, **options)
        return getattr(engines, kind)(fn, point, method, full_output=True, **options)

    try:
        result, cold, times = samples(call, repeats, min_time, min_repeats, max_repeats)
    except DiffxError as exc:
        return ComparisonRow.failed(method, str(exc).splitlines()[0] if str(exc)
                                    else type(exc).__name__)
    seconds = statistics.median(times)
    row = ComparisonRow(
        method, family, result.value, math.nan, math.nan, math.nan, seconds,
        max(cold - seconds, 0.0), result.evaluations,
        None if result.error is None else float(np.max(result.error)), len(times),
        step=None if result.step is None else float(result.step))
    return row if reference is None else score(row, reference)


def score(row: ComparisonRow, reference: Any) -> ComparisonRow:
    """``row`` with its errors and correct digits against the 50-digit ``reference`` (a row
    that failed, or no reference: unchanged)."""
    if row.status != "ok" or reference is None:
        return row
    abs_error, rel_error = errors_against(row.value, reference)
    return replace(row, abs_error=abs_error, rel_error=rel_error,
                   digits=correct_digits(rel_error))
