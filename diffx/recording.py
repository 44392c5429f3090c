"""The recorder: one run of ``f`` on :class:`Node` values, written down operation by operation,
and the two sweeps over the recording (forward: tangents; reverse: adjoints).

A ``Node`` is registered with the elementary table (:func:`diffx.elementary.register_type`), so
every table row — ``diffx.sin``, the operators ``+ - * / **``, numpy ufuncs — applied to a node
appends one new node holding the operation, its arguments (nodes, or constants), its value and
its local partial derivatives, computed by the row's own ``partials`` rules. No derivative rule
is written here. The views of a recording (tables, graph) are in :mod:`diffx.trace`; diffx's
reverse-mode engine (:mod:`diffx.engines.reverse`) and the bad-point policy
(:mod:`diffx.points`) use the recorder directly.

    >>> import numpy as np
    >>> from diffx.functions import parse
    >>> tape = record(parse("x*y + sin(x)"), [2.0, 3.0])
    >>> [node.op_name for node in tape.nodes]
    ['input', 'input', 'multiply', 'sin', 'add']
    >>> adjoints = reverse_sweep(tape, [1.0])
    >>> round(float(adjoints[0]), 12), float(adjoints[1])   # y + cos(x), x
    (2.583853163453, 2.0)
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from diffx import elementary as E
from diffx.array_adjoints import READINGS, Linear, layered, unbroadcast
from diffx.array_rules import ARRAY_RULES, PRIMAL_ONLY, ArrayRule, NumpyMethods
from diffx.errors import NonDifferentiableWarning, UnsupportedError
from diffx.functions import CallableFunction, Function

__all__ = ["INDEXING", "Node", "Operation", "Tape", "forward_sweep", "record", "records_arrays",
           "reverse_sweep"]

_SUBSCRIPTS = str.maketrans("-0123456789", "₋₀₁₂₃₄₅₆₇₈₉")


# --------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------
class Tape:
    """The recorded evaluation: ``nodes`` in evaluation order (the first ``n_inputs`` are the
    inputs) and ``outputs``, the outputs of ``f`` (Nodes, or constants where an output does not
    depend on the inputs). A function of scalars has one input node per variable; a callable
    of one vector (numpy code) has one input node holding the whole vector, and its nodes hold
    arrays (one node per numpy call). ``n_variables`` counts the variables either way, and
    ``size`` is the number of scalar outputs."""

    def __init__(self, n_inputs: int, n_variables: int | None = None):
        self.n_inputs = n_inputs
        self.n_variables = n_inputs if n_variables is None else n_variables
        self.nodes: list[Node] = []
        self.outputs: list[Any] = []
        self.functions: set[ArrayRule] = set()  # every numpy array function f called
        self.casts = False  # did f call .astype (a no-op on the trace)?

    def not_complex_analytic(self) -> list[str]:
        """The operations of the recording whose numpy form on complex input is not the
        complex-analytic extension (rows and array entries with ``analytic`` False: abs, max,
        std, norm, slogdet …), by name: complex-step differentiation cannot pass them."""
        names = {node.op.name for node in self.nodes
                 if isinstance(node.op, E.Elementary) and not node.op.analytic}
        names |= {rule.name for rule in self.functions if not rule.analytic}
        if self.casts:
            names.add("astype (a cast to a real dtype drops the imaginary part)")
        return sorted(names)

    @property
    def size(self) -> int:
        """How many scalar outputs f has (an array output counts its elements)."""
        return sum(int(np.size(E.primal(out))) for out in self.outputs)

    def input_adjoints(self, adjoints: Sequence[Any]) -> Sequence[Any]:
        """The adjoints of the n variables, one scalar each (0.0 where not reached), from the
        adjoints of a sweep (:func:`reverse_sweep`): a list, or an array (n,) for an array
        input."""
        if self.n_inputs == self.n_variables:
            return [0.0 if a is None else a for a in adjoints[:self.n_inputs]]
        (adjoint,) = adjoints[:1]  # one array input
        if adjoint is None:
            return [0.0] * self.n_variables
        if isinstance(adjoint, E.TableArithmetic):  # a dual vector: its scalar duals
            return list(np.broadcast_to(adjoint, (self.n_variables,)))
        return np.broadcast_to(adjoint, (self.n_variables,))

    def output_weights(self, weights: Sequence[Any]) -> list[Any]:
        """The flat weights (one per scalar output) shaped like each output."""
        shaped, start = [], 0
        for out in self.outputs:
            shape = np.shape(E.primal(out))
            size = int(np.prod(shape))
            chunk = weights[start:start + size]
            shaped.append(chunk[0] if not shape else np.reshape(np.asarray(chunk), shape))
            start += size
        return shaped


class Node(E.TableArithmetic, NumpyMethods):
    """One value of a recorded evaluation: ``value = op(*args)``.

    ``args`` holds argument nodes and constants; ``inputs`` pairs the position of each argument
    *node* in the tape with the local partial ∂value/∂argument: a number or array read from the
    table row (elementwise), or a :class:`~diffx.array_adjoints.Linear` map for a numpy array
    function (``op`` is then its :class:`~diffx.array_rules.ArrayRule`). Input nodes have
    ``op`` None and no arguments. A node holding an array behaves like one: ``shape``, indexing,
    ``len``, iteration, numpy's functions and methods, ``@``.
    """

    __slots__ = ("args", "index", "inputs", "op", "tape", "value")

    def __init__(self, tape: Tape, op: E.Elementary | ArrayRule | Operation | None, args: tuple,
                 value: Any, inputs: tuple[tuple[int, Any], ...]):
        self.tape, self.op, self.args, self.value, self.inputs = tape, op, args, value, inputs
        self.index = len(tape.nodes)
        tape.nodes.append(self)

    # arithmetic: E.TableArithmetic (every operator is a row of the elementary table);
    # comparisons look at values only (branches in user code follow the recorded path)
    def __lt__(self, other): return E.primal(self) < E.primal(other)
    def __le__(self, other): return E.primal(self) <= E.primal(other)
    def __gt__(self, other): return E.primal(self) > E.primal(other)
    def __ge__(self, other): return E.primal(self) >= E.primal(other)
    def __bool__(self): return bool(E.primal(self))
    def __pow__(self, other):  # x**2 as x·x, as the dual number does: numpy's float_power is
        two = type(other) in (int, float) and other == 2  # slow on arrays
        return E.multiply(self, self) if two else E.power(self, other)
    def __matmul__(self, other): return np.matmul(self, other)
    def __rmatmul__(self, other): return np.matmul(other, self)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        row = E.row_for_ufunc(ufunc, method, kwargs)
        if row is not None:
            return row(*inputs)
        if method == "__call__" and not kwargs and ufunc in PRIMAL_ONLY:
            return ufunc(*(E.primal(a) for a in inputs))
        if ufunc is np.matmul and method == "__call__" and not kwargs:
            return _record_array(ARRAY_RULES[np.matmul], inputs, {})
        return NotImplemented

    def __array_function__(self, func, types, args, kwargs):
        rule = ARRAY_RULES.get(func)
        if rule is None:
            raise UnsupportedError(
                f"numpy.{func.__name__} has no rule in the reverse engine (diffx's array "
                f"table has no entry for it), so its trace cannot record it; supported: "
                f"{', '.join(sorted(r.name for r in ARRAY_RULES.values()))} and the ufuncs of "
                f"the elementary table")
        self.tape.functions.add(rule)
        arrays, params = rule.bind(args, kwargs)
        return _record_array(rule, arrays, params)

    def __float__(self):
        raise TypeError("converting a traced value to float would drop it from the trace; "
                        "use diffx functions (diffx.sin, ...) instead of math.*")

    # array behaviour: the value's shape; indexing is recorded (a linear operation)
    @property
    def shape(self) -> tuple: return np.shape(E.primal(self.value))
    @property
    def ndim(self) -> int: return len(self.shape)
    @property
    def size(self) -> int: return int(np.prod(self.shape))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("a scalar trace node has no len()")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, index: Any) -> Node:
        return _record_indexing(self, index)

    def astype(self, dtype: Any, *args: Any, **kwargs: Any) -> Any:
        self.tape.casts = True
        return NumpyMethods.astype(self, dtype, *args, **kwargs)

    @property
    def name(self) -> str:
        """The node's name in the Griewank–Walther numbering: v₋₁, v₀, v₁, …"""
        return "v" + str(self.index - self.tape.n_inputs + 1).translate(_SUBSCRIPTS)

    @property
    def op_name(self) -> str:
        """The operation's name in the table ("input" for an input node)."""
        return "input" if self.op is None else self.op.name

    def __repr__(self) -> str:
        return f"<trace node {self.name} = {self.op_name} value {self.value!r}>"


@dataclass(frozen=True)
class Operation:
    """A recorded operation that is neither a table row nor a numpy function (indexing)."""

    name: str


INDEXING = Operation("index")


def _basic(index: Any) -> bool:
    """Is ``index`` basic indexing (ints, slices, None, Ellipsis), which never repeats an
    element?"""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis
               for p in parts)


def _record_indexing(node: Node, index: Any) -> Node:
    """x[index] (basic, integer-array or boolean indexing): linear; its transpose scatters the
    cotangent back, adding where an index repeats."""
    index = E.primal(index) if isinstance(index, Node) else index
    if isinstance(index, tuple):
        index = tuple(E.primal(i) if isinstance(i, Node) else i for i in index)
    shape = node.shape
    value = node.value[index]

    def transpose(g: Any) -> np.ndarray:
        out = np.zeros(shape)
        if _basic(index):
            out[index] = g
        else:
            np.add.at(out, index, g)
        return out

    partial = Linear("index", lambda t: t[index], layered(transpose))
    return Node(node.tape, INDEXING, (node, index), value, ((node.index, partial),))


def _record_array(rule: ArrayRule, arrays: list, params: dict) -> Any:
    """One node for a numpy array function (of kind other than composed, query, constant),
    its partials the reverse reading of its kind (:data:`diffx.array_adjoints.READINGS`)."""
    if rule.kind == "composed":
        return rule.composition(*arrays, **params)
    if rule.kind in ("query", "constant"):
        return rule.function(E.primal(arrays[0]), **params)
    pieces = list(arrays[0]) if rule.sequence else list(arrays)
    nodes = [p for p in pieces if isinstance(p, Node)]
    values = [p.value if isinstance(p, Node) else p for p in pieces]
    if not nodes:
        return rule.call([values] if rule.sequence else values, _plain(params, rule))
    tape = nodes[0].tape
    if any(n.tape is not tape for n in nodes):
        raise UnsupportedError("values from two different traces met in one operation; diffx "
                               "records one trace at a time")
    if rule.kind not in READINGS:
        raise UnsupportedError(f"{rule.name} (kind {rule.kind}) has no reverse reading")
    out = rule.call([values] if rule.sequence else values, _plain(params, rule))
    if isinstance(out, (tuple, list)):  # split, slogdet: one node per output
        kind = type(out) if isinstance(out, list) else tuple
        return kind(_node_of(tape, output_rule(rule, k), pieces, values, params, piece)
                    for k, piece in enumerate(out))
    return _node_of(tape, rule, pieces, values, params, out)


def _plain(params: dict, rule: ArrayRule) -> dict:
    """The parameters with a selection's condition read from values."""
    if rule.condition and isinstance(params.get(rule.condition), Node):
        return {**params, rule.condition: E.primal(params[rule.condition])}
    return params


def _node_of(tape: Tape, rule: ArrayRule, pieces: list, values: list, params: dict,
             out: Any) -> Any:
    maps = READINGS[rule.kind](rule, [values] if rule.sequence else values, params, out)
    inputs = tuple((p.index, m) for p, m in zip(pieces, maps)
                   if isinstance(p, Node) and m is not None)
    return Node(tape, rule, tuple(pieces), out, inputs) if inputs else out


def output_rule(rule: ArrayRule, k: int) -> ArrayRule:
    """The rule of output ``k`` of a function with several (np.split's pieces, slogdet's
    sign and log|det|): the same entry, its function returning that output only (``base``
    and ``output`` say which)."""

    def kth(*args: Any, **kwargs: Any) -> Any:
        return rule.function(*args, **kwargs)[k]

    kth.__name__ = f"{rule.function.__name__}[{k}]"
    kth.base, kth.output = rule.function, k
    return dataclasses.replace(rule, function=kth)


def _method(row: E.Elementary):
    return lambda self, *others: row(self, *others)


# numpy applies a ufunc to an object array (an array of nodes) by calling the element's method
# of the ufunc's name: np.sin(array_of_nodes) calls node.sin() for each element
for _ufunc, _row in E.ROW_OF_UFUNC.items():
    if not hasattr(Node, _ufunc.__name__):
        setattr(Node, _ufunc.__name__, _method(_row))


def _record(row: E.Elementary, args: tuple) -> Any:
    """The handler the table calls for an operation on nodes: append one node to the tape. On
    arrays the node holds the whole array and its partials are arrays (elementwise)."""
    args = tuple(E.unbox(a) for a in args)  # a node may arrive wrapped by functions.py
    tape, values = None, []
    for a in args:
        if isinstance(a, Node):
            if tape is not None and a.tape is not tape:
                raise UnsupportedError("values from two different traces met in one "
                                       "operation; diffx records one trace at a time")
            tape = a.tape
            values.append(a.value)
        elif isinstance(a, np.ndarray) and a.dtype == object:
            return row._elementwise(args)  # an array of nodes: one node per element
        else:
            values.append(a)
    out = row(*values)
    if row in _TIES and np.any(E.primal(values[0]) == E.primal(values[1])):
        warnings.warn(NonDifferentiableWarning(
            f"numpy.{row.name} at a tie of its arguments: not differentiable there unless "
            f"their derivatives are equal, which a reverse sweep cannot see; each gets ½ "
            f"(the table's convention)"), stacklevel=3)
    inputs = tuple((arg.index, partial(*values, out))
                   for arg, partial in zip(args, row.partials) if isinstance(arg, Node))
    return Node(tape, row, args, out, inputs)


_TIES = frozenset({E.maximum, E.minimum, E.fmax, E.fmin})  # kinks where the arguments meet


E.register_type(Node, _record)


def _flatten(out: Any) -> list:
    """A function's output (scalar, node, list, array of nodes) as a list of outputs; a node
    holding an array stays one output (of several scalars)."""
    if isinstance(out, (list, tuple)) or (isinstance(out, np.ndarray) and out.ndim > 0):
        return [item for o in out for item in _flatten(o)]
    return [out]


def records_arrays(fn: Function, n: int) -> bool:
    """Is ``fn`` recorded on one array input (a callable of one vector, n ≥ 2, that uses it
    as an array: numpy code), rather than on one scalar input node per variable? A callable
    that only reads its vector's coordinates (``x[0] * x[1]``) is learnt to be scalar code at
    its first recording, and recorded on scalars from then on (the textbook trace, and no
    index node per coordinate)."""
    return (isinstance(fn, CallableFunction) and fn.takes_vector and n > 1
            and fn.cache.peek("records arrays", True))


def _reads_coordinates_only(tape: Tape) -> bool:
    """Does every use of the (array) input take one coordinate, ``x[i]`` with an int i?"""
    uses = [node for node in tape.nodes[1:] if any(j == 0 for j, _ in node.inputs)]
    return all(node.op is INDEXING and isinstance(node.args[1], (int, np.integer))
               for node in uses) and not any(out is tape.nodes[0] for out in tape.outputs)


def record(fn: Function, x: Sequence[Any] | Any) -> Tape:
    """Run ``fn`` once at the point ``x`` on recording values and return the tape.

    ``x`` has one entry per input: floats, or dual numbers (then every value, partial and
    adjoint of the tape carries a tangent: that is how :mod:`diffx.engines.reverse` gets
    second derivatives). A callable of one vector (:func:`records_arrays`) is recorded on one
    input node holding the vector: ``x`` is then a float vector or one dual vector.
    """
    n = len(x)
    if records_arrays(fn, n):
        tape = Tape(1, n)
        vector = Node(tape, None, (), _as_array(x), ())
        tape.outputs = _flatten(fn.on_vector(vector, n))
        if not _reads_coordinates_only(tape):
            return tape
        fn.cache.put("records arrays", False)
        tape = Tape(n)
        vector = np.empty(n, dtype=object)
        for i in range(n):
            vector[i] = Node(tape, None, (), _as_value(x[i]), ())
    else:
        tape = Tape(n)
        vector = np.empty(n, dtype=object)
        for i, value in enumerate(x):
            vector[i] = Node(tape, None, (), _as_value(value), ())
    tape.outputs = _flatten(fn.on_vector(vector, n))
    return tape


def _as_array(x: Any) -> Any:
    return x if isinstance(x, E.TableArithmetic) else np.asarray(x, dtype=float)


def _as_value(value: Any) -> Any:
    # numpy floats, so a negative base to a fractional power is NaN (as numpy says), not complex
    return np.float64(value) if isinstance(value, (int, float, np.floating)) else value


# --------------------------------------------------------------------------------------------
# The sweeps. A tangent or adjoint of None means "structurally zero" (not reached): sweeps skip
# such nodes, so 0 · ∞ = NaN from an unrelated branch never pollutes a result.
# --------------------------------------------------------------------------------------------
def _apply(partial: Any, tangent: Any) -> Any:
    return partial.forward(tangent) if isinstance(partial, Linear) else partial * tangent


def forward_sweep(tape: Tape, direction: Sequence[Any]) -> list:
    """Tangents v̇ᵢ of every node for the input tangent ``direction`` (one entry per variable;
    None where zero)."""
    if tape.n_inputs != tape.n_variables:
        direction = [np.asarray(direction, dtype=float)]
    tangents: list[Any] = [d if _nonzero(d) else None for d in direction]
    for node in tape.nodes[tape.n_inputs:]:
        tangent = None
        for j, partial in node.inputs:
            if tangents[j] is not None:
                term = _apply(partial, tangents[j])
                tangent = term if tangent is None else tangent + term
        tangents.append(tangent)
    return tangents


def reverse_sweep(tape: Tape, weights: Sequence[Any]) -> list:
    """Adjoints v̄ᵢ = ∂(Σₖ wₖ yₖ)/∂vᵢ of every node, one pass from the outputs back (None where
    the weighted output does not depend on the node). ``weights`` has one entry per scalar
    output (:attr:`Tape.size`); a node's adjoint has its value's shape."""
    adjoints: list[Any] = [None] * len(tape.nodes)
    for output, weight in zip(tape.outputs, tape.output_weights(list(weights))):
        if isinstance(output, Node) and _nonzero(weight):
            i = output.index
            adjoints[i] = weight if adjoints[i] is None else adjoints[i] + weight
    nodes = tape.nodes
    for node in reversed(nodes):
        adjoint = adjoints[node.index]
        if adjoint is None or not node.inputs:
            continue
        for j, partial in node.inputs:
            if isinstance(partial, Linear):
                term = partial.transpose(adjoint)
            else:
                if type(partial) is float and partial in (1.0, -1.0):  # + and -: no product
                    term = adjoint if partial == 1.0 else -adjoint
                else:
                    term = adjoint * partial
                term = unbroadcast(term, np.shape(E.primal(nodes[j].value)))
            adjoints[j] = term if adjoints[j] is None else adjoints[j] + term
    return adjoints


def _nonzero(x: Any) -> bool:
    if isinstance(x, np.ndarray):
        return bool(np.any(x != 0))
    return not (isinstance(x, (int, float, np.floating)) and x == 0)
