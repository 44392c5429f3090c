"""The evaluation trace (diffx.trace): primal values, tangents, adjoints, node counts and views.

Every number is checked against an independent truth: the closed forms of the textbook example
(evaluated with mpmath at 50 digits), hand-derived chain-rule formulas, or the 50-digit reference
of :mod:`diffx.reference` on the catalogue. Recorded values, tangents and adjoints are the
formulas themselves in float64, so the tolerance is rounding: relative error at most 1e-13.
"""

from __future__ import annotations

import html.parser
import math
import re
import sys
import time

import matplotlib
import mpmath
import numpy as np
import pyparsing as pp
import pytest
import sympy

import diffx
from diffx import catalog
from diffx.cli import main
from diffx.errors import DiffxError
from diffx.functions import as_function
from diffx.reference import reference_jacobian, to_float
from diffx.trace import Trace, record, reverse_sweep, trace

matplotlib.use("Agg")

EXACT_RTOL = 1e-13


pytestmark = pytest.mark.usefixtures("fifty_digits")  # tests/conftest.py


def close(a, b, rtol: float = EXACT_RTOL) -> bool:
    """|a - b| <= rtol·|b| entrywise (exact equality where b is 0)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(np.abs(a - b) <= rtol * np.abs(b)))


# --------------------------------------------------------------------------------------------
# The textbook example (Griewank & Walther, Table 1.2 / every AD course):
# f(x1, x2) = ln(x1) + x1*x2 - sin(x2) at (2, 5)
# --------------------------------------------------------------------------------------------
TEXTBOOK = "log(x1) + x1*x2 - sin(x2)"
X1, X2 = mpmath.mpf(2), mpmath.mpf(5)


def textbook_truth(d1: int, d2: int) -> dict[str, list]:
    """Each node's value, tangent for ẋ = (d1, d2) and adjoint for ȳ = 1, by the chain rule
    written out by hand for this function and evaluated in mpmath."""
    v = [X1, X2, mpmath.log(X1), X1 * X2, mpmath.log(X1) + X1 * X2, mpmath.sin(X2),
         mpmath.log(X1) + X1 * X2 - mpmath.sin(X2)]
    t1 = d1 / X1                      # d ln v₋₁
    t2 = d1 * X2 + X1 * d2            # d (v₋₁ v₀)
    t4 = mpmath.cos(X2) * d2          # d sin v₀
    tangents = [d1, d2, t1, t2, t1 + t2, t4, t1 + t2 - t4]
    # adjoints: v̄₅ = 1, v̄₄ = -1, v̄₃ = 1, v̄₂ = v̄₁ = 1, v̄₀ = v̄₂·v₋₁ + v̄₄·cos v₀,
    # v̄₋₁ = v̄₁/v₋₁ + v̄₂·v₀
    adjoints = [1 / X1 + X2, X1 - mpmath.cos(X2), 1, 1, 1, -1, 1]
    return {"value": v, "tangent": tangents, "adjoint": adjoints}


TEXTBOOK_FORMS = {
    "string": TEXTBOOK,
    "callable": lambda x1, x2: diffx.log(x1) + x1 * x2 - diffx.sin(x2),
    "vector callable": lambda x: diffx.log(x[0]) + x[0] * x[1] - np.sin(x[1]),
}


@pytest.mark.parametrize("form", list(TEXTBOOK_FORMS))
def test_textbook_primal_trace(form: str) -> None:
    t = trace(TEXTBOOK_FORMS[form], [2, 5])
    assert [r["name"] for r in t.rows] == ["v₋₁", "v₀", "v₁", "v₂", "v₃", "v₄", "v₅"]
    assert [r["op"] for r in t.rows] == ["input", "input", "log", "multiply", "add", "sin",
                                         "subtract"]
    assert [r["args"] for r in t.rows] == [(), (), ("v₋₁",), ("v₋₁", "v₀"), ("v₁", "v₂"),
                                           ("v₀",), ("v₃", "v₄")]
    truth = textbook_truth(1, 0)
    for row, value in zip(t.rows, truth["value"]):
        assert close(row["value"], float(value)), (row, value)
    assert close(t.value, float(truth["value"][-1]))


def test_textbook_from_sympy_follows_sympys_own_structure() -> None:
    """SymPy reorders the sum and writes -sin(x2) as (-1)*sin(x2): its trace has one more
    node (the multiply by -1), but the same value and gradient."""
    x1, x2 = sympy.symbols("x1 x2")
    t = trace(sympy.log(x1) + x1 * x2 - sympy.sin(x2), [2, 5])
    assert [r["op"] for r in t.rows[2:]] == ["sin", "multiply", "multiply", "add", "log", "add"]
    assert t.rows[3]["args"] == (-1.0, "v₁")
    assert close(t.value, float(mpmath.log(2) + 10 - mpmath.sin(5)))
    assert close(t.gradient, [5.5, float(2 - mpmath.cos(5))])


@pytest.mark.parametrize("direction", [(1, 0), (0, 1), (0.5, -2.0)])
def test_textbook_tangent_trace(direction: tuple[float, float]) -> None:
    t = trace(TEXTBOOK, [2, 5], direction=direction)
    truth = textbook_truth(mpmath.mpf(direction[0]), mpmath.mpf(direction[1]))
    for row, tangent in zip(t.rows, truth["tangent"]):
        assert close(row["tangent"], float(tangent)), (row, tangent)
    assert close(t.jvp, float(truth["tangent"][-1]))


def test_textbook_adjoint_trace_and_gradient() -> None:
    t = trace(TEXTBOOK, [2, 5])
    truth = textbook_truth(1, 0)
    for row, adjoint in zip(t.rows, truth["adjoint"]):
        assert close(row["adjoint"], float(adjoint)), (row, adjoint)
    assert t.gradient.shape == (2,)
    assert t.gradient[0] == 5.5  # 1/2 + 5, exactly representable
    assert close(t.gradient[1], float(2 - mpmath.cos(5)))  # 1.7163378145367738...
    assert f"{t.gradient[1]:.4f}" == "1.7163"


def test_default_direction_is_first_basis_vector() -> None:
    assert close(trace(TEXTBOOK, [2, 5]).direction, [1, 0])
    assert close(trace("x*y*z", [1, 2, 3]).direction, [1, 0, 0])


# --------------------------------------------------------------------------------------------
# The seed 004 example: cost = y_target - (w·x + b), a graph of products, sums and a difference
# --------------------------------------------------------------------------------------------
W, XS, B, Y = (0.5, -1.5), (2.0, 3.0), 0.25, 1.0


def seed_cost(p):
    """cost = y_target - y_predicted with y_predicted = w·x + b (seed 004), in the variables
    (w1, w2, x1, x2, b, y_target)."""
    w, x, b, y = p[0:2], p[2:4], p[4], p[5]
    return y - (np.dot(w, x) + b)


def test_seed_004_cost_graph() -> None:
    """numpy code is recorded as it is written: one input vector, one node per slice and one
    for np.dot (array-valued nodes), not the dot's scalar products."""
    t = trace(seed_cost, [*W, *XS, B, Y])
    ops = [r["op"] for r in t.rows[1:]]
    assert ops == ["index", "index", "index", "index", "numpy.dot", "add", "subtract"]
    assert [r["args"][0] for r in t.rows[1:5]] == ["v₀"] * 4
    dot = W[0] * XS[0] + W[1] * XS[1]
    assert close(t.rows[1]["value"], W) and close(t.rows[2]["value"], XS)
    assert close([r["value"] for r in t.rows[5:]], [dot, dot + B, Y - (dot + B)])
    # ∂cost/∂w = -x, ∂cost/∂x = -w, ∂cost/∂b = -1, ∂cost/∂y = 1 (by hand)
    assert close(t.gradient, [-XS[0], -XS[1], -W[0], -W[1], -1, 1])
    # the slices' adjoints are arrays: w̄ = -x, x̄ = -w
    assert close(t.rows[1]["adjoint"], [-XS[0], -XS[1]])
    assert close(t.rows[2]["adjoint"], [-W[0], -W[1]])
    assert close([r["adjoint"] for r in t.rows[5:]], [-1, -1, 1])


# --------------------------------------------------------------------------------------------
# One node per operation of the expression
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("expression", "ops"), [
    ("x - y", ["subtract"]),                       # one node, not add + negate
    ("-x", ["negative"]),
    ("2*x + 3", ["multiply", "add"]),              # constants are arguments, not nodes
    ("x*(1/3)", ["multiply"]),                     # a constant subexpression is folded
    ("pi*x", ["multiply"]),
    ("exp(-x**2)", ["power", "negative", "exp"]),
    ("sin(x)*exp(x)", ["sin", "exp", "multiply"]),
    ("x/y - x**y", ["divide", "power", "subtract"]),
    ("sigmoid(x)", ["sigmoid"]),                   # a table row is one node, whatever inside
])
def test_node_counts(expression: str, ops: list[str]) -> None:
    t = trace(expression, [0.7] * len(as_function(expression).variables))
    assert [r["op"] for r in t.rows[t.n_inputs:]] == ops


def test_constants_are_shown_in_the_node() -> None:
    t = trace("2*x + 3", 1.5)
    assert t.rows[1]["args"] == (2.0, "v₀")
    assert t.rows[2]["args"] == ("v₁", 3.0)
    assert t.expression(t.nodes[1]) == "2 * v₀"


def rosenbrock_loop(x):
    total = 0.0
    for i in range(len(x) - 1):
        total = total + 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return total


@pytest.mark.parametrize("n", [2, 5, 30])
def test_node_count_of_a_python_loop(n: int) -> None:
    # per term: x[i]**2, x[i+1] - ., .**2, 100*., 1 - x[i], .**2, + (inside), total + term
    t = trace(rosenbrock_loop, np.linspace(-1.2, 1.0, n))
    assert len(t.nodes) == n + 8 * (n - 1)
    x = np.linspace(-1.2, 1.0, n)
    grad = np.zeros(n)  # ∂/∂x_i of 100(x_{i+1} - x_i²)² + (1 - x_i)², by hand
    for i in range(n - 1):
        grad[i] += -400 * x[i] * (x[i + 1] - x[i] ** 2) - 2 * (1 - x[i])
        grad[i + 1] += 200 * (x[i + 1] - x[i] ** 2)
    assert close(t.gradient, grad, 1e-12)


def test_long_trace_has_no_recursion_limit() -> None:
    """10⁴ nested sines (far deeper than Python's recursion limit) record and sweep; the
    derivative is the product of cos at every intermediate value (chain rule, in mpmath)."""
    steps = 10_000
    assert steps > sys.getrecursionlimit()

    def iterate(x):
        for _ in range(steps):
            x = diffx.sin(x)
        return x

    t = trace(iterate, 0.9)
    assert len(t.nodes) == steps + 1
    value, derivative = mpmath.mpf(0.9), mpmath.mpf(1)
    for _ in range(steps):
        derivative *= mpmath.cos(value)
        value = mpmath.sin(value)
    assert close(t.value, float(value))
    assert close(t.gradient[0], float(derivative), 1e-11)  # 10⁴ roundings of the product
    assert close(t.jvp, float(derivative), 1e-11)


# --------------------------------------------------------------------------------------------
# Sweeps on the catalogue, against the 50-digit reference
# --------------------------------------------------------------------------------------------
SMOOTH = [name for name in catalog.names() if catalog.get(name).smooth]


@pytest.mark.parametrize("name", SMOOTH)
def test_sweeps_match_reference_on_catalogue(name: str) -> None:
    entry = catalog.get(name)
    fn = entry.function()
    J = to_float(reference_jacobian(fn, entry.point))
    n = len(entry.point)
    direction = np.linspace(1.0, -0.5, n) if n > 1 else np.array([1.0])
    t = trace(fn, entry.point, direction=direction)
    jvp = np.atleast_1d(t.jvp)
    assert np.linalg.norm(jvp - J @ direction) <= EXACT_RTOL * np.linalg.norm(J @ direction), \
        (name, jvp, J @ direction)
    assert np.linalg.norm(t.jacobian() - J) <= EXACT_RTOL * np.linalg.norm(J), name
    if not fn.is_vector_valued(n):
        assert np.linalg.norm(t.gradient - J[0]) <= EXACT_RTOL * np.linalg.norm(J[0]), name


def test_vector_valued_trace() -> None:
    t = trace("[r*cos(t), r*sin(t)]", [2.0, 0.6], direction=[0, 1])
    r, a = 2.0, 0.6
    assert close(t.value, [r * math.cos(a), r * math.sin(a)])
    assert close(t.jvp, [-r * math.sin(a), r * math.cos(a)])       # J·(0, 1)
    assert close(t.gradient, [math.cos(a), -r * math.sin(a)])      # ȳ = e₁: first row of J
    assert close(t.jacobian(), [[math.cos(a), -r * math.sin(a)], [math.sin(a), r * math.cos(a)]])
    weighted = trace("[r*cos(t), r*sin(t)]", [2.0, 0.6], weights=[0, 1])
    assert close(weighted.gradient, [math.sin(a), r * math.cos(a)])


def test_unreached_branch_does_not_pollute_with_nan() -> None:
    """Output 0 ignores y; the other output's sqrt at 0 has an infinite partial. 0·∞ would
    be NaN: the sweep skips nodes the seeded output does not depend on."""
    with np.errstate(divide="ignore"):
        t = trace("[2*x, x*sqrt(y)]", [1.0, 0.0])
        adjoints = reverse_sweep(t.tape, [1.0, 0.0])
    assert t.jacobian()[0].tolist() == [2.0, 0.0]
    assert adjoints[1] is None  # y: structurally zero, not 0·∞


def test_branches_follow_the_recorded_path() -> None:
    def f(x):
        return x * x if x > 1 else -x  # comparison on a traced value looks at its value

    assert [r["op"] for r in trace(f, 2.0).rows] == ["input", "multiply"]
    assert [r["op"] for r in trace(f, 0.5).rows] == ["input", "negative"]
    assert trace(f, 2.0).gradient[0] == 4.0


def test_float_of_a_node_refuses_to_drop_the_trace() -> None:
    with pytest.raises(TypeError, match="drop"):
        trace(lambda x: math.sin(x), 1.0)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"x": [1.0, 2.0], "direction": [1.0]}, "direction"),
    ({"x": [1.0, float("nan")]}, "NaN"),
    ({"x": [[1.0]]}, "1-D"),
    ({"x": [1.0, 2.0], "weights": [1.0, 0.0]}, "adjoint seed"),
])
def test_bad_input_is_a_diffx_error(kwargs: dict, match: str) -> None:
    with pytest.raises(DiffxError, match=match):
        trace("x*y", **kwargs)


# --------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------
def test_text_table_is_aligned_and_complete() -> None:
    text = str(trace(TEXTBOOK, [2, 5]))
    lines = text.splitlines()
    table = lines[2:12]  # header, rule, 7 nodes, rule
    rule = table[1]
    assert set(rule) <= {"-", " "}
    starts = [i for i, c in enumerate(rule) if c == "-" and (i == 0 or rule[i - 1] == " ")]
    assert len(starts) == 7  # node, op, expression, value, tangent, adjoint, partials
    for name, line in zip(["v₋₁", "v₀", "v₁", "v₂", "v₃", "v₄", "v₅"], table[2:9]):
        assert line.startswith(name)
    assert "v₃ - v₄" in text and "log(v₋₁)" in text
    assert "x̄ = ∇f = (5.5, 1.71634)" in text
    assert "ẏ = J·ẋ = 5.5" in text


class _Checker(html.parser.HTMLParser):
    """Records tags and checks that every opened tag is closed in order (well-formed HTML)."""

    VOID = frozenset({"br"})

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.count: dict[str, int] = {}

    def handle_starttag(self, tag, attrs):
        self.count[tag] = self.count.get(tag, 0) + 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (self.stack, tag)
        self.stack.pop()


def test_html_view() -> None:
    page = trace(TEXTBOOK, [2, 5])._repr_html_()
    checker = _Checker()
    checker.feed(page)
    assert checker.stack == []
    assert checker.count["tr"] == 1 + 7 + 1  # header, one per node, summary
    for heading in ("primal trace", "tangent trace", "adjoint trace"):
        assert heading in page
    assert "v<sub>-1</sub>" in page


def test_pandas_view() -> None:
    frame = trace(TEXTBOOK, [2, 5]).to_pandas()
    assert list(frame.columns) == ["name", "op", "args", "value", "tangent", "adjoint"]
    assert frame.shape == (7, 6)
    assert frame["adjoint"].iloc[0] == 5.5


def _dot_grammar() -> pp.ParserElement:
    """The subset of the DOT language (graphviz.org/doc/info/lang.html) that to_dot emits:
    digraph ID { stmt; ... } with node, edge and attribute statements and quoted strings."""
    identifier = pp.Word(pp.alphas + "_", pp.alphanums + "_")
    number = pp.Regex(r"-?(\.[0-9]+|[0-9]+(\.[0-9]*)?)")
    quoted = pp.QuotedString('"', esc_char="\\", unquote_results=False)
    value = quoted | number | identifier
    attribute = pp.Group(identifier + pp.Suppress("=") + value)
    attributes = pp.Suppress("[") + pp.DelimitedList(attribute) + pp.Suppress("]")
    edge = pp.Group(identifier + pp.Suppress("->") + identifier + pp.Optional(attributes))
    node = pp.Group(identifier + pp.Optional(attributes))
    graph_attribute = pp.Group(identifier + pp.Suppress("=") + value)
    statement = (edge("edge") | graph_attribute | node) + pp.Suppress(";")
    return (pp.Keyword("digraph") + identifier + pp.Suppress("{")
            + pp.Group(pp.ZeroOrMore(statement))("body") + pp.Suppress("}") + pp.StringEnd())


def test_dot_view_parses() -> None:
    t = trace(TEXTBOOK, [2, 5])
    source = t.to_dot()
    parsed = _dot_grammar().parse_string(source)
    body = parsed["body"]
    ids = [s for s in body if re.fullmatch(r"n[0-9]+", s[0])]
    edges = [s for s in ids if len(s) > 1 and isinstance(s[1], str)]
    nodes = [s for s in ids if not (len(s) > 1 and isinstance(s[1], str))]
    assert len(nodes) == 7
    assert len(edges) == 8  # log 1, multiply 2, add 2, sin 1, subtract 2
    assert '"v₁ = log(v₋₁)\\n0.6931\\nv̄ = 1"' in source
    assert 'n0 -> n2 [label="0.5"]' in source  # ∂ ln v₋₁ / ∂v₋₁ = 1/2


def test_plot_draws_one_artist_per_node_and_one_arrow_per_edge() -> None:
    from matplotlib.patches import FancyArrowPatch

    t = trace(TEXTBOOK, [2, 5])
    fig = t.plot(adjoints=True)
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if p.get_gid() == "trace-node"]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(boxes) == 7
    assert len(arrows) == 8
    texts = [text.get_text() for text in ax.texts]
    assert any("v̄ = 5.5" in s for s in texts)  # adjoints on request
    assert "0.5" in texts                        # the edge v₋₁ → v₁ carries ∂ln/∂v₋₁
    fig.canvas.draw()  # renders without error (Agg)


def test_plot_of_a_40_node_graph() -> None:
    t = trace(rosenbrock_loop, [-1.2, 1.0, -1.2, 1.0, 0.5])
    assert len(t.nodes) == 37
    fig = t.plot()
    ax = fig.axes[0]
    assert sum(p.get_gid() == "trace-node" for p in ax.patches) == 37
    position = t.layout()
    for node in t.nodes:  # left to right in evaluation order
        for j, _ in node.inputs:
            assert position[j][0] < position[node.index][0]


def test_repr_is_short() -> None:
    assert repr(trace(TEXTBOOK, [2, 5])) == \
        "<Trace of log(x1) + x1*x2 - sin(x2): 5 operations on 2 inputs>"
    assert isinstance(diffx.trace(TEXTBOOK, [2, 5]), diffx.Trace)
    assert Trace is diffx.Trace


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def test_cli_trace_prints_the_table(capsys) -> None:
    assert main(["trace", TEXTBOOK, "--at", "2,5", "--direction", "0,1"]) == 0
    out = capsys.readouterr().out
    assert "v₅" in out and "subtract" in out
    assert f"ẏ = J·ẋ = {2 - math.cos(5):.6g}" in out  # ∂f/∂x2 = x1 - cos(x2)


def test_cli_trace_plot_refuses_to_overwrite(tmp_path, capsys) -> None:
    target = tmp_path / "graph.png"
    assert main(["trace", TEXTBOOK, "--at", "2,5", "--plot", str(target)]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["trace", TEXTBOOK, "--at", "2,5", "--plot", str(target)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["trace", TEXTBOOK, "--at", "2,5", "--plot", str(target), "--force"]) == 0


# --------------------------------------------------------------------------------------------
# The cheap-gradient principle (a guard, not a benchmark: the measured ratio is ~0.02)
# --------------------------------------------------------------------------------------------
def test_reverse_sweep_costs_less_than_recording() -> None:
    x = np.linspace(-1.2, 1.0, 1000)
    fn = as_function(rosenbrock_loop)

    def best(call) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        return min(times)

    tape = record(fn, x)
    assert best(lambda: reverse_sweep(tape, [1.0])) / best(lambda: record(fn, x)) <= 2


def test_trace_of_cumprod_sweeps_both_ways() -> None:
    """numpy.cumprod's node has a tangent and an adjoint, also with a zero factor: for
    f = Σₖ Πᵢ≤ₖ xᵢ at (0.5, 0, 3), ∂f/∂x = (1 + x₂ + x₂x₃, x₁ + x₁x₃, x₁x₂) = (1, 2, 0) by hand."""
    t = trace(lambda x: np.sum(np.cumprod(x)), [0.5, 0.0, 3.0], direction=[1.0, 1.0, 1.0])
    assert t.gradient.tolist() == [1.0, 2.0, 0.0]
    assert t.jvp == 3.0  # the directional derivative along (1, 1, 1): 1 + 2 + 0
