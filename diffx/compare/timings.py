"""Per-call time with its spread (median, quartiles) and setup, for methods and their variants.

:func:`timing` times every method on one function at one point, next to one evaluation of f
itself; :func:`time_method` times one of them (the scaling study calls it for every size).

    >>> from diffx import parse
    >>> row = time_method(parse("x**2"), np.array([1.5]), "dual", repeats=3)
    >>> row.method, row.n, row.repeats, row.status
    ('dual', 1, 3, 'ok')
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from diffx import engines
from diffx.compare.formatting import format_seconds
from diffx.compare.measurement import (
    errors_against,
    samples,
    warm_up,
)
from diffx.engines import METHODS
from diffx.functions import Function, as_function
from diffx.reference import to_float

__all__ = ["VARIANTS", "Timing", "TimingRow", "time_method", "timing"]

@dataclass
class TimingRow:
    """Time of one method at one size: median and quartiles of warm calls, and setup.

    ``setup_seconds`` is the first (cold) call's extra time over the median: SymPy diff +
    lambdify, TensorFlow tracing. ``rel_error`` is against the reference (NaN: not checked).
    """

    method: str
    n: int
    seconds: float
    q1: float
    q3: float
    setup_seconds: float
    repeats: int
    rel_error: float = math.nan
    status: str = "ok"


# Variants measured beside the methods: the same engine with another setting, by the method
# whose engine they run
VARIANTS: dict[str, str] = {
    "tape-graph": "tape",  # the tape gradient compiled with tf.function (first call traces)
    "dual-scalar": "dual",  # the dual gradient one direction per pass (chunk=1): classic forward
}


def _call_for(fn: Function, point: np.ndarray, method: str) -> Callable[[], Any]:
    """A zero-argument call computing the derivative (n = 1) or gradient with ``method`` (a
    method of ``diffx.METHODS``, a variant of :data:`VARIANTS`, or "function": f itself)."""
    if method == "function":
        return lambda: fn.numpy_call(point)
    if method == "tape-graph":
        if point.size == 1:
            return lambda: engines.derivative(fn, point[0], "tape", mode="graph")
        return lambda: engines.gradient(fn, point, "tape", mode="graph")
    if method == "dual-scalar":
        from diffx.engines import dual

        return lambda: dual.jacobian(fn, point, chunk=1)[0]
    engines.family_of(method)
    if point.size == 1:
        return lambda: engines.derivative(fn, point[0], method)
    return lambda: engines.gradient(fn, point, method)


def time_method(fn: Function, point: np.ndarray, method: str, repeats: int | None = None,
                min_time: float = 0.05, reference: Any = None) -> TimingRow:
    """Time ``method`` (a method, a variant of :data:`VARIANTS`, or "function") on ``fn`` at
    ``point`` (shape (n,)): the calls of :func:`diffx.compare.measurement.samples`, warnings
    silenced; the derivative (n = 1) or gradient is checked against ``reference`` if given.
    Any exception becomes the row's ``status``.
    """
    n = point.size
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result, cold, times = samples(_call_for(fn, point, method), repeats, min_time)
    except Exception as exc:  # a method that cannot run keeps its row, with the reason
        return TimingRow(method, n, math.nan, math.nan, math.nan, math.nan, 0,
                         status=str(exc).splitlines()[0] or type(exc).__name__)
    q1, median, q3 = (np.percentile(times, [25, 50, 75]) if len(times) > 1
                      else (times[0],) * 3)
    rel_error = math.nan
    if reference is not None and method != "function":
        value = np.reshape(result, np.shape(to_float(reference)))
        rel_error = errors_against(value, reference)[1]
    return TimingRow(method, n, float(median), float(q1), float(q3),
                     max(cold - float(median), 0.0), len(times), rel_error)


@dataclass
class Timing:
    """Per-call time of every method on ``function`` at ``point`` (row "function": f itself)."""

    function: Function
    point: np.ndarray
    rows: list[TimingRow] = field(default_factory=list)

    def row(self, method: str) -> TimingRow:
        return next(r for r in self.rows if r.method == method)

    def ratio(self, method: str) -> float:
        """Median time of ``method`` over the median time of one evaluation of f."""
        return self.row(method).seconds / self.row("function").seconds

    def __str__(self) -> str:
        lines = [f"time per call for {self.function.name} (n = {self.point.size})",
                 f"{'method':<14}{'median':>10}{'q1':>10}{'q3':>10}{'setup':>10}"
                 f"{'× f':>8}"]
        for r in self.rows:
            if r.status != "ok":
                lines.append(f"{r.method:<14}failed: {r.status}")
                continue
            lines.append(f"{r.method:<14}{format_seconds(r.seconds):>10}"
                         f"{format_seconds(r.q1):>10}{format_seconds(r.q3):>10}"
                         f"{format_seconds(r.setup_seconds):>10}{self.ratio(r.method):>8.3g}")
        return "\n".join(lines)

    def to_records(self) -> list[dict[str, Any]]:
        return [{"function": self.function.name, **asdict(r)} for r in self.rows]


def timing(f: Any, at: Any, methods: Sequence[str] | None = None, *,
           repeats: int | None = None, min_time: float = 0.05,
           variables: Sequence[str] | None = None) -> Timing:
    """Median and quartiles of per-call time for each method, setup time separately.

    ``methods`` defaults to ``diffx.METHODS`` plus "tape-graph" (the GradientTape gradient
    compiled with ``tf.function``); a "function" row times f itself, so ratios come from one
    run. Each method gets a copy of f with empty caches, so its setup is measured even when f
    was differentiated before. Scalar functions only (derivative for n = 1, gradient
    otherwise).

    >>> t = timing("x**2*y", [1.0, 2.0], ["dual", "central"], repeats=3)
    >>> [r.method for r in t.rows], t.ratio("dual") > 0
    (['function', 'dual', 'central'], True)
    """
    fn = as_function(f, variables)
    point = np.atleast_1d(np.asarray(at, dtype=float))
    methods = [*METHODS, "tape-graph"] if methods is None else list(methods)
    warm_up([VARIANTS.get(m, m) for m in methods])
    result = Timing(fn, point)
    for method in ["function", *methods]:
        result.rows.append(time_method(fn.fresh(), point, method, repeats, min_time))
    return result


