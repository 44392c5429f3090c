"""Tests of the catalogue: every entry parses, is defined where it claims, and is what it says.

The seed entries are checked against formulas written directly with SymPy symbols (not through
diffx) and against the numbers the seed notebooks print. Numpy entries (kind ``numpy``) are
callables of one vector: they have no variable names (the point's length is n) and are evaluated
at one array, an object array of mpmath numbers (:class:`diffx.object_arrays.ObjectArray`, as
:mod:`diffx.reference` evaluates them) at 60 digits.
"""

from __future__ import annotations

import doctest
import math

import mpmath
import numpy as np
import pytest
import sympy

from diffx import catalog, numpy_corpus
from diffx.catalog import CATALOG, KINDS, CatalogEntry
from diffx.errors import DiffxError
from diffx.functions import CallableFunction, Function, parse
from diffx.object_arrays import ObjectArray, flat_outputs

ALL = catalog.names()
NUMPY = catalog.names("numpy")


def _outputs(value: object) -> list:
    """A scalar or vector function's value as a list of outputs."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _at(entry: CatalogEntry, coordinates: list) -> list:
    """The entry's outputs at ``coordinates`` (floats or mpmath numbers), as a list: an
    expression takes one argument per variable, numpy code one vector."""
    function = entry.function()
    if entry.numpy_case is None:
        return _outputs(function(*coordinates))
    if all(isinstance(c, float) for c in coordinates):
        return list(np.ravel(function(np.array(coordinates))))
    vector = ObjectArray(np.array(coordinates, dtype=object))
    return flat_outputs(function.on_vector(vector, len(coordinates)))


# --------------------------------------------------------------------------------------------
# Every entry
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_entry_parses(name: str) -> None:
    entry = catalog.get(name)
    function = entry.function()
    assert isinstance(function, Function)
    if entry.kind == "numpy":  # a callable of one vector: n is set by the point
        assert isinstance(function, CallableFunction) and function.takes_vector
        assert function.variables is None
        assert function.func is numpy_corpus.by_name(entry.numpy_case).func
    else:
        assert function.variables
    assert entry.function() is function  # parsed (wrapped) once


@pytest.mark.parametrize("name", ALL)
def test_point_has_one_coordinate_per_variable(name: str) -> None:
    entry = catalog.get(name)
    assert isinstance(entry.point, tuple)
    assert all(isinstance(c, float) for c in entry.point), entry.point
    function = entry.function()
    if entry.kind == "numpy":
        assert function.n_inputs(np.array(entry.point)) == len(entry.point) >= 2
    else:
        assert len(entry.point) == len(function.variables)


@pytest.mark.parametrize("name", ALL)
def test_finite_at_point(name: str) -> None:
    entry = catalog.get(name)
    with np.errstate(all="raise"):  # a domain error or overflow at the point fails the test
        outputs = _at(entry, list(entry.point))
    assert all(math.isfinite(float(v)) for v in outputs), (name, entry.point, outputs)
    if entry.kind == "vector" or entry.function().is_vector_valued(len(entry.point)):
        assert len(outputs) >= 2


@pytest.mark.parametrize("name", ALL)
def test_kind_matches_shape(name: str) -> None:
    entry = catalog.get(name)
    function = entry.function()
    n = len(entry.point)
    assert entry.kind in KINDS
    if entry.kind == "numpy":  # scalar or vector code: as the corpus case says
        vector = numpy_corpus.by_name(entry.numpy_case).vector_output
        assert function.is_vector_valued(n) == vector
        assert n > 1
        return
    assert (entry.kind == "vector") == function.vector_output
    if entry.kind == "scalar":
        assert n == 1
    if entry.kind == "multivariate":
        assert n > 1


@pytest.mark.parametrize("name", ALL)
def test_description_is_one_useful_line(name: str) -> None:
    entry = catalog.get(name)
    assert entry.name == name
    assert len(entry.description) > 20
    assert "\n" not in entry.description


def _one_sided_slopes(entry: CatalogEntry, h: str = "1e-25") -> list[tuple]:
    """(left, right) difference quotients at 60 digits along every coordinate, every output."""
    with mpmath.workdps(60):
        step = mpmath.mpf(h)
        point = [mpmath.mpf(c) for c in entry.point]
        centre = _at(entry, point)
        slopes = []
        for i in range(len(point)):
            right = _at(entry, [p + step if j == i else p for j, p in enumerate(point)])
            left = _at(entry, [p - step if j == i else p for j, p in enumerate(point)])
            for k, value in enumerate(centre):
                slopes.append(((value - left[k]) / step, (right[k] - value) / step))
        return slopes


@pytest.mark.parametrize("name", ALL)
def test_smooth_flag_matches_one_sided_slopes(name: str) -> None:
    """Smooth entries have equal left and right slopes at the point; kinks have different ones."""
    entry = catalog.get(name)
    slopes = _one_sided_slopes(entry)
    gaps = [abs(right - left) / max(1, abs(left), abs(right)) for left, right in slopes]
    if entry.smooth:
        assert max(gaps) < 1e-10, (name, slopes)
    else:
        assert max(gaps) > 0.5, (name, slopes)


# --------------------------------------------------------------------------------------------
# The catalogue as a whole
# --------------------------------------------------------------------------------------------
def test_size_and_kinds() -> None:
    assert len(CATALOG) >= 26
    assert len(set(ALL)) == len(ALL) == len(CATALOG)
    counts = {kind: len(catalog.names(kind)) for kind in KINDS}
    assert counts["scalar"] >= 5
    assert counts["multivariate"] >= 5
    assert counts["vector"] >= 2
    assert counts["seed"] >= 5
    assert counts["hard"] >= 6
    assert counts["numpy"] >= 8
    assert sum(counts.values()) == len(CATALOG)


def test_kinks_are_marked_and_only_kinks() -> None:
    assert {name for name in ALL if not CATALOG[name].smooth} == {"abs_kink", "relu_kink"}
    assert CATALOG["abs_shifted"].smooth


def test_expressions_are_unique() -> None:
    pairs = [(e.expression, e.point) for e in CATALOG.values()]
    assert len(set(pairs)) == len(pairs)


def test_get_unknown_name_lists_known_names() -> None:
    with pytest.raises(DiffxError, match="nope") as info:
        catalog.get("nope")
    assert isinstance(info.value, KeyError)
    message = str(info.value)
    assert "rosenbrock" in message and "seed_cubic" in message and "known" in message


def test_names_rejects_unknown_kind() -> None:
    with pytest.raises(DiffxError, match="multivariate"):
        catalog.names("matrix")


def test_entry_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        CatalogEntry("bad", "x", (1.0,), "matrix")


def test_numpy_kind_and_numpy_case_go_together() -> None:
    with pytest.raises(ValueError, match="numpy_case"):
        CatalogEntry("bad", "x", (1.0,), "numpy")
    with pytest.raises(ValueError, match="numpy_case"):
        CatalogEntry("bad", "x", (1.0,), "scalar", numpy_case="rosenbrock")


# --------------------------------------------------------------------------------------------
# Numpy entries: one source of truth, the corpus case
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NUMPY)
def test_numpy_entry_is_its_corpus_case(name: str) -> None:
    entry = catalog.get(name)
    case = numpy_corpus.by_name(entry.numpy_case)
    assert name == f"np_{case.name}"
    assert entry.point == case.point
    assert entry.smooth == (not case.kink)
    assert not entry.parsable
    x = np.array(entry.point)
    assert np.array_equal(np.ravel(entry.function()(x)), np.ravel(case.func(x)))


@pytest.mark.parametrize("name", NUMPY)
def test_numpy_entry_shows_its_code_on_one_line(name: str) -> None:
    entry = catalog.get(name)
    assert "\n" not in entry.expression
    assert "np." in entry.expression and entry.expression.count("return ") == 1
    with pytest.raises(DiffxError):  # numpy code is not an expression string
        parse(entry.expression)


def test_numpy_entries_cover_the_kinds_of_user_code() -> None:
    """A loss, an MLP, vectorised Rosenbrock, a log-determinant, a solve, np.where, a norm and
    a vector-valued residual."""
    code = " ".join(CATALOG[name].expression for name in NUMPY)
    for call in ("np.log(np.sum(np.exp(", "np.tanh(", "x[1:]", "np.linalg.slogdet(",
                 "np.linalg.solve(", "np.where(", "np.linalg.norm(", "np.concatenate("):
        assert call in code, call
    assert any(CATALOG[name].function().is_vector_valued(len(CATALOG[name].point))
               for name in NUMPY)


def test_numpy_rosenbrock_against_its_formula() -> None:
    """The vectorised Rosenbrock entry computes the written-out sum (independent SymPy form)."""
    xs = sympy.symbols("x0:5")
    formula = sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(4))
    entry = CATALOG["np_rosenbrock"]
    for shift in (0.0, 0.37, -0.81):
        point = [c + shift * (i + 1) for i, c in enumerate(entry.point)]
        expected = float(formula.subs(dict(zip(xs, point, strict=True))))
        assert _at(entry, point)[0] == pytest.approx(expected, rel=1e-13)


def test_code_line_drops_the_docstring() -> None:
    def documented(x):
        """Twice x."""
        y = 2 * x
        return y

    assert catalog.code_line(documented) == "y = 2 * x; return y"


def test_docstring_examples() -> None:
    result = doctest.testmod(catalog)
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------------------------
# Seed entries against independent SymPy formulas and the seeds' printed numbers
# --------------------------------------------------------------------------------------------
def _check_formula(name: str, formula: sympy.Expr, symbols: tuple[sympy.Symbol, ...]) -> None:
    """The entry evaluates like ``formula`` at its point and at two nearby points."""
    entry = catalog.get(name)
    assert entry.function().variables == tuple(s.name for s in symbols)
    for shift in (0.0, 0.37, -0.81):
        point = [c + shift * (i + 1) for i, c in enumerate(entry.point)]
        expected = float(formula.subs(dict(zip(symbols, point, strict=True))))
        assert float(entry.function()(*point)) == pytest.approx(expected, rel=1e-12, abs=1e-300)


def _gradient_at(formula: sympy.Expr, symbols: tuple, point: tuple[float, ...]) -> list[float]:
    at = dict(zip(symbols, [sympy.nsimplify(c) for c in point], strict=True))
    return [float(sympy.diff(formula, s).subs(at)) for s in symbols]


def test_seed_cubic() -> None:
    x = sympy.Symbol("x")
    formula = 3 * x**3 + x**2
    _check_formula("seed_cubic", formula, (x,))
    assert CATALOG["seed_cubic"].point == (10.0,)
    assert sympy.diff(formula, x).subs(x, 10) == 920  # seed 002 prints tf.Tensor(920.0)


def test_seed_poly() -> None:
    x = sympy.Symbol("x")
    formula = x**2 + x**3 + 5
    _check_formula("seed_poly", formula, (x,))
    assert CATALOG["seed_poly"].point == (2.0,)
    assert sympy.diff(formula, x).subs(x, 2) == 16  # seed 003 prints tf.Tensor([16.])


def test_seed_quadratic() -> None:
    x = sympy.Symbol("x")
    formula = x**2 - 20 * x + 100
    _check_formula("seed_quadratic", formula, (x,))
    assert CATALOG["seed_quadratic"].point == (50.0,)
    assert sympy.diff(formula, x).subs(x, 50) == 80
    assert sympy.solve(sympy.diff(formula, x), x) == [10]  # where seed 002's descent converges


def test_sigmoid_neuron() -> None:
    b, w = sympy.symbols("b w")
    h = 1 / (1 + sympy.exp(-(w * sympy.Rational(3, 2) + b)))
    formula = (sympy.Rational(1, 5) - h) ** 2
    _check_formula("sigmoid_neuron", formula, (b, w))
    point = CATALOG["sigmoid_neuron"].point
    assert point == (-2.0, 3.0)
    assert float(h.subs({b: -2, w: 3})) == pytest.approx(0.9241418, abs=1e-7)  # seed 000
    # seed 000 prints grad b = 0.10153006, grad w = 0.15229508 (float32)
    assert _gradient_at(formula, (b, w), point) == pytest.approx([0.10153006, 0.15229508],
                                                                 abs=1e-7)


def test_cs231n_neuron() -> None:
    b, w0, w1 = sympy.symbols("b w0 w1")
    x0, x1 = -1, -2
    formula = 1 / (1 + sympy.exp(-(w0 * x0 + w1 * x1 + b)))
    _check_formula("cs231n_neuron", formula, (b, w0, w1))
    point = CATALOG["cs231n_neuron"].point
    assert point == (-3.0, 2.0, -3.0)
    assert float(formula.subs({b: -3, w0: 2, w1: -3})) == pytest.approx(0.73, abs=5e-3)
    # the CS231n lecture's backpropagated gradients, rounded to two decimals
    gradient = _gradient_at(formula, (b, w0, w1), point)
    assert [round(g, 2) for g in gradient] == [0.20, -0.20, -0.39]


def test_himmelblau_matches_seed_003() -> None:
    x, y = sympy.symbols("x y")
    formula = (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2
    _check_formula("himmelblau", formula, (x, y))
    point = CATALOG["himmelblau"].point
    assert float(formula.subs({x: 0, y: 0})) == 170  # seed 003: step 0 pred = 170.0
    # seed 003's first step with lr 0.001 goes to (0.014, 0.022): the gradient is (-14, -22)
    assert _gradient_at(formula, (x, y), point) == [-14.0, -22.0]


def test_rosenbrock() -> None:
    x, y = sympy.symbols("x y")
    _check_formula("rosenbrock", (1 - x) ** 2 + 100 * (y - x**2) ** 2, (x, y))


def test_rosenbrock4_is_the_sum_form() -> None:
    xs = sympy.symbols("x0:4")
    formula = sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(3))
    _check_formula("rosenbrock4", formula, xs)


def test_softmax_entries_match_numpy() -> None:
    logits = np.array(CATALOG["softmax"].point)
    probabilities = np.exp(logits) / np.exp(logits).sum()
    values = CATALOG["softmax"].function()(*logits)
    assert np.allclose(values, probabilities, rtol=1e-14)
    loss = CATALOG["softmax_cross_entropy"]
    assert loss.point == CATALOG["softmax"].point
    assert float(loss.function()(*loss.point)) == pytest.approx(-math.log(probabilities[0]),
                                                                rel=1e-14)
    # the seed-000 logits (first three of nine)
    assert loss.point == (1.26908707619, 0.61077165603, -0.7032195329)


def test_logistic_map_is_four_compositions() -> None:
    x = sympy.Symbol("x")
    formula = x
    for _ in range(4):
        formula = 4 * formula * (1 - formula)
    _check_formula("logistic_map", formula, (x,))
    assert sympy.degree(sympy.expand(formula), x) == 16


def test_polar_to_cartesian_variable_order() -> None:
    entry = CATALOG["polar_to_cartesian"]
    assert entry.function().variables == ("r", "t")
    r, t = entry.point
    values = entry.function()(*entry.point)
    assert values == pytest.approx([r * math.cos(t), r * math.sin(t)], rel=1e-15)
