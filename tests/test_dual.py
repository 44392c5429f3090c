"""Dual numbers (diffx.engines.dual): arithmetic, numpy ufuncs and array functions, chunked
tangents, Taylor jets, nesting, kinks and domain edges, jvp.

Every expected value is a closed form (a derivative rule written out by hand), SymPy's k-th
derivative evaluated at 50 digits, or diffx.reference (50 digits). Duals and jets compute the
derivative formula in float64, so the only error is rounding: norm-wise relative error at most
EXACT_RTOL = 1e-13 (≈ 450 ulps; the formulas here have no cancellation beyond their own).
Nothing here measures time (benchmarks/dual_*.py do).
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import diffx
from diffx import Dual, catalog
from diffx.engines import dual, dual_speed
from diffx.errors import DiffxError, DomainWarning, NonDifferentiableWarning, UnsupportedError
from diffx.functions import as_function
from diffx.reference import (
    reference_derivative,
    reference_hessian,
    reference_jacobian,
    to_float,
)

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


def test_numpy_ufunc_without_a_rule_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedError, match=r"numpy\.floor"):
        np.floor(Dual(X, 1.0))  # no derivative rule in the table
    with pytest.raises(UnsupportedError, match=r"numpy\.sort"):
        np.sort(Dual(np.array([2.0, 1.0]), np.ones(2)))  # an array function without a rule
    with pytest.raises(UnsupportedError, match=r"numpy\.add\.accumulate"):
        np.add.accumulate(Dual(np.array([2.0, 1.0]), np.ones(2)))


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
# Higher orders by Taylor jets, against SymPy's k-th derivative at 50 digits
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


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("text", list(HIGHER))
def test_jets_match_sympy_kth_derivative(text: str, order: int) -> None:
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


# --------------------------------------------------------------------------------------------
# Every catalogue function by every dual mode, against the 50-digit reference
# --------------------------------------------------------------------------------------------
SMOOTH = [name for name in catalog.names() if catalog.get(name).smooth]
ONE_VARIABLE = [name for name in SMOOTH if len(catalog.get(name).point) == 1]
SCALAR_VALUED = [name for name in SMOOTH
                 if not catalog.get(name).function().is_vector_valued(len(catalog.get(name).point))]
SMALL_SCALAR = [name for name in SCALAR_VALUED if len(catalog.get(name).point) <= 4]


def relative_error(value, ref) -> float:
    """||value - ref|| / ||ref|| (the absolute error when ref is exactly 0)."""
    value, ref = np.asarray(value, dtype=float), np.asarray(ref, dtype=float)
    norm = np.linalg.norm(ref)
    return float(np.linalg.norm(value - ref) / norm) if norm else float(np.linalg.norm(value))


@functools.cache
def reference(name: str, kind: str, order: int = 1) -> np.ndarray:
    entry = catalog.get(name)
    fn = entry.function()
    if kind == "derivative":
        return np.array(to_float(reference_derivative(fn, entry.point[0], order)))
    if kind == "jacobian":
        return to_float(reference_jacobian(fn, entry.point))
    return to_float(reference_hessian(fn, entry.point))


@pytest.mark.parametrize("name", ONE_VARIABLE)
def test_catalogue_scalar_mode(name: str) -> None:
    """One dual through the compiled program, and through the generic Dual path (a callable)."""
    entry, ref = catalog.get(name), reference(name, "derivative")
    fn = entry.function()
    generic = as_function(lambda x: fn(x))
    for value in (dual.derivative(fn, entry.point[0]), dual.derivative(generic, entry.point[0])):
        assert relative_error(value, ref) <= EXACT_RTOL, (name, value, ref)


@pytest.mark.parametrize("name", ONE_VARIABLE)
def test_catalogue_array_mode(name: str) -> None:
    """The same function on a vector of points at once (elementwise array duals)."""
    entry, ref = catalog.get(name), reference(name, "derivative")
    x = entry.point[0]
    out = entry.function()(Dual(np.array([x, x, x]), np.array([1.0, 2.0, -0.5])))
    expected = np.array([1.0, 2.0, -0.5]) * ref
    assert relative_error(out.tangent, expected) <= EXACT_RTOL, (name, out.tangent, expected)


@pytest.mark.parametrize("chunk", [1, 2, None])
@pytest.mark.parametrize("name", SMOOTH)
def test_catalogue_chunked_jacobian(name: str, chunk: int | None) -> None:
    entry, ref = catalog.get(name), reference(name, "jacobian")
    J = dual.jacobian(entry.function(), np.array(entry.point), chunk=chunk)
    assert J.shape == ref.shape
    assert relative_error(J, ref) <= EXACT_RTOL, (name, chunk, J, ref)


# numpy code the nested dual cannot run yet (also strict xfails in tests/test_agreement.py)
_NESTED_DUAL_FAILS = {
    "np_softmax_cross_entropy": (IndexError, "indexing the nested dual array (-log_probs[label]) "
                                             "raises 'invalid index to scalar variable'"),
    "np_solve_diagonal_shift": (diffx.errors.UnsupportedError,
                                "np.linalg.solve on nested duals: matmul refused (ndim <= 2 "
                                "only)"),
}


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, raises=_NESTED_DUAL_FAILS[name][0],
                                               reason=_NESTED_DUAL_FAILS[name][1]))
    if name in _NESTED_DUAL_FAILS else name for name in SMALL_SCALAR])
def test_catalogue_nested_hessian(name: str) -> None:
    """Forward over forward: an outer chunked dual under an inner chunked dual."""
    entry, ref = catalog.get(name), reference(name, "hessian")
    H = dual.hessian(entry.function(), np.array(entry.point))
    if not np.any(ref):
        assert np.all(H == 0)
    else:
        assert relative_error(H, ref) <= EXACT_RTOL, (name, H, ref)


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("name", ONE_VARIABLE)
def test_catalogue_jets(name: str, order: int) -> None:
    entry, ref = catalog.get(name), reference(name, "derivative", order)
    value = dual.derivative(entry.function(), entry.point[0], order)
    if ref == 0:
        assert value == 0.0
    else:
        assert relative_error(value, ref) <= EXACT_RTOL, (name, order, value, ref)


def test_hessian_of_a_numpy_callable_with_chunks() -> None:
    # f = Σ xᵢ² xᵢ₊₁ (numpy code): H = [[2x1, 2x0, 0], [2x0, 2x2, 2x1], [0, 2x1, 0]]
    def f(x):
        return np.sum(x[:-1] ** 2 * x[1:])

    x = np.array([1.5, -0.5, 2.0])
    expected = [[-1.0, 3.0, 0.0], [3.0, 4.0, -1.0], [0.0, -1.0, 0.0]]
    for chunk in (1, 2, 3):
        assert close(dual.hessian(as_function(f), x, chunk=chunk), expected)


# --------------------------------------------------------------------------------------------
# Vector mode: chunks of directions
# --------------------------------------------------------------------------------------------
def test_a_gradient_takes_ceil_n_over_k_passes() -> None:
    calls = []

    def f(x):
        calls.append(1)
        return np.sum(np.sin(x) * np.arange(1.0, 11.0))

    x = np.linspace(0.1, 1.0, 10)
    for k, passes in ((1, 10), (3, 4), (4, 3), (10, 1), (64, 1)):
        calls.clear()
        g = dual.gradient(as_function(f), x, chunk=k)
        assert len(calls) == passes, (k, len(calls))
        assert close(g, np.cos(x) * np.arange(1.0, 11.0))


def test_chunked_tangent_shapes() -> None:
    d = Dual(np.array([1.0, 2.0, 3.0]), np.eye(3)[:2], tag=7)  # 2 directions
    assert d.chunked and d.shape == (3,) and len(d) == 3
    assert d[1].tangent.tolist() == [0.0, 1.0] and d[1:].tangent.shape == (2, 2)
    out = d * np.array([[1.0], [2.0]])  # broadcasts (3,) to (2, 3): the chunk axis stays first
    assert out.shape == (2, 3) and out.tangent.shape == (2, 2, 3)
    assert out.tangent[0].tolist() == [[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]]


def test_invalid_chunk_is_refused() -> None:
    with pytest.raises(DiffxError, match="chunk"):
        dual.jacobian(as_function("x*y"), np.array([1.0, 2.0]), chunk=0)


def test_callable_building_duals_by_hand_still_gets_its_gradient() -> None:
    """A loss that sums a Dual's parts itself (as diffx.optimize's helpers do) assumes one
    direction per pass; the engine notices the wrong tangent shape and falls back."""
    data = np.array([0.5, -1.0, 2.0])

    def loss(p):
        error = data * p[0] + p[1]
        squared = error * error
        return Dual(np.sum(squared.value), np.sum(squared.tangent), squared.tag)

    p = np.array([0.3, -0.2])
    e = data * p[0] + p[1]
    assert close(dual.gradient(as_function(loss), p), [np.sum(2 * e * data), np.sum(2 * e)])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-3.0, 3.0), min_size=2, max_size=12), st.integers(1, 12))
def test_property_chunked_gradient_of_a_quadratic_form(x, k) -> None:
    """∇(xᵀAx) = (A + Aᵀ)x for every chunk size (integer A: the products are exact)."""
    x = np.array(x)
    n = x.size
    A = np.arange(n * n, dtype=float).reshape(n, n) % 7 - 3
    g = dual.gradient(as_function(lambda v: v @ (A @ v)), x, chunk=k)
    assert close(g, (A + A.T) @ x, rtol=1e-12) or np.allclose(g, (A + A.T) @ x, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.floats(-4.0, 4.0))
def test_property_first_and_third_derivative_at_random_points(x) -> None:
    # f = sin(x)·eˣ: f' = eˣ(sin + cos), f''' = 2eˣ(cos x − sin x)
    e = math.exp(x)
    first = diffx.derivative("sin(x)*exp(x)", x, "dual")
    third = diffx.derivative("sin(x)*exp(x)", x, "dual", order=3)
    assert abs(first - e * (math.sin(x) + math.cos(x))) <= 1e-14 * e * 2
    assert abs(third - 2 * e * (math.cos(x) - math.sin(x))) <= 1e-13 * e * 2


@settings(max_examples=40, deadline=None)
@given(st.floats(0.1, 3.0), st.integers(1, 8))
def test_property_jets_of_a_power(x, k) -> None:
    # d^k/dx^k x^3.5 = 3.5·2.5·…·(3.5 − k + 1)·x^(3.5 − k)
    exact = math.prod(3.5 - i for i in range(k)) * x ** (3.5 - k)
    value = diffx.derivative("x**3.5", x, "dual", order=k)
    assert abs(value - exact) <= 1e-13 * abs(exact)


# --------------------------------------------------------------------------------------------
# numpy functions on duals (closed forms; chunked and single-direction tangents)
# --------------------------------------------------------------------------------------------
V = np.array([0.5, -1.0, 2.0])
M = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]])

NUMPY_FUNCTIONS = {
    # name: (f on R³ written with numpy, its Jacobian at V written out by hand)
    "sum": (lambda x: np.sum(x**2), [2 * V]),
    "mean": (lambda x: np.mean(np.sin(x)), [np.cos(V) / 3]),
    "sum-axis": (lambda x: np.sum(np.outer(np.ones(2), 1.0) * x[None, :] * M, axis=1),
                 M),
    "method-sum": (lambda x: (x * x).sum(), [2 * V]),
    "cumsum": (lambda x: np.cumsum(x), np.tril(np.ones((3, 3)))),
    "dot-vector": (lambda x: np.dot(x, x), [2 * V]),
    "matmul-matrix-vector": (lambda x: M @ x, M),
    "matmul-vector-matrix": (lambda x: x @ M.T, M),
    "dot-matrix-vector": (lambda x: np.dot(M, np.exp(x)), M * np.exp(V)),
    "where": (lambda x: np.where(x > 0, x**2, -x), np.diag(np.where(V > 0, 2 * V, -1.0))),
    "maximum": (lambda x: np.maximum(x, 0.0) * 3, np.diag(3.0 * (V > 0))),
    "minimum": (lambda x: np.minimum(x, 1.0), np.diag(1.0 * (V < 1))),
    "clip": (lambda x: np.clip(x, -0.5, 1.0), np.diag(1.0 * ((V > -0.5) & (V < 1)))),
    "stack": (lambda x: np.stack([x[0] * x[1], x[2]]), [[V[1], V[0], 0], [0, 0, 1]]),
    "concatenate": (lambda x: np.concatenate([x[:1] * 2, np.array([7.0]), x[1:]]),
                    [[2, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 1]]),
    "hstack": (lambda x: np.hstack([x[:2], x[2] ** 2]), [[1, 0, 0], [0, 1, 0], [0, 0, 4]]),
    "vstack": (lambda x: np.vstack([x, 2 * x]).ravel(), np.vstack([np.eye(3), 2 * np.eye(3)])),
    "reshape-transpose": (lambda x: np.concatenate([x, x]).reshape(2, 3).T.ravel(),
                          np.eye(3)[[0, 0, 1, 1, 2, 2]]),
    "squeeze-expand": (lambda x: np.squeeze(np.expand_dims(x, 0), axis=0) * 2, 2 * np.eye(3)),
    "broadcast_to": (lambda x: np.broadcast_to(x[0], (2,)), [[1, 0, 0], [1, 0, 0]]),
    "square-reciprocal": (lambda x: np.square(x) + np.reciprocal(x),
                          np.diag(2 * V - 1 / V**2)),
    "expm1-log1p": (lambda x: np.expm1(x) + np.log1p(x * x),
                    np.diag(np.exp(V) + 2 * V / (1 + V * V))),
    "exp2-log2-log10": (lambda x: np.exp2(x) + np.log2(x * x) + np.log10(x * x),
                        np.diag(np.exp2(V) * math.log(2) + 2 / (V * math.log(2))
                                + 2 / (V * math.log(10)))),
    "hypot": (lambda x: np.hypot(x[0], x[2]), [[V[0] / math.hypot(V[0], V[2]), 0,
                                                V[2] / math.hypot(V[0], V[2])]]),
    "logaddexp": (lambda x: np.logaddexp(x[0], x[1]),
                  [[1 / (1 + math.exp(V[1] - V[0])), 1 / (1 + math.exp(V[0] - V[1])), 0]]),
    "object-array": (lambda x: np.sum(np.sin(np.array([x[0], x[1]], dtype=object))),
                     [[math.cos(V[0]), math.cos(V[1]), 0]]),
}


@pytest.mark.parametrize("chunk", [1, 3])
@pytest.mark.parametrize("name", list(NUMPY_FUNCTIONS))
def test_numpy_function_jacobians(name: str, chunk: int) -> None:
    f, expected = NUMPY_FUNCTIONS[name]
    J = dual.jacobian(as_function(f), V, chunk=chunk)
    expected = np.atleast_2d(np.asarray(expected, dtype=float))
    assert J.shape == expected.shape, (J.shape, expected.shape)
    assert relative_error(J, expected) <= EXACT_RTOL, (name, J, expected)


@pytest.mark.parametrize("name", ["sum", "matmul-matrix-vector", "where", "stack", "hypot"])
def test_numpy_functions_along_one_direction(name: str) -> None:
    f, expected = NUMPY_FUNCTIONS[name]
    direction = np.array([1.0, -2.0, 0.5])
    _, tangent = diffx.jvp(f, V, direction)
    assert close(tangent, np.atleast_2d(np.asarray(expected, dtype=float)) @ direction)


def test_composed_ufuncs_keep_numpys_accurate_value() -> None:
    d = Dual(1e-20, 1.0)
    assert np.log1p(d).value == 1e-20 and np.expm1(d).value == 1e-20  # not log(1+x) = 0
    assert np.log1p(d).tangent == 1.0


def test_a_square_is_one_product_doubled_and_the_tables_rule_exactly() -> None:
    """x·x, x**2 and np.square(x) compute u·t once and double it; the table's rule for two
    different duals with the same parts, t·u + u·t, gives the same bits (doubling is exact)."""
    u = np.linspace(-2.0, 2.0, 9)
    for t in (np.cos(u), np.stack([np.cos(u), -u, np.full_like(u, 1e-300)])):
        x = Dual(u, t, tag=5)
        general = x * Dual(u, t, tag=5)  # another object: both partials applied
        for square in (x * x, x**2, np.square(x)):
            assert np.array_equal(square.value, general.value)
            assert np.array_equal(square.tangent, general.tangent)
            assert np.array_equal(general.tangent, 2 * u * t)  # and the closed form


def test_composed_ufuncs_take_the_last_rows_partials_at_numpys_value() -> None:
    """log1p = log(1 + x): log's partial 1/(1 + x) does not read its value, so the tangent is
    the table's rule bit for bit; likewise expm1 = exp(x) - 1 (subtract's partials are 1)."""
    d = Dual(np.linspace(-0.5, 2.0, 11), np.cos(np.linspace(0.0, 3.0, 11)), tag=5)
    assert np.array_equal(np.log1p(d).tangent, diffx.log(1.0 + d).tangent)
    assert np.array_equal(np.log1p(d).value, np.log1p(d.value))
    assert np.array_equal(np.expm1(d).tangent, (diffx.exp(d) - 1.0).tangent)
    assert np.array_equal(np.expm1(d).value, np.expm1(d.value))
    # hypot's sqrt reads its value: the tangent is (a·ta + b·tb)/hypot(a, b), at numpy's hypot
    h = np.hypot(d, 2.0)
    assert close(h.tangent, d.value * d.tangent / np.hypot(d.value, 2.0))


def test_jvp_on_a_million_points_returns_arrays() -> None:
    x = np.linspace(-3.0, 3.0, 1_000_001)
    value, tangent = diffx.jvp(lambda v: np.sin(v) * v, x, np.ones_like(x))
    assert value.shape == tangent.shape == x.shape
    assert np.array_equal(tangent, np.cos(x) * x + np.sin(x))  # the same operations, exactly


def test_jvp_with_a_block_of_directions() -> None:
    value, tangent = diffx.jvp("[x*y, x + y]", [2.0, 3.0], [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert close(value, [6.0, 5.0])
    assert close(tangent, [[3.0, 1.0], [2.0, 1.0], [5.0, 2.0]])


def test_matmul_beyond_matrices_is_refused() -> None:
    with pytest.raises(UnsupportedError, match="ndim <= 2"):
        Dual(np.ones((2, 2, 2)), np.ones((2, 2, 2))) @ np.ones((2, 2))


def test_jets_refuse_array_functions_by_name() -> None:
    with pytest.raises(UnsupportedError, match=r"numpy\.sum"):
        dual.derivative(as_function(lambda x: np.sum(x * x)), 1.0, order=2)


# --------------------------------------------------------------------------------------------
# Perturbation confusion: more of the known cases
# --------------------------------------------------------------------------------------------
def test_confusion_with_higher_orders() -> None:
    # d/dx [x · (d²/dy² (x·y²))|_{y=1}] = d/dx [x · 2x] = 4x = 4 at 1 (jets inside a dual)
    value = diffx.derivative(lambda x: x * diffx.derivative(lambda y: x * y * y, 1.0, order=2),
                             1.0)
    assert value == 4.0
    # d²/dx² [x³ · (d/dy (x + y))] = 6x = 6 at 1 (a dual inside jets)
    assert diffx.derivative(lambda x: x**3 * diffx.derivative(lambda y: x + y, 1.0), 1.0,
                            order=2) == 6.0


def test_confusion_in_a_hessian() -> None:
    # f(a, b) = a · d/dy (a·b·y)|_{y=2} = a²b: H = [[2b, 2a], [2a, 0]]
    def f(v):
        return v[0] * diffx.derivative(lambda y: v[0] * v[1] * y, 2.0)

    H = dual.hessian(as_function(f), np.array([1.5, -0.5]))
    assert close(H, [[-1.0, 3.0], [3.0, 0.0]])


def test_confusion_with_a_closure_over_the_outer_dual_and_an_inner_gradient() -> None:
    # g(x) = Σⱼ ∂/∂yⱼ (x·y₀ + x²·y₁) = x + x²; g'(x) = 1 + 2x
    def g(x):
        inner = as_function(lambda y: x * y[0] + x * x * y[1])
        J = dual._push(inner, np.array([0.3, 0.7]), np.eye(2))[1]
        return J[0][0] + J[0][1]

    assert diffx.derivative(g, 2.0) == 5.0


def test_jet_of_a_function_that_never_sees_the_perturbation() -> None:
    assert diffx.derivative(lambda x: 3.0, 1.0, order=4) == 0.0


# --------------------------------------------------------------------------------------------
# Kinks and domain edges: one convention, the symbolic engine's answers
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["abs(x)", "relu(x)", "relu(-x)", "abs(x)*x + relu(x)"])
def test_kinks_match_the_symbolic_engine_and_warn(text: str) -> None:
    answers = []
    for method in ("dual", "symbolic"):
        with pytest.warns(NonDifferentiableWarning):
            answers.append(diffx.derivative(text, 0.0, method))
    assert answers[0] == answers[1] == 0.0  # the table's convention: abs'(0) = relu'(0) = 0


def test_numpy_maximum_at_a_tie_follows_the_convention_and_warns() -> None:
    """At a tie, the MEAN of the two tangents (½ each: JAX's jnp.maximum and torch.maximum; a
    deliberate change from the earlier "between the one-sided derivatives, closest to 0",
    which a reverse-mode engine cannot follow): max(x, 0) at 0 → ½ (relu's row keeps 0),
    max(x, -x) → 0 (like abs), max(x, 2x) → 3/2, max(x, x) → 1 (no kink, no warning)."""
    zero = Dual(0.0, 1.0, tag=3)
    for f, expected in ((lambda x: np.maximum(x, 0.0), 0.5), (lambda x: np.maximum(x, -x), 0.0),
                        (lambda x: np.maximum(x, 2 * x), 1.5),
                        (lambda x: np.minimum(x + 1.0, 1.0), 0.5),
                        (lambda x: np.maximum(3 * x, -2 * x), 0.5),
                        (lambda x: np.minimum(-3 * x, -2 * x), -2.5)):
        with pytest.warns(NonDifferentiableWarning, match="tie"):
            assert f(zero).tangent == expected
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.maximum(zero, zero).tangent == 1.0


@pytest.mark.parametrize("text, at", [("sqrt(x)", 0.0), ("log(x)", 0.0), ("log(x)", -1.0),
                                      ("arcsin(x)", 1.0), ("x**0.5", 0.0), ("sqrt(x)*x", 0.0)])
def test_domain_edges_match_the_symbolic_engine(text: str, at: float) -> None:
    for method in ("dual", "symbolic"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("ignore", ResourceWarning)  # another test's, collected now
            value = diffx.derivative(text, at, method)
        assert math.isnan(value), (method, value)
        domain = [w for w in caught if issubclass(w.category, DomainWarning)]
        assert len(domain) == 1 and len(caught) == 1, [str(w.message) for w in caught]


def test_jvp_at_a_domain_edge_gives_inf_with_a_domain_warning() -> None:
    with pytest.warns(DomainWarning):
        value, tangent = diffx.jvp(np.sqrt, 0.0, 1.0)
    assert value == 0.0 and tangent == math.inf  # the one-sided derivative of √x at 0


# --------------------------------------------------------------------------------------------
# The public API's compiled shortcut answers exactly what the engine answers
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sin_exp", "polynomial", "tanh", "softplus_sigmoid"])
def test_fast_path_agrees_with_the_reference(name: str) -> None:
    entry, ref = catalog.get(name), reference(name, "derivative")
    fn = entry.function()
    fast = dual_speed.fast_derivative(fn, entry.point[0], 1)
    assert fast is not None and relative_error(fast, ref) <= EXACT_RTOL
    assert fast == diffx.derivative(fn, entry.point[0], "dual")


def test_fast_path_declines_what_needs_the_point_checks() -> None:
    assert dual_speed.fast_derivative(diffx.parse("sqrt(x)"), 1.0, 1) is None  # a domain edge row
    assert dual_speed.fast_derivative(diffx.parse("1/x"), 0.0, 1) is None  # not finite
    assert dual_speed.fast_derivative(diffx.parse("x*y"), 1.0, 1) is None  # two variables
    assert dual_speed.fast_derivative(diffx.parse("sin(x)"), 1.0, 2) is None  # order 2
    assert dual_speed.fast_derivative("sin(x)", 1.0, 1) is None  # not parsed yet
