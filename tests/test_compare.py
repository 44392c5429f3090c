"""diffx.compare: rows, errors against the reference, table/HTML/pandas/figure views."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import diffx
from diffx.compare import Comparison, compare, correct_digits
from diffx.engines import methods
from diffx.reference import to_float

EXACT = (*methods(exact=True), "complex-step")  # complex step: first derivatives exact


@pytest.fixture(scope="module")
def sin_exp() -> Comparison:
    return compare("sin(x)*exp(x)", at=1.3, repeats=3)


def closed_form_sin_exp(x: float) -> mpmath.mpf:
    with mpmath.workdps(60):
        t = mpmath.mpf(x)
        return mpmath.exp(t) * (mpmath.sin(t) + mpmath.cos(t))


def test_every_method_has_a_row(sin_exp):
    assert [row.method for row in sin_exp.rows] == list(diffx.METHODS)
    assert {row.family for row in sin_exp.rows} == {"symbolic", "numeric", "automatic"}


def test_reference_is_the_closed_form(sin_exp):
    # 50 significant digits: the difference to the 60-digit closed form is below 1e-49
    assert abs(sin_exp.reference - closed_form_sin_exp(1.3)) < mpmath.mpf(10) ** -48


def test_errors_are_measured_against_the_closed_form(sin_exp):
    truth = closed_form_sin_exp(1.3)
    for row in sin_exp.rows:
        assert row.status == "ok", row
        expected = float(abs(mpmath.mpf(row.value) - truth))
        assert row.abs_error == pytest.approx(expected, rel=1e-6, abs=1e-30), row.method
        assert row.rel_error == pytest.approx(expected / float(truth), rel=1e-6, abs=1e-30)
        assert row.digits == pytest.approx(correct_digits(row.rel_error))


def test_exact_methods_are_exact_and_numeric_ones_are_not(sin_exp):
    rows = {row.method: row for row in sin_exp.rows}
    for method in EXACT:  # complex-step is exact for first derivatives (no subtraction)
        assert rows[method].rel_error <= 1e-15, method
    # theory: forward ~ sqrt(eps) ≈ 1.5e-8 (relative), central ~ eps^(2/3) ≈ 4e-11
    assert 1e-10 < rows["forward"].rel_error < 1e-6
    assert 1e-13 < rows["central"].rel_error < 1e-9
    assert rows["richardson"].rel_error < rows["central"].rel_error
    # the numeric methods report an estimate that bounds their true error
    for method in ("forward", "backward", "central", "richardson"):
        assert rows[method].abs_error <= rows[method].error_estimate, method
        assert rows[method].evaluations >= 2


def test_timing_fields(sin_exp):
    for row in sin_exp.rows:
        assert row.repeats == 3
        assert row.seconds > 0 and row.setup_seconds >= 0


def test_gradient_and_jacobian_kinds():
    c = compare("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", at=[0.0, 0.0],
                methods=["dual", "central"], repeats=1)
    assert c.kind == "gradient"
    assert [float(v) for v in c.reference] == [-14.0, -22.0]  # seed 003, closed form
    assert np.array_equal(c.rows[0].value, [-14.0, -22.0])
    j = compare("[x*y, sin(x)]", at=[0.5, 2.0], methods=["dual"], repeats=1)
    assert j.kind == "jacobian"
    np.testing.assert_allclose(j.rows[0].value, [[2.0, 0.5], [math.cos(0.5), 0.0]], rtol=1e-15)


def test_higher_order():
    c = compare("sin(x)", at=0.7, methods=["dual", "symbolic"], order=3, repeats=1)
    for row in c.rows:  # d³/dx³ sin = -cos
        assert row.value == pytest.approx(-math.cos(0.7), rel=1e-15)


def test_failed_method_is_reported_not_raised():
    c = compare("abs(x)*sin(x)", at=0.5, methods=["complex-step", "dual"], repeats=1)
    failed, ok = c.rows
    assert failed.status.startswith("abs is not complex-analytic")
    assert math.isnan(failed.digits)
    assert ok.status == "ok"
    assert "* complex-step: abs is not complex-analytic" in str(c)


def test_views(sin_exp):
    text = str(sin_exp)
    assert text.splitlines()[0] == "derivative of sin(x)*exp(x) at 1.3"
    assert all(method in text for method in diffx.METHODS)
    assert "4.5171133992728016" in text  # 17 significant digits
    html = sin_exp._repr_html_()
    assert html.count("<tr>") == len(diffx.METHODS) + 1
    frame = sin_exp.to_pandas()
    assert list(frame.index) == list(diffx.METHODS)
    fig = sin_exp.plot()
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(diffx.METHODS)


def test_unknown_method_is_a_clear_error():
    with pytest.raises(diffx.DiffxError, match="unknown method 'dual2'"):
        compare("x", at=1.0, methods=["dual2"])


def test_correct_digits():
    assert correct_digits(0.0) == 16.0
    assert correct_digits(1e-8) == pytest.approx(8.0)
    assert correct_digits(10.0) == 0.0
    assert math.isnan(correct_digits(math.nan))


def test_compare_on_numpy_code_gives_every_method_a_row():
    """The issue's first example: a plain numpy callable, every method measured against the
    reference, whose gradient is sin(2x) (closed form)."""
    x = np.linspace(0.1, 0.5, 5)
    c = compare(lambda v: np.sum(np.sin(v) ** 2), at=x)
    assert [r.method for r in c.rows] == list(diffx.METHODS)
    assert np.max(np.abs(to_float(c.reference) - np.sin(2 * x))) <= 1e-15
    assert c.reference_method == "SymPy diff"
    for row in c.rows:
        assert row.status == "ok", (row.method, row.status)
        limit = 1e-13 if row.method in methods(exact=True) else 1e-5
        assert row.rel_error <= limit, (row.method, row.rel_error)


def test_compare_header_says_when_the_reference_is_mpmath_diff():
    """A boolean mask makes the output's length depend on values: no SymPy form, so the
    reference is mpmath.diff of f in mpmath, and the header says so."""
    x = np.array([0.5, -1.0, 2.0])
    c = compare(lambda v: np.sum(v[v > 0] ** 3), at=x, methods=["dual", "central"])
    assert c.reference_method.startswith("mpmath.diff of f in mpmath (no SymPy form")
    assert "mpmath.diff" in str(c)
    assert np.max(np.abs(to_float(c.reference) - np.array([0.75, 0.0, 12.0]))) <= 1e-14
