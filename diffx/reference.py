"""High-precision reference derivatives: the truth every error in diffx is measured against.

The derivative is formed symbolically from the function's SymPy form and evaluated by SymPy's
``evalf`` at ``digits`` significant digits with the point substituted *exactly* (a float is a
dyadic rational), so the reference is the exact derivative of the function at exactly the float
the engines see. ``evalf`` raises its working precision until the result has the digits asked
for, so cancellation inside the derivative formula does not cost accuracy.

A callable that cannot be traced with SymPy symbols is differentiated by ``mpmath.diff`` on the
callable evaluated with mpmath numbers at ``digits + 30`` working digits (mpmath's own
extrapolated finite differences; accurate to about ``digits`` for analytic functions).

    >>> float(reference_derivative("sin(x)*exp(x)", 1.3)) == float(
    ...     __import__("mpmath").diff(lambda t: __import__("mpmath").sin(t)
    ...                               * __import__("mpmath").exp(t), 1.3))
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mpmath
import numpy as np
import sympy

from diffx.engines import symbolic
from diffx.errors import DomainError, UnsupportedError
from diffx.functions import Function, as_function, unsupported_on_failure, written_size
from diffx.object_arrays import ObjectArray, flat_outputs
from diffx.points import check_point

__all__ = [
    "DIGITS",
    "reference_derivative",
    "reference_gradient",
    "reference_hessian",
    "reference_jacobian",
    "reference_method",
    "reference_value",
    "to_float",
]

DIGITS = 50


def _exact(x: float) -> sympy.Rational:
    return sympy.Rational(float(x))  # exact: every float is a dyadic rational


LARGE_EXPRESSION_OPS = 300  # beyond this, evaluate the shared subexpressions once (below)


def _shared_evaluation(expr: sympy.Expr, symbols: Sequence[sympy.Symbol],
                       point: np.ndarray, digits: int) -> mpmath.mpf | None:
    """A large expression evaluated in mpmath with its repeated subexpressions computed once
    (lambdify with cse): numpy code traced to SymPy repeats subexpressions many times (a max
    inside every term of a softmax), and evalf walks each repetition, taking minutes where
    this takes milliseconds. The precision is raised until two evaluations (at p and about
    2p working digits) agree to ``digits``, as evalf's own precision loop does. None when the
    value is not a finite real (evalf then says why) or mpmath cannot evaluate a function."""
    try:
        compiled = sympy.lambdify(symbols, expr, modules="mpmath", cse=True)
        args = [mpmath.mpf(float(v)) for v in point]  # exact: a float is a dyadic rational
        working = digits + 20
        previous = None
        while working <= 16 * digits:
            with mpmath.workdps(working):
                value = compiled(*args)
            if isinstance(value, mpmath.mpc):
                if abs(value.imag) > abs(value.real) * mpmath.mpf(10) ** -digits:
                    return None
                value = value.real
            if not isinstance(value, mpmath.mpf) or not mpmath.isfinite(value):
                return None
            if previous is not None and abs(value - previous) <= abs(value) * mpmath.mpf(
                    10) ** -(digits + 2):
                with mpmath.workdps(digits + 10):
                    return +value
            previous, working = value, 2 * working
    except (TypeError, ValueError, ZeroDivisionError, NameError, AttributeError):
        return None
    return None


def _evaluate(expr: sympy.Expr, symbols: Sequence[sympy.Symbol], point: np.ndarray,
              digits: int, what: str = "the derivative") -> mpmath.mpf:
    if written_size([expr]) > LARGE_EXPRESSION_OPS:
        value = _shared_evaluation(expr, symbols, point, digits)
        if value is not None:
            return value
    subs = {s: _exact(v) for s, v in zip(symbols, point)}
    try:
        value = expr.evalf(n=digits, subs=subs, maxn=10 * digits)
        if not value.is_Number:
            value = sympy.N(expr.subs(subs), digits)
    except (TypeError, ValueError, ZeroDivisionError):  # evalf meets zoo: sin(1/0)
        raise DomainError(f"{what} {expr} cannot be evaluated at "
                          f"{tuple(float(v) for v in point)} (a singularity)") from None
    where = tuple(float(v) for v in point)
    value = _real_part_if_rounding(value, digits)
    if value.is_finite is False or value.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        raise DomainError(f"{what} {expr} is not finite at {where}")
    if not (value.is_Number and value.is_real):
        raise DomainError(f"{what} {expr} is not real at {where} (outside the real domain)")
    with mpmath.workdps(digits + 10):
        return mpmath.mpf(value._to_mpmath(mpmath.mp.prec))


def _real_part_if_rounding(value: sympy.Expr, digits: int) -> sympy.Expr:
    """A real value that evalf returned with an imaginary part at rounding level (SymPy's
    codegen log2 of a real argument comes out as 0.1468… + 1.3e-187·i at 50 digits): its real
    part. A genuinely complex value (log of a negative number: ±π·i) is kept as it is."""
    if value.is_Number or not value.is_finite:
        return value
    real, imaginary = value.as_real_imag()
    if real.is_Number and imaginary.is_Number and imaginary != 0 \
            and abs(imaginary) <= abs(real) * sympy.Float(10) ** -digits:
        return real
    return value


def _sympy_forms(fn: Function, n: int) -> list[sympy.Expr] | None:
    try:
        return fn.sympy_form(n)
    except UnsupportedError:
        return None


def reference_method(f: Any, n: int) -> str:
    """How the reference of ``f`` (of ``n`` variables) is computed, in a few words: by SymPy's
    ``diff`` of its exact form, or — for a callable SymPy cannot trace (it branches on values,
    its output's shape depends on them) — by ``mpmath.diff`` of f evaluated in mpmath, with the
    reason.

    >>> reference_method("sin(x)", 1)
    'SymPy diff'
    >>> reference_method(lambda v: v[0] if v[0] > 0 else -v[0], 1)[:28]
    'mpmath.diff of f in mpmath ('
    """
    fn = as_function(f)
    try:
        fn.sympy_form(n)
        return "SymPy diff"
    except UnsupportedError as refusal:
        reason = str(refusal).split(": ", 1)[-1].split(";")[0]
        return f"mpmath.diff of f in mpmath (no SymPy form: {reason})"


def _mpmath_derivative(fn: Function, point: np.ndarray, orders: Sequence[int],
                       output: int, digits: int) -> mpmath.mpf:
    """∂^orders f_output at point, by mpmath.diff on the callable evaluated in mpmath."""
    with mpmath.workdps(digits + 30):
        def component(*args):
            return flat_outputs(fn.on_vector(ObjectArray(np.array(args, dtype=object)),
                                             len(args)))[output]

        args = [mpmath.mpf(float(v)) for v in point]
        with unsupported_on_failure(fn, "evaluated with mpmath numbers for the reference",
                                    "or numpy ufuncs"):
            value = mpmath.diff(component, args if len(args) > 1 else args[0],
                                tuple(orders) if len(orders) > 1 else orders[0])
        if isinstance(value, mpmath.mpc):
            raise DomainError(f"{fn.name} is not real near {tuple(point)}")
        return +value


def _check_differentiable(fn: Function, point: np.ndarray, output: int) -> None:
    """The bad-point policy of :mod:`diffx.points`, which reads f as written: SymPy may have
    simplified a restriction away (sqrt(x)**2 becomes x, defined everywhere)."""
    check = check_point(fn, point)
    where = tuple(float(v) for v in point)
    if check.undefined[min(output, check.undefined.size - 1)]:
        raise DomainError(f"{fn.name} is not finite at {where} (outside its domain)")
    if check.outside:
        raise DomainError(f"{fn.name} is not defined at {where}: {'; '.join(check.outside)}")
    if check.edges:
        raise DomainError(f"{fn.name} is not differentiable at {where}, on the edge of its "
                          f"domain: {'; '.join(check.edges)}")


@symbolic.sympy_recursion()
def _partial(fn: Function, point: np.ndarray, orders: Sequence[int], output: int = 0,
             digits: int = DIGITS) -> mpmath.mpf:
    n = point.size
    if any(orders):
        _check_differentiable(fn, point, output)
    forms = _sympy_forms(fn, n)
    if forms is None:
        return _mpmath_derivative(fn, point, orders, output, digits)
    symbols = fn.symbols(n)
    expr = forms[output]
    if any(orders):  # a derivative exists only where the function itself is defined
        _evaluate(expr, symbols, point, 15, what="the function")
    for symbol, order in zip(symbols, orders):
        if order:
            expr = symbolic.diff(expr, symbol, order)
    return _evaluate(expr, symbols, point, digits)


def _point(x: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(x, dtype=float))


def reference_value(f: Any, x: Any, digits: int = DIGITS) -> mpmath.mpf:
    """f(x) at ``digits`` significant digits (scalar functions)."""
    point = _point(x)
    return _partial(as_function(f), point, [0] * point.size, digits=digits)


def reference_derivative(f: Any, x: float, order: int = 1, digits: int = DIGITS) -> mpmath.mpf:
    """The ``order``-th derivative of a scalar function of one variable, as an mpmath number."""
    return _partial(as_function(f), _point(x), [order], digits=digits)


def reference_jacobian(f: Any, x: Any, digits: int = DIGITS) -> np.ndarray:
    """Jacobian (m, n) as an object array of mpmath numbers."""
    fn = as_function(f)
    point = _point(x)
    n = point.size
    forms = _sympy_forms(fn, n)
    m = len(forms) if forms is not None else np.size(fn.numpy_call(point))
    J = np.empty((m, n), dtype=object)
    for i in range(m):
        for j in range(n):
            J[i, j] = _partial(fn, point, np.eye(n, dtype=int)[j], i, digits)
    return J


def reference_gradient(f: Any, x: Any, digits: int = DIGITS) -> np.ndarray:
    """Gradient (n,) of a scalar function as an object array of mpmath numbers."""
    return reference_jacobian(f, x, digits)[0]


def reference_hessian(f: Any, x: Any, digits: int = DIGITS) -> np.ndarray:
    """Hessian (n, n) of a scalar function as an object array of mpmath numbers."""
    fn = as_function(f)
    point = _point(x)
    n = point.size
    H = np.empty((n, n), dtype=object)
    for i in range(n):
        for j in range(i, n):
            orders = np.zeros(n, dtype=int)
            orders[i] += 1
            orders[j] += 1
            H[i, j] = H[j, i] = _partial(fn, point, orders, 0, digits)
    return H


def to_float(reference: Any) -> Any:
    """Round a reference (mpmath number or object array of them) to float64."""
    if isinstance(reference, np.ndarray):
        return np.array([float(v) for v in reference.ravel()]).reshape(reference.shape)
    return float(reference)
