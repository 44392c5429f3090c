"""Finite differences: stencils of any order and accuracy, step selection, Richardson, complex step.

Every method returns an :class:`~diffx.engines.Estimate` with an error estimate, the step used
and the number of function evaluations (distinct points; repeated points are evaluated once).

Stencils
    Weights for any offsets come from Fornberg's algorithm (Fornberg 1988, "Generation of finite
    difference formulas on arbitrarily spaced grids", Math. Comp. 51:699). ``forward``,
    ``backward`` and ``central`` stencils exist for any derivative order k ≥ 1 and accuracy
    p = 1 … 8 (central stencils are symmetric, so their accuracy is even: 2, 4, 6, 8).

Step selection (``step=None``, the default)
    A stencil's error is truncation + rounding, ``C·|f⁽ᵖ⁺ᵏ⁾|·hᵖ + ε·Σ|wᵢ||f(xᵢ)|/hᵏ``
    (:func:`error_model`). With derivatives scaling like f/Lⁿ the optimum is
    ``h ≈ ε^(1/(p+k))·L``; the model step takes L = max(|x|, 1) (:func:`default_step`; diffx
    starts from 0.9× it, a factor with a full mantissa: STEP_DITHER, :func:`step_for`). For a
    parsed f with a kink, a pole or a domain edge closer than that, L is the distance to it
    (:func:`diffx.points.singular_distance`: sqrt at 1e-6 has derivatives growing like x⁻ⁿ,
    and its best step is ε^(1/(p+k))·1e-6). Then
    the function itself is asked: the stencil at 2h gives the truncation T ≈ |D(2h) − D(h)| /
    (2ᵖ − 1), and the values give the rounding R (so the balance scales with |f|). When T > 4R
    the model step was too large for this function (a pole, a steep feature, a large |x|), and
    h moves to the balance point ``h·(k·R / (p·T))^(1/(p+k))`` (at most three moves). Near a
    domain edge (f not finite at a stencil point) the step shrinks by 4 until every point is
    finite, and a one-sided stencil of the same accuracy is tried too; the candidate with the
    smaller error estimate wins. A point outside the domain stays NaN (the engines' policy).

``step="adaptive"``
    Also probes upwards: when the truncation is not measurable at the model step (T ≤ 4R), the
    step doubles until it is (up to 4096×), and h moves to the balance point estimated there.
    This finds the large optimal steps of functions whose |f| is large compared with their
    higher derivatives (a large constant offset, a low-degree polynomial). It costs one more
    stencil per doubling.

Error estimate
    T + R at the step used (step doubling, as in Richardson's own estimate).

f's noise
    The rounding term R assumes each f(xᵢ) is off by ε·|f(xᵢ)|. Where f comes out of
    cancellation it is off by far more (the logistic map written out as a degree-16
    polynomial: 46·ε|f| at 0.3), and the estimate missed the true error by up to 15×. So f's
    noise σ is measured once per stencil, from 9 equally spaced points across it
    (:func:`noise_level`, Moré & Wild's ECnoise), and R is the larger of the model and
    3·σ·Σ|wᵢ|/hᵏ (NOISE_MARGIN); it enters the step selection too (a callable's gradient
    measures it once per point: "Gradients of a callable" below). The 9 points cost 5–6
    evaluations more (most fall on the stencil's own points); a parsed f evaluates them in the
    same vectorised call. Richardson measures the noise of a callable once, across its first
    row (9 more evaluations: its rows' points are not equally spaced); it chooses its entry
    with σ as measured and reports the chosen entry's error with the margin of 3. For a parsed
    f its tableau already covers rounding (see :func:`_richardson`).

Kinks and poles near x
    Step doubling cannot see a kink or a pole inside the stencil (D(h) and D(2h) straddle it
    alike: 1/x at 1e-3 by Richardson, whose first step is 0.012, came out as +3.7e4), so a
    chosen step is also kept clear of them: when the argument of an abs, relu, sign or
    heaviside, a denominator, the base of a fractional or negative power, or cos of tan's
    argument changes sign between x and an end of the stencil
    (:func:`diffx.points.singular_arguments`), h shrinks by 4 until it does not (Richardson:
    its first row's step). A ``step=`` given is used as given.

Gradients of a callable (``jacobian``, a stencil method, ``step=None``)
    A numpy callable of n variables gets every coordinate's stencil at once
    (:func:`_coordinate_differences`): at the model step hⱼ of each axis (as above), f at the
    stencil's points x ± hⱼeⱼ plus the fewest points beyond its far side that, with x, make
    p + 2 points (central: x + 2hⱼeⱼ, 3 evaluations per coordinate instead of 8; forward:
    x + 2hⱼeⱼ, which is step doubling). Their (p+1)-th difference estimates the leading
    truncation term T = |C·f⁽ᵖ⁺¹⁾|·hᵖ (C from :func:`truncation_constant`), to O(h) as step
    doubling does. R is the model ε·Σ|wᵢ||f(xᵢ)|/h or f's noise, the larger; the noise is
    measured once per point, not per axis: ECnoise on 9 points along one line that moves
    every coordinate by ± its own noise spacing (signs from a fixed seed), 8 evaluations per
    gradient. The estimate is T + R per entry, as above. A coordinate whose points are not
    all finite, or whose truncation dominates (T > 4R: the model step is too large there),
    goes through the per-coordinate selection above, reusing the points evaluated. A callable
    with kinks or poles that diffx can record (n ≤ 64) keeps the per-coordinate path, which
    keeps stencils clear of them. A callable that broadcasts over a batch of points (f(X)
    for X of shape (k, n) is the k values, or for X of shape (n, k); tested once per callable
    on two points, :func:`batch_axis`) is evaluated in one call per block of points. From
    256 coordinates on, the model step is multiplied by a factor that 4 probed coordinates
    find (:func:`step_factor`: a sum of many terms has a large |f|, so a large rounding
    ε|f|/h, and a larger best step). At n = 1000 (Rosenbrock) that is 3n + 9 evaluations plus
    ~90 for the probes, ~2× the time of scipy's ``approx_fprime`` (forward differences, n + 1
    evaluations, 6 digits), with 9.4 digits (benchmarks/numeric_gradients.py).

Richardson
    Central differences at h₀, h₀/2, h₀/4, … in a Neville tableau that eliminates h², h⁴, …;
    the entry with the smallest error estimate is returned (:func:`richardson`). Near a domain
    edge h₀ shrinks and a one-sided tableau (powers h, h², … eliminated) is tried as well.

Complex step
    ``Im f(x + ih)/h`` with h = 1e-100 (times the distance to a nearer singularity of a parsed
    f): no subtraction, so first derivatives are exact to rounding. Functions that are not
    complex-analytic (abs, relu, sign, heaviside: rows of :mod:`diffx.elementary` with
    ``analytic=False``) are refused with ``UnsupportedError`` (their complex extension would
    return a wrong derivative silently). Higher orders apply a central stencil (any
    ``accuracy``) to these exact first derivatives, with the step selection above. A given
    ``step=`` applies to that outer stencil only.
"""

from __future__ import annotations

import contextlib
import functools
import math
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from diffx import recording
from diffx.engines.estimate import Estimate
from diffx.engines.registry import Engine
from diffx.errors import DiffxError, UnsupportedError
from diffx.functions import CallableFunction, Function, ParsedFunction
from diffx.points import singular_arguments, singular_distance

__all__ = [
    "ACCURACIES",
    "ENGINES",
    "METHODS",
    "Evaluations",
    "batch_axis",
    "check_options",
    "default_step",
    "derivative",
    "error_model",
    "fornberg_weights",
    "hessian",
    "jacobian",
    "richardson",
    "stencil_offsets",
    "step_factor",
    "step_for",
    "truncation_constant",
    "truncation_order",
]

EPS = float(np.finfo(float).eps)
METHODS = ("forward", "backward", "central", "richardson", "complex-step")
STENCIL_METHODS = ("forward", "backward", "central")
ACCURACIES = range(1, 9)  # forward/backward: 1 … 8; central: 2, 4, 6, 8
# The rounding model ε·Σ|wᵢ f(xᵢ)| underestimates f's rounding near a zero of f, where f comes out
# of cancellation (x² + y − 11 near Himmelblau's minimum carries errors ε·11, not ε·|f|): there
# the balance point would collapse to a few ulps of x. So the step never moves below this
# fraction of the textbook step (exp at 50 needs 1/35; Himmelblau's collapse was 1/5e7).
MIN_STEP_FRACTION = 1e-3
COMPLEX_STEP = 1e-100  # any tiny h works: there is no subtraction, so no cancellation
RICHARDSON_LEVELS = 4  # rows always computed; more while the best estimate still improves
RICHARDSON_MAX_LEVELS = 12
RICHARDSON_PATIENCE = 1  # rows without a halving of the best error estimate before stopping
RICHARDSON_START = 16.0  # h₀ = 16 × the accuracy-4 model step ε^(1/5)·L (L: f's length scale)
REFINE_MOVES = 3  # moves of h towards the truncation/rounding balance point
ADAPTIVE_DOUBLINGS = 12  # upward probe of step="adaptive": at most 4096 × the model step
SHRINKS = 60  # domain fallback: h / 4 at most this many times (4⁶⁰ ≈ 1e36)
NOISE_SAMPLES = 9  # f at 9 equally spaced points across the stencil's span measures f's noise
NOISE_MAX_ORDER = 6  # differences of order 1 … 6 of those samples
NOISE_AGREEMENT = 4.0  # σₖ, σₖ₊₁, σₖ₊₂ within this factor: the differences are noise
# The rounding term from the measured noise is NOISE_MARGIN·σ·Σ|wᵢ|/hᵏ: since Σ|wᵢ| ≥ √(Σwᵢ²),
# that is at least 3√2 ≈ 4.2 standard deviations of Σwᵢeᵢ/hᵏ for independent noise eᵢ of
# deviation σ (central, first derivative: Σ|wᵢ| = 1, √(Σwᵢ²) = 1/√2), more for longer stencils.
# The margin is wide because σ comes from 9 samples (it is off by 3× in 5 % of draws) and the
# step-doubling truncation estimate carries the same noise: with 2, x·sin(1/x) at 0.3 missed by
# 1.1× (its two points were off by −3.8 and +2.9·ε|f|); with 3, every stencil estimate covers
# its true error on the 53 benchmark functions (benchmarks/numeric_accuracy.py, table 4).
NOISE_MARGIN = 3.0
# The model step is ε^(1/(p+k))·max(|x|, 1): for forward differences and |x| ≤ 1 that is 2⁻²⁶,
# and x + j·2⁻²⁸ share x's last 26 bits, so their rounding errors correlate: the logistic map
# at 0.3 measures 0.1·ε|f| of noise on that grid and 50–70·ε|f| off it. A factor with a full
# mantissa puts the steps (and the noise samples on them) off every power-of-two grid.
STEP_DITHER = 0.9
# The distance scale never goes below 2³⁰ ulps of x, where the forward step ε^(1/2)·scale is 16
# ulps: a singularity nearer than that (tan at the float nearest π/2, sqrt at a subnormal x)
# leaves nothing to resolve, and smaller scales would underflow the steps.
DISTANCE_FLOOR_ULPS = 2.0**30


# --------------------------------------------------------------------------------------------
# Stencils
# --------------------------------------------------------------------------------------------
def fornberg_weights(offsets: np.ndarray, order: int) -> np.ndarray:
    """Weights w with f^(order)(x) ≈ Σ w_i f(x + offsets_i) / h^order (offsets in units of h).

    >>> fornberg_weights(np.array([-1.0, 0.0, 1.0]), 1)
    array([-0.5,  0. ,  0.5])
    """
    offsets = np.asarray(offsets, dtype=float)
    n = offsets.size
    if order >= n:
        raise ValueError(f"{n} points cannot give a derivative of order {order}")
    c = np.zeros((n, order + 1))
    c[0, 0] = 1.0
    c1, c4 = 1.0, offsets[0]
    for i in range(1, n):
        mn = min(i, order)
        c2, c5, c4 = 1.0, c4, offsets[i]
        for j in range(i):
            c3 = offsets[i] - offsets[j]
            c2 *= c3
            if j == i - 1:
                for k in range(mn, 0, -1):
                    c[i, k] = c1 * (k * c[i - 1, k - 1] - c5 * c[i - 1, k]) / c2
                c[i, 0] = -c1 * c5 * c[i - 1, 0] / c2
            for k in range(mn, 0, -1):
                c[j, k] = (c4 * c[j, k] - k * c[j, k - 1]) / c3
            c[j, 0] = c4 * c[j, 0] / c3
        c1 = c2
    return c[:, order]


def stencil_offsets(kind: str, order: int, accuracy: int) -> np.ndarray:
    """Integer offsets of the standard forward/backward/central stencil of accuracy hᵃᶜᶜᵘʳᵃᶜʸ.

    Central stencils are symmetric and their accuracy is even; an odd ``accuracy`` is refused.

    >>> stencil_offsets("central", 2, 4)
    array([-2., -1.,  0.,  1.,  2.])
    >>> stencil_offsets("backward", 1, 2)
    array([-0., -1., -2.])
    """
    if not (isinstance(order, (int, np.integer)) and order >= 1):
        raise DiffxError(f"a stencil needs a derivative order ≥ 1, got {order!r}")
    if not (isinstance(accuracy, (int, np.integer)) and accuracy in ACCURACIES):
        raise DiffxError(f"accuracy must be an integer from {ACCURACIES[0]} to {ACCURACIES[-1]}"
                         f", got {accuracy!r}")
    if kind == "central":
        if accuracy % 2:
            raise DiffxError(f"central stencils are symmetric, so their accuracy is even (2, 4, "
                             f"6, 8); got accuracy={accuracy}")
        half = (order + 1) // 2 - 1 + accuracy // 2
        return np.arange(-half, half + 1, dtype=float)
    if kind not in ("forward", "backward"):
        raise DiffxError(f"unknown stencil kind {kind!r}: forward, backward or central")
    offsets = np.arange(order + accuracy, dtype=float)
    return offsets if kind == "forward" else -offsets


def _moment(offsets: np.ndarray, weights: np.ndarray, n: int) -> float:
    return float(np.sum(weights * offsets**n))


def truncation_order(offsets: np.ndarray, order: int) -> int:
    """The accuracy p of a stencil: the first power n ≥ points with Σ wᵢ oᵢⁿ ≠ 0 is p + order.

    >>> truncation_order(np.array([-1.0, 0.0, 1.0]), 1)
    2
    """
    offsets = np.asarray(offsets, dtype=float)
    weights = fornberg_weights(offsets, order)
    scale = float(np.sum(np.abs(weights) * np.max(np.abs(offsets)) ** offsets.size))
    n = offsets.size
    while abs(_moment(offsets, weights, n)) <= 1e-9 * scale:
        n += 1
    return n - order


def truncation_constant(offsets: np.ndarray, order: int) -> float:
    """C in the leading truncation term C·f⁽ᵖ⁺ᵏ⁾(x)·hᵖ of a stencil (signed).

    >>> round(truncation_constant(np.array([-1.0, 1.0]), 1), 12)  # (f(x+h) − f(x−h))/2h
    0.166666666667
    """
    offsets = np.asarray(offsets, dtype=float)
    p = truncation_order(offsets, order)
    weights = fornberg_weights(offsets, order)
    return _moment(offsets, weights, p + order) / math.factorial(p + order)


def default_step(kind: str, x: float, order: int = 1, accuracy: int | None = None) -> float:
    """Model step balancing truncation (∝ hᵖ) and rounding (∝ ε/hᵏ): ε^(1/(p+k))·max(|x|, 1)."""
    p = accuracy or (2 if kind in ("central", "richardson") else 1)
    return EPS ** (1.0 / (p + order)) * max(abs(float(x)), 1.0)


def error_model(method: str, h: float, derivatives: Mapping[int, float], order: int = 1,
                accuracy: int | None = None) -> tuple[float, float] | None:
    """Textbook (truncation, rounding) error of ``method`` at step h, for plotting V-curves.

    ``derivatives[n]`` is f⁽ⁿ⁾(x) (n = 0 and n = p + order are needed; complex-step: 1 and 3).
    Truncation |C·f⁽ᵖ⁺ᵏ⁾|·hᵖ with C from :func:`truncation_constant`; rounding ε·|f|·Σ|wᵢ|/hᵏ
    (complex step: ε·|f'|, no subtraction). Richardson has no closed model: None. Accuracy
    defaults as the methods do (forward/backward 1, central 2).

    >>> t, r = error_model("central", 1e-3, {0: 1.0, 3: 6.0})
    >>> round(t, 12), r == EPS * 1.0 * 1.0 / 1e-3
    (1e-06, True)
    """
    if method == "richardson":
        return None
    if method == "complex-step":
        if order != 1:
            return None
        return abs(derivatives[3]) * h**2 / 6, EPS * abs(derivatives[1])
    if method not in STENCIL_METHODS:
        raise DiffxError(f"no error model for method {method!r}")
    offsets = stencil_offsets(method, order, accuracy or (2 if method == "central" else 1))
    p = truncation_order(offsets, order)
    weights = fornberg_weights(offsets, order)
    truncation = abs(truncation_constant(offsets, order) * derivatives[p + order]) * h**p
    rounding = EPS * abs(derivatives[0]) * float(np.sum(np.abs(weights))) / h**order
    return truncation, rounding


def _exact_step(x: float, h: float) -> float:
    """Round h so that x + h is exactly representable (removes one rounding error)."""
    return float((x + h) - x) or h


def _grid_step(x: float, h: float) -> float:
    """A step diffx chooses: h rounded to a multiple of 16 ulps of x + 8h, and then so that
    x + h is exact. Then h/2, h/4 and h/8 are exact steps too, so the noise samples
    (:meth:`_Stencil._noise_points`) fall on the stencil's own points where they can (a
    relative change of h below 1e-9 at the steps diffx uses)."""
    unit = 16 * float(np.spacing(abs(x) + 8 * abs(h)))
    return _exact_step(x, max(round(h / unit), 1) * unit)


# --------------------------------------------------------------------------------------------
# Sampling f along a line
# --------------------------------------------------------------------------------------------
class Evaluations:
    """Counts f's evaluations (``count``: distinct points) and evaluates each point once.

    Memory stays O(n) for an n-dimensional gradient (a memo keyed by every perturbed point's
    bytes held 8n bytes per point, 64·n² in all: 6.4 GB at n = 10⁴). The base point x is kept
    (every line starts from it); each line x + t·direction keeps its own points
    (:meth:`line`), keyed by the coordinates the direction moves, and its memo goes when the
    line does. ``largest_line`` is the most points one line held, for tests.

    >>> f = Evaluations(CallableFunction(lambda v: v[0] * v[1]))
    >>> line = f.line(np.array([2.0, 3.0]), np.array([1.0, 0.0]))
    >>> float(line(0.5)), float(line(0.5)), float(line(0.0)), f.count, f.held()
    (7.5, 7.5, 6.0, 2, 1)
    """

    def __init__(self, fn: Function):
        self.fn = fn
        self.count = 0
        self.largest_line = 0
        self._base: dict[bytes, np.ndarray] = {}  # points lines start from: x (one per call)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """f(x), counted, not remembered."""
        self.count += 1
        with np.errstate(all="ignore"):
            return np.asarray(self.fn.numpy_call(x))

    def at(self, x: np.ndarray) -> np.ndarray:
        """f at a base point (x itself), remembered."""
        key = x.tobytes() + x.dtype.char.encode()
        if key not in self._base:
            self._base[key] = self.evaluate(x)
        return self._base[key]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.at(x)

    def held(self) -> int:
        """How many base points' values are held (lines' memos are their own)."""
        return len(self._base)

    def line(self, x: np.ndarray, direction: np.ndarray) -> LineSamples:
        return LineSamples(self, x, direction)


class LineSamples:
    """f(x + t·direction) for one line, each point evaluated once: keyed by the coordinates
    the direction moves (one float for a coordinate axis), so a point of the line costs
    O(nonzeros of direction) memory; a point equal to x is f's base value.
    :meth:`prefetch` evaluates many points of a parsed f in one vectorised call."""

    def __init__(self, evaluations: Evaluations, x: np.ndarray, direction: np.ndarray):
        self.evaluations, self.x, self.direction = evaluations, x, direction
        self.support = np.flatnonzero(direction)
        self._origin = x[self.support].tobytes()
        self._memo: dict[bytes, np.ndarray] = {}

    def _key(self, point: np.ndarray) -> bytes:
        return point[self.support].tobytes() + point.dtype.char.encode()

    def value(self, point: np.ndarray) -> np.ndarray:
        """f at a point of this line (real or complex)."""
        key = self._key(point)
        if point.dtype == self.x.dtype and key[:-1] == self._origin:
            return self.evaluations.at(self.x)
        if key not in self._memo:
            self._memo[key] = self.evaluations.evaluate(point)
            self.evaluations.largest_line = max(self.evaluations.largest_line, len(self._memo))
        return self._memo[key]

    def __call__(self, t: float) -> np.ndarray:
        return self.value(self.x + t * self.direction)

    def remember(self, ts: np.ndarray, values: np.ndarray) -> None:
        """Take f(x + t·direction) = values[i] for t = ts[i] as evaluated (and counted)
        already."""
        shape = np.shape(self.evaluations.at(self.x))
        for t, value in zip(ts, values):
            self._memo[self._key(self.x + float(t) * self.direction)] = value.reshape(shape)

    def prefetch(self, ts: np.ndarray) -> None:
        """Evaluate the new points x + t·direction, t in ``ts``, in one vectorised call (parsed
        functions only: their operations act elementwise; a callable may reduce over its
        input)."""
        fn, f = self.evaluations.fn, self.evaluations
        if not isinstance(fn, ParsedFunction):
            return
        points = [self.x + float(t) * self.direction for t in ts]
        new = {}
        for p in points:
            key = self._key(p)
            if key[:-1] != self._origin and key not in self._memo:
                new[key] = p
        if len(new) < 2:
            return
        stacked = np.stack(list(new.values()), axis=1)  # (n, P): row i is variable i
        with np.errstate(all="ignore"):
            out = fn.on_vector(stacked, stacked.shape[0])
        outputs = out if isinstance(out, list) else [out]
        columns = np.stack([np.broadcast_to(np.asarray(o), (stacked.shape[1],)) for o in outputs])
        for j, key in enumerate(new):
            value = columns[:, j]
            self._memo[key] = value.copy() if isinstance(out, list) else np.asarray(value[0])
        f.count += len(new)
        f.largest_line = max(f.largest_line, len(self._memo))


class _Line:
    """g(t) = f(x + t·direction) (or any sampled function of t) with the scale of its errors.

    ``mask`` marks the outputs that are finite at t = 0 (a vector function may be undefined in
    some outputs; only the others decide whether a step crosses a domain edge).
    """

    def __init__(self, sample: Callable[[float], np.ndarray], x0: float, scale: float,
                 prefetch: Callable[[np.ndarray], None] | None = None):
        self.sample = sample
        self.x0 = x0  # the coordinate along the line, for |x| scaling and exact steps
        # f's noise is measured at most this far apart (the first-derivative central step / 2):
        # small enough that the 4th–6th differences of a smooth f are noise, not f
        self.noise_spacing = default_step("central", 1.0) * scale / 2
        self.prefetch = prefetch or (lambda ts: None)  # evaluate many t at once, if f can
        self._mask: np.ndarray | None = None

    def __call__(self, t: float) -> np.ndarray:
        return self.sample(t)

    def finite(self, ts: np.ndarray) -> bool:
        self.prefetch(ts)
        values = [np.atleast_1d(self.sample(float(t))) for t in ts]
        if all(np.all(np.isfinite(v)) for v in values):
            return True
        if self._mask is None:
            self._mask = np.isfinite(np.atleast_1d(self.sample(0.0)))
        return all(np.all(np.isfinite(v[self._mask])) for v in values)


def _stencil(line: _Line, offsets: np.ndarray, weights: np.ndarray, h: float,
             order: int) -> tuple[np.ndarray, np.ndarray]:
    """Σ w_i g(offset_i·h) / h^order, and its rounding-error bound ε·Σ|wᵢ||gᵢ|/hᵏ."""
    total: Any = 0.0
    magnitude: Any = 0.0
    for w, offset in zip(weights, offsets):
        if w == 0.0:
            continue
        value = line(float(offset * h))
        total = total + w * value
        magnitude = magnitude + abs(w) * np.abs(value)
    return np.asarray(total / h**order), np.asarray(EPS * magnitude / h**order)


def _size(a: np.ndarray) -> float:
    """One number for an array of errors (vector functions): the sum of the finite entries."""
    a = np.abs(np.asarray(a, dtype=float))
    return float(np.sum(a[np.isfinite(a)]))


def noise_level(samples: np.ndarray) -> np.ndarray:
    """The standard deviation of f's noise, per output, from f at equally spaced points.

    ``samples``: shape (m + 1, *outputs), f at x₀ + j·s. Returns shape ``outputs``; 0 where
    the noise cannot be measured (a non-finite sample, or differences that stay smooth).

    Moré & Wild's ECnoise ("Estimating computational noise", SIAM J. Sci. Comput. 33:1292,
    2011): at a small spacing the k-th differences of f are its noise, and for independent
    noise of deviation σ, E[(Δᵏf)²] = σ²·(2k)!/(k!)². So σₖ = √(γₖ·mean (Δᵏf)²) with
    γₖ = (k!)²/(2k)!, taken at the first order k whose differences change sign and whose
    σₖ, σₖ₊₁, σₖ₊₂ agree within a factor of 4 (below it the differences are f's smooth part).
    Rounding makes f's noise: the model ε·|f| misses it where f comes out of cancellation (a
    degree-16 polynomial at 0.3 carries 46·ε|f|, rms against 50 digits).
    """
    samples = np.asarray(samples, dtype=float)
    outputs = samples.shape[1:]
    flat = samples.reshape(samples.shape[0], -1)
    finite = np.all(np.isfinite(flat), axis=0)
    differences, averages, left, right, pairs = _difference_tables(samples.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is not measurable: 0
        table = differences @ np.where(finite, flat, 0.0)  # Δ¹ … Δ⁶ stacked, (rows, outputs)
        sigma = np.sqrt(averages @ table**2)  # σₖ, (orders, outputs)
    changes = pairs @ (table[left] * table[right] < 0) > 0  # Δᵏ changes sign, per order
    high = np.maximum(np.maximum(sigma[:-2], sigma[1:-1]), sigma[2:])  # over σₖ … σₖ₊₂
    low = np.minimum(np.minimum(sigma[:-2], sigma[1:-1]), sigma[2:])
    noise = (high <= NOISE_AGREEMENT * low) & changes[:-2]
    first = np.argmax(noise, axis=0)  # the first order that passes
    level = sigma[first, np.arange(sigma.shape[1])]
    measured = finite & np.any(noise, axis=0) & np.isfinite(level)  # not an overflow
    return np.where(measured, level, 0.0).reshape(outputs)


@functools.cache
def _difference_tables(points: int) -> tuple[np.ndarray, ...]:
    """For :func:`noise_level` on ``points`` samples: the k-th difference operators for
    k = 1 … NOISE_MAX_ORDER stacked (rows, points); the matrix that averages each order's
    squared differences times γₖ = (k!)²/(2k)! (orders, rows); the index pairs of neighbouring
    differences of one order, and the matrix that counts them per order (orders, pairs)."""
    rows: list[np.ndarray] = []
    segments, left, right, owner = [], [], [], []
    for k in range(1, NOISE_MAX_ORDER + 1):
        stencil = [(-1) ** (k - j) * math.comb(k, j) for j in range(k + 1)]
        first = len(rows)
        for i in range(points - k):
            row = np.zeros(points)
            row[i:i + k + 1] = stencil
            rows.append(row)
        gamma = math.factorial(k) ** 2 / math.factorial(2 * k)
        segments.append((first, len(rows), gamma / (points - k)))
        left += range(first, len(rows) - 1)
        right += range(first + 1, len(rows))
        owner += [k - 1] * (points - k - 1)
    differences = np.array(rows)
    averaging = np.zeros((NOISE_MAX_ORDER, len(rows)))
    for k, (first, last, weight) in enumerate(segments):
        averaging[k, first:last] = weight
    pairs = np.zeros((NOISE_MAX_ORDER, len(left)))
    pairs[owner, np.arange(len(left))] = 1.0
    return differences, averaging, np.array(left), np.array(right), pairs


# --------------------------------------------------------------------------------------------
# Stencil differences with step selection
# --------------------------------------------------------------------------------------------
@functools.cache
def _stencil_constants(offsets: tuple[float, ...], order: int) -> tuple[np.ndarray, int, float]:
    """A stencil's weights, accuracy p and Σ|wᵢ|, computed once per (offsets, order)."""
    weights = fornberg_weights(np.array(offsets), order)
    weights.flags.writeable = False  # shared by every stencil of this shape
    return weights, truncation_order(np.array(offsets), order), float(np.sum(np.abs(weights)))


class _Stencil:
    """One stencil (offsets, weights, order, accuracy p) applied along a line at step h, with
    the step-doubling truncation estimate T and the rounding bound R.

    R is the larger of the model ε·Σ|wᵢ||f(xᵢ)|/hᵏ and the noise of f measured once, at the
    first step used (:func:`noise_level` on 9 points spanning the stencil at h and 2h), times
    NOISE_MARGIN·Σ|wᵢ|/hᵏ.
    """

    def __init__(self, line: _Line, offsets: np.ndarray, order: int):
        self.line, self.offsets, self.order = line, offsets, order
        self.weights, self.p, self.weight_sum = _stencil_constants(tuple(offsets), order)
        self.used = offsets[self.weights != 0]  # offsets with a weight: the points evaluated
        self.noise: np.ndarray | None = None  # f's noise (per output), measured at first use

    def _span(self, h: float) -> np.ndarray:
        """The points (offsets from x, along the line) the stencil uses at h and at 2h."""
        return np.concatenate([self.used * h, self.used * 2 * h])

    def at(self, h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(value, truncation estimate, rounding bound) at step h."""
        span = self._span(h)
        self.measure_noise(span)
        value, rounding = self.rounded(h)
        coarse, _ = _stencil(self.line, self.offsets, self.weights, 2 * h, self.order)
        truncation = np.abs(coarse - value) / (2**self.p - 1)
        return value, truncation, rounding

    def rounded(self, h: float, margin: float = NOISE_MARGIN) -> tuple[np.ndarray, np.ndarray]:
        """(value, rounding bound) at step h: the bound is the larger of the model
        ε·Σ|wᵢ||f(xᵢ)|/hᵏ and margin·σ·Σ|wᵢ|/hᵏ (σ: f's noise, once measured)."""
        value, rounding = _stencil(self.line, self.offsets, self.weights, h, self.order)
        return value, np.maximum(rounding, self.noise_bound(h, margin))

    def noise_bound(self, h: float, margin: float = NOISE_MARGIN) -> np.ndarray:
        """margin·σ·Σ|wᵢ|/hᵏ: the rounding of the stencil at h from f's measured noise σ (0
        before it is measured)."""
        if self.noise is None:
            return np.zeros(())
        return margin * self.noise * self.weight_sum / h**self.order

    def measure_noise(self, span: np.ndarray) -> None:
        """Measure f's noise on points inside ``span`` (once; later calls only prefetch)."""
        if self.noise is not None:
            self.line.prefetch(span)
            return
        ts = self._noise_points(span)
        self.line.prefetch(np.concatenate([span, ts]))
        self.noise = noise_level(np.array([self.line(float(t)) for t in ts]))

    def _noise_points(self, span: np.ndarray) -> np.ndarray:
        """NOISE_SAMPLES equally spaced points from x, inside ``span`` (where f was checked
        finite): centred on x for a two-sided stencil, on its side for a one-sided one; the
        widest spacing halved until it is about the line's noise spacing (so that the points
        fall on the stencil's own where they can; central at the model step: x ± h/2, ± 3h/2
        are new, x ± h, ± 2h are the stencil's). The spacing is rounded as the steps are, so
        that the points are exact: a rounded point would add f′·ulp(x) of noise that the
        stencil, on exact points, does not have (1/(x − 1) at 1.0001: 2e-8, against f's own
        2e-12)."""
        low, high = float(np.min(span)), float(np.max(span))
        half = (NOISE_SAMPLES - 1) // 2
        widest = min(-low, high) / half if low < 0 < high else (high - low) / (2 * half)
        ratio = widest / self.line.noise_spacing if self.line.noise_spacing > 0 else 1.0
        halvings = max(0, round(math.log2(ratio))) if math.isfinite(ratio) else 0
        spacing = _exact_step(self.line.x0, widest / 2**halvings)
        if low < 0 < high:
            return spacing * np.arange(-half, half + 1)
        return spacing * np.arange(2 * half + 1) * (1.0 if high > 0 else -1.0)

    def fits(self, h: float) -> bool:
        """Is g finite at every point the stencil uses at h and at 2h?"""
        return self.line.finite(self._span(h))

    def balance(self, h: float, truncation: float, rounding: float) -> float:
        """The step where C·hᵖ and R·hᵏ/hᵏ balance: minimises T(h)+R(h) for T ∝ hᵖ, R ∝ h⁻ᵏ."""
        k, p = self.order, self.p
        return h * (k * rounding / (p * truncation)) ** (1.0 / (p + k))

    def exact(self, h: float) -> float:
        """A step of diffx's choosing, rounded (:func:`_grid_step`)."""
        return _grid_step(self.line.x0, h)


def _fit(stencil: _Stencil, h: float) -> tuple[float, int] | None:
    """The largest h/4ʲ at which every point of the stencil (at h and 2h) is finite, and j."""
    for shrinks in range(SHRINKS + 1):
        if stencil.fits(h):
            return h, shrinks
        h = stencil.exact(h / 4)
    return None


def _select(stencil: _Stencil, h: float, adaptive: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """Value, error estimate (T + R) and step, after moving h towards the balance point."""
    value, truncation, rounding = stencil.at(h)
    T, R = _size(truncation), _size(rounding)
    if adaptive and not T > 4 * R:
        value, truncation, rounding, h = _probe_upwards(stencil, h, value, truncation, rounding)
        T, R = _size(truncation), _size(rounding)
    lowest = h * MIN_STEP_FRACTION
    for _ in range(REFINE_MOVES):
        if not T > 4 * R:
            break
        h_new = stencil.exact(max(stencil.balance(h, T, R), h * 1e-6, lowest))
        if h_new > h / 1.5 or not stencil.fits(h_new):
            break
        h = h_new
        value, truncation, rounding = stencil.at(h)
        T, R = _size(truncation), _size(rounding)
    return value, truncation + rounding, h


def _probe_upwards(stencil: _Stencil, h: float, value: np.ndarray, truncation: np.ndarray,
                   rounding: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Double h while the truncation stays below the rounding (step="adaptive"); from the first
    step where it is measurable, jump to the balance point. Returns (value, T, R, h)."""
    best = (value, truncation, rounding, h)
    for _ in range(ADAPTIVE_DOUBLINGS):
        up = stencil.exact(2 * h)
        if not stencil.fits(up):
            break
        v, t, r = stencil.at(up)
        T, R = _size(t), _size(r)
        if T > 4 * R:
            target = stencil.exact(stencil.balance(up, T, R))
            if target < up / 1.5 and stencil.fits(target):
                v, t, r = stencil.at(target)
                up = target
            if _size(t + r) < _size(best[1] + best[2]):
                best = (v, t, r, up)
            break
        best, h = (v, t, r, up), up
    return best


def _difference(line: _Line, kind: str, order: int, accuracy: int, step: float | str | None,
                scale: float) -> tuple[np.ndarray, np.ndarray, float]:
    """The ``order``-th derivative along the line with its error estimate and step."""
    offsets = stencil_offsets(kind, order, accuracy)
    stencil = _Stencil(line, offsets, order)
    if isinstance(step, (int, float)):  # the caller's step, as given (no fallback)
        h = _exact_step(line.x0, float(step))
        value, truncation, rounding = stencil.at(h)
        return value, truncation + rounding, h
    adaptive = step == "adaptive"
    h = stencil.exact(step_for(kind, 1.0, order, stencil.p) * scale)  # scale: f's length
    fitted = _fit(stencil, h)
    candidates = []
    if fitted is not None:
        candidates.append(_select(stencil, fitted[0], adaptive))
    if kind == "central" and (fitted is None or fitted[1] > 0):
        for side in ("forward", "backward"):  # near an edge: one-sided, equal accuracy
            other = _Stencil(line, stencil_offsets(side, order, stencil.p), order)
            found = _fit(other, h)
            if found is not None:
                candidates.append(_select(other, found[0], adaptive))
    if not candidates:  # no finite stencil at any step: report what the model step gives
        value, truncation, rounding = stencil.at(h)
        return value, truncation + rounding, h
    return min(candidates, key=lambda c: _size(c[1]) if np.all(np.isfinite(c[0])) else math.inf)


# --------------------------------------------------------------------------------------------
# Richardson extrapolation
# --------------------------------------------------------------------------------------------
def richardson(estimate: Callable[[float], tuple[np.ndarray, ...]], h0: float,
               levels: int = RICHARDSON_LEVELS, exponent: int = 2,
               max_levels: int = RICHARDSON_MAX_LEVELS, increment: int | None = None,
               patience: int = 2) -> tuple[np.ndarray, np.ndarray, float]:
    """Richardson extrapolation of D(h) = D + c₁hᵉ + c₂h^(e+i) + … (central: e = i = 2).

    Evaluates D at h0, h0/2, h0/4, … and eliminates the error terms in a Neville tableau.
    Returns the tableau entry with the smallest error estimate (the larger of its distances to
    its two parents, as numdifftools does, plus the rounding bound of its finest step amplified
    by the tableau), that estimate, and the finest step used. After ``levels`` rows it goes on
    halving (up to ``max_levels``) while the last two rows still improved the best estimate:
    near a pole or a steep feature the coarse rows are useless and the good entries come from
    finer steps.

    ``estimate(h)`` returns D(h) and its rounding bound, which chooses the entry; it may return
    a third array, a larger rounding bound to report for the chosen entry (f's measured noise
    with its coverage margin, which would steer the choice towards coarse entries).
    """
    increment = exponent if increment is None else increment
    tableau: list[list[np.ndarray]] = []
    best, best_error, best_step, reported = None, None, h0, None
    improved: list[bool] = []
    for i in range(max_levels):
        if i >= levels and not any(improved[-patience:]):
            break
        h = h0 / 2**i
        value, rounding, *larger = estimate(h)
        row = [np.asarray(value)]
        for j in range(1, i + 1):
            factor = 2.0 ** (exponent + increment * (j - 1))
            row.append(row[j - 1] + (row[j - 1] - tableau[i - 1][j - 1]) / (factor - 1))
        tableau.append(row)
        improved.append(False)
        for j in range(1, i + 1):
            if not np.all(np.isfinite(row[j])):
                continue
            distance = np.maximum(np.abs(row[j] - row[j - 1]),
                                  np.abs(row[j] - tableau[i - 1][j - 1]))
            error = distance + 2 * rounding * 2.0**j
            if best_error is None or np.max(error) < 0.5 * np.max(best_error):
                improved[-1] = True
            if best_error is None or np.max(error) < np.max(best_error):
                best, best_error, best_step = row[j], error, h
                worst = np.maximum(rounding, larger[0]) if larger else rounding
                reported = distance + 2 * worst * 2.0**j
    if best is None:  # every entry non-finite
        best, best_error = tableau[-1][-1], np.full(np.shape(tableau[-1][-1]), math.inf)
        reported = best_error
    return best, reported, best_step


def _richardson(line: _Line, order: int, step: float | str | None, h0: float,
                noisy: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    """Richardson on central differences (accuracy 2); near a domain edge the start step
    shrinks, and a one-sided tableau (accuracy 1, all powers of h) is tried as well.

    ``h0``: the first row's step when diffx chooses it (``step`` not a number).

    ``noisy``: measure f's noise (9 more evaluations) and report errors with it. diffx does so
    for callables, which may be simulations with noise of any size (sin plus noise of 1e-10:
    the estimate covered the true error in 12 of 20 draws without it, 20 with it). A parsed f
    is a formula whose only noise is rounding, and the tableau's distances see that already:
    without the measurement Richardson's estimate covers the true error on all 53 benchmark
    functions, the logistic map's 46·ε|f| included, at 12 evaluations instead of 21.
    """

    def run(kind: str, h0: float) -> tuple[np.ndarray, np.ndarray, float]:
        stencil = _Stencil(line, stencil_offsets(kind, order, 2 if kind == "central" else 1),
                           order)

        def at(h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """D(h); its rounding at f's noise as measured (which chooses the entry); and with
            the coverage margin (which the chosen entry reports)."""
            h = _exact_step(line.x0, h)
            if noisy and stencil.noise is None:  # on points across the first row's stencil
                stencil.measure_noise(stencil.used * h)
            value, rounding = stencil.rounded(h, margin=1.0)
            return value, rounding, np.maximum(rounding, stencil.noise_bound(h))

        increment = 2 if kind == "central" else 1
        return richardson(at, h0, levels=RICHARDSON_LEVELS, exponent=stencil.p,
                          max_levels=RICHARDSON_MAX_LEVELS, increment=increment,
                          patience=RICHARDSON_PATIENCE)

    if isinstance(step, (int, float)):
        return run("central", _exact_step(line.x0, float(step)))
    candidates = []
    central = _Stencil(line, stencil_offsets("central", order, 2), order)
    fitted = _fit(central, h0)
    if fitted is not None:
        h, shrinks = fitted
        candidates.append(run("central", h / 2 if shrinks else h))
    if fitted is None or fitted[1] > 0:
        for side in ("forward", "backward"):
            one_sided = _Stencil(line, stencil_offsets(side, order, 1), order)
            found = _fit(one_sided, h0)
            if found is not None:
                candidates.append(run(side, found[0] / 2 if found[1] else found[0]))
    if not candidates:
        return run("central", h0)
    return min(candidates, key=lambda c: _size(c[1]) if np.all(np.isfinite(c[0])) else math.inf)


# --------------------------------------------------------------------------------------------
# Gradients of a callable: the stencils of all coordinates at once
# --------------------------------------------------------------------------------------------
STEP_PROBES = 4  # coordinates whose balanced steps set a callable's gradient step (step_factor)
STEP_PROBE_MIN_N = 256  # the probes cost ~90 points: below, more than they are worth
MAX_STEP_FACTOR = 16.0
BATCH_FLOATS = 2**20  # points are built (and a broadcasting f evaluated) in blocks of ≤ 8 MB
# whether a callable broadcasts over a batch of points: 0 (X of shape (k, n) → (k, *outputs)),
# -1 (X of shape (n, k) → (*outputs, k)) or None, by callable (a new Function wraps it per call)
_BATCH_AXES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@functools.cache
def _coordinate_stencil(kind: str, accuracy: int) -> tuple[np.ndarray, ...]:
    """For :func:`_coordinate_differences`: the stencil's offsets and weights; the probe's
    offsets (the stencil's points, x and the fewest points beyond its far side that make
    p + 2 points) with the weights of their (p+1)-th derivative, and |C| of the leading
    truncation term C·f⁽ᵖ⁺¹⁾hᵖ; the offsets to evaluate (the probe's, without 0)."""
    offsets = stencil_offsets(kind, 1, accuracy)
    weights, p, _ = _stencil_constants(tuple(offsets), 1)
    probe = sorted(set(offsets[weights != 0]) | {0.0})
    far = -1.0 if kind == "backward" else 1.0
    while len(probe) < p + 2:
        probe.append(far * (max(abs(o) for o in probe if o * far >= 0) + 1))
    probe = np.array(sorted(probe))
    full = np.zeros(probe.size)  # the stencil's weights on the probe's offsets
    for o, w in zip(offsets, weights):
        full[np.flatnonzero(probe == o)] = w
    return (probe, full, fornberg_weights(probe, p + 1),
            np.array(abs(truncation_constant(offsets, 1))), probe[probe != 0])


def _grid_steps(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """:func:`_grid_step` for every coordinate at once (the same arithmetic)."""
    unit = 16 * np.spacing(np.abs(x) + 8 * np.abs(h))
    h = np.maximum(np.round(h / unit), 1) * unit
    exact = (x + h) - x
    return np.where(exact != 0, exact, h)


def batch_axis(fn: Function, rows: np.ndarray, singles: np.ndarray) -> int | None:
    """Does the callable evaluate a batch of points in one call? ``rows`` (k, n): points
    whose values f gave one by one as ``singles`` (k, m). 0 when f(rows) is those values
    stacked (k, *outputs), -1 when f(rows.T) is (*outputs, k), else None. Learnt once per
    callable (k ≠ n, and the values must agree to 1e-12, so a function that slices or sums
    over its whole input is not taken for one that broadcasts)."""
    try:
        if fn.func in _BATCH_AXES:
            return _BATCH_AXES[fn.func]
    except TypeError:  # not weakly referenceable
        return None
    found = None
    for axis in (0, -1):
        try:
            with np.errstate(all="ignore"):
                out = fn.func(rows if axis == 0 else rows.T)
        except Exception:  # a function of one point only
            continue
        if not isinstance(out, np.ndarray) or out.dtype.kind != "f":
            continue
        batch = (out.reshape(len(rows), -1) if axis == 0 and out.shape[:1] == (len(rows),)
                 else np.moveaxis(out, -1, 0).reshape(len(rows), -1)
                 if axis == -1 and out.shape[-1:] == (len(rows),) else None)
        if batch is not None and batch.shape == singles.shape and np.allclose(
                batch, singles, rtol=1e-12, atol=0.0):
            found = axis
            break
    with contextlib.suppress(TypeError):
        _BATCH_AXES[fn.func] = found
    return found


def _evaluate_rows(f: Evaluations, rows: np.ndarray, outputs: int) -> np.ndarray:
    """f at every row of ``rows`` (P, n), as (P, outputs): in one call per block when the
    callable broadcasts (:func:`batch_axis`), else one call per row."""
    fn = f.fn
    probe = 2 if rows.shape[1] != 2 else 3
    try:
        axis = _BATCH_AXES.get(fn.func, "unknown") if rows.shape[1] > 1 else None
    except TypeError:  # not weakly referenceable: not probed
        axis = None
    if axis == "unknown" and len(rows) > probe:
        singles = _evaluate_rows_singly(f, rows[:probe], outputs)
        if np.all(np.isfinite(singles)):
            axis = batch_axis(fn, rows[:probe], singles)
        if axis is None:
            return np.concatenate([singles, _evaluate_rows_singly(f, rows[probe:], outputs)])
        f.count -= probe  # counted again below
    if axis not in (0, -1):
        return _evaluate_rows_singly(f, rows, outputs)
    f.count += len(rows)
    with np.errstate(all="ignore"):
        out = np.asarray(fn.func(rows if axis == 0 else rows.T), dtype=float)
    return (out if axis == 0 else np.moveaxis(out, -1, 0)).reshape(len(rows), outputs)


def _evaluate_rows_singly(f: Evaluations, rows: np.ndarray, outputs: int) -> np.ndarray:
    """f at every row, one call each, the callable called directly (as
    :meth:`CallableFunction.on_vector` calls it on a float vector of n ≥ 2)."""
    out = np.empty((len(rows), outputs))
    f.count += len(rows)
    func = f.fn.func
    with np.errstate(all="ignore"):
        for i, row in enumerate(rows):
            out[i] = func(row)
    return out


def _coordinate_points(f: Evaluations, x: np.ndarray, steps: np.ndarray,
                       offsets: np.ndarray, outputs: int) -> np.ndarray:
    """f at x + oᵢ·hⱼ·eⱼ for every coordinate j and offset oᵢ, as (n, offsets, m); the points
    are built in blocks of ≤ BATCH_FLOATS numbers, so memory stays O(n)."""
    n, q = x.size, offsets.size
    per_block = max(1, BATCH_FLOATS // (q * n))
    values = []
    for start in range(0, n, per_block):
        columns = np.arange(start, min(start + per_block, n))
        block = np.repeat(x[None, :], columns.size * q, axis=0)
        rows = np.arange(block.shape[0])
        moved = np.repeat(columns, q)
        block[rows, moved] = x[moved] + np.tile(offsets, columns.size) * steps[moved]
        values.append(_evaluate_rows(f, block, outputs).reshape(columns.size, q, outputs))
    return np.concatenate(values)


def step_factor(fn: Function, x: np.ndarray, kind: str, accuracy: int, f: Evaluations,
                ) -> tuple[float, dict[int, tuple]]:
    """The factor on the model step for every coordinate of a callable's gradient, and the
    results of the coordinates probed for it.

    The model step assumes f's derivatives scale like f, but a sum of many terms has a large
    |f| (so a large rounding ε|f|/h) while each coordinate moves few of them (Rosenbrock at
    n = 1000: |f| ≈ 1e5, |∂³f| ≈ 1e3), and its best step is larger. STEP_PROBES coordinates,
    evenly spread, run the per-coordinate selection with ``step="adaptive"`` (which finds the
    balance point from a measured truncation); the factor is half the smallest ratio of their
    step to the model step (the balance of the bound T + R lies above the true error's
    minimum, R being a bound), within [1, MAX_STEP_FACTOR]. Below STEP_PROBE_MIN_N
    coordinates the probes (~90 points) would cost more than a tenth of the gradient: 1."""
    n = x.size
    if n < STEP_PROBE_MIN_N:
        return 1.0, {}
    p = truncation_order(stencil_offsets(kind, 1, accuracy), 1)
    model = _grid_steps(x, step_for(kind, 1.0, 1, p) * np.maximum(np.abs(x), 1.0))
    probed, ratios = {}, []
    for j in np.unique(np.linspace(0, n - 1, STEP_PROBES).round().astype(int)):
        direction = np.zeros(n)
        direction[j] = 1.0
        probed[int(j)] = _directional(fn, x, direction, kind, 1, "adaptive", f, accuracy)
        ratios.append(probed[int(j)][2] / model[j])
    return float(np.clip(min(ratios) / 2, 1.0, MAX_STEP_FACTOR)), probed


def _coordinate_differences(fn: Function, x: np.ndarray, kind: str, accuracy: int,
                            f: Evaluations, factor: float = 1.0) -> tuple[np.ndarray, ...]:
    """The first derivative along every coordinate axis at once, at ``factor`` × the model
    step.

    Returns values and error estimates (n, m), steps (n,) and ``accepted`` (n,): False where
    a point of the coordinate's probe is not finite or its truncation dominates (T > 4R),
    which the caller hands to the per-coordinate step selection; and f at the points
    evaluated (n, offsets, m) with those offsets (in steps), for it to reuse. See the module
    docstring, "Gradients of a callable"."""
    probe, weights, truncation, constant, evaluated = _coordinate_stencil(kind, accuracy)
    p = truncation_order(stencil_offsets(kind, 1, accuracy), 1)
    weight_sum = float(np.sum(np.abs(weights)))
    scale = np.maximum(np.abs(x), 1.0)
    steps = _grid_steps(x, factor * step_for(kind, 1.0, 1, p) * scale)
    base = np.atleast_1d(f.at(x)).ravel()
    moved = _coordinate_points(f, x, steps, evaluated, base.size)  # (n, q, m)
    at = np.empty((x.size, probe.size, base.size))
    at[:, probe != 0] = moved
    at[:, probe == 0] = base
    h = steps[:, None]
    value = np.einsum("o,jom->jm", weights, at) / h
    model = EPS * np.einsum("o,jom->jm", np.abs(weights), np.abs(at)) / h
    trunc = constant * np.abs(np.einsum("o,jom->jm", truncation, at)) / h
    sigma = _point_noise(f, x, steps, probe[weights != 0], base)
    rounding = np.maximum(model, NOISE_MARGIN * sigma * weight_sum / h)
    mask = np.isfinite(base)
    finite = np.all(np.isfinite(at[:, :, mask]), axis=(1, 2))
    sizes = [np.sum(np.where(np.isfinite(a), np.abs(a), 0.0), axis=1) for a in (trunc, rounding)]
    accepted = finite & ~(sizes[0] > 4 * sizes[1])
    return value, trunc + rounding, steps, accepted, moved, evaluated


def _point_noise(f: Evaluations, x: np.ndarray, steps: np.ndarray, used: np.ndarray,
                 base: np.ndarray) -> np.ndarray:
    """f's noise σ (per output) near x, measured once for all coordinates: :func:`noise_level`
    on NOISE_SAMPLES equally spaced points x + k·s⊙d along one line that moves every
    coordinate j by ±sⱼ (signs from a fixed seed, so that no sum or difference of coordinates
    stays constant along it), sⱼ the spacing the per-coordinate measurement would use for
    coordinate j's probe span (:meth:`_Stencil._noise_points`): centred on x for a two-sided
    stencil, on its side for a one-sided one. 8 evaluations per gradient instead of 5–8 per
    coordinate."""
    span = np.concatenate([used, 2 * used])  # the stencil at h and 2h, as measured per axis
    low, high = float(np.min(span)), float(np.max(span))
    half = (NOISE_SAMPLES - 1) // 2
    two_sided = low < 0 < high
    widest = (min(-low, high) / half if two_sided else (high - low) / (2 * half)) * steps
    noise_spacing = default_step("central", 1.0) * np.maximum(np.abs(x), 1.0) / 2
    halvings = np.maximum(0, np.round(np.log2(widest / noise_spacing)))
    spacing = widest / 2**halvings
    spacing = np.where((x + spacing) - x != 0, (x + spacing) - x, spacing)
    signs = np.where(np.random.default_rng(0).random(x.size) < 0.5, -1.0, 1.0)
    ks = np.arange(-half, half + 1) if two_sided else np.arange(2 * half + 1) * np.sign(high
                                                                                        or low)
    rows = x[None, :] + ks[:, None] * (signs * spacing)[None, :]
    samples = _evaluate_rows(f, rows[ks != 0], base.size)
    ordered = np.insert(samples, int(np.flatnonzero(ks == 0)[0]), base, axis=0)
    return noise_level(ordered)


# --------------------------------------------------------------------------------------------
# Directional derivatives, the three cores
# --------------------------------------------------------------------------------------------
def _directional(fn: Function, x: np.ndarray, direction: np.ndarray, method: str, order: int,
                 step: float | str | None, f: Evaluations, accuracy: int | None = None,
                 samples: LineSamples | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """The order-th derivative along ``direction`` with error estimate and step (``samples``:
    the line's points known already, if any)."""
    x0 = float(np.dot(x, direction)) if np.count_nonzero(direction) == 1 else 0.0
    scale = max(float(np.max(np.abs(x * direction))), 1.0)
    chosen = not isinstance(step, (int, float))  # the step is diffx's to choose
    nearest = singular_distance(fn, x, direction) if chosen else None
    if nearest is not None:  # a kink, pole or domain edge closer than the scale: f's scale
        ulp = float(np.spacing(np.max(np.abs(x * direction))))
        scale = min(scale, max(nearest, DISTANCE_FLOOR_ULPS * ulp))
    if method == "complex-step":
        return _complex_step(fn, x, direction, order, step, f, accuracy, scale)

    samples = samples or f.line(x, direction)
    line = _Line(samples, x0, scale, samples.prefetch)
    if method in STENCIL_METHODS:
        accuracy = accuracy or (2 if method == "central" else 1)
        result = _difference(line, method, order, accuracy, step, scale)
        offsets = 2 * stencil_offsets(method, order, accuracy)  # at h and at 2h
        cleared = chosen and _clear_of_singularities(
            fn, x, direction, x0, result[2], offsets,
            lambda h: _difference(line, method, order, accuracy, h, scale))
        return cleared or result
    if method == "richardson":
        h0 = _exact_step(x0, step_for("richardson", 1.0, order) * scale)  # the first row's
        cleared = chosen and _clear_of_singularities(
            fn, x, direction, x0, h0, stencil_offsets("central", order, 2),
            lambda h: _richardson(line, order, h, h0, isinstance(fn, CallableFunction)))
        return cleared or _richardson(line, order, step, h0, isinstance(fn, CallableFunction))
    raise UnsupportedError(f"unknown finite-difference method {method!r}")


def _clear_of_singularities(fn: Function, x: np.ndarray, direction: np.ndarray, x0: float,
                            h: float, offsets: np.ndarray,
                            run: Callable[[float], tuple]) -> tuple | None:
    """Keep a stencil on one side of every kink and pole of f.

    A difference quotient across a kink or a pole is not f′ (abs at 1e-9 with h = 1e-8 gives
    0.1, not 1), and its step-doubling error estimate does not see it: both steps straddle it
    alike. So when one of f's singular arguments (:func:`diffx.points.singular_arguments`)
    changes sign between x and an end of the stencil (points x + offsets·h along
    ``direction``), h shrinks by 4 until none does, and the result is ``run`` at that step,
    its error estimate honest again (steps rounded as the line's, about ``x0``). None when the
    stencil was clear already (or f has no kinks or poles, or cannot be recorded). On a kink
    itself (an argument exactly 0) nothing changes: the point check has warned about it.
    """
    at = singular_arguments(fn, x)
    if at is None:
        return None
    low, high = min(float(np.min(offsets)), 0.0), max(float(np.max(offsets)), 0.0)

    def straddles(h: float) -> bool:
        for end in (low * h, high * h):
            there = singular_arguments(fn, x + end * direction) if end else at
            if there is None or there.shape != at.shape:
                return False  # another branch of f there: nothing to compare
            if np.any((np.sign(there) != np.sign(at)) & (at != 0)):
                return True
        return False

    if not straddles(h):
        return None
    for _ in range(SHRINKS):
        h = _exact_step(x0, h / 4)
        if not straddles(h):
            return run(h)
    return None


def _refuse_non_analytic(fn: Function, x: np.ndarray) -> None:
    """A callable runs numpy's own functions on complex input, where abs, max, std, norm or
    slogdet are not the complex-analytic extension: Im f(x + ih)/h would be a wrong number,
    silently. So its recording at x (remembered per function) lists such operations, and any
    refuses complex step (a parsed function's rows refuse by themselves)."""
    if not isinstance(fn, CallableFunction):
        return
    found = fn.cache.peek("not complex-analytic")
    if found is None:
        try:
            with np.errstate(all="ignore"):
                found = recording.record(fn, np.asarray(x, dtype=float)).not_complex_analytic()
        except Exception:  # not recordable (TensorFlow code, math.*): nothing to learn
            found = []
        fn.cache.put("not complex-analytic", found)
    if found:
        raise UnsupportedError(
            f"{fn.name} uses {', '.join(found)}, which numpy computes on complex input without "
            f"being complex-analytic, so complex-step differentiation would return a wrong "
            f"derivative; use method='central' or an automatic method")


def _complex_step(fn: Function, x: np.ndarray, direction: np.ndarray, order: int,
                  step: float | str | None, f: Evaluations, accuracy: int | None,
                  scale: float) -> tuple[np.ndarray, np.ndarray, float]:
    """f'(x) = Im f(x + i·h) / h with no subtraction, so h can be tiny and f' exact to rounding.

    h = 1e-100, times f's length scale when a singularity is nearer than 1 (h must be far
    below the distance to it: log at 1e-150 with h = 1e-100 gave π/2·1e100, not 1e150); never
    below the smallest normal float. Higher orders apply a central stencil of order k-1 to
    these exact first derivatives, with the same step selection and error estimate as the
    real stencils.
    """
    _refuse_non_analytic(fn, x)
    tiny = max(COMPLEX_STEP * min(scale, 1.0), float(np.finfo(float).tiny))
    samples = f.line(x, direction)

    def first(t: float, h: float = tiny) -> np.ndarray:
        point = (x + t * direction).astype(complex) + 1j * h * direction
        return np.imag(samples.value(point)) / h

    if order == 1:
        if isinstance(step, (int, float)):  # a chosen h: error -f⁽³⁾h²/6, by step doubling
            value, coarse = first(0.0, float(step)), first(0.0, 2.0 * float(step))
            return value, np.abs(coarse - value) / 3 + EPS * np.abs(value), float(step)
        value = first(0.0)
        return value, EPS * np.abs(value), tiny
    x0 = float(np.dot(x, direction)) if np.count_nonzero(direction) == 1 else 0.0
    return _difference(_Line(first, x0, scale), "central", order - 1, accuracy or 2, step, scale)


def derivative(fn: Function, x: float, order: int = 1, method: str = "central",
               step: float | str | None = None, accuracy: int | None = None) -> Estimate:
    """The ``order``-th derivative of a scalar function of one variable at ``x``."""
    f = Evaluations(fn)
    value, error, h = _directional(fn, np.array([float(x)]), np.array([1.0]), method, order,
                                   step, f, accuracy)
    return Estimate(float(np.asarray(value).reshape(-1)[0]),
                    float(np.max(error)), f.count, float(h))


def jacobian(fn: Function, x: np.ndarray, method: str = "central",
             step: float | str | None = None, accuracy: int | None = None,
             evaluations: Evaluations | None = None) -> Estimate:
    """Jacobian (m, n), one directional difference per coordinate; error estimate per entry.

    A callable with the automatic step (``step=None``), a stencil method and no kink or pole
    found gets the stencils of all coordinates at once (module docstring, "Gradients of a
    callable"); the coordinates that batch cannot accept, and every other case, go through
    the per-coordinate step selection. ``evaluations``: the counter to use (tests read it).
    """
    f = evaluations if evaluations is not None else Evaluations(fn)
    n = x.size
    batched = None
    if (isinstance(fn, CallableFunction) and fn.takes_vector and n > 1
            and method in STENCIL_METHODS and step is None
            and f.at(x).dtype.kind == "f" and singular_arguments(fn, x) is None):
        kind_accuracy = accuracy or (2 if method == "central" else 1)
        factor, probed = step_factor(fn, x, method, kind_accuracy, f)
        batched = _coordinate_differences(fn, x, method, kind_accuracy, f, factor)
        values, errors, steps, accepted, known, offsets = batched
        for j, (value, error, steps[j]) in probed.items():
            values[j] = np.atleast_1d(value)
            errors[j] = np.broadcast_to(np.atleast_1d(error), values[j].shape)
    else:
        values = errors = steps = accepted = None
    columns: list[Any] = [None] * n
    for j in range(n) if accepted is None else np.flatnonzero(~accepted):
        direction = np.zeros(n)
        direction[j] = 1.0
        samples = f.line(x, direction)
        if accepted is not None:  # the points the batch evaluated on this axis
            samples.remember(offsets * steps[j], known[j])
        columns[j] = _directional(fn, x, direction, method, 1, step, f, accuracy, samples)
    if accepted is None:
        values = np.array([np.atleast_1d(c[0]) for c in columns])
        errors = np.array([np.broadcast_to(np.atleast_1d(c[1]), np.shape(v))
                           for c, v in zip(columns, values)])
        steps = np.array([c[2] for c in columns])
    else:
        for j in np.flatnonzero(~accepted):
            value, error, steps[j] = columns[j]
            values[j] = np.atleast_1d(value)
            errors[j] = np.broadcast_to(np.atleast_1d(error), values[j].shape)
    return Estimate(values.T, errors.T, f.count, float(np.max(steps)))


def hessian(fn: Function, x: np.ndarray, method: str = "central",
            step: float | str | None = None, accuracy: int | None = None) -> Estimate:
    """Hessian (n, n) of a scalar function, with an error estimate per entry.

    Diagonal: second-derivative stencils along each axis. Off-diagonal: the directional second
    derivative along eᵢ ± eⱼ by polarisation, ∂ᵢ∂ⱼf = (D²_{eᵢ+eⱼ} − D²_{eᵢ−eⱼ}) / 4, which for
    the central stencil is exactly the standard 4-point mixed formula. f(x) is evaluated once
    for all directions.
    """
    f = Evaluations(fn)
    n = x.size
    H = np.empty((n, n))
    E_ = np.zeros((n, n))
    h_used = 0.0
    basis = np.eye(n)
    for i in range(n):
        for j in range(i, n):
            if i == j:
                value, error, h = _directional(fn, x, basis[i], method, 2, step, f, accuracy)
            else:
                plus, e1, h = _directional(fn, x, basis[i] + basis[j], method, 2, step, f,
                                           accuracy)
                minus, e2, _ = _directional(fn, x, basis[i] - basis[j], method, 2, step, f,
                                            accuracy)
                value, error = (plus - minus) / 4, (e1 + e2) / 4
            H[i, j] = H[j, i] = float(np.asarray(value).reshape(-1)[0])
            E_[i, j] = E_[j, i] = float(np.max(error))
            h_used = max(h_used, h)
    return Estimate(H, E_, f.count, h_used)


def step_for(method: str, x: float, order: int = 1, accuracy: int | None = None) -> float:
    """The step the method starts from at ``x`` (for plots marking the automatic choice; the
    step actually used, after the balance check, is ``Estimate.step``): for the stencils,
    STEP_DITHER × the model step."""
    if method == "complex-step":
        return COMPLEX_STEP
    if method == "richardson":
        return RICHARDSON_START * default_step("central", x, order, accuracy=4)
    return STEP_DITHER * default_step(method, x, order,
                                      accuracy or (2 if method == "central" else 1))


def check_options(method: str, step: float | str | None = None,
                  accuracy: int | None = None) -> None:
    """Refuse an ``accuracy=`` the method's stencil cannot have (DiffxError naming the choices;
    ``step`` is checked by the registry's generic layer)."""
    if accuracy is not None:
        stencil_offsets("central" if method == "central" else "forward", 1, accuracy)


_DESCRIPTIONS = {
    "forward": "forward difference (f(x+h) - f(x))/h, h balanced per f (diffx.engines.numeric)",
    "backward": "backward difference (f(x) - f(x-h))/h, h balanced per f",
    "central": "central difference (f(x+h) - f(x-h))/2h, h balanced per f",
    "richardson": "central differences at h, h/2, h/4, ... with Richardson extrapolation",
    "complex-step": "Im f(x + ih)/h, h tiny: exact first derivatives, analytic f only",
}


def _engine(method: str) -> Engine:
    stencil = method != "richardson"  # Richardson chooses its own stencils and steps
    return Engine(method, "numeric", _DESCRIPTIONS[method],
                  jacobian=functools.partial(jacobian, method=method),
                  derivative=functools.partial(derivative, method=method),
                  hessian=functools.partial(hessian, method=method),
                  options=frozenset({"step", "accuracy"} if stencil else {"step"}),
                  adaptive_step=stencil,
                  check_options=functools.partial(check_options, method))


ENGINES = tuple(_engine(method) for method in METHODS)
