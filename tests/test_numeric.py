"""Finite differences (diffx.engines.numeric): stencil weights, steps, the V-shaped error curve,
Richardson extrapolation, the complex step, evaluation counts and the step= option.

Expected values are textbook stencils (exact rationals), closed-form derivatives, and error
bounds from the truncation/rounding balance stated next to each tolerance.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import diffx
from diffx.engines import numeric
from diffx.errors import DiffxError, UnsupportedError

EPS = float(np.finfo(float).eps)


# --------------------------------------------------------------------------------------------
# Fornberg weights
# --------------------------------------------------------------------------------------------
KNOWN_STENCILS = [
    # offsets, derivative order, textbook weights
    ([-1, 0, 1], 1, [Fraction(-1, 2), 0, Fraction(1, 2)]),
    ([-1, 0, 1], 2, [1, -2, 1]),
    ([-2, -1, 0, 1, 2], 1, [Fraction(1, 12), Fraction(-2, 3), 0, Fraction(2, 3),
                            Fraction(-1, 12)]),
    ([-2, -1, 0, 1, 2], 2, [Fraction(-1, 12), Fraction(4, 3), Fraction(-5, 2), Fraction(4, 3),
                            Fraction(-1, 12)]),
    ([0, 1], 1, [-1, 1]),                                      # forward, first order
    ([0, -1], 1, [1, -1]),                                     # backward: (f(x) - f(x-h))/h
    ([0, 1, 2], 1, [Fraction(-3, 2), 2, Fraction(-1, 2)]),     # forward, second order
    ([0, 1, 2], 2, [1, -2, 1]),                                # forward second derivative
    ([-2, -1, 0, 1, 2], 3, [Fraction(-1, 2), 1, 0, -1, Fraction(1, 2)]),
]


@pytest.mark.parametrize(("offsets", "order", "weights"), KNOWN_STENCILS,
                         ids=[f"{o}-d{k}" for o, k, _ in KNOWN_STENCILS])
def test_fornberg_weights_reproduce_textbook_stencils(offsets, order, weights) -> None:
    got = numeric.fornberg_weights(np.array(offsets, dtype=float), order)
    # the rationals have short binary expansions or are thirds/twelfths: a few ulps at most
    np.testing.assert_allclose(got, [float(w) for w in weights], rtol=0, atol=4 * EPS)


def test_fornberg_refuses_too_few_points() -> None:
    with pytest.raises(ValueError, match="cannot give"):
        numeric.fornberg_weights(np.array([0.0, 1.0]), 2)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-6, 6), min_size=2, max_size=6, unique=True),
       st.integers(1, 4))
def test_fornberg_weights_are_exact_on_polynomials(offsets, order) -> None:
    """Σ wᵢ oᵢᵏ = k!·[k = order] for k < number of points: the defining property of the
    weights (they differentiate every polynomial of degree < n exactly)."""
    if order >= len(offsets):
        return
    o = np.array(offsets, dtype=float)
    w = numeric.fornberg_weights(o, order)
    scale = np.sum(np.abs(w) * np.max(np.abs(o)) ** np.arange(len(o))[:, None], axis=0)
    for k in range(len(o)):
        expected = math.factorial(order) if k == order else 0.0
        # rounding of the recurrence: a few ulps of the sum of magnitudes of the terms
        assert abs(np.sum(w * o**k) - expected) <= 1e-12 * max(scale.max(), 1.0)


# --------------------------------------------------------------------------------------------
# Stencils and steps
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "order", "accuracy", "expected"), [
    ("central", 1, 2, [-1, 0, 1]),
    ("central", 2, 2, [-1, 0, 1]),
    ("central", 1, 4, [-2, -1, 0, 1, 2]),
    ("central", 2, 4, [-2, -1, 0, 1, 2]),
    ("central", 3, 2, [-2, -1, 0, 1, 2]),
    ("forward", 1, 1, [0, 1]),
    ("forward", 2, 1, [0, 1, 2]),
    ("forward", 1, 2, [0, 1, 2]),
    ("backward", 1, 1, [0, -1]),
    ("backward", 2, 1, [0, -1, -2]),
])
def test_stencil_offsets(kind, order, accuracy, expected) -> None:
    np.testing.assert_array_equal(numeric.stencil_offsets(kind, order, accuracy), expected)


@pytest.mark.parametrize("x", [0.0, 0.5, -1.0, 3.0, -250.0, 1e6])
def test_default_step_balances_truncation_and_rounding(x: float) -> None:
    scale = max(abs(x), 1.0)
    # forward/backward (p = 1, k = 1): √ε·scale; central (p = 2, k = 1): ∛ε·scale
    assert numeric.default_step("forward", x) == pytest.approx(math.sqrt(EPS) * scale, rel=1e-15)
    assert numeric.default_step("backward", x) == pytest.approx(math.sqrt(EPS) * scale,
                                                                rel=1e-15)
    assert numeric.default_step("central", x) == pytest.approx(EPS ** (1 / 3) * scale,
                                                               rel=1e-15)
    # central second derivative (p = 2, k = 2): ε^(1/4); fourth-order central: ε^(1/5)
    assert numeric.default_step("central", x, 2) == pytest.approx(EPS**0.25 * scale, rel=1e-15)
    assert numeric.default_step("central", x, 1, 4) == pytest.approx(EPS**0.2 * scale,
                                                                     rel=1e-15)


def test_default_step_numbers() -> None:
    assert numeric.default_step("forward", 1.0) == pytest.approx(1.4901161193847656e-08)
    assert numeric.default_step("central", 1.0) == pytest.approx(6.055454452393343e-06)


def test_step_for_reports_the_automatic_steps() -> None:
    assert numeric.step_for("complex-step", 2.0) == 1e-100
    assert numeric.step_for("central", 2.0) == numeric.default_step("central", 2.0, 1, 2)
    assert numeric.step_for("richardson", 2.0) == 32 * numeric.default_step("central", 2.0, 1,
                                                                             4)


# --------------------------------------------------------------------------------------------
# The V-shaped error curve
# --------------------------------------------------------------------------------------------
STEPS = np.logspace(-12, -1, 45)  # four steps per decade


@pytest.mark.parametrize(("method", "within"), [("central", 10.0), ("forward", 30.0)])
def test_default_step_sits_near_the_bottom_of_the_v(method: str, within: float) -> None:
    """d/dx sin at 1 over a log grid of steps: the error falls (truncation ∝ hᵖ) then rises
    (rounding ∝ ε/h). The default step's error is within 10x of the grid's best for central
    (measured 6.9x) — forward's optimum constant depends on |f''|/|f|, so 30x (measured 22x)."""
    exact = math.cos(1.0)
    errors = np.array([abs(diffx.derivative("sin(x)", 1.0, method, step=float(h)) - exact)
                       for h in STEPS])
    best = int(np.argmin(errors))
    assert 5 < best < len(STEPS) - 5  # a V: the minimum is inside the grid
    assert errors[0] > 100 * errors[best] and errors[-1] > 100 * errors[best]
    default = abs(diffx.derivative("sin(x)", 1.0, method) - exact)
    assert default <= within * errors[best], (default, errors[best])


# --------------------------------------------------------------------------------------------
# Richardson and the complex step
# --------------------------------------------------------------------------------------------
def test_richardson_tableau_eliminates_even_powers() -> None:
    """D(h) = 2 + 3h² - 5h⁴ + 7h⁶: three eliminations leave exactly 2 (to rounding)."""
    def estimate(h):
        return np.array(2 + 3 * h**2 - 5 * h**4 + 7 * h**6), np.array(0.0)

    value, error, step = numeric.richardson(estimate, 0.5, levels=5)
    assert abs(float(value) - 2.0) <= 1e-14
    assert float(error) <= 1e-13 and step <= 0.5


RICH_CASES = [("sin(x)", 1.0, math.cos(1.0)), ("exp(x)", 0.5, math.exp(0.5)),
              ("log(1 + x**2)", 0.9, 1.8 / 1.81), ("tanh(x)", 0.6, 1 - math.tanh(0.6) ** 2)]


@pytest.mark.parametrize(("f", "x", "exact"), RICH_CASES, ids=[c[0] for c in RICH_CASES])
def test_richardson_improves_on_central(f: str, x: float, exact: float) -> None:
    central = abs(diffx.derivative(f, x, "central") - exact)
    richardson = abs(diffx.derivative(f, x, "richardson") - exact)
    # central: ~ε^(2/3) ≈ 4e-11 relative; richardson: rounding at its finest step ~ε^(4/5)
    assert richardson <= 1e-13 * abs(exact) + 4 * EPS
    assert richardson < central / 10


@pytest.mark.parametrize("x", [-4.0, -0.3, 0.0, 0.3, 1.0, 2.5, 10.0, 50.0])
def test_complex_step_is_exact_on_exp_and_sin(x: float) -> None:
    """No subtraction, so only the rounding of f'(x) itself: ≤ 2 ulps of math's value (which
    is itself within an ulp)."""
    for f, exact in (("exp(x)", math.exp(x)), ("sin(x)", math.cos(x))):
        value = diffx.derivative(f, x, "complex-step")
        assert abs(value - exact) <= 2 * EPS * abs(exact), (f, x, value, exact)


def test_complex_step_second_derivative() -> None:
    """Order 2: a central difference of exact first derivatives, h = ∛ε: error
    h²·|f⁗|/6 + ε|f'|/h ≈ 3.7e-11·1/6 + 2.2e-16·0.84/6e-6 ≈ 4e-11 for sin at 1."""
    value = diffx.derivative("sin(x)", 1.0, "complex-step", order=2)
    assert abs(value + math.sin(1.0)) <= 10 * 4e-11


@pytest.mark.parametrize("f", ["abs(x - 1)", "relu(x)", "sign(x)*x", "heaviside(x)*x"])
def test_complex_step_refuses_non_analytic_functions(f: str) -> None:
    with pytest.raises(UnsupportedError, match="complex-analytic"):
        diffx.derivative(f, 0.3, "complex-step")


# complex step used to return Im log(-1 + 1e-100i)/1e-100 = 3.14e100 here
@pytest.mark.parametrize("f", ["log(x)", "sqrt(x)"])
def test_complex_step_outside_the_domain_is_not_a_number(f: str) -> None:
    with pytest.warns(diffx.errors.DomainWarning):
        value = diffx.derivative(f, -1.0, "complex-step")
    assert math.isnan(value)


# The estimate comes from step doubling, as for the real stencils (it used to be |f''|*h^2,
# which reported 4.7e-7 here while the true error is 1.9e-4: |f''''| = 1.3e7 >> |f''| = 5.6e3).
def test_complex_step_second_derivative_error_estimate_near_a_pole() -> None:
    exact = 2 * math.tan(1.5) / math.cos(1.5) ** 2  # tan'' = 2 tan sec²
    est = diffx.derivative("tan(x)", 1.5, "complex-step", order=2, full_output=True)
    assert abs(est.value - exact) <= 10 * est.error


# --------------------------------------------------------------------------------------------
# Costs and options
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "derivative", "gradient2", "hessian2", "second"), [
    # one stencil at h and one at 2h (for the error estimate); zero weights are skipped
    ("forward", 4, 8, 24, 6),      # offsets (0, 1) twice; second: (0, 1, 2) twice
    ("backward", 4, 8, 24, 6),
    ("central", 4, 8, 24, 6),      # (-1, 1) twice; second: (-1, 0, 1) twice
    ("richardson", 12, 24, 72, 18),  # 6 levels x 2 points; second: 6 levels x 3 points
    # one complex evaluation; second: central stencil of complex first derivatives at h and 2h
    ("complex-step", 1, 2, 16, 4),
])
def test_evaluation_counts(method, derivative, gradient2, hessian2, second) -> None:
    """Hessian of n = 2: 2 diagonal second derivatives + 1 off-diagonal by polarisation
    (two directional second derivatives): 4 directional second derivatives."""
    assert diffx.derivative("sin(x)", 1.0, method, full_output=True).evaluations == derivative
    assert diffx.gradient("sin(x)*y", [1.0, 2.0], method,
                          full_output=True).evaluations == gradient2
    assert diffx.hessian("sin(x)*y", [1.0, 2.0], method,
                         full_output=True).evaluations == hessian2
    assert diffx.derivative("sin(x)", 1.0, method, order=2,
                            full_output=True).evaluations == second


@pytest.mark.parametrize("method", ["forward", "backward", "central"])
def test_step_option_is_used(method: str) -> None:
    x, h = 1.0, 1e-3
    est = diffx.derivative("exp(x)", x, method, step=h, full_output=True)
    used = (x + h) - x  # rounded so that x + h is exact
    assert est.step == used
    f = math.exp
    by_hand = {"forward": (f(x + used) - f(x)) / used,
               "backward": (f(x) - f(x - used)) / used,
               "central": (f(x + used) - f(x - used)) / (2 * used)}[method]
    assert est.value == pytest.approx(by_hand, rel=1e-14)
    # truncation at h = 1e-3: e·h/2 one-sided, e·h²/6 central
    bound = math.e * used / 2 if method != "central" else math.e * used**2 / 6
    assert abs(est.value - math.e) <= 1.1 * bound


def test_complex_step_reports_its_step() -> None:
    est = diffx.derivative("exp(x)", 1.0, "complex-step", full_output=True)
    assert est.step == 1e-100 and est.evaluations == 1


@pytest.mark.parametrize("method", ["symbolic", "dual", "tape", "tape-forward"])
def test_step_on_a_non_numeric_method_raises(method: str) -> None:
    with pytest.raises(DiffxError, match="takes no step"):
        diffx.derivative("exp(x)", 1.0, method, step=1e-3)


@pytest.mark.parametrize("step", [0.0, -1e-3, float("nan"), float("inf"), "0.1"])
def test_invalid_step_raises(step) -> None:
    with pytest.raises(DiffxError, match="step must be"):
        diffx.derivative("exp(x)", 1.0, "central", step=step)


def test_numeric_second_derivative_central() -> None:
    """[1, -2, 1]/h² with h = ε^(1/4) ≈ 1.2e-4: error ≤ h²|f⁗|/12 + 4ε|f|/h² ≈ 1.2e-9 + 6e-8
    for sin (every derivative ≤ 1 in size); allowed: 10 x that bound."""
    h = EPS**0.25
    value = diffx.derivative("sin(x)", 1.0, "central", order=2)
    assert abs(value + math.sin(1.0)) <= 10 * (h**2 / 12 + 4 * EPS / h**2)
