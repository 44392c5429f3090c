"""THE table of elementary functions: one row per operation, read by every part of diffx.

Each :class:`Elementary` row holds an operation's numpy, mpmath, SymPy and TensorFlow forms, its
local partial derivatives and its real domain. The parser's whitelist is the table's names, the
symbolic engine builds SymPy expressions from the ``sympy`` forms, the TensorFlow engine runs the
``tf`` forms, the reference runs the ``mpmath`` forms, and the dual engine (and the trace / reverse
engine) apply the ``partials`` rules. A derivative rule is written here once and nowhere else.

Rows are callable and dispatch on the type of their arguments, so ``diffx.sin(x)`` works for a
float or ndarray (numpy), a :class:`~diffx.engines.dual.Dual`, a ``tf.Tensor``/``tf.Variable``, a
SymPy expression and an mpmath number::

    >>> import diffx
    >>> float(diffx.sin(0.5)) == float(__import__("numpy").sin(0.5))
    True
    >>> diffx.sin(__import__("sympy").Symbol("x"))
    sin(x)

The ``partials`` are written with these same dispatching rows, which is what lets a rule run on
floats, on duals nested inside duals (higher derivatives) and on SymPy symbols (trace views).
"""

from __future__ import annotations

import contextvars
import functools
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np
import sympy

from diffx.errors import UnsupportedError

__all__ = [
    "ALIASES",
    "CONSTANTS",
    "ELEMENTARY",
    "FUNCTIONS",
    "NUMPY_ONLY",
    "OPERATORS",
    "ROW_OF_UFUNC",
    "Boxed",
    "Constant",
    "Domain",
    "Elementary",
    "Interval",
    "TableArithmetic",
    "backend_of",
    "box",
    "lookup",
    "primal",
    "register_type",
    "row_for_ufunc",
    "row_of_sympy",
    "sympy_numpy_names",
    "unbox",
]

INF = math.inf


# --------------------------------------------------------------------------------------------
# Domains
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """A real interval; ``lower_closed``/``upper_closed`` say whether the ends belong to it."""

    lower: float = -INF
    upper: float = INF
    lower_closed: bool = False
    upper_closed: bool = False

    def __contains__(self, x: float) -> bool:
        above = x > self.lower or (self.lower_closed and x == self.lower)
        below = x < self.upper or (self.upper_closed and x == self.upper)
        return bool(above and below)

    def __str__(self) -> str:
        left = "[" if self.lower_closed else "("
        right = "]" if self.upper_closed else ")"
        return f"{left}{self.lower:g}, {self.upper:g}{right}"


REALS = Interval()


@dataclass(frozen=True)
class Domain:
    """Where a unary operation is defined (``values``) and differentiable (``derivative``).

    ``kinks`` are isolated points inside ``values`` where the derivative does not exist
    (abs and relu at 0). ``poles`` are isolated points where the operation blows up, given as
    a function of the argument whose sign changes exactly there (tan: cos, which changes sign
    at pi/2 + k*pi; 1/x: x itself); finite differences keep their stencils on one side of
    them and measure the distance to them (:mod:`diffx.points`). Binary operators carry
    ``REALS`` here; their restrictions (division by zero, powers of negative numbers) depend on
    both arguments and are checked where used.

    >>> Domain(kinks=(0.0,)).sign_change(-2.0), float(Domain(poles=cos).sign_change(0.0))
    (-2.0, 1.0)
    """

    values: Interval = REALS
    derivative: Interval = REALS
    kinks: tuple[float, ...] = ()
    poles: Callable[[Any], Any] | None = None

    def defined_at(self, x: float) -> bool:
        return x in self.values and (self.poles is None or self.poles(x) != 0)

    def differentiable_at(self, x: float) -> bool:
        return self.defined_at(x) and x in self.derivative and x not in self.kinks

    @property
    def singular(self) -> bool:
        """Has the operation a kink or a pole (a sign change of :meth:`sign_change`)?"""
        return bool(self.kinks) or self.poles is not None

    def sign_change(self, x: Any) -> Any:
        """A function of the argument (floats or arrays) whose sign changes exactly at the
        kinks and poles: the product of ``x - kink`` and ``poles(x)``."""
        out = self.poles(x) if self.poles is not None else 1.0
        for kink in self.kinks:
            out = out * (x - kink) if kink else out * x
        return out

    @property
    def edges(self) -> tuple[float, ...]:
        """The finite ends of the derivative's domain (log and sqrt: 0; arcsin: -1 and 1)."""
        return tuple(end for end in (self.derivative.lower, self.derivative.upper)
                     if math.isfinite(end))


# --------------------------------------------------------------------------------------------
# Dispatch on argument type
# --------------------------------------------------------------------------------------------
# Types that carry their own arithmetic (Dual numbers, trace nodes) register a handler here:
# handler(row, args) -> result. They take precedence over every plain backend.
_REGISTERED: dict[type, Callable[[Elementary, tuple], Any]] = {}
_PRIORITY = {"numpy": 0, "mpmath": 1, "sympy": 2, "tf": 3, "registered": 4}


def register_type(cls: type, handler: Callable[[Elementary, tuple], Any]) -> None:
    """Make every table row call ``handler(row, args)`` when an argument is a ``cls``."""
    _REGISTERED[cls] = handler
    backend_of_type.cache_clear()


@functools.lru_cache(maxsize=256)
def backend_of_type(cls: type) -> str:
    """Which form of a row applies to an argument of type ``cls``."""
    if any(issubclass(cls, registered) for registered in _REGISTERED):
        return "registered"
    module = cls.__module__ or ""
    if module.startswith(("tensorflow", "keras", "tf_keras")):
        return "tf"
    if issubclass(cls, sympy.Basic):
        return "sympy"
    if issubclass(cls, (mpmath.mpf, mpmath.mpc)):
        return "mpmath"
    return "numpy"


def backend_of(*args: Any) -> str:
    """The backend that must evaluate an operation on ``args`` (the highest-priority one)."""
    best = "numpy"
    for arg in args:
        kind = backend_of_type(type(arg))
        if kind == "numpy" and isinstance(arg, np.ndarray) and arg.dtype == object:
            kind = "object"
        if kind == "object" or _PRIORITY[kind] > _PRIORITY.get(best, 0):
            best = kind
    return best


def _handler_for(args: tuple) -> Callable[[Elementary, tuple], Any]:
    """The handler of the first argument of a registered type: its own type's if that is
    registered (a registered subclass, such as dual_speed's probe, has its own), else a base's."""
    for arg in args:
        handler = _REGISTERED.get(type(arg))
        if handler is not None:
            return handler
        for cls, handler in _REGISTERED.items():
            if isinstance(arg, cls):
                return handler
    raise AssertionError("no registered handler")  # pragma: no cover - backend_of said there is one


def _tf_module():
    import tensorflow as tf  # lazy: TensorFlow is imported only when a tensor is actually used

    return tf


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Elementary:
    """One elementary operation: its forms in every backend, its partials and its domain.

    ``partials[i](*args, out)`` is ∂out/∂args[i], written with dispatching rows so the same
    rule runs on floats, arrays, duals, nested duals and SymPy symbols. ``out`` is the
    operation's value, which rules may reuse (tanh' = 1 - out²). ``analytic`` is False for
    operations that are not complex-analytic (abs, relu, sign): complex-step refuses them.
    ``ufuncs`` are numpy ufuncs besides ``numpy`` itself that stand for the row (np.fabs for
    abs): a value that meets one is routed to the row (:data:`ROW_OF_UFUNC`).
    ``sympy_uses_partials`` says that SymPy's own derivative of the ``sympy`` form breaks the
    table's kink convention (SymPy: sign' = 2·δ(x), Heaviside' = δ(x), Max(0, x)' = H(x) with
    H(0) = 1/2), so the symbolic engine differentiates the row with ``partials`` instead.
    """

    name: str
    arity: int
    numpy: Callable
    mpmath: Callable
    sympy: Callable
    tf: Callable  # tf -> the TensorFlow function (receives the lazily imported module)
    partials: tuple[Callable, ...]
    domain: Domain = field(default_factory=Domain)
    analytic: bool = True
    symbol: str | None = None  # infix spelling of operators: "+", "-", "*", "/", "**"
    doc: str = ""
    ufuncs: tuple[np.ufunc, ...] = ()
    sympy_uses_partials: bool = False

    def __call__(self, *args: Any) -> Any:
        if len(args) != self.arity:
            raise TypeError(f"{self.name}() takes {self.arity} argument(s), got {len(args)}")
        backend = backend_of(*args)
        if backend == "registered":
            return _handler_for(args)(self, args)
        if backend == "object":
            return self._elementwise(args)
        if backend == "numpy":
            if not self.analytic and any(np.iscomplexobj(a) for a in args):
                raise UnsupportedError(
                    f"{self.name} is not complex-analytic, so complex-step differentiation "
                    f"cannot pass through it; use method='central' or an automatic method"
                )
            return self.numpy(*args)
        if backend == "tf":
            return self.tf(_tf_module())(*args)
        return getattr(self, backend)(*args)

    def _elementwise(self, args: tuple) -> np.ndarray:
        """Apply the row element by element to object arrays (arrays of SymPy or mpmath numbers)."""
        arrays = np.broadcast_arrays(*[np.asarray(a, dtype=object) for a in args])
        out = np.empty(arrays[0].shape, dtype=object)
        for index in np.ndindex(out.shape):
            out[index] = self(*(a[index] for a in arrays))
        return out

    def __repr__(self) -> str:
        return f"<diffx elementary {self.name}>"


@dataclass(frozen=True)
class Constant:
    """A named mathematical constant with its value in every backend."""

    name: str
    float_value: float
    mpmath_value: Callable[[], Any]
    sympy_value: Any

    def value_for(self, backend: str) -> Any:
        if backend == "sympy":
            return self.sympy_value
        if backend == "mpmath":
            return self.mpmath_value()
        return self.float_value


# --------------------------------------------------------------------------------------------
# numpy forms that need more than one ufunc (stable for large |x|, and complex-capable where
# the mathematics is analytic, so complex-step works through them)
# --------------------------------------------------------------------------------------------
def _np_sigmoid(x):
    if np.iscomplexobj(x):
        return 1.0 / (1.0 + np.exp(-x))
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))  # never overflows
    out = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return out[()] if out.ndim == 0 else out


def _np_softplus(x):
    if np.iscomplexobj(x):
        return np.log1p(np.exp(x))
    return np.logaddexp(0.0, x)


def _np_relu(x):
    return np.maximum(x, 0.0)


def _np_heaviside(x):
    return np.heaviside(x, 0.0)


def _np_power(a, b):
    # float_power computes in float64/complex128, so int arguments never overflow or truncate
    return np.float_power(a, b)


def _mp_relu(x):
    return x if x > 0 else mpmath.mpf(0)


def _mp_heaviside(x):
    return mpmath.mpf(1) if x > 0 else mpmath.mpf(0)


def _tf_heaviside(tf):
    return lambda x: tf.cast(x > 0, x.dtype)


def _sympy_relu(x):
    return sympy.Max(0, x)


def _with_complex_form(ufunc: np.ufunc, complex_form: Callable) -> Callable:
    """numpy's ``ufunc`` for real arguments (its accurate value), ``complex_form`` (the
    analytic continuation) for complex ones, which numpy's hypot, logaddexp, deg2rad and
    rad2deg refuse and complex-step needs."""
    def form(*args):
        if any(np.iscomplexobj(a) for a in args):
            return complex_form(*args)
        return ufunc(*args)

    form.__name__ = form.__qualname__ = f"_np_{ufunc.__name__}"
    return form


def _complex_logaddexp(a, b):
    a, b = np.broadcast_arrays(np.asarray(a, dtype=complex), np.asarray(b, dtype=complex))
    first = np.real(a) >= np.real(b)  # exp of the smaller minus the larger never overflows
    high, low = np.where(first, a, b), np.where(first, b, a)
    out = high + np.log1p(np.exp(low - high))
    return out[()] if out.ndim == 0 else out


_np_hypot = _with_complex_form(np.hypot, lambda a, b: np.sqrt(a * a + b * b))
_np_logaddexp = _with_complex_form(np.logaddexp, _complex_logaddexp)
_np_deg2rad = _with_complex_form(np.deg2rad, lambda x: x * (math.pi / 180.0))  # numpy's factor
_np_rad2deg = _with_complex_form(np.rad2deg, lambda x: x * (180.0 / math.pi))


def _complex_cbrt(x):
    """The real cube root continued analytically: x**(1/3) right of 0, -(-x)**(1/3) left."""
    x = np.asarray(x, dtype=complex)
    out = np.where(np.real(x) < 0, -((-x) ** (1.0 / 3.0)), x ** (1.0 / 3.0))
    return out[()] if out.ndim == 0 else out


def _complex_arctan2(y, x):
    """atan2(y, x) continued analytically: arctan(y/x) plus the quadrant's multiple of π
    (constant near a real point) where |x| ≥ |y|, and ±π/2 - arctan(x/y) elsewhere, so
    complex-step sees arctan's accurate imaginary part and never divides by a zero."""
    y, x = np.broadcast_arrays(np.asarray(y, dtype=complex), np.asarray(x, dtype=complex))
    ry, rx = np.real(y), np.real(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        near_x = np.abs(rx) >= np.abs(ry)
        quadrant = np.where(rx < 0, np.where(ry < 0, -math.pi, math.pi), 0.0)
        out = np.where(near_x, np.arctan(y / x) + quadrant,
                       np.where(ry < 0, -math.pi / 2, math.pi / 2) - np.arctan(x / y))
    return out[()] if out.ndim == 0 else out


_np_cbrt = _with_complex_form(np.cbrt, _complex_cbrt)
_np_arctan2 = _with_complex_form(np.arctan2, _complex_arctan2)
_LN2 = math.log(2.0)
_np_logaddexp2 = _with_complex_form(
    np.logaddexp2, lambda a, b: _complex_logaddexp(a * _LN2, b * _LN2) / _LN2)


def _mp_cbrt(x):
    return mpmath.sign(x) * mpmath.cbrt(mpmath.fabs(x))  # mpmath's cbrt(-8) is complex


def _mp_remainder(a, b):
    return a - b * mpmath.floor(a / b)  # numpy's remainder: the sign of b


def _mp_fmod(a, b):
    q = a / b  # C's fmod: the sign of a (the quotient truncated toward 0)
    return a - b * (mpmath.floor(q) if q >= 0 else mpmath.ceil(q))


def _mp_copysign(a, b):
    return mpmath.fabs(a) if b >= 0 else -mpmath.fabs(a)


def _mp_heaviside_at(x, h0):
    return mpmath.mpf(1) if x > 0 else (mpmath.mpf(h0) if x == 0 else mpmath.mpf(0))


def _mp_maximum(a, b):
    return a if a >= b else b


def _mp_minimum(a, b):
    return a if a <= b else b


def _sympy_fmod(a, b):
    return sympy.sign(a) * sympy.Mod(sympy.Abs(a), sympy.Abs(b))  # SymPy has no fmod


def _sympy_copysign(a, b):
    return sympy.Piecewise((sympy.Abs(a), b >= 0), (-sympy.Abs(a), True))


def _sympy_maximum(a, b):
    """max(a, b) with the tie's own branch, whose SymPy derivative is ½: not Max(a, b),
    which SymPy writes Max(0, x) for b = 0, relu's form (relu'(0) = 0 by the table)."""
    return sympy.Piecewise((a, a > b), (b, a < b), ((a + b) / 2, True))


def _sympy_minimum(a, b):
    return sympy.Piecewise((a, a < b), (b, a > b), ((a + b) / 2, True))


def _sympy_real_cbrt(x):
    return sympy.real_root(x, 3)


def _tf_extremum(largest: bool) -> Callable:
    """TensorFlow's maximum / minimum for the value, differentiated as (a + b ± |a - b|)/2
    (``stop_gradient(y) + (g - stop_gradient(g))``): tf.abs' = sign with sign(0) = 0, so at a
    tie each argument gets ½, the table's convention (tf.maximum's own gradient picks one)."""
    def form(tf: Any) -> Callable:
        def extremum(a, b):
            a, b = (tf.convert_to_tensor(v, dtype=_tf_dtype(a, b)) for v in (a, b))
            y = tf.maximum(a, b) if largest else tf.minimum(a, b)
            g = (a + b + tf.abs(a - b)) / 2 if largest else (a + b - tf.abs(a - b)) / 2
            return tf.stop_gradient(y) + (g - tf.stop_gradient(g))

        return extremum

    return form


def _tf_copysign(tf: Any) -> Callable:
    """|a| with the sign of b, -0.0 counting as negative (1/-0.0 = -inf), as numpy's."""
    def copysign(a, b):
        a, b = (tf.convert_to_tensor(v, dtype=_tf_dtype(a, b)) for v in (a, b))
        negative = tf.logical_or(b < 0, tf.logical_and(tf.equal(b, 0), 1.0 / b < 0))
        return tf.where(negative, -tf.abs(a), tf.abs(a))

    return copysign


def _tf_heaviside_at(tf: Any) -> Callable:
    def heaviside_at(x, h0):
        x, h0 = (tf.convert_to_tensor(v, dtype=_tf_dtype(x, h0)) for v in (x, h0))
        one, zero = tf.ones_like(x), tf.zeros_like(x)
        return tf.where(x > 0, one, tf.where(tf.equal(x, 0), h0 + zero, zero))

    return heaviside_at


def _tf_fmod(tf: Any) -> Callable:
    """tf.truncatemod for the value (TensorFlow has no gradient for it), differentiated as
    a - b·k with the quotient k = trunc(a/b) = (a - out)/b held constant."""
    def fmod(a, b):
        a, b = (tf.convert_to_tensor(v, dtype=_tf_dtype(a, b)) for v in (a, b))
        y = tf.truncatemod(tf.stop_gradient(a), tf.stop_gradient(b))  # watched by no tape
        g = a - b * tf.round((tf.stop_gradient(a) - y) / tf.stop_gradient(b))
        return y + (g - tf.stop_gradient(g))

    return fmod


def _tf_logaddexp2(tf: Any) -> Callable:
    logaddexp = _tf_logaddexp(tf)
    return lambda a, b: logaddexp(a * _LN2, b * _LN2) / _LN2


_MATH_ERF = np.vectorize(math.erf, otypes=[float])  # libm's erf; numpy has no erf ufunc


def _np_erf(x):
    if np.iscomplexobj(x):
        raise UnsupportedError(
            "erf has no accurate complex form here (numpy has none, and mpmath's loses the "
            "tiny imaginary part complex-step needs), so complex-step differentiation cannot "
            "pass through it; use method='central' or an automatic method")
    out = _MATH_ERF(np.asarray(x, dtype=float))
    return out[()] if out.ndim == 0 else out


def _np_reciprocal(x):
    return np.true_divide(1.0, x)  # np.reciprocal of an int is an int (1/2 -> 0)


def _sympy_codegen(name: str) -> Callable:
    """SymPy's function class ``name`` from sympy.codegen (expm1, log1p, exp2, log2, log10,
    hypot, logaddexp: SymPy knows their derivatives, evaluates them at any precision and
    lambdify prints numpy's accurate ufunc), imported at first use, not by ``import diffx``."""
    def form(*args):
        from sympy.codegen import cfunctions, numpy_nodes

        return (getattr(cfunctions, name, None) or getattr(numpy_nodes, name))(*args)

    form.__name__ = form.__qualname__ = f"_sympy_{name}"
    return form


def _tf_logaddexp(tf: Any) -> Callable:
    """log(e^a + e^b): numpy's formula max + log1p(exp(-|a - b|)) for the value, and the
    derivatives of m + log(e^(a-m) + e^(b-m)) with m = max(a, b) held constant, which are
    exact (e^(a-m)/Σ) and smooth at a = b, where abs and max have kinks; written as
    ``stop_gradient(y) + (g - stop_gradient(g))``, so tapes and forward accumulators alike
    differentiate g, at every order."""
    def logaddexp(a, b):
        m = tf.stop_gradient(tf.maximum(a, b))
        y = m + tf.math.log1p(tf.exp(-tf.abs(a - b)))
        g = m + tf.math.log(tf.exp(a - m) + tf.exp(b - m))
        return tf.stop_gradient(y) + (g - tf.stop_gradient(g))

    return logaddexp


def _tf_hypot(tf: Any) -> Callable:
    """sqrt(a² + b²) scaled by m = max(|a|, |b|) (held constant: the derivatives of
    m·sqrt((a/m)² + (b/m)²) are then a/out and b/out, with no kink at |a| = |b|), so that
    neither a² nor b² overflows or underflows, as numpy's hypot."""
    def hypot(a, b):
        a, b = (tf.convert_to_tensor(v, dtype=_tf_dtype(a, b)) for v in (a, b))
        m = tf.stop_gradient(tf.maximum(tf.abs(a), tf.abs(b)))
        m = m + tf.cast(tf.equal(m, 0), m.dtype)  # hypot(0, 0) = 0, not 0/0
        return m * tf.sqrt((a / m) ** 2 + (b / m) ** 2)

    return hypot


def _tf_dtype(*args: Any) -> Any:
    """The dtype of the first tensor among ``args`` (the others may be Python numbers)."""
    return next(a.dtype for a in args if hasattr(a, "dtype"))


def _like(x: Any, value: float) -> Any:
    """``value`` as a number of ``x``'s backend (exact in SymPy, an mpmath number in mpmath),
    so the constants of a rule (log 2 in exp2') are as precise as its argument."""
    backend = backend_of(x)
    if backend == "sympy":
        return sympy.Rational(value)
    return mpmath.mpf(value) if backend == "mpmath" else value


def _pi_like(x: Any) -> Any:
    """π in ``x``'s backend (SymPy's pi, mpmath's at its working precision, else a float)."""
    return CONSTANTS["pi"].value_for(backend_of(x))


def _zero(*_args):
    return 0.0


def _one(*_args):
    return 1.0


# --------------------------------------------------------------------------------------------
# The table. Partials refer to rows by their module-level names (resolved at call time).
# --------------------------------------------------------------------------------------------
@functools.cache
def _tf_with_table_rule(tf: Any, name: str) -> Callable:
    """TensorFlow's ``tf.math.<name>`` with the table's derivative rule instead of TF's own.

    TF differentiates tanh as 1 - y² and sigmoid as y(1 - y), which cancel for large |x|
    (sigmoid'(15.6) comes out with relative error 3e-10; tanh'(10) with 3e-8); the table's
    rules 1/cosh²x and y·sigmoid(-x) do not. The rule runs on tensors through the dispatching
    rows, so nested tapes differentiate it again as usual.

    Forward accumulators do not use custom gradients: they differentiate the forward pass. So
    while one is in use (:data:`TF_ACCUMULATING`, set by diffx's TensorFlow engine) the value
    is written ``stop_gradient(y) + (g - stop_gradient(g))``: y bitwise, and every derivative
    that of g, the same function in ops whose forward rules stay accurate where it saturates
    (_TF_ACCUMULATOR_FORMS).
    """
    forward, row = getattr(tf.math, name), ELEMENTARY[name]
    accumulated = _TF_ACCUMULATOR_FORMS[name]

    @tf.custom_gradient
    def with_rule(x):
        y = forward(x)
        if TF_ACCUMULATING.get():
            g = accumulated(tf, x)
            y = tf.stop_gradient(y) + (g - tf.stop_gradient(g))
        return y, lambda dy: dy * row.partials[0](x, y)

    return with_rule


def _tf_sigmoid_for_accumulators(tf: Any, x: Any) -> Any:
    """sigmoid x = exp(-softplus(-x)): its forward rules give sigmoid(x)·sigmoid(-x), two
    accurate factors, where TF's y(1 - y) cancels; no branch (tf.where inside nested
    accumulators breaks TensorFlow's graph mode), and softplus never overflows."""
    return tf.exp(-tf.math.softplus(-x))


def _tf_tanh_for_accumulators(tf: Any, x: Any) -> Any:
    """tanh x = 2·sigmoid(2x) - 1, with the sigmoid above: derivative 4·sigmoid(2x)·sigmoid(-2x)
    where TF's 1 - y² cancels (its value cancels near 0, but only its derivatives are used)."""
    return 2.0 * _tf_sigmoid_for_accumulators(tf, 2.0 * x) - 1.0


_TF_ACCUMULATOR_FORMS = {"tanh": _tf_tanh_for_accumulators,
                         "sigmoid": _tf_sigmoid_for_accumulators}
# True while diffx's TensorFlow engine runs a ForwardAccumulator (see _tf_with_table_rule)
TF_ACCUMULATING: contextvars.ContextVar[bool] = contextvars.ContextVar("diffx_tf_accumulating",
                                                                      default=False)


def _row(name, numpy_form, mpmath_form, sympy_form, tf_form, partials, **kw) -> Elementary:
    return Elementary(name, len(partials), numpy_form, mpmath_form, sympy_form, tf_form,
                      tuple(partials), **kw)


add = _row("add", np.add, operator.add, operator.add, lambda tf: operator.add,
           [_one, _one], symbol="+", doc="a + b")
subtract = _row("subtract", np.subtract, operator.sub, operator.sub, lambda tf: operator.sub,
                [_one, lambda a, b, out: -1.0], symbol="-", doc="a - b")
multiply = _row("multiply", np.multiply, operator.mul, operator.mul, lambda tf: operator.mul,
                [lambda a, b, out: b, lambda a, b, out: a], symbol="*", doc="a * b")
divide = _row("divide", np.true_divide, operator.truediv, operator.truediv,
              lambda tf: operator.truediv,
              [lambda a, b, out: 1.0 / b, lambda a, b, out: -out / b], symbol="/", doc="a / b")
power = _row("power", _np_power, operator.pow, operator.pow, lambda tf: operator.pow,
             [lambda a, b, out: b * a ** (b - 1), lambda a, b, out: out * log(a)],
             ufuncs=(np.power, np.float_power), symbol="**",
             doc="a ** b (a > 0 unless b is an integer)")
negative = _row("negative", np.negative, operator.neg, operator.neg, lambda tf: operator.neg,
                [lambda a, out: -1.0], symbol="-", doc="-a")

sin = _row("sin", np.sin, mpmath.sin, sympy.sin, lambda tf: tf.math.sin,
           [lambda x, y: cos(x)])
cos = _row("cos", np.cos, mpmath.cos, sympy.cos, lambda tf: tf.math.cos,
           [lambda x, y: -sin(x)])
tan = _row("tan", np.tan, mpmath.tan, sympy.tan, lambda tf: tf.math.tan,
           [lambda x, y: 1.0 + y * y], domain=Domain(poles=lambda x: cos(x)),
           doc="undefined at pi/2 + k*pi")
exp = _row("exp", np.exp, mpmath.exp, sympy.exp, lambda tf: tf.math.exp,
           [lambda x, y: y])
expm1 = _row("expm1", np.expm1, mpmath.expm1, _sympy_codegen("expm1"),
             lambda tf: tf.math.expm1, [lambda x, y: exp(x)],
             doc="exp(x) - 1, accurate for small |x|")
exp2 = _row("exp2", np.exp2, lambda x: mpmath.power(2, x), _sympy_codegen("exp2"),
            lambda tf: lambda x: 2.0 ** x, [lambda x, y: y * log(_like(x, 2.0))], doc="2**x")
log = _row("log", np.log, mpmath.log, sympy.log, lambda tf: tf.math.log,
           [lambda x, y: 1.0 / x],
           domain=Domain(Interval(0, INF), Interval(0, INF)), doc="natural logarithm")
log1p = _row("log1p", np.log1p, mpmath.log1p, _sympy_codegen("log1p"),
             lambda tf: tf.math.log1p, [lambda x, y: 1.0 / (1.0 + x)],
             domain=Domain(Interval(-1, INF), Interval(-1, INF)),
             doc="log(1 + x), accurate for small |x|")
log2 = _row("log2", np.log2, lambda x: mpmath.log(x, 2), _sympy_codegen("log2"),
            lambda tf: lambda x: tf.math.log(x) / math.log(2.0),
            [lambda x, y: 1.0 / (x * log(_like(x, 2.0)))],
            domain=Domain(Interval(0, INF), Interval(0, INF)), doc="base-2 logarithm")
log10 = _row("log10", np.log10, mpmath.log10, _sympy_codegen("log10"),
             lambda tf: lambda x: tf.math.log(x) / math.log(10.0),
             [lambda x, y: 1.0 / (x * log(_like(x, 10.0)))],
             domain=Domain(Interval(0, INF), Interval(0, INF)), doc="base-10 logarithm")
sqrt = _row("sqrt", np.sqrt, mpmath.sqrt, sympy.sqrt, lambda tf: tf.math.sqrt,
            [lambda x, y: 0.5 / y],
            domain=Domain(Interval(0, INF, lower_closed=True), Interval(0, INF)))
tanh = _row("tanh", np.tanh, mpmath.tanh, sympy.tanh, lambda tf: _tf_with_table_rule(tf, "tanh"),
            [lambda x, y: 1.0 / cosh(x) ** 2])  # not 1 - y², which cancels for large |x|
sinh = _row("sinh", np.sinh, mpmath.sinh, sympy.sinh, lambda tf: tf.math.sinh,
            [lambda x, y: cosh(x)])
cosh = _row("cosh", np.cosh, mpmath.cosh, sympy.cosh, lambda tf: tf.math.cosh,
            [lambda x, y: sinh(x)])
arcsin = _row("arcsin", np.arcsin, mpmath.asin, sympy.asin, lambda tf: tf.math.asin,
              [lambda x, y: 1.0 / sqrt(1.0 - x * x)],
              domain=Domain(Interval(-1, 1, True, True), Interval(-1, 1)))
arccos = _row("arccos", np.arccos, mpmath.acos, sympy.acos, lambda tf: tf.math.acos,
              [lambda x, y: -1.0 / sqrt(1.0 - x * x)],
              domain=Domain(Interval(-1, 1, True, True), Interval(-1, 1)))
arctan = _row("arctan", np.arctan, mpmath.atan, sympy.atan, lambda tf: tf.math.atan,
              [lambda x, y: 1.0 / (1.0 + x * x)])
sign = _row("sign", np.sign, mpmath.sign, sympy.sign, lambda tf: tf.math.sign,
            [_zero], domain=Domain(kinks=(0.0,)), analytic=False, sympy_uses_partials=True,
            doc="-1, 0 or 1; derivative 0 away from 0")
heaviside = _row("heaviside", _np_heaviside, _mp_heaviside, lambda x: sympy.Heaviside(x, 0),
                 _tf_heaviside, [_zero], domain=Domain(kinks=(0.0,)), analytic=False,
                 sympy_uses_partials=True, doc="step function, 0 for x <= 0 and 1 for x > 0")
abs = _row("abs", np.abs, mpmath.fabs, sympy.Abs, lambda tf: tf.math.abs,  # noqa: A001
           [lambda x, y: sign(x)], domain=Domain(kinks=(0.0,)), analytic=False,
           ufuncs=(np.fabs,),
           doc="|x|; derivative taken as sign(x), 0 at the kink (the TensorFlow convention)")
hypot = _row("hypot", _np_hypot, mpmath.hypot, _sympy_codegen("hypot"),
             _tf_hypot,
             [lambda a, b, out: a / out, lambda a, b, out: b / out], ufuncs=(np.hypot,),
             doc="sqrt(a**2 + b**2) without overflow; not differentiable at (0, 0)")
logaddexp = _row("logaddexp", _np_logaddexp,
                 lambda a, b: mpmath.log(mpmath.exp(a) + mpmath.exp(b)),
                 _sympy_codegen("logaddexp"), _tf_logaddexp,
                 [lambda a, b, out: sigmoid(a - b), lambda a, b, out: sigmoid(b - a)],
                 ufuncs=(np.logaddexp,), doc="log(exp(a) + exp(b)) without overflow")
sigmoid = _row("sigmoid", _np_sigmoid, lambda x: 1 / (1 + mpmath.exp(-x)),
               lambda x: 1 / (1 + sympy.exp(-x)), lambda tf: _tf_with_table_rule(tf, "sigmoid"),
               [lambda x, y: y * sigmoid(-x)],  # not y(1 - y): 1 - y cancels for large x
               doc="logistic function 1/(1+exp(-x))")
softplus = _row("softplus", _np_softplus, lambda x: mpmath.log1p(mpmath.exp(x)),
                lambda x: sympy.log(1 + sympy.exp(x)), lambda tf: tf.math.softplus,
                [lambda x, y: sigmoid(x)], doc="log(1 + exp(x))")
erf = _row("erf", _np_erf, mpmath.erf, sympy.erf, lambda tf: tf.math.erf,
           [lambda x, y: 2.0 * exp(-x * x) / sqrt(_pi_like(x))],
           doc="the error function 2/sqrt(pi) * integral of exp(-t**2) from 0 to x")
relu = _row("relu", _np_relu, _mp_relu, _sympy_relu, lambda tf: tf.nn.relu,
            [lambda x, y: heaviside(x)], domain=Domain(kinks=(0.0,)), analytic=False,
            sympy_uses_partials=True,
            doc="max(x, 0); derivative taken as 0 at the kink (the TensorFlow convention)")

# numpy ufuncs that expressions write with operators (x**2, 1/x, +x, x*pi/180): rows so that
# numpy code using them runs under every engine, but not names of the parser
square = _row("square", np.square, lambda x: x * x, lambda x: x**2, lambda tf: tf.math.square,
              [lambda x, y: 2.0 * x], doc="x**2")
reciprocal = _row("reciprocal", _np_reciprocal, lambda x: 1 / x, lambda x: 1 / x,
                  lambda tf: tf.math.reciprocal, [lambda x, y: -(y * y)],
                  domain=Domain(poles=lambda x: x), ufuncs=(np.reciprocal,), doc="1/x")
positive = _row("positive", np.positive, lambda x: +x, lambda x: +x, lambda tf: tf.identity,
                [_one], doc="+x")
deg2rad = _row("deg2rad", _np_deg2rad, lambda x: x * mpmath.pi / 180,
               lambda x: x * sympy.pi / 180, lambda tf: lambda x: x * (math.pi / 180.0),
               [lambda x, y: _pi_like(x) / 180.0], ufuncs=(np.deg2rad, np.radians),
               doc="x*pi/180")
rad2deg = _row("rad2deg", _np_rad2deg, lambda x: x * 180 / mpmath.pi,
               lambda x: x * 180 / sympy.pi, lambda tf: lambda x: x * (180.0 / math.pi),
               [lambda x, y: 180.0 / _pi_like(x)], ufuncs=(np.rad2deg, np.degrees),
               doc="x*180/pi")

# inverse hyperbolic functions, the real cube root, atan2 and logaddexp2 (parser names too)
arcsinh = _row("arcsinh", np.arcsinh, mpmath.asinh, sympy.asinh, lambda tf: tf.math.asinh,
               [lambda x, y: 1.0 / sqrt(1.0 + x * x)])
arccosh = _row("arccosh", np.arccosh, mpmath.acosh, sympy.acosh, lambda tf: tf.math.acosh,
               [lambda x, y: 1.0 / (sqrt(x - 1.0) * sqrt(x + 1.0))],  # not x² - 1: exact near 1
               domain=Domain(Interval(1, INF, lower_closed=True), Interval(1, INF)),
               doc="inverse of cosh on [1, inf); derivative infinite at the edge 1")
arctanh = _row("arctanh", np.arctanh, mpmath.atanh, sympy.atanh, lambda tf: tf.math.atanh,
               [lambda x, y: 1.0 / (1.0 - x * x)],  # (1 - x)(1 + x) cancels in arctanh'' near 0
               domain=Domain(Interval(-1, 1), Interval(-1, 1)),
               doc="inverse of tanh on (-1, 1); infinite at ±1 (edges, as log's 0)")
cbrt = _row("cbrt", _np_cbrt, _mp_cbrt, _sympy_real_cbrt,
            lambda tf: lambda x: tf.math.sign(x) * tf.pow(tf.abs(x), 1.0 / 3.0),
            [lambda x, y: 1.0 / (3.0 * y * y)], domain=Domain(kinks=(0.0,)),
            ufuncs=(np.cbrt,),
            doc="the real cube root (negative for negative x); derivative infinite at 0")
arctan2 = _row("arctan2", _np_arctan2, mpmath.atan2, sympy.atan2, lambda tf: tf.math.atan2,
               [lambda y, x, out: x / (x * x + y * y), lambda y, x, out: -y / (x * x + y * y)],
               ufuncs=(np.arctan2,),
               doc="the angle of the point (x, y) for arctan2(y, x), in (-pi, pi]; "
                   "not differentiable at (0, 0) and discontinuous on x < 0, y = 0")
logaddexp2 = _row("logaddexp2", _np_logaddexp2,
                  lambda a, b: mpmath.log(mpmath.power(2, a) + mpmath.power(2, b), 2),
                  _sympy_codegen("logaddexp2"), _tf_logaddexp2,
                  [lambda a, b, out: sigmoid((a - b) * log(_like(a, 2.0))),
                   lambda a, b, out: sigmoid((b - a) * log(_like(a, 2.0)))],
                  ufuncs=(np.logaddexp2,), doc="log2(2**a + 2**b) without overflow")

# numpy's piecewise ufuncs. Binary rows' kinks are not in their Domain (REALS but for copysign
# and heaviside_at, whose kink is at 0 in the first argument); each row's doc names them.
remainder = _row("remainder", np.remainder, _mp_remainder, sympy.Mod, lambda tf: tf.math.floormod,
                 [_one, lambda a, b, out: -(a - out) / b],  # -floor(a/b), out = a - b·floor(a/b)
                 analytic=False, sympy_uses_partials=True,
                 doc="a - b*floor(a/b) (the sign of b); derivatives 1 and -floor(a/b), "
                     "jumps where a/b is an integer (there the values right of the jump in a)")
fmod = _row("fmod", np.fmod, _mp_fmod, _sympy_fmod, _tf_fmod,
            [_one, lambda a, b, out: -(a - out) / b],  # -trunc(a/b), out = a - b·trunc(a/b)
            analytic=False,
            doc="a - b*trunc(a/b) (the sign of a, C's fmod); derivatives 1 and -trunc(a/b), "
                "jumps where a/b is a non-zero integer")
copysign = _row("copysign", np.copysign, _mp_copysign, _sympy_copysign, _tf_copysign,
                [lambda a, b, out: sign(a) * copysign(1.0, b), _zero],
                domain=Domain(kinks=(0.0,)), analytic=False,
                doc="|a| with the sign of b (-0.0 counts as negative; SymPy cannot see it); "
                    "derivative sign(a)*copysign(1, b), 0 at the kink a = 0")
heaviside_at = _row("heaviside_at", np.heaviside, _mp_heaviside_at,
                    lambda x, h0: sympy.Heaviside(x, h0), _tf_heaviside_at,
                    [_zero, lambda x, h0, out: 1.0 - abs(sign(x))],
                    domain=Domain(kinks=(0.0,)), analytic=False, sympy_uses_partials=True,
                    doc="numpy's heaviside(x, h0): 0 for x < 0, h0 at 0, 1 for x > 0; "
                        "derivative 0 in x (kink at 0), 1 in h0 at x = 0 only")


def _larger_first(a, b, out):
    """∂max(a, b)/∂a: 1 where a > b, ½ at a tie (the mean of the two tangents, JAX's and
    PyTorch's convention), 0 where a < b; and ∂max/∂b by symmetry, ∂min likewise."""
    return 0.5 * (1.0 + sign(a - b))


def _larger_second(a, b, out):
    return 0.5 * (1.0 - sign(a - b))


maximum = _row("maximum", np.maximum, _mp_maximum, _sympy_maximum, _tf_extremum(True),
               [_larger_first, _larger_second], analytic=False,
               doc="the larger of a and b; kink at a = b, where each gets derivative 1/2")
minimum = _row("minimum", np.minimum, _mp_minimum, _sympy_minimum, _tf_extremum(False),
               [_larger_second, _larger_first], analytic=False,
               doc="the smaller of a and b; kink at a = b, where each gets derivative 1/2")
fmax = _row("fmax", np.fmax, _mp_maximum, _sympy_maximum, _tf_extremum(True),
            [_larger_first, _larger_second], analytic=False,
            doc="maximum ignoring a NaN argument; the derivatives of maximum")
fmin = _row("fmin", np.fmin, _mp_minimum, _sympy_minimum, _tf_extremum(False),
            [_larger_second, _larger_first], analytic=False,
            doc="minimum ignoring a NaN argument; the derivatives of minimum")

OPERATORS: dict[str, Elementary] = {r.name: r for r in (add, subtract, multiply, divide, power,
                                                        negative)}
# the functions expressions may call by name (the parser's whitelist) and diffx exports
FUNCTIONS: dict[str, Elementary] = {
    r.name: r
    for r in (sin, cos, tan, exp, log, sqrt, tanh, sinh, cosh, arcsin, arccos, arctan, abs,
              sigmoid, softplus, relu, sign, heaviside, expm1, log1p, exp2, log2, log10, hypot,
              logaddexp, erf, arcsinh, arccosh, arctanh, cbrt, arctan2, logaddexp2)
}
NUMPY_ONLY: dict[str, Elementary] = {r.name: r for r in (square, reciprocal, positive, deg2rad,
                                                         rad2deg, remainder, fmod, copysign,
                                                         heaviside_at, maximum, minimum, fmax,
                                                         fmin)}
ELEMENTARY: dict[str, Elementary] = {**OPERATORS, **FUNCTIONS, **NUMPY_ONLY}

CONSTANTS: dict[str, Constant] = {
    "pi": Constant("pi", math.pi, lambda: +mpmath.pi, sympy.pi),
    "e": Constant("e", math.e, lambda: +mpmath.e, sympy.E),
}

# Other spellings users type; the parser accepts them and maps them to the row.
ALIASES: dict[str, str] = {
    "asin": "arcsin",
    "acos": "arccos",
    "atan": "arctan",
    "asinh": "arcsinh",
    "acosh": "arccosh",
    "atanh": "arctanh",
    "atan2": "arctan2",
    "ln": "log",
    "logistic": "sigmoid",
}


def lookup(name: str) -> Elementary:
    """The row for a function name or alias (``KeyError`` if there is none)."""
    return FUNCTIONS[ALIASES.get(name, name)]


# The numpy ufunc of each row, so values that meet numpy (np.sin(d) on a Dual, a trace node or a
# Boxed value) are routed to the row and its derivative rule.
ROW_OF_UFUNC: dict[np.ufunc, Elementary] = {
    ufunc: row for row in ELEMENTARY.values()
    for ufunc in ((row.numpy,) if isinstance(row.numpy, np.ufunc) else ()) + row.ufuncs}


@functools.cache
def _sympy_heads() -> dict[type, list[tuple[Elementary, Any, tuple]]]:
    """For each SymPy class that a function's ``sympy`` form is an application of (sin, Abs,
    Max for relu, Pow for sqrt), the rows in table order with that form on Wild symbols.
    Compositions whose arguments sit deeper (sigmoid, softplus) have none: SymPy's tree shows
    their parts. The numpy-only rows whose derivative SymPy lacks or gets wrong
    (``sympy_uses_partials``: Mod for remainder, Heaviside(x, h0)) come after the functions."""
    heads: dict[type, list[tuple[Elementary, Any, tuple]]] = {}
    numpy_rules = [row for row in NUMPY_ONLY.values() if row.sympy_uses_partials]
    for row in [*FUNCTIONS.values(), *numpy_rules]:
        wilds = tuple(sympy.Wild(f"a{i}") for i in range(row.arity))
        pattern = row.sympy(*wilds)
        if all(w in pattern.args for w in wilds):
            heads.setdefault(pattern.func, []).append((row, pattern, wilds))
    return heads


def row_of_sympy(expr: sympy.Basic) -> tuple[Elementary, tuple] | None:
    """The function of the table whose ``sympy`` form ``expr`` is, with its arguments; None
    when there is none. SymPy's Heaviside(u, h) is heaviside(u) whatever its value h at 0.

    >>> x = sympy.Symbol("x")
    >>> row_of_sympy(sympy.Max(0, x)), row_of_sympy(sympy.sqrt(x)), row_of_sympy(x**3)
    ((<diffx elementary relu>, (x,)), (<diffx elementary sqrt>, (x,)), None)
    """
    candidates = _sympy_heads().get(expr.func, ())
    for row, pattern, wilds in candidates:
        constants = [a for a in pattern.args if a not in wilds]
        args = tuple(a for a in expr.args if a not in constants)
        if len(args) == row.arity and row.sympy(*args) == expr:
            return row, args
    for row, pattern, wilds in candidates:  # a SymPy function with other parameters
        if issubclass(pattern.func, sympy.Function) and pattern.args[:row.arity] == wilds:
            return row, expr.args[:row.arity]
    return None


@functools.cache
def sympy_numpy_names() -> dict[str, Callable]:
    """The numpy form of each function whose SymPy form is one SymPy function of its arguments,
    by that function's name: lambdify's namespace, so that a SymPy function numpy lacks runs
    the table's numpy form."""
    return {pattern.func.__name__: row.numpy
            for rows in _sympy_heads().values() for row, pattern, wilds in rows
            if pattern.args == wilds}


def row_for_ufunc(ufunc: np.ufunc, method: str, kwargs: dict) -> Elementary | None:
    """The table row that a plain call ``ufunc(*inputs)`` stands for, or None."""
    if method != "__call__" or kwargs:
        return None
    return ROW_OF_UFUNC.get(ufunc)


class TableArithmetic:
    """Python's arithmetic operators as rows of the table, for the value types that register a
    handler (Dual, Jet, trace Node, Boxed): ``a * b`` is ``multiply(a, b)``, so it takes the
    same dispatch, and the same derivative rule, as ``diffx.multiply``."""

    __slots__ = ()
    __array_priority__ = 1000  # ndarray ⊕ value defers to these operators

    def __add__(self, other): return add(self, other)
    def __radd__(self, other): return add(other, self)
    def __sub__(self, other): return subtract(self, other)
    def __rsub__(self, other): return subtract(other, self)
    def __mul__(self, other): return multiply(self, other)
    def __rmul__(self, other): return multiply(other, self)
    def __truediv__(self, other): return divide(self, other)
    def __rtruediv__(self, other): return divide(other, self)
    def __pow__(self, other): return power(self, other)
    def __rpow__(self, other): return power(other, self)
    def __neg__(self): return negative(self)
    def __pos__(self): return self
    def __abs__(self): return abs(self)


def primal(x: Any) -> Any:
    """The plain number under any layers of diffx's value types (duals, jets, trace nodes,
    boxed values): each subclasses :class:`TableArithmetic` and holds the next layer in as
    ``.value``.

    >>> primal(3.0)
    3.0
    """
    while isinstance(x, TableArithmetic):
        x = x.value
    return x


# --------------------------------------------------------------------------------------------
# Boxed values: numpy-ufunc callables under the SymPy, mpmath and TensorFlow backends
# --------------------------------------------------------------------------------------------
class Boxed(TableArithmetic):
    """A SymPy, mpmath or TensorFlow value that routes numpy functions through the table.

    ``np.sin(sympy.Symbol("x"))`` fails and ``np.sin(tensor)`` silently turns the tensor into a
    constant numpy array (the tape then reports a wrong derivative). Inside a Boxed value both
    become ``diffx.sin`` of the backend value, so a callable written with numpy ufuncs traces
    with SymPy symbols, evaluates in mpmath and differentiates on the tape. Operators go through
    the table too; other attributes are those of the wrapped value.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


    def __lt__(self, other): return self.value < unbox(other)
    def __le__(self, other): return self.value <= unbox(other)
    def __gt__(self, other): return self.value > unbox(other)
    def __ge__(self, other): return self.value >= unbox(other)

    def __len__(self) -> int:
        return len(self.value)

    def __getitem__(self, index: Any) -> Boxed:
        return Boxed(self.value[index])

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.value, name)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        row = row_for_ufunc(ufunc, method, kwargs)
        if row is not None:
            return row(*inputs)
        if ufunc is np.add and method == "reduce" and kwargs.get("axis", 0) in (0, None) \
                and kwargs.get("out") is None and not kwargs.get("keepdims"):
            return functools.reduce(add, inputs[0])  # np.sum of a vector
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        raise UnsupportedError(
            f"numpy.{name} is not in diffx's elementary table, so it cannot be traced or "
            f"differentiated here; use diffx.sin, diffx.exp, ... and + - * / **")

    def __repr__(self) -> str:
        return f"Boxed({self.value!r})"


def unbox(x: Any) -> Any:
    """The backend value inside ``x`` (lists, tuples and object arrays elementwise)."""
    if isinstance(x, Boxed):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(unbox(item) for item in x)
    if isinstance(x, np.ndarray) and x.dtype == object:
        return np.array([unbox(item) for item in x.ravel()], dtype=object).reshape(x.shape)
    return x


def box(x: Any) -> Any:
    """Wrap a backend value (or each item of a list or object array) in :class:`Boxed`."""
    if isinstance(x, (list, tuple)):
        return type(x)(box(item) for item in x)
    if isinstance(x, np.ndarray) and x.dtype == object:
        out = np.empty(x.shape, dtype=object)
        for index in np.ndindex(x.shape):
            out[index] = Boxed(x[index])
        return out
    return Boxed(x)


register_type(Boxed, lambda row, args: Boxed(row(*(unbox(a) for a in args))))


def _boxed_method(row: Elementary) -> Callable:
    return lambda self, *others: row(self, *others)


# numpy applies a ufunc to an object array (a SymPy or mpmath vector) by calling each element's
# method of the ufunc's name: np.sin(vector) calls element.sin(), which is the table's row
for _ufunc, _ufunc_row in ROW_OF_UFUNC.items():
    if not hasattr(Boxed, _ufunc.__name__):
        setattr(Boxed, _ufunc.__name__, _boxed_method(_ufunc_row))
