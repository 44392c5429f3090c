"""The methods, and ``derivative``/``gradient``/``jacobian``/``hessian`` written once over them.

Each engine module implements three cores — k-th derivative of a scalar function of one
variable, Jacobian (m, n), Hessian (n, n) — in whatever way is natural to it. This module
validates input, applies the bad-point policy of :mod:`diffx.points`, picks the engine, wraps
results in an :class:`Estimate` and shapes them: ``gradient`` is the one-row Jacobian of a
scalar function.

=============  =========  ====================================================================
method         family     how
=============  =========  ====================================================================
symbolic       symbolic   SymPy diff, lambdify(cse=True), cached per function
forward        numeric    forward difference, h = √ε·max(|x|,1), checked against f (accuracy=)
backward       numeric    backward difference, the same
central        numeric    central difference, h = ∛ε·max(|x|,1), one-sided near a domain edge
richardson     numeric    central differences at h, h/2, … extrapolated (Neville tableau)
complex-step   numeric    Im f(x + ih)/h, h = 1e-100 (analytic functions only)
dual           automatic  forward mode with diffx's Dual numbers (chunked tangents for
                          gradients; Taylor jets for higher orders)
tape           automatic  TensorFlow GradientTape (reverse mode; nested tapes for Hessians;
                          mode="graph" compiles with tf.function)
tape-forward   automatic  TensorFlow ForwardAccumulator (forward mode; forward-over-reverse)
reverse        automatic  diffx's own reverse mode over a recorded trace (forward-over-reverse
                          with dual numbers for higher orders and Hessians)
=============  =========  ====================================================================
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from diffx.engines import dual, dual_speed, numeric, reverse, symbolic, tape
from diffx.engines.estimate import Estimate
from diffx.errors import (
    DiffxError,
    DomainError,
    DomainWarning,
    NonDifferentiableWarning,
    UnsupportedError,
)
from diffx.functions import Function, as_function, unsupported_on_failure
from diffx.points import all_finite, check_from_value, check_point, value_decides

__all__ = [
    "DESCRIPTIONS",
    "FAMILIES",
    "METHODS",
    "Estimate",
    "derivative",
    "family_of",
    "gradient",
    "hessian",
    "jacobian",
]

METHODS: tuple[str, ...] = ("symbolic", "forward", "backward", "central", "richardson",
                            "complex-step", "dual", "tape", "tape-forward", "reverse")
FAMILIES: dict[str, str] = {"symbolic": "symbolic", **{m: "numeric" for m in numeric.METHODS},
                            "dual": "automatic", "tape": "automatic",
                            "tape-forward": "automatic", "reverse": "automatic"}
DESCRIPTIONS: dict[str, str] = {
    "symbolic": "SymPy diff, then lambdify with common-subexpression elimination",
    "forward": "forward difference (f(x+h) - f(x))/h, h = sqrt(eps)*max(|x|,1)",
    "backward": "backward difference (f(x) - f(x-h))/h, h = sqrt(eps)*max(|x|,1)",
    "central": "central difference (f(x+h) - f(x-h))/2h, h = cbrt(eps)*max(|x|,1)",
    "richardson": "central differences at h, h/2, h/4, ... with Richardson extrapolation",
    "complex-step": "Im f(x + ih)/h with h = 1e-100: exact first derivatives, analytic f only",
    "dual": "forward-mode AD with diffx's dual numbers",
    "tape": "reverse-mode AD with TensorFlow's GradientTape",
    "tape-forward": "forward-mode AD with TensorFlow's ForwardAccumulator",
    "reverse": "reverse-mode AD: diffx's own sweep over a recorded evaluation trace",
}


def family_of(method: str) -> str:
    return FAMILIES[_check_method(method)]


def _check_method(method: str) -> str:
    if method not in FAMILIES:
        raise DiffxError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return method


def _check_options(method: str, step: float | str | None, dtype: str | None,
                   accuracy: int | None = None) -> str:
    if step is not None:
        if FAMILIES[method] != "numeric":
            raise DiffxError(f"method {method!r} takes no step= (only finite differences do)")
        if step == "adaptive":
            if method not in ("forward", "backward", "central", "complex-step"):
                raise DiffxError(f"step='adaptive' is for forward, backward, central and "
                                 f"complex-step (orders >= 2); {method!r} chooses its own steps")
        elif not (isinstance(step, (int, float)) and math.isfinite(step) and step > 0):
            raise DiffxError(f"step must be a positive finite number or 'adaptive', "
                             f"got {step!r}")
    if accuracy is not None:
        if method not in ("forward", "backward", "central", "complex-step"):
            raise DiffxError(f"accuracy= is for the stencil methods forward, backward, central "
                             f"and complex-step (orders >= 2), not {method!r}")
        numeric.stencil_offsets("forward" if method != "central" else "central", 1, accuracy)
    dtype = dtype or "float64"
    if dtype != "float64" and not method.startswith("tape"):
        raise UnsupportedError(f"method {method!r} computes in float64 only; dtype={dtype!r} "
                               f"is available for 'tape' and 'tape-forward'")
    return dtype


def _point(x: Any) -> np.ndarray:
    try:
        point = np.atleast_1d(np.asarray(x, dtype=float))
    except (TypeError, ValueError):
        raise DiffxError(f"the point must be a real number or a vector of them, got {x!r}") \
            from None
    if point.ndim != 1 or point.size == 0:
        raise DiffxError(f"the point must be a number or a 1-D vector, got shape {point.shape}")
    if not all_finite(point):
        raise DomainError(f"the point {tuple(point)} contains NaN or infinity")
    return point


def _finish(value: Any, method: str, fn: Function, point: np.ndarray,
            reason: str | None = None) -> None:
    """One DomainWarning for a derivative that is not finite, saying why when the point check
    knows (outside the domain, on its edge)."""
    if not all_finite(value):
        reason = reason or ("the point may be outside the domain or where the function is "
                            "not differentiable")
        warnings.warn(DomainWarning(
            f"{method} derivative of {fn.name} at {_where(point)} is not finite: {reason}"),
            stacklevel=3)


def _where(point: np.ndarray) -> str:
    values = [f"{float(v):g}" for v in point[:4]]
    if point.size > 4:
        values[3:] = [f"… ({point.size} coordinates)"]
    return values[0] if len(values) == 1 else f"({', '.join(values)})"


def _run(kind: str, fn: Function, point: np.ndarray, method: str, order: int,
         step: float | str | None, dtype: str,
         accuracy: int | None = None, mode: str | None = None) -> tuple[Estimate, str | None]:
    """Call the engine core for ``kind`` in {"derivative", "jacobian", "hessian"}, applying
    the bad-point policy of :mod:`diffx.points` (returns the estimate and, for a NaN result,
    the reason to give in the warning).
    """
    early = None  # a tape run that returned f's value, which then decides the point
    if method in ("tape", "tape-forward") and value_decides(fn, point):
        with np.errstate(all="ignore"), _running(fn, method):
            f_value, derivative = tape.value_and_derivative(kind, fn, point, method, order,
                                                            dtype, mode)
        early = Estimate(derivative, None, None, None, method)
        check = check_from_value(f_value)
    else:
        check = check_point(fn, point)
    undefined = check.undefined
    # where some outputs of a vector F are undefined, the restrictions found are taken to be
    # theirs (the recording does not say which output an operation feeds): those rows are NaN
    if undefined.all() or ((check.outside or check.edges) and not undefined.any()):
        shape = {"derivative": (), "jacobian": (undefined.size, point.size),
                 "hessian": (point.size, point.size)}[kind]
        reason = ("f is not finite there (outside its domain)" if undefined.all() else
                  "the point is outside the domain: " + "; ".join(check.outside)
                  if check.outside else
                  "the point is on the edge of the domain: " + "; ".join(check.edges))
        return Estimate(np.full(shape, math.nan)[()], None, 1, None, method), reason
    if check.kinks:
        warnings.warn(NonDifferentiableWarning(
            f"{fn.name} may not be differentiable at {_where(point)}: "
            f"{'; '.join(check.kinks)}. {_KINK_VALUES[FAMILIES[method]]}"), stacklevel=3)
    result = early
    if result is None:
        # NaN and inf are reported once, as a DomainWarning
        with np.errstate(all="ignore"), _running(fn, method):
            result = _run_engine(kind, fn, point, method, order, step, dtype, accuracy, mode)
    if undefined.any():  # a vector function with some outputs undefined: those rows are NaN
        value = np.array(result.value, dtype=float).reshape(undefined.size, point.size)
        value[undefined] = math.nan
        result = Estimate(value, result.error, result.evaluations, result.step, method)
        return result, "some outputs are not finite there (outside their domain)"
    return result, None


def _running(fn: Function, method: str) -> Any:
    """Errors from a user's callable under an engine become one UnsupportedError."""
    return unsupported_on_failure(fn, f"run by method {method!r}",
                                  "or use a method that can run it (see diffx.METHODS)")


_KINK_VALUES = {
    "numeric": "The value is the difference quotient across the kink.",
    "symbolic": "The value uses the table's convention abs'(0) = relu'(0) = sign'(0) = 0.",
    "automatic": "The value uses the table's convention abs'(0) = relu'(0) = sign'(0) = 0.",
}


def _run_engine(kind: str, fn: Function, point: np.ndarray, method: str, order: int,
                step: float | str | None, dtype: str, accuracy: int | None = None,
                mode: str | None = None) -> Estimate:
    family = FAMILIES[method]
    if family == "numeric":
        if kind == "derivative":
            return numeric.derivative(fn, point[0], order, method, step, accuracy)
        return getattr(numeric, kind)(fn, point, method, step, accuracy)
    engines: dict[str, Callable[..., Any]] = {
        "symbolic": {"derivative": lambda: symbolic.derivative(fn, point[0], order),
                     "jacobian": lambda: symbolic.jacobian(fn, point),
                     "hessian": lambda: symbolic.hessian(fn, point)},
        "dual": {"derivative": lambda: dual.derivative(fn, point[0], order),
                 "jacobian": lambda: dual.jacobian(fn, point),
                 "hessian": lambda: dual.hessian(fn, point)},
        "reverse": {"derivative": lambda: reverse.derivative(fn, point[0], order),
                    "jacobian": lambda: reverse.jacobian(fn, point),
                    "hessian": lambda: reverse.hessian(fn, point)},
    }
    if method in engines:
        value = engines[method][kind]()
    elif kind == "derivative":
        value = tape.derivative(fn, point[0], order, method, dtype, mode)
    else:
        value = getattr(tape, kind)(fn, point, method, dtype, mode)
    return Estimate(value, None, None, None, method)


def _prepare(f: Any, x: Any, method: str, step: float | str | None, dtype: str | None,
             variables: Sequence[str] | None,
             accuracy: int | None = None,
             mode: str | None = None) -> tuple[Function, np.ndarray, str]:
    _check_method(method)
    if mode is not None and not method.startswith("tape"):
        raise DiffxError(f"mode= (eager or graph) is for 'tape' and 'tape-forward', "
                         f"not {method!r}")
    dtype = _check_options(method, step, dtype, accuracy)
    return as_function(f, variables), _point(x), dtype


def _scalar_valued(fn: Function, point: np.ndarray, what: str) -> None:
    if fn.tree is not None and fn.vector_output:
        raise DiffxError(f"{what} needs a scalar function; {fn.name} is vector-valued "
                         f"(use jacobian)")


def derivative(f: Any, x: float, method: str = "dual", order: int = 1, *,
               step: float | str | None = None, dtype: str | None = None,
               variables: Sequence[str] | None = None, full_output: bool = False,
               accuracy: int | None = None, mode: str | None = None) -> Any:
    """The ``order``-th derivative of a scalar function of one variable at ``x``.

    ``f`` is an expression string, a SymPy expression or a callable; ``method`` one of
    ``diffx.METHODS``. Returns a float, or with ``full_output=True`` an :class:`Estimate`
    (value, error estimate — ``None`` for exact methods — evaluations, step).
    Finite differences: ``step`` is a positive float, None (model step checked against the
    function, see :mod:`diffx.engines.numeric`) or ``"adaptive"`` (also probes larger steps);
    ``accuracy`` is the stencil's order of accuracy (forward/backward 1…8, central 2/4/6/8).

    >>> derivative("3*x**3 + x**2", 10.0)
    920.0
    """
    if isinstance(x, (dual.Dual, dual.Jet)) and method == "dual":  # nested in an outer one
        return dual.derivative(as_function(f, variables), x, order)
    if method == "dual" and not full_output and step is None and dtype is None:
        value = dual_speed.fast_derivative(f, x, order)  # parsed, finite, no edge or kink: 1 pass
        if value is not None:
            return value
    fn, point, dtype = _prepare(f, x, method, step, dtype, variables, accuracy, mode)
    if point.size != 1:
        raise DiffxError(f"derivative needs a single point x, got {point.size} coordinates "
                         f"(use gradient or jacobian)")
    if not isinstance(order, (int, np.integer)) or order < 0:
        raise DiffxError(f"order must be a non-negative integer, got {order!r}")
    _scalar_valued(fn, point, "derivative")
    reason = None
    if order == 0:
        with np.errstate(all="ignore"):
            value = float(fn.numpy_call(point))
        result = Estimate(value, None, 1, None, method)
    else:
        result, reason = _run("derivative", fn, point, method, int(order), step, dtype,
                              accuracy, mode)
        if isinstance(result.value, (dual.Dual, dual.Jet)):  # f closes over an outer one
            return result.value
        result = Estimate(float(result.value), _float_or_none(result.error),
                          result.evaluations, result.step, method)
    _finish(result.value, method, fn, point, reason)
    return result if full_output else result.value


def _float_or_none(error: Any) -> float | None:
    return None if error is None else float(np.max(error))


def jacobian(f: Any, x: Any, method: str = "dual", *, step: float | str | None = None,
             dtype: str | None = None, variables: Sequence[str] | None = None,
             full_output: bool = False, accuracy: int | None = None,
             mode: str | None = None) -> Any:
    """Jacobian of F: Rⁿ → Rᵐ at ``x``, an ndarray of shape (m, n) (m = 1 for scalar f)."""
    fn, point, dtype = _prepare(f, x, method, step, dtype, variables, accuracy, mode)
    result, reason = _run("jacobian", fn, point, method, 1, step, dtype, accuracy, mode)
    value = np.asarray(result.value, dtype=float)
    value = value.reshape(-1, point.size)
    _finish(value, method, fn, point, reason)
    result = Estimate(value, result.error, result.evaluations, result.step, method)
    return result if full_output else result.value


def gradient(f: Any, x: Any, method: str = "dual", *, step: float | str | None = None,
             dtype: str | None = None, variables: Sequence[str] | None = None,
             full_output: bool = False, accuracy: int | None = None,
             mode: str | None = None) -> Any:
    """Gradient of a scalar function at ``x``, an ndarray of shape (n,).

    >>> gradient("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", [0.0, 0.0])
    array([-14., -22.])
    """
    result = jacobian(f, x, method, step=step, dtype=dtype, variables=variables,
                      full_output=True, accuracy=accuracy, mode=mode)
    if result.value.shape[0] != 1:
        raise DiffxError(f"gradient needs a scalar function; this one has "
                         f"{result.value.shape[0]} outputs (use jacobian)")
    error = None if result.error is None else np.asarray(result.error).reshape(-1)
    result = Estimate(result.value[0], error, result.evaluations, result.step, method)
    return result if full_output else result.value


def hessian(f: Any, x: Any, method: str = "dual", *, step: float | str | None = None,
            dtype: str | None = None, variables: Sequence[str] | None = None,
            full_output: bool = False, accuracy: int | None = None,
            mode: str | None = None) -> Any:
    """Hessian of a scalar function at ``x``, an ndarray of shape (n, n)."""
    fn, point, dtype = _prepare(f, x, method, step, dtype, variables, accuracy, mode)
    _scalar_valued(fn, point, "hessian")
    result, reason = _run("hessian", fn, point, method, 2, step, dtype, accuracy, mode)
    value = np.asarray(result.value, dtype=float).reshape(point.size, point.size)
    _finish(value, method, fn, point, reason)
    result = Estimate(value, result.error, result.evaluations, result.step, method)
    return result if full_output else result.value
