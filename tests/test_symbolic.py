"""The symbolic engine (diffx.engines.symbolic): SymPy diff, lambdify(cse=True), cached per
function; kinks (abs, relu, heaviside); vector Jacobians; large expressions left unsimplified.

Expected expressions are written by hand with SymPy; expected numbers are closed forms. The
symbolic engine evaluates the exact derivative formula in float64: relative error ≤ 1e-13.
"""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest
import sympy

import diffx
from diffx import catalog, parse
from diffx.engines import symbolic
from diffx.engines.symbolic import SIMPLIFY_MAX_OPS, derivative_expression
from diffx.errors import UnsupportedError

EXACT_RTOL = 1e-13
x = sympy.Symbol("x", real=True)

HAND = [
    # text, order, the derivative written by hand with SymPy
    ("sin(x)*exp(x)", 1, sympy.exp(x) * (sympy.sin(x) + sympy.cos(x))),
    ("sin(x)*exp(x)", 2, 2 * sympy.exp(x) * sympy.cos(x)),
    ("x**3", 1, 3 * x**2),
    ("x**3", 3, sympy.Integer(6)),
    ("log(1 + x**2)", 1, 2 * x / (1 + x**2)),
    ("tanh(x)", 1, 1 - sympy.tanh(x) ** 2),
    ("sigmoid(x)", 1, sympy.exp(-x) / (1 + sympy.exp(-x)) ** 2),
    ("arctan(sqrt(1 + x**2))", 1, x / (sympy.sqrt(1 + x**2) * (2 + x**2))),
    ("(x**2 - 1)/(x - 1)", 1, sympy.Integer(1)),
]


@pytest.mark.parametrize(("text", "order", "hand"), HAND, ids=[f"{t}-d{k}" for t, k, _ in HAND])
def test_derivative_expression_matches_hand_sympy(text, order, hand) -> None:
    got = derivative_expression(parse(text), order)
    assert sympy.simplify((got - hand).rewrite(sympy.exp)) == 0, (got, hand)
    # and numerically, at 50 digits, at an arbitrary point
    at = sympy.Rational(7, 10)
    assert abs(sympy.N((got - hand).subs(x, at), 50)) < sympy.Float("1e-45")


def test_small_derivatives_are_simplified() -> None:
    # diff gives 2x/(x-1) - (x²-1)/(x-1)², which simplify() reduces to 1
    assert derivative_expression(parse("(x**2 - 1)/(x - 1)")) == 1


def test_large_expressions_are_not_simplified(monkeypatch) -> None:
    """Above SIMPLIFY_MAX_OPS operations the derivative is left exactly as diff produced it,
    and simplify() is never called (it can take minutes on big trees)."""
    fn = catalog.get("logistic_map").function()  # degree-16 polynomial written out
    (form,) = fn.sympy_form(1)
    (symbol,) = fn.symbols(1)
    raw = sympy.diff(form, symbol)
    assert sympy.count_ops(raw) > SIMPLIFY_MAX_OPS

    def no_simplify(*args, **kwargs):
        raise AssertionError("simplify called on a large expression")

    monkeypatch.setattr(sympy, "simplify", no_simplify)
    assert derivative_expression(fn) == raw


@pytest.mark.parametrize(("text", "at", "exact"), [
    ("sin(x)*exp(x)", 1.3, math.exp(1.3) * (math.sin(1.3) + math.cos(1.3))),
    ("x**5 - 3*x**3 + 2*x - 7", 1.7, 5 * 1.7**4 - 9 * 1.7**2 + 2),
    ("tan(x)", 1.5, 1 / math.cos(1.5) ** 2),
])
def test_values_match_closed_forms(text, at, exact) -> None:
    value = diffx.derivative(text, at, "symbolic")
    assert isinstance(value, float)
    assert abs(value - exact) <= EXACT_RTOL * abs(exact)


# --------------------------------------------------------------------------------------------
# The compiled-function cache on the Function
# --------------------------------------------------------------------------------------------
def test_second_call_does_not_lambdify_again(monkeypatch) -> None:
    fn = parse("sin(x)*exp(-x**2)")
    first = diffx.derivative(fn, 0.5, "symbolic")
    cache = fn.cache.peek("symbolic")
    assert set(cache) == {("derivative", 1)}
    compiled = cache["derivative", 1]

    def no_lambdify(*args, **kwargs):
        raise AssertionError("lambdify called again for a cached derivative")

    monkeypatch.setattr(sympy, "lambdify", no_lambdify)
    second = diffx.derivative(fn, 0.7, "symbolic")
    assert cache["derivative", 1] is compiled
    assert first != second  # really evaluated at the new point
    exact = math.exp(-0.49) * (math.cos(0.7) - 1.4 * math.sin(0.7))
    assert abs(second - exact) <= EXACT_RTOL * abs(exact)
    monkeypatch.undo()
    diffx.derivative(fn, 0.7, "symbolic", order=2)  # a new kind of derivative compiles anew
    assert set(cache) == {("derivative", 1), ("derivative", 2)}


def test_cache_keys_for_jacobian_and_hessian() -> None:
    fn = parse("x**2*y + y**3")
    np.testing.assert_array_equal(diffx.gradient(fn, [1.0, 2.0], "symbolic"), [4.0, 13.0])
    np.testing.assert_array_equal(diffx.hessian(fn, [1.0, 2.0], "symbolic"),
                                  [[4.0, 2.0], [2.0, 12.0]])
    assert set(fn.cache.peek("symbolic")) == {("jacobian", 2), ("hessian", 2)}


# --------------------------------------------------------------------------------------------
# Kinks: abs, relu, heaviside
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "at", "exact"), [
    ("abs(x)", -1.0, -1.0), ("abs(x)", 1.0, 1.0),
    ("abs(x)", 0.0, 0.0),          # sign(0) = 0, the documented convention at the kink
    ("abs(x - 1)", 0.3, -1.0),
    ("relu(x)", -1.0, 0.0), ("relu(x)", 1.0, 1.0),
    ("relu(x)**2", 0.3, 0.6), ("x*relu(x)", -0.5, 0.0), ("x*relu(x)", 0.5, 1.0),
])
def test_abs_and_relu_first_derivatives(text, at, exact) -> None:
    assert diffx.derivative(text, at, "symbolic") == exact


# SymPy alone gives 1/2 here: Max(0, x)' = Heaviside(x) with H(0) = 1/2
def test_relu_derivative_at_the_kink_follows_the_documented_convention() -> None:
    assert diffx.derivative("relu(x)", 0.0, "symbolic") == 0.0


# SymPy alone gives DiracDelta terms here, which lambdify cannot translate to numpy
@pytest.mark.parametrize(("text", "order"), [("heaviside(x)", 1), ("sign(x)", 1),
                                             ("abs(x - 1)", 2), ("relu(x)", 2)])
def test_dirac_delta_terms_evaluate_to_zero_away_from_the_kink(text, order) -> None:
    assert diffx.derivative(text, 0.3, "symbolic", order=order) == 0.0


# --------------------------------------------------------------------------------------------
# Vector functions and callables
# --------------------------------------------------------------------------------------------
def test_vector_jacobian() -> None:
    # F = (xy, sin x + y², exp(xy)) at (0.5, 1.5)
    X, Y = 0.5, 1.5
    J = diffx.jacobian("[x*y, sin(x) + y**2, exp(x*y)]", [X, Y], "symbolic")
    exact = np.array([[Y, X], [math.cos(X), 2 * Y],
                      [Y * math.exp(X * Y), X * math.exp(X * Y)]])
    assert J.shape == (3, 2)
    assert np.linalg.norm(J - exact) <= EXACT_RTOL * np.linalg.norm(exact)


def test_vector_jacobian_of_a_sympy_list() -> None:
    r, t = sympy.symbols("r t", real=True)
    J = diffx.jacobian([r * sympy.cos(t), r * sympy.sin(t)], [2.0, 0.6], "symbolic")
    exact = np.array([[math.cos(0.6), -2 * math.sin(0.6)], [math.sin(0.6), 2 * math.cos(0.6)]])
    assert np.linalg.norm(J - exact) <= EXACT_RTOL * np.linalg.norm(exact)


def test_traceable_callable() -> None:
    value = diffx.derivative(lambda t: diffx.sin(t) * t, 1.0, "symbolic")
    exact = math.cos(1.0) + math.sin(1.0)
    assert abs(value - exact) <= EXACT_RTOL * exact


def test_branching_callable_cannot_be_traced() -> None:
    with pytest.raises(UnsupportedError, match="could not be traced"):
        diffx.derivative(lambda t: t if t > 0 else -t, 1.0, "symbolic")


def test_module_exports() -> None:
    assert set(symbolic.__all__) >= {"derivative", "jacobian", "hessian",
                                     "derivative_expression", "SIMPLIFY_MAX_OPS"}


# --------------------------------------------------------------------------------------------
# Evaluation never goes through simplify (it is for display)
# --------------------------------------------------------------------------------------------
def test_a_simplification_that_overflows_is_not_what_is_evaluated() -> None:
    """simplify rewrote d/dx (10.31**(2x) - x) as log((1031/100)**(2*1062961**x))/10000**x,
    which overflows to inf at 0.6. The engine evaluates diff's own form: 2·ln(10.31)·10.31^(2x)
    - 1, closed form at 50 digits."""
    with mpmath.workdps(50):
        a, x = mpmath.mpf("10.31"), mpmath.mpf(0.6)
        exact = 2 * mpmath.log(a) * a ** (2 * x) - 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DomainWarning: the value is finite
        value = diffx.derivative("10.31**(x + x) - x", 0.6, method="symbolic")
    assert abs(value - exact) <= EXACT_RTOL * abs(exact)
    fn = parse("10.31**(x + x) - x")
    x_ = fn.symbols(1)[0]
    assert derivative_expression(fn, simplify=False) == sympy.diff(fn.sympy_form(1)[0], x_)


def test_jacobians_and_hessians_are_evaluated_unsimplified() -> None:
    """The same function through gradient and hessian: 2·ln(a)·a^(2x) and 4·ln(a)²·a^(2x) in
    x, plus the y terms, against closed forms at 50 digits."""
    with mpmath.workdps(50):
        a, x = mpmath.mpf("10.31"), mpmath.mpf(0.6)
        g = 2 * mpmath.log(a) * a ** (2 * x)
        h = 4 * mpmath.log(a) ** 2 * a ** (2 * x)
    gradient = diffx.gradient("10.31**(x + x) - x*y", [0.6, 2.0], method="symbolic")
    assert abs(gradient[0] - (g - 2)) <= EXACT_RTOL * abs(g - 2) and gradient[1] == -0.6
    hessian = diffx.hessian("10.31**(x + x) - x*y", [0.6, 2.0], method="symbolic")
    assert abs(hessian[0, 0] - h) <= EXACT_RTOL * h
    assert hessian[0, 1] == hessian[1, 0] == -1.0 and hessian[1, 1] == 0.0
