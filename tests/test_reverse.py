"""diffx's own reverse mode (method "reverse", diffx.engines.reverse).

Expected values are closed forms written out by hand (evaluated in float64 or mpmath at 50
digits) or the 50-digit reference of :mod:`diffx.reference`; never another engine. The method is
exact (the derivative formula in float64), so the tolerance is rounding: relative error at most
EXACT_RTOL = 1e-13. The full catalogue × {derivative, gradient, Jacobian, Hessian} sweep lives in
tests/test_agreement.py; the measured worst relative errors there are noted in
``test_worst_catalogue_errors``.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import diffx
from diffx import catalog
from diffx.compare import compare
from diffx.engines import DESCRIPTIONS, FAMILIES, METHODS, reverse
from diffx.errors import DiffxError
from diffx.functions import as_function
from diffx.reference import reference_derivative, reference_hessian, reference_jacobian, to_float

EXACT_RTOL = 1e-13


pytestmark = pytest.mark.usefixtures("fifty_digits")  # tests/conftest.py


def relative_error(value, truth) -> float:
    value, truth = np.asarray(value, dtype=float), np.asarray(truth, dtype=float)
    norm = np.linalg.norm(truth)
    return float(np.linalg.norm(value - truth) / norm) if norm else float(np.linalg.norm(value))


def test_reverse_is_a_registered_automatic_method() -> None:
    assert METHODS[-1] == "reverse"
    assert "reverse" in diffx.METHODS
    assert FAMILIES["reverse"] == "automatic"
    assert "reverse" in DESCRIPTIONS["reverse"]


# --------------------------------------------------------------------------------------------
# The textbook example f = ln x1 + x1 x2 - sin x2 at (2, 5)
# --------------------------------------------------------------------------------------------
TEXTBOOK = "log(x1) + x1*x2 - sin(x2)"


def test_textbook_gradient() -> None:
    g = diffx.gradient(TEXTBOOK, [2, 5], method="reverse")
    assert g.shape == (2,)
    assert relative_error(g, [1 / 2 + 5, 2 - math.cos(5)]) <= EXACT_RTOL  # (1/x1 + x2, x1 - cos x2)


def test_textbook_hessian() -> None:
    H = diffx.hessian(TEXTBOOK, [2, 5], method="reverse")
    truth = [[-1 / 4, 1], [1, math.sin(5)]]  # [[-1/x1², 1], [1, sin x2]]
    assert relative_error(H, truth) <= EXACT_RTOL


# --------------------------------------------------------------------------------------------
# Higher derivatives: forward over reverse with nested duals
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("order", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("form", ["string", "callable"])
def test_higher_derivatives_of_sin_exp(order: int, form: str) -> None:
    """(sin x · eˣ)⁽ᵏ⁾ = 2^(k/2) eˣ sin(x + kπ/4)."""
    f = "sin(x)*exp(x)" if form == "string" else (lambda x: diffx.sin(x) * diffx.exp(x))
    x = mpmath.mpf("1.3")
    truth = 2 ** (mpmath.mpf(order) / 2) * mpmath.exp(x) * mpmath.sin(x + order * mpmath.pi / 4)
    value = diffx.derivative(f, 1.3, method="reverse", order=order)
    assert isinstance(value, float)
    assert relative_error(value, float(truth)) <= EXACT_RTOL


@pytest.mark.parametrize(("order", "truth"), [
    (1, 5 * 1.7**4 - 9 * 1.7**2 + 2), (3, 60 * 1.7**2 - 18), (4, 120 * 1.7), (5, 120.0),
    (6, 0.0)])
def test_polynomial_derivatives_are_exact(order: int, truth: float) -> None:
    value = diffx.derivative("x**5 - 3*x**3 + 2*x - 7", 1.7, method="reverse", order=order)
    if truth == 0:
        assert value == 0.0
    else:
        assert relative_error(value, truth) <= EXACT_RTOL


def test_order_zero_is_the_value() -> None:
    assert diffx.derivative("x**2", 3.0, method="reverse", order=0) == 9.0


@pytest.mark.parametrize("name", [n for n in catalog.names()
                                  if len(catalog.get(n).point) == 1
                                  and catalog.get(n).smooth
                                  and not catalog.get(n).function().is_vector_valued(1)])
def test_second_derivative_on_scalar_catalogue(name: str) -> None:
    entry = catalog.get(name)
    fn = entry.function()
    truth = to_float(reference_derivative(fn, entry.point[0], order=2))
    value = diffx.derivative(fn, entry.point[0], method="reverse", order=2)
    assert relative_error(value, truth) <= EXACT_RTOL, (name, value, truth)


# --------------------------------------------------------------------------------------------
# Jacobians (one reverse sweep per output) and Hessians (forward over reverse)
# --------------------------------------------------------------------------------------------
def test_polar_jacobian() -> None:
    r, t = 2.0, 0.6
    J = diffx.jacobian("[r*cos(t), r*sin(t)]", [r, t], method="reverse")
    assert relative_error(J, [[math.cos(t), -r * math.sin(t)], [math.sin(t), r * math.cos(t)]]) \
        <= EXACT_RTOL


def test_softmax_jacobian_is_diag_p_minus_ppT() -> None:
    z = [mpmath.mpf(v) for v in ("1.25", "-0.5", "0.125")]
    total = sum(mpmath.exp(v) for v in z)
    p = [mpmath.exp(v) / total for v in z]
    truth = [[float((p[i] if i == j else 0) - p[i] * p[j]) for j in range(3)] for i in range(3)]

    def softmax(x):
        e = np.exp(x)  # numpy ufunc on an array of traced values: one node per element
        return e / np.sum(e)

    J = diffx.jacobian(softmax, [1.25, -0.5, 0.125], method="reverse")
    assert J.shape == (3, 3)
    assert relative_error(J, truth) <= EXACT_RTOL


def test_rosenbrock_hessian() -> None:
    x, y = -1.2, 1.0
    truth = [[2 - 400 * y + 1200 * x**2, -400 * x], [-400 * x, 200]]
    H = diffx.hessian("(1 - x)**2 + 100*(y - x**2)**2", [x, y], method="reverse")
    assert relative_error(H, truth) <= EXACT_RTOL


def rosenbrock_loop(x):
    total = 0.0
    for i in range(len(x) - 1):
        total = total + 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return total


def test_hessian_of_a_python_loop() -> None:
    """The n-variable Rosenbrock Hessian is tridiagonal (written out by hand)."""
    n = 7
    x = np.linspace(-1.2, 1.1, n)
    truth = np.zeros((n, n))
    for i in range(n - 1):
        truth[i, i] += 2 - 400 * (x[i + 1] - x[i] ** 2) + 800 * x[i] ** 2
        truth[i, i + 1] += -400 * x[i]
        truth[i + 1, i] += -400 * x[i]
        truth[i + 1, i + 1] += 200
    H = diffx.hessian(rosenbrock_loop, x, method="reverse")
    assert relative_error(H, truth) <= EXACT_RTOL


@pytest.mark.parametrize("name", ["mlp", "beale", "softmax_cross_entropy", "sigmoid_neuron"])
def test_hessian_against_reference(name: str) -> None:
    entry = catalog.get(name)
    fn = entry.function()
    H = diffx.hessian(fn, entry.point, method="reverse")
    assert relative_error(H, to_float(reference_hessian(fn, entry.point))) <= EXACT_RTOL


def test_multi_parameter_callable_and_numpy_ufuncs() -> None:
    def f(a, b):
        return np.exp(a) * np.sin(b) + a / b

    a, b = 0.3, 1.7
    g = diffx.gradient(f, [a, b], method="reverse")
    assert relative_error(g, [math.exp(a) * math.sin(b) + 1 / b,
                              math.exp(a) * math.cos(b) - a / b**2]) <= EXACT_RTOL


def test_abs_away_from_its_kink() -> None:
    assert diffx.derivative("abs(x - 1)", 0.3, method="reverse") == -1.0
    assert diffx.derivative("abs(x - 1)", 0.3, method="reverse", order=2) == 0.0  # sign' = 0


def test_variables_the_function_ignores_get_zero() -> None:
    fn = as_function("x**2", variables=["x", "y"])
    assert diffx.gradient(fn, [3.0, 4.0], method="reverse").tolist() == [6.0, 0.0]
    assert diffx.derivative("7", 2.0, method="reverse") == 0.0
    assert diffx.hessian(fn, [3.0, 4.0], method="reverse").tolist() == [[2.0, 0.0], [0.0, 0.0]]


def test_scalar_operators_refuse_vector_valued_callables() -> None:
    fn = as_function(lambda x: [x[0] * x[1], x[0]])
    with pytest.raises(DiffxError, match="scalar"):
        reverse.hessian(fn, np.array([1.0, 2.0]))
    with pytest.raises(DiffxError, match="scalar"):
        reverse.derivative(as_function(lambda x: [x, x * x]), 1.0, 1)


def test_compare_shows_reverse_with_its_error() -> None:
    result = compare("sin(x)*exp(x)", 1.3, methods=["reverse"], repeats=1)
    (row,) = result.rows
    assert row.method == "reverse" and row.family == "automatic"
    truth = float(mpmath.exp(mpmath.mpf("1.3")) * (mpmath.sin(mpmath.mpf("1.3"))
                                                    + mpmath.cos(mpmath.mpf("1.3"))))
    assert relative_error(row.value, truth) <= EXACT_RTOL
    assert row.rel_error <= EXACT_RTOL


def test_worst_catalogue_errors() -> None:
    """Gradient/Jacobian and Hessian on every smooth catalogue entry against the reference.

    Measured worst relative errors (this catalogue): Jacobian 4.0e-15 (logistic_map),
    Hessian 7.8e-16 (nested_exp_sin) — the same order as the dual engine's.
    """
    worst = {"jacobian": 0.0, "hessian": 0.0}
    for name in catalog.names():
        entry = catalog.get(name)
        if not entry.smooth:
            continue
        fn = entry.function()
        J = diffx.jacobian(fn, entry.point, method="reverse")
        worst["jacobian"] = max(worst["jacobian"], relative_error(
            J, to_float(reference_jacobian(fn, entry.point))))
        if not fn.is_vector_valued(len(entry.point)) and len(entry.point) <= 4:
            H = diffx.hessian(fn, entry.point, method="reverse")
            worst["hessian"] = max(worst["hessian"], relative_error(
                H, to_float(reference_hessian(fn, entry.point))))
    assert worst["jacobian"] <= EXACT_RTOL and worst["hessian"] <= EXACT_RTOL, worst
