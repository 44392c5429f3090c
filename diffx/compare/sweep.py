"""Step sweeps: the error of each finite-difference first derivative against the step h.

:func:`step_sweep` runs each method of :data:`SWEEP_METHODS` over a range of steps (and once at
its automatic step) and keeps the textbook truncation and rounding models beside the measured
errors, so the V of every method — truncation falling with h, rounding rising — can be checked.

    >>> s = step_sweep("x**3", 2.0, methods=["forward"], steps=[1e-2, 1e-4])
    >>> round(s.slope("forward"), 2)  # forward difference: error ∝ h
    1.0
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from diffx import engines
from diffx.compare.fitting import fit_slope
from diffx.compare.formatting import ERROR_FLOOR, colour, format_error, format_value
from diffx.compare.measurement import Progress, errors_against, no_progress
from diffx.errors import DiffxError
from diffx.functions import Function, as_function
from diffx.reference import reference_derivative, reference_value

__all__ = ["DEFAULT_STEPS", "EPS", "SWEEP_METHODS", "StepSweep", "SweepRow", "step_sweep"]

EPS = float(np.finfo(float).eps)
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
    """Im f(x + ih) / h at the given h: one evaluation, no error estimate (like central-4's).

    ``derivative(..., method="complex-step", step=h)`` honours ``step`` too and gives this same
    quotient (tests/test_sweep.py::test_complex_step_honours_step), but adds a step-doubling
    error estimate from a second evaluation at 2h; the sweep keeps the bare quotient, and uses
    the engine only for the automatic step (h = 1e-100, where the h² truncation vanishes).
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
                 f"reference (50 digits): {format_value(self.reference)}", "",
                 "step h".rjust(8) + "".join(m.rjust(width + 2) for m in methods)]
        for h in steps:
            cells = []
            for m in methods:
                row = by_key.get((m, h))
                cells.append("" if row is None else row.status if row.status != "ok"
                             else format_error(row.rel_error) or "nan")
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
            ax.plot(steps, errors, style, ms=3, lw=1.5, color=colour(method), label=label,
                    zorder=3 if method == "complex-step" else 2)
            modelled = self.model(method, steps)
            if modelled is not None:
                ax.plot(steps, np.maximum(sum(modelled), ERROR_FLOOR), ":", lw=1.3,
                        color=colour(method), alpha=0.8)
            if auto is not None and auto.step_used >= steps.min() and not math.isnan(
                    auto.rel_error):
                ax.plot([auto.step_used], [max(auto.rel_error, ERROR_FLOOR)], "*", ms=16,
                        color=colour(method), markeredgecolor="black", zorder=5)
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
    progress = progress or no_progress
    reference = reference_derivative(fn, x)
    derivatives: dict[int, float] = {}
    try:
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
            abs_error, rel_error = errors_against(value, reference)
            sweep.rows.append(SweepRow(method, used if h is None else h, used, value,
                                       abs_error, rel_error, estimate, automatic))
        progress(f"step sweep: {method}")
    return sweep

