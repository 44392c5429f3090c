"""The bad-point policy (diffx/points.py): every method reports the same thing at the same point.

Outside the domain and on its edge: NaN with exactly one DomainWarning, from every method,
for derivative, gradient and Hessian, for strings and callables alike. On a kink: exactly one
NonDifferentiableWarning; exact engines return the table's convention (0), which is also the
true derivative where the function is smooth after all (abs(x)**2 at 0). NaN/inf in the
point: DomainError before anything runs.
"""

from __future__ import annotations

import importlib
import math
import warnings

import numpy as np
import pytest

import diffx
from diffx.engines import methods
from diffx.errors import DomainError, DomainWarning, NonDifferentiableWarning, UnsupportedError
from diffx.functions import as_function, parse
from diffx.points import check_point, singular_arguments, singular_distance

EXACT = methods(exact=True)


def caught(call):
    """Run ``call`` and return its value and the categories of the warnings it raised.

    ResourceWarning is left out: the garbage collector may report a socket or file of an
    earlier test (the explorer's servers) in the middle of any call."""
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ResourceWarning)
        value = call()
    return value, [r.category for r in records]


OUTSIDE = [("log(x)", 0.0), ("log(x)", -2.0), ("sqrt(x)", -1.0), ("arcsin(x)", 1.5),
           ("arccos(x)", -1.01), ("1/x", 0.0), ("x**0.5", -4.0), ("log(sin(x))", 4.0)]
EDGES = [("sqrt(x)", 0.0), ("x**0.5", 0.0), ("x**(1/3)", 0.0), ("arcsin(x)", 1.0),
         ("arccos(x)", -1.0), ("sqrt(x - 2) + x", 2.0), ("exp(sqrt(x**2 - 1))", 1.0)]


@pytest.mark.parametrize(("text", "at"), OUTSIDE + EDGES)
@pytest.mark.parametrize("method", diffx.METHODS)
def test_outside_or_on_the_edge_every_method_gives_nan_and_one_domain_warning(
        method: str, text: str, at: float) -> None:
    value, categories = caught(lambda: diffx.derivative(text, at, method))
    assert math.isnan(value)
    assert categories == [DomainWarning]


@pytest.mark.parametrize("method", diffx.METHODS)
def test_gradient_and_hessian_on_the_edge(method: str) -> None:
    # sqrt(x)·y at (0, 1): sqrt is at the edge of its domain
    g, categories = caught(lambda: diffx.gradient("sqrt(x)*y", [0.0, 1.0], method))
    assert np.isnan(g).all() and categories == [DomainWarning]
    H, categories = caught(lambda: diffx.hessian("sqrt(x)*y", [0.0, 1.0], method))
    assert np.isnan(H).all() and categories == [DomainWarning]


@pytest.mark.parametrize("method", diffx.METHODS)
def test_callables_follow_the_same_policy(method: str) -> None:
    value, categories = caught(lambda: diffx.derivative(lambda x: np.sqrt(x) + x, 0.0, method))
    assert math.isnan(value) and categories == [DomainWarning]
    value, categories = caught(lambda: diffx.derivative(lambda x: diffx.log(x), -1.0, method))
    assert math.isnan(value) and categories == [DomainWarning]


KINKS = [("abs(x)", 0.0), ("relu(x)", 0.0), ("abs(x - 1)", 1.0), ("relu(2*x - 1)", 0.5),
         ("sign(x)", 0.0), ("heaviside(x)", 0.0), ("abs(x)**2", 0.0)]


@pytest.mark.parametrize(("text", "at"), KINKS)
@pytest.mark.parametrize("method", EXACT)
def test_exact_engines_at_a_kink_use_the_convention_and_warn(method, text, at) -> None:
    # abs'(0) = sign(0) = 0, relu'(0) = H(0) = 0, sign' = heaviside' = 0; (|x|²)' = 2x = 0 at 0
    value, categories = caught(lambda: diffx.derivative(text, at, method))
    assert value == 0.0
    assert categories == [NonDifferentiableWarning]


@pytest.mark.parametrize(("method", "expected"), [("forward", 1.0), ("backward", -1.0),
                                                  ("central", 0.0), ("richardson", 0.0)])
def test_finite_differences_at_a_kink_warn_and_give_their_quotient(method, expected) -> None:
    # abs at 0: the forward quotient is +1, backward -1, the symmetric ones 0
    value, categories = caught(lambda: diffx.derivative("abs(x)", 0.0, method))
    assert value == expected
    assert categories == [NonDifferentiableWarning]


def test_complex_step_refuses_a_kink_like_any_non_analytic_function() -> None:
    with pytest.raises(UnsupportedError, match="complex-analytic"), warnings.catch_warnings():
        warnings.simplefilter("ignore", NonDifferentiableWarning)
        diffx.derivative("abs(x)", 0.0, "complex-step")


@pytest.mark.parametrize("method", diffx.METHODS)
def test_good_points_give_no_warning(method: str) -> None:
    # sqrt(x) at 4: 1/(2·2); abs(x) at -3: -1; x**0.5 at 1: 0.5
    for text, at, exact in [("sqrt(x)", 4.0, 0.25), ("x**0.5", 1.0, 0.5), ("x**2", 0.0, 0.0)]:
        value, categories = caught(lambda text=text, at=at: diffx.derivative(text, at, method))
        assert abs(value - exact) <= 1e-6 and categories == []
    if method != "complex-step":
        value, categories = caught(lambda: diffx.derivative("abs(x)", -3.0, method))
        assert abs(value + 1.0) <= 1e-6 and categories == []


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("method", diffx.METHODS)
def test_nan_or_inf_in_the_point_is_a_domain_error(method: str, bad: float) -> None:
    with pytest.raises(DomainError, match="NaN or infinity"):
        diffx.derivative("sin(x)", bad, method)
    with pytest.raises(DomainError, match="NaN or infinity"):
        diffx.gradient("x*y", [1.0, bad], method)


def test_vector_function_keeps_the_rows_that_are_defined() -> None:
    # F = (log x, x·y) at (-1, 2): row 0 undefined; row 1 = (y, x) = (2, -1)
    J, categories = caught(lambda: diffx.jacobian("[log(x), x*y]", [-1.0, 2.0], "reverse"))
    assert np.isnan(J[0]).all() and J[1].tolist() == [2.0, -1.0]
    assert categories == [DomainWarning]


def test_check_point_describes_what_it_found() -> None:
    check = check_point(parse("sqrt(x) + abs(x - 1)"), np.array([0.0]))
    assert check.edges == ("sqrt's argument is 0, the edge of its domain [0, inf)",)
    assert check.kinks == ()
    check = check_point(parse("sqrt(x) + abs(x - 1)"), np.array([1.0]))
    assert check.edges == () and check.kinks == ("abs's argument is 0, its kink",)
    assert not check_point(parse("log(x)"), np.array([1.0])).undefined.any()
    assert check_point(parse("log(x)"), np.array([-1.0])).undefined.all()


def test_smooth_functions_are_not_recorded() -> None:
    # a parsed tree with only smooth operations and integer powers never needs the recording
    fn = parse("sin(x)**2 + exp(x)*x**3")
    check_point(fn, np.array([0.0]))
    assert fn.cache.peek("restricted") is False
    assert parse("x**0.5").cache.peek("restricted") is None


# --------------------------------------------------------------------------------------------
# Callables that compute with TensorFlow: after their first check the tape engines' own run
# decides the point (f's value comes with the derivative; f is not evaluated once more)
# --------------------------------------------------------------------------------------------
def _counted_tf(body):
    """A tf.* callable that counts its calls."""
    from diffx.engines.tape import tensorflow

    tf = tensorflow()  # as diffx imports it (oneDNN's reordered sums off)
    calls = []

    def f(v):
        calls.append(1)
        return body(tf, v)

    return f, calls


@pytest.mark.parametrize("method", ["tape", "tape-forward"])
def test_tensorflow_callable_is_evaluated_once_per_eager_call_after_its_first_check(
        method: str) -> None:
    from diffx.points import value_decides

    f, calls = _counted_tf(lambda tf, v: tf.reduce_sum(tf.sin(v) * v))
    x = np.array([0.3, -1.2])
    first = diffx.gradient(f, x, method, mode="eager")
    evaluations = 1 if method == "tape" else x.size  # tape-forward: one JVP per column
    assert len(calls) == 2 + evaluations  # the check's evaluation and recording attempt
    assert value_decides(diffx.functions.as_function(f), x)
    calls.clear()
    second = diffx.gradient(f, x, method, mode="eager")
    assert len(calls) == evaluations
    exact = np.sin(x) + x * np.cos(x)
    for g in (first, second):
        assert np.max(np.abs(g - exact) / np.abs(exact)) <= 1e-15


@pytest.mark.parametrize("mode", ["eager", "graph"])
@pytest.mark.parametrize("method", ["tape", "tape-forward"])
def test_tensorflow_callable_outside_its_domain_gets_nan_from_the_value(
        method: str, mode: str) -> None:
    # log(x) at -1: the tape's derivative 1/x = -1 is finite, but f(-1) is NaN; the point is
    # outside the domain, so derivative, gradient and Hessian are NaN with one DomainWarning
    f, _ = _counted_tf(lambda tf, v: tf.math.log(v[0]) * v[1])
    diffx.gradient(f, [2.0, 1.0], method, mode=mode)  # the first check learns f uses TF
    g, categories = caught(lambda: diffx.gradient(f, [-1.0, 1.0], method, mode=mode))
    assert np.isnan(g).all() and categories == [DomainWarning]
    H, categories = caught(lambda: diffx.hessian(f, [-1.0, 1.0], method, mode=mode))
    assert np.isnan(H).all() and categories == [DomainWarning]
    g, categories = caught(lambda: diffx.gradient(f, [2.0, 3.0], method, mode=mode))
    assert categories == [] and g[0] == 1.5  # (y/x, log x); y/x = 3/2 exactly
    assert abs(g[1] - math.log(2.0)) <= 1e-15 * math.log(2.0)
    d, _ = _counted_tf(lambda tf, v: tf.math.log(v))
    diffx.derivative(d, 2.0, method, order=2, mode=mode)
    value, categories = caught(lambda: diffx.derivative(d, -1.0, method, order=2, mode=mode))
    assert math.isnan(value) and categories == [DomainWarning]
    assert diffx.derivative(d, 2.0, method, order=2, mode=mode) == -0.25  # -1/x²


def test_tensorflow_vector_function_keeps_the_rows_that_are_defined() -> None:
    F, _ = _counted_tf(lambda tf, v: [tf.math.log(v[0]), v[0] * v[1]])
    diffx.jacobian(F, [1.0, 2.0], "tape")
    J, categories = caught(lambda: diffx.jacobian(F, [-1.0, 2.0], "tape"))
    assert np.isnan(J[0]).all() and J[1].tolist() == [2.0, -1.0]
    assert categories == [DomainWarning]


def test_vectorised_tensorflow_callable_is_judged_by_its_value() -> None:
    # more than MAX_RECORDED_INPUTS inputs: never checked beforehand; the tape's value decides
    f, calls = _counted_tf(lambda tf, v: tf.reduce_sum(tf.math.log(v)))
    x = np.linspace(1.0, 2.0, 100)
    g = diffx.gradient(f, x, "tape")
    assert len(calls) == 1 and np.max(np.abs(g * x - 1.0)) <= 1e-15  # ∂/∂xᵢ = 1/xᵢ
    x[7] = -1.0
    g, categories = caught(lambda: diffx.gradient(f, x, "tape"))
    assert np.isnan(g).all() and categories == [DomainWarning]


def test_all_finite_reads_every_element_even_when_the_sum_overflows() -> None:
    from diffx.points import all_finite

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warning escapes
        assert all_finite(np.array([1e308, 1e308]))  # the sum overflows; the elements do not
        assert not all_finite(np.array([np.inf, -np.inf]))  # the sum is NaN
        assert not all_finite(np.array([1.0, np.nan, 2.0]))
        assert all_finite(2.0) and all_finite(np.zeros((2, 3)))
        assert not all_finite(np.full((2, 3), -np.inf))


# --------------------------------------------------------------------------------------------
# singular_arguments: what finite differences keep their stencils clear of
# --------------------------------------------------------------------------------------------
@pytest.fixture
def recordings(monkeypatch) -> list:
    """The recordings of f the point policy makes while a test runs (diffx.recording.record,
    as diffx.points calls it)."""
    points_module = importlib.import_module("diffx.points")
    calls: list = []
    original = points_module.record
    monkeypatch.setattr(points_module, "record", lambda fn, x: calls.append(x) or original(fn, x))
    return calls


SINGULAR_TEXT = "abs(x - 1)*relu(y) + sign(x*y) + 1/(x - 2) + x/3 + y**-2 + x**2 + tan(x)"
# at (0.5, 3): abs's −0.5, relu's 3, sign's 1.5, the denominator −1.5, y of y**-2, cos(0.5);
# not the constant denominator 3 or the whole power x**2


def singular_callable(v):
    x, y = v[0], v[1]
    return (np.abs(x - 1.0) * diffx.relu(y) + np.sign(x * y) + 1.0 / (x - 2.0) + x / 3.0
            + y**-2 + x**2 + np.tan(x))


def test_singular_arguments_in_the_order_f_applies_them(recordings) -> None:
    """Parsed (its tree's arguments evaluated, nothing recorded) and as a callable (recorded
    once): the same values, against their closed forms."""
    expected = [-0.5, 3.0, 1.5, -1.5, 3.0, math.cos(0.5)]
    found = singular_arguments(parse(SINGULAR_TEXT), np.array([0.5, 3.0]))
    assert found.tolist() == expected and recordings == []
    found = singular_arguments(as_function(singular_callable), np.array([0.5, 3.0]))
    assert found.tolist() == expected and len(recordings) == 1


def test_a_power_with_a_variable_exponent_is_singular_at_a_zero_base() -> None:
    """x**y at (0.5, 2): y is 2 here but not a constant, so x**y has a pole or a branch point
    at x = 0 for other y: its base, 0.5, is reported (parsed and recorded alike)."""
    assert singular_arguments(parse("x**y"), np.array([0.5, 2.0])).tolist() == [0.5]
    found = singular_arguments(as_function(lambda v: v[0] ** v[1]), np.array([0.5, 2.0]))
    assert found.tolist() == [0.5]


def test_smooth_functions_have_no_singular_arguments(recordings) -> None:
    assert singular_arguments(parse("log(x)*sin(x) + x**3/2"), np.array([1.5])) is None
    assert recordings == []  # parsed: known from the tree


def test_a_smooth_callable_is_recorded_once(recordings) -> None:
    def f(x):
        return np.sqrt(x) * 2.0 + x**2  # no kink, no pole (sqrt's edge is a domain matter)

    for _ in range(3):  # a new Function wraps the callable on every call, as the API does
        assert singular_arguments(as_function(f), np.array([2.0])) is None
    assert len(recordings) == 1


def test_a_branching_callable_is_recorded_along_the_branch_taken() -> None:
    """A recording follows the branch the point takes; at a point on another branch the list
    differs, and numeric's stencils then compare nothing (tests/test_numeric.py)."""
    def branching(x):
        return np.abs(x - 1.0) if x > 0 else 2.0 * np.abs(x) + np.abs(x + 1.0)

    assert singular_arguments(as_function(branching), np.array([2.0])).tolist() == [1.0]
    assert singular_arguments(as_function(branching), np.array([-2.0])).tolist() == [-2.0, -1.0]


def test_a_callable_that_cannot_be_recorded_has_nothing_to_report() -> None:
    def opaque(x):
        return float(np.abs(x))  # float() of a recorded value: recording refuses

    assert singular_arguments(as_function(opaque), np.array([2.0])) is None


# --- the distance to the nearest kink, pole or domain edge (numeric step scale) -------------
@pytest.mark.parametrize(("text", "at", "direction", "expected"), [
    ("sqrt(x)", [1e-6], [1.0], 1e-6),                   # domain edge at 0
    ("log(x)*2", [1e-4], [1.0], 1e-4),
    ("arcsin(x)", [0.9], [1.0], 0.1),                   # edges at ±1: the nearer one
    ("x**(1/3)", [1e-5], [1.0], 1e-5),                  # base of a fractional power
    ("abs(x - 1)*sin(x)", [3.0], [1.0], 2.0),           # kink at 1
    ("1/(1 + 25*x**2)", [0.2], [1.0], 2 / 10),          # Newton step |a/a′| = 2 / (50·0.2)
    ("tan(x)", [1.565], [1.0], 1 / math.tan(1.565)),    # |cos x / (cos x)′| = cot x
    ("log1p(x)", [-0.999], [1.0], 1e-3),                # the table's new rows: edge at -1
    ("log10(x) + log2(y)", [3.0, 2e-4], [1.0, 1.0], 2e-4),
    ("sqrt(x) + y", [4.0, 1.0], [0.0, 1.0], None),      # along y, x's edge never comes nearer
    ("sqrt(x*y)", [1e-3, 2.0], [1.0, 1.0], 1e-3 * 2.0 / (2.0 + 1e-3)),  # xy/(x+y) along (1,1)
])
def test_singular_distance_is_the_newton_step_to_the_nearest_edge(text, at, direction,
                                                                  expected) -> None:
    """Closed forms of |a − edge| / |a′| along the direction; a′ comes from a forward
    difference with a relative step of 1e-7, whose error is about 1e-7·|a″/a′|·|x|: rtol 1e-5."""
    found = singular_distance(parse(text), np.array(at), np.array(direction))
    if expected is None:
        assert found is None
    else:
        assert found == pytest.approx(expected, rel=1e-5)


def test_singular_distance_needs_a_parsed_function_with_a_singularity() -> None:
    assert singular_distance(parse("sin(x)*exp(x)"), np.array([1.0]), np.array([1.0])) is None
    assert singular_distance(as_function(np.sqrt), np.array([1e-6]), np.array([1.0])) is None
    assert singular_distance(parse("abs(x)"), np.array([0.0]), np.array([1.0])) is None  # on it


def test_poles_and_kinks_come_from_the_rows_domains() -> None:
    """A row's Domain(poles=...) makes a callable's singular arguments: np.reciprocal's pole at
    0 is reported as the argument itself, tan's as cos of its argument (closed forms)."""
    found = singular_arguments(as_function(lambda x: np.reciprocal(x - 2.0) + np.tan(x)),
                               np.array([0.5]))
    assert list(found) == [0.5 - 2.0, math.cos(0.5)]
