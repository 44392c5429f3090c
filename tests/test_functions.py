"""Tests of the function model: safe parsing, its errors and limits, and the Function interface.

Numeric truths are closed forms, mpmath at 50 digits or the same formula written directly with
numpy/SymPy — never another diffx engine. The hostile corpus (tests/data/hostile.txt) is parsed
under a canary that records any call of ``__import__``, ``open``, ``eval``, ``exec`` or SymPy's
string parsers, so "nothing is evaluated" is checked, not assumed.
"""

from __future__ import annotations

import ast
import builtins
import math
import subprocess
import sys
import time

import mpmath
import numpy as np
import pytest
import sympy
import sympy.parsing.sympy_parser

import diffx
from diffx.engines.dual import Dual
from diffx.errors import DiffxError, LimitError, ParseError
from diffx.functions import (
    CallableFunction,
    Function,
    Limits,
    ParsedFunction,
    as_function,
    parse,
)

EPS = float(np.finfo(float).eps)
# A parsed formula and the same formula written with numpy perform the same libm calls, possibly
# grouped differently (a*b*c vs a*(b*c)); a few roundings apart, so 4·EPS relative.
FLOAT_RTOL = 4 * EPS
DPS = 50
TIME_BOUND = 1.0  # seconds: a safety bound (the slowest corpus line takes ~10 ms), not a benchmark


def _rel(got: float, truth) -> float:
    with mpmath.workdps(DPS + 10):
        truth = mpmath.mpf(truth)
        return float(abs(mpmath.mpf(got) - truth) / abs(truth))


def _parse_error(text, **kwargs) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse(text, **kwargs)
    return info.value


# --------------------------------------------------------------------------------------------
# Parsing basics
# --------------------------------------------------------------------------------------------
def test_variables_found_and_sorted_naturally() -> None:
    assert parse("x10 + x2*x1 + y").variables == ("x1", "x2", "x10", "y")
    assert parse("b + a").variables == ("a", "b")
    assert parse("x_2 + x_10 + x_1").variables == ("x_1", "x_2", "x_10")
    assert parse("x + x*x").variables == ("x",)  # each variable once


def test_explicit_variables_set_order_and_allow_long_names() -> None:
    f = parse("x*y", variables=["y", "x"])
    assert f.variables == ("y", "x")
    assert f(2.0, 5.0) == 10.0
    g = parse("alpha**2 - beta", variables=["alpha", "beta"])
    assert g(3.0, 1.5) == 7.5
    h = parse("x", variables=["x", "unused"])  # unused variables are allowed (zero gradient)
    assert h.variables == ("x", "unused") and h(4.0, 9.0) == 4.0
    assert np.array_equal(diffx.gradient(h, [4.0, 9.0]), [1.0, 0.0])
    # variables= is exhaustive: other names are errors that list the variables
    err = _parse_error("alpha*x", variables=["alpha"])
    assert "unknown name 'x'" in err.message and "alpha" in err.message
    for bad in ("sin", "1x", "x-y", ""):
        with pytest.raises(ParseError, match="invalid variable name"):
            parse("x", variables=[bad])


def test_constants_are_not_variables() -> None:
    f = parse("pi*x + e")
    assert f.variables == ("x",)
    assert f(2.0) == 2 * np.pi + np.e
    assert parse("pi + e").variables == ("x",)  # a constant is a function of x
    x = sympy.Symbol("x", real=True)
    assert parse("pi*x + e").sympy_form(1) == [sympy.pi * x + sympy.E]
    assert parse("e", variables=["e"]).variables == ("e",)  # unless named as a variable
    with mpmath.workdps(DPS):  # and in mpmath the constants carry full precision
        assert _rel(parse("pi*x")(mpmath.mpf(1)), +mpmath.pi) < 1e-49


def test_caret_is_power_and_unary_signs() -> None:
    x, y = parse("x").symbols(1)[0], sympy.Symbol("y", real=True)
    assert parse("x^3").sympy_form(1) == [x**3]
    assert parse("2^x^2").sympy_form(1) == [2 ** (x**2)]  # right-associative like **
    assert parse("-x + +y").sympy_form(2) == [-x + y]
    assert parse("--x").sympy_form(1) == [x]
    assert parse("-x**2")(3.0) == -9.0  # ** binds tighter than unary minus
    assert parse("x^2")(3.0) == 9.0


def test_aliases() -> None:
    x = sympy.Symbol("x", real=True)
    got = parse("ln(x) + asin(x) + acos(x) + atan(x) + logistic(x)").sympy_form(1)[0]
    want = sympy.log(x) + sympy.asin(x) + sympy.acos(x) + sympy.atan(x) + 1 / (1 + sympy.exp(-x))
    assert sympy.simplify(got - want) == 0
    assert parse("ln(x)")(np.e**2) == 2.0
    assert parse("ln(x)").variables == ("x",)


def test_vector_valued() -> None:
    f = parse("[x*y, sin(x)]")
    assert f.vector_output and f.variables == ("x", "y")
    value = f(2.0, 3.0)
    assert value[0] == 6.0 and _rel(value[1], mpmath.sin(2)) <= FLOAT_RTOL
    x, y = f.symbols(2)
    assert f.sympy_form(2) == [x * y, sympy.sin(x)]
    assert parse("(x, y**2)").sympy_form(2) == [x, y**2]  # a tuple works too
    jac = diffx.jacobian(f, [2.0, 3.0], method="dual")
    assert jac.shape == (2, 2)
    assert np.allclose(jac, [[3.0, 2.0], [float(mpmath.cos(2)), 0.0]], rtol=FLOAT_RTOL, atol=0)


def test_evaluation_equals_the_formula_in_numpy() -> None:
    text = "sin(x)*exp(-x^2) + log(1 + y^2)/sqrt(x) - tanh(x*y) + abs(y)**0.5 - 3*cosh(y)/7"
    f = parse(text)

    def direct(x, y):
        return (np.sin(x) * np.exp(-x**2) + np.log(1 + y**2) / np.sqrt(x) - np.tanh(x * y)
                + np.abs(y) ** 0.5 - 3 * np.cosh(y) / 7)

    for x, y in [(0.5, -1.25), (2.0, 3.0), (1e-3, 0.7)]:
        got = f(x, y)
        assert abs(got - direct(x, y)) <= FLOAT_RTOL * abs(direct(x, y))
    xs, ys = np.linspace(0.1, 3, 7), np.linspace(-2, 2, 7)
    assert np.allclose(f(xs, ys), direct(xs, ys), rtol=FLOAT_RTOL, atol=0)
    # and with mpmath numbers the same tree evaluates at 50 digits
    with mpmath.workdps(DPS):
        mx, my = mpmath.mpf(1) / 3, mpmath.mpf(-2) / 7
        truth = (mpmath.sin(mx) * mpmath.exp(-mx**2) + mpmath.log(1 + my**2) / mpmath.sqrt(mx)
                 - mpmath.tanh(mx * my) + abs(my) ** mpmath.mpf("0.5") - 3 * mpmath.cosh(my) / 7)
        assert abs(f(mx, my) - truth) / abs(truth) < 1e-48


def test_sympy_form_equals_the_handwritten_expression() -> None:
    f = parse("sin(x)*exp(-x^2) + 2.5*y/ln(x) - sigmoid(y) + sqrt(x*y)")
    x, y = f.symbols(2)
    want = (sympy.sin(x) * sympy.exp(-x**2) + sympy.Rational(5, 2) * y / sympy.log(x)
            - 1 / (1 + sympy.exp(-y)) + sympy.sqrt(x * y))
    assert sympy.simplify(f.sympy_form(2)[0] - want) == 0
    assert x.is_real and y.is_real


def test_decimal_literals_are_exact_in_sympy_and_mpmath() -> None:
    expr = parse("0.1*x").sympy_form(1)[0]
    x = parse("x").symbols(1)[0]
    coefficient = expr.coeff(x)
    assert coefficient == sympy.Rational(1, 10) and coefficient.is_Rational
    assert parse("1e-3*x").sympy_form(1)[0].coeff(x) == sympy.Rational(1, 1000)
    assert parse("1_000.5*x").sympy_form(1)[0].coeff(x) == sympy.Rational(2001, 2)
    with mpmath.workdps(DPS):
        # 0.1 as the decimal, not as the double 0.1000000000000000055511151231257827...
        assert abs(parse("0.1*x")(mpmath.mpf(3)) - mpmath.mpf("0.3")) < mpmath.mpf(10) ** -DPS


def test_sympy_expression_input() -> None:
    x, y = sympy.symbols("x y")
    f = as_function(sympy.sin(x) * y)
    assert isinstance(f, Function) and f.variables == ("x", "y")
    assert _rel(f(0.5, 2.0), 2 * mpmath.sin(mpmath.mpf(0.5))) <= FLOAT_RTOL
    out = f(Dual(0.5, 1.0), 2.0)  # d/dx = y·cos x
    assert isinstance(out, Dual)
    assert _rel(out.tangent, 2 * mpmath.cos(mpmath.mpf(0.5))) <= FLOAT_RTOL
    grad = diffx.gradient(sympy.sin(x) * y, [0.5, 2.0], method="dual")
    truth = [2 * mpmath.cos(mpmath.mpf(0.5)), mpmath.sin(mpmath.mpf(0.5))]
    assert all(_rel(g, t) <= FLOAT_RTOL for g, t in zip(grad, truth))
    # rationals, square roots and constants survive the round trip exactly
    g = as_function(sympy.Rational(1, 3) * sympy.sqrt(x) + sympy.pi)
    with mpmath.workdps(DPS):
        truth = mpmath.sqrt(2) / 3 + mpmath.pi
        assert abs(g(mpmath.mpf(2)) - truth) / truth < 1e-48
    # a list of expressions is vector-valued
    h = as_function([x * y, sympy.exp(x)])
    assert h.vector_output and h(1.0, 3.0)[0] == 3.0


def test_callables_with_vector_or_separate_parameters() -> None:
    # ∇(x0·x1) = (x1, x0), exactly
    one_vector = diffx.gradient(lambda v: v[0] * v[1], [2.0, 3.0], method="dual")
    two_params = diffx.gradient(lambda a, b: a * b, [2.0, 3.0], method="dual")
    assert np.array_equal(one_vector, [3.0, 2.0])
    assert np.array_equal(two_params, [3.0, 2.0])
    assert as_function(lambda a, b: a * b).variables == ("x0", "x1")
    assert as_function(lambda v: v[0]).variables is None  # size set by the point
    # and with diffx functions inside: ∇ sin(a)·exp(b) = (cos a·e^b, sin a·e^b)
    grad = diffx.gradient(lambda a, b: diffx.sin(a) * diffx.exp(b), [0.5, 1.5], method="dual")
    with mpmath.workdps(DPS):
        a, b = mpmath.mpf(0.5), mpmath.mpf(1.5)
        truth = [mpmath.cos(a) * mpmath.exp(b), mpmath.sin(a) * mpmath.exp(b)]
    assert all(_rel(g, t) <= FLOAT_RTOL for g, t in zip(grad, truth))


def test_function_arity_is_checked() -> None:
    f = parse("x*y")
    with pytest.raises(DiffxError, match="2 variable"):
        f(1.0, 2.0, 3.0)
    with pytest.raises(DiffxError, match="3 coordinate"):
        diffx.gradient(f, [1.0, 2.0, 3.0], method="dual")
    with pytest.raises(DiffxError):
        diffx.gradient("x*y", [1.0], method="central")


def test_as_function_rejects_other_objects() -> None:
    with pytest.raises(DiffxError):
        as_function(3.5)
    with pytest.raises(ParseError):
        parse(b"x")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Errors and their columns
# --------------------------------------------------------------------------------------------
def test_unknown_function_suggests_the_closest() -> None:
    err = _parse_error("sinn(x)")
    assert "unknown function 'sinn'" in err.message and "did you mean 'sin'" in err.message
    assert err.column == 0
    assert "did you mean 'exp'" in _parse_error("expp(x)").message


def test_error_messages() -> None:
    assert "unknown name 'foo'" in _parse_error("foo").message
    assert "takes 1 argument(s), got 2" in _parse_error("sin(x, y)").message
    assert "no keyword arguments" in _parse_error("sin(x=1)").message
    assert "syntax error" in _parse_error("x +").message
    assert "syntax error" in _parse_error("sin(x))").message
    assert "empty expression" in _parse_error("").message
    assert "empty expression" in _parse_error("   ").message
    assert "sin is a function" in _parse_error("sin").message
    assert "sin is a function" in _parse_error("2*sin + x").message
    assert "use ** for powers" not in _parse_error("x & y").message
    assert "expected an expression string" in _parse_error(3).message  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "column"), [
    ("x + sinn(x)", 4),         # the call
    ("sin(x=1)", 6),            # the keyword's value
    ("x + y.real", 4),          # the attribute expression
    ("1 + 'a'", 4),             # the string literal
    ("sin(x, y)", 0),           # the call with the wrong arity
    ("x*alpha", 2),             # the unknown name
    ("2*sin + x", 2),           # the bare function name
    ("sin(x))", 6),             # the unmatched parenthesis
    ("x + \u0455in(x)", 4),     # the Cyrillic look-alike
    ("x*y\x00", 3),             # the NUL byte
    ("x + [y][0]", 4),          # the subscript
])
def test_parse_error_column(text: str, column: int) -> None:
    err = _parse_error(text)
    assert err.column == column
    assert err.text == text
    # str(err) shows the text with a caret under the column
    lines = str(err).split("\n")
    if text.isprintable():
        assert lines[-2] == "  " + text and lines[-1] == "  " + " " * column + "^"


def test_parse_error_column_after_caret() -> None:
    err = _parse_error("x^2 + sinn(x)")
    assert err.text == "x^2 + sinn(x)"
    assert err.column == 6


def test_parse_error_column_in_multiline_text() -> None:
    text = "(x\n+ sinn(x))"
    assert _parse_error(text).column == text.index("sinn")


def test_leading_whitespace_is_accepted() -> None:
    assert parse("  sin(x)").variables == ("x",)


# --------------------------------------------------------------------------------------------
# Limits
# --------------------------------------------------------------------------------------------
def _timed_error(text: str, error: type = LimitError, **kwargs) -> DiffxError:
    start = time.perf_counter()
    with pytest.raises(error) as info:
        parse(text, **kwargs)
    assert time.perf_counter() - start < TIME_BOUND
    return info.value


@pytest.mark.parametrize("text", ["x**(10**10)", "9**9**9**9", "2**2**2**2**2**2", "x^100001",
                                  "x**-(10**10)", "(x+1)**(2**20)"])
def test_huge_exponents_are_refused(text: str) -> None:
    err = _timed_error(text)
    assert "exceeds the limit" in str(err) and "max_exponent" in str(err)


def test_moderate_exponents_are_accepted_and_limit_can_be_raised() -> None:
    f = parse("x**1000")
    with mpmath.workdps(DPS):
        assert _rel(f(1.001), mpmath.mpf(1.001) ** 1000) <= FLOAT_RTOL
    assert parse("x**10000").variables == ("x",)  # the limit itself is allowed
    g = parse("x**(10**10)", limits=Limits(max_exponent=1e12))
    assert g(1.0) == 1.0 and g(-1.0) == 1.0
    with pytest.raises(LimitError):
        parse("x**(10**13)", limits=Limits(max_exponent=1e12))


def test_nesting_limits() -> None:
    # parentheses are counted before Python's parser runs
    assert parse("(" * 150 + "x" + ")" * 150)(2.0) == 2.0
    _timed_error("(" * 201 + "x" + ")" * 201)
    _timed_error("sin(" * 11 + "x" + ")" * 11, limits=Limits(max_depth=10))
    # nesting without parentheses is counted on the syntax tree
    assert parse("-" * 150 + "x")(2.0) == 2.0
    err = _timed_error("-" * 250 + "x")
    assert "200" in str(err)
    _timed_error("-" * 20 + "x", limits=Limits(max_depth=10))
    _timed_error("x**" * 300 + "x")
    assert parse("-" * 20 + "x", limits=Limits(max_depth=30))(2.0) == 2.0


def test_length_limit() -> None:
    err = _timed_error("x+" * 5000 + "x")  # 10001 characters
    assert "10001" in str(err)
    _timed_error("x+x+x+x+x+x", limits=Limits(max_length=10))
    assert parse("x+x+x+x+x", limits=Limits(max_length=10))(1.0) == 5.0


def test_constant_overflow_is_refused() -> None:
    for text in ("exp(1000)*x", "1e308*10 + x", "cosh(1e4)", "1/0 + x"):
        _timed_error(text)
    _timed_error("1e999*x", ParseError)


def test_nested_constant_overflow_is_refused() -> None:
    for text in ("exp(exp(10))*x", "10**300*10**300*x", "-1e308*10 + x"):
        with pytest.raises(LimitError):
            parse(text)


def test_huge_decimal_exponent_in_a_literal_is_refused_quickly() -> None:
    # in a subprocess, so a hang can be cut off; each parse is timed inside the child
    code = ("import time\n"
            "from diffx.functions import parse\n"
            "from diffx.errors import DiffxError\n"
            "for text in ('1e-99999999*x', '0e99999999*x'):\n"
            "    start = time.perf_counter()\n"
            "    try:\n"
            "        parse(text)\n"
            "        outcome = 'accepted'\n"
            "    except DiffxError as exc:\n"
            "        outcome = type(exc).__name__\n"
            "    print(outcome, time.perf_counter() - start, flush=True)\n")
    try:
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                timeout=60)  # generous: includes importing sympy and numpy
    except subprocess.TimeoutExpired:
        pytest.fail("parse of a literal with a huge decimal exponent did not finish")
    lines = [line.split() for line in result.stdout.splitlines()]
    assert [line[0] for line in lines] == ["LimitError", "LimitError"], result.stderr
    assert all(float(line[1]) < TIME_BOUND for line in lines)


# --------------------------------------------------------------------------------------------
# The hostile corpus, parsed under a canary
# --------------------------------------------------------------------------------------------
def test_hostile_corpus_is_substantial(hostile_corpus) -> None:
    texts = [text for text, _ in hostile_corpus]
    assert len(texts) >= 200
    for needle in ("__import__('os').system('touch CANARY')", "\u202e", "\x00", "\u200b",
                   "\U0001d465", "9**9**9**9", "(y := 3)", 'f"{x}"', "x; import os"):
        assert any(needle in line for line in texts), needle


def _generated_hostile() -> list[str]:
    return [
        "(" * 5000 + "x" + ")" * 5000,
        "(" * 4000 + "x" + ")" * 4000,  # within max_length, beyond max_depth
        "[" * 4000 + "x" + "]" * 4000,
        "sin(" * 2000 + "x" + ")" * 2000,
        "-" * 9999 + "x",
        "x+" * 4999 + "x",
        "x**" * 3333 + "x",
        "x" * 100_000,
        "x+" * 50_000,
        "1" * 5000,
        "0x" + "f" * 9000,
        "(" * 100 + "__import__('os')" + ")" * 100,
    ]


def _install_canary(monkeypatch) -> list[tuple[str, tuple]]:
    """Record every call of the ways Python can run code from text; returns the record."""
    calls: list[tuple[str, tuple]] = []

    def canary(name, real):
        def wrapper(*args, **kwargs):
            calls.append((name, args[:1]))
            return real(*args, **kwargs)
        return wrapper

    real_compile = builtins.compile

    def compile_canary(source, filename, mode, flags=0, *args, **kwargs):
        # ast.parse is compile(..., flags=PyCF_ONLY_AST): a syntax tree, no code object.
        # Anything else would produce something executable, and is recorded.
        if not flags & ast.PyCF_ONLY_AST:
            calls.append(("compile", (source,)))
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    # SymPy's string parsers first, builtins last: monkeypatch.setattr itself imports inspect
    monkeypatch.setattr(sympy, "sympify", canary("sympify", sympy.sympify))
    monkeypatch.setattr(sympy, "parse_expr", canary("parse_expr", sympy.parse_expr))
    monkeypatch.setattr(sympy.parsing.sympy_parser, "parse_expr",
                        canary("parse_expr", sympy.parsing.sympy_parser.parse_expr))
    monkeypatch.setattr(builtins, "compile", compile_canary)
    for name in ("__import__", "open", "eval", "exec"):
        monkeypatch.setattr(builtins, name, canary(name, getattr(builtins, name)))
    del calls[:]  # only what happens from here on counts
    return calls


def test_canary_notices_evaluation(monkeypatch, tmp_path) -> None:
    # the canary itself works: a parser that evaluated its text would be caught
    inputs = ["__import__('os').getcwd()", "open('CANARY', 'w').close()", "exec('y = 1')"]
    monkeypatch.chdir(tmp_path)
    calls = _install_canary(monkeypatch)
    for text in inputs:
        eval(text)
    sympy.sympify("x + 1")
    compile("1", "<canary>", "eval")
    ast.parse("1", mode="eval")  # a syntax tree only: not recorded
    recorded = list(calls)
    monkeypatch.undo()
    names = [name for name, _ in recorded]
    for name in ("eval", "__import__", "open", "exec", "compile", "sympify"):
        assert name in names, name
    assert ("compile", ("1",)) in recorded and names.count("compile") == 1
    assert (tmp_path / "CANARY").exists()


def test_hostile_inputs_raise_quickly_and_evaluate_nothing(hostile_corpus, monkeypatch,
                                                          tmp_path) -> None:
    # built (and decoded) before the canary is set; generated ones: any DiffxError
    inputs = [*hostile_corpus, *[(text, DiffxError) for text in _generated_hostile()]]
    monkeypatch.chdir(tmp_path)
    calls = _install_canary(monkeypatch)

    outcomes = []
    for text, expected in inputs:
        start = time.perf_counter()
        try:
            parse(text)
            outcome = "accepted"
        except DiffxError as exc:
            right = expected is DiffxError or type(exc) is expected
            outcome = "refused" if right else (f"{type(exc).__name__}, expected "
                                               f"{expected.__name__}: {exc}")
        except BaseException as exc:  # any other exception is a failure
            outcome = f"{type(exc).__name__}: {exc}"
        outcomes.append((text[:60], outcome, time.perf_counter() - start))
    recorded = list(calls)
    monkeypatch.undo()

    assert recorded == []
    assert not (tmp_path / "CANARY").exists()
    assert list(tmp_path.iterdir()) == []
    wrong = [(text, outcome) for text, outcome, _ in outcomes if outcome != "refused"]
    assert wrong == []
    slow = [(text, seconds) for text, _, seconds in outcomes if seconds >= TIME_BOUND]
    assert slow == []


@pytest.mark.parametrize("text", ["x**(10**10)", "9**9**9**9", "2**2**2**2**2**2",
                                  "(" * 5000 + "x" + ")" * 5000, "x" * 100_000])
def test_resource_attacks_are_limit_errors(text: str) -> None:
    _timed_error(text)


# --------------------------------------------------------------------------------------------
# The function model as types, and its one cache
# --------------------------------------------------------------------------------------------
def test_each_kind_of_input_is_its_own_class():
    assert isinstance(parse("x*y"), ParsedFunction)
    assert isinstance(as_function(sympy.sin(sympy.Symbol("x"))), ParsedFunction)
    callable_ = as_function(lambda v: v[0] * v[1])
    assert isinstance(callable_, CallableFunction) and callable_.takes_vector
    two_arguments = as_function(lambda x, y: x * y)
    assert not two_arguments.takes_vector and two_arguments.variables == ("x0", "x1")
    # one float vector holding the whole point evaluates there, whatever the kind (6 = 2·3)
    for fn in (parse("x*y"), callable_, two_arguments):
        assert float(fn(np.array([2.0, 3.0]))) == 6.0


def test_a_fresh_copy_starts_with_nothing_derived():
    """Everything engines derive lives in fn.cache, so fresh() really starts cold: the
    symbolic engine's compiled derivative, the dual program and the point check alike."""
    fn = parse("sqrt(x)*sin(x)")
    diffx.derivative(fn, 0.5, method="symbolic")
    diffx.derivative(fn, 0.5, method="dual")
    for key in ("symbolic", "sympy form 1", "point check"):
        assert key in fn.cache, key
    fresh = fn.fresh()
    assert fresh.tree is fn.tree and fresh.variables == fn.variables
    for key in ("symbolic", "sympy form 1", "point check", "dual program", "restricted"):
        assert key not in fresh.cache, key
    assert "symbolic" in fn.cache  # the original keeps its own
    truth = math.cos(0.5) * math.sqrt(0.5) + math.sin(0.5) / (2 * math.sqrt(0.5))
    assert abs(diffx.derivative(fresh, 0.5, method="symbolic") - truth) <= 1e-15
    fn.cache.reset()
    assert "symbolic" not in fn.cache
