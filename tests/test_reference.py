"""The 50-digit reference (diffx.reference) against closed forms computed in mpmath.

The reference is the truth every other test measures engines against, so here it is itself
checked against hand-written derivative formulas evaluated in mpmath at 60 digits.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import diffx
from diffx.errors import DomainError, UnsupportedError
from diffx.reference import (
    DIGITS,
    reference_derivative,
    reference_gradient,
    reference_hessian,
    reference_jacobian,
    reference_value,
    to_float,
)

mp = mpmath.mp


def rel(a, b) -> mpmath.mpf:
    with mpmath.workdps(80):
        return abs(a - b) / abs(b)


def test_digits_is_fifty() -> None:
    assert DIGITS == 50


def test_sin_exp_derivative_to_45_digits() -> None:
    """d/dx sin(x)eᵡ = eᵡ(sin x + cos x), at the float 1.3 (mpf(1.3) is that float exactly)."""
    value = reference_derivative("sin(x)*exp(x)", 1.3)
    assert isinstance(value, mpmath.mpf)
    with mpmath.workdps(60):
        x = mpmath.mpf(1.3)
        exact = mpmath.exp(x) * (mpmath.sin(x) + mpmath.cos(x))
        assert rel(value, exact) < mpmath.mpf("1e-45")


CLOSED_FORMS = [
    # text, x, order, closed form (a function of an mpf, evaluated at 60 digits)
    ("sin(x)*exp(x)", 1.3, 2, lambda x: 2 * mpmath.exp(x) * mpmath.cos(x)),
    ("tan(x)", 1.5, 1, lambda x: 1 / mpmath.cos(x) ** 2),
    ("tan(x)", 1.5, 2, lambda x: 2 * mpmath.tan(x) / mpmath.cos(x) ** 2),
    ("log(x)", 1e-4, 1, lambda x: 1 / x),
    ("sqrt(x)", 1e-6, 1, lambda x: 1 / (2 * mpmath.sqrt(x))),
    ("x**(1/3)", 1e-3, 1, lambda x: mpmath.cbrt(x) / (3 * x)),
    ("exp(x)", 50.0, 1, mpmath.exp),
    ("tanh(50*(x - 0.3))", 0.31, 1,
     lambda x: 50 / mpmath.cosh(50 * (x - mpmath.mpf("0.3"))) ** 2),
    ("sigmoid(x)", 0.4, 3, lambda x: mpmath.diff(lambda t: 1 / (1 + mpmath.exp(-t)), x, 3)),
    ("arctan(sqrt(1 + x**2))", 0.8, 1,
     lambda x: x / (mpmath.sqrt(1 + x**2) * (2 + x**2))),
]


@pytest.mark.parametrize(("text", "x", "order", "closed"), CLOSED_FORMS,
                         ids=[f"{c[0]}-d{c[2]}" for c in CLOSED_FORMS])
def test_reference_derivative_matches_closed_forms(text, x, order, closed) -> None:
    value = reference_derivative(text, x, order)
    with mpmath.workdps(60):
        exact = closed(mpmath.mpf(x))
        assert rel(value, exact) < mpmath.mpf("1e-45"), (value, exact)


def test_reference_value() -> None:
    with mpmath.workdps(60):
        exact = mpmath.sin(mpmath.mpf(1.3)) * mpmath.exp(mpmath.mpf(1.3))
        assert rel(reference_value("sin(x)*exp(x)", 1.3), exact) < mpmath.mpf("1e-45")


def test_gradient_jacobian_hessian_closed_forms() -> None:
    # f = x²y + exp(xy): ∇f = (2xy + y e^{xy}, x² + x e^{xy});
    # H = [[2y + y² e, 2x + e + xy e], [·, x² e]] with e = e^{xy}
    f, point = "x**2*y + exp(x*y)", [0.5, 1.5]
    with mpmath.workdps(60):
        x, y = mpmath.mpf(0.5), mpmath.mpf(1.5)
        e = mpmath.exp(x * y)
        grad = [2 * x * y + y * e, x**2 + x * e]
        hess = [[2 * y + y**2 * e, 2 * x + e + x * y * e], [2 * x + e + x * y * e, x**2 * e]]
    g = reference_gradient(f, point)
    H = reference_hessian(f, point)
    assert g.shape == (2,) and g.dtype == object and H.shape == (2, 2) and H.dtype == object
    assert all(rel(a, b) < mpmath.mpf("1e-45") for a, b in zip(g, grad))
    assert all(rel(H[i, j], hess[i][j]) < mpmath.mpf("1e-45")
               for i in range(2) for j in range(2))
    J = reference_jacobian("[x*y, exp(x)]", [1.0, 2.0])
    assert J.shape == (2, 2)
    assert J[0, 0] == 2 and J[0, 1] == 1 and J[1, 1] == 0
    assert rel(J[1, 0], mpmath.e) < mpmath.mpf("1e-45")


# --------------------------------------------------------------------------------------------
# Exactness of the point and of the constants
# --------------------------------------------------------------------------------------------
def test_point_is_the_binary_float_not_the_decimal() -> None:
    """At 0.1 the reference differentiates at the double nearest 0.1 (0.1000000000000000055…),
    exactly what every engine sees — not at 1/10. The two differ by ~5.6e-18·f'', i.e. in the
    17th digit, detectable at 50 digits."""
    value = reference_derivative("sin(x)*exp(x)", 0.1)
    with mpmath.workdps(60):
        def closed(t):
            return mpmath.exp(t) * (mpmath.sin(t) + mpmath.cos(t))

        at_float = closed(mpmath.mpf(0.1))
        at_decimal = closed(mpmath.mpf(1) / 10)
        assert rel(value, at_float) < mpmath.mpf("1e-45")
        assert rel(value, at_decimal) > mpmath.mpf("1e-18")
        assert rel(at_float, at_decimal) < mpmath.mpf("1e-16")  # and only there


def test_decimal_constants_in_text_are_exact() -> None:
    """0.1 written in the expression is the decimal 1/10 (the text as written), not a float."""
    value = reference_derivative("0.1*x", 2.0)
    with mpmath.workdps(60):
        assert abs(value - mpmath.mpf(1) / 10) < mpmath.mpf("1e-50")
        assert abs(value - mpmath.mpf(0.1)) > mpmath.mpf("5e-18")


def test_digits_argument() -> None:
    value = reference_derivative("sin(x)*exp(x)", 1.3, digits=30)
    with mpmath.workdps(60):
        exact = mpmath.exp(mpmath.mpf(1.3)) * (mpmath.sin(mpmath.mpf(1.3))
                                               + mpmath.cos(mpmath.mpf(1.3)))
        assert rel(value, exact) < mpmath.mpf("1e-29")


def test_global_mpmath_precision_is_left_alone() -> None:
    before = mp.dps
    reference_derivative("sin(x)", 0.3)
    reference_derivative(lambda t: t * t if t > 0 else -t, 0.3)
    assert mp.dps == before


# --------------------------------------------------------------------------------------------
# The mpmath.diff fallback for callables SymPy cannot trace
# --------------------------------------------------------------------------------------------
def branching(t):
    if t > 0:  # a comparison on a SymPy symbol has no truth value: not traceable
        return diffx.exp(t) * diffx.sin(t)
    return -t


@pytest.mark.parametrize(("order", "closed"), [
    (1, lambda x: mpmath.exp(x) * (mpmath.sin(x) + mpmath.cos(x))),
    (2, lambda x: 2 * mpmath.exp(x) * mpmath.cos(x)),
])
def test_mpmath_fallback_for_a_branching_callable(order, closed) -> None:
    """mpmath.diff at digits + 30 working digits: accurate to ~the 50 digits asked for;
    required here: 1e-40."""
    value = reference_derivative(branching, 1.3, order)
    with mpmath.workdps(60):
        assert rel(value, closed(mpmath.mpf(1.3))) < mpmath.mpf("1e-40")


def test_mpmath_fallback_gradient() -> None:
    g = reference_gradient(lambda v: diffx.exp(v[0]) * v[1] if v[0] > 0 else v[1], [0.5, 2.0])
    with mpmath.workdps(60):
        e = mpmath.exp(mpmath.mpf(0.5))
        assert rel(g[0], 2 * e) < mpmath.mpf("1e-40")
        assert rel(g[1], e) < mpmath.mpf("1e-40")


# --------------------------------------------------------------------------------------------
# Domain errors
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("call", "args"), [
    (reference_value, ("log(x)", -1.0)),         # log(-1) is not real
    (reference_value, ("sqrt(x)", -4.0)),
    (reference_derivative, ("log(x)", 0.0)),     # 1/x at 0
    (reference_derivative, ("sqrt(x)", -1.0)),   # 1/(2 sqrt(x)) is not real
    (reference_derivative, ("sqrt(x)", 0.0)),    # infinite slope
    (reference_derivative, ("1/x", 0.0)),
    (reference_gradient, ("sqrt(x*y)", [-1.0, 2.0])),  # y/(2 sqrt(xy)) is not real
])
def test_domain_errors(call, args) -> None:
    with pytest.raises(DomainError):
        call(*args)


def test_derivative_outside_the_domain_raises() -> None:
    with pytest.raises(DomainError):
        reference_derivative("log(x)", -1.0)


# --------------------------------------------------------------------------------------------
# to_float
# --------------------------------------------------------------------------------------------
def test_to_float() -> None:
    value = reference_derivative("sin(x)*exp(x)", 1.3)
    assert isinstance(to_float(value), float)
    assert to_float(value) == float(value)
    H = to_float(reference_hessian("x**2*y", [1.0, 2.0]))
    assert H.dtype == np.float64
    np.testing.assert_array_equal(H, [[4.0, 2.0], [2.0, 0.0]])
    # rounding the 50-digit value gives the correctly rounded double of the closed form
    with mpmath.workdps(60):
        x = mpmath.mpf(1.3)
        assert to_float(value) == float(mpmath.exp(x) * (mpmath.sin(x) + mpmath.cos(x)))


def test_numpy_ufunc_callable_is_traced() -> None:
    # d/dx sin(x)·eˣ = eˣ(sin x + cos x), here at 50 digits with mpmath
    with mpmath.workdps(60):
        exact = mpmath.exp(mpmath.mpf(0.7)) * (mpmath.sin(mpmath.mpf(0.7))
                                              + mpmath.cos(mpmath.mpf(0.7)))
    value = reference_derivative(lambda x: np.sin(x) * np.exp(x), 0.7)
    assert abs(value - exact) <= mpmath.mpf(10) ** -48 * abs(exact)


def test_callable_that_mpmath_cannot_run_is_unsupported() -> None:
    with pytest.raises(UnsupportedError):
        reference_derivative(lambda x: np.floor(x) * x, 0.7)


@pytest.mark.parametrize("text", ["log2(arctan(x))", "log10(arctan(x))"])
def test_codegen_logarithms_evaluate_as_real_numbers(text) -> None:
    """SymPy's evalf of codegen's log2 of a real number carries an imaginary part at rounding
    level (1e-187 at 50 digits); the truth is still real: d/dx log_b(atan x) =
    1/((1 + x²)·atan(x)·ln b) at x = 2, closed form at 60 digits."""
    base = 2 if text.startswith("log2") else 10
    with mpmath.workdps(60):
        x = mpmath.mpf(2)
        exact = 1 / ((1 + x * x) * mpmath.atan(x) * mpmath.log(base))
    value = reference_derivative(text, 2.0)
    assert abs(value - exact) <= mpmath.mpf(10) ** -48 * abs(exact)
    with pytest.raises(DomainError, match="outside its domain"):  # still refused where complex
        reference_derivative("log2(x)", -1.0)
