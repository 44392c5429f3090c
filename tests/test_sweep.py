"""step_sweep, timing, scaling and expression_swell (diffx.compare), against closed forms.

The function is f(x) = sin(x)·eˣ, whose derivatives have the closed form
f⁽ⁿ⁾(x) = 2^(n/2)·eˣ·sin(x + nπ/4), computed here with mpmath independently of diffx.reference.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import diffx
from diffx.compare import (
    Scaling,
    StepSweep,
    compare,
    correct_digits,
    expression_swell,
    fit_slope,
    rosenbrock,
    scaling,
    step_sweep,
    timing,
)
from diffx.compare.swell import count_operations
from diffx.errors import DiffxError
from diffx.functions import parse

X = 1.3
EPS = float(np.finfo(float).eps)
STEPS = 10.0 ** np.arange(-16.0, 0.01, 0.25)


def closed_form(n: int, x: float = X) -> float:
    """f⁽ⁿ⁾(x) for f = sin·exp, at 40 digits, rounded to float."""
    with mpmath.workdps(40):
        t = mpmath.mpf(x)
        return float(mpmath.mpf(2) ** (mpmath.mpf(n) / 2) * mpmath.exp(t)
                     * mpmath.sin(t + n * mpmath.pi / 4))


def true_abs_error(value: float) -> float:
    with mpmath.workdps(40):
        t = mpmath.mpf(X)
        return float(abs(mpmath.mpf(value) - mpmath.exp(t) * (mpmath.sin(t) + mpmath.cos(t))))


@pytest.fixture(scope="module")
def sweep() -> StepSweep:
    return step_sweep("sin(x)*exp(x)", X, ["forward", "central", "central-4", "richardson",
                                           "complex-step"], STEPS)


def rows_between(sweep: StepSweep, method: str, low: float, high: float):
    rows = [r for r in sweep.curve(method) if low <= r.step <= high]
    assert len(rows) >= 4, (method, low, high)
    return rows


# --- step sweep ---------------------------------------------------------------------------
def test_every_method_at_every_step_plus_its_automatic_step(sweep):
    assert sweep.methods == ["forward", "central", "central-4", "richardson", "complex-step"]
    for method in sweep.methods:
        assert [r.step for r in sweep.curve(method)] == pytest.approx(list(STEPS))
        assert sweep.automatic(method) is not None


def test_errors_are_measured_against_the_closed_form(sweep):
    for row in sweep.rows:
        if math.isfinite(row.value):
            assert row.abs_error == pytest.approx(true_abs_error(row.value), rel=1e-6,
                                                  abs=1e-30), row


@pytest.mark.parametrize("method, low, high, model", [
    # forward: (f(x+h) − f(x))/h = f′ + f″h/2 + …
    ("forward", 1e-5, 1e-3, lambda h: abs(closed_form(2)) * h / 2),
    # central: f′ + f‴h²/6 + …
    ("central", 1e-3, 1e-2, lambda h: abs(closed_form(3)) * h**2 / 6),
    # five-point central: f′ − f⁽⁵⁾h⁴/30 + …
    ("central-4", 1e-2, 1e-1, lambda h: abs(closed_form(5)) * h**4 / 30),
    # complex step: Im f(x+ih)/h = f′ − f‴h²/6 + …
    ("complex-step", 1e-3, 1e-2, lambda h: abs(closed_form(3)) * h**2 / 6),
])
def test_truncation_error_matches_the_textbook_term(sweep, method, low, high, model):
    for row in rows_between(sweep, method, low, high):
        assert row.abs_error == pytest.approx(model(row.step_used), rel=0.02), row


@pytest.mark.parametrize("method, low, high, slope", [
    ("forward", 1e-6, 1e-2, 1.0), ("central", 1e-4, 1e-1, 2.0), ("central-4", 1e-2, 1e-1, 4.0),
])
def test_v_curve_slopes(sweep, method, low, high, slope):
    rows = rows_between(sweep, method, low, high)
    fitted = np.polyfit(np.log10([r.step_used for r in rows]),
                        np.log10([r.abs_error for r in rows]), 1)[0]
    assert fitted == pytest.approx(slope, abs=0.05)
    assert sweep.slope(method) == pytest.approx(slope, abs=0.05)  # the report's own fit


def test_rounding_side_falls_like_one_over_h(sweep):
    rows = rows_between(sweep, "central", 1e-13, 1e-8)
    fitted = np.polyfit(np.log10([r.step_used for r in rows]),
                        np.log10([r.abs_error for r in rows]), 1)[0]
    assert -1.4 < fitted < -0.6
    assert -1.4 < sweep.slope("central", "rounding") < -0.6


def test_complex_step_is_flat_at_machine_precision_for_small_h(sweep):
    for row in rows_between(sweep, "complex-step", 1e-16, 1e-8):
        assert row.rel_error <= 2 * EPS, row
    assert sweep.automatic("complex-step").rel_error <= 2 * EPS


def test_best_errors_follow_theory(sweep):
    # forward: ~sqrt(eps) relative; central ~eps^(2/3); central-4 ~eps^(4/5)
    assert 1e-10 < sweep.best("forward").rel_error < 1e-7
    assert 1e-13 < sweep.best("central").rel_error < 1e-10
    assert sweep.best("central-4").rel_error < 1e-12
    assert sweep.best("richardson").rel_error < 1e-13
    # each automatic step lands within a factor 30 of the best step's error
    for method in ("forward", "central"):
        assert sweep.automatic(method).rel_error < 30 * sweep.best(method).rel_error


def test_model_uses_the_true_derivatives(sweep):
    h = np.array([1e-3, 1e-2])
    truncation, rounding = sweep.model("central", h)
    expected = abs(closed_form(3)) * h**2 / 6 / abs(closed_form(1))
    assert truncation == pytest.approx(expected, rel=1e-12)
    assert rounding == pytest.approx(EPS * abs(closed_form(0)) / h / abs(closed_form(1)),
                                     rel=1e-12)
    assert sweep.model("richardson", h) is None


def test_text_and_figure(sweep):
    text = str(sweep)
    assert text.startswith("relative error of f'(x) for sin(x)*exp(x) at x = 1.3")
    assert "central: best" in text and "truncation slope 2.00" in text
    fig = sweep.plot()
    (ax,) = fig.axes
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert "step h" in ax.get_xlabel() and "relative error" in ax.get_ylabel()


@pytest.mark.parametrize("kwargs, message", [
    ({"methods": ["dual"]}, "step_sweep methods must be among"),
    ({"steps": [1e-3, -1.0]}, "positive finite"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(DiffxError, match=message):
        step_sweep("sin(x)", 1.0, **kwargs)


def test_a_vector_point_is_refused():
    with pytest.raises(DiffxError, match="one finite point"):
        step_sweep("sin(x)", [1.0, 2.0])


# --- timing -------------------------------------------------------------------------------
def test_timing_rows_and_spread():
    t = timing("x**2*y + sin(y)", [1.0, 2.0], ["dual", "central", "symbolic"], repeats=5)
    assert [r.method for r in t.rows] == ["function", "dual", "central", "symbolic"]
    for row in t.rows:
        assert row.status == "ok" and row.repeats == 5
        assert 0 < row.q1 <= row.seconds <= row.q3
    assert t.ratio("function") == 1.0
    assert "time per call" in str(t)


def test_timing_measures_symbolic_setup_even_when_already_compiled():
    fn = parse("exp(sin(x)*y) + x*y**3")
    diffx.gradient(fn, [0.5, 1.5], method="symbolic")  # diff + lambdify now cached on fn
    row = timing(fn, [0.5, 1.5], ["symbolic"], repeats=3).row("symbolic")
    assert row.setup_seconds > 5 * row.seconds


# --- scaling ------------------------------------------------------------------------------
def test_rosenbrock_program():
    assert rosenbrock(np.array([-1.2, 1.0])) == pytest.approx(24.2)  # the classic start
    assert rosenbrock(np.ones(7)) == 0.0


def test_scaling_rows_are_checked_against_the_reference():
    s = scaling(sizes=(2, 4, 8), methods=["dual", "central"], repeats=3, check_up_to=8)
    assert isinstance(s, Scaling)
    assert [(r.method, r.n) for r in s.rows] == [
        (m, n) for n in (2, 4, 8) for m in ("function", "dual", "central")]
    for row in s.rows:
        assert row.status == "ok" and row.seconds > 0
        if row.method == "dual":
            assert row.rel_error < 1e-15
        if row.method == "central":
            assert 1e-13 < row.rel_error < 1e-8
    assert "gradient time per call" in str(s)
    assert s.plot().axes[0].get_xscale() == "log"


# how cost grows with n is a benchmark (benchmarks/, the report), not a test: timings are noisy


def test_a_method_predicted_too_slow_is_skipped_with_a_reason():
    s = scaling(sizes=(2, 64), methods=["dual"], repeats=3, max_seconds=1e-9)
    assert [(r.method, r.n) for r in s.rows if r.method == "dual"] == [("dual", 2)]
    assert "predicted call time" in s.skipped["dual"]


def test_unknown_family():
    with pytest.raises(DiffxError, match="unknown scaling family"):
        scaling("banana")


def test_fit_slope():
    assert fit_slope([1, 2, 4], [3, 12, 48]) == pytest.approx(2.0)
    assert math.isnan(fit_slope([1], [1]))


# --- expression swell ---------------------------------------------------------------------
def test_logistic_swell():
    s = expression_swell("logistic", range(1, 6))
    derivative = [r.derivative_ops for r in s.rows]
    assert derivative == sorted(derivative) and derivative[-1] > 20 * derivative[0]
    for row in s.rows:
        assert row.program_ops == 3 * row.depth  # 4*l, 1 - l, and their product
        assert row.derivative_cse_ops <= row.derivative_ops
        assert row.dual_ops <= 4 * row.program_ops
        assert row.dual_rel_error < 1e-13
    # CSE grows polynomially, the tree exponentially
    assert s.rows[-1].derivative_cse_ops < s.rows[-1].derivative_ops / 5


def test_counted_dual_run_computes_the_derivative():
    def program(v):
        for _ in range(2):
            v = 4 * v * (1 - v)
        return v

    x = 0.3
    l1 = 4 * x * (1 - x)
    ops, value = count_operations(program, x, dual=True)
    assert value == pytest.approx((4 - 8 * l1) * (4 - 8 * x), rel=1e-14)
    assert ops > 0
    _, value = count_operations(lambda v: diffx.sin(diffx.sin(v)), x, dual=True)
    assert value == pytest.approx(math.cos(math.sin(x)) * math.cos(x), rel=1e-14)


def test_unknown_swell_family():
    with pytest.raises(DiffxError, match="unknown swell family"):
        expression_swell("tower")


# --- regressions: bugs found while building the sweep, since fixed -------------------------
def test_complex_step_honours_step():
    h = 1e-2
    result = diffx.derivative("sin(x)*exp(x)", X, method="complex-step", step=h,
                              full_output=True)
    assert result.step == h
    assert abs(result.value - closed_form(1)) == pytest.approx(
        abs(closed_form(3)) * h**2 / 6, rel=0.02)


def test_compare_measures_setup_on_a_function_seen_before():
    fn = parse("exp(sin(x)*y) + x*y**3")
    first = compare(fn, [0.5, 1.5], ["symbolic"], repeats=3).rows[0]
    second = compare(fn, [0.5, 1.5], ["symbolic"], repeats=3).rows[0]
    assert second.setup_seconds > 0.3 * first.setup_seconds


def test_zero_digits_is_not_negative_zero():
    assert math.copysign(1.0, correct_digits(1.0)) == 1.0
