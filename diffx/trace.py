"""The evaluation trace: one run of ``f`` recorded operation by operation, swept both ways.

Automatic differentiation courses explain AD with three tables for a small function. For
``f(x₁, x₂) = ln x₁ + x₁·x₂ − sin x₂`` at (2, 5), numbered as Griewank and Walther do (inputs
v₁₋ₙ … v₀, then one vᵢ per elementary operation in evaluation order):

=====  ================  ===========================  =================================
node   primal trace      tangent trace (ẋ = (1, 0))   adjoint trace (ȳ = 1)
=====  ================  ===========================  =================================
v₋₁    x₁ = 2            v̇₋₁ = 1                      v̄₋₁ = v̄₁/v₋₁ + v̄₂·v₀ = 5.5
v₀     x₂ = 5            v̇₀ = 0                       v̄₀ = v̄₂·v₋₁ + v̄₄·cos v₀ = 1.716
v₁     ln v₋₁            v̇₁ = v̇₋₁/v₋₁ = 0.5           v̄₁ = v̄₃ = 1
v₂     v₋₁ · v₀          v̇₂ = v̇₋₁·v₀ + v₋₁·v̇₀ = 5     v̄₂ = v̄₃ = 1
v₃     v₁ + v₂           v̇₃ = v̇₁ + v̇₂ = 5.5           v̄₃ = v̄₅ = 1
v₄     sin v₀            v̇₄ = cos v₀ · v̇₀ = 0         v̄₄ = −v̄₅ = −1
v₅     v₃ − v₄ = y       v̇₅ = v̇₃ − v̇₄ = 5.5           v̄₅ = ȳ = 1
=====  ================  ===========================  =================================

:func:`trace` produces exactly these tables for any function diffx accepts (string, SymPy
expression or callable):

    >>> t = trace("log(x1) + x1*x2 - sin(x2)", [2, 5])
    >>> [row["name"] for row in t.rows]
    ['v₋₁', 'v₀', 'v₁', 'v₂', 'v₃', 'v₄', 'v₅']
    >>> t.rows[2]["op"], t.rows[2]["args"], round(t.rows[2]["value"], 6)
    ('log', ('v₋₁',), 0.693147)
    >>> t.jvp, [round(float(g), 6) for g in t.gradient]
    (5.5, [5.5, 1.716338])

How it is recorded (:mod:`diffx.recording`, the recorder this module views): the function runs
once on :class:`Node` values; every table row applied to a node appends one new node holding
the operation, its arguments, its value and its local partial derivatives, computed by the
row's own ``partials`` rules. No derivative rule is written here. The sweeps are then two loops
over the list:

    forward   v̇ᵢ = Σⱼ ∂vᵢ/∂vⱼ · v̇ⱼ      for i ascending   (j: the arguments of vᵢ)
    reverse   v̄ⱼ += v̄ᵢ · ∂vᵢ/∂vⱼ       for i descending  (starting from ȳ)

Neither recurses, so a trace of 10⁴ operations (or 10⁶) is no problem. The views —
``str(t)``, ``t._repr_html_()``, ``t.to_pandas()``, ``t.to_dot()``, ``t.plot()`` — only read
the recording. diffx's own reverse-mode engine (:mod:`diffx.engines.reverse`) is built on
:func:`~diffx.recording.record` and :func:`~diffx.recording.reverse_sweep`.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

from diffx import elementary as E
from diffx.array_adjoints import Linear
from diffx.elementary import primal
from diffx.errors import DiffxError
from diffx.functions import Function, as_function
from diffx.recording import INDEXING, Node, Tape, forward_sweep, record, reverse_sweep

# the recorder's names are re-exported: a trace is taught as "record, then sweep both ways"
__all__ = ["Node", "Tape", "Trace", "forward_sweep", "record", "reverse_sweep", "trace"]

# --------------------------------------------------------------------------------------------
# The Trace
# --------------------------------------------------------------------------------------------
class Trace:
    """One recorded evaluation of ``f`` at ``x`` with its forward and reverse sweeps.

    ``rows`` is one dict per node (keys ``name, op, args, value, tangent, adjoint``); ``value``
    is f(x), ``jvp`` the directional derivative J·ẋ from the forward sweep, ``gradient`` the
    adjoints of the inputs x̄ = ȳᵀJ from the reverse sweep (for scalar f with ȳ = 1: ∇f, shape
    (n,)). Views: ``str()``, ``_repr_html_()``, ``to_pandas()``, ``to_dot()``, ``plot()``.
    """

    def __init__(self, fn: Function, x: np.ndarray, tape: Tape, direction: np.ndarray,
                 weights: np.ndarray, variables: tuple[str, ...]):
        self.function = fn
        self.x = x
        self.tape = tape
        self.direction = direction
        self.weights = weights
        self.variables = variables
        self.tangents = [_to_float(t) for t in forward_sweep(tape, direction)]
        self.adjoints = [_to_float(a) for a in reverse_sweep(tape, weights)]

    # --- the numbers -----------------------------------------------------------------------
    @property
    def nodes(self) -> list[Node]:
        return self.tape.nodes

    @property
    def n_inputs(self) -> int:
        return self.tape.n_inputs

    @property
    def outputs(self) -> list[Any]:
        return self.tape.outputs

    @property
    def vector_valued(self) -> bool:
        return self.tape.size > 1

    @property
    def value(self) -> float | np.ndarray:
        """f(x): a float, or an array (m,) for a vector-valued f."""
        return self._per_output(lambda out: primal(out))

    @property
    def jvp(self) -> float | np.ndarray:
        """The directional derivative J(x)·ẋ read off the forward sweep at the outputs."""
        return self._per_output(lambda out: self.tangents[out.index]
                                if isinstance(out, Node) else 0.0)

    @property
    def gradient(self) -> np.ndarray:
        """The input adjoints x̄ = ȳᵀJ(x), shape (n,): the gradient of a scalar f."""
        return np.array(self.tape.input_adjoints(self.adjoints), dtype=float)

    def jacobian(self) -> np.ndarray:
        """The Jacobian (m, n): one reverse sweep per output on the same recording."""
        m = self.tape.size
        return np.array([self.tape.input_adjoints([_to_float(a) for a in reverse_sweep(
            self.tape, np.eye(m)[k])]) for k in range(m)], dtype=float)

    def _per_output(self, read) -> float | np.ndarray:
        values = np.concatenate([np.ravel(np.asarray(read(out), dtype=float))
                                 for out in self.outputs])
        return values if self.vector_valued else float(values[0])

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The three traces, one dict per node: name, op, args, value, tangent, adjoint.

        ``op`` is the table row's name (``"input"`` for inputs); ``args`` the argument node
        names, with constants as floats.
        """
        return [{"name": node.name, "op": node.op_name,
                 "args": tuple(_argument(a) for a in node.args),
                 "value": _to_float(node.value), "tangent": self.tangents[node.index],
                 "adjoint": self.adjoints[node.index]} for node in self.nodes]

    # --- views ------------------------------------------------------------------------------
    def expression(self, node: Node) -> str:
        """How ``node`` was computed, in terms of earlier nodes: ``v₋₁ * v₀``, ``log(v₋₁)``."""
        if node.op is None:
            if self.tape.n_inputs != self.tape.n_variables:  # one input: the whole vector
                return "x"
            return self.variables[node.index]
        if node.op is INDEXING:
            return f"{node.args[0].name}[{_index_text(node.args[1])}]"
        args = [a.name if isinstance(a, Node) else _number(a) for a in node.args]
        if node.op is E.negative:
            return f"-{args[0]}"
        if getattr(node.op, "symbol", None):
            return f"{args[0]} {node.op.symbol} {args[1]}"
        return f"{node.op.name}({', '.join(args)})"

    def _output_names(self) -> list[str]:
        return [out.name if isinstance(out, Node) else _number(out) for out in self.outputs]

    def _header(self) -> str:
        point = ", ".join(_number(v) for v in self.x)
        seed = ", ".join(_number(w) for w in self.weights)
        return (f"trace of {self.function.name} at ({point}); "
                f"tangents for ẋ = ({', '.join(_number(d) for d in self.direction)}), "
                f"adjoints for ȳ = {seed if len(self.weights) == 1 else f'({seed})'}")

    def _summary(self, digits: int) -> list[str]:
        def fmt(v):
            return (_number(v, digits) if np.ndim(v) == 0
                    else "(" + ", ".join(_number(c, digits) for c in v) + ")")

        outputs = ", ".join(self._output_names())
        return [f"y = {outputs} = {fmt(self.value)}",
                f"ẏ = J·ẋ = {fmt(self.jvp)}",
                f"x̄ = {'∇f' if not self.vector_valued else 'ȳᵀJ'} = {fmt(self.gradient)}"]

    def table(self, digits: int = 6) -> list[list[str]]:
        """The rows as strings: node, op, expression, value, tangent, adjoint, local partials."""
        lines = []
        for node in self.nodes:
            partials = ", ".join(_number(primal(p), digits) for _, p in node.inputs)
            lines.append([node.name, node.op_name, self.expression(node),
                          _number(node.value, digits), _number(self.tangents[node.index], digits),
                          _number(self.adjoints[node.index], digits), partials])
        return lines

    def to_text(self, digits: int = 6) -> str:
        """The three traces as an aligned text table (what ``str()`` and the CLI print)."""
        head = ["node", "op", "expression", "value vᵢ", "tangent v̇ᵢ", "adjoint v̄ᵢ",
                "∂vᵢ/∂args"]
        body = self.table(digits)
        widths = [max(_width(r[k]) for r in [head, *body]) for k in range(len(head))]
        numeric = {3, 4, 5}

        def line(cells):
            padded = [(" " * (w - _width(c)) + c) if k in numeric else c + " " * (w - _width(c))
                      for k, (c, w) in enumerate(zip(cells, widths))]
            return "  ".join(padded).rstrip()

        rule = "  ".join("-" * w for w in widths)
        return "\n".join([self._header(), "", line(head), rule, *map(line, body), rule,
                          *self._summary(digits)])

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return (f"<Trace of {self.function.name}: {len(self.nodes) - self.n_inputs} operations "
                f"on {self.n_inputs} inputs>")

    def _repr_html_(self) -> str:
        """The primal, tangent and adjoint traces as one HTML table (Jupyter)."""
        def sub(node_name: str, accent: str = "") -> str:
            return f"v{accent}<sub>{html.escape(node_name[1:].translate(_UNSUBSCRIPTS))}</sub>"

        def expr(node: Node) -> str:
            text = html.escape(self.expression(node))
            for a in sorted({a.name for a in node.args if isinstance(a, Node)}, key=len,
                            reverse=True):
                text = text.replace(html.escape(a), sub(a))
            return text

        cells = []
        for node in self.nodes:
            i = node.index
            cells.append(
                "<tr>"
                f"<td>{sub(node.name)}</td><td>= {expr(node)}</td>"
                f"<td style='text-align:right'>= {_number(node.value, 6)}</td>"
                f"<td>{sub(node.name, '&#775;')}</td>"
                f"<td style='text-align:right'>= {_number(self.tangents[i], 6)}</td>"
                f"<td>{sub(node.name, '&#772;')}</td>"
                f"<td style='text-align:right'>= {_number(self.adjoints[i], 6)}</td>"
                "</tr>")
        summary = "<br>".join(html.escape(s) for s in self._summary(6))
        return ("<table class='diffx-trace'>"
                f"<caption>{html.escape(self._header())}</caption>"
                "<thead><tr><th colspan='3'>primal trace</th>"
                "<th colspan='2'>tangent trace</th><th colspan='2'>adjoint trace</th></tr>"
                "</thead><tbody>" + "".join(cells) + "</tbody>"
                f"<tfoot><tr><td colspan='7'>{summary}</td></tr></tfoot></table>")

    def to_pandas(self):
        """The rows as a pandas DataFrame (pandas is imported here, not with diffx)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["name", "op", "args", "value", "tangent",
                                                "adjoint"])

    def to_dot(self, adjoints: bool = True, tangents: bool = False, digits: int = 4) -> str:
        """Graphviz DOT source of the computational graph, left to right in evaluation order.

        Nodes are labelled with their expression and value (and adjoint/tangent on request),
        edges with their local partial derivatives. Render with ``dot -Tsvg`` if you have it.
        """
        lines = ["digraph trace {", "  rankdir=LR;",
                 '  node [shape=box, style="rounded", fontname="Helvetica"];',
                 '  edge [fontname="Helvetica", fontsize=10];']
        outputs = {out.index for out in self.outputs if isinstance(out, Node)}
        for node in self.nodes:
            label = self._label(node, digits, adjoints, tangents)
            extra = ", peripheries=2" if node.index in outputs else ""
            extra += ', style="rounded,filled", fillcolor="#e8f0fe"' if node.op is None else ""
            lines.append(f"  n{node.index} [label={_dot_string(label)}{extra}];")
        for node in self.nodes:
            for j, partial in node.inputs:
                label = _dot_string(_number(primal(partial), digits))
                lines.append(f"  n{j} -> n{node.index} [label={label}];")
        lines.append("}")
        return "\n".join(lines)

    def _label(self, node: Node, digits: int, adjoints: bool, tangents: bool) -> str:
        lines = [f"{node.name} = {self.expression(node)}", _number(node.value, digits)]
        if tangents:
            lines.append(f"v̇ = {_number(self.tangents[node.index], digits)}")
        if adjoints:
            lines.append(f"v̄ = {_number(self.adjoints[node.index], digits)}")
        return "\n".join(lines)

    def layout(self) -> dict[int, tuple[float, float]]:
        """Positions (x, y) of the nodes: x is the node's level (inputs 0, otherwise one more
        than its deepest argument), so edges run left to right in evaluation order; within a
        level nodes are ordered by the mean height of their arguments (fewer crossings)."""
        level = [0] * len(self.nodes)
        for node in self.nodes[self.n_inputs:]:
            level[node.index] = 1 + max((level[j] for j, _ in node.inputs), default=-1)
        by_level: dict[int, list[Node]] = {}
        for node in self.nodes:
            by_level.setdefault(level[node.index], []).append(node)
        position: dict[int, tuple[float, float]] = {}
        for lev in sorted(by_level):
            members = by_level[lev]
            if lev > 0:
                members.sort(key=lambda nd: (-np.mean([position[j][1] for j, _ in nd.inputs])
                                             if nd.inputs else 0.0, nd.index))
            for k, node in enumerate(members):
                position[node.index] = (float(lev), (len(members) - 1) / 2 - k)
        return position

    def plot(self, adjoints: bool = False, tangents: bool = False, digits: int = 4):
        """A matplotlib Figure of the computational graph.

        One rounded box per node (gid ``"trace-node"``) labelled with its expression and value
        (plus v̇ and v̄ on request), one arrow per argument labelled with the local partial;
        inputs shaded blue, outputs red. matplotlib is imported here, not with diffx.
        """
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

        position = self.layout()
        levels = 1 + max(int(x) for x, _ in position.values())
        height = max(max(abs(y) for _, y in position.values()) * 2 + 1, 1)
        x_gap, y_gap = 2.4, 1.05 + 0.25 * (adjoints + tangents)
        fig = Figure(figsize=(min(1.0 + 2.2 * levels, 60), min(1.0 + 1.0 * y_gap * height, 60)),
                     layout="constrained")
        ax = fig.add_subplot()
        ax.set_axis_off()
        box_w, box_h = 1.75, 0.62 + 0.22 * (adjoints + tangents)
        outputs = {out.index for out in self.outputs if isinstance(out, Node)}

        def xy(i: int) -> tuple[float, float]:
            return position[i][0] * x_gap, position[i][1] * y_gap

        for node in self.nodes:
            for j, partial in node.inputs:
                (x0, y0), (x1, y1) = xy(j), xy(node.index)
                start, end = np.array([x0 + box_w / 2, y0]), np.array([x1 - box_w / 2, y1])
                # an edge that skips levels bows away from the centre line, around the boxes
                # in between; matplotlib's arc3 puts the Bézier control point at
                # mid + rad·(dy, -dx), so rad < 0 bows upwards
                skips = x1 - x0 > x_gap * 1.5
                bow = min(0.25, 1.6 / float(np.hypot(*(end - start))))  # peak at most 0.8 off
                rad = (-bow if (y0 + y1) >= 0 else bow) if skips else 0.0
                ax.add_patch(FancyArrowPatch(tuple(start), tuple(end), arrowstyle="-|>",
                                             mutation_scale=10, color="0.45", lw=0.9,
                                             shrinkA=0, shrinkB=0,
                                             connectionstyle=f"arc3,rad={rad}"))
                dx, dy = end - start
                control = (start + end) / 2 + rad * np.array([dy, -dx])
                t = 0.5 if skips else 0.6  # straight: past the middle, where fans have opened
                at = (1 - t) ** 2 * start + 2 * t * (1 - t) * control + t**2 * end
                ax.text(*at, _number(primal(partial), digits), fontsize=7, ha="center",
                        va="center", color="#7a2e00",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"})
        for node in self.nodes:
            x, y = xy(node.index)
            colour = ("#dbe8fb" if node.op is None else "#fde2dc" if node.index in outputs
                      else "#f4f4f4")
            box = FancyBboxPatch((x - box_w / 2, y - box_h / 2), box_w, box_h,
                                 boxstyle="round,pad=0.02,rounding_size=0.12", fc=colour,
                                 ec="0.25", lw=1.0, gid="trace-node")
            ax.add_patch(box)
            ax.text(x, y, self._label(node, digits, adjoints, tangents), ha="center",
                    va="center", fontsize=8)
        xs = [xy(i)[0] for i in position]
        ys = [xy(i)[1] for i in position]
        ax.set_xlim(min(xs) - box_w, max(xs) + box_w)
        ax.set_ylim(min(ys) - box_h - 0.4, max(ys) + box_h + 0.4)  # room for bowed edges
        ax.set_aspect("equal")
        ax.set_title(f"computational graph of {_shorten(self.function.name)}", fontsize=10)
        return fig


_UNSUBSCRIPTS = str.maketrans("₋₀₁₂₃₄₅₆₇₈₉", "-0123456789")


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal (combining accents, as in v̇ and v̄, take none)."""
    return sum(not unicodedata.combining(c) for c in text)


def _to_float(x: Any) -> float | np.ndarray:
    if x is None:
        return 0.0
    x = primal(x)
    return float(x) if np.ndim(x) == 0 else np.asarray(x, dtype=float)


def _number(x: Any, digits: int = 12) -> str:
    """A float without noise: 2.0 -> '2', 0.5 -> '0.5', 1/3 -> '0.333333' (digits=6); an array
    as its elements in brackets (the first and last three beyond six), a linear map (an array
    function's partial) by its name."""
    if isinstance(x, Linear):
        return x.name
    x = 0.0 if x is None else primal(x)
    if np.ndim(x) > 0:
        flat = np.ravel(x)
        shown = [_number(v, min(digits, 4)) for v in (flat if flat.size <= 6 else
                                                      [*flat[:3], *flat[-3:]])]
        if flat.size > 6:
            shown[3:3] = ["…"]
        shape = "" if np.ndim(x) == 1 and flat.size <= 6 else f" {tuple(np.shape(x))}"
        return "[" + ", ".join(shown) + "]" + shape
    return f"{float(x):.{digits}g}".replace("inf", "∞")


def _argument(a: Any) -> Any:
    """An argument as a row shows it: a node's name, a number as a float, else as it is (an
    index, a constant array)."""
    if isinstance(a, Node):
        return a.name
    return float(a) if isinstance(a, (int, float, np.number)) else a


def _index_text(index: Any) -> str:
    parts = index if isinstance(index, tuple) else (index,)

    def one(p: Any) -> str:
        if isinstance(p, slice):
            return ":".join("" if v is None else str(v) for v in (p.start, p.stop)) + (
                "" if p.step is None else f":{p.step}")
        if p is None:
            return "None"
        if p is Ellipsis:
            return "..."
        return str(p.tolist()) if isinstance(p, np.ndarray) else str(p)

    return ", ".join(one(p) for p in parts)


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shorten(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _check_vector(x: Any, n: int | None, what: str) -> np.ndarray:
    try:
        vector = np.atleast_1d(np.asarray(x, dtype=float))
    except (TypeError, ValueError):
        raise DiffxError(f"the {what} must be a real number or a vector of them, got {x!r}") \
            from None
    if vector.ndim != 1 or vector.size == 0 or (n is not None and vector.size != n):
        size = f" of {n} coordinates" if n is not None else ""
        raise DiffxError(f"the {what} must be a 1-D vector{size}, got shape {vector.shape}")
    if not np.all(np.isfinite(vector)):
        raise DiffxError(f"the {what} {tuple(vector)} contains NaN or infinity")
    return vector


def trace(f: Any, x: Any, direction: Any = None, *, weights: Any = None,
          variables: Sequence[str] | None = None) -> Trace:
    """Record one evaluation of ``f`` at ``x`` and sweep it forward and backward.

    ``f`` is an expression string, SymPy expression or callable; ``x`` a number or a vector of
    n numbers. ``direction`` is the input tangent ẋ of the forward sweep (default e₁, the first
    basis vector); ``weights`` the output adjoint ȳ of the reverse sweep (default 1, or e₁ for
    a vector-valued f). Returns a :class:`Trace`; ``print()`` it for the three tables.

    >>> t = trace("x*sin(x)", 2.0)
    >>> [row["op"] for row in t.rows]
    ['input', 'sin', 'multiply']
    """
    fn = as_function(f, variables)
    point = _check_vector(x, None, "point")
    n = point.size
    tape = record(fn, point)
    direction = (np.eye(n)[0] if direction is None
                 else _check_vector(direction, n, "direction"))
    m = tape.size
    weights = np.eye(m)[0] if weights is None else _check_vector(weights, m, "adjoint seed ȳ")
    names = fn.variables if fn.variables is not None else (
        ("x",) if n == 1 else tuple(f"x{i}" for i in range(n)))
    return Trace(fn, point, tape, direction, weights, tuple(names))
