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
    return float(min(max(-math.log10(rel_error), 0.0), MAX_DIGITS)) + 0.0  # never -0.0


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
    result, cold, times = _samples(call, repeats, min_time)
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
        fresh = _fresh(fn)  # every method pays its own setup, even if f was seen before

        def call(method: str = method, fresh: Function = fresh) -> Estimate:
            if kind == "derivative":
                return engines.derivative(fresh, point[0], method, order, full_output=True)
            return getattr(engines, kind)(fresh, point, method, full_output=True)

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


# ============================================================================================
# Step sweeps, timing with spread, scaling with dimension, expression swell
# ============================================================================================
__all__ += [
    "METHOD_COLOURS",
    "SCALING_FAMILIES",
    "SWEEP_METHODS",
    "SWELL_FAMILIES",
    "Scaling",
    "StepSweep",
    "SweepRow",
    "Swell",
    "SwellRow",
    "Timing",
    "TimingRow",
    "expression_swell",
    "fit_slope",
    "scaling",
    "step_sweep",
    "timing",
]

EPS = float(np.finfo(float).eps)
ERROR_FLOOR = 1e-17  # an error of exactly 0 is drawn here on log axes
Progress = Callable[[str], None]  # called once per finished unit of work, with a description

# One colour per method in every figure diffx draws (plus the plain function evaluation).
METHOD_COLOURS: dict[str, str] = {
    "symbolic": "#1f77b4", "forward": "#ff7f0e", "backward": "#c49c59", "central": "#d62728",
    "central-4": "#8c564b", "richardson": "#9467bd", "complex-step": "#e377c2",
    "dual": "#2ca02c", "dual-scalar": "#98df8a", "tape": "#17becf", "tape-graph": "#0b5e66",
    "tape-forward": "#bcbd22",
    "reverse": "#393b79", "function": "#000000",
}


def _colour(method: str) -> str:
    return METHOD_COLOURS.get(method, "#7f7f7f")


def _no_progress(description: str) -> None:
    """The default progress callback: do nothing."""


def fit_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log10(y) against log10(x) (NaN with fewer than 2 usable points).

    >>> round(fit_slope([1, 10, 100], [2, 200, 20000]), 6)
    2.0
    """
    pairs = [(math.log10(a), math.log10(b)) for a, b in zip(x, y)
             if a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)]
    if len(pairs) < 2 or len({p[0] for p in pairs}) < 2:
        return math.nan
    lx, ly = np.array(pairs).T
    return float(np.polyfit(lx, ly, 1)[0])


# --------------------------------------------------------------------------------------------
# step_sweep: error against step size
# --------------------------------------------------------------------------------------------
SWEEP_METHODS: tuple[str, ...] = ("forward", "backward", "central", "central-4", "richardson",
                                  "complex-step")
DEFAULT_STEPS = 10.0 ** np.arange(-16.0, 0.01, 0.25)  # 1e-16 … 1, four steps per decade

# truncation error ≈ constant · |f^(k)(x)| · hᵖ  →  (p, k, constant)
_TRUNCATION: dict[str, tuple[int, int, float]] = {
    "forward": (1, 2, 1 / 2), "backward": (1, 2, 1 / 2), "central": (2, 3, 1 / 6),
    "central-4": (4, 5, 1 / 30), "complex-step": (2, 3, 1 / 6)}
# rounding error ≲ ε · Σ|wᵢ| · |f(x)| / h for a stencil with weights w (complex step: ε·|f'|)
_STENCIL_ABS_WEIGHTS: dict[str, float] = {"forward": 2.0, "backward": 2.0, "central": 1.0,
                                          "central-4": 1.5}


@dataclass
class SweepRow:
    """One finite-difference estimate of f'(x) at one step.

    ``step`` is the step asked for (Richardson: its coarsest step h0); ``step_used`` the step
    actually used (rounded so that x + h is a float; Richardson: its finest step).
    ``automatic`` marks the row computed with the method's own default step.
    """

    method: str
    step: float
    step_used: float
    value: float
    abs_error: float
    rel_error: float
    error_estimate: float | None
    automatic: bool = False
    status: str = "ok"


def _central4(fn: Function, x: float, h: float) -> float:
    """The five-point central difference (accuracy h⁴), Fornberg weights from the numeric engine."""
    from diffx.engines import numeric

    h = (x + h) - x  # exactly representable step, as the engine does
    offsets = numeric.stencil_offsets("central", 1, 4)
    weights = numeric.fornberg_weights(offsets, 1)
    with np.errstate(all="ignore"):
        total = sum(w * float(fn.numpy_call(np.array([x + o * h])))
                    for w, o in zip(weights, offsets))
    return float(total / h)


def _complex_step(fn: Function, x: float, h: float) -> float:
    """Im f(x + ih) / h at the given h.

    Computed here because ``derivative(..., method="complex-step", step=h)`` ignores ``step``
    (it always uses h = 1e-100; see tests/test_sweep.py), which would hide the h² truncation.
    """
    with np.errstate(all="ignore"):
        value = fn.numpy_call(np.array([complex(x, h)]))
    return float(np.imag(value) / h)


def _sweep_point(fn: Function, x: float, method: str, h: float | None) -> tuple[float, float,
                                                                                    float | None]:
    """(value, step used, error estimate) of one sweep method at step h (None: its default)."""
    from diffx.engines import numeric

    if method == "central-4":
        h = h if h is not None else numeric.default_step("central", x, 1, accuracy=4)
        return _central4(fn, x, h), (x + h) - x, None
    if method == "complex-step":
        if h is None:  # the engine's own choice (h = 1e-100)
            result = engines.derivative(fn, x, method, full_output=True)
            return float(result.value), float(result.step), _none_or_float(result.error)
        return _complex_step(fn, x, h), h, None
    result = engines.derivative(fn, x, method, step=h, full_output=True)
    return float(result.value), float(result.step), _none_or_float(result.error)


def _none_or_float(value: Any) -> float | None:
    return None if value is None else float(np.max(value))


@dataclass
class StepSweep:
    """Errors of finite-difference first derivatives of ``function`` at ``point`` against h.

    ``derivatives[k]`` is the 50-digit reference f⁽ᵏ⁾(x) rounded to float (k = 0, 1, 2, 3, 5),
    used for the textbook truncation and rounding models; errors are against ``reference``.
    """

    function: Function
    point: float
    reference: Any
    derivatives: dict[int, float]
    rows: list[SweepRow] = field(default_factory=list)

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(row.method for row in self.rows))

    def curve(self, method: str) -> list[SweepRow]:
        """The rows of ``method`` at the swept steps (not the automatic one), by step."""
        return sorted((r for r in self.rows if r.method == method and not r.automatic),
                      key=lambda r: r.step)

    def curve_points(self, method: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, relative errors) of :meth:`curve` for log axes: an error of exactly 0 drawn
        at ERROR_FLOOR, a non-finite one as NaN (a gap)."""
        rows = self.curve(method)
        steps = np.array([r.step for r in rows])
        errors = np.array([max(r.rel_error, ERROR_FLOOR) if math.isfinite(r.rel_error)
                           else np.nan for r in rows])
        return steps, errors

    def automatic(self, method: str) -> SweepRow | None:
        """The row of ``method`` at its own default step."""
        return next((r for r in self.rows if r.method == method and r.automatic), None)

    def best(self, method: str) -> SweepRow:
        """The swept row with the smallest error."""
        return min((r for r in self.curve(method) if not math.isnan(r.rel_error)),
                   key=lambda r: r.rel_error)

    def model(self, method: str, steps: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """Textbook (truncation, rounding) relative-error models at ``steps``, or None."""
        if method not in _TRUNCATION or not self.derivatives:
            return None
        h = np.asarray(steps, dtype=float)
        p, k, constant = _TRUNCATION[method]
        scale = abs(self.derivatives[1]) or 1.0
        truncation = constant * abs(self.derivatives[k]) * h**p / scale
        if method == "complex-step":
            rounding = np.full_like(h, EPS)
        else:
            rounding = EPS * _STENCIL_ABS_WEIGHTS[method] * abs(self.derivatives[0]) / h / scale
        return truncation, rounding

    def slope(self, method: str, regime: str = "truncation") -> float:
        """Fitted log-log slope of the error curve where the model says ``regime`` dominates.

        ``regime`` is "truncation" (expect p: 1 forward, 2 central, 4 central-4) or "rounding"
        (expect -1). Only steps with h ≤ 0.1·max(|x|, 1) and a relative error below 0.1 count.
        """
        rows = [r for r in self.curve(method) if r.rel_error > 0 and r.rel_error < 0.1
                and r.step <= 0.1 * max(abs(self.point), 1.0)]
        modelled = self.model(method, [r.step_used for r in rows])
        if modelled is None:
            return math.nan
        truncation, rounding = modelled
        if regime == "truncation":
            keep = truncation > 10 * rounding
        elif regime == "rounding":
            keep = rounding > 10 * truncation
        else:
            raise DiffxError(f"regime must be 'truncation' or 'rounding', got {regime!r}")
        chosen = [r for r, k in zip(rows, keep) if k]
        return fit_slope([r.step_used for r in chosen], [r.rel_error for r in chosen])

    def __str__(self) -> str:
        methods = self.methods
        steps = sorted({r.step for r in self.rows if not r.automatic})
        by_key = {(r.method, r.step): r for r in self.rows if not r.automatic}
        width = max(12, *(len(m) for m in methods))
        lines = [f"relative error of f'(x) for {self.function.name} at x = {self.point:.17g}",
                 f"reference (50 digits): {_format_value(self.reference)}", "",
                 "step h".rjust(8) + "".join(m.rjust(width + 2) for m in methods)]
        for h in steps:
            cells = []
            for m in methods:
                row = by_key.get((m, h))
                cells.append("" if row is None else row.status if row.status != "ok"
                             else _format_error(row.rel_error) or "nan")
            lines.append(f"{h:8.0e}" + "".join(c.rjust(width + 2) for c in cells))
        lines.append("")
        for m in methods:
            best = self.best(m)
            auto = self.automatic(m)
            text = f"{m}: best {best.rel_error:.1e} at h = {best.step:.0e}"
            if auto is not None:
                text += f"; automatic h = {auto.step_used:.2g} gives {auto.rel_error:.1e}"
            slope = self.slope(m)
            if not math.isnan(slope):
                text += f"; truncation slope {slope:.2f}"
            lines.append(text)
        return "\n".join(lines)

    def to_records(self) -> list[dict[str, Any]]:
        return [asdict(row) for row in self.rows]

    def plot(self):
        """A matplotlib Figure: relative error against h on log-log axes, one V per method,
        dotted textbook models (truncation + rounding), stars at the automatic steps."""
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D

        fig = Figure(figsize=(10, 6), layout="constrained")
        ax = fig.subplots()
        for method in self.methods:
            steps, errors = self.curve_points(method)
            slope = self.slope(method)
            label = method if math.isnan(slope) else f"{method}  (fitted slope {slope:.2f})"
            auto = self.automatic(method)
            if method == "richardson":
                label += "  (h = its coarsest step)"
            if auto is not None and auto.step_used < steps.min():
                label += f"  (automatic h = {auto.step_used:.0e}, off scale)"
            # complex step's h² truncation equals central's in size: dash it so both show
            style = "s--" if method == "complex-step" else "o-"
            ax.plot(steps, errors, style, ms=3, lw=1.5, color=_colour(method), label=label,
                    zorder=3 if method == "complex-step" else 2)
            modelled = self.model(method, steps)
            if modelled is not None:
                ax.plot(steps, np.maximum(sum(modelled), ERROR_FLOOR), ":", lw=1.3,
                        color=_colour(method), alpha=0.8)
            if auto is not None and auto.step_used >= steps.min() and not math.isnan(
                    auto.rel_error):
                ax.plot([auto.step_used], [max(auto.rel_error, ERROR_FLOOR)], "*", ms=16,
                        color=_colour(method), markeredgecolor="black", zorder=5)
        ax.axhline(EPS, color="grey", lw=0.8, ls="--")
        ax.annotate("machine ε", (0.99, EPS * 1.6), xycoords=("axes fraction", "data"),
                    ha="right", va="bottom", color="grey", fontsize="small")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(ERROR_FLOOR / 3, 10)
        ax.set_xlabel("step h (same units as x)")
        ax.set_ylabel("relative error |D(h) − f′(x)| / |f′(x)|\n(vs 50-digit reference)")
        ax.grid(True, which="major", alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        handles += [Line2D([], [], ls=":", color="black"),
                    Line2D([], [], ls="", marker="*", ms=12, color="white",
                           markeredgecolor="black")]
        labels += ["textbook model: truncation + rounding", "the method's automatic step"]
        fig.legend(handles, labels, loc="outside lower center", fontsize="small", ncols=3,
                   frameon=False)
        ax.set_title(f"Error vs step size: f(x) = {self.function.name} at x = {self.point:g} "
                     f"(errors of exactly 0 drawn at {ERROR_FLOOR:g})", fontsize="medium")
        return fig


def step_sweep(f: Any, x: float, methods: Sequence[str] = ("forward", "central", "complex-step"),
               steps: Sequence[float] | None = None, *,
               variables: Sequence[str] | None = None,
               progress: Progress | None = None) -> StepSweep:
    """First-derivative error of each finite-difference method over a range of steps h.

    ``methods`` from :data:`SWEEP_METHODS` ("central-4" is the five-point central stencil,
    accuracy h⁴; "richardson" steps are its coarsest step h0). ``steps`` defaults to 1e-16 … 1,
    four per decade. Each method is also run once at its automatic step. Errors are against the
    50-digit reference.

    >>> s = step_sweep("sin(x)*exp(x)", 1.3, methods=["central"], steps=[1e-3, 1e-5])
    >>> [(r.step, f"{r.rel_error:.0e}") for r in s.curve("central")]  # h² truncation
    [(1e-05, '2e-11'), (0.001, '2e-07')]
    """
    fn = as_function(f, variables)
    x = float(np.asarray(x, dtype=float).reshape(-1)[0]) if np.size(x) == 1 else math.nan
    if math.isnan(x) or not math.isfinite(x):
        raise DiffxError("step_sweep needs one finite point x (functions of one variable)")
    unknown = [m for m in methods if m not in SWEEP_METHODS]
    if unknown:
        raise DiffxError(f"step_sweep methods must be among {', '.join(SWEEP_METHODS)}; "
                         f"got {', '.join(map(repr, unknown))}")
    steps = DEFAULT_STEPS if steps is None else np.asarray(steps, dtype=float).reshape(-1)
    if steps.size == 0 or not np.all((steps > 0) & np.isfinite(steps)):
        raise DiffxError("steps must be positive finite numbers")
    import warnings

    progress = progress or _no_progress
    reference = reference_derivative(fn, x)
    derivatives: dict[int, float] = {}
    try:
        from diffx.reference import reference_value

        derivatives = {0: float(reference_value(fn, x)), 1: float(reference)}
        for k in (2, 3, 5):
            derivatives[k] = float(reference_derivative(fn, x, k))
    except DiffxError:
        derivatives = {}  # no textbook models, the measured errors stand alone
    sweep = StepSweep(fn, x, reference, derivatives)
    for method in methods:
        for h, automatic in [*((float(h), False) for h in steps), (None, True)]:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    value, used, estimate = _sweep_point(fn, x, method, h)
            except DiffxError as exc:
                sweep.rows.append(SweepRow(method, h or math.nan, math.nan, math.nan, math.nan,
                                           math.nan, None, automatic,
                                           str(exc).splitlines()[0]))
                continue
            abs_error, rel_error = _errors(value, reference)
            sweep.rows.append(SweepRow(method, used if h is None else h, used, value,
                                       abs_error, rel_error, estimate, automatic))
        progress(f"step sweep: {method}")
    return sweep


# --------------------------------------------------------------------------------------------
# Timing with spread (the same calls compare() times, plus compiled TensorFlow)
# --------------------------------------------------------------------------------------------
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


def _samples(call: Callable[[], Any], repeats: int | None, min_time: float,
             max_repeats: int = 100) -> tuple[Any, float, list[float]]:
    """Cold call, then warm calls (``repeats`` of them, or until ``min_time``, ≥ 3)."""
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
                or len(times) >= max_repeats:
            break
    return result, cold, times


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


def _fresh(fn: Function) -> Function:
    """A copy of ``fn`` with empty caches, so a first call pays the method's setup again
    (SymPy form, diff and lambdify are cached on the Function)."""
    import copy

    fresh = copy.copy(fn)
    for name in [key for key in vars(fresh) if key.endswith("_cache")]:
        setattr(fresh, name, {})
    return fresh


def _import_tensorflow_if_needed(methods: Sequence[str]) -> None:
    """Import TensorFlow up front: its one-off import is not the setup cost of any method."""
    if any(m.startswith("tape") for m in methods):
        from diffx.engines.tape import tensorflow

        tensorflow()


def _measure(fn: Function, point: np.ndarray, method: str, repeats: int | None,
             min_time: float, reference: Any = None) -> TimingRow:
    import warnings

    n = point.size
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result, cold, times = _samples(_call_for(fn, point, method), repeats, min_time)
    except Exception as exc:  # a method that cannot run keeps its row, with the reason
        return TimingRow(method, n, math.nan, math.nan, math.nan, math.nan, 0,
                         status=str(exc).splitlines()[0] or type(exc).__name__)
    q1, median, q3 = (np.percentile(times, [25, 50, 75]) if len(times) > 1
                      else (times[0],) * 3)
    rel_error = math.nan
    if reference is not None and method != "function":
        rel_error = _errors(np.reshape(result, np.shape(to_float(reference))), reference)[1]
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
            lines.append(f"{r.method:<14}{_format_seconds(r.seconds):>10}"
                         f"{_format_seconds(r.q1):>10}{_format_seconds(r.q3):>10}"
                         f"{_format_seconds(r.setup_seconds):>10}{self.ratio(r.method):>8.3g}")
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
    _import_tensorflow_if_needed(methods)
    result = Timing(fn, point)
    for method in ["function", *methods]:
        result.rows.append(_measure(_fresh(fn), point, method, repeats, min_time))
    return result


# --------------------------------------------------------------------------------------------
# scaling: gradient cost against dimension
# --------------------------------------------------------------------------------------------
def _total(terms: Any) -> Any:
    """Sum of a vector of any backend (ndarray, Dual, object array; tf.Tensor via reduce_sum)."""
    if hasattr(terms, "sum"):
        return terms.sum()
    from diffx.engines.tape import tensorflow

    return tensorflow().reduce_sum(terms)


def rosenbrock(x: Any) -> Any:
    """The n-dimensional Rosenbrock function Σ 100(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)², vectorised.

    >>> float(rosenbrock(np.array([1.0, 1.0, 1.0]))), round(float(rosenbrock(np.zeros(2))), 12)
    (0.0, 1.0)
    """
    a = x[1:] - x[:-1] ** 2
    b = 1 - x[:-1]
    return _total(100 * a * a + b * b)


def _rosenbrock_point(n: int) -> np.ndarray:
    return np.where(np.arange(n) % 2 == 0, -1.2, 1.0)


def _balanced_sum(terms: list[str]) -> str:
    """``(a + b) + (c + d)``: a sum whose parse tree is log₂(len) deep, not len deep."""
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return f"({_balanced_sum(terms[:middle])}) + ({_balanced_sum(terms[middle:])})"


def _rosenbrock_expression(n: int) -> Function:
    from diffx.functions import Limits, parse

    terms = [f"100*(x{i + 1} - x{i}**2)**2 + (1 - x{i})**2" for i in range(n - 1)]
    return parse(_balanced_sum(terms), limits=Limits(max_length=100 * n, max_nodes=40 * n))


@dataclass(frozen=True)
class ScalingFamily:
    """A scalar function of n variables for every n, with its evaluation point."""

    name: str
    description: str
    function: Callable[[int], Function]
    point: Callable[[int], np.ndarray]


SCALING_FAMILIES: dict[str, ScalingFamily] = {
    "rosenbrock": ScalingFamily(
        "rosenbrock", "n-dimensional Rosenbrock, one vectorised program (x[1:] - x[:-1]**2 …)",
        lambda n: Function(func=rosenbrock, name=f"rosenbrock (n={n})"), _rosenbrock_point),
    "rosenbrock-expression": ScalingFamily(
        "rosenbrock-expression", "n-dimensional Rosenbrock written out term by term (scalar "
        "operations, 8(n-1) of them)", _rosenbrock_expression, _rosenbrock_point),
}


def _scaling_methods() -> list[str]:
    wanted = ("symbolic", "central", "dual", "dual-scalar", "reverse", "tape", "tape-graph",
              "tape-forward")
    return [m for m in wanted if m in METHODS or m in VARIANTS]


@dataclass
class Scaling:
    """Gradient time against dimension n for each method (method "function": f itself)."""

    family: str
    sizes: tuple[int, ...]
    rows: list[TimingRow] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # method -> why larger n were skipped

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(r.method for r in self.rows))

    def series(self, method: str, what: str = "seconds") -> tuple[np.ndarray, np.ndarray]:
        """(n, time) of ``method``'s successful rows; ``what`` is a TimingRow field."""
        rows = [r for r in self.rows if r.method == method and r.status == "ok"]
        return (np.array([r.n for r in rows]), np.array([getattr(r, what) for r in rows]))

    def slope(self, method: str, points: int = 3, what: str = "seconds") -> float:
        """Log-log slope of time against n over the ``points`` largest sizes measured.

        Small n is dominated by per-call overhead, so the large-n end shows the asymptotic
        cost: ~1 for forward mode and finite differences (n passes over an O(1)-overhead f),
        ~0 for reverse mode while f's own cost is flat in n.
        """
        n, t = self.series(method, what)
        return fit_slope(n[-points:], t[-points:])

    def ratio(self, method: str, n: int) -> float:
        """Gradient time over the time of one evaluation of f, at size n (same run)."""
        rows = {r.method: r for r in self.rows if r.n == n and r.status == "ok"}
        if method not in rows or "function" not in rows:
            return math.nan
        return rows[method].seconds / rows["function"].seconds

    def __str__(self) -> str:
        methods = self.methods
        lines = [f"gradient time per call for the {self.family} family", "",
                 "n".rjust(6) + "".join(m.rjust(14) for m in methods)]
        for n in self.sizes:
            cells = []
            for m in methods:
                row = next((r for r in self.rows if r.method == m and r.n == n), None)
                cells.append("" if row is None else _format_seconds(row.seconds)
                             if row.status == "ok" else "failed")
            lines.append(f"{n:6d}" + "".join(c.rjust(14) for c in cells))
        slopes = [self.slope(m) for m in methods]
        lines.append("slope" + "".join(("" if math.isnan(s) else f"{s:.2f}").rjust(14)
                                       for s in slopes).rjust(1 + 14 * len(methods)))
        lines.extend(f"{m}: larger n skipped ({why})" for m, why in self.skipped.items())
        return "\n".join(lines)

    def to_records(self) -> list[dict[str, Any]]:
        return [{"family": self.family, **asdict(r)} for r in self.rows]

    def plot(self):
        """A matplotlib Figure: per-gradient time and setup time against n, log-log, with the
        fitted slopes (largest three sizes) in the legend."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12, 5.5), layout="constrained")
        ax_call, ax_setup = fig.subplots(1, 2)
        for method in self.methods:
            n, t = self.series(method)
            if n.size == 0:
                continue
            slope = self.slope(method)
            name = "f itself (one evaluation)" if method == "function" else method
            label = name if math.isnan(slope) else f"{name}: slope {slope:.2f}"
            if n[-1] < max(self.sizes):
                label += f" (n ≤ {n[-1]})"
            style = "--" if method == "function" else "o-"
            ax_call.plot(n, t, style, color=_colour(method), ms=4, lw=1.6, label=label)
            n_setup, setup = self.series(method, "setup_seconds")
            if method in ("symbolic", "tape-graph") and np.any(setup > 0):
                ax_setup.plot(n_setup, np.maximum(setup, 1e-6), "o-", color=_colour(method),
                              ms=4, lw=1.6, label=f"{method}: slope "
                              f"{self.slope(method, what='setup_seconds'):.2f}")
        for ax in (ax_call, ax_setup):
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("dimension n (number of variables)")
            ax.grid(True, which="major", alpha=0.3)
        ax_call.set_ylabel("median time per gradient [s]")
        ax_call.set_title("Per-call gradient cost (slopes fitted over the 3 largest n)",
                          fontsize="medium")
        fig.legend(*ax_call.get_legend_handles_labels(), loc="outside lower left",
                   ncols=4, fontsize="small", frameon=False)
        ax_setup.set_ylabel("one-off setup time [s]")
        ax_setup.set_title("Setup: SymPy diff + lambdify, tf.function tracing",
                           fontsize="medium")
        if ax_setup.lines:
            ax_setup.legend(fontsize="small", loc="upper right", framealpha=0.95)
        fig.suptitle(f"Scaling with dimension: gradient of the {self.family} family")
        return fig


def scaling(family: str = "rosenbrock", sizes: Sequence[int] = (2, 8, 32, 128, 512),
            methods: Sequence[str] | None = None, *, repeats: int | None = None,
            min_time: float = 0.05, max_seconds: float = 0.5, max_setup: float = 5.0,
            check_up_to: int = 8, progress: Progress | None = None) -> Scaling:
    """Median time per gradient against dimension n for each method, in one run.

    ``family`` is a key of :data:`SCALING_FAMILIES`. ``methods`` defaults to symbolic, central,
    dual, tape (eager), tape-graph (``tf.function``) and tape-forward (those available). A
    method stops at the first n whose predicted call time (extrapolated from its last two
    sizes) exceeds ``max_seconds``, or predicted setup exceeds ``max_setup``; the reason is
    kept in ``skipped``. Gradients for n ≤ ``check_up_to`` are checked against the 50-digit
    reference (``rel_error``).

    >>> s = scaling(sizes=(2, 4), methods=["dual"], repeats=3)
    >>> [(r.method, r.n) for r in s.rows]
    [('function', 2), ('dual', 2), ('function', 4), ('dual', 4)]
    """
    if family not in SCALING_FAMILIES:
        raise DiffxError(f"unknown scaling family {family!r}; choose one of "
                         f"{', '.join(SCALING_FAMILIES)}")
    spec = SCALING_FAMILIES[family]
    methods = _scaling_methods() if methods is None else list(methods)
    for method in methods:
        if method not in VARIANTS:
            engines.family_of(method)
    sizes = tuple(sorted({int(n) for n in sizes}))
    if not sizes or sizes[0] < 2:
        raise DiffxError("scaling sizes must be integers ≥ 2")
    progress = progress or _no_progress
    _import_tensorflow_if_needed(methods)
    result = Scaling(family, sizes)
    for n in sizes:
        fn = spec.function(n)
        point = spec.point(n)
        reference = reference_jacobian(fn, point)[0] if n <= check_up_to else None
        for method in ["function", *methods]:
            if method in result.skipped:
                progress(f"scaling {method} n={n}: skipped")
                continue
            why = _too_slow(result, method, n, max_seconds, max_setup)
            if why:
                result.skipped[method] = why
                progress(f"scaling {method} n={n}: skipped")
                continue
            # a fresh Function per method, so every method pays its own setup (SymPy caches)
            row = _measure(_fresh(fn), point, method, repeats, min_time, reference)
            result.rows.append(row)
            progress(f"scaling {method} n={n}")
    return result


def _too_slow(result: Scaling, method: str, n: int, max_seconds: float,
              max_setup: float) -> str:
    """Why ``method`` should not run at size n (empty string: go ahead)."""
    rows = [r for r in result.rows if r.method == method and r.status == "ok"]
    if not rows:
        return ""
    for what, limit in (("seconds", max_seconds), ("setup_seconds", max_setup)):
        last = rows[-1]
        exponent = 1.0  # from one size: assume linear growth; from two: their slope, in [1, 3]
        if len(rows) >= 2:
            exponent = fit_slope([rows[-2].n, last.n], [getattr(rows[-2], what),
                                                        getattr(last, what)])
            exponent = min(max(exponent, 1.0), 3.0) if not math.isnan(exponent) else 2.0
        predicted = getattr(last, what) * (n / last.n) ** exponent
        if predicted > limit:
            label = "call" if what == "seconds" else "setup"
            return f"predicted {label} time {predicted:.2g} s at n = {n} exceeds {limit:g} s"
    return ""


# --------------------------------------------------------------------------------------------
# expression swell: symbolic derivative size against nesting depth
# --------------------------------------------------------------------------------------------
class _Counted:
    """A float that counts every elementary operation applied to it (for operation counts)."""

    __slots__ = ("value",)
    tally = 0

    def __init__(self, value: float):
        self.value = value

    def __add__(self, other): return _E().add(self, other)
    def __radd__(self, other): return _E().add(other, self)
    def __sub__(self, other): return _E().subtract(self, other)
    def __rsub__(self, other): return _E().subtract(other, self)
    def __mul__(self, other): return _E().multiply(self, other)
    def __rmul__(self, other): return _E().multiply(other, self)
    def __truediv__(self, other): return _E().divide(self, other)
    def __rtruediv__(self, other): return _E().divide(other, self)
    def __pow__(self, other): return _E().power(self, other)
    def __rpow__(self, other): return _E().power(other, self)
    def __neg__(self): return _E().negative(self)


def _E():
    from diffx import elementary

    return elementary


def _count_apply(row: Any, args: tuple) -> _Counted:
    _Counted.tally += 1
    return _Counted(row(*(a.value if isinstance(a, _Counted) else a for a in args)))


def _count_operations(program: Callable[[Any], Any], x: float, dual: bool) -> tuple[int, float]:
    """Operations executed by ``program`` at x (with ``dual``: carrying a dual tangent);
    returns the count and the result (the value, or the tangent = derivative)."""
    from diffx.elementary import register_type
    from diffx.engines.dual import Dual

    register_type(_Counted, _count_apply)
    _Counted.tally = 0
    if dual:
        out = program(Dual(_Counted(x), _Counted(1.0), tag=10**9))
        value = out.tangent if isinstance(out, Dual) else 0.0
    else:
        value = program(_Counted(x))
    value = value.value if isinstance(value, _Counted) else value
    return _Counted.tally, float(value)


def _logistic_step(level: Any) -> Any:
    return 4 * level * (1 - level)


def _sin_step(level: Any) -> Any:
    from diffx.elementary import sin

    return sin(level)


SWELL_FAMILIES: dict[str, tuple[str, Callable[[Any], Any], float]] = {
    "logistic": ("logistic map lₖ₊₁ = 4lₖ(1 − lₖ)", _logistic_step, 0.3),
    "nested-sin": ("nested sine lₖ₊₁ = sin(lₖ)", _sin_step, 0.7),
}


@dataclass
class SwellRow:
    """Operation counts at one nesting depth (SymPy ``count_ops`` and executed operations)."""

    depth: int
    function_ops: int         # the expression tree of f, written out
    derivative_ops: int       # SymPy diff of it, as a tree
    derivative_cse_ops: int   # after common-subexpression elimination (what lambdify runs)
    program_ops: int          # operations executed evaluating f as a loop
    dual_ops: int             # operations executed by the dual engine for f' (value + tangent)
    dual_rel_error: float     # that dual derivative vs the 50-digit reference (NaN: unchecked)


@dataclass
class Swell:
    """Expression swell of ``family`` (key of :data:`SWELL_FAMILIES`) against depth."""

    family: str
    description: str
    rows: list[SwellRow] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"expression swell: {self.description}",
                 f"{'depth':>5}{'f tree':>10}{'diff':>10}{'diff+cse':>10}{'program':>9}"
                 f"{'dual':>7}"]
        lines += [f"{r.depth:>5}{r.function_ops:>10}{r.derivative_ops:>10}"
                  f"{r.derivative_cse_ops:>10}{r.program_ops:>9}{r.dual_ops:>7}"
                  for r in self.rows]
        return "\n".join(lines)

    def to_records(self) -> list[dict[str, Any]]:
        return [{"family": self.family, **asdict(r)} for r in self.rows]


def expression_swell(family: str = "logistic", depths: Sequence[int] = range(1, 11), *,
                     check_up_to: int = 6, progress: Progress | None = None) -> Swell:
    """Size of the symbolic derivative against nesting depth, next to the cost of dual numbers.

    For each depth d, f = step∘…∘step (d times) at the family's point: SymPy operation counts
    of f, of ``diff(f)`` and of ``diff(f)`` after ``cse`` (the form lambdify evaluates), and the
    operations the loop program and the dual engine actually execute (counted, linear in d).
    The dual derivative is checked against the 50-digit reference for d ≤ ``check_up_to``
    (the reference evaluates the swollen tree, so its cost grows about 4× per level).

    >>> s = expression_swell("logistic", [1, 2])
    >>> [(r.depth, r.program_ops, r.derivative_ops) for r in s.rows]
    [(1, 3, 2), (2, 6, 21)]
    """
    import sympy

    if family not in SWELL_FAMILIES:
        raise DiffxError(f"unknown swell family {family!r}; choose one of "
                         f"{', '.join(SWELL_FAMILIES)}")
    description, step, x = SWELL_FAMILIES[family]
    progress = progress or _no_progress
    result = Swell(family, description)
    for depth in depths:
        def program(v: Any, depth: int = depth) -> Any:
            for _ in range(depth):
                v = step(v)
            return v

        fn = Function(func=program, name=f"{family} depth {depth}")
        (expr,) = fn.sympy_form(1)
        (symbol,) = fn.symbols(1)
        derivative = sympy.diff(expr, symbol)
        replacements, reduced = sympy.cse(derivative)
        cse_ops = sum(sympy.count_ops(r) for _, r in replacements) + sympy.count_ops(reduced[0])
        program_ops, _ = _count_operations(program, x, dual=False)
        dual_ops, value = _count_operations(program, x, dual=True)
        rel_error = math.nan
        if depth <= check_up_to:
            rel_error = _errors(value, reference_derivative(fn, x))[1]
        result.rows.append(SwellRow(depth, int(sympy.count_ops(expr)),
                                    int(sympy.count_ops(derivative)), int(cse_ops),
                                    program_ops, dual_ops, rel_error))
        progress(f"expression swell: {family} depth {depth}")
    return result
