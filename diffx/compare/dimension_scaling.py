"""Scaling with dimension: gradient time of each method against the number of variables n.

:func:`scaling` times the gradient of a family of :data:`SCALING_FAMILIES` (n-dimensional
Rosenbrock, as one vectorised program or written out term by term) for growing n, next to one
evaluation of f, and fits the log-log slopes: ~1 for forward mode and finite differences, ~0
for reverse mode while f's own cost is flat in n.

    >>> sorted(SCALING_FAMILIES)
    ['rosenbrock', 'rosenbrock-expression']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from diffx import engines
from diffx.compare.fitting import fit_slope
from diffx.compare.formatting import colour, format_seconds
from diffx.compare.measurement import Progress, no_progress, warm_up
from diffx.compare.timings import VARIANTS, TimingRow, time_method
from diffx.engines import METHODS
from diffx.errors import DiffxError
from diffx.functions import CallableFunction, Function
from diffx.reference import reference_jacobian

__all__ = ["SCALING_FAMILIES", "Scaling", "ScalingFamily", "rosenbrock", "scaling",
           "scaling_methods"]


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
        lambda n: CallableFunction(rosenbrock, name=f"rosenbrock (n={n})"), _rosenbrock_point),
    "rosenbrock-expression": ScalingFamily(
        "rosenbrock-expression", "n-dimensional Rosenbrock written out term by term (scalar "
        "operations, 8(n-1) of them)", _rosenbrock_expression, _rosenbrock_point),
}


def scaling_methods() -> list[str]:
    """The methods :func:`scaling` measures by default, those available in this diffx.

    >>> scaling_methods()[:3]
    ['symbolic', 'central', 'dual']
    """
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
                cells.append("" if row is None else format_seconds(row.seconds)
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
            ax_call.plot(n, t, style, color=colour(method), ms=4, lw=1.6, label=label)
            n_setup, setup = self.series(method, "setup_seconds")
            if method in ("symbolic", "tape-graph") and np.any(setup > 0):
                ax_setup.plot(n_setup, np.maximum(setup, 1e-6), "o-", color=colour(method),
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
    methods = scaling_methods() if methods is None else list(methods)
    for method in methods:
        if method not in VARIANTS:
            engines.family_of(method)
    sizes = tuple(sorted({int(n) for n in sizes}))
    if not sizes or sizes[0] < 2:
        raise DiffxError("scaling sizes must be integers ≥ 2")
    progress = progress or no_progress
    warm_up([VARIANTS.get(m, m) for m in methods])
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
            row = time_method(fn.fresh(), point, method, repeats, min_time, reference)
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

