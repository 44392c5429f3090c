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

from collections.abc import Sequence
from typing import Any

import numpy as np

from diffx import elementary as E
from diffx.errors import UnsupportedError
from diffx.functions import Function

__all__ = ["Node", "Tape", "forward_sweep", "record", "reverse_sweep"]

_SUBSCRIPTS = str.maketrans("-0123456789", "₋₀₁₂₃₄₅₆₇₈₉")


# --------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------
class Tape:
    """The recorded evaluation: ``nodes`` in evaluation order (the first ``n_inputs`` are the
    inputs) and ``outputs``, one entry per output of ``f`` (a Node, or a constant when that
    output does not depend on the inputs)."""

    def __init__(self, n_inputs: int):
        self.n_inputs = n_inputs
        self.nodes: list[Node] = []
        self.outputs: list[Any] = []


class Node(E.TableArithmetic):
    """One value of a recorded evaluation: ``value = op(*args)``.

    ``args`` holds argument nodes and constants; ``inputs`` pairs the position of each argument
    *node* in the tape with the local partial ∂value/∂argument, read from the table row.
    Input nodes have ``op`` None and no arguments.
    """

    __slots__ = ("args", "index", "inputs", "op", "tape", "value")

    def __init__(self, tape: Tape, op: E.Elementary | None, args: tuple, value: Any,
                 inputs: tuple[tuple[int, Any], ...]):
        self.tape, self.op, self.args, self.value, self.inputs = tape, op, args, value, inputs
        self.index = len(tape.nodes)
        tape.nodes.append(self)

    # arithmetic: E.TableArithmetic (every operator is a row of the elementary table);
    # comparisons look at values only (branches in user code follow the recorded path)
    def __lt__(self, other): return E.primal(self) < E.primal(other)
    def __le__(self, other): return E.primal(self) <= E.primal(other)
    def __gt__(self, other): return E.primal(self) > E.primal(other)
    def __ge__(self, other): return E.primal(self) >= E.primal(other)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        row = E.row_for_ufunc(ufunc, method, kwargs)
        return NotImplemented if row is None else row(*inputs)

    def __float__(self):
        raise TypeError("converting a traced value to float would drop it from the trace; "
                        "use diffx functions (diffx.sin, ...) instead of math.*")

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


def _method(row: E.Elementary):
    return lambda self, *others: row(self, *others)


# numpy applies a ufunc to an object array (an array of nodes) by calling the element's method
# of the ufunc's name: np.sin(array_of_nodes) calls node.sin() for each element
for _ufunc, _row in E.ROW_OF_UFUNC.items():
    if not hasattr(Node, _ufunc.__name__):
        setattr(Node, _ufunc.__name__, _method(_row))


def _record(row: E.Elementary, args: tuple) -> Any:
    """The handler the table calls for an operation on nodes: append one node to the tape."""
    args = tuple(E.unbox(a) for a in args)  # a node may arrive wrapped by functions.py
    tape, values = None, []
    for a in args:
        if isinstance(a, Node):
            if tape is not None and a.tape is not tape:
                raise UnsupportedError("values from two different traces met in one "
                                       "operation; diffx records one trace at a time")
            tape = a.tape
            values.append(a.value)
        elif isinstance(a, np.ndarray) and a.ndim:
            return row._elementwise(args)  # a node meets an array: one node per element
        else:
            values.append(a)
    out = row(*values)
    inputs = tuple((arg.index, partial(*values, out))
                   for arg, partial in zip(args, row.partials) if isinstance(arg, Node))
    return Node(tape, row, args, out, inputs)


E.register_type(Node, _record)


def _flatten(out: Any) -> list:
    """A function's output (scalar, node, list, array of nodes) as a flat list of outputs."""
    if isinstance(out, (list, tuple)) or (isinstance(out, np.ndarray) and out.ndim > 0):
        return [item for o in out for item in _flatten(o)]
    return [out]


def record(fn: Function, x: Sequence[Any]) -> Tape:
    """Run ``fn`` once at the point ``x`` on recording values and return the tape.

    ``x`` has one entry per input: floats, or dual numbers (then every value, partial and
    adjoint of the tape carries a tangent: that is how :mod:`diffx.engines.reverse` gets
    second derivatives).
    """
    tape = Tape(len(x))
    vector = np.empty(len(x), dtype=object)
    for i, value in enumerate(x):
        vector[i] = Node(tape, None, (), _as_value(value), ())
    tape.outputs = _flatten(fn.on_vector(vector, len(x)))
    return tape


def _as_value(value: Any) -> Any:
    # numpy floats, so a negative base to a fractional power is NaN (as numpy says), not complex
    return np.float64(value) if isinstance(value, (int, float, np.floating)) else value


# --------------------------------------------------------------------------------------------
# The sweeps. A tangent or adjoint of None means "structurally zero" (not reached): sweeps skip
# such nodes, so 0 · ∞ = NaN from an unrelated branch never pollutes a result.
# --------------------------------------------------------------------------------------------
def forward_sweep(tape: Tape, direction: Sequence[Any]) -> list:
    """Tangents v̇ᵢ of every node for the input tangent ``direction`` (None where zero)."""
    tangents: list[Any] = [d if _nonzero(d) else None for d in direction]
    for node in tape.nodes[tape.n_inputs:]:
        tangent = None
        for j, partial in node.inputs:
            if tangents[j] is not None:
                term = partial * tangents[j]
                tangent = term if tangent is None else tangent + term
        tangents.append(tangent)
    return tangents


def reverse_sweep(tape: Tape, weights: Sequence[Any]) -> list:
    """Adjoints v̄ᵢ = ∂(Σₖ wₖ yₖ)/∂vᵢ of every node, one pass from the outputs back (None where
    the weighted output does not depend on the node)."""
    adjoints: list[Any] = [None] * len(tape.nodes)
    for output, weight in zip(tape.outputs, weights):
        if isinstance(output, Node) and _nonzero(weight):
            i = output.index
            adjoints[i] = weight if adjoints[i] is None else adjoints[i] + weight
    for node in reversed(tape.nodes):
        adjoint = adjoints[node.index]
        if adjoint is None:
            continue
        for j, partial in node.inputs:
            term = adjoint * partial
            adjoints[j] = term if adjoints[j] is None else adjoints[j] + term
    return adjoints


def _nonzero(x: Any) -> bool:
    return not (isinstance(x, (int, float, np.floating)) and x == 0)
