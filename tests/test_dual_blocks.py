"""jvp of an elementwise callable on a long vector, block by block (diffx.engines.dual, idea 5).

The blocked path must give what the whole-array path gives: elementwise outputs bit for bit
(value, tangent, warnings), sums to rounding. Truth here is the whole-array path run on the
same inputs (blocks switched off), closed forms, or mpmath at 50 digits. Blocks are made small
(BLOCK = 64 points) so that short vectors cross many block boundaries, including a last,
partial block. Nothing here measures time (benchmarks/dual_ratios.py does).
"""

from __future__ import annotations

import functools
import math
import platform
import subprocess
import sys
import warnings

import mpmath
import numpy as np
import pytest

import diffx
from diffx import elementary as E
from diffx.engines import dual, dual_speed
from diffx.errors import DomainWarning, NonDifferentiableWarning

DEFAULTS = (dual_speed.BLOCK_ELEMENTS, dual_speed.REDUCTION_BLOCK_ELEMENTS,
            dual_speed.BLOCKED_FROM_ELEMENTS)
BLOCK = 64
N = 1001  # 15 full blocks and a partial one
EXACT_RTOL = 1e-13  # as tests/test_dual.py: rounding of the derivative formula in float64


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(dual_speed, "BLOCK_ELEMENTS", BLOCK)
    monkeypatch.setattr(dual_speed, "REDUCTION_BLOCK_ELEMENTS", 4 * BLOCK)
    monkeypatch.setattr(dual_speed, "BLOCKED_FROM_ELEMENTS", 2)


@pytest.fixture
def replays(monkeypatch) -> list:
    """The calls of the replay (one per jvp that took the blocked path)."""
    calls: list = []
    replay = dual_speed._replay

    def spy(*args):
        calls.append(args)
        return replay(*args)

    monkeypatch.setattr(dual_speed, "_replay", spy)
    return calls


def whole(f, x, v):
    """jvp on the whole array at once (the path every callable took before blocks)."""
    size = dual_speed.BLOCK_ELEMENTS
    dual_speed.BLOCK_ELEMENTS = 10**12
    try:
        return diffx.jvp(f, x, v)
    finally:
        dual_speed.BLOCK_ELEMENTS = size


def same_bits(a, b) -> bool:
    """Equal bit for bit (NaN payloads and signs of zero included; duals part by part)."""
    if isinstance(a, dual.Dual) or isinstance(b, dual.Dual):
        return type(a) is type(b) and same_bits(a.value, b.value) and same_bits(a.tangent,
                                                                                b.tangent)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def point(n: int = N) -> np.ndarray:
    """-3 … 3 with exact zeros in the first block and in a later one (kinks, ties)."""
    x = np.linspace(-3.0, 3.0, n)
    x[[5, n // 2]] = 0.0
    return x


def direction(x: np.ndarray) -> np.ndarray:
    return np.cos(3.0 * x) + 0.25


def directions(x: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(x), np.cos(3.0 * x), -x])


# --------------------------------------------------------------------------------------------
# Elementwise callables: bit for bit the whole-array result
# --------------------------------------------------------------------------------------------
ELEMENTWISE = {
    "benchmark-1": lambda x: np.exp(-0.5 * x**2) * np.tanh(x) + np.log1p(x**2),
    "benchmark-2": lambda x: np.sin(x) * np.exp(-x**2),
    "benchmark-4": lambda x: x * x + 3.0 * x,
    "table-rows": lambda x: (diffx.sigmoid(x) + diffx.softplus(x) + diffx.relu(x)
                             + diffx.sign(x) * x + diffx.heaviside(x) + diffx.arctan(x)
                             + diffx.sinh(x) * diffx.cosh(x) + diffx.arcsin(x / 4)
                             + diffx.arccos(x / 4) + diffx.tan(x) + diffx.sqrt(x * x + 1)
                             + diffx.abs(x) + diffx.log(x * x + 0.5)),
    "composed-ufuncs": lambda x: (np.expm1(x) + np.log1p(x * x) + np.hypot(x, 2.0)
                                  + np.logaddexp(x, 0.5) + np.exp2(x) + np.log2(1.0 + x * x)
                                  + np.log10(2.0 + x * x) + np.square(x)
                                  + np.reciprocal(2.0 + x * x) + np.fabs(x) + np.positive(x)
                                  + np.deg2rad(x) + np.rad2deg(x)),
    "constants": lambda x: (2**x + x**3 + x / 3 + 3 / (x + 0.5) + np.float64(2.0) * x
                            + np.array(1.5) * x - x + abs(x) + (+x) + (1 - x) * True
                            + np.power(x, 2) + np.float_power(2.0, x)),
    "outside-the-domain": lambda x: np.sqrt(x) + np.log(x) + x**0.5,  # NaN, inf below 0
    "ties": lambda x: (np.maximum(x, 0.0) + np.minimum(x, -x) + np.maximum(x, 2 * x)
                       + np.maximum(x, x)),
    "identity": lambda x: x,
    "a-ufunc": np.sin,
    "a-table-row": diffx.tanh,
}


@pytest.mark.parametrize("chunked", [False, True], ids=["one-direction", "three-directions"])
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_callables_give_the_whole_array_result_bit_for_bit(name, chunked,
                                                                       replays) -> None:
    f = ELEMENTWISE[name]
    x = point()
    v = directions(x) if chunked else direction(x)
    with warnings.catch_warnings(record=True) as caught_blocks:
        warnings.simplefilter("always")
        value, tangent = diffx.jvp(f, x, v)
    assert len(replays) == 1, "the blocked path was not taken"
    with warnings.catch_warnings(record=True) as caught_whole:
        warnings.simplefilter("always")
        expected_value, expected_tangent = whole(f, x, v)
    assert same_bits(value, expected_value) and same_bits(tangent, expected_tangent), name
    assert [(w.category, str(w.message)) for w in caught_blocks] == [
        (w.category, str(w.message)) for w in caught_whole]


def test_a_benchmark_function_against_its_derivative_written_out(replays) -> None:
    """exp(-x²/2)·tanh x + log1p(x²): derivative exp(-x²/2)(sech²x - x·tanh x) + 2x/(1+x²),
    on 10⁶ points with the default blocks (normwise relative error: rounding only)."""
    (dual_speed.BLOCK_ELEMENTS, dual_speed.REDUCTION_BLOCK_ELEMENTS,
     dual_speed.BLOCKED_FROM_ELEMENTS) = DEFAULTS
    x = np.linspace(-3.0, 3.0, 10**6)
    v = np.cos(x)
    value, tangent = diffx.jvp(ELEMENTWISE["benchmark-1"], x, v)
    assert len(replays) == 1
    g = np.exp(-0.5 * x * x)
    expected = (g * (1.0 / np.cosh(x) ** 2 - x * np.tanh(x)) + 2 * x / (1 + x * x)) * v
    assert np.linalg.norm(tangent - expected) <= EXACT_RTOL * np.linalg.norm(expected)
    assert np.linalg.norm(value - (g * np.tanh(x) + np.log1p(x * x))) <= \
        EXACT_RTOL * np.linalg.norm(value)


@pytest.mark.parametrize("n", [2, 63, 64, 65, 129])
def test_short_vectors_and_partial_blocks(n, monkeypatch) -> None:
    monkeypatch.setattr(dual_speed, "BLOCK_ELEMENTS", 1)
    monkeypatch.setattr(dual_speed, "REDUCTION_BLOCK_ELEMENTS", 2)
    x = np.linspace(-1.0, 2.0, n)
    for f in (ELEMENTWISE["benchmark-2"], lambda x: np.sum(np.sin(x) * x)):
        for got, expected in zip(diffx.jvp(f, x, direction(x)), whole(f, x, direction(x))):
            assert np.allclose(got, expected, rtol=EXACT_RTOL, atol=0), (n, got, expected)
    value, tangent = diffx.jvp(ELEMENTWISE["benchmark-2"], x, direction(x))
    assert same_bits(value, np.sin(x) * np.exp(-x**2))  # the same operations
    expected = (np.cos(x) - 2 * x * np.sin(x)) * np.exp(-x * x) * direction(x)
    assert np.linalg.norm(tangent - expected) <= EXACT_RTOL * np.linalg.norm(expected)


def test_a_scalar_and_a_one_element_point_take_the_whole_array_path(replays) -> None:
    f = ELEMENTWISE["benchmark-2"]
    expected = (math.sin(0.5) * math.exp(-0.25),
                2.0 * (math.cos(0.5) - 2 * 0.5 * math.sin(0.5)) * math.exp(-0.25))
    for x, v in ((0.5, 2.0), (np.array([0.5]), np.array([2.0]))):
        value, tangent = diffx.jvp(f, x, v)
        assert np.allclose([np.squeeze(value), np.squeeze(tangent)], expected,
                           rtol=EXACT_RTOL, atol=0)
    assert replays == []


def test_a_vector_shorter_than_the_threshold_takes_the_whole_array_path(monkeypatch,
                                                                         replays) -> None:
    monkeypatch.setattr(dual_speed, "BLOCKED_FROM_ELEMENTS", N + 1)
    diffx.jvp(ELEMENTWISE["benchmark-2"], point(), direction(point()))
    assert replays == []


def test_the_probe_calls_f_once_and_leaves_plain_duals() -> None:
    calls, seen = [], []

    def f(x):
        calls.append(1)
        y = np.sin(x) * x
        seen.append(y)
        return y

    diffx.jvp(f, point(), direction(point()))
    assert len(calls) == 1  # the other blocks replay the recorded operations
    assert type(seen[0]) is dual.Dual and dual_speed._TAPES == {}


# --------------------------------------------------------------------------------------------
# Sums and means: the blocks' numpy sums added exactly
# --------------------------------------------------------------------------------------------
def fifty_digit_sum(terms) -> float:
    return float(mpmath.fsum(terms))


@pytest.mark.usefixtures("fifty_digits")
def test_sum_of_squares_against_fifty_digits(replays) -> None:
    """Σ(x-1)² and its tangent Σ2(x-1)v. Each computed term is within 2-3 roundings of the
    exact one; numpy's pairwise sum of m terms (8 running sums over pieces of 128, then pairs)
    adds at most about (16 + log2(m/128)) roundings relative to Σ|term|, and math.fsum of the
    block sums one more: under 30·2⁻⁵³·Σ|term| for the blocked and the whole sum alike, far
    inside 1e-13·Σ|term|."""
    x = np.linspace(-3.0, 3.0, 20_011)
    v = direction(x)
    value, tangent = diffx.jvp(lambda x: np.sum((x - 1.0) ** 2), x, v)
    assert len(replays) == 1
    exact = [(mpmath.mpf(a) - 1) ** 2 for a in x]
    exact_tangent = [2 * (mpmath.mpf(a) - 1) * mpmath.mpf(b) for a, b in zip(x, v)]
    scale = fifty_digit_sum(abs(t) for t in exact_tangent)
    for got in (value, whole(lambda x: np.sum((x - 1.0) ** 2), x, v)[0]):
        assert abs(got - fifty_digit_sum(exact)) <= EXACT_RTOL * fifty_digit_sum(exact)
    for got in (tangent, whole(lambda x: np.sum((x - 1.0) ** 2), x, v)[1]):
        assert abs(got - fifty_digit_sum(exact_tangent)) <= EXACT_RTOL * scale
    assert isinstance(value, float) and isinstance(tangent, float)


@pytest.mark.usefixtures("fifty_digits")
def test_mean_with_a_block_of_directions_against_fifty_digits(replays) -> None:
    """mean(sin(x)·x): value Σ sin(x)x / n, tangent row j Σ (cos(x)x + sin x)·vⱼ / n."""
    x = np.linspace(-3.0, 3.0, 5_003)
    V = directions(x)
    value, tangent = diffx.jvp(lambda x: (np.sin(x) * x).mean(), x, V)
    assert len(replays) == 1 and tangent.shape == (3,)
    n, xs = len(x), [mpmath.mpf(a) for a in x]
    assert abs(value - fifty_digit_sum(mpmath.sin(a) * a for a in xs) / n) <= \
        EXACT_RTOL * fifty_digit_sum(abs(mpmath.sin(a) * a) for a in xs) / n
    for row, got in zip(V, tangent):
        terms = [(mpmath.cos(a) * a + mpmath.sin(a)) * mpmath.mpf(b) for a, b in zip(xs, row)]
        assert abs(got - fifty_digit_sum(terms) / n) <= \
            EXACT_RTOL * fifty_digit_sum(abs(t) for t in terms) / n


SUMMED_ROW = 24  # rows of 24 points: each 256-point sum block has 10 rows and a tail of 16
# Each blocked sum adds, per term, its own rounding and at most SUMMED_ROW (a dot's running sum)
# + 11 (numpy's sum of the ≤ 11 row sums) + 1 (fsum of the block sums) + 1 (two partials'
# sums added) more: 38 roundings of 2⁻⁵³ relative to Σ|term|; 64 leaves room for the terms'
# own rounding (each term, as the whole-array path computes it, is within a rounding or two).
SUM_RTOL = 64 * 2.0**-53


def fsum_rows(terms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exact sums (math.fsum) over the last axis and the sums of the absolute values."""
    exact = np.array([math.fsum(row) for row in terms.reshape(-1, terms.shape[-1])])
    scale = np.array([math.fsum(np.abs(row)) for row in terms.reshape(-1, terms.shape[-1])])
    return exact.reshape(terms.shape[:-1]), scale.reshape(terms.shape[:-1])


@pytest.mark.parametrize("chunked", [False, True], ids=["one-direction", "three-directions"])
@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if n != "outside-the-domain"])
def test_sums_of_elementwise_callables_are_the_exact_sums_to_rounding(name, chunked, replays,
                                                                      monkeypatch) -> None:
    """np.sum(f(x)) block by block (the last operation's tangent, and a product's value, summed
    by dots over rows of SUMMED_ROW points) against math.fsum of the terms that the whole-array
    path computes elementwise (blocks switched off)."""
    monkeypatch.setattr(dual_speed, "SUMMED_ROW", SUMMED_ROW)
    f = ELEMENTWISE[name]
    x = point()
    v = directions(x) if chunked else direction(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonDifferentiableWarning)  # (ties: tested below)
        value, tangent = diffx.jvp(lambda x: np.sum(f(x)), x, v)
        terms, tangent_terms = whole(f, x, v)
    assert len(replays) == 1, "the blocked path was not taken"
    for got, parts in ((value, terms), (tangent, tangent_terms)):
        exact, scale = fsum_rows(parts)
        assert np.shape(got) == np.shape(exact)
        assert np.all(np.abs(got - exact) <= SUM_RTOL * scale), (name, got - exact, scale)


@pytest.mark.parametrize("n", [1, 23, 24, 25, 257])
@pytest.mark.parametrize("partial", ["array", "number"])
@pytest.mark.parametrize("lead", [(), (3,)], ids=["one-direction", "three-directions"])
def test_summed_products_against_exact_sums(n, partial, lead, monkeypatch) -> None:
    """Σ over the last axis of partial·tangent: rows of SUMMED_ROW points and a tail, for one
    or three directions, against math.fsum of the exactly rounded products."""
    monkeypatch.setattr(dual_speed, "SUMMED_ROW", SUMMED_ROW)
    rng = np.random.default_rng(n)
    tangent = rng.standard_normal((*lead, n))
    p = rng.standard_normal(n) if partial == "array" else -0.375
    got = dual_speed._summed_products(p, tangent)
    exact, scale = fsum_rows(p * tangent)
    assert np.shape(got) == lead and np.all(np.abs(got - exact) <= SUM_RTOL * scale)


def test_a_sum_that_overflows_is_infinite_and_warns() -> None:
    x = np.full(1000, 1e306)
    with pytest.warns(DomainWarning):
        value, tangent = diffx.jvp(lambda x: np.sum(x * 100.0), x, np.ones_like(x))
    assert value == math.inf and tangent == 100.0 * 1000


# --------------------------------------------------------------------------------------------
# Warnings: once, as on the whole array
# --------------------------------------------------------------------------------------------
def tie_warnings(f, x):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, tangent = diffx.jvp(f, x, np.ones_like(x))
    return tangent, [w for w in caught if issubclass(w.category, NonDifferentiableWarning)]


@pytest.mark.parametrize("where", [[5], [700], [5, 700, 900]], ids=["probe", "later",
                                                                      "several-blocks"])
def test_a_tie_warns_once_per_operation_wherever_it_is(where, replays) -> None:
    x = np.linspace(1.0, 2.0, N)
    x[where] = 0.0
    tangent, caught = tie_warnings(lambda x: np.maximum(x, -x) + np.minimum(x, 0.0), x)
    assert len(replays) == 1 and len(caught) == 2  # one per np.maximum / np.minimum call
    # the mean of the tied tangents: (1 + -1)/2 = 0 for max(x, -x), (1 + 0)/2 for min(x, 0)
    assert np.all(tangent[where] == 0.5)


def test_no_tie_no_warning() -> None:
    _, caught = tie_warnings(lambda x: np.maximum(x, -x), np.linspace(1.0, 2.0, N))
    assert caught == []


def test_a_value_outside_the_domain_in_a_later_block_warns(replays) -> None:
    x = np.linspace(1.0, 2.0, N)
    x[800] = 0.0
    with pytest.warns(DomainWarning):
        value, tangent = diffx.jvp(np.sqrt, x, np.ones_like(x))
    assert len(replays) == 1 and value[800] == 0.0 and tangent[800] == math.inf


# --------------------------------------------------------------------------------------------
# What the probe refuses runs on the whole array, as before
# --------------------------------------------------------------------------------------------
DATA = np.linspace(0.0, 1.0, N)


def reads_the_value(x):
    return x * float(np.sum(x.value))


def catches_the_refusal(x):
    try:
        len(x)
    except BaseException:  # the probe's refusal must survive this
        pass
    return np.sin(x)


NOT_ELEMENTWISE = {
    "indexing": lambda x: x[1:] * x[:-1],
    "shape": lambda x: x * x.shape[0],
    "len": lambda x: x * len(x),
    "comparison": lambda x: np.where(x > 0, x, -x),
    "truth-value": lambda x: x * 2 if np.sum(x * x) > 1 else x,
    "cumsum": lambda x: np.cumsum(x * x),
    "sum-then-more": lambda x: x * np.sum(x),
    "sum-over-an-axis": lambda x: np.sum(x * x, axis=0),
    "an-array-constant": lambda x: x * DATA,
    "a-list-of-outputs": lambda x: [np.sum(x), np.sum(x * x)],
    "reads-the-value": reads_the_value,
    "a-hand-built-dual": lambda x: dual.Dual(np.sin(DATA), np.cos(DATA), 10**9),
    "a-primal-only-ufunc": lambda x: x * np.isfinite(x),
    "matmul": lambda x: x @ x,
    "catches-the-refusal": catches_the_refusal,
}


@pytest.mark.parametrize("name", list(NOT_ELEMENTWISE))
def test_what_is_not_elementwise_runs_on_the_whole_array(name, replays) -> None:
    f = NOT_ELEMENTWISE[name]
    x = point()
    expected = whole(f, x, direction(x))
    got = diffx.jvp(f, x, direction(x))
    assert replays == [] and f in dual_speed._NOT_ELEMENTWISE
    for a, b in zip(got, expected):
        assert same_bits(a, b), name


def test_a_refused_callable_is_probed_once() -> None:
    calls = []

    def f(x):
        calls.append(1)
        return np.cumsum(x)

    x = point()
    diffx.jvp(f, x, direction(x))
    diffx.jvp(f, x, direction(x))
    assert len(calls) == 3  # probe + whole array, then the whole array only


def test_errors_of_f_are_raised_by_the_whole_array_path() -> None:
    def f(x):
        with np.errstate(divide="raise"):  # the blocks would run outside this context
            return np.log(x)

    x = point()
    with pytest.raises(FloatingPointError):
        diffx.jvp(f, x, direction(x))
    with pytest.raises(ValueError, match="mine"):
        diffx.jvp(lambda x: (_ for _ in ()).throw(ValueError("mine")), x, direction(x))


def test_warning_filters_changed_inside_f_keep_the_whole_array_path(replays) -> None:
    def f(x):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NonDifferentiableWarning)
            return np.maximum(x, -x)

    x = np.linspace(1.0, 2.0, N)
    x[700] = 0.0  # a tie outside the probe's block: it must stay silent
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        diffx.jvp(f, x, np.ones_like(x))
    assert replays == []


class Unhashable:
    __hash__ = None

    def __call__(self, x):
        return np.cumsum(x)


@pytest.mark.parametrize("f", [Unhashable(), functools.partial(np.multiply, 2.0)],
                         ids=["unhashable", "partial"])
def test_callables_of_any_kind(f) -> None:
    x = point()
    for a, b in zip(diffx.jvp(f, x, direction(x)), whole(f, x, direction(x))):
        assert same_bits(a, b)


# --------------------------------------------------------------------------------------------
# Nested derivatives: another perturbation inside f keeps the whole-array path
# --------------------------------------------------------------------------------------------
def test_jvp_inside_a_derivative_that_f_closes_over() -> None:
    """d/dt Σ sin(t·x) = Σ x·cos(t·x): the outer dual t meets the probe, which refuses it."""
    x = np.linspace(-1.0, 1.0, N)
    g = diffx.derivative(lambda t: np.sum(diffx.jvp(lambda y: np.sin(y * t), x,
                                                    np.zeros_like(x))[0]), 0.7)
    expected = math.fsum(x * np.cos(0.7 * x))
    assert abs(g - expected) <= EXACT_RTOL * math.fsum(np.abs(x))


def test_a_blocked_jvp_inside_a_blocked_jvp(replays) -> None:
    inner = np.linspace(0.0, 1.0, 500)

    def f(x):  # a real number from an inner jvp is a constant to the outer one
        return x * float(np.sum(diffx.jvp(np.sin, inner, np.ones_like(inner))[1]))

    x = point()
    value, tangent = diffx.jvp(f, x, direction(x))
    assert len(replays) == 2
    for a, b in zip((value, tangent), whole(f, x, direction(x))):
        assert same_bits(a, b)


def test_a_jvp_at_a_dual_point_is_not_blocked(replays) -> None:
    x = dual.Dual(point(), np.ones(N), tag=10**8)
    value, tangent = diffx.jvp(np.sin, x, direction(point()))
    assert replays == [] and isinstance(value, dual.Dual)
    assert same_bits(tangent.value, np.cos(point()) * direction(point()))


# --------------------------------------------------------------------------------------------
# The faster chain rule (registered for every Dual) gives dual.dual_rule's bits
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunked", [False, True], ids=["one-direction", "three-directions"])
@pytest.mark.parametrize("name", sorted(E.ELEMENTARY))
def test_the_fast_rule_gives_the_plain_rules_bits(name, chunked) -> None:
    """Every row on float arrays, with a dual or a constant in each place (broadcast from a
    number too), and u·u: dual_speed.fast_dual_rule against dual.dual_rule, bit for bit."""
    row = E.ELEMENTARY[name]
    u = np.linspace(0.1, 0.9, 7)  # inside every row's domain
    t = np.stack([np.cos(u), -u, np.ones_like(u)]) if chunked else np.cos(u)
    x, y = dual.Dual(u, t, tag=7), dual.Dual(u[::-1] + 0.5, t[..., ::-1] * 2, tag=7)
    cases = [(x,)] if row.arity == 1 else [(x, y), (x, 0.5 + u), (2.0, x), (x, 3.0), (x, x)]
    for args in cases:
        fast = dual_speed.fast_dual_rule(row, args, 7)
        plain = dual.dual_rule(row, args, 7)
        assert same_bits(fast, plain), (name, args)


# --------------------------------------------------------------------------------------------
# Memory: the blocks reuse what the blocks before them freed
# --------------------------------------------------------------------------------------------
FRESH_PROCESS_SUM = """
import resource, numpy as np
from diffx.engines import dual
x = np.linspace(-3.0, 3.0, 10**6)
v = np.ones_like(x)
f = lambda x: np.sum(np.sin(x) * np.exp(-x * x))
dual.jvp(f, x, v)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
dual.jvp(f, x, v)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="about glibc's malloc")
def test_a_blocked_sum_in_a_fresh_process_does_not_fault_its_blocks_in_again() -> None:
    """A count, not a time: page faults during a fresh process's second 10⁶-point jvp of
    Σ sin(x)·exp(-x²). glibc handed each block's freed intermediates (1 MB each) back to the
    OS, and the next block faulted them in again: 12967 faults per call, 2x the time. Now 0;
    100 leaves room for the allocator's own bookkeeping."""
    result = subprocess.run([sys.executable, "-c", FRESH_PROCESS_SUM], capture_output=True,
                            text=True, check=True)
    assert int(result.stdout) < 100
