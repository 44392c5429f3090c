"""The methods, and ``derivative``/``gradient``/``jacobian``/``hessian`` written once over them.

Each engine module declares its methods as :class:`~diffx.engines.registry.Engine` records —
name, family, description, capabilities and cores (Jacobian (m, n); optionally the k-th
derivative of a scalar function of one variable and the Hessian (n, n)) — and is registered
here, in the order ``diffx.METHODS`` lists them; code outside diffx adds methods with
:func:`register` or the entry-point group ``diffx.methods`` (:mod:`diffx.engines.registry`).
This module validates input against the method's record, applies the bad-point policy of
:mod:`diffx.points`, calls the core, wraps results in an :class:`Estimate` and shapes them:
``gradient`` is the one-row Jacobian of a scalar function. ``diffx methods`` prints the list:

=============  =========  ====================================================================
method         family     how
=============  =========  ====================================================================
symbolic       symbolic   SymPy diff, lambdify(cse=True), cached per function
forward        numeric    forward difference (accuracy= 1…8 points beyond x)
backward       numeric    backward difference, the same
central        numeric    central difference (accuracy= 2/4/6/8), one-sided near a domain edge
richardson     numeric    central differences at h, h/2, … extrapolated (Neville tableau)
complex-step   numeric    Im f(x + ih)/h (analytic functions only)
dual           automatic  forward mode with diffx's Dual numbers (chunked tangents for
                          gradients; Taylor jets for higher orders)
tape           automatic  TensorFlow GradientTape (reverse mode; nested tapes for Hessians;
                          mode="graph" compiles with tf.function)
tape-forward   automatic  TensorFlow ForwardAccumulator (forward mode; forward-over-reverse)
reverse        automatic  diffx's own reverse mode over a recorded trace (forward-over-reverse
                          with dual numbers for higher orders and Hessians)
=============  =========  ====================================================================

How the finite differences choose their steps is described once, in :mod:`diffx.engines.numeric`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from diffx.elementary import TableArithmetic
from diffx.engines import (
    dual,
    dual_arrays,  # noqa: F401 - installs the array rules into dual (dual never imports it)
    dual_speed,  # noqa: F401 - installs the speedups into dual (the same numbers, faster)
    numeric,
    registry,
    reverse,
    symbolic,
    tape,
)
from diffx.engines.estimate import Estimate
from diffx.engines.registry import (
    DESCRIPTIONS,
    FAMILIES,
    METHODS,
    Engine,
    engine,
    family_of,
    methods,
    register,
    unregister,
)
from diffx.errors import (
    DiffxError,
    DomainError,
    DomainWarning,
    NonDifferentiableWarning,
    UnsupportedError,
)
from diffx.functions import Function, ParsedFunction, as_function, unsupported_on_failure
from diffx.points import all_finite, check_from_value, check_point, value_decides

__all__ = [
    "DESCRIPTIONS",
    "FAMILIES",
    "METHODS",
    "Engine",
    "Estimate",
    "derivative",
    "engine",
    "family_of",
    "gradient",
    "hessian",
    "jacobian",
    "methods",
    "register",
    "unregister",
]

# the built-in methods, in the order diffx.METHODS lists them
registry.register_engine(*symbolic.ENGINES, *numeric.ENGINES, *dual.ENGINES, *tape.ENGINES,
                         *reverse.ENGINES)


def _check_options(record: Engine, step: float | str | None, dtype: str | None,
                   accuracy: int | None = None, mode: str | None = None) -> dict[str, Any]:
    """The keyword options for ``record``'s cores, refusing those it does not take."""
    name = record.name
    if step is not None:
        if "step" not in record.options:
            raise DiffxError(f"method {name!r} takes no step= (only finite differences do: "
                             f"{', '.join(methods(option='step'))})")
        if step == "adaptive":
            if not record.adaptive_step:
                raise DiffxError(f"step='adaptive' is for {_listed(_adaptive_methods())} "
                                 f"(orders >= 2); {name!r} chooses its own steps")
        elif not (isinstance(step, (int, float)) and math.isfinite(step) and step > 0):
            raise DiffxError(f"step must be a positive finite number or 'adaptive', "
                             f"got {step!r}")
    if accuracy is not None and "accuracy" not in record.options:
        raise DiffxError(f"accuracy= is for the stencil methods "
                         f"{_listed(methods(option='accuracy'))} (orders >= 2), not {name!r}")
    if mode is not None and not record.modes:  # the method checks the values it takes
        raise DiffxError(f"mode= ({' or '.join(_all_modes())}) is for "
                         f"{_listed(methods(option='mode'), quote=True)}, not {name!r}")
    dtype = dtype or record.default_dtype
    if dtype not in record.dtypes:
        raise UnsupportedError(f"method {name!r} computes in {' or '.join(record.dtypes)} only; "
                               f"dtype={dtype!r} is available for "
                               f"{_listed(methods(dtype=dtype), quote=True) or 'no method'}")
    given = {"step": step, "accuracy": accuracy, "dtype": dtype, "mode": mode}
    options = {key: value for key, value in given.items() if key in record.options}
    if record.check_options is not None:
        record.check_options(**options)
    return options


def _adaptive_methods() -> tuple[str, ...]:
    return tuple(m for m in methods(option="step") if engine(m).adaptive_step)


def _all_modes() -> list[str]:
    return list(dict.fromkeys(mode for m in methods() for mode in engine(m).modes))


def _listed(names: Sequence[str], quote: bool = False) -> str:
    names = [repr(n) if quote else n for n in names]
    if not names:
        return ""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


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


def _run(kind: str, fn: Function, point: np.ndarray, record: Engine, order: int,
         options: dict[str, Any]) -> tuple[Estimate, str | None]:
    """Call ``record``'s core for ``kind`` in {"derivative", "jacobian", "hessian"}, applying
    the bad-point policy of :mod:`diffx.points` (returns the estimate and, for a NaN result,
    the reason to give in the warning).
    """
    method = record.name
    core = _core(record, kind, order)  # refuses what the method does not supply, before work
    early = None  # a run that returned f's value, which then decides the point
    if record.value_and_derivative is not None and value_decides(fn, point):
        with np.errstate(all="ignore"), _running(fn, method):
            f_value, derivative = record.value_and_derivative(kind, fn, point, order=order,
                                                              **options)
        early = _as_estimate(derivative, method)
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
            f"{'; '.join(check.kinks)}. {_KINK_VALUES[record.family]}"), stacklevel=3)
    result = early
    if result is None:
        # NaN and inf are reported once, as a DomainWarning
        with np.errstate(all="ignore"), _running(fn, method):
            value = core(fn, point[0], order, **options) if kind == "derivative" \
                else core(fn, point, **options)
        result = _as_estimate(value, method)
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


def _core(record: Engine, kind: str, order: int) -> Callable[..., Any]:
    """The core that computes ``kind``; order 1 of a method without a derivative core comes
    from its Jacobian. UnsupportedError names what the method does not supply."""
    core = record.core(kind)
    if core is not None:
        return core
    if kind == "derivative" and order == 1:
        return lambda fn, x, order, **options: np.reshape(
            _value(record.jacobian(fn, np.array([x]), **options)), (-1,))[0]
    what = {"derivative": f"derivatives of order {order}", "hessian": "Hessians"}[kind]
    able = [m for m in methods() if engine(m).core(kind) is not None]
    raise UnsupportedError(f"method {record.name!r} computes no {what} (it supplies no "
                           f"{kind} core); use one of {', '.join(able)}")


def _value(result: Any) -> Any:
    return result.value if isinstance(result, Estimate) else result


def _as_estimate(result: Any, method: str) -> Estimate:
    if isinstance(result, Estimate):
        return Estimate(result.value, result.error, result.evaluations, result.step, method)
    return Estimate(result, None, None, None, method)


def _prepare(f: Any, x: Any, method: str, step: float | str | None, dtype: str | None,
             variables: Sequence[str] | None, accuracy: int | None = None,
             mode: str | None = None) -> tuple[Function, np.ndarray, Engine, dict[str, Any]]:
    record = engine(method)
    options = _check_options(record, step, dtype, accuracy, mode)
    return as_function(f, variables), _point(x), record, options


def _scalar_valued(fn: Function, point: np.ndarray, what: str) -> None:
    if isinstance(fn, ParsedFunction) and fn.vector_output:
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
    record = engine(method)
    if record.shortcut is not None and step is dtype is accuracy is mode is None:
        value = record.shortcut(f, x, order, variables, full_output)
        if value is not None:
            return value
    fn, point, record, options = _prepare(f, x, method, step, dtype, variables, accuracy,
                                          mode)
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
        result, reason = _run("derivative", fn, point, record, int(order), options)
        if isinstance(result.value, TableArithmetic):  # f closes over an outer derivative's
            return result.value                        # numbers: that one's value
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
    """Jacobian of F: Rⁿ → Rᵐ at ``x`` (shape (n,)), an ndarray of shape (m, n).

    ``f`` is a string, SymPy expression or callable of n variables with m outputs (m = 1 for a
    scalar f: the gradient as one row). Options and ``full_output`` as in :func:`derivative`
    (with ``full_output`` the error estimate has shape (m, n)).

    >>> jacobian("[x*y, x + y**2]", [2.0, 3.0])
    array([[3., 2.],
           [1., 6.]])
    >>> jacobian(lambda v: np.array([v[0] * v[1], v[0] + v[1]]), [2.0, 3.0], method="reverse")
    array([[3., 2.],
           [1., 1.]])
    """
    fn, point, record, options = _prepare(f, x, method, step, dtype, variables, accuracy,
                                          mode)
    result, reason = _run("jacobian", fn, point, record, 1, options)
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
    """Hessian of a scalar function at ``x`` (shape (n,)), an ndarray of shape (n, n).

    Options and ``full_output`` as in :func:`derivative`. Exact engines compute it by nesting
    (dual: jets or forward-over-forward; reverse and tape-forward: forward-over-reverse; tape:
    nested tapes); finite differences by second-difference stencils (see
    :mod:`diffx.engines.numeric`).

    >>> hessian("x**2*y + y**3", [1.0, 2.0])
    array([[ 4.,  2.],
           [ 2., 12.]])
    >>> np.round(hessian("x**2*y + y**3", [1.0, 2.0], method="central"), 6)
    array([[ 4.,  2.],
           [ 2., 12.]])
    """
    fn, point, record, options = _prepare(f, x, method, step, dtype, variables, accuracy,
                                          mode)
    _scalar_valued(fn, point, "hessian")
    result, reason = _run("hessian", fn, point, record, 2, options)
    value = np.asarray(result.value, dtype=float).reshape(point.size, point.size)
    _finish(value, method, fn, point, reason)
    result = Estimate(value, result.error, result.evaluations, result.step, method)
    return result if full_output else result.value
