"""Measure every method on one function at one point: error against the 50-digit reference, time.

    >>> from diffx.compare import compare
    >>> c = compare("sin(x)*exp(x)", at=1.3, methods=["central", "dual"])
    >>> [row.method for row in c.rows]
    ['central', 'dual']
    >>> c.rows[1].digits >= 15
    True

Errors are always measured against :mod:`diffx.reference`, never against another engine. Times
are medians over repeated calls after a first (cold) call; the cold call's extra time — SymPy's
``diff`` + ``lambdify``, TensorFlow's tracing — is reported separately as ``setup_seconds``.
"""

from __future__ import annotations

import html
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from diffx import engines
from diffx.engines import FAMILIES, METHODS, Estimate
from diffx.errors import DiffxError
from diffx.functions import Function, as_function
from diffx.reference import reference_derivative, reference_jacobian, to_float

__all__ = ["MAX_DIGITS", "Comparison", "ComparisonRow", "compare", "correct_digits"]

MAX_DIGITS = 16.0  # float64 carries 15.95 decimal digits; an exact result is shown as 16


def correct_digits(rel_error: float) -> float:
    """−log10 of the relative error, clipped to [0, 16] (NaN for a failed method)."""
    if math.isnan(rel_error):
        return math.nan
    if rel_error == 0:
        return MAX_DIGITS
    return float(min(max(-math.log10(rel_error), 0.0), MAX_DIGITS))


@dataclass
class ComparisonRow:
    """One method's result. ``value`` is a float (derivative) or ndarray (gradient/Jacobian)."""

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


@dataclass
class Comparison:
    """Every method's row for ``function`` at ``point``; ``kind`` says what was differentiated."""

    function: Function
    point: np.ndarray
    kind: str  # "derivative" (order k), "gradient" or "jacobian"
    order: int
    reference: Any
    rows: list[ComparisonRow] = field(default_factory=list)

    # --- text ---------------------------------------------------------------------------
    def _title(self) -> str:
        what = self.kind if self.kind != "derivative" or self.order == 1 else \
            f"derivative of order {self.order}"
        at = ", ".join(f"{v:.17g}" for v in self.point)
        return f"{what} of {self.function.name} at ({at})" if self.point.size > 1 else \
            f"{what} of {self.function.name} at {at}"

    def table(self) -> list[list[str]]:
        header = ["method", "family", "value", "digits", "rel. error", "error est.",
                  "time", "setup", "evals"]
        body = [[r.method, r.family, _format_value(r.value) if r.status == "ok" else "failed *",
                 _format_digits(r.digits), _format_error(r.rel_error),
                 _format_error(r.error_estimate), _format_seconds(r.seconds),
                 _format_seconds(r.setup_seconds),
                 "" if r.evaluations is None else str(r.evaluations)]
                for r in self.rows]
        return [header, *body]

    def __str__(self) -> str:
        rows = self.table()
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        numeric = {3, 4, 5, 6, 7, 8}
        lines = [self._title(), f"reference (50 digits): {_format_value(self.reference)}", ""]
        for k, row in enumerate(rows):
            cells = [cell.rjust(w) if i in numeric else cell.ljust(w)
                     for i, (cell, w) in enumerate(zip(row, widths))]
            lines.append("  ".join(cells).rstrip())
            if k == 0:
                lines.append("  ".join("-" * w for w in widths))
        failed = [r for r in self.rows if r.status != "ok"]
        if failed:
            lines.append("")
            lines.extend(f"* {r.method}: {r.status}" for r in failed)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Comparison: {self._title()}, {len(self.rows)} methods>"

    def _repr_html_(self) -> str:
        rows = self.table()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                       for row in rows[1:])
        return (f"<p><b>{html.escape(self._title())}</b><br>reference (50 digits): "
                f"<code>{html.escape(_format_value(self.reference))}</code></p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
                + "".join(f"<p>* {html.escape(r.method)}: {html.escape(r.status)}</p>"
                          for r in self.rows if r.status != "ok"))

    # --- data ---------------------------------------------------------------------------
    def to_records(self) -> list[dict[str, Any]]:
        return [asdict(row) for row in self.rows]

    def to_pandas(self):
        """The rows as a pandas DataFrame indexed by method (pandas is optional)."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - pandas is in the dev extra
            raise DiffxError("to_pandas() needs pandas: pip install pandas") from None
        return pd.DataFrame(self.to_records()).set_index("method")

    def plot(self):
        """A matplotlib Figure: correct digits and time per method, coloured by family."""
        from matplotlib.figure import Figure

        colours = {"symbolic": "#4C72B0", "numeric": "#DD8452", "automatic": "#55A868"}
        ok = [r for r in self.rows if r.status == "ok"]
        names = [r.method for r in ok]
        fig = Figure(figsize=(10, 4), layout="constrained")
        ax_digits, ax_time = fig.subplots(1, 2)
        ax_digits.barh(names, [r.digits for r in ok], color=[colours[r.family] for r in ok])
        ax_digits.set_xlim(0, MAX_DIGITS + 0.5)
        ax_digits.set_xlabel("correct digits (vs 50-digit reference)")
        ax_digits.invert_yaxis()
        ax_time.barh(names, [r.seconds for r in ok], color=[colours[r.family] for r in ok])
        ax_time.set_xscale("log")
        ax_time.set_xlabel("median time per call [s]")
        ax_time.invert_yaxis()
        ax_time.set_yticklabels([])
        for family, colour in colours.items():
            ax_digits.bar(0, 0, color=colour, label=family)
        fig.legend(loc="outside lower center", ncols=3, fontsize="small", frameon=False)
        fig.suptitle(self._title())
        return fig


# --------------------------------------------------------------------------------------------
def _format_value(value: Any) -> str:
    """Full precision (17 significant digits) — the digits are the point; arrays as nested lists."""
    if isinstance(value, (np.ndarray, list, tuple)):
        array = np.asarray(value)
        if array.dtype == object:
            array = to_float(array)
        if array.ndim == 0:
            return _format_value(float(array))
        return "[" + ", ".join(_format_value(item) for item in array) + "]"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{float(value):.17g}"


def _format_digits(digits: float) -> str:
    return "" if math.isnan(digits) else f"{digits:.1f}"


def _format_error(error: float | None) -> str:
    if error is None or (isinstance(error, float) and math.isnan(error)):
        return ""
    return "0" if error == 0 else f"{error:.1e}"


def _format_seconds(seconds: float) -> str:
    if math.isnan(seconds):
        return ""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def _timed(call: Callable[[], Estimate], repeats: int | None,
           min_time: float) -> tuple[Estimate, float, float, int]:
    """Cold call, then repeated warm calls; returns result, median, setup time, repeats."""
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
        elif (len(times) >= 3 and time.perf_counter() - budget_start >= min_time) \
                or len(times) >= 100:
            break
    median = statistics.median(times)
    return result, median, max(cold - median, 0.0), len(times)


def _errors(value: Any, reference: Any) -> tuple[float, float]:
    value = np.asarray(value, dtype=float)
    ref = np.asarray(to_float(reference), dtype=float)
    # the error is taken against the 50-digit reference, rounded to float only at the end
    if isinstance(reference, np.ndarray):
        diff = np.array([float(abs(r - v)) for r, v in zip(reference.ravel(), value.ravel())])
        abs_error = float(np.linalg.norm(diff))
    else:
        abs_error = float(abs(reference - float(value)))
    scale = float(np.linalg.norm(ref))
    rel_error = abs_error / scale if scale > 0 else abs_error
    return abs_error, rel_error


def compare(f: Any, at: Any, methods: Sequence[str] | None = None, *, order: int = 1,
            repeats: int | None = None, min_time: float = 0.05,
            variables: Sequence[str] | None = None) -> Comparison:
    """Run ``methods`` (default: all of ``diffx.METHODS``) on ``f`` at ``at`` and measure them.

    A point with one coordinate gives the ``order``-th derivative; with n coordinates, the
    gradient (scalar f) or the Jacobian (vector f). Each method is called once cold, then
    repeatedly until ``min_time`` seconds have passed (at least 3 times, at most 100) or
    exactly ``repeats`` times. A method that cannot handle the function is kept in the table
    with its error message as ``status``.
    """
    fn = as_function(f, variables)
    methods = list(METHODS if methods is None else methods)
    for method in methods:
        engines.family_of(method)  # validates the name
    point = np.atleast_1d(np.asarray(at, dtype=float))
    scalar_output = np.size(fn.numpy_call(point)) == 1
    if point.size == 1 and scalar_output:
        kind = "derivative"
        reference = reference_derivative(fn, point[0], order)
    else:
        if order != 1:
            raise DiffxError("order > 1 is compared for functions of one variable only")
        kind = "gradient" if scalar_output else "jacobian"
        reference = reference_jacobian(fn, point)
        if kind == "gradient":
            reference = reference[0]
    if any(m.startswith("tape") for m in methods):
        from diffx.engines.tape import tensorflow

        tensorflow()  # the one-off import is not a cost of any particular derivative

    comparison = Comparison(fn, point, kind, order, reference)
    for method in methods:
        def call(method: str = method) -> Estimate:
            if kind == "derivative":
                return engines.derivative(fn, point[0], method, order, full_output=True)
            return getattr(engines, kind)(fn, point, method, full_output=True)

        try:
            result, seconds, setup, count = _timed(call, repeats, min_time)
        except DiffxError as exc:
            comparison.rows.append(ComparisonRow(
                method, FAMILIES[method], math.nan, math.nan, math.nan, math.nan, math.nan,
                math.nan, None, None, 0, status=str(exc).splitlines()[0]))
            continue
        abs_error, rel_error = _errors(result.value, reference)
        estimate = None if result.error is None else float(np.max(result.error))
        comparison.rows.append(ComparisonRow(
            method, FAMILIES[method], result.value, abs_error, rel_error,
            correct_digits(rel_error), seconds, setup, result.evaluations, estimate, count))
    return comparison
