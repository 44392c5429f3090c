"""Tests of the elementary table: every row's four forms, its partials, dispatch and domains.

The truth in every numeric check is independent of diffx's engines: mpmath at 50 digits (its own
functions, and ``mpmath.diff`` for derivatives), SymPy's ``diff`` evaluated with ``evalf(50)``,
``cmath`` or a closed form. Float arguments are converted exactly (``sympy.Rational(x)``,
``mpmath.mpf(x)``), so every error measured is the error of the function at that exact float.

Tolerances (EPS = 2**-52 ≈ 2.22e-16, one unit in the last place relative to 1):

* FLOAT_RTOL = 4·EPS for a float form against the 50-digit truth. glibc's libm and numpy's own
  ufuncs are documented to within 1 ulp for these functions; sigmoid/softplus compose 2–3 such
  operations. The measured worst case on the points below is 0.7·EPS (numpy and TensorFlow
  alike; TF's CPU kernels call the same libm for float64), so 4·EPS leaves room for other
  platforms' libms while still failing at any real error (a wrong branch, a float32 round trip).
* RULE_RTOL = 1e-14 (≈ 45·EPS) for a partial rule evaluated in floats: the rule is a few float
  operations on an already rounded ``out`` or argument, and some amplify a rounding error —
  1/sqrt(1 - x²) (arcsin, arccos) by 1/(1 - x²), i.e. ×10 at x = 0.95; the points are chosen so
  the amplification stays below ~20.
* MP_RTOL = 1e-40 for the same rules evaluated on mpmath numbers at 50 digits against
  ``mpmath.diff``: both sides carry ~50 digits, so 1e-40 leaves 10 digits of slack and still
  rejects anything computed in float64 (1e-16) — it proves the rules are mathematically right.
* SYMPY_RTOL = 1e-45 for the SymPy form (evalf(50)) against the mpmath form (50 digits): two
  independent 50-digit evaluations of the same exact number.
"""

from __future__ import annotations

import cmath
import math
import subprocess
import sys
import warnings

import mpmath
import numpy as np
import pytest
import sympy
import sympy.codegen.cfunctions
from hypothesis import given, settings
from hypothesis import strategies as st

import diffx
from diffx import elementary as E
from diffx.elementary import CONSTANTS, ELEMENTARY, FUNCTIONS, NUMPY_ONLY, OPERATORS
from diffx.engines.dual import Dual
from diffx.errors import UnsupportedError

EPS = float(np.finfo(float).eps)
FLOAT_RTOL = 4 * EPS
RULE_RTOL = 1e-14
MP_RTOL = 1e-40
SYMPY_RTOL = 1e-45
DPS = 50

# Points strictly inside each unary row's *derivative* domain (away from kinks, poles, ±1 of
# arcsin/arccos, and in the range where the float rules are well conditioned — see RULE_RTOL).
UNARY_POINTS: dict[str, list[float]] = {
    "negative": [-2.5, 0.3, 7.0],
    "sin": [-2.5, -0.3, 0.7, 3.0, 10.0],
    "cos": [-2.5, 0.3, 1.2, 3.0, 10.0],
    "tan": [-1.2, -0.3, 0.4, 1.3],
    "exp": [-20.0, -1.5, 0.3, 2.0, 30.0],
    "log": [1e-3, 0.5, 1.5, 7.0, 1e5],
    "sqrt": [1e-4, 0.5, 2.0, 9.0, 1e6],
    "tanh": [-3.0, -0.5, 0.2, 1.5, 2.5],
    "sinh": [-5.0, -0.5, 0.3, 2.0, 10.0],
    "cosh": [-5.0, -0.5, 0.3, 2.0, 10.0],
    "arcsin": [-0.9, -0.3, 0.1, 0.6, 0.95],
    "arccos": [-0.9, -0.3, 0.1, 0.6, 0.95],
    "arctan": [-10.0, -0.7, 0.2, 1.5, 50.0],
    "abs": [-2.5, -0.1, 0.3, 7.0],
    "sigmoid": [-30.0, -3.0, -0.5, 0.5, 3.0],
    "softplus": [-30.0, -3.0, -0.5, 0.5, 3.0, 30.0],
    "relu": [-2.0, -0.1, 0.3, 5.0],
    "sign": [-2.0, -0.1, 0.3, 5.0],
    "heaviside": [-2.0, -0.1, 0.3, 5.0],
    "expm1": [-20.0, -1e-8, 3e-5, 0.4, 5.0],
    "exp2": [-30.0, -1.5, 0.3, 2.5, 40.0],
    "log1p": [-0.9, -1e-6, 2e-9, 0.7, 1e4],
    "log2": [1e-3, 0.5, 1.5, 7.0, 1e5],
    "log10": [1e-3, 0.5, 1.5, 7.0, 1e5],
    "square": [-3.5, -0.2, 0.7, 12.0],
    "reciprocal": [-3.5, -0.2, 0.7, 12.0],
    "positive": [-3.5, 0.7, 12.0],
    "deg2rad": [-200.0, 0.7, 45.0, 1e3],
    "rad2deg": [-4.0, 0.7, 1.3, 1e3],
    "erf": [-3.0, -0.5, 1e-5, 0.8, 2.5, 5.0],
    "arcsinh": [-30.0, -0.7, 1e-5, 0.4, 3.0],
    "arccosh": [1.01, 1.25, 2.0, 10.0, 1e4],
    "arctanh": [-0.9, -0.3, 1e-6, 0.5, 0.95],
    "cbrt": [-27.0, -0.3, 2.0, 1e-6, 1e5],
}
# Binary operators; power only with a positive base (its second partial is out·log(a)).
BINARY_POINTS: dict[str, list[tuple[float, float]]] = {
    "add": [(1.7, -0.6), (0.3, 2.5)],
    "subtract": [(1.7, -0.6), (0.3, 2.5)],
    "multiply": [(1.7, -0.6), (0.3, 2.5)],
    "divide": [(1.7, -0.6), (0.3, 2.5), (-4.0, 0.7)],
    "power": [(1.7, -0.6), (0.3, 2.5), (2.0, 3.0), (0.9, 0.5)],
    "hypot": [(1.7, -0.6), (0.3, 2.5), (-4.0, 1e-3), (3e-5, -4e-5)],
    "logaddexp": [(1.7, -0.6), (0.3, 2.5), (-30.0, 2.0), (700.0, 699.0)],
    "logaddexp2": [(1.7, -0.6), (0.3, 2.5), (-30.0, 2.0), (1000.0, 999.0)],
    # arctan2(y, x) in all four quadrants, away from (0, 0) and the cut x < 0, y = 0
    "arctan2": [(1.7, -0.6), (0.3, 2.5), (-0.4, -1.5), (-2.0, 0.5)],
    # the piecewise rows away from their kinks and jumps (a/b integer, a = 0, a = b)
    "remainder": [(7.3, 2.0), (-7.3, 2.0), (7.3, -2.5), (0.3, 2.5)],
    "fmod": [(7.3, 2.0), (-7.3, 2.0), (7.3, -2.5), (0.3, 2.5)],
    "copysign": [(1.7, -0.6), (-0.3, 2.5), (-4.0, -0.7)],
    "heaviside_at": [(-2.0, 0.5), (0.3, 0.5), (1.5, 0.25)],
    "maximum": [(1.7, -0.6), (0.3, 2.5)],
    "minimum": [(1.7, -0.6), (0.3, 2.5)],
    "fmax": [(1.7, -0.6), (0.3, 2.5)],
    "fmin": [(1.7, -0.6), (0.3, 2.5)],
}
CASES = [(name, (x,)) for name, xs in UNARY_POINTS.items() for x in xs] + [
    (name, ab) for name, pairs in BINARY_POINTS.items() for ab in pairs]
UNARY_CASES = [(name, x) for name, xs in UNARY_POINTS.items() for x in xs]


def _mp(value) -> mpmath.mpf:
    """A SymPy number (evalf'd) or float as an mpmath number at the current precision."""
    if isinstance(value, sympy.Basic):
        return mpmath.mpf(str(sympy.N(value, DPS + 5)))
    return mpmath.mpf(value)


def _rel(got, truth) -> mpmath.mpf:
    """Relative error of ``got``; for a zero truth the absolute error (which must then be 0)."""
    with mpmath.workdps(DPS + 10):
        got, truth = _mp(got), _mp(truth)
        return abs(got - truth) / abs(truth) if truth != 0 else abs(got)


def _mp_value(name: str, args: tuple[float, ...]) -> mpmath.mpf:
    with mpmath.workdps(DPS):
        return ELEMENTARY[name].mpmath(*(mpmath.mpf(a) for a in args))


# --------------------------------------------------------------------------------------------
# The table's contents
# --------------------------------------------------------------------------------------------
def test_table_has_the_promised_names() -> None:
    assert {"sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sinh", "cosh", "arcsin",
            "arccos", "arctan", "abs", "sigmoid", "softplus", "relu"} <= set(FUNCTIONS)
    assert {"add", "subtract", "multiply", "divide", "power", "negative"} <= set(OPERATORS)
    assert {"pi", "e"} <= set(CONSTANTS)
    assert set(ELEMENTARY) == set(FUNCTIONS) | set(OPERATORS) | set(NUMPY_ONLY)


def test_every_row_is_covered_by_these_tests() -> None:
    # a row added to the table without test points would silently escape the checks below
    unary = {name for name, row in ELEMENTARY.items() if row.arity == 1}
    binary = {name for name, row in ELEMENTARY.items() if row.arity == 2}
    assert unary == set(UNARY_POINTS)
    assert binary == set(BINARY_POINTS)


@pytest.mark.parametrize("name", sorted(ELEMENTARY))
def test_every_row_has_all_forms(name: str) -> None:
    row = ELEMENTARY[name]
    assert row.name == name
    for form in (row.numpy, row.mpmath, row.sympy, row.tf):
        assert callable(form)
    assert len(row.partials) == row.arity >= 1
    assert all(callable(p) for p in row.partials)


def test_constants_agree_in_every_backend() -> None:
    with mpmath.workdps(DPS):
        assert CONSTANTS["pi"].float_value == float(mpmath.pi)  # correctly rounded
        assert CONSTANTS["e"].float_value == float(mpmath.e)
    for dps in (DPS, 2 * DPS):  # the mpmath value follows the working precision
        with mpmath.workdps(dps):
            pi, e = CONSTANTS["pi"].mpmath_value(), CONSTANTS["e"].mpmath_value()
        with mpmath.workdps(dps + 20):
            assert abs(pi - mpmath.pi) / mpmath.pi <= mpmath.mpf(10) ** (1 - dps)
            assert abs(e - mpmath.e) / mpmath.e <= mpmath.mpf(10) ** (1 - dps)
    assert CONSTANTS["pi"].sympy_value is sympy.pi
    assert CONSTANTS["e"].sympy_value is sympy.E
    assert CONSTANTS["pi"].value_for("sympy") is sympy.pi
    assert isinstance(CONSTANTS["e"].value_for("mpmath"), mpmath.mpf)


# --------------------------------------------------------------------------------------------
# The forms agree with each other and with the 50-digit truth
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "args"), CASES)
def test_numpy_form_matches_mpmath(name: str, args: tuple[float, ...]) -> None:
    got = ELEMENTARY[name].numpy(*args)
    assert isinstance(got, (float, np.floating))
    assert _rel(got, _mp_value(name, args)) <= FLOAT_RTOL


@pytest.mark.parametrize(("name", "args"), CASES)
def test_sympy_form_matches_mpmath(name: str, args: tuple[float, ...]) -> None:
    exact = [sympy.Rational(a) for a in args]  # the float's exact binary value
    value = sympy.N(ELEMENTARY[name].sympy(*exact), DPS)
    assert value.is_real
    assert _rel(value, _mp_value(name, args)) <= SYMPY_RTOL


@pytest.mark.parametrize(("name", "args"), CASES)
def test_tf_form_matches_mpmath(name: str, args: tuple[float, ...]) -> None:
    import tensorflow as tf

    tensors = [tf.constant(a, dtype=tf.float64) for a in args]
    got = ELEMENTARY[name].tf(tf)(*tensors)
    assert got.dtype == tf.float64
    # measured ≤ 0.7·EPS: TF's float64 CPU kernels are as accurate as numpy here
    assert _rel(float(got.numpy()), _mp_value(name, args)) <= FLOAT_RTOL


# --------------------------------------------------------------------------------------------
# The partial rules: THE one source of derivative truth for dual and trace engines
# --------------------------------------------------------------------------------------------
def _partial_cases():
    for name, args in CASES:
        for i in range(len(args)):
            yield pytest.param(name, args, i, id=f"{name}-{args}-d{i}")


# closed forms of the partials SymPy cannot take (Mod and Heaviside's value at 0 have none),
# on the exact rationals of the float arguments; away from the jumps
SYMPY_HAS_NO_DERIVATIVE = {
    ("remainder", 0): lambda a, b: 1, ("remainder", 1): lambda a, b: -sympy.floor(a / b),
    ("fmod", 0): lambda a, b: 1,
    ("fmod", 1): lambda a, b: -sympy.sign(a / b) * sympy.floor(abs(a / b)),  # -trunc(a/b)
    ("heaviside_at", 1): lambda x, h0: 1 if x == 0 else 0,
}


@pytest.mark.parametrize(("name", "args", "i"), list(_partial_cases()))
def test_partial_rule_in_floats_matches_sympy_diff(name: str, args: tuple, i: int) -> None:
    row = ELEMENTARY[name]
    if (name, i) in SYMPY_HAS_NO_DERIVATIVE:  # SymPy leaves Derivative(Mod(a, b), a) alone
        truth = SYMPY_HAS_NO_DERIVATIVE[name, i](*(sympy.Rational(a) for a in args))
    else:
        symbols = sympy.symbols(f"a0:{len(args)}", real=True)
        derivative = sympy.diff(row.sympy(*symbols), symbols[i])
        truth = derivative.subs({s: sympy.Rational(a) for s, a in zip(symbols, args)})
    got = row.partials[i](*args, row.numpy(*args))
    assert isinstance(got, (float, np.floating))
    assert _rel(got, truth) <= RULE_RTOL


@pytest.mark.parametrize(("name", "args", "i"), list(_partial_cases()))
def test_partial_rule_in_mpmath_matches_mpmath_diff(name: str, args: tuple, i: int) -> None:
    row = ELEMENTARY[name]
    with mpmath.workdps(DPS):
        margs = tuple(mpmath.mpf(a) for a in args)
        got = row.partials[i](*margs, row.mpmath(*margs))
        orders = tuple(int(j == i) for j in range(len(args)))
        truth = mpmath.diff(row.mpmath, margs if len(margs) > 1 else margs[0],
                            orders if len(margs) > 1 else 1)
        # a rule that secretly computed in float64 would be off by ~1e-16 here, not 1e-40
        assert _rel(got, truth) <= MP_RTOL


def test_partial_rule_runs_on_sympy_symbols() -> None:
    # the same rules build SymPy expressions (what trace views rely on); rules written with
    # float literals (1.0 - x*x) carry SymPy Floats, which nsimplify turns back into 1
    x, y = sympy.symbols("x y", real=True)
    analytic = [row for row in ELEMENTARY.values() if row.analytic and row.name != "power"]
    assert len(analytic) >= 25
    for row in analytic:
        args = (x, y)[:row.arity]
        for i, partial in enumerate(row.partials):
            rule = sympy.nsimplify(partial(*args, row.sympy(*args)))
            truth = sympy.diff(row.sympy(*args), args[i])
            if row.domain.kinks:  # cbrt = |x|^⅓·sign(x): equal on each side of the kink 0
                side = sympy.Symbol("p", positive=True)
                assert all(sympy.simplify((rule - truth).subs(x, s * side)) == 0
                           for s in (1, -1)), (row.name, i, rule, truth)
                continue
            assert sympy.simplify(rule - truth) == 0, (row.name, i, rule, truth)


# --------------------------------------------------------------------------------------------
# Dispatch on the argument's type
# --------------------------------------------------------------------------------------------
SIN_HALF = float(mpmath.sin(mpmath.mpf(0.5)))  # correctly rounded sin(0.5)
COS_HALF = float(mpmath.cos(mpmath.mpf(0.5)))


def test_dispatch_float_and_ndarray() -> None:
    assert abs(diffx.sin(0.5) - SIN_HALF) <= FLOAT_RTOL * SIN_HALF
    assert abs(diffx.sin(1) - math.sin(1.0)) <= FLOAT_RTOL  # ints go to numpy too
    xs = np.array([0.5, -1.0, 2.0])
    got = diffx.sin(xs)
    assert isinstance(got, np.ndarray) and got.shape == (3,) and got.dtype == np.float64
    truth = [float(mpmath.sin(mpmath.mpf(v))) for v in xs]
    assert np.allclose(got, truth, rtol=FLOAT_RTOL, atol=0)


def test_dispatch_float32_stays_float32() -> None:
    got = diffx.sin(np.float32(0.5))
    assert isinstance(got, np.float32)
    assert abs(float(got) - SIN_HALF) <= 2 * float(np.finfo(np.float32).eps)


def test_dispatch_mpmath_keeps_precision() -> None:
    with mpmath.workdps(DPS):
        got = diffx.sin(mpmath.mpf(1) / 3)
        assert isinstance(got, mpmath.mpf)
        truth = sympy.N(sympy.sin(sympy.Rational(1, 3)), DPS)
        assert _rel(got, truth) <= SYMPY_RTOL


def test_dispatch_sympy() -> None:
    x, y = sympy.symbols("x y")
    assert diffx.sin(x) == sympy.sin(x)
    assert diffx.exp(x * y) == sympy.exp(x * y)
    assert diffx.sigmoid(x) == 1 / (1 + sympy.exp(-x))
    assert E.power(x, 2) == x**2
    assert E.add(x, 1) == x + 1


def test_dispatch_object_array_elementwise() -> None:
    x, y = sympy.symbols("x y")
    got = diffx.sin(np.array([x, y * 2], dtype=object))
    assert isinstance(got, np.ndarray) and got.dtype == object
    assert list(got) == [sympy.sin(x), sympy.sin(2 * y)]
    got = E.multiply(np.array([x, y], dtype=object), 3)
    assert list(got) == [3 * x, 3 * y]
    with mpmath.workdps(DPS):
        arr = diffx.exp(np.array([mpmath.mpf(1), mpmath.mpf(2)], dtype=object))
        assert all(isinstance(v, mpmath.mpf) for v in arr)
        assert _rel(arr[1], sympy.N(sympy.exp(2), DPS)) <= SYMPY_RTOL


def test_dispatch_tensorflow_constant_and_variable() -> None:
    import tensorflow as tf

    for arg in (tf.constant(0.5, dtype=tf.float64), tf.Variable(0.5, dtype=tf.float64)):
        got = diffx.sin(arg)
        assert tf.is_tensor(got) and not isinstance(got, tf.Variable)
        assert got.dtype == tf.float64
        assert abs(float(got.numpy()) - SIN_HALF) <= FLOAT_RTOL * SIN_HALF
    # a tensor mixed with a float goes to TensorFlow as well
    got = E.multiply(2.0, tf.constant(0.25, dtype=tf.float64))
    assert tf.is_tensor(got) and float(got.numpy()) == 0.5


def test_dispatch_dual_applies_the_rule() -> None:
    got = diffx.sin(Dual(0.5, 2.0))
    assert isinstance(got, Dual)
    assert abs(got.value - SIN_HALF) <= FLOAT_RTOL * SIN_HALF
    assert abs(got.tangent - 2 * COS_HALF) <= FLOAT_RTOL * 2 * COS_HALF
    prod = E.multiply(Dual(3.0, 1.0), Dual(5.0, 0.5))  # d(ab) = b·da + a·db = 5 + 1.5
    assert (prod.value, prod.tangent) == (15.0, 6.5)


def test_wrong_number_of_arguments() -> None:
    with pytest.raises(TypeError, match="takes 1 argument"):
        diffx.sin(1.0, 2.0)
    with pytest.raises(TypeError, match="takes 2 argument"):
        E.power(2.0)


def test_import_diffx_does_not_import_heavy_packages() -> None:
    code = ("import diffx, sys; "
            "print('tensorflow' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.split() == ["False", "False"]


# --------------------------------------------------------------------------------------------
# Complex numbers (the complex-step method's safety)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [name for name, row in ELEMENTARY.items() if not row.analytic])
@pytest.mark.parametrize("z", [1 + 2j, np.complex128(0.5 - 1e-100j),
                               np.array([1.0 + 0j, 2.0 + 1e-20j])])
def test_non_analytic_rows_refuse_complex(name: str, z) -> None:
    row = ELEMENTARY[name]
    assert {"abs", "relu", "sign", "heaviside", "remainder", "fmod", "copysign", "maximum",
            "minimum", "fmax", "fmin", "heaviside_at"} <= {n for n, r in ELEMENTARY.items()
                                                           if not r.analytic}
    with pytest.raises(UnsupportedError, match="complex"):
        row(z, *[0.5] * (row.arity - 1))


def test_erf_takes_arrays_and_refuses_complex_step_clearly() -> None:
    xs = np.array([[-1.0, 0.0], [0.5, 30.0]])
    got = diffx.erf(xs)
    assert got.shape == (2, 2) and got.dtype == np.float64
    assert [float(v) for v in got.ravel()] == [math.erf(v) for v in xs.ravel()]
    assert isinstance(diffx.erf(0.5), float | np.floating)
    with pytest.raises(UnsupportedError, match="complex-step"):
        diffx.derivative("erf(x)", 0.5, method="complex-step")
    # d/dx erf(x) = 2/sqrt(pi)·exp(-x²), at 50 digits
    with mpmath.workdps(DPS):
        truth = 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-mpmath.mpf(0.5) ** 2)
    assert _rel(diffx.derivative("erf(x)", 0.5, method="dual"), truth) <= DUAL_RTOL


def test_complex_step_through_abs_is_refused() -> None:
    with pytest.raises(UnsupportedError):
        diffx.derivative("abs(x)", 1.5, method="complex-step")


# normwise relative error of complex results: a complex op composes 3–4 real roundings per
# component (e.g. sin(a)cosh(b) + i cos(a)sinh(b)); measured ≤ 2·EPS, bound 8·EPS.
COMPLEX_RTOL = 8 * EPS


@pytest.mark.parametrize(("name", "z", "truth"), [
    ("sin", 0.7 + 0.3j, cmath.sin),
    ("exp", -1.2 + 2.0j, cmath.exp),
    ("log", 2.0 - 0.5j, cmath.log),
    ("sqrt", 3.0 + 4.0j, cmath.sqrt),
    ("arctan", 0.4 + 0.2j, cmath.atan),
    ("sigmoid", 1.0 + 2.0j, lambda z: 1 / (1 + mpmath.exp(-mpmath.mpc(z)))),
    ("sigmoid", -3.0 + 1e-100j, lambda z: 1 / (1 + mpmath.exp(-mpmath.mpc(z)))),
    ("softplus", 1.0 + 2.0j, lambda z: mpmath.log(1 + mpmath.exp(mpmath.mpc(z)))),
    ("softplus", 0.5 + 1e-100j, lambda z: mpmath.log(1 + mpmath.exp(mpmath.mpc(z)))),
])
def test_analytic_rows_give_the_analytic_continuation(name: str, z: complex, truth) -> None:
    row = FUNCTIONS[name]
    assert row.analytic is True
    got = complex(row(z))
    with mpmath.workdps(DPS):
        expected = mpmath.mpc(truth(z))
        err = abs(mpmath.mpc(got) - expected) / abs(expected)
    assert err <= COMPLEX_RTOL
    if abs(z.imag) < 1e-50:  # the complex-step regime: Im f(x + ih) = h·f'(x) to full accuracy
        with mpmath.workdps(DPS):
            d = mpmath.diff(row.mpmath, mpmath.mpf(z.real))
            assert abs(got.imag / z.imag - float(d)) <= 4 * EPS * abs(float(d))


@pytest.mark.parametrize(("name", "args", "slope"), [
    # numpy's hypot, logaddexp, deg2rad and rad2deg refuse complex numbers; the rows' numpy
    # forms take them (the analytic continuation), with Im f(x + ih)/h = ∂f/∂x in closed form
    ("hypot", (0.3 + 1e-100j, -0.4), 0.3 / 0.5),
    ("logaddexp", (-30.0 + 1e-100j, 2.0), 1 / (1 + math.exp(32.0))),
    ("logaddexp", (700.0 + 1e-100j, 699.0), 1 / (1 + math.exp(-1.0))),
    ("deg2rad", (45.0 + 1e-100j,), math.pi / 180),
    ("rad2deg", (1.3 + 1e-100j,), 180 / math.pi),
    # likewise np.cbrt (real cube root: negative left of 0), np.arctan2 (every quadrant;
    # ∂/∂y = x/(x² + y²), ∂/∂x = -y/(x² + y²)) and np.logaddexp2 (∂/∂a = 2^a/(2^a + 2^b))
    ("cbrt", (8.0 + 1e-100j,), 1 / 12), ("cbrt", (-8.0 + 1e-100j,), 1 / 12),
    ("arctan2", (1.0 + 1e-100j, -2.0), -2 / 5), ("arctan2", (-3.0, -4.0 + 1e-100j), 3 / 25),
    ("arctan2", (-4.0 + 1e-100j, 1.0), 1 / 17),
    ("arctan2", (2.0, -1e-3 + 1e-100j), -2 / (4 + 1e-6)),
    ("logaddexp2", (-30.0 + 1e-100j, 2.0), 1 / (1 + 2.0 ** 32)),
])
def test_complex_forms_of_numpy_real_only_ufuncs(name: str, args: tuple, slope: float) -> None:
    row = ELEMENTARY[name]
    got = complex(row(*args))
    real = row(*(a.real if isinstance(a, complex) else a for a in args))
    assert abs(got.real - real) <= FLOAT_RTOL * abs(real)
    assert abs(got.imag / 1e-100 - slope) <= 4 * EPS * abs(slope)


@pytest.mark.parametrize(("a", "b"), [(2.0 + 1.0j, 2.5), (-2.0 + 1e-100j, 2.5), (0.3 - 0.2j, -1.5)])
def test_power_with_float_exponent_accepts_complex(a: complex, b: float) -> None:
    assert E.power.analytic is True
    got = complex(E.power(a, b))
    with mpmath.workdps(DPS):
        expected = mpmath.power(mpmath.mpc(a), mpmath.mpf(b))  # principal branch
        assert abs(mpmath.mpc(got) - expected) / abs(expected) <= COMPLEX_RTOL


def test_complex_step_through_power_and_sigmoid() -> None:
    # d/dx x**2.5 = 2.5·x**1.5 and d/dx sigmoid(x) = s(1-s), closed forms at x = 1.3
    got = diffx.derivative("x**2.5", 1.3, method="complex-step")
    assert abs(got - 2.5 * 1.3**1.5) <= 4 * EPS * abs(got)
    s = 1 / (1 + mpmath.exp(-mpmath.mpf(1.3)))
    got = diffx.derivative("sigmoid(x)", 1.3, method="complex-step")
    assert abs(got - float(s * (1 - s))) <= 4 * EPS * abs(got)


# --------------------------------------------------------------------------------------------
# Numerical stability of the numpy forms
# --------------------------------------------------------------------------------------------
def _quiet(fn, *args):
    """Call with every numpy floating-point problem except underflow raised, warnings errors.

    Underflow is not an error: e**-800 ≈ 3.7e-348 lies below the smallest subnormal, and 0 is
    its correctly rounded value (numpy ignores underflow by default for the same reason).
    """
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise",
                                                invalid="raise", under="ignore"):
        warnings.simplefilter("error")
        return fn(*args)


def test_sigmoid_is_stable_for_huge_arguments() -> None:
    assert _quiet(diffx.sigmoid, 800.0) == 1.0
    assert _quiet(diffx.sigmoid, -800.0) == 0.0  # the correctly rounded value of 3.7e-348
    got = _quiet(diffx.sigmoid, -700.0)  # 9.86e-305: representable, must be accurate
    assert got > 0 and _rel(got, 1 / (1 + mpmath.exp(700))) <= FLOAT_RTOL
    got = _quiet(diffx.sigmoid, np.array([-800.0, -1.0, 0.0, 1.0, 800.0]))
    assert np.all(np.isfinite(got)) and got[2] == 0.5


def test_softplus_is_stable_for_huge_arguments() -> None:
    assert _quiet(diffx.softplus, 800.0) == 800.0  # log(1 + e**800) = 800 + 5e-348
    assert _quiet(diffx.softplus, 1e308) == 1e308
    got = _quiet(diffx.softplus, -700.0)  # log1p(e**-700) ≈ 9.86e-305
    assert got > 0 and _rel(got, mpmath.log1p(mpmath.exp(-700))) <= FLOAT_RTOL
    got = _quiet(diffx.softplus, -740.0)  # ≈ 4.2e-322, subnormal but still positive
    assert 0 < got < 1e-320
    # e**-800 underflows: 0.0 is the correctly rounded value, never negative or NaN
    assert _quiet(diffx.softplus, -800.0) == 0.0


@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_hypot_neither_underflows_nor_overflows(scale: float) -> None:
    import tensorflow as tf

    truth = 5 * scale  # hypot(3s, 4s) = 5s exactly; a² + b² under- or overflows
    for got in (_quiet(diffx.hypot, 3 * scale, 4 * scale),
                float(diffx.hypot(tf.constant(3 * scale, tf.float64), 4 * scale).numpy())):
        assert abs(got - truth) <= FLOAT_RTOL * truth


# --------------------------------------------------------------------------------------------
# Domains
# --------------------------------------------------------------------------------------------
def test_domains() -> None:
    log, sqrt, abs_, arcsin = (FUNCTIONS[n].domain for n in ("log", "sqrt", "abs", "arcsin"))
    assert not log.defined_at(0.0) and not log.defined_at(-1.0) and log.defined_at(1e-300)
    assert log.differentiable_at(2.0) and not log.differentiable_at(0.0)
    assert sqrt.defined_at(0.0) and not sqrt.differentiable_at(0.0)
    assert sqrt.differentiable_at(1e-300) and not sqrt.defined_at(-1e-300)
    assert abs_.defined_at(0.0) and not abs_.differentiable_at(0.0) and 0.0 in abs_.kinks
    assert abs_.differentiable_at(-1e-300) and abs_.differentiable_at(1e-300)
    assert arcsin.defined_at(1.0) and arcsin.defined_at(-1.0) and not arcsin.defined_at(1.0001)
    assert arcsin.differentiable_at(0.0) and arcsin.differentiable_at(0.999999)
    assert not arcsin.differentiable_at(1.0) and not arcsin.differentiable_at(-1.0)
    assert FUNCTIONS["relu"].domain.kinks == (0.0,)
    assert FUNCTIONS["sin"].domain.differentiable_at(1e300)
    assert str(arcsin.values) == "[-1, 1]" and str(arcsin.derivative) == "(-1, 1)"
    assert arcsin.edges == (-1.0, 1.0) and log.edges == (0.0,) and abs_.edges == ()
    # poles: a function whose sign changes exactly there (tan: cos x; 1/x: x)
    tan, reciprocal = ELEMENTARY["tan"].domain, ELEMENTARY["reciprocal"].domain
    assert tan.singular and abs_.singular and not log.singular
    assert tan.sign_change(1.0) == math.cos(1.0) and abs_.sign_change(-3.0) == -3.0
    assert not reciprocal.defined_at(0.0) and reciprocal.defined_at(1e-300)
    assert tan.differentiable_at(1.5) and not reciprocal.differentiable_at(0.0)


# --------------------------------------------------------------------------------------------
# Property: the dual engine (which applies the rules) against mpmath.diff, at random points
# --------------------------------------------------------------------------------------------
# Ranges where the float rules are well conditioned (tanh and sigmoid are also checked far out
# in their tails below). |x| < 1e-3 is excluded because mpmath.diff's absolute step makes its
# *relative* accuracy poor where the derivative itself is ~x (cos, cosh near 0).
SMOOTH_RANGES: dict[str, tuple[float, float]] = {
    "sin": (-10.0, 10.0), "cos": (-10.0, 10.0), "tan": (-1.5, 1.5), "exp": (-50.0, 50.0),
    "log": (1e-3, 1e3), "sqrt": (1e-3, 1e3), "tanh": (-20.0, 20.0), "sinh": (-20.0, 20.0),
    "cosh": (-20.0, 20.0), "arcsin": (-0.9, 0.9), "arccos": (-0.9, 0.9),
    "arctan": (-100.0, 100.0), "sigmoid": (-30.0, 30.0), "softplus": (-30.0, 30.0),
    "expm1": (-30.0, 30.0), "exp2": (-50.0, 50.0), "log1p": (-0.9, 1e3), "log2": (1e-3, 1e3),
    "log10": (1e-3, 1e3), "erf": (-6.0, 6.0), "arcsinh": (-100.0, 100.0),
    "arccosh": (1.001, 1e3), "arctanh": (-0.9, 0.9), "cbrt": (-1e3, 1e3),
}
DUAL_RTOL = 1e-13  # ≈ 450·EPS (the brief's bound): a rule is a few roundings, measured ≤ 1e-15


def test_smooth_ranges_cover_every_analytic_function() -> None:
    # binary functions (hypot, logaddexp) are checked by test_every_engine_differentiates_every_row
    assert set(SMOOTH_RANGES) == {n for n, row in FUNCTIONS.items()
                                  if row.analytic and row.arity == 1}


@pytest.mark.parametrize("name", sorted(SMOOTH_RANGES))
@settings(max_examples=25, deadline=None, database=None)
@given(data=st.data())
def test_dual_derivative_matches_mpmath_diff(name: str, data) -> None:
    lo, hi = SMOOTH_RANGES[name]
    x = data.draw(st.floats(lo, hi).filter(lambda t: abs(t) >= 1e-3), label="x")
    row = FUNCTIONS[name]
    got = diffx.derivative(lambda t: row(t), x, method="dual")
    with mpmath.workdps(DPS):
        truth = mpmath.diff(row.mpmath, mpmath.mpf(x))
    assert _rel(got, truth) <= DUAL_RTOL


# --------------------------------------------------------------------------------------------
# Every engine on every row, written three ways, against mpmath.diff at 50 digits: adding a row
# (with its test points above) adds these tests. Each row is called at one point (the middle of
# its UNARY_POINTS, the first of its BINARY_POINTS) as
#   "numpy":  a callable applying the numpy ufunc that stands for the row (np.expm1(x)),
#   "table":  a callable applying the row itself (diffx.expm1(x)),
#   "string": the parsed text "expm1(x)" (rows the parser names).
# Exact engines must be within EXACT_RTOL of the truth (exactly 0 where it is 0), also for the
# second derivative. Finite differences must be within NUMERIC_RTOL · max(|f'|, |f|, 1): their
# textbook errors (forward: h·|f''|/2 + 2ε|f|/h with h = √ε·s; central: h²·|f'''|/6 + ε|f|/h with
# h = ∛ε·s) are about 1e-8 and 1e-11 of that scale at these moderate points, so the bounds
# leave a factor of ~100 for larger derivatives while still failing at a wrong rule or step.
# Complex-step refuses non-analytic rows; on a numpy callable whose ufunc takes no complex
# numbers (np.hypot) it must refuse too, never return a wrong number.
# --------------------------------------------------------------------------------------------
EXACT_METHODS = ("symbolic", "dual", "reverse", "tape", "tape-forward")
EXACT_RTOL = 1e-13
NUMERIC_RTOL = {"forward": 1e-6, "backward": 1e-6, "central": 1e-9, "richardson": 1e-11,
                "complex-step": 1e-13}
UFUNC_OF_ROW = {row.name: ufunc for ufunc, row in reversed(E.ROW_OF_UFUNC.items())}
FUNCTION_ROWS = sorted(set(FUNCTIONS) | set(NUMPY_ONLY))


def test_engine_lists_cover_every_method() -> None:
    assert set(EXACT_METHODS) | set(NUMERIC_RTOL) == set(diffx.METHODS)


def _engine_point(name: str) -> tuple[float, ...]:
    if name in UNARY_POINTS:
        xs = UNARY_POINTS[name]
        return (xs[len(xs) // 2],)
    return BINARY_POINTS[name][0]


def _form(name: str, written: str):
    row = ELEMENTARY[name]
    if written == "string":
        return f"{name}(x)" if row.arity == 1 else f"{name}(x, y)"
    apply = UFUNC_OF_ROW[name] if written == "numpy" else row
    return (lambda x: apply(x)) if row.arity == 1 else (lambda v: apply(v[0], v[1]))


def _engine_cases(order: int):
    for name in FUNCTION_ROWS:
        if order == 2 and ELEMENTARY[name].arity == 2:
            continue
        for written in ("numpy", "table", "string"):
            if (written == "numpy" and name not in UFUNC_OF_ROW) or (
                    written == "string" and name not in FUNCTIONS):
                continue
            for method in EXACT_METHODS if order == 2 else diffx.METHODS:
                yield pytest.param(name, written, method, id=f"{name}-{written}-{method}")


def _truth(name: str, point: tuple[float, ...], order: int) -> list:
    """∂ᵏf/∂xᵢᵏ for each argument i, by mpmath.diff at 50 digits (the row's mpmath form)."""
    row = ELEMENTARY[name]
    with mpmath.workdps(DPS):
        args = [mpmath.mpf(a) for a in point]
        if row.arity == 1:
            return [mpmath.diff(row.mpmath, args[0], order)]
        return [mpmath.diff(row.mpmath, args, tuple(order * int(j == i) for j in range(2)))
                for i in range(2)]


def _refuses_complex(form, error: type[Exception]) -> bool:
    """Does ``form`` (a numpy ufunc, or a row's numpy form) raise ``error`` on complex input?"""
    n = form.arity if isinstance(form, E.Elementary) else form.nin
    try:
        form(0.5 + 1e-20j, *[0.5] * (n - 1))
    except error:
        return True
    return False


@pytest.mark.parametrize(("name", "written", "method"), list(_engine_cases(1)))
def test_every_engine_differentiates_every_row(name: str, written: str, method: str) -> None:
    row, point = ELEMENTARY[name], _engine_point(name)
    f = _form(name, written)
    differentiate = (lambda: [diffx.derivative(f, point[0], method)]) if row.arity == 1 else (
        lambda: list(diffx.gradient(f, list(point), method)))
    if method == "complex-step":
        if written == "numpy" and not row.analytic:
            pytest.skip("numpy's own complex abs/sign is not differentiable; diffx cannot see "
                        "inside a plain numpy call (the table's row refuses instead)")
        # a row without an accurate complex form refuses (UnsupportedError) like a
        # non-analytic one; so does a numpy ufunc that takes no complex numbers (TypeError)
        if not row.analytic or _refuses_complex(row, UnsupportedError) or (
                written == "numpy" and _refuses_complex(UFUNC_OF_ROW[name], TypeError)):
            with pytest.raises(UnsupportedError, match="complex"):
                differentiate()
            return
    with warnings.catch_warnings():
        warnings.simplefilter("error", diffx.errors.DomainWarning)
        got = differentiate()
    truth = _truth(name, point, 1)
    if method in EXACT_METHODS:
        for g, t in zip(got, truth):
            assert _rel(g, t) <= EXACT_RTOL, (g, t)
        return
    with mpmath.workdps(DPS):
        scale = max([abs(t) for t in truth] + [abs(_mp_value(name, point)), 1])
        error = max(abs(mpmath.mpf(g) - t) for g, t in zip(got, truth)) / scale
    assert error <= NUMERIC_RTOL[method], (got, truth)


@pytest.mark.parametrize(("name", "written", "method"), list(_engine_cases(2)))
def test_every_exact_engine_gives_every_rows_second_derivative(name: str, written: str,
                                                               method: str) -> None:
    got = diffx.derivative(_form(name, written), _engine_point(name)[0], method, order=2)
    (truth,) = _truth(name, _engine_point(name), 2)
    (slope,) = _truth(name, _engine_point(name), 1)
    if abs(truth) <= 1e-40 * max(abs(slope), 1):  # linear (deg2rad): mpmath.diff's noise
        assert abs(got) <= EXACT_RTOL * max(abs(slope), 1), got
        return
    assert _rel(got, truth) <= EXACT_RTOL, (got, truth)


def test_numpy_ufuncs_keep_their_own_values_under_dual_numbers() -> None:
    # the row's value is numpy's accurate ufunc itself, bitwise: expm1(1e-10) is not exp - 1
    for ufunc, row in E.ROW_OF_UFUNC.items():
        args = _engine_point(row.name) if row.name in UNARY_POINTS or row.name in \
            BINARY_POINTS else (0.7,) * row.arity
        duals = [Dual(a, 1.0) for a in args]
        assert ufunc(*duals).value == ufunc(*args), ufunc.__name__
    assert np.expm1(Dual(1e-10, 1.0)).value == np.expm1(1e-10) != np.exp(1e-10) - 1


def test_new_functions_are_parsed_printed_and_traced() -> None:
    x, y = sympy.symbols("x y", real=True)
    assert str(diffx.parse("expm1(x) + log1p(y)").sympy_form(2)[0]) == "expm1(x) + log1p(y)"
    f = diffx.parse("hypot(x, y) * logaddexp(x, y)")
    assert [row["op"] for row in diffx.trace(f, [0.3, 0.4]).rows[2:]] == [
        "hypot", "logaddexp", "multiply"]
    # a SymPy expression of these functions becomes rows of the table
    g = diffx.functions.as_function(sympy.codegen.cfunctions.log2(x) * sympy.sin(y))
    assert sorted(node.op.name for node in g.tree[0].args) == ["log2", "sin"]
    # a numpy callable traced with SymPy symbols prints the functions by name
    h = diffx.functions.as_function(lambda v: np.log10(v[0]) + np.exp2(v[1]))
    assert str(h.sympy_form(2)[0]) == "exp2(x1) + log10(x0)"


# --------------------------------------------------------------------------------------------
# Tail accuracy of the float rules (tanh' written as 1 - tanh² and sigmoid' as s(1 - s) cancel
# to 0 for large |x|; the table uses 1/cosh² and s(x)·s(-x), which keep full relative accuracy)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("x", [10.0, 20.0, -20.0, 300.0])
def test_tanh_rule_keeps_relative_accuracy_in_the_tails(x: float) -> None:
    got = diffx.derivative(lambda t: diffx.tanh(t), x, method="dual")
    with mpmath.workdps(DPS):
        truth = 1 / mpmath.cosh(mpmath.mpf(x)) ** 2  # 1.7e-17 at 20, 3.5e-260 at 300
    assert _rel(got, truth) <= DUAL_RTOL


@pytest.mark.parametrize("x", [15.0, 40.0, 700.0, -40.0])
def test_sigmoid_rule_keeps_relative_accuracy_in_the_tails(x: float) -> None:
    got = diffx.derivative(lambda t: diffx.sigmoid(t), x, method="dual")
    with mpmath.workdps(DPS):
        s = 1 / (1 + mpmath.exp(-mpmath.mpf(x)))
        truth = s * (1 - s)  # 4.2e-18 at 40, 9.9e-305 at 700
    assert _rel(got, truth) <= DUAL_RTOL


# --------------------------------------------------------------------------------------------
# The conventions of the piecewise numpy rows at their kinks, against closed forms
# --------------------------------------------------------------------------------------------
TABLE_ENGINES = ("dual", "reverse", "symbolic", "tape")


def _gradients(f, point) -> dict[str, list[float]]:
    """f's gradient by every exact engine and the reference (kink warnings silenced)."""
    from diffx.reference import reference_gradient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", diffx.errors.NonDifferentiableWarning)
        got = {m: list(diffx.gradient(f, list(point), m)) for m in TABLE_ENGINES}
        got["reference"] = [float(v) for v in reference_gradient(f, np.array(point))]
    return got


@pytest.mark.parametrize(("ufunc", "a", "b", "slope_b"), [
    # at a multiple of b: remainder = fmod = 0, ∂/∂a = 1, ∂/∂b = -floor(a/b) resp. -trunc(a/b)
    (np.remainder, 6.0, 2.0, -3.0), (np.remainder, 6.0, -2.0, 3.0),
    (np.remainder, -6.0, 4.0, 2.0),  # -6/4 = -1.5: floor -2
    (np.fmod, 6.0, 2.0, -3.0), (np.fmod, -6.0, 4.0, 1.0),  # trunc(-1.5) = -1
    (np.fmod, 7.5, -2.5, 3.0),
])
def test_remainder_and_fmod_derivatives(ufunc, a: float, b: float, slope_b: float) -> None:
    for method, gradient in _gradients(lambda v: ufunc(v[0], v[1]), (a, b)).items():
        assert gradient == [1.0, slope_b], method


@pytest.mark.parametrize(("a", "b", "expected"), [
    (0.0, -2.0, [0.0, 0.0]),  # the kink a = 0: sign(0) = 0, as abs'(0)
    (1.5, -2.0, [-1.0, 0.0]), (-1.5, 3.0, [-1.0, 0.0]), (-1.5, -3.0, [1.0, 0.0]),
])
def test_copysign_derivative_and_its_kink(a: float, b: float, expected: list) -> None:
    # ∂/∂a copysign(a, b) = sign(a)·sign(b), ∂/∂b = 0
    for method, gradient in _gradients(lambda v: np.copysign(v[0], v[1]), (a, b)).items():
        assert gradient == expected, method


def test_copysign_sees_negative_zero() -> None:
    assert E.copysign(2.0, -0.0) == -2.0
    got = diffx.gradient(lambda v: np.copysign(v[0], -0.0 * v[1]), [1.5, 1.0], "dual")
    assert list(got) == [-1.0, 0.0]


@pytest.mark.parametrize("ufunc", [np.maximum, np.fmax, np.minimum, np.fmin])
def test_extremum_at_a_tie_gives_half_to_each(ufunc) -> None:
    # the mean of the two tangents at a = b; np.maximum(x, 0) at 0 is ½, unlike relu'(0) = 0
    for method, gradient in _gradients(lambda v: ufunc(v[0], v[1]), (1.25, 1.25)).items():
        assert gradient == [0.5, 0.5], method
    for method, gradient in _gradients(lambda v: ufunc(v[0], 0.0) + 0 * v[1], (0.0, 1.0)).items():
        assert gradient == [0.5, 0.0], method
    larger = ufunc in (np.maximum, np.fmax)
    for method, gradient in _gradients(lambda v: ufunc(v[0], v[1]), (2.0, -1.0)).items():
        assert gradient == ([1.0, 0.0] if larger else [0.0, 1.0]), method


def test_fmax_and_fmin_ignore_nan_as_numpy() -> None:
    got = np.fmax(Dual(np.array([1.0, np.nan]), np.array([1.0, 1.0])), 0.5)
    assert list(got.value) == [1.0, 0.5]


def test_heaviside_with_its_value_at_zero() -> None:
    # np.heaviside(x, h0): 0 / h0 / 1; derivative 0 in x, and 1 in h0 exactly at x = 0
    assert [E.heaviside_at(x, 0.25) for x in (-1.0, 0.0, 2.0)] == [0.0, 0.25, 1.0]
    for point, expected in (((0.0, 0.25), [0.0, 1.0]), ((0.5, 0.25), [0.0, 0.0])):
        for method, gradient in _gradients(lambda v: np.heaviside(v[0], v[1]), point).items():
            assert gradient == expected, method


def test_arccosh_at_its_edge_and_inside() -> None:
    from diffx.errors import DomainError
    from diffx.reference import reference_derivative

    for f in ("arccosh(x)", lambda x: np.arccosh(x)):
        with pytest.raises(DomainError, match="edge"):
            reference_derivative(f, 1.0)
        # d/dx arccosh x = 1/sqrt(x² - 1): 4/3 at 5/4
        assert abs(float(reference_derivative(f, 1.25)) - 4 / 3) <= EPS
        for method in TABLE_ENGINES:
            assert abs(diffx.derivative(f, 1.25, method) - 4 / 3) <= 4 * EPS, method
    assert E.arccosh.domain.edges == (1.0,) and E.arctanh.domain.edges == (-1.0, 1.0)


@pytest.mark.parametrize(("y", "x"), [(1.0, 2.0), (1.0, -2.0), (-3.0, -4.0), (-4.0, 1e-3)])
def test_arctan2_partials_in_every_quadrant(y: float, x: float) -> None:
    # ∂/∂y = x/(x² + y²), ∂/∂x = -y/(x² + y²), in exact rationals
    r2 = sympy.Rational(x) ** 2 + sympy.Rational(y) ** 2
    truth = [sympy.Rational(x) / r2, -sympy.Rational(y) / r2]
    for method, gradient in _gradients(lambda v: np.arctan2(v[0], v[1]), (y, x)).items():
        assert all(_rel(g, t) <= EXACT_RTOL for g, t in zip(gradient, truth)), method


def test_cbrt_is_real_for_negative_arguments() -> None:
    # cbrt(-8) = -2, d/dx cbrt x = 1/(3·cbrt(x)²) = 1/12 at ±8
    assert E.cbrt(-8.0) == -2.0 and E.cbrt.mpmath(mpmath.mpf(-8)) == -2
    assert E.cbrt.sympy(sympy.Integer(-8)) == -2
    for method in (*TABLE_ENGINES, "complex-step"):
        assert abs(diffx.derivative("cbrt(x)", -8.0, method) - 1 / 12) <= 4 * EPS, method
