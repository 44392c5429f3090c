"""The function model: strings parsed safely, SymPy expressions and callables, one interface.

Every engine receives a :class:`Function`. It knows its variables and evaluates on numbers of any
backend the elementary table dispatches on (floats/arrays, duals, tensors, SymPy, mpmath).

Strings are parsed with :func:`ast.parse` and a whitelist of node types, operators and names;
nothing from the text is ever evaluated by Python (no ``eval``, ``exec``, ``sympify`` or
``parse_expr``). The whitelisted tree is compiled into closures that call the elementary table.

    >>> f = parse("sin(x)*exp(-x**2)")
    >>> f.variables
    ('x',)
    >>> round(float(f(0.5)), 12)
    0.373376984889
"""

from __future__ import annotations

import ast
import difflib
import inspect
import math
import re
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
import sympy

from diffx import elementary as E
from diffx.errors import DiffxError, LimitError, ParseError, UnsupportedError
from diffx.object_arrays import ObjectArray, flat_outputs

__all__ = ["CallableFunction", "Function", "FunctionCache", "Limits", "ParsedFunction",
           "as_function", "natural_key", "parse", "to_sympy", "unsupported_on_failure"]

_VARIABLE_NAME = re.compile(r"[A-Za-z](_?[0-9]+)?\Z")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Limits:
    """Resource limits for parsed text; raise them by passing ``limits=Limits(...)`` to parse.

    ``max_exponent`` bounds the size of a constant exponent, so ``x**(10**10)`` or ``9**9**9`` is
    refused before SymPy or numpy try to expand it.
    """

    max_length: int = 10_000
    max_depth: int = 200
    max_nodes: int = 20_000
    max_exponent: float = 10_000.0


DEFAULT_LIMITS = Limits()


def natural_key(name: str) -> tuple:
    """Sort key putting x2 before x10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


# --------------------------------------------------------------------------------------------
# The parsed tree: a tiny immutable expression language over the elementary table
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Number:
    text: str  # as written, so SymPy and mpmath see the exact decimal (0.1 is 1/10)
    value: float


@dataclass(frozen=True)
class Variable:
    name: str
    index: int


@dataclass(frozen=True)
class NamedConstant:
    constant: E.Constant


@dataclass(frozen=True)
class Apply:
    op: E.Elementary
    args: tuple


Node = Number | Variable | NamedConstant | Apply

_BINARY = {ast.Add: E.add, ast.Sub: E.subtract, ast.Mult: E.multiply, ast.Div: E.divide,
           ast.Pow: E.power}
_OPERATOR_SYMBOLS = {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<",
                     ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^",
                     ast.Invert: "~", ast.Not: "not"}
_FORBIDDEN_HINTS = {
    ast.Set: "sets are not allowed; a vector function is written [f1, f2]",
    ast.Dict: "dictionaries are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "indexing is not allowed; name variables x0, x1, ... instead",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.NamedExpr: "assignment expressions are not allowed",
    ast.JoinedStr: "strings are not allowed",
    ast.Starred: "starred arguments are not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "boolean operators are not allowed",
    ast.IfExp: "conditional expressions are not allowed",
}


class _Parser:
    """Turns whitelisted Python AST into diffx nodes; everything else is a ParseError."""

    def __init__(self, text: str, variables: Sequence[str] | None, limits: Limits,
                 original: str | None = None):
        self.text = text
        self.original = original if original is not None else text
        self.limits = limits
        self.explicit = tuple(variables) if variables is not None else None
        self.found: set[str] = set()
        self.nodes = 0
        self.constants: dict[int, float] = {}  # id(Apply) -> value of constant subtrees

    def error(self, message: str, node: ast.AST | None = None) -> ParseError:
        column = None
        if node is not None and hasattr(node, "col_offset"):
            column = self.offset(node.lineno, node.col_offset)
        return ParseError(message, self.original, column)

    def offset(self, lineno: int, col: int) -> int:
        """Offset in the user's text of (line, column) in the parsed source.

        The source is ASCII (so ast's byte columns are characters), may span lines, had its
        leading whitespace removed and each ``^`` widened to ``**``: undo all three.
        """
        lines = self.text.split("\n")
        position = sum(len(line) + 1 for line in lines[:lineno - 1]) + col
        leading = len(self.original) - len(self.original.lstrip())
        original = leading
        consumed = 0
        while consumed < position and original < len(self.original):
            consumed += 2 if self.original[original] == "^" else 1
            original += 1
        return original

    def parse(self) -> tuple[list[Node], bool]:
        try:
            tree = ast.parse(self.text, mode="eval")
        except SyntaxError as exc:
            column = self.offset(exc.lineno or 1, max((exc.offset or 1) - 1, 0))
            raise ParseError(f"syntax error: {exc.msg}", self.original, column) from None
        except (RecursionError, MemoryError):
            raise LimitError("expression is nested too deeply to parse") from None
        self._check_depth(tree.body)
        body = tree.body
        if isinstance(body, (ast.Tuple, ast.List)):
            if not body.elts:
                raise self.error("empty list of components", body)
            return [self.convert(element) for element in body.elts], True
        return [self.convert(body)], False

    def _check_depth(self, root: ast.AST) -> None:
        """Iterative depth/size check, so the recursive conversion below cannot overflow."""
        stack = [(root, 1)]
        count = 0
        while stack:
            node, depth = stack.pop()
            count += 1
            if depth > self.limits.max_depth:
                raise LimitError(
                    f"expression nests deeper than {self.limits.max_depth} levels; "
                    f"pass limits=diffx.functions.Limits(max_depth=...) to allow more")
            if count > self.limits.max_nodes:
                raise LimitError(f"expression has more than {self.limits.max_nodes} nodes")
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))

    def convert(self, node: ast.AST) -> Node:
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = self.convert(node.left), self.convert(node.right)
            op = _BINARY[type(node.op)]
            if op is E.power:
                self._check_exponent(right, node)
            return self.fold(Apply(op, (left, right)), node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return self.fold(Apply(E.negative, (self.convert(node.operand),)), node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd):
            return self.convert(node.operand)
        if isinstance(node, (ast.BinOp, ast.UnaryOp)):
            symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
            hint = (" (use ** for powers)" if isinstance(node.op, ast.BitXor) else
                    "; expressions use + - * / ** and the functions of the table")
            raise self.error(f"operator {symbol} is not allowed{hint}", node)
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        for kind, hint in _FORBIDDEN_HINTS.items():
            if isinstance(node, kind):
                raise self.error(hint, node)
        raise self.error(f"{type(node).__name__} is not allowed in an expression", node)

    def number(self, node: ast.Constant) -> Number:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(f"only real numbers are allowed, not {type(value).__name__}", node)
        if isinstance(value, int) and abs(value) > 10**300:
            raise LimitError(f"integer literal at column {node.col_offset} is too large")
        if not math.isfinite(float(value)):
            raise self.error("number is too large (it overflows to infinity)", node)
        text = (ast.get_source_segment(self.text, node) or repr(value)).replace("_", "")
        exponent = re.search(r"[eE]([+-]?[0-9]+)$", text)
        if exponent and abs(int(exponent.group(1))) > 400:
            # SymPy would build 10**exponent exactly; no float64 needs more than 10**±400
            raise LimitError(f"the exponent of the number {text[:20]} (column "
                             f"{self.offset(node.lineno, node.col_offset)}) is out of range")
        return Number(text, float(value))

    def name(self, node: ast.Name) -> Node:
        name = node.id
        if name in E.CONSTANTS and (self.explicit is None or name not in self.explicit):
            return NamedConstant(E.CONSTANTS[name])
        if name in E.FUNCTIONS or name in E.ALIASES:
            raise self.error(f"{name} is a function: write {name}(...)", node)
        if self.explicit is not None:
            if name in self.explicit:
                return Variable(name, self.explicit.index(name))
            raise self.error(f"unknown name {name!r}; the variables are "
                             f"{', '.join(self.explicit) or 'none'}", node)
        if _VARIABLE_NAME.match(name):
            self.found.add(name)
            return Variable(name, -1)  # index assigned once all variables are known
        raise self.error(self._unknown(name, "name") + "; variables are single letters "
                         "optionally followed by digits (x, y, x0, x1), or pass variables=",
                         node)

    def call(self, node: ast.Call) -> Node:
        if not isinstance(node.func, ast.Name):
            raise self.error("only calls of elementary functions by name are allowed", node)
        name = node.func.id
        if name not in E.FUNCTIONS and name not in E.ALIASES:
            raise self.error(self._unknown(name, "function"), node)
        if node.keywords:
            raise self.error(f"{name}() takes no keyword arguments", node.keywords[0].value)
        row = E.lookup(name)
        if len(node.args) != row.arity:
            raise self.error(f"{name}() takes {row.arity} argument(s), got {len(node.args)}",
                             node)
        return self.fold(Apply(row, tuple(self.convert(a) for a in node.args)), node)

    def fold(self, node: Apply, where: ast.AST) -> Node:
        """Count nodes, and refuse constant subexpressions that overflow."""
        self.nodes += 1
        values = [self.constants.get(id(a)) if isinstance(a, Apply) else _constant_value(a)
                  for a in node.args]
        value = None
        if all(v is not None for v in values):
            with np.errstate(all="ignore"):
                value = float(np.real(node.op.numpy(*values)))
            self.constants[id(node)] = value
        if value is not None:
            if math.isinf(value):
                raise LimitError(f"constant expression at column "
                                 f"{self.offset(where.lineno, where.col_offset)} "
                                 f"overflows to infinity")
        return node

    def _check_exponent(self, exponent: Node, where: ast.AST) -> None:
        value = _constant_value(exponent)
        if value is not None and not abs(value) <= self.limits.max_exponent:
            raise LimitError(
                f"exponent {value:g} at column {where.col_offset} exceeds the limit "
                f"{self.limits.max_exponent:g}; pass limits=diffx.functions.Limits("
                f"max_exponent=...) to allow it")

    def _unknown(self, name: str, what: str) -> str:
        known = [*E.FUNCTIONS, *E.ALIASES, *E.CONSTANTS]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown {what} {name!r}{hint}"


def _constant_value(node: Node) -> float | None:
    """The float value of a subtree without variables (None if it has variables)."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, NamedConstant):
        return node.constant.float_value
    if isinstance(node, Apply):
        values = [_constant_value(a) for a in node.args]
        if any(v is None for v in values):
            return None
        with np.errstate(all="ignore"):
            return float(np.real(node.op.numpy(*values)))
    return None


def _reindex(node: Node, order: dict[str, int]) -> Node:
    if isinstance(node, Variable):
        return Variable(node.name, order[node.name])
    if isinstance(node, Apply):
        return Apply(node.op, tuple(_reindex(a, order) for a in node.args))
    return node


def _check_text(text: str, limits: Limits) -> str:
    if not isinstance(text, str):
        raise ParseError(f"expected an expression string, got {type(text).__name__}")
    if len(text) > limits.max_length:
        raise LimitError(f"expression is {len(text)} characters long; the limit is "
                         f"{limits.max_length}")
    for column, char in enumerate(text):
        if ord(char) > 126 or (ord(char) < 32 and char not in "\t\n\r"):
            raise ParseError(f"character U+{ord(char):04X} is not allowed (expressions are "
                             f"plain ASCII)", text, column)
    if not text.strip():
        raise ParseError("empty expression", text, 0)
    depth = 0
    for column, char in enumerate(text):  # fail fast, before Python's own parser recurses
        depth += (char in "([") - (char in ")]")
        if depth > limits.max_depth:
            raise LimitError(f"parentheses nest deeper than {limits.max_depth} levels "
                             f"(column {column})")
    return text.strip().replace("^", "**")  # caret as power, as in most calculators and papers


# --------------------------------------------------------------------------------------------
# Evaluation of parsed trees: compiled once into closures over the elementary table
# --------------------------------------------------------------------------------------------
def _constant_backend(args: Sequence[Any]) -> str:
    backend = E.backend_of(*args)
    if backend == "object":
        first = next(a for a in args if isinstance(a, np.ndarray) and a.dtype == object)
        backend = E.backend_of(first.flat[0]) if first.size else "numpy"
    return backend if backend in ("sympy", "mpmath") else "numpy"


def _compile(node: Node) -> Callable[[Sequence[Any], str], Any]:
    if isinstance(node, Variable):
        index = node.index
        return lambda args, backend: args[index]
    if isinstance(node, Number):
        value, text = node.value, node.text
        exact = sympy.Rational(text) if re.fullmatch(r"[0-9.eE+-]+", text) else sympy.Float(value)

        def number(args, backend):
            if backend == "sympy":
                return exact
            if backend == "mpmath":
                return mpmath.mpf(text)
            return value

        return number
    if isinstance(node, NamedConstant):
        constant = node.constant
        return lambda args, backend: constant.value_for(backend)
    op = node.op
    children = [_compile(a) for a in node.args]
    if len(children) == 1:
        (child,) = children
        return lambda args, backend: op(child(args, backend))
    left, right = children
    return lambda args, backend: op(left(args, backend), right(args, backend))


def to_sympy(node: Node, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
    """The SymPy expression of one parsed node, in ``symbols`` (one per variable index)."""
    return _compile(node)(symbols, "sympy")


# --------------------------------------------------------------------------------------------
# SymPy expressions → nodes (so a SymPy input also runs on duals, tensors and mpmath)
# --------------------------------------------------------------------------------------------
def _from_sympy(expr: sympy.Basic, order: dict[sympy.Symbol, int]) -> Node:
    if isinstance(expr, sympy.Symbol):
        return Variable(expr.name, order[expr])
    if expr is sympy.pi:
        return NamedConstant(E.CONSTANTS["pi"])
    if expr is sympy.E:
        return NamedConstant(E.CONSTANTS["e"])
    if expr.is_Number:
        if not expr.is_real or not expr.is_finite:
            raise UnsupportedError(f"SymPy number {expr} is not a finite real number")
        if expr.is_Rational and not expr.is_Integer:
            return Apply(E.divide, (Number(str(expr.p), float(expr.p)),
                                    Number(str(expr.q), float(expr.q))))
        return Number(str(expr), float(expr))
    function = E.row_of_sympy(expr)
    if function is not None:
        row, arguments = function
        return Apply(row, tuple(_from_sympy(a, order) for a in arguments))
    args = [_from_sympy(a, order) for a in expr.args]
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        op = E.add if isinstance(expr, sympy.Add) else E.multiply
        node = args[0]
        for arg in args[1:]:
            node = Apply(op, (node, arg))
        return node
    if isinstance(expr, sympy.Pow):
        return Apply(E.power, tuple(args))
    raise UnsupportedError(
        f"SymPy function {expr.func.__name__} is not in diffx's elementary table "
        f"({', '.join(E.FUNCTIONS)})")


# --------------------------------------------------------------------------------------------
# The Function
# --------------------------------------------------------------------------------------------
class FunctionCache:
    """What engines and the point policy derive from one :class:`Function` once and reuse: its
    SymPy form, symbolic derivatives and their lambdified code, the dual engine's compiled
    program, the singular arguments, the last point check. One mapping, keyed by a string each
    user owns ("symbolic", "dual program", …); :meth:`reset` empties it, so a
    :meth:`Function.fresh` copy starts cold (compare times every method's setup that way).

    >>> cache = FunctionCache()
    >>> cache.get("answer", lambda: 42), cache.get("answer", lambda: 0)
    (42, 42)
    >>> cache.reset(); "answer" in cache
    False
    """

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[str, Any] = {}

    def get(self, key: str, build: Callable[[], Any]) -> Any:
        """The entry ``key``, made by ``build()`` the first time."""
        try:
            return self._entries[key]
        except KeyError:
            value = self._entries[key] = build()
            return value

    def peek(self, key: str, default: Any = None) -> Any:
        """The entry ``key`` if there is one, else ``default`` (nothing is built)."""
        return self._entries.get(key, default)

    def put(self, key: str, value: Any) -> Any:
        self._entries[key] = value
        return value

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def reset(self) -> None:
        """Forget everything derived so far."""
        self._entries.clear()


class Function:
    """A scalar or vector function of n real variables that every engine can differentiate.

    Two kinds, two classes: :class:`ParsedFunction` (an expression string or SymPy expression,
    held as a tree of the elementary table's operations: engines may read the tree) and
    :class:`CallableFunction` (the user's Python callable: engines can only run it).
    ``f(a, b, ...)`` evaluates with one argument per variable, each a number of any backend;
    ``f(x)`` with one float vector ``x`` of shape (n,), n ≥ 2, evaluates at that point and
    returns an ndarray of shape () or (m,) (what a plug-in method's core calls, see
    :mod:`diffx.engines.registry`). Engines call :meth:`on_vector` with a vector-like of length
    n (ndarray, Dual vector, tensor, object array of symbols); the result is a scalar or a list
    of m scalars. ``variables`` is ``None`` for a callable whose number of inputs is set by the
    point. ``cache`` holds what is derived from the function (:class:`FunctionCache`).
    """

    def __init__(self, *, variables: Sequence[str] | None, name: str,
                 text: str | None = None):
        self.variables = tuple(variables) if variables is not None else None
        self.text = text
        self.name = name
        self.cache = FunctionCache()

    def fresh(self) -> Function:
        """A copy with an empty cache: its first derivative pays every setup again."""
        import copy

        twin = copy.copy(self)
        twin.cache = FunctionCache()
        return twin

    # --- evaluation -------------------------------------------------------------------------
    def __call__(self, *args: Any) -> Any:
        if len(args) == 1 and self._is_point(args[0]):
            return self.numpy_call(args[0])
        return self._evaluate(args)

    def _evaluate(self, args: tuple) -> Any:
        raise NotImplementedError

    def _is_point(self, x: Any) -> bool:
        """A float or complex vector holding all n ≥ 2 coordinates of the point."""
        return (isinstance(x, np.ndarray) and x.ndim == 1 and x.dtype.kind in "fc"
                and self.variables is not None and len(self.variables) > 1
                and x.size == len(self.variables))

    def on_vector(self, v: Any, n: int) -> Any:
        """Evaluate at a vector-like ``v`` of length ``n`` (scalar or list of m outputs); the
        arity is checked by ``_evaluate``."""
        return self._evaluate(tuple(v[i] for i in range(n)))

    def _check_arity(self, n: int) -> None:
        if self.variables is not None and n != len(self.variables):
            raise DiffxError(
                f"{self.name} is a function of {len(self.variables)} variable(s) "
                f"({', '.join(self.variables)}) but the point has {n} coordinate(s)")

    def n_inputs(self, x: Any) -> int:
        return len(self.variables) if self.variables is not None else int(np.size(x))

    def numpy_call(self, x: np.ndarray) -> np.ndarray:
        """Evaluate at a float or complex vector; returns an ndarray of shape () or (m,)."""
        return np.asarray(_as_outputs(self.on_vector(x, len(x)), np.stack, np.asarray))

    # --- SymPy form ---------------------------------------------------------------------------
    def symbols(self, n: int) -> tuple[sympy.Symbol, ...]:
        names = self.variables if self.variables is not None else (
            ("x",) if n == 1 else tuple(f"x{i}" for i in range(n)))
        return tuple(sympy.Symbol(name, real=True) for name in names)

    def sympy_form(self, n: int) -> list[sympy.Expr]:
        """The function as a list of m SymPy expressions in :meth:`symbols` ``(n)``.

        Raises UnsupportedError when a callable cannot be traced with SymPy symbols (it branches
        on values, or uses functions outside diffx's table).
        """
        return self.cache.get(f"sympy form {n}", lambda: self._trace_sympy(n))

    def _trace_sympy(self, n: int) -> list[sympy.Expr]:
        raise NotImplementedError

    def is_vector_valued(self, n: int) -> bool:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, variables={self.variables})"


class ParsedFunction(Function):
    """A function given as text or a SymPy expression: ``tree`` holds one expression tree per
    output (nodes :class:`Apply`, :class:`Variable`, :class:`Number`, :class:`NamedConstant`
    over the elementary table), compiled once into closures.

    >>> f = parse("[x*y, sin(x)]")
    >>> isinstance(f, ParsedFunction), f.vector_output, len(f.tree)
    (True, True, 2)
    """

    def __init__(self, tree: list[Node], *, vector_output: bool = False,
                 variables: Sequence[str], text: str | None = None,
                 name: str | None = None):
        super().__init__(variables=variables, name=name or text or "f", text=text)
        self.tree = tree
        self.vector_output = vector_output
        self._compiled = [_compile(node) for node in tree]

    def _evaluate(self, args: tuple) -> Any:
        self._check_arity(len(args))
        backend = _constant_backend(args)
        outputs = [code(args, backend) for code in self._compiled]
        return outputs if self.vector_output else outputs[0]

    def _trace_sympy(self, n: int) -> list[sympy.Expr]:
        symbols = self.symbols(n)
        return [sympy.sympify(to_sympy(node, symbols)) for node in self.tree]

    def is_vector_valued(self, n: int) -> bool:
        return self.vector_output


class CallableFunction(Function):
    """The user's callable ``func``: of one vector argument (``takes_vector``; its length is
    set by the point) or of one argument per variable (``f(x, y)``). SymPy, mpmath and
    TensorFlow inputs reach it boxed (:class:`diffx.elementary.Boxed`), so the numpy ufuncs in
    it run the table's rows.

    >>> f = as_function(lambda v: v[0] * v[1])
    >>> isinstance(f, CallableFunction), f.takes_vector, float(f(np.array([2.0, 3.0])))
    (True, True, 6.0)
    """

    def __init__(self, func: Callable, *, variables: Sequence[str] | None = None,
                 name: str | None = None):
        super().__init__(variables=variables, name=name or getattr(func, "__name__", "f"))
        self.func = func
        self.takes_vector = True
        if self.variables is None and _positional_count(func) > 1:
            self.takes_vector = False
            self.variables = tuple(f"x{i}" for i in range(_positional_count(func)))

    def _evaluate(self, args: tuple) -> Any:
        return self._call_func(*args)

    def on_vector(self, v: Any, n: int) -> Any:
        self._check_arity(n)
        if not self.takes_vector:
            return self._call_func(*(v[i] for i in range(n)))
        return self._call_func(v[0] if n == 1 else v)

    def _call_func(self, *args: Any) -> Any:
        """Call the user's callable; SymPy, mpmath and TensorFlow inputs go in boxed, so that
        numpy ufuncs in it (np.sin(v[0])) run the table's rows instead of failing on symbols
        or silently making tensors constant."""
        if not any(_boxable(a) for a in args):
            return self.func(*args)
        return E.unbox(self.func(*(E.box(a) for a in args)))

    def _trace_sympy(self, n: int) -> list[sympy.Expr]:
        vector = ObjectArray(np.array(self.symbols(n), dtype=object))
        try:
            with unsupported_on_failure(self, "traced with SymPy symbols",
                                        "and without branches on values"):
                outputs = flat_outputs(self.on_vector(vector, n))
        except UnsupportedError as refusal:
            if str(refusal).startswith(self.name):
                raise
            raise UnsupportedError(f"{self.name} could not be traced with SymPy symbols: "
                                   f"{refusal}") from None
        forms = [sympy.sympify(o) for o in outputs]
        size = written_size(forms)
        if size > SYMPY_MAX_WRITTEN:
            raise UnsupportedError(
                f"{self.name} could not be traced with SymPy symbols: its formula written out "
                f"has {size:.3g} operations (expression swell: the code reuses intermediate "
                f"values, which a formula repeats), more than {SYMPY_MAX_WRITTEN}")
        return forms

    def is_vector_valued(self, n: int) -> bool:
        return len(self.sympy_form(n)) > 1 if self._sympy_ok(n) else np.size(
            self.numpy_call(np.ones(n))) > 1

    def _sympy_ok(self, n: int) -> bool:
        try:
            self.sympy_form(n)
            return True
        except UnsupportedError:
            return False


SYMPY_MAX_WRITTEN = 20_000
"""The largest SymPy form of a callable diffx differentiates symbolically, in operations
written out (:func:`written_size`): beyond it SymPy's diff and evalf, which walk every
repetition of a shared subexpression, take minutes to hours."""


def written_size(exprs: Sequence[sympy.Basic]) -> int:
    """How many operations ``exprs`` have written out as trees (every repetition of a shared
    subexpression counted), computed over the distinct subexpressions once.

    >>> x = sympy.Symbol("x")
    >>> e = sympy.sin(x) + 1
    >>> written_size([e]), written_size([e * e + e])
    (4, 10)
    """
    sizes: dict[sympy.Basic, int] = {}
    stack = list(exprs)
    while stack:
        e = stack[-1]
        if e in sizes:
            stack.pop()
            continue
        missing = [a for a in e.args if a not in sizes]
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        sizes[e] = 1 + sum(sizes[a] for a in e.args)
    return sum(sizes[e] for e in exprs)


@contextmanager
def unsupported_on_failure(fn: Function, attempt: str, advice: str) -> Iterator[None]:
    """Run the user's callable ``fn`` (inside the ``with`` block) on another backend's numbers.

    Any exception other than a DiffxError becomes an UnsupportedError that names ``fn``, says
    what could not be done (``attempt``), quotes the first line of the original error and ends
    with how to write ``fn`` instead (``advice``, after "write it with diffx.sin, diffx.exp,
    ..."). A parsed function's failure is a bug in diffx, not the user's: it propagates as is.

    >>> def f(v): return 1 / v
    >>> with unsupported_on_failure(as_function(f), "run by method 'dual'", "or numpy ufuncs"):
    ...     f(0)
    Traceback (most recent call last):
    ...
    diffx.errors.UnsupportedError: f could not be run by method 'dual' (ZeroDivisionError: ...
    """
    try:
        yield
    except DiffxError:
        raise
    except Exception as exc:  # the callable did something these numbers cannot do
        if isinstance(fn, ParsedFunction):
            raise
        reason = (str(exc).strip().splitlines() or [""])[0]  # TensorFlow's run to pages
        raise UnsupportedError(
            f"{fn.name} could not be {attempt} ({type(exc).__name__}: {reason}); write it "
            f"with diffx.sin, diffx.exp, ... {advice}") from None


def _boxable(x: Any) -> bool:
    """Does ``x`` hold SymPy, mpmath or TensorFlow values (which numpy ufuncs cannot handle)?"""
    if isinstance(x, np.ndarray) and x.dtype == object:
        return any(_boxable(item) for item in x.ravel())
    if isinstance(x, (list, tuple)):
        return any(_boxable(item) for item in x)
    return E.backend_of(x) in ("sympy", "mpmath", "tf")


_POSITIONAL_COUNTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _positional_count(func: Callable) -> int:
    """How many required positional parameters ``func`` has (1 when it cannot be told).
    Remembered per callable: a new Function wraps it at every API call, and reading a
    signature costs more than a small graph-mode gradient's own Python work."""
    with suppress(TypeError):  # not weakly referenceable or not hashable
        if func in _POSITIONAL_COUNTS:
            return _POSITIONAL_COUNTS[func]
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return 1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    count = sum(1 for p in params if p.kind in kinds and p.default is inspect.Parameter.empty)
    with suppress(TypeError):
        _POSITIONAL_COUNTS[func] = count
    return count


def _as_outputs(out: Any, stack: Callable, single: Callable) -> Any:
    """Lists/tuples of outputs are stacked with the backend's ``stack``; anything else kept."""
    if isinstance(out, (list, tuple)):
        return stack([single(o) for o in out])
    return out


def parse(text: str, variables: Sequence[str] | None = None,
          limits: Limits = DEFAULT_LIMITS) -> Function:
    """Parse an expression string into a :class:`Function`, safely (nothing is evaluated).

    Accepts numbers, the variables, ``+ - * / **`` (``^`` means ``**``), unary minus, calls of
    the elementary functions (``diffx.elementary.FUNCTIONS`` and aliases such as ``ln``) and the
    constants ``pi`` and ``e``. ``"[x*y, sin(x)]"`` is a vector-valued function. Variables are
    single letters optionally followed by digits, sorted naturally (x2 before x10) unless
    ``variables`` gives names and order.

    Raises ParseError (pointing at the offending column) or LimitError.
    """
    if variables is not None:
        for name in variables:
            if not isinstance(name, str) or not _IDENTIFIER.match(name) or name in E.FUNCTIONS:
                raise ParseError(f"invalid variable name {name!r}")
    source = _check_text(text, limits)
    parser = _Parser(source, variables, limits, original=text)
    tree, vector_output = parser.parse()
    if variables is None:
        names = tuple(sorted(parser.found, key=natural_key))
        order = {name: i for i, name in enumerate(names)}
        tree = [_reindex(node, order) for node in tree]
    else:
        names = tuple(variables)
    if not names:
        names = ("x",)  # a constant is a function of x with zero derivative
    return ParsedFunction(tree, vector_output=vector_output, variables=names, text=text.strip())


def as_function(f: Any, variables: Sequence[str] | None = None) -> Function:
    """Accept a string, SymPy expression (or list of them), Function or callable.

    >>> as_function("x*y").variables
    ('x', 'y')
    """
    if isinstance(f, Function):
        return f
    if isinstance(f, str):
        return parse(f, variables=variables)
    if isinstance(f, sympy.Basic) or (isinstance(f, (list, tuple)) and f
                                      and all(isinstance(g, sympy.Basic) for g in f)):
        exprs = list(f) if isinstance(f, (list, tuple)) else [f]
        free = set().union(*(g.free_symbols for g in exprs))
        if variables is not None:
            by_name = {s.name: s for s in free}
            ordered = [by_name.get(name, sympy.Symbol(name)) for name in variables]
        else:
            ordered = sorted(free, key=lambda s: natural_key(s.name)) or [sympy.Symbol("x")]
        order = {s: i for i, s in enumerate(ordered)}
        tree = [_from_sympy(g, order) for g in exprs]
        return ParsedFunction(tree, vector_output=isinstance(f, (list, tuple)),
                              variables=[s.name for s in ordered], text=str(f))
    if callable(f):
        return CallableFunction(f, variables=variables)
    raise DiffxError(f"cannot differentiate a {type(f).__name__}: pass an expression string, "
                     f"a SymPy expression or a callable")
