"""Dual numbers (diffx.engines.dual): arithmetic, numpy ufuncs, arrays, nesting, jvp.

Every expected value is a closed form (a derivative rule written out by hand) or SymPy's k-th
derivative evaluated at 50 digits. Duals compute the derivative formula in float64, so the only
error is rounding: relative error at most EXACT_RTOL = 1e-13.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy

import diffx
from diffx import Dual

EXACT_RTOL = 1e-13


def close(a, b, rtol: float = EXACT_RTOL) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(np.abs(a - b) <= rtol * np.abs(b)))


# --------------------------------------------------------------------------------------------
# Arithmetic: a = 1.5 + 2ε, b = 0.5 - ε
# --------------------------------------------------------------------------------------------
A, DA, B, DB = 1.5, 2.0, 0.5, -1.0

ARITHMETIC = {
    # name: (operation on duals, value, tangent by the rule written out)
    "a+b": (lambda a, b: a + b, A + B, DA + DB),
    "a-b": (lambda a, b: a - b, A - B, DA - DB),
    "a*b": (lambda a, b: a * b, A * B, DA * B + A * DB),
    "a/b": (lambda a, b: a / b, A / B, (DA * B - A * DB) / B**2),
    "a**b": (lambda a, b: a**b, A**B, B * A ** (B - 1) * DA + A**B * math.log(A) * DB),
    "a**3": (lambda a, b: a**3, A**3, 3 * A**2 * DA),
    "2**a": (lambda a, b: 2**a, 2**A, 2**A * math.log(2) * DA),
    "-a": (lambda a, b: -a, -A, -DA),
    "+a": (lambda a, b: +a, A, DA),
    "abs(-a)": (lambda a, b: abs(-a), A, DA),
    "3-a": (lambda a, b: 3 - a, 3 - A, -DA),
    "3/a": (lambda a, b: 3 / a, 3 / A, -3 * DA / A**2),
    "1+a": (lambda a, b: 1 + a, 1 + A, DA),
    "a*4": (lambda a, b: a * 4, 4 * A, 4 * DA),
    "sin(a)*b": (lambda a, b: diffx.sin(a) * b, math.sin(A) * B,
                 math.cos(A) * DA * B + math.sin(A) * DB),
    "exp(a/b)": (lambda a, b: diffx.exp(a / b), math.exp(A / B),
                 math.exp(A / B) * (DA * B - A * DB) / B**2),
    "sigmoid(a)": (lambda a, b: diffx.sigmoid(a), 1 / (1 + math.exp(-A)),
                   math.exp(-A) / (1 + math.exp(-A)) ** 2 * DA),
    "softplus(a)": (lambda a, b: diffx.softplus(a), math.log1p(math.exp(A)),
                    DA / (1 + math.exp(-A))),
    "arcsin(b)": (lambda a, b: diffx.arcsin(b), math.asin(B), DB / math.sqrt(1 - B**2)),
    "arccos(b)": (lambda a, b: diffx.arccos(b), math.acos(B), -DB / math.sqrt(1 - B**2)),
    "tan(a)": (lambda a, b: diffx.tan(a), math.tan(A), DA / math.cos(A) ** 2),
    "cosh(a)": (lambda a, b: diffx.cosh(a), math.cosh(A), math.sinh(A) * DA),
    "relu(-b)": (lambda a, b: diffx.relu(-b), 0.0, 0.0),
    "relu(a)": (lambda a, b: diffx.relu(a), A, DA),
}


@pytest.mark.parametrize("name", list(ARITHMETIC))
def test_arithmetic_matches_closed_form(name: str) -> None:
    op, value, tangent = ARITHMETIC[name]
    out = op(Dual(A, DA), Dual(B, DB))
    assert isinstance(out, Dual)
    assert close(out.value, value) and close(out.tangent, tangent), (out, value, tangent)


def test_comparisons_look_at_values_only() -> None:
    a, b = Dual(A, DA), Dual(B, DB)
    assert a > b and b < a and a >= 1.5 and a <= 1.5 and not (a < 1.0)


def test_branching_callable_follows_the_primal_path() -> None:
    def f(x):
        return x**2 if x > 0 else -3 * x

    assert diffx.derivative(f, 1.5) == 3.0  # 2x
    assert diffx.derivative(f, -1.0) == -3.0


def test_float_of_a_dual_raises_type_error() -> None:
    with pytest.raises(TypeError, match="drop its derivative"):
        float(Dual(1.0, 1.0))
    with pytest.raises(TypeError):
        math.sin(Dual(1.0, 1.0))  # math.* converts to float: refused, not silently wrong


def test_scalar_dual_has_no_len() -> None:
    with pytest.raises(TypeError):
        len(Dual(1.0, 1.0))


# --------------------------------------------------------------------------------------------
# numpy ufuncs
# --------------------------------------------------------------------------------------------
X = 0.7
UFUNCS = {
    np.sin: (math.sin(X), math.cos(X)),
    np.cos: (math.cos(X), -math.sin(X)),
    np.tan: (math.tan(X), 1 / math.cos(X) ** 2),
    np.exp: (math.exp(X), math.exp(X)),
    np.log: (math.log(X), 1 / X),
    np.sqrt: (math.sqrt(X), 0.5 / math.sqrt(X)),
    np.tanh: (math.tanh(X), 1 - math.tanh(X) ** 2),
    np.sinh: (math.sinh(X), math.cosh(X)),
    np.arctan: (math.atan(X), 1 / (1 + X**2)),
    np.arcsin: (math.asin(X), 1 / math.sqrt(1 - X**2)),
    np.negative: (-X, -1.0),
    np.abs: (X, 1.0),
}


@pytest.mark.parametrize("ufunc", list(UFUNCS), ids=lambda u: u.__name__)
def test_numpy_ufunc_on_dual(ufunc) -> None:
    value, derivative = UFUNCS[ufunc]
    out = ufunc(Dual(X, 1.0))
    assert isinstance(out, Dual)
    assert close(out.value, value) and close(out.tangent, derivative)


def test_numpy_binary_ufuncs_on_duals() -> None:
    a, b = Dual(A, DA), Dual(B, DB)
    for out, value, tangent in ((np.multiply(a, b), A * B, DA * B + A * DB),
                                (np.add(a, 2.0), A + 2, DA),
                                (np.power(a, 3.0), A**3, 3 * A**2 * DA),
                                (np.divide(1.0, a), 1 / A, -DA / A**2)):
        assert isinstance(out, Dual) and close(out.value, value) and close(out.tangent, tangent)


def test_numpy_ufunc_without_a_rule_is_refused() -> None:
    with pytest.raises(TypeError):
        np.floor(Dual(X, 1.0))  # no derivative rule: numpy reports the unsupported operand


def test_numpy_callable_differentiates_through_ufuncs() -> None:
    value = diffx.derivative(lambda x: np.sin(x) * np.exp(x), 1.3)
    assert close(value, math.exp(1.3) * (math.sin(1.3) + math.cos(1.3)))


# --------------------------------------------------------------------------------------------
# Array-valued duals
# --------------------------------------------------------------------------------------------
def test_array_duals_are_elementwise() -> None:
    v = np.array([0.1, 0.2, 0.3])
    d = Dual(v, np.ones(3))
    assert d.shape == (3,) and d.ndim == 1 and len(d) == 3
    out = np.sin(d) * d
    assert close(out.value, np.sin(v) * v)
    assert close(out.tangent, np.cos(v) * v + np.sin(v))
    total = (d * d).sum()
    assert close(total.value, np.sum(v * v)) and close(total.tangent, np.sum(2 * v))
    assert close(d[1].value, 0.2) and close(d[1].tangent, 1.0)
    assert [float(item.value) for item in d] == list(v)
    assert close(d[1:].value, v[1:])


def test_dual_vector_gives_a_directional_derivative() -> None:
    # f(x, y) = x²y along (1, 2) at (3, 4): ∇f = (2xy, x²) = (24, 9); ∇f·(1, 2) = 42
    d = Dual(np.array([3.0, 4.0]), np.array([1.0, 2.0]))
    out = d[0] ** 2 * d[1]
    assert out.value == 36.0 and out.tangent == 42.0


# --------------------------------------------------------------------------------------------
# Higher orders by nesting, against SymPy's k-th derivative at 50 digits
# --------------------------------------------------------------------------------------------
_x = sympy.Symbol("x", real=True)
HIGHER = {
    "sin(x)*exp(x)": sympy.sin(_x) * sympy.exp(_x),
    "tanh(x)": sympy.tanh(_x),
    "1/(1 + x**2)": 1 / (1 + _x**2),
    "log(1 + x**2)": sympy.log(1 + _x**2),
    "sigmoid(x)": 1 / (1 + sympy.exp(-_x)),
    "sqrt(1 + x)*cos(x)": sympy.sqrt(1 + _x) * sympy.cos(_x),
}
AT = 0.7


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("text", list(HIGHER))
def test_nested_duals_match_sympy_kth_derivative(text: str, order: int) -> None:
    exact = sympy.diff(HIGHER[text], _x, order).evalf(50, subs={_x: sympy.Rational(AT)})
    value = diffx.derivative(text, AT, "dual", order=order)
    assert abs(value - float(exact)) <= EXACT_RTOL * abs(float(exact)), (value, exact)


def test_polynomial_derivatives_vanish_past_the_degree() -> None:
    assert diffx.derivative("x**3 - 2*x", 1.7, "dual", order=3) == 6.0
    assert diffx.derivative("x**3 - 2*x", 1.7, "dual", order=4) == 0.0


def test_hessian_by_nested_duals() -> None:
    # f = x²y + sin(y): H = [[2y, 2x], [2x, -sin y]]
    H = diffx.hessian("x**2*y + sin(y)", [1.5, 0.3], "dual")
    assert close(H, [[0.6, 3.0], [3.0, -math.sin(0.3)]])


# --------------------------------------------------------------------------------------------
# Perturbation confusion (Siskind & Pearlmutter)
# --------------------------------------------------------------------------------------------
def test_no_perturbation_confusion_with_derivative() -> None:
    """d/dx [x · (d/dy (x + y))|_{y=1}]|_{x=1} = d/dx [x · 1] = 1; a confused implementation,
    which lets the inner derivative see x's perturbation, returns 2."""
    value = diffx.derivative(lambda x: x * diffx.derivative(lambda y: x + y, 1.0), 1.0)
    assert value == 1.0


def test_no_perturbation_confusion_with_jvp() -> None:
    # same with jvp, which returns duals untouched: 1 here, and with an inner derivative that
    # does depend on x, d/dx [x · (d/dy (x·y))] = d/dx x² = 2x = 2 at 1
    assert diffx.jvp(lambda x: x * diffx.jvp(lambda y: x + y, 1.0, 1.0)[1], 1.0, 1.0) == (1.0,
                                                                                         1.0)
    assert diffx.jvp(lambda x: x * diffx.jvp(lambda y: x * y, 1.0, 1.0)[1], 1.0, 1.0) == (1.0,
                                                                                         2.0)


def test_nested_derivative_keeps_the_outer_perturbation() -> None:
    value = diffx.derivative(lambda x: x * diffx.derivative(lambda y: x * y, 1.0), 1.0)
    assert value == 2.0  # d/dx [x · x] = 2x


# --------------------------------------------------------------------------------------------
# jvp, the public forward-mode core
# --------------------------------------------------------------------------------------------
def test_jvp_scalar() -> None:
    value, tangent = diffx.jvp(lambda x: diffx.sin(x) * x, 0.5, 2.0)
    assert close(value, math.sin(0.5) * 0.5)
    assert close(tangent, 2.0 * (math.cos(0.5) * 0.5 + math.sin(0.5)))
    assert isinstance(value, float) and isinstance(tangent, float)


def test_jvp_vector_input_scalar_output() -> None:
    # ∇(x·y) = (y, x) = (2, 1); along (1, 0): 2
    assert diffx.jvp("x*y", [1.0, 2.0], [1.0, 0.0]) == (2.0, 2.0)
    assert diffx.jvp("x*y", [1.0, 2.0], [3.0, -1.0]) == (2.0, 5.0)


def test_jvp_vector_output() -> None:
    # F = (xy, x + y, exp(x)); J = [[y, x], [1, 1], [e^x, 0]]; J·(1, 1) = (3, 2, e)
    value, tangent = diffx.jvp("[x*y, x + y, exp(x)]", [1.0, 2.0], [1.0, 1.0])
    assert value.shape == tangent.shape == (3,)
    assert close(value, [2.0, 3.0, math.e]) and close(tangent, [3.0, 2.0, math.e])


def test_jvp_broadcasts_a_scalar_direction() -> None:
    _, tangent = diffx.jvp("x*y", [1.0, 2.0], 1.0)  # direction (1, 1): y + x
    assert tangent == 3.0


def test_jacobian_by_forward_passes() -> None:
    J = diffx.jacobian("[r*cos(t), r*sin(t)]", [2.0, 0.6], "dual")
    assert close(J, [[math.cos(0.6), -2 * math.sin(0.6)], [math.sin(0.6), 2 * math.cos(0.6)]])


def test_derivative_at_a_dual_point_nests() -> None:
    # the inner derivative is called at the outer Dual: d/dx sin'(x) = -sin x
    value = diffx.derivative(lambda x: diffx.derivative(diffx.sin, x), 1.0)
    assert abs(value + math.sin(1.0)) <= 1e-15
