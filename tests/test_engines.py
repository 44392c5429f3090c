"""The public API in diffx.engines: derivative / gradient / jacobian / hessian over METHODS,
full_output Estimates, validation of method, order, point, step and dtype, and warnings.

Values are checked against closed forms of small polynomials, with each method's tolerance:
exact engines 1e-13 relative; finite differences from their truncation/rounding balance (see
TOLERANCES below).
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest
import sympy

import diffx
from diffx.engines import DESCRIPTIONS, FAMILIES, METHODS, Estimate, family_of, methods
from diffx.errors import DiffxError, DomainError, DomainWarning, UnsupportedError

EXACT = ("symbolic", "dual", "tape", "tape-forward", "reverse")
NUMERIC = ("forward", "backward", "central", "richardson", "complex-step")

# f = x²y + y³ at (1, 2): f = 10, ∇f = (2xy, x² + 3y²) = (4, 13), H = [[2y, 2x], [2x, 6y]].
# Relative tolerances (first derivatives / Hessians), from error ≈ truncation + rounding with
# the default steps, for these low-degree polynomials whose derivatives are O(10):
#   forward/backward: √ε·s·|f''|/2 ≈ 1.5e-8·2·12/2 → 1e-6;  Hessian (∛ε, h·|f'''|): 1e-4
#   central: ∛ε² ≈ 4e-11 (f''' ≤ 6) → 1e-9;  Hessian (ε^(1/4), 4ε|f|/h²) ≈ 2e-7 → 1e-6
#   richardson: rounding ~ε|f|/ε^(1/5) ≈ 3e-12 → 1e-9;  Hessian 8ε|f|/ε^(1/3) → 1e-8
#   complex-step: exact to rounding → 1e-13;  Hessian (∛ε² truncation of f'''') → 1e-8
TOLERANCES = {
    "forward": (1e-6, 1e-4), "backward": (1e-6, 1e-4), "central": (1e-9, 1e-6),
    "richardson": (1e-9, 1e-8), "complex-step": (1e-13, 1e-8),
    **{m: (1e-13, 1e-13) for m in EXACT},
}
F = "x**2*y + y**3"
POINT = [1.0, 2.0]
GRAD = np.array([4.0, 13.0])
HESS = np.array([[4.0, 2.0], [2.0, 12.0]])


def rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_methods_families_and_descriptions() -> None:
    assert METHODS == ("symbolic", "forward", "backward", "central", "richardson",
                       "complex-step", "dual", "tape", "tape-forward", "reverse")
    assert diffx.METHODS is METHODS
    assert set(FAMILIES) == set(METHODS) == set(DESCRIPTIONS)
    assert {family_of(m) for m in EXACT} == {"symbolic", "automatic"}
    assert {family_of(m) for m in NUMERIC} == {"numeric"}
    with pytest.raises(DiffxError, match="unknown method"):
        family_of("newton")


# --------------------------------------------------------------------------------------------
# Shapes and values
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_shapes_and_values(method: str) -> None:
    first, second = TOLERANCES[method]
    d = diffx.derivative("x**3 - 2*x", 1.5, method)  # 3x² - 2 = 4.75
    assert isinstance(d, float)
    assert abs(d - 4.75) <= first * 4.75
    g = diffx.gradient(F, POINT, method)
    assert isinstance(g, np.ndarray) and g.shape == (2,) and g.dtype == np.float64
    assert rel(g, GRAD) <= first
    J = diffx.jacobian(F, POINT, method)
    assert J.shape == (1, 2)  # a scalar function: one row
    assert rel(J[0], GRAD) <= first
    Jv = diffx.jacobian("[x*y, x + y, x**2]", POINT, method)  # [[y, x], [1, 1], [2x, 0]]
    assert Jv.shape == (3, 2)
    assert rel(Jv, [[2.0, 1.0], [1.0, 1.0], [2.0, 0.0]]) <= first
    H = diffx.hessian(F, POINT, method)
    assert H.shape == (2, 2) and H.dtype == np.float64
    assert rel(H, HESS) <= second
    g1 = diffx.gradient("x**3 - 2*x", 1.5, method)
    assert g1.shape == (1,) and abs(g1[0] - 4.75) <= first * 4.75


@pytest.mark.parametrize("method", METHODS)
def test_full_output_estimate(method: str) -> None:
    est = diffx.gradient(F, POINT, method, full_output=True)
    assert isinstance(est, Estimate)
    assert {f.name for f in dataclasses.fields(Estimate)} == {"value", "error", "evaluations",
                                                               "step", "method"}
    assert est.method == method and est.value.shape == (2,)
    assert rel(est.value, GRAD) <= TOLERANCES[method][0]
    if method in EXACT:
        assert est.error is None and est.evaluations is None and est.step is None
    else:
        error = np.asarray(est.error)
        assert error.shape == (2,) and np.all(error >= 0) and np.all(np.isfinite(error))
        assert isinstance(est.evaluations, int) and est.evaluations > 0
        assert est.step > 0
    d = diffx.derivative("x**3 - 2*x", 1.5, method, full_output=True)
    assert isinstance(d.value, float) and d.method == method
    assert d.error is None if method in EXACT else isinstance(d.error, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.value = 0.0


@pytest.mark.parametrize("method", METHODS)
def test_order_zero_returns_the_value(method: str) -> None:
    assert diffx.derivative("x**3 - 2*x", 1.5, method, order=0) == 1.5**3 - 3.0
    est = diffx.derivative("sin(x)", 0.5, method, order=0, full_output=True)
    assert est.value == math.sin(0.5) and est.evaluations == 1


@pytest.mark.parametrize("method", ["symbolic", "dual", "tape", "richardson", "central"])
def test_higher_orders(method: str) -> None:
    # d³/dx³ (x⁴) = 24x = 36 at 1.5; central/richardson third derivatives lose more digits:
    # central 5-point third derivative, h = ε^(1/5): ~ε^(2/5) ≈ 5e-7 relative -> 1e-5
    tol = 1e-13 if method in EXACT else 1e-5
    assert abs(diffx.derivative("x**4", 1.5, method, order=3) - 36.0) <= tol * 36


def test_inputs_of_every_kind() -> None:
    x, y = sympy.symbols("x y", real=True)
    assert diffx.derivative(sympy.sin(x) * x, 1.0) == pytest.approx(
        math.cos(1.0) + math.sin(1.0), rel=1e-15)
    np.testing.assert_array_equal(diffx.gradient(x**2 * y + y**3, POINT), GRAD)
    np.testing.assert_array_equal(diffx.gradient(lambda v: v[0] ** 2 * v[1] + v[1] ** 3, POINT),
                                  GRAD)
    np.testing.assert_array_equal(diffx.gradient(lambda a, b: a**2 * b + b**3, POINT), GRAD)
    np.testing.assert_array_equal(diffx.gradient(diffx.parse(F), POINT), GRAD)


def test_variables_option_orders_the_point() -> None:
    # with variables (y, x) the point (2, 1) means y = 2, x = 1; ∇ in that order: (13, 4)
    np.testing.assert_array_equal(diffx.gradient(F, [2.0, 1.0], variables=["y", "x"]),
                                  [13.0, 4.0])


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"method": "newton"}, DiffxError, "unknown method"),
    ({"method": "Dual"}, DiffxError, "unknown method"),
    ({"order": -1}, DiffxError, "order must be"),
    ({"order": 1.5}, DiffxError, "order must be"),
    ({"order": "2"}, DiffxError, "order must be"),
    ({"x": float("nan")}, DomainError, "NaN or infinity"),
    ({"x": float("inf")}, DomainError, "NaN or infinity"),
    ({"x": [[1.0, 2.0]]}, DiffxError, "1-D vector"),
    ({"x": []}, DiffxError, "1-D vector"),
    ({"x": "abc"}, DiffxError, "real number"),
    ({"x": [1.0, 2.0]}, DiffxError, "single point"),
    ({"step": 1e-3}, DiffxError, "takes no step"),
    ({"method": "central", "step": 0.0}, DiffxError, "step must be"),
    ({"dtype": "float32"}, UnsupportedError, "float64 only"),
])
def test_invalid_arguments(kwargs, error, match) -> None:
    arguments = {"f": "x**2", "x": 1.0, **kwargs}
    with pytest.raises(error, match=match) as info:
        diffx.derivative(**arguments)
    assert isinstance(info.value, DiffxError)


@pytest.mark.parametrize("call", [diffx.gradient, diffx.jacobian, diffx.hessian])
@pytest.mark.parametrize("point", [[float("nan"), 1.0], [1.0, float("inf")]])
def test_non_finite_points_raise_domain_error(call, point) -> None:
    with pytest.raises(DomainError):
        call("x*y", point)


@pytest.mark.parametrize("method", [m for m in METHODS if m not in methods(dtype="float32")])
def test_float32_only_where_the_registry_says(method: str) -> None:
    for call, x in ((diffx.derivative, 1.0), (diffx.gradient, POINT), (diffx.hessian, POINT)):
        with pytest.raises(UnsupportedError, match="float64 only"):
            call(F if x is POINT else "x**2", x, method, dtype="float32")


def test_vector_functions_need_jacobian() -> None:
    for call, x in ((diffx.derivative, 1.0), (diffx.gradient, POINT), (diffx.hessian, POINT)):
        with pytest.raises(DiffxError, match="jacobian"):
            call("[x, x**2]" if x == 1.0 else "[x*y, x + y]", x)


def test_point_must_match_the_variables() -> None:
    with pytest.raises(DiffxError, match="variable"):
        diffx.gradient("x*y", [1.0, 2.0, 3.0])


# --------------------------------------------------------------------------------------------
# Warnings for results outside the domain
# --------------------------------------------------------------------------------------------
NUMPY_INVALID = "ignore:invalid value encountered:RuntimeWarning"  # dual's primal, by numpy


@pytest.mark.filterwarnings(NUMPY_INVALID)
@pytest.mark.parametrize("method", ["symbolic", "dual", "tape", "tape-forward", "central"])
def test_nan_derivative_warns_domain_warning(method: str) -> None:
    # sqrt at -1: value and derivative are NaN in real arithmetic
    with pytest.warns(DomainWarning, match="not finite"):
        value = diffx.derivative("sqrt(x)", -1.0, method)
    assert math.isnan(value)


@pytest.mark.parametrize("method", ["forward", "backward", "central", "richardson"])
def test_finite_differences_of_log_at_minus_one_are_nan(method: str) -> None:
    with pytest.warns(DomainWarning):
        assert math.isnan(diffx.derivative("log(x)", -1.0, method))


# Outside the domain every method returns NaN with one DomainWarning and nothing else. The exact
# engines used to return the formula 1/x = -1 for log at -1, with no warning, and complex step
# Im log(-1 + 1e-100i)/1e-100 = 3.1e100.
@pytest.mark.parametrize("text", ["log(x)", "sqrt(x)", "log(x - 2) + x"])
@pytest.mark.parametrize("method", diffx.METHODS)
def test_outside_the_domain_every_method_gives_nan_and_one_domain_warning(method: str,
                                                                            text: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ResourceWarning)  # another test's socket, collected now
        value = diffx.derivative(text, -1.0, method)
    assert math.isnan(value)
    assert [w.category for w in caught] == [DomainWarning]


def test_vector_function_with_one_undefined_output_keeps_the_other_rows() -> None:
    # F = (log x, x·y) at (-1, 2): row 0 undefined, row 1 = (y, x) = (2, -1)
    with pytest.warns(DomainWarning):
        J = diffx.jacobian("[log(x), x*y]", [-1.0, 2.0], "dual")
    assert np.isnan(J[0]).all()
    assert J[1].tolist() == [2.0, -1.0]


# --------------------------------------------------------------------------------------------
# Callables written with numpy ufuncs run under every method (SymPy symbols, mpmath numbers and
# tensors reach them boxed, so np.sin is the table's sin in each backend)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_numpy_ufunc_callables_under_every_method(method: str) -> None:
    first, second = TOLERANCES[method]
    # d/dx sin(x)·eˣ = eˣ(sin x + cos x)
    value = diffx.derivative(lambda x: np.sin(x) * np.exp(x), 0.7, method)
    assert rel(value, math.exp(0.7) * (math.sin(0.7) + math.cos(0.7))) <= first
    # f(v) = Σ wᵢvᵢ² + tanh(v₀), w = (1, 2): ∇f = (2x + sech²x, 4y),
    # H = diag(2 - 2 tanh x sech²x, 4)
    x, y = 0.5, -1.5
    sech2 = 1 / math.cosh(x) ** 2

    def f(v):
        return np.sum(np.array([1.0, 2.0]) * v**2) + np.tanh(v[0])

    assert rel(diffx.gradient(f, [x, y], method), [2 * x + sech2, 4 * y]) <= first
    exact_hessian = [[2 - 2 * math.tanh(x) * sech2, 0.0], [0.0, 4.0]]
    assert rel(diffx.hessian(f, [x, y], method), exact_hessian) <= second
