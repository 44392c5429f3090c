"""Finite differences: forward, backward, central stencils, Richardson extrapolation, complex step.

Every method returns an :class:`~diffx.engines.Estimate` with an error estimate and the number of
function evaluations. Step sizes follow the textbook balance of truncation and rounding error
for a stencil of accuracy order p and derivative order k (error ≈ C·hᵖ + ε·|f|/hᵏ, minimised at
h ≈ ε^(1/(p+k)) · scale), with scale = max(|x|, 1):

    forward/backward, k=1 (p=1):  h ≈ √ε · scale ≈ 1.5e-8 · scale
    central,          k=1 (p=2):  h ≈ ∛ε · scale ≈ 6.1e-6 · scale

Stencil weights for any offsets come from Fornberg's algorithm (Fornberg 1988, "Generation of
finite difference formulas on arbitrarily spaced grids", Math. Comp. 51:699).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from diffx.engines.estimate import Estimate
from diffx.errors import UnsupportedError
from diffx.functions import Function

__all__ = [
    "METHODS",
    "default_step",
    "derivative",
    "fornberg_weights",
    "hessian",
    "jacobian",
    "richardson",
    "stencil_offsets",
]

EPS = np.finfo(float).eps
METHODS = ("forward", "backward", "central", "richardson", "complex-step")
COMPLEX_STEP = 1e-100  # any tiny h works: there is no subtraction, so no cancellation
RICHARDSON_LEVELS = 6  # halvings always taken; more while the best estimate still improves
RICHARDSON_MAX_LEVELS = 12


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
    """Integer offsets of the standard forward/backward/central stencil."""
    if kind == "central":
        half = (order + 1) // 2 - 1 + (accuracy + 1) // 2
        return np.arange(-half, half + 1, dtype=float)
    points = order + accuracy
    offsets = np.arange(points, dtype=float)
    return offsets if kind == "forward" else -offsets


def default_step(kind: str, x: float, order: int = 1, accuracy: int | None = None) -> float:
    """Step balancing truncation (∝ hᵖ) and rounding (∝ ε/hᵏ) error: ε^(1/(p+k))·max(|x|, 1)."""
    p = accuracy or (2 if kind in ("central", "richardson") else 1)
    return EPS ** (1.0 / (p + order)) * max(abs(float(x)), 1.0)


def _exact_step(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Round h so that x + h is exactly representable (removes one rounding error)."""
    return (x + h) - x


class _Counter:
    """Wraps a function to count evaluations (each point of a stencil is one evaluation)."""

    def __init__(self, fn: Function):
        self.fn = fn
        self.count = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.count += 1
        with np.errstate(all="ignore"):
            return self.fn.numpy_call(x)


def _stencil(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, direction: np.ndarray, h: float,
             offsets: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Σ w_i f(x + offset_i·h·direction) / h^order, and its rounding-error bound."""
    weights = fornberg_weights(offsets, order)
    total = 0.0
    magnitude = 0.0
    for w, offset in zip(weights, offsets):
        if w == 0.0:
            continue
        value = f(x + offset * h * direction)
        total = total + w * value
        magnitude = magnitude + abs(w) * np.abs(value)
    return total / h**order, EPS * magnitude / h**order


def _difference(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, direction: np.ndarray,
                h: float, offsets: np.ndarray, order: int,
                accuracy: int) -> tuple[np.ndarray, np.ndarray]:
    """A stencil estimate with its error estimate: truncation from a step-doubling comparison
    (error ∝ hᵖ, so |D(2h) − D(h)| / (2ᵖ − 1) estimates the error of D(h)) plus rounding."""
    value, rounding = _stencil(f, x, direction, h, offsets, order)
    coarse, _ = _stencil(f, x, direction, 2 * h, offsets, order)
    truncation = np.abs(coarse - value) / (2**accuracy - 1)
    return value, truncation + rounding


def richardson(estimate: Callable[[float], tuple[np.ndarray, np.ndarray]], h0: float,
               levels: int = RICHARDSON_LEVELS, exponent: int = 2,
               max_levels: int = RICHARDSON_MAX_LEVELS,
               ) -> tuple[np.ndarray, np.ndarray, float]:
    """Richardson extrapolation of a central estimate D(h) = D + c₁h² + c₂h⁴ + …

    Evaluates D at h0, h0/2, h0/4, … and eliminates the error terms in a Neville tableau.
    Returns the tableau entry with the smallest error estimate (the larger of its distances to
    its two parents, as numdifftools does, plus the rounding bound of its finest step), that
    estimate, and the finest step used. After ``levels`` rows it goes on halving (up to
    ``max_levels``) while the last two rows still improved the best estimate: near a pole or
    a steep feature the coarse rows are useless and the good entries come from finer steps.
    """
    tableau: list[list[np.ndarray]] = []
    best, best_error, best_step = None, None, h0
    improved: list[bool] = []
    for i in range(max_levels):
        if i >= levels and not any(improved[-2:]):
            break
        h = h0 / 2**i
        value, rounding = estimate(h)
        row = [value]
        for j in range(1, i + 1):
            factor = 2.0 ** (exponent * j)
            row.append(row[j - 1] + (row[j - 1] - tableau[i - 1][j - 1]) / (factor - 1))
        tableau.append(row)
        improved.append(False)
        for j in range(1, i + 1):
            error = np.maximum(np.abs(row[j] - row[j - 1]), np.abs(row[j] - tableau[i - 1][j - 1]))
            error = error + 2 * rounding * 2.0**j
            if best_error is None or np.max(error) < 0.5 * np.max(best_error):
                improved[-1] = True
            if best_error is None or np.max(error) < np.max(best_error):
                best, best_error, best_step = row[j], error, h
    return best, best_error, best_step


def _directional(fn: Function, x: np.ndarray, direction: np.ndarray, method: str, order: int,
                 step: float | None, f: _Counter) -> tuple[np.ndarray, np.ndarray, float]:
    """The order-th derivative along ``direction`` (a unit basis vector) with error estimate."""
    scale = max(float(np.max(np.abs(x * direction))), 1.0)
    if method in ("forward", "backward", "central"):
        accuracy = 2 if method == "central" else 1
        h = step if step is not None else default_step(method, scale, order, accuracy)
        h = float(_exact_step(np.dot(x, direction), h))
        offsets = stencil_offsets(method, order, accuracy)
        value, error = _difference(f, x, direction, h, offsets, order, accuracy)
        return value, error, h
    if method == "richardson":
        h0 = step if step is not None else 2.0 ** (RICHARDSON_LEVELS - 1) * default_step(
            "central", scale, order, accuracy=4)
        offsets = stencil_offsets("central", order, 2)

        def central(h):
            return _stencil(f, x, direction, h, offsets, order)

        return richardson(central, h0)
    if method == "complex-step":
        return _complex_step(fn, x, direction, order, step, f)
    raise UnsupportedError(f"unknown finite-difference method {method!r}")


def _complex_step(fn: Function, x: np.ndarray, direction: np.ndarray, order: int,
                  step: float | None, f: _Counter) -> tuple[np.ndarray, np.ndarray, float]:
    """f'(x) = Im f(x + i·h) / h with no subtraction, so h can be tiny and f' exact to rounding.

    Higher orders apply a central stencil of order k-1 to these exact first derivatives, with
    the same step-doubling truncation estimate as the real stencils.
    """

    def first(point: np.ndarray) -> np.ndarray:
        return np.imag(f(point + 1j * COMPLEX_STEP * direction)) / COMPLEX_STEP

    if order == 1:
        value = first(x.astype(complex))
        return value, EPS * np.abs(value), COMPLEX_STEP
    offsets = stencil_offsets("central", order - 1, 2)
    h = step if step is not None else default_step("central", float(np.dot(x, direction)),
                                                   order - 1)
    value, error = _difference(first, x, direction, h, offsets, order - 1, 2)
    return value, error, h


def derivative(fn: Function, x: float, order: int = 1, method: str = "central",
               step: float | None = None) -> Estimate:
    """The ``order``-th derivative of a scalar function of one variable at ``x``."""
    f = _Counter(fn)
    value, error, h = _directional(fn, np.array([float(x)]), np.array([1.0]), method, order,
                                   step, f)
    return Estimate(float(value), float(error), f.count, h)


def jacobian(fn: Function, x: np.ndarray, method: str = "central",
             step: float | None = None) -> Estimate:
    """Jacobian (m, n), one directional difference per coordinate; error estimate per entry."""
    f = _Counter(fn)
    n = x.size
    columns, errors, steps = [], [], []
    for j in range(n):
        value, error, h = _directional(fn, x, np.eye(n)[j], method, 1, step, f)
        columns.append(np.atleast_1d(value))
        errors.append(np.atleast_1d(error))
        steps.append(h)
    return Estimate(np.array(columns).T, np.array(errors).T, f.count, max(steps))


def hessian(fn: Function, x: np.ndarray, method: str = "central",
            step: float | None = None) -> Estimate:
    """Hessian (n, n) of a scalar function.

    Diagonal: second-derivative stencils along each axis. Off-diagonal: the directional second
    derivative along (eᵢ+eⱼ)/… by polarisation, ∂ᵢ∂ⱼf = (D²_{eᵢ+eⱼ} − D²_{eᵢ−eⱼ}) / 4, which for
    the central stencil is exactly the standard 4-point mixed formula.
    """
    f = _Counter(fn)
    n = x.size
    H = np.empty((n, n))
    E_ = np.zeros((n, n))
    h_used = 0.0
    basis = np.eye(n)
    for i in range(n):
        for j in range(i, n):
            if i == j:
                value, error, h = _directional(fn, x, basis[i], method, 2, step, f)
            else:
                plus, e1, h = _directional(fn, x, basis[i] + basis[j], method, 2, step, f)
                minus, e2, _ = _directional(fn, x, basis[i] - basis[j], method, 2, step, f)
                value, error = (plus - minus) / 4, (e1 + e2) / 4
            H[i, j] = H[j, i] = float(value)
            E_[i, j] = E_[j, i] = float(error)
            h_used = max(h_used, h)
    return Estimate(H, E_, f.count, h_used)


def step_for(method: str, x: float, order: int = 1) -> float:
    """The default step the method uses at ``x`` (for plots marking the automatic choice)."""
    if method == "complex-step":
        return COMPLEX_STEP
    if method == "richardson":
        return 2.0 ** (RICHARDSON_LEVELS - 1) * default_step("central", x, order, accuracy=4)
    return default_step(method, x, order, 2 if method == "central" else 1)
